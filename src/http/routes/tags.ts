import type {} from '@fastify/swagger' // route schemas carry OpenAPI summary/tags
import type { FastifyInstance } from 'fastify'
import type { HttpDeps } from '../deps.js'
import { errorSchema, okText } from '../schemas.js'

const tagName = { type: 'string', minLength: 1, maxLength: 100, pattern: '^[^\\x00-\\x1f]+$' } as const

export async function tagsRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  const { store } = deps
  const ok = 'text/plain; charset=utf-8'

  app.get(
    '/api/v1/tags',
    {
      schema: {
        summary: 'Every tag in use',
        tags: ['tags'],
        response: { 200: { type: 'array', items: { type: 'string' } } },
      },
    },
    async () => store.listTags(),
  )

  app.put<{ Body: { Tags: string[]; IDs: string[] } }>(
    '/api/v1/tags',
    {
      schema: {
        summary: 'Set the tags of the given messages (replacing theirs); an empty list removes all',
        tags: ['tags'],
        body: {
          type: 'object',
          required: ['IDs'],
          properties: {
            Tags: { type: 'array', items: tagName, default: [] },
            IDs: { type: 'array', items: { type: 'string', maxLength: 64 }, minItems: 1 },
          },
        },
        response: { 200: okText, 400: errorSchema },
      },
    },
    async (req, reply) => {
      await store.setTags(req.body.IDs, [...new Set(req.body.Tags.map((t) => t.trim()).filter(Boolean))])
      deps.events.emit({ type: 'update' })
      return reply.type(ok).send('ok')
    },
  )

  app.put<{ Params: { Tag: string }; Body: { Name: string } }>(
    '/api/v1/tags/:Tag',
    {
      schema: {
        summary: 'Rename a tag',
        tags: ['tags'],
        params: { type: 'object', properties: { Tag: tagName } },
        body: { type: 'object', required: ['Name'], properties: { Name: tagName } },
        response: { 200: okText, 400: errorSchema, 404: errorSchema },
      },
    },
    async (req, reply) => {
      await store.renameTag(req.params.Tag, req.body.Name.trim())
      deps.events.emit({ type: 'update' })
      return reply.type(ok).send('ok')
    },
  )

  app.delete<{ Params: { Tag: string } }>(
    '/api/v1/tags/:Tag',
    {
      schema: {
        summary: 'Delete a tag from every message',
        tags: ['tags'],
        params: { type: 'object', properties: { Tag: tagName } },
        response: { 200: okText, 404: errorSchema },
      },
    },
    async (req, reply) => {
      await store.deleteTag(req.params.Tag)
      deps.events.emit({ type: 'update' })
      return reply.type(ok).send('ok')
    },
  )
}
