import type {} from '@fastify/swagger' // route schemas carry OpenAPI summary/tags
import type { FastifyInstance } from 'fastify'
import type { HttpDeps } from '../deps.js'
import { errorSchema, idParams } from '../schemas.js'
import { resolveMessage } from './message.js'

// The sample's HTML, on its own endpoint, for a sandboxed iframe. The CSP allows no scripts, no
// forms, no frames, and no remote loads unless ?remote=1 (the user clicked "load remote content").
// cid: references are rewritten to this message's part URLs so inline images still show.

const CSP_LOCAL =
  "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; font-src data:; media-src 'none'; " +
  "form-action 'none'; frame-ancestors 'self'; base-uri 'none'; sandbox allow-popups allow-popups-to-escape-sandbox"
const CSP_REMOTE =
  "default-src 'none'; img-src * data:; style-src * 'unsafe-inline'; font-src * data:; media-src *; " +
  "form-action 'none'; frame-ancestors 'self'; base-uri 'none'; sandbox allow-popups allow-popups-to-escape-sandbox"

export async function viewRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  app.get<{ Params: { ID: string }; Querystring: { remote?: string } }>(
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
      const byCid = new Map(detail.inline.concat(detail.attachments).filter((p) => p.ContentID).map((p) => [p.ContentID, p.PartID]))
      const html = detail.html.replace(/\bcid:([^"'\s)>]+)/gi, (whole, cid: string) => {
        const part = byCid.get(decodeURIComponent(cid))
        return part ? `/api/v1/message/${m.id}/part/${part}` : whole
      })
      const remote = req.query.remote === '1'
      return reply
        .header('Content-Security-Policy', remote ? CSP_REMOTE : CSP_LOCAL)
        .header('X-Content-Type-Options', 'nosniff')
        .header('Referrer-Policy', 'no-referrer')
        .header('X-Frame-Options', 'SAMEORIGIN')
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
  app.get<{ Params: { ID: string }; Querystring: { query: string } }>(
    '/api/v1/message/:ID/neighbours',
    {
      schema: {
        summary: 'The newer (Previous) and older (Next) message IDs within a search (holdmail)',
        tags: ['message'],
        params: idParams,
        querystring: { type: 'object', properties: { query: { type: 'string', maxLength: 4096, default: '' } } },
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
      const n = await deps.store.neighbours(m.id, req.query.query.trim())
      return { Previous: n.previous, Next: n.next }
    },
  )
}
