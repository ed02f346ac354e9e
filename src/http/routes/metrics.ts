import type { FastifyInstance } from 'fastify'
import { Counter, Gauge, Registry } from 'prom-client'
import type { HttpDeps } from '../deps.js'

// Prometheus metrics through prom-client (the text format, escaping and types are its job). Values
// are read when scraped: the counters come from the SMTP thread's shared counters, the gauges from
// the store, so a scrape costs two indexed reads.

export async function metricsRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  const registry = new Registry()
  let snapshot = { total: 0, unread: 0, dbBytes: 0 }
  // A counter whose count is kept elsewhere (the SMTP thread): brought to that count at each scrape.
  const counter = (name: string, help: string, read: () => number): void => {
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset()
        this.inc(read())
      },
    })
  }
  const gauge = (name: string, help: string, read: () => number): void => {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read())
      },
    })
  }
  gauge('holdmail_messages', 'Messages in the store.', () => snapshot.total)
  gauge('holdmail_messages_unread', 'Unread messages in the store.', () => snapshot.unread)
  counter('holdmail_smtp_accepted_total', 'Messages accepted since start.', () => deps.stats().smtpAccepted)
  counter('holdmail_smtp_accepted_bytes_total', 'Bytes accepted since start.', () => deps.stats().smtpAcceptedBytes)
  counter('holdmail_smtp_rejected_total', 'Messages refused since start (552 oversize, 452 recipients or memory).', () => deps.stats().smtpRejected)
  gauge('holdmail_database_bytes', 'Size of the database and its WAL.', () => snapshot.dbBytes)
  gauge('holdmail_reader_pool_busy', 'Reader threads running a search, report, export page or parse.', () => deps.readersBusy?.() ?? 0)
  gauge('holdmail_uptime_seconds', 'Seconds since start.', () => Math.round((Date.now() - deps.startedAt) / 1000))

  app.get('/metrics', { schema: { summary: 'Prometheus metrics', tags: ['application'] } }, async (_req, reply) => {
    const [counts, dbBytes] = await Promise.all([deps.store.counts(), deps.store.dbSizeBytes()])
    snapshot = { ...counts, dbBytes }
    return reply.type(registry.contentType).send(await registry.metrics())
  })
}
