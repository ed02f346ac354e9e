import type {} from '@fastify/swagger' // route schemas carry OpenAPI summary/tags
import type {} from '@fastify/websocket' // adds `websocket: true` to route options
import type { FastifyInstance } from 'fastify'
import { readFileSync } from 'node:fs'
import type { HttpDeps } from '../deps.js'
import { listItemJson } from '../message-json.js'

// Mailpit's websocket at /api/events, for tools written against Mailpit's live stream. Frames are
// Mailpit's: {"Type": ..., "Data": ...} with
//   new      Data = the message summary (as in a message list), sent once the message is indexed
//            so that Subject, From and To are filled;
//   stats    Data = {Total, Unread, Version}, after every change;
//   delete   Data = {ID}, one frame per message deleted by ID (up to DELETE_FRAMES_MAX);
//   prune    Data = null: messages were deleted (by a search, by retention, or more than
//            DELETE_FRAMES_MAX), reload the list, as Mailpit does for a large delete;
//   truncate Data = null: every message was deleted;
//   update   Data = {ID, Read}, when messages were marked read or unread by ID (a change by search
//            or of tags gives stats only).
// Host and Origin of the handshake are checked by the security hook (src/http/security.ts) before
// this route runs. Server-sent events (/api/v1/events) stay as they are.

const VERSION = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version
// IDs already announced per connection: a message is indexed twice (summary, then authentication results).
const ANNOUNCED_MAX = 10_000
const PING_MS = 25_000
// Mailpit's threshold: a delete of more messages is announced as one "prune".
const DELETE_FRAMES_MAX = 200

export async function websocketRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  app.get('/api/events', { websocket: true, schema: { summary: "Mailpit's websocket event stream (new, stats, prune, truncate)", tags: ['application'] } }, (socket) => {
    const send = (Type: string, Data: unknown): void => {
      if (socket.readyState === socket.OPEN) socket.send(JSON.stringify({ Type, Data }))
    }
    const announced = new Set<string>()
    let statsQueued = false
    // Several changes in one turn give one stats frame.
    const stats = (): void => {
      if (statsQueued) return
      statsQueued = true
      setImmediate(() => {
        statsQueued = false
        deps.store.counts().then(
          (c) => send('stats', { Total: c.total, Unread: c.unread, Version: VERSION }),
          (err: unknown) => deps.logger.warn({ err }, 'websocket: counts not read'),
        )
      })
    }
    const announce = async (ids: string[]): Promise<void> => {
      for (const id of ids) {
        if (announced.has(id)) continue
        announced.add(id)
        if (announced.size > ANNOUNCED_MAX) announced.delete(announced.values().next().value!)
        const m = await deps.store.get(id)
        if (m) send('new', listItemJson(m))
      }
      stats()
    }
    const unsubscribe = deps.events.subscribe(
      (event) => {
        if (event.type === 'indexed') {
          announce(event.ids).catch((err: unknown) => deps.logger.warn({ err }, 'websocket: message not read'))
        } else if (event.type === 'delete' && event.ids && event.ids.length <= DELETE_FRAMES_MAX) {
          for (const ID of event.ids) send('delete', { ID })
          stats()
        } else if (event.type === 'delete') {
          deps.store.counts().then(
            (c) => {
              send(c.total === 0 ? 'truncate' : 'prune', null)
              stats()
            },
            (err: unknown) => deps.logger.warn({ err }, 'websocket: counts not read'),
          )
        } else if (event.type === 'update') {
          if (event.ids && event.read !== undefined) for (const ID of event.ids) send('update', { ID, Read: event.read })
          stats()
        }
        // 'new' comes before indexing (no subject yet): Mailpit's 'new' is sent on 'indexed'.
      },
      () => socket.close(1001, 'server stopping'),
    )
    const ping = setInterval(() => socket.ping(), PING_MS)
    ping.unref()
    socket.on('close', () => {
      clearInterval(ping)
      unsubscribe()
    })
    stats()
  })
}
