import type {} from '@fastify/swagger' // route schemas carry OpenAPI summary/tags
import type { FastifyInstance } from 'fastify'
import { AppError } from '../../errors.js'
import type { HttpDeps } from '../deps.js'
import { errorSchema, idParams } from '../schemas.js'

// Mailpit's UI configuration (GET /api/v1/webui) with the values that apply to holdmail: no
// message relay ever (holdmail never delivers), SpamAssassin as --spamd says, chaos as --enable-chaos says.
// Mailpit's HTML check and link check are not part of holdmail: they answer a 404 JSON error that
// says so, rather than the generic "no route". (SpamAssassin's check is routes/spam.ts, with --spamd.)

export async function webuiRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  const { config } = deps
  app.get(
    '/api/v1/webui',
    {
      schema: {
        summary: "The web UI's configuration (Mailpit-compatible; message relay is always off)",
        tags: ['application'],
        response: {
          200: {
            type: 'object',
            properties: {
              Label: { type: 'string' },
              MessageRelay: {
                type: 'object',
                properties: {
                  Enabled: { type: 'boolean' },
                  SMTPServer: { type: 'string' },
                  ReturnPath: { type: 'string' },
                  AllowedRecipients: { type: 'string' },
                  BlockedRecipients: { type: 'string' },
                  RecipientAllowlist: { type: 'string' },
                  OverrideFrom: { type: 'string' },
                  PreserveMessageIDs: { type: 'boolean' },
                },
              },
              SpamAssassin: { type: 'boolean' },
              ChaosEnabled: { type: 'boolean' },
              DuplicatesIgnored: { type: 'boolean' },
              HideDeleteAllButton: { type: 'boolean' },
            },
          },
        },
      },
    },
    async () => ({
      Label: config.listenerTag,
      MessageRelay: {
        Enabled: false,
        SMTPServer: '',
        ReturnPath: '',
        AllowedRecipients: '',
        BlockedRecipients: '',
        RecipientAllowlist: '',
        OverrideFrom: '',
        PreserveMessageIDs: false,
      },
      SpamAssassin: config.spamd !== null,
      ChaosEnabled: config.enableChaos,
      DuplicatesIgnored: false,
      HideDeleteAllButton: false,
    }),
  )

  const missing: [string, string][] = [
    ['/api/v1/message/:ID/html-check', 'the HTML compatibility check is not part of holdmail'],
    ['/api/v1/message/:ID/link-check', 'the link check is not part of holdmail (it would fetch URLs from samples)'],
  ]
  for (const [url, why] of missing) {
    app.get(url, { schema: { summary: `Not available: ${why}`, tags: ['message'], params: idParams, response: { 404: errorSchema } } }, async () => {
      throw new AppError('NOT_FOUND', why)
    })
  }
}
