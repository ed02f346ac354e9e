import type {} from '@fastify/swagger' // route schemas carry OpenAPI summary/tags
import type { FastifyInstance } from 'fastify'
import type { HttpDeps } from '../deps.js'

// Probes as Mailpit (and Kubernetes) name them: /livez answers while this HTTP thread serves;
// /readyz answers 200 only when the store is open and writable and every listener is bound
// (503 with the reason otherwise).

export async function healthRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  const text = { type: 'string' } as const
  app.get('/livez', { schema: { summary: 'Liveness: the HTTP server answers', tags: ['application'], response: { 200: text } } }, async (_req, reply) =>
    reply.type('text/plain; charset=utf-8').send('ok'),
  )
  app.get(
    '/readyz',
    { schema: { summary: 'Readiness: store open and writable, listeners bound', tags: ['application'], response: { 200: text, 503: text } } },
    async (_req, reply) => {
      let state: { ok: boolean; reason?: string }
      try {
        // The writer's own check (the database file still there and writable), then the listeners.
        const health = await deps.store.health()
        state = !health.writable ? { ok: false, reason: health.problem } : deps.ready ? await deps.ready() : { ok: true }
      } catch (err) {
        state = { ok: false, reason: (err as Error).message }
      }
      return reply
        .status(state.ok ? 200 : 503)
        .type('text/plain; charset=utf-8')
        .send(state.ok ? 'ok' : `not ready: ${state.reason ?? 'unknown'}`)
    },
  )
}
