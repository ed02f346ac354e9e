import type {} from '@fastify/swagger' // route schemas carry OpenAPI summary/tags
import type { FastifyInstance } from 'fastify'
import { AppError } from '../../errors.js'
import type { ChaosTriggersJson, HttpDeps } from '../deps.js'
import { errorSchema } from '../schemas.js'

// Mailpit's chaos triggers. The triggers live with the SMTP listeners (another thread); these
// routes forward to them. Off unless holdmail runs with --enable-chaos: then both answer a 400
// JSON error, as Mailpit does.

const trigger = {
  type: 'object',
  properties: { ErrorCode: { type: 'integer' }, Probability: { type: 'integer' } },
} as const
const triggers = {
  type: 'object',
  properties: { Sender: trigger, Recipient: trigger, Authentication: trigger },
} as const

export async function chaosRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  const chaos = (): NonNullable<HttpDeps['chaos']> => {
    if (!deps.chaos?.enabled) throw new AppError('BAD_REQUEST', 'chaos is disabled; start holdmail with --enable-chaos')
    return deps.chaos
  }
  app.get(
    '/api/v1/chaos',
    { schema: { summary: "Mailpit's chaos triggers (SMTP errors at a probability)", tags: ['testing'], response: { 200: triggers, 400: errorSchema } } },
    async () => chaos().get(),
  )
  app.put<{ Body: Partial<ChaosTriggersJson> | null }>(
    '/api/v1/chaos',
    {
      schema: {
        summary: 'Set chaos triggers; each given trigger replaces that one (ErrorCode 400-599, Probability 0-100)',
        tags: ['testing'],
        response: { 200: triggers, 400: errorSchema },
      },
    },
    async (req) => {
      const body = req.body ?? {}
      if (typeof body !== 'object' || Array.isArray(body)) throw new AppError('BAD_REQUEST', 'expected an object with Sender, Recipient and/or Authentication')
      // Mailpit: a trigger left out of the request is reset (probability 0).
      const off = { ErrorCode: 451, Probability: 0 }
      return chaos().set({ Sender: body.Sender ?? off, Recipient: body.Recipient ?? off, Authentication: body.Authentication ?? off })
    },
  )
}
