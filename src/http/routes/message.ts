import type {} from '@fastify/swagger' // route schemas carry OpenAPI summary/tags
import type { FastifyInstance, FastifyReply } from 'fastify'
import { AppError } from '../../errors.js'
import { readHeaders } from '../../mail/index.js'
import type { StoredMessage } from '../../store/index.js'
import type { HttpDeps } from '../deps.js'
import { envelopeJson, listItemJson } from '../message-json.js'
import { errorSchema, idParams, messageSchema } from '../schemas.js'
import { isOwnRequest } from '../security.js'

// Go's textproto canonical form, which Mailpit's header map uses: "message-id" → "Message-Id".
const canonicalHeader = (name: string): string =>
  name.toLowerCase().replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase())

// Anything served from a sample is hostile: no sniffing, no scripts, no plugins, no loads, an opaque
// origin (sandbox), not frameable, and not loadable by another origin's page (CORP).
export function hostileHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header('X-Content-Type-Options', 'nosniff')
    .header('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; sandbox; frame-ancestors 'none'")
    .header('Cross-Origin-Resource-Policy', 'same-origin')
}

const SAFE_PART_TYPE = /^(application\/pdf|text\/plain|image\/(png|jpe?g|gif|webp|bmp|avif|x-icon|vnd\.microsoft\.icon))$/

export async function resolveMessage(deps: HttpDeps, id: string): Promise<StoredMessage> {
  const realId = id === 'latest' ? await deps.store.latestId() : id
  const m = realId ? await deps.store.get(realId) : undefined
  if (!m) throw new AppError('NOT_FOUND', id === 'latest' ? 'there are no messages' : `message ${id} not found`)
  return m
}

export async function messageRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  const { store } = deps

  app.get<{ Params: { ID: string } }>(
    '/api/v1/message/:ID',
    {
      schema: {
        summary: 'One message with bodies, attachments, envelope and analysis; marks it read',
        tags: ['message'],
        params: idParams,
        response: { 200: messageSchema, 404: errorSchema },
      },
    },
    async (req) => {
      const m = await resolveMessage(deps, req.params.ID)
      const detail = await deps.parser.detail(m.id)
      // Reading marks read for API clients (mailpit-api relies on it) and the UI's fetch, never for
      // a browser load of another kind (an <img> or frame in a sample; security.ts refuses those too).
      const markRead = !m.read && isOwnRequest(req.headers)
      if (markRead) {
        await store.setRead({ ids: [m.id] }, true)
        deps.events.emit({ type: 'update', ids: [m.id], read: true })
      }
      // Not indexed yet (a burst, or the indexer still busy after the request's bounded wait): the
      // message is parsed for this answer, without analysis, and Indexed says false.
      const summary = m.summary ?? (await deps.parser.summarize(m.id))
      const item = listItemJson({ ...m, summary })
      return {
        ...item,
        Read: m.read || markRead,
        ReturnPath: summary.returnPath,
        ListUnsubscribe: detail.listUnsubscribe,
        Date: new Date(summary.date ?? m.envelope.receivedAt).toISOString(),
        Text: detail.text,
        HTML: detail.html,
        Inline: detail.inline,
        Attachments: detail.attachments,
        Envelope: envelopeJson(m.envelope, m.sha256),
        ParseError: m.summary?.parseError ?? detail.parseError,
        Analysis: (m.summary?.analysis as Record<string, unknown> | null) ?? null,
      }
    },
  )

  app.get<{ Params: { ID: string } }>(
    '/api/v1/message/:ID/headers',
    {
      schema: {
        summary: "Message headers as Mailpit gives them: canonical name → every value, in order",
        tags: ['message'],
        params: idParams,
        response: {
          200: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } } },
          404: errorSchema,
        },
      },
    },
    async (req) => {
      const m = await resolveMessage(deps, req.params.ID)
      const out: Record<string, string[]> = {}
      for (const h of readHeaders((await store.getRaw(m.id))!)) (out[canonicalHeader(h.name)] ??= []).push(h.value)
      return out
    },
  )

  app.get<{ Params: { ID: string } }>(
    '/api/v1/message/:ID/header-lines',
    {
      schema: {
        summary: 'Message headers in their original order and spelling, repeated fields kept (holdmail)',
        tags: ['message'],
        params: idParams,
        response: {
          200: { type: 'array', items: { type: 'object', properties: { Name: { type: 'string' }, Value: { type: 'string' } } } },
          404: errorSchema,
        },
      },
    },
    async (req) => {
      const m = await resolveMessage(deps, req.params.ID)
      return readHeaders((await store.getRaw(m.id))!).map((h) => ({ Name: h.name, Value: h.value }))
    },
  )

  app.get<{ Params: { ID: string }; Querystring: { dl?: string } }>(
    '/api/v1/message/:ID/raw',
    {
      schema: {
        summary: 'The message exactly as received (after dot-unstuffing); ?dl=1 downloads <ID>.eml',
        tags: ['message'],
        params: idParams,
        querystring: { type: 'object', properties: { dl: { type: 'string' } } },
        response: { 404: errorSchema },
      },
    },
    async (req, reply) => {
      const m = await resolveMessage(deps, req.params.ID)
      const raw = (await store.getRaw(m.id))!
      hostileHeaders(reply)
      if (req.query.dl === '1' || req.query.dl === 'true') {
        reply.type('message/rfc822').header('Content-Disposition', `attachment; filename="${m.id}.eml"`)
      } else {
        reply.type('text/plain; charset=utf-8')
      }
      return reply.send(raw)
    },
  )

  app.get<{ Params: { ID: string; PartID: string } }>(
    '/api/v1/message/:ID/part/:PartID',
    {
      schema: {
        summary: 'One attachment or inline part, decoded',
        tags: ['message'],
        params: {
          type: 'object',
          required: ['ID', 'PartID'],
          properties: { ...idParams.properties, PartID: { type: 'string', pattern: '^[0-9.]+$', maxLength: 64 } },
        },
        response: { 404: errorSchema },
      },
    },
    async (req, reply) => {
      const m = await resolveMessage(deps, req.params.ID)
      const detail = await deps.parser.detail(m.id)
      const part = detail.parts.get(req.params.PartID)
      if (!part) throw new AppError('NOT_FOUND', `message ${m.id} has no part ${req.params.PartID}`)
      const type = (part.contentType || 'application/octet-stream').toLowerCase()
      // Types a browser shows without running anything of the sample's (PDF, raster images, plain
      // text) are served with their type and inline, as Mailpit serves them. Everything else, and
      // above all what can run script (HTML, SVG, XML, JavaScript), downloads as
      // application/octet-stream; the sandbox CSP of hostileHeaders() applies to both.
      const inline = SAFE_PART_TYPE.test(type)
      const name = (part.filename ?? `part-${req.params.PartID}`).replace(/["\\\r\n]/g, '_')
      hostileHeaders(reply)
        .type(inline ? type : 'application/octet-stream')
        .header(
          'Content-Disposition',
          `${inline ? 'inline' : 'attachment'}; filename="${name.replace(/[^\x20-\x7e]/g, '_')}"; filename*=UTF-8''${encodeURIComponent(name)}`,
        )
      return reply.send(part.content)
    },
  )
}
