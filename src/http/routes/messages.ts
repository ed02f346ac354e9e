import type {} from '@fastify/swagger' // route schemas carry OpenAPI summary/tags
import type { FastifyInstance } from 'fastify'
import { AppError } from '../../errors.js'
import type { Selection } from '../../store/index.js'
import type { HttpDeps } from '../deps.js'
import { listItemJson } from '../message-json.js'
import { checkPageNumbers, errorSchema, idsBody, messagesSummarySchema, okText, pageLimitSchema, pageStartSchema, searchOptions, tzSchema } from '../schemas.js'

const pageQuery = {
  type: 'object',
  properties: {
    start: pageStartSchema,
    limit: pageLimitSchema,
  },
} as const

const searchQuery = {
  type: 'object',
  required: ['query'],
  properties: {
    query: { type: 'string', maxLength: 4096 },
    start: pageStartSchema,
    limit: pageLimitSchema,
    tz: tzSchema,
  },
} as const

export async function messagesRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  const { store } = deps

  const page = async (search: string, start: number, limit: number, tz?: string): Promise<Record<string, unknown>> => {
    const [p, tags] = await Promise.all([store.list({ search, start, limit, ...searchOptions(tz) }), store.listTags()])
    return {
      total: p.total,
      unread: p.unread,
      count: p.messages.length,
      messages_count: p.messagesCount,
      messages_unread: p.messagesUnread,
      start: p.start,
      tags,
      messages: p.messages.map(listItemJson),
    }
  }

  app.get<{ Querystring: { start: number; limit: number } }>(
    '/api/v1/messages',
    {
      preHandler: checkPageNumbers,
      schema: {
        summary: 'List messages, newest first',
        tags: ['messages'],
        querystring: pageQuery,
        response: { 200: messagesSummarySchema, 400: errorSchema },
      },
    },
    async (req) => page('', req.query.start, req.query.limit),
  )

  app.put<{ Body: { IDs?: string[]; Read?: boolean; Search?: string } | null; Querystring: { tz?: string } }>(
    '/api/v1/messages',
    {
      schema: {
        summary: 'Mark messages read or unread: by IDs, by search, or all when neither is given',
        tags: ['messages'],
        querystring: { type: 'object', properties: { tz: tzSchema } },
        body: {
          type: ['object', 'null'],
          properties: {
            IDs: idsBody.properties.IDs,
            Read: { type: 'boolean', default: false },
            Search: { type: 'string', maxLength: 4096 },
          },
        },
        response: { 200: okText, 400: errorSchema },
      },
    },
    async (req, reply) => {
      const body = req.body ?? {}
      const selection: Selection = body.IDs?.length ? { ids: body.IDs } : body.Search ? { search: body.Search, ...searchOptions(req.query.tz) } : { all: true }
      const changed = await store.setRead(selection, body.Read === true)
      if (changed) deps.events.emit('ids' in selection ? { type: 'update', ids: selection.ids, read: body.Read === true } : { type: 'update' })
      return reply.type('text/plain; charset=utf-8').send('ok')
    },
  )

  app.delete<{ Body: { IDs?: string[] } | null }>(
    '/api/v1/messages',
    {
      schema: {
        summary: 'Delete messages by IDs, or every message when no IDs are given',
        tags: ['messages'],
        body: idsBody,
        response: { 200: okText, 400: errorSchema },
      },
    },
    async (req, reply) => {
      const ids = req.body?.IDs
      const removed = await store.delete(ids && ids.length ? { ids } : { all: true })
      if (removed) deps.events.emit(ids && ids.length ? { type: 'delete', ids } : { type: 'delete' })
      return reply.type('text/plain; charset=utf-8').send('ok')
    },
  )

  app.get<{ Querystring: { query: string; start: number; limit: number; tz?: string } }>(
    '/api/v1/search',
    {
      preHandler: checkPageNumbers,
      schema: {
        summary: 'Search messages (Mailpit syntax plus envelope and analysis terms)',
        tags: ['messages'],
        querystring: searchQuery,
        response: { 200: messagesSummarySchema, 400: errorSchema },
      },
    },
    async (req) => page(req.query.query, req.query.start, req.query.limit, req.query.tz),
  )

  app.delete<{ Querystring: { query: string; tz?: string } }>(
    '/api/v1/search',
    {
      schema: {
        summary: 'Delete every message matching a search',
        tags: ['messages'],
        querystring: searchQuery,
        response: { 200: okText, 400: errorSchema },
      },
    },
    async (req, reply) => {
      const query = req.query.query.trim()
      if (!query) throw new AppError('BAD_QUERY', 'an empty search matches everything; use DELETE /api/v1/messages to delete all')
      const removed = await store.delete({ search: query, ...searchOptions(req.query.tz) })
      if (removed) deps.events.emit({ type: 'delete' })
      return reply.type('text/plain; charset=utf-8').send('ok')
    },
  )
}
