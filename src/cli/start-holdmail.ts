import type { AddressInfo } from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Logger } from 'pino'
import { readFileSync, unwatchFile, watchFile } from 'node:fs'
import { parseRoutes, tagsForRoutes, type Config, type RouteRule } from '../config/index.js'
import { buildHttpApp, createEventHub, listItemJson, type EventHub } from '../http/index.js'
import { createIndexer, createThreadIndexer, type Analyser, type Indexer } from '../mail/index.js'
import { contentAnalyser, createAuthAnalyser } from '../mail/analysis/index.js'
import { createSmtpListener, loadTlsMaterial, type SmtpListener } from '../smtp/index.js'
import { createMessageStore, type Envelope, type MessageStore } from '../store/index.js'

const WEB_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'web')
const PRUNE_INTERVAL_MS = 60_000
const ROUTES_POLL_MS = 1000
const EXTERNAL_POLL_MS = 3000
// Read-your-writes for the API (see settle below): a request waits at most this long, and only
// when at most this many messages wait for the indexer (~1-2 ms each in its thread; more than
// that is a burst, and the UI shows such rows with their envelope until they are indexed). The
// bound covers a cold indexer thread (loading its modules took over 1 s on a loaded machine) and
// SPF/DKIM lookups against a slow DNS server.
const SETTLE_MAX_WAIT_MS = 5000
const SETTLE_MAX_BACKLOG = 200

export interface RunningHoldmail {
  smtp: AddressInfo
  lmtp: AddressInfo | null
  smtps: AddressInfo | null
  http: AddressInfo
  store: MessageStore
  indexer: Indexer
  events: EventHub
  tlsCertPath: string | null
  /** Re-reads --routes (also done on SIGHUP and when the file changes); keeps the old rules on error. */
  reloadRoutes(): void
  stop(): Promise<void>
}

export interface StartOptions {
  logger: Logger
  /** Defaults to the content analyser plus SPF/DKIM/DMARC/ARC as the config says. */
  analysers?: Analyser[]
  /** Extra tags per envelope (route table); the listener tag is added by start itself. */
  tagsFor?: (envelope: Envelope) => string[]
  /** The longest an API request waits for the indexer (read after send); SETTLE_MAX_WAIT_MS by default. */
  settleMaxWaitMs?: number
}

