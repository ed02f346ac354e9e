import type {} from '@fastify/swagger' // route schemas carry OpenAPI summary/tags
import type { FastifyInstance } from 'fastify'
import { AppError } from '../../errors.js'
import type { HttpDeps, ParsedMessage } from '../deps.js'
import { errorSchema, idParams, searchOptions, tzSchema } from '../schemas.js'
import { resolveMessage } from './message.js'

// The sample's HTML, on its own endpoint, for a sandboxed iframe. The CSP allows no scripts, no
// forms, no frames, and no remote loads unless ?remote=1 (the user clicked "load remote content").
// The frame has an opaque origin, so anything it fetched from holdmail would be a cross-site
// request (refused by security.ts, and blocked by the parts' Cross-Origin-Resource-Policy). So
// cid: references to this message's image parts are inlined as data: URIs, and the CSP allows
// data: images and nothing else from holdmail: a sample cannot make the view call the API.

const CSP_LOCAL =
  "default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:; media-src 'none'; " +
  "form-action 'none'; frame-ancestors 'self'; base-uri 'none'; sandbox allow-popups allow-popups-to-escape-sandbox"
const CSP_REMOTE =
  "default-src 'none'; img-src * data:; style-src * 'unsafe-inline'; font-src * data:; media-src *; " +
  "form-action 'none'; frame-ancestors 'self'; base-uri 'none'; sandbox allow-popups allow-popups-to-escape-sandbox"

// Inlined images cost 4/3 of their size each time they are referenced; a sample referring to one
// large part thousands of times must not make a gigabyte page. Past this many bytes of data: URIs
// the remaining references stay cid: (not loaded).
const MAX_INLINE_DATA_BYTES = 32 * 1024 * 1024
// Types an <img> may show; the data: URI carries the type, so anything else is left out.
const INLINE_IMAGE_TYPE = /^image\/(png|jpe?g|gif|webp|bmp|avif|x-icon|vnd\.microsoft\.icon|svg\+xml)$/i

type Detail = ParsedMessage

/** The cid a reference names (RFC 2392 §2: URL-encoded), or null when it does not decode. */
function decodeCid(encoded: string): string | null {
  try {
    return decodeURIComponent(encoded)
  } catch {
    return null // "%E0%A4%A" and the like: no part can have that id
  }
}

/** The HTML with cid: references to this message's image parts replaced by data: URIs. */
export function inlineCidImages(detail: Detail): string {
  const byCid = new Map<string, string>()
  for (const p of detail.inline.concat(detail.attachments)) if (p.ContentID && !byCid.has(p.ContentID)) byCid.set(p.ContentID, p.PartID)
  const uris = new Map<string, string>()
  let budget = MAX_INLINE_DATA_BYTES
  return detail.html.replace(/\bcid:([^"'\s)>]+)/gi, (whole, encoded: string) => {
    const cid = decodeCid(encoded)
    const partId = cid === null ? undefined : byCid.get(cid)
    const part = partId === undefined ? undefined : detail.parts.get(partId)
    if (!part || !INLINE_IMAGE_TYPE.test(part.contentType)) return whole
    let uri = uris.get(partId!)
    if (uri === undefined) {
      uri = `data:${part.contentType.toLowerCase()};base64,${part.content.toString('base64')}`
      uris.set(partId!, uri)
    }
    if (uri.length > budget) return whole
    budget -= uri.length
    return uri
  })
}

export async function viewRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  // ?embed=1 (Mailpit's UI frames the view with it) is accepted; the page is the same either way.
  app.get<{ Params: { ID: string }; Querystring: { remote?: string; embed?: string } }>(
    '/view/:ID.html',
    {
      schema: {
        summary: 'The HTML body for a sandboxed iframe; remote content blocked unless remote=1',
        tags: ['view'],
        params: { type: 'object', properties: { ID: { type: 'string', maxLength: 64 } } },
        querystring: { type: 'object', properties: { remote: { type: 'string' }, embed: { type: 'string' } } },
      },
    },
    async (req, reply) => {
      const m = await resolveMessage(deps, req.params.ID)
      const detail = await deps.parser.detail(m.id)
      // As Mailpit: a message without an HTML body has no HTML view (the UI shows its text instead).
      if (detail.html === '') throw new AppError('NOT_FOUND', `message ${m.id} has no HTML part`)
      const html = inlineCidImages(detail)
      const remote = req.query.remote === '1'
      return reply
        .header('Content-Security-Policy', remote ? CSP_REMOTE : CSP_LOCAL)
        .header('X-Content-Type-Options', 'nosniff')
        .header('Referrer-Policy', 'no-referrer')
        .header('X-Frame-Options', 'SAMEORIGIN')
        // Asks the browser not to prefetch DNS for the sample's links and hints (CSP does not govern it).
        .header('X-DNS-Prefetch-Control', 'off')
        .header('Cache-Control', 'no-store')
        .type('text/html; charset=utf-8')
        .send(html)
    },
  )

  app.get<{ Params: { ID: string } }>(
    '/view/:ID.txt',
    {
      schema: {
        summary: 'The text body',
        tags: ['view'],
        params: { type: 'object', properties: { ID: { type: 'string', maxLength: 64 } } },
      },
    },
    async (req, reply) => {
      const m = await resolveMessage(deps, req.params.ID)
      const detail = await deps.parser.detail(m.id)
      return reply.header('X-Content-Type-Options', 'nosniff').type('text/plain; charset=utf-8').send(detail.text)
    },
  )

  // Previous/next for the message view: "Previous" is the newer neighbour and "Next" the older one,
  // as the list is newest first, within the same search the list shows.
  app.get<{ Params: { ID: string }; Querystring: { query: string; tz?: string } }>(
    '/api/v1/message/:ID/neighbours',
    {
      schema: {
        summary: 'The newer (Previous) and older (Next) message IDs within a search (holdmail)',
        tags: ['message'],
        params: idParams,
        querystring: { type: 'object', properties: { query: { type: 'string', maxLength: 4096, default: '' }, tz: tzSchema } },
        response: {
          200: {
            type: 'object',
            properties: { Previous: { type: ['string', 'null'] }, Next: { type: ['string', 'null'] } },
          },
          400: errorSchema,
          404: errorSchema,
        },
      },
    },
    async (req) => {
      const m = await resolveMessage(deps, req.params.ID)
      const n = await deps.store.neighbours(m.id, req.query.query.trim(), searchOptions(req.query.tz))
      return { Previous: n.previous, Next: n.next }
    },
  )
}
