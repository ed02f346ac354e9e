import type {} from '@fastify/swagger' // route schemas carry OpenAPI summary/tags
import type { FastifyInstance } from 'fastify'
import { Readable } from 'node:stream'
import { ZipFile } from 'yazl'
import { mboxChunks, pumpZip, type MboxItem, type ZipEntry } from '../../mail/export-formats.js'
import type { StoredMessage } from '../../store/index.js'
import type { HttpDeps } from '../deps.js'
import { envelopeJson } from '../message-json.js'
import { errorSchema, searchOptions, tzSchema } from '../schemas.js'

// Streaming exports of a search or a selection: mboxrd or a zip of <ID>.eml plus manifest.json.
// Memory stays flat however many messages match: the store is read in pages, one message is in
// flight at a time, and the loop waits whenever the client is slower than the database.

type Item = { message: StoredMessage; raw: Buffer }

const MAX_IDS = 10_000 // a URL longer than Node's 16 KiB header limit never gets here anyway

const exportQuery = {
  type: 'object',
  properties: {
    query: { type: 'string', maxLength: 4096, default: '', description: 'search (Mailpit syntax); empty exports every message' },
    format: { type: 'string', enum: ['mbox', 'zip'], default: 'mbox' },
    ids: { type: 'string', maxLength: MAX_IDS * 65, pattern: '^[A-Za-z0-9,]*$', description: 'comma-separated message IDs; overrides query' },
    tz: tzSchema,
  },
} as const

async function* zipEntries(items: AsyncIterable<Item>): AsyncGenerator<ZipEntry> {
  for await (const { message, raw } of items) yield { id: message.id, raw, receivedAt: message.envelope.receivedAt, manifest: manifestEntry(message) }
}

/** A message's manifest.json entry in a zip export (also written by `holdmail export`). */
export function manifestEntry(m: StoredMessage): Record<string, unknown> {
  return {
    File: `${m.id}.eml`,
    ID: m.id,
    MessageID: m.summary?.messageId ?? '',
    Subject: m.summary?.subject ?? '',
    From: m.summary?.from ?? null,
    Size: m.size,
    Kind: m.summary?.kind ?? 'message',
    Tags: m.tags,
    Envelope: envelopeJson(m.envelope, m.sha256),
  }
}

async function* byIds(deps: HttpDeps, ids: string[]): AsyncGenerator<Item> {
  for (const id of ids) {
    const message = await deps.store.get(id)
    const raw = message && (await deps.store.getRaw(id))
    if (message && raw) yield { message, raw } // deleted since it was selected: skip it
  }
}

/** Pulls the first item now, so that a bad search is a JSON 400 rather than a broken download. */
async function started<T>(items: AsyncGenerator<T>): Promise<AsyncGenerator<T>> {
  const head = await items.next()
  return (async function* () {
    if (!head.done) yield head.value
    yield* items
  })()
}

export async function exportRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  app.get<{ Querystring: { query: string; format: 'mbox' | 'zip'; ids?: string; tz?: string } }>(
    '/api/v1/export',
    {
      schema: {
        summary: 'Stream every message of a search (or the given IDs) as mboxrd or a zip of .eml files with manifest.json',
        tags: ['messages'],
        querystring: exportQuery,
        response: { 400: errorSchema },
      },
      // ajv's enum message ("must be equal to one of the allowed values") does not list them.
      schemaErrorFormatter: (errors, dataVar) => {
        const e = errors[0]
        if (!e) return new Error(`${dataVar} is invalid`)
        const allowed = e.keyword === 'enum' && Array.isArray(e.params.allowedValues) ? e.params.allowedValues.map(String) : null
        return new Error(`${dataVar}${e.instancePath} ${allowed ? `must be one of: ${allowed.join(', ')}` : e.message ?? 'is invalid'}`)
      },
    },
    async (req, reply) => {
      const { format } = req.query
      const ids = (req.query.ids ?? '').split(',').filter(Boolean).slice(0, MAX_IDS)
      const search = req.query.query.trim()
      const opts = searchOptions(req.query.tz)
      // An mbox needs only the envelope sender, receive time and bytes: the store reads just those.
      const mboxItems = (): AsyncGenerator<MboxItem> =>
        ids.length
          ? (async function* () {
              for await (const { message, raw } of byIds(deps, ids)) yield { mailFrom: message.envelope.mailFrom, receivedAt: message.envelope.receivedAt, raw }
            })()
          : deps.store.iterateRaw(search, opts)
      const source =
        format === 'mbox'
          ? { format, items: await started(mboxItems()) }
          : { format, items: await started(ids.length ? byIds(deps, ids) : deps.store.iterate(search, opts)) }

      const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')
      reply
        .header('Content-Disposition', `attachment; filename="holdmail-${stamp}.${format}"`)
        .header('X-Content-Type-Options', 'nosniff')
        .header('Cache-Control', 'no-store')

      if (source.format === 'mbox') {
        return reply.type('application/mbox').send(Readable.from(mboxChunks(source.items), { objectMode: false }))
      }

      const zip = new ZipFile()
      // yazl's outputStream is a PassThrough; its typings only promise a ReadableStream.
      const out = zip.outputStream as unknown as Readable
      zip.on('error', (err: Error) => out.destroy(err))
      pumpZip(zip, zipEntries(source.items)).catch((err: unknown) => {
        req.log.error({ err }, 'zip export failed')
        out.destroy(err as Error)
      })
      return reply.type('application/zip').send(out)
    },
  )
}
