import type {} from '@fastify/swagger' // route schemas carry OpenAPI summary/tags
import type { FastifyInstance } from 'fastify'
import type { HttpDeps } from '../deps.js'
import { errorSchema, idParams } from '../schemas.js'
import { resolveMessage } from './message.js'

// SpamAssassin's verdict on a message in Mailpit's sa-check shape (mailpit-api's spamAssassinCheck):
// { Error, IsSpam, Score, Rules: [{ Name, Score, Description }] | null }. holdmail does not call
// spamd here: the spam checker (--spamd) scored the message after commit, and this reads its answer.
// holdmail adds `Threshold` (spamd's required score) to a scored answer, for the UI's verdict line;
// Mailpit's clients ignore fields they do not know.

const saCheckSchema = {
  type: 'object',
  properties: {
    Error: { type: 'string' },
    IsSpam: { type: 'boolean' },
    Score: { type: 'number' },
    Threshold: { type: 'number' },
    Rules: {
      type: ['array', 'null'],
      items: { type: 'object', properties: { Name: { type: 'string' }, Score: { type: 'number' }, Description: { type: 'string' } } },
    },
  },
} as const

export async function spamRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  app.get<{ Params: { ID: string } }>(
    '/api/v1/message/:ID/sa-check',
    {
      schema: {
        summary: "SpamAssassin's score and rule hits for a message (Mailpit-compatible; needs --spamd)",
        tags: ['message'],
        params: idParams,
        response: { 200: saCheckSchema, 404: errorSchema },
      },
    },
    async (req) => {
      const m = await resolveMessage(deps, req.params.ID)
      const s = m.spam
      if (!s) {
        const why = deps.config.spamd ? 'not checked by SpamAssassin yet' : 'SpamAssassin is not enabled (start holdmail with --spamd host:port)'
        return { Error: why, IsSpam: false, Score: 0, Rules: null }
      }
      if (s.error) return { Error: s.error, IsSpam: false, Score: 0, Rules: null }
      return { Error: '', IsSpam: s.isSpam, Score: s.score, Threshold: s.threshold, Rules: s.rules.map((r) => ({ Name: r.name, Score: r.score, Description: r.description })) }
    },
  )
}
