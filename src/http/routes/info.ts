import type {} from '@fastify/swagger' // route schemas carry OpenAPI summary/tags
import type { FastifyInstance } from 'fastify'
import { readFileSync } from 'node:fs'
import type { HttpDeps } from '../deps.js'

const VERSION = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version

export async function infoRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  app.get(
    '/api/v1/info',
    {
      schema: {
        summary: 'Version, database and runtime statistics (Mailpit-compatible)',
        tags: ['application'],
        response: {
          200: {
            type: 'object',
            properties: {
              Version: { type: 'string' },
              LatestVersion: { type: 'string' },
              Database: { type: 'string' },
              DatabaseSize: { type: 'integer' },
              Messages: { type: 'integer' },
              Unread: { type: 'integer' },
              Tags: { type: 'object', additionalProperties: { type: 'integer' } },
              // holdmail's: whether new mail can be stored, and what to do when it cannot.
              Store: {
                type: 'object',
                properties: { Writable: { type: 'boolean' }, Problem: { type: 'string' } },
              },
              // holdmail's addition: raw bytes as received and as stored (--compression)
              RawBytes: {
                type: 'object',
                properties: { Original: { type: 'integer' }, Stored: { type: 'integer' } },
              },
              RuntimeStats: {
                type: 'object',
                properties: {
                  Uptime: { type: 'integer' },
                  Memory: { type: 'integer' },
                  MessagesDeleted: { type: 'integer' },
                  SMTPAccepted: { type: 'integer' },
                  SMTPAcceptedSize: { type: 'integer' },
                  SMTPRejected: { type: 'integer' },
                  SMTPIgnored: { type: 'integer' },
                },
              },
            },
          },
        },
      },
    },
    async () => {
      const [counts, size, tags, health, raw] = await Promise.all([
        deps.store.counts(),
        deps.store.dbSizeBytes(),
        deps.store.tagCounts(),
        deps.store.health(),
        deps.store.rawBytes(),
      ])
      const stats = deps.stats()
      return {
        Version: VERSION,
        LatestVersion: '', // holdmail never phones home to look it up
        Database: deps.store.path,
        DatabaseSize: size,
        Messages: counts.total,
        Unread: counts.unread,
        Tags: tags,
        Store: { Writable: health.writable, Problem: health.problem },
        RawBytes: { Original: raw.original, Stored: raw.stored },
        RuntimeStats: {
          Uptime: Math.round((Date.now() - deps.startedAt) / 1000),
          Memory: process.memoryUsage().rss,
          MessagesDeleted: 0,
          SMTPAccepted: stats.smtpAccepted,
          SMTPAcceptedSize: stats.smtpAcceptedBytes,
          SMTPRejected: stats.smtpRejected,
          SMTPIgnored: 0,
        },
      }
    },
  )

  app.get(
    '/api/v1/events',
    { schema: { summary: 'Server-sent events: new, indexed, update, delete', tags: ['application'] } },
    (req, reply) => {
      reply.hijack()
      const res = reply.raw
      res.writeHead(200, {
        'Content-Type': 'text/event-stream; charset=utf-8',
        'Cache-Control': 'no-cache, no-transform',
        Connection: 'keep-alive',
        'X-Accel-Buffering': 'no',
      })
      res.write(': holdmail events\n\n')
      const unsubscribe = deps.events.subscribe(
        (event) => {
          res.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`)
        },
        () => res.end(),
      )
      const keepAlive = setInterval(() => res.write(': ping\n\n'), 25_000)
      keepAlive.unref()
      req.raw.on('close', () => {
        clearInterval(keepAlive)
        unsubscribe()
      })
    },
  )
}
