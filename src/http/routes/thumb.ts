import type {} from '@fastify/swagger' // route schemas carry OpenAPI summary/tags
import type { FastifyInstance } from 'fastify'
import { AppError } from '../../errors.js'
import type { HttpDeps } from '../deps.js'
import { errorSchema, idParams } from '../schemas.js'
import { hostileHeaders, resolveMessage } from './message.js'

// Mailpit's attachment thumbnail: a 180x120 JPEG of an image part. The decode runs off this thread
// (deps.thumbnail); anything that is not a decodable image gets a 404 JSON error.

export async function thumbRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  app.get<{ Params: { ID: string; PartID: string } }>(
    '/api/v1/message/:ID/part/:PartID/thumb',
    {
      schema: {
        summary: 'A 180x120 JPEG thumbnail of an image attachment',
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
      const part = (await deps.parser.detail(m.id)).parts.get(req.params.PartID)
      if (!part) throw new AppError('NOT_FOUND', `message ${m.id} has no part ${req.params.PartID}`)
      if (!/^image\//i.test(part.contentType)) throw new AppError('NOT_FOUND', `part ${req.params.PartID} is ${part.contentType || 'not typed'}, not an image`)
      const jpeg = deps.thumbnail ? await deps.thumbnail(part.content) : null
      if (!jpeg) throw new AppError('NOT_FOUND', `part ${req.params.PartID} is not an image holdmail can decode (PNG, JPEG, GIF, BMP, TIFF up to 40 megapixels)`)
      return hostileHeaders(reply).type('image/jpeg').header('Content-Disposition', 'inline').send(jpeg)
    },
  )
}