/** Wires store, indexer, listeners and HTTP from one Config; the only place that knows all modules. */
export async function startHoldmail(config: Config, opts: StartOptions): Promise<RunningHoldmail> {
  const { logger } = opts
  const store = createMessageStore(config.dbPath)
  const events = createEventHub()
  const stats = { smtpAccepted: 0, smtpAcceptedBytes: 0, smtpRejected: 0 }
  const auth = { enabled: config.authChecks, dnsServer: config.dnsServer, trustedRelays: config.trustedRelays }
  const onIndexed = (ids: string[]): void => events.emit({ type: 'indexed', ids })
  const onError = (err: unknown, id: string): void => logger.warn({ err, id }, 'analysis failed')
  // A database file is indexed in a thread of its own; ':memory:' is private to this thread's
  // connection, and analysers passed in as functions cannot cross threads.
  const indexer =
    config.dbPath !== ':memory:' && !opts.analysers
      ? createThreadIndexer({ store, auth, onIndexed, onError })
      : createIndexer({ store, analysers: opts.analysers ?? [contentAnalyser, createAuthAnalyser(auth)], onIndexed, onError })
  const cleanups: (() => Promise<void> | void)[] = [() => store.close()]
  try {
    const tls = await loadTlsMaterial(config.tls, config.dbPath, config.hostname)
    if (tls.generated) logger.info({ path: tls.path }, 'generated a self-signed TLS certificate')

    let routes: RouteRule[] = []
    const loadRoutes = (): void => {
      if (!config.routesFile) return
      routes = parseRoutes(readFileSync(config.routesFile, 'utf8'), config.routesFile)
      logger.info({ file: config.routesFile, rules: routes.length }, 'routes loaded')
    }
    const reloadRoutes = (): void => {
      try {
        loadRoutes()
      } catch (err) {
        logger.warn({ err }, 'routes not reloaded; keeping the previous rules')
      }
    }
    loadRoutes() // a broken route file at start-up is a start-up error
    if (config.routesFile) {
      watchFile(config.routesFile, { interval: ROUTES_POLL_MS, persistent: false }, reloadRoutes)
      cleanups.push(() => unwatchFile(config.routesFile, reloadRoutes))
    }

    const tagsFor = (env: Envelope): string[] => {
      const tags = [
        ...(opts.tagsFor?.(env) ?? []),
        ...tagsForRoutes(routes, { mailFrom: env.mailFrom, rcptTo: env.rcptTo.map((r) => r.address), clientIp: env.clientIp, helo: env.helo }),
      ]
      return [...new Set([...(config.listenerTag ? [config.listenerTag] : []), ...tags])]
    }
    const listeners: SmtpListener[] = []
    const bound: Record<string, AddressInfo | null> = { smtp: null, lmtp: null, smtps: null }
    for (const kind of ['smtp', 'smtps', 'lmtp'] as const) {
      const addr = config[kind]
      if (!addr) continue
      const listener = createSmtpListener({
        kind,
        host: addr.host,
        port: addr.port,
        hostname: config.hostname,
        maxMessageBytes: config.maxMessageBytes,
        maxRecipients: config.maxRecipients,
        trustedRelays: config.trustedRelays,
        greetDelayMs: config.greetDelayMs,
        tls,
        store,
        logger,
        tagsFor,
        onStored(message) {
          stats.smtpAccepted++
          stats.smtpAcceptedBytes += message.size
          if (events.hasSubscribers()) events.emit({ type: 'new', message: listItemJson(message) })
          indexer.notify()
        },
      })
      bound[kind] = await listener.listen()
      listeners.push(listener)
      cleanups.push(() => listener.close())
    }

    // A client that got its 250 and then reads the API (a developer's test with a Mailpit client)
    // must see the subject, addresses and search hits of that message, as Mailpit gives them: the
    // 250 comes before parsing here, so an API request first lets the indexer catch up with what
    // was committed before it.
    const settle = async (): Promise<void> => {
      const backlog = store.unindexedBacklog(SETTLE_MAX_BACKLOG + 1)
      if (backlog.count === 0 || backlog.count > SETTLE_MAX_BACKLOG) return
      await indexer.settle(() => store.indexedThrough(backlog.lastSeq), opts.settleMaxWaitMs ?? SETTLE_MAX_WAIT_MS)
    }
    const app = await buildHttpApp({ config, store, events, logger, startedAt: Date.now(), stats, webRoot: WEB_ROOT, settle })
    await app.listen({ host: config.http.host, port: config.http.port })
    cleanups.push(() => app.close())
    const httpAddr = app.server.address() as AddressInfo

    // Whatever a crash left unindexed is picked up now, and what `holdmail sendmail` writes from
    // another process within a few seconds.
    indexer.wake()
    const wakeTimer = setInterval(() => indexer.wake(), EXTERNAL_POLL_MS)
    wakeTimer.unref()
    cleanups.push(() => clearInterval(wakeTimer))
    cleanups.push(() => indexer.stop())

    if (config.maxMessages > 0 || config.maxAgeMs > 0) {
      const prune = (): void => {
        const removed = store.prune({ maxMessages: config.maxMessages, maxAgeMs: config.maxAgeMs })
        if (removed) {
          logger.info({ removed }, 'pruned')
          events.emit({ type: 'delete' })
        }
      }
      prune()
      const timer = setInterval(prune, PRUNE_INTERVAL_MS)
      timer.unref()
      cleanups.push(() => clearInterval(timer))
    }

    let stopping: Promise<void> | null = null
    return {
      smtp: bound.smtp!,
      lmtp: bound.lmtp ?? null,
      smtps: bound.smtps ?? null,
      http: httpAddr,
      store,
      indexer,
      events,
      tlsCertPath: tls.path,
      reloadRoutes,
      stop() {
        stopping ??= (async () => {
          // Listeners first (no new mail), then HTTP and the indexer, the database last.
          for (const cleanup of cleanups.reverse()) await cleanup()
        })()
        return stopping
      },
    }
  } catch (err) {
    for (const cleanup of cleanups.reverse()) await cleanup()
    throw err
  }
}
