import type {} from '@fastify/swagger' // route schemas carry OpenAPI summary/tags
import type { FastifyInstance } from 'fastify'
import { randomUUID } from 'node:crypto'
import { createReadStream, createWriteStream, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable, type Writable } from 'node:stream'
import { ZipFile } from 'yazl'
import type { RawMessage, StoredMessage } from '../../store/index.js'
import type { HttpDeps } from '../deps.js'
import { envelopeJson } from '../message-json.js'
import { errorSchema } from '../schemas.js'

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
  },
} as const

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat']
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']

/** C asctime() in UTC, as the mbox "From " line wants it: "Thu Jan  1 00:00:00 1970". */
export function asctime(ms: number): string {
  const d = new Date(ms)
  const pad = (n: number): string => String(n).padStart(2, '0')
  const time = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`
  return `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${time} ${d.getUTCFullYear()}`
}

/**
 * One mboxrd entry: the "From " line, the raw bytes with every line matching ^>*From  given one
 * more ">", and a blank line. Line endings inside the message are kept as received; a message that
 * does not end in a newline gets one, since the separator must start a line.
 */
export function mboxEntry(item: Item): Buffer {
  return Buffer.concat(mboxParts({ mailFrom: item.message.envelope.mailFrom, receivedAt: item.message.envelope.receivedAt, raw: item.raw }))
}

/** What an mbox entry is made of: the envelope sender, the receive time and the stored bytes. */
type MboxItem = Pick<RawMessage, 'mailFrom' | 'receivedAt' | 'raw'>

const NEWLINE = Buffer.from('\n')
const TWO_NEWLINES = Buffer.from('\n\n')

/** mboxEntry as its pieces, so that a stream can copy them straight into a bigger chunk. */
function mboxParts(item: MboxItem): Buffer[] {
  // The envelope sender is client-supplied: whitespace would split the From line, so it becomes "_".
  const sender = item.mailFrom.replace(/[\s\x00-\x1f\x7f]/g, '_') || 'MAILER-DAEMON'
  const head = Buffer.from(`From ${sender} ${asctime(item.receivedAt)}\n`, 'utf8')
  let body = item.raw
  // latin1 maps every byte to one code unit, so the round trip is byte-exact for any input.
  if (body.includes('From ')) body = Buffer.from(body.toString('latin1').replace(/(^|\n)(>*From )/g, '$1>$2'), 'latin1')
  const last = body.length ? body[body.length - 1] : undefined
  return [head, body, last === 0x0a ? NEWLINE : TWO_NEWLINES]
}

function manifestEntry(m: StoredMessage): Record<string, unknown> {
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

/** Resolves on 'drain'; resolves false when the stream closes first (client gone). */
function drained(stream: Writable): Promise<boolean> {
  if (stream.destroyed) return Promise.resolve(false)
  return new Promise((resolve) => {
    const done = (ok: boolean) => () => {
      stream.off('drain', onDrain)
      stream.off('close', onClose)
      resolve(ok)
    }
    const onDrain = done(true)
    const onClose = done(false)
    stream.once('drain', onDrain)
    stream.once('close', onClose)
  })
}

function byIds(deps: HttpDeps, ids: string[]): Generator<Item> {
  return (function* () {
    for (const id of ids) {
      const message = deps.store.get(id)
      const raw = message && deps.store.getRaw(id)
      if (message && raw) yield { message, raw } // deleted since it was selected: skip it
    }
  })()
}

// Entries are packed into chunks of about this size: one socket write per message (~1 KB each)
// cost more than reading the messages. Readable.from pulls the next chunk only when the client
// has taken the last one, so backpressure is unchanged.
const MBOX_CHUNK_BYTES = 64 * 1024

function* mboxStream(items: Generator<MboxItem>): Generator<Buffer> {
  let parts: Buffer[] = []
  let size = 0
  for (const item of items) {
    for (const part of mboxParts(item)) {
      parts.push(part)
      size += part.length
    }
    if (size >= MBOX_CHUNK_BYTES) {
      yield Buffer.concat(parts, size)
      parts = []
      size = 0
    }
  }
  if (size > 0) yield Buffer.concat(parts, size)
}

/** Pulls the first item now, so that a bad search is a JSON 400 rather than a broken download. */
function started<T>(items: Generator<T>): Generator<T> {
  const head = items.next()
  return (function* () {
    if (!head.done) yield head.value
    yield* items
  })()
}

/** Pumps items into a zip stream; the manifest is spooled to a temp file so it never sits in memory. */
async function pumpZip(zip: ZipFile, items: Generator<Item>): Promise<void> {
  const out = zip.outputStream as unknown as Writable & { writableNeedDrain: boolean }
  const tmp = join(tmpdir(), `holdmail-manifest-${randomUUID()}.json`)
  const manifest = createWriteStream(tmp)
  let manifestError: Error | null = null
  manifest.on('error', (err) => (manifestError ??= err)) // reported below, or moot when the client left
  const cleanup = (): void => rmSync(tmp, { force: true })
  try {
    manifest.write('[')
    let first = true
    for (const { message, raw } of items) {
      if (out.destroyed) return
      zip.addBuffer(raw, `${message.id}.eml`, { compress: false, mtime: new Date(message.envelope.receivedAt) })
      if (!manifest.write((first ? '\n' : ',\n') + JSON.stringify(manifestEntry(message)))) await drained(manifest)
      first = false
      // yazl writes straight into its PassThrough; wait for the client to read before adding more.
      if (out.writableNeedDrain && !(await drained(out))) return
    }
    await new Promise<void>((resolve) => manifest.end('\n]\n', () => resolve()))
    if (manifestError) throw manifestError
    const rs = createReadStream(tmp)
    rs.once('open', cleanup) // unlinked once open: the descriptor keeps the data readable
    zip.addReadStream(rs, 'manifest.json', { compress: true, mtime: new Date() })
    zip.end()
  } finally {
    if (!manifest.closed) manifest.destroy()
    if (out.destroyed) cleanup()
  }
}

export async function exportRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  app.get<{ Querystring: { query: string; format: 'mbox' | 'zip'; ids?: string } }>(
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
      // An mbox needs only the envelope sender, receive time and bytes: the store reads just those.
      const mboxItems = (): Generator<MboxItem> =>
        ids.length
          ? (function* () {
              for (const { message, raw } of byIds(deps, ids)) yield { mailFrom: message.envelope.mailFrom, receivedAt: message.envelope.receivedAt, raw }
            })()
          : deps.store.iterateRaw(search)
      const source =
        format === 'mbox'
          ? { format, items: started(mboxItems()) }
          : { format, items: started(ids.length ? byIds(deps, ids) : deps.store.iterate(search)) }

      const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')
      reply
        .header('Content-Disposition', `attachment; filename="holdmail-${stamp}.${format}"`)
        .header('X-Content-Type-Options', 'nosniff')
        .header('Cache-Control', 'no-store')

      if (source.format === 'mbox') {
        return reply.type('application/mbox').send(Readable.from(mboxStream(source.items), { objectMode: false }))
      }

      const zip = new ZipFile()
      // yazl's outputStream is a PassThrough; its typings only promise a ReadableStream.
      const out = zip.outputStream as unknown as Readable
      zip.on('error', (err: Error) => out.destroy(err))
      pumpZip(zip, source.items).catch((err: unknown) => {
        req.log.error({ err }, 'zip export failed')
        out.destroy(err as Error)
      })
      return reply.type('application/zip').send(out)
    },
  )
}
