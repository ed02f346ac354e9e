import type { AddressInfo } from 'node:net'
import { mkdtempSync, rmSync, unwatchFile, watchFile } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Logger } from 'pino'
import { loadRoutesFile, tagsForRoutes, type Config, type RouteRule } from '../config/index.js'
import { AppError } from '../errors.js'
import { createIndexer, createThreadIndexer, type Analyser, type Indexer } from '../mail/index.js'
import { createSpamChecker } from '../mail/spam-checker.js'
import { createSmtpListener, loadTlsMaterial, sharedListenerOptions, type SmtpListener } from '../smtp/index.js'
import { createMessageStore, type Envelope, type MessageStore } from '../store/index.js'
import { serveRequests, spawnThread, type Thread } from '../threads/index.js'
import { envelopeTags } from '../mail/tags.js'
import type { HttpThreadData, HttpThreadEvent, HttpThreadNotice, HttpThreadRequest } from './http-thread.js'

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
// Reader threads for searches, reports, exports and parsing for display: two, for two cores; more
// would only queue on the CPU.
const READ_POOL_SIZE = 2

export interface RunningHoldmail {
  smtp: AddressInfo
  lmtp: AddressInfo | null
  smtps: AddressInfo | null
  http: AddressInfo
  store: MessageStore
  indexer: Indexer
  tlsCertPath: string | null
  /** The database file in use (a temporary one for ':memory:'). */
  dbPath: string
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
  /** Time budgets of the reader pool (tests shorten them). */
  readBudgets?: HttpThreadData['budgets']
  /** HTTP deadlines (tests shorten them). */
  httpLimits?: HttpThreadData['httpLimits']
  /** Whether the HTTP thread's log lines are for a terminal. */
  prettyLogs?: boolean
}

/**
 * Wires store, indexer, listeners and the HTTP thread from one Config; the only place that knows
 * all modules. This thread (the SMTP thread) runs the SMTP/LMTP sessions and hands off: messages to
 * the writer thread, indexing to the indexer thread, events to the HTTP thread.
 */
export async function startHoldmail(config: Config, opts: StartOptions): Promise<RunningHoldmail> {
  const { logger } = opts
  let stopping: Promise<void> | null = null
  const cleanups: (() => Promise<void> | void)[] = []
  const listeners: SmtpListener[] = []
  // ':memory:' cannot be shared between threads: it becomes a temporary file, removed at stop.
  let dbPath = config.dbPath
  if (dbPath === ':memory:') {
    const dir = mkdtempSync(join(tmpdir(), 'holdmail-'))
    dbPath = join(dir, 'holdmail.db')
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  }
  const store = createMessageStore(dbPath, { compression: config.compression })
  cleanups.push(() => store.close())
  // [accepted, accepted bytes, rejected]: counted here, read by the HTTP thread without a message.
  const counters = new SharedArrayBuffer(3 * Float64Array.BYTES_PER_ELEMENT)
  const count = new Float64Array(counters)
  let http: Thread | null = null
  let httpListeners = 0
  const toHttp = (event: HttpThreadEvent): void => http?.post({ kind: 'event', body: event })
  const auth = { enabled: config.authChecks, dnsServer: config.dnsServer, trustedRelays: config.trustedRelays }
  const onIndexed = (ids: string[]): void => {
    // The HTTP thread also needs them for the webhook (--webhook-url).
    if (httpListeners > 0 || config.webhookUrl) toHttp({ type: 'indexed', ids })
  }
  const onError = (err: unknown, id: string): void => logger.warn({ err, id }, 'analysis failed')
  // Indexing runs in a thread of its own; analysers passed in as functions (tests) cannot cross
  // threads, so they run on this thread.
  const indexer = !opts.analysers
    ? createThreadIndexer({ store, auth, onIndexed, onError })
    : createIndexer({ store, analysers: opts.analysers, onIndexed, onError })
  try {
    const tls = await loadTlsMaterial(config.tls, config.dbPath, config.hostname)
    if (tls.generated) logger.info({ path: tls.path }, 'generated a self-signed TLS certificate')

    let routes: RouteRule[] = []
    const loadRoutes = (): void => {
      if (!config.routesFile) return
      routes = loadRoutesFile(config.routesFile)
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
        // Mailpit's --tags-plus-addresses and --tags-username (the X-Tags header is read by the indexer).
        ...envelopeTags(env, { plusAddresses: config.tagsPlusAddresses, username: config.tagsUsername }),
      ]
      return [...new Set([...(config.listenerTag ? [config.listenerTag] : []), ...tags])]
    }
    // SpamAssassin scores, after commit and in a thread of its own, when --spamd names a spamd. Its
    // starting point is read before the listeners open: on a first start it begins after the newest
    // stored message, and a message accepted before that point was known would never be checked.
    if (config.spamd) {
      const spam = createSpamChecker({ store, spamd: config.spamd, onError: (err) => logger.warn({ err }, 'spamd check failed') })
      cleanups.push(() => spam.stop())
      await spam.started()
    }

    const bound: Record<string, AddressInfo | null> = { smtp: null, lmtp: null, smtps: null }
    // Connection limits, the DATA memory budget and chaos triggers are shared by every listener.
    const shared = sharedListenerOptions(config)
    if (shared.limits.fdNotice) logger.warn(shared.limits.fdNotice)
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
        ...shared,
        onRejected() {
          count[2]! += 1
        },
        onStored(message) {
          count[0]! += 1
          count[1]! += message.size
          if (httpListeners > 0) toHttp({ type: 'stored', message })
          indexer.notify()
        },
      })
      bound[kind] = await listener.listen()
      listeners.push(listener)
    }

    // Ready (the listeners' part; the HTTP thread asks the writer about the store itself): every
    // configured listener bound and not stopping.
    const ready = async (): Promise<{ ok: boolean; reason?: string }> => {
      if (stopping) return { ok: false, reason: 'stopping' }
      const unbound = (['smtp', 'smtps', 'lmtp'] as const).filter((k) => config[k] && !bound[k])
      if (unbound.length) return { ok: false, reason: `listener ${unbound.join(', ')} not bound` }
      return { ok: true }
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
    const writerPort = store.writer.connect()
    const httpThread = spawnThread(new URL('./http-thread', import.meta.url), {
      data: {
        config: { ...config, dbPath },
        writerPort,
        counters,
        webRoot: WEB_ROOT,
        startedAt: Date.now(),
        prettyLogs: opts.prettyLogs === true,
        readPoolSize: READ_POOL_SIZE,
        ...(opts.readBudgets ? { budgets: opts.readBudgets } : {}),
        ...(opts.httpLimits ? { httpLimits: opts.httpLimits } : {}),
      } satisfies HttpThreadData,
      transferList: [writerPort],
      onEvent: (body) => {
        const notice = body as HttpThreadNotice
        if (notice.type === 'listeners') httpListeners = notice.count
      },
      onExit: (code) => {
        if (!stopping) logger.error({ code }, 'the HTTP thread exited; the API and UI are down until restart')
      },
    })
    http = httpThread
    cleanups.push(() => httpThread.close())
    serveRequests(async (body) => {
      const req = body as HttpThreadRequest
      switch (req.op) {
        case 'settle':
          return settle()
        case 'stored':
          // A message the HTTP thread stored (POST /api/v1/send): index it now, not at the next poll.
          indexer.notify()
          return
        case 'tagsFor':
          return tagsFor(req.envelope)
        case 'chaos':
          return req.set ? shared.chaos.set(req.set) : shared.chaos.get()
        case 'ready':
          return ready()
      }
      throw new Error('unknown request')
    }, httpThread.worker)
    let httpAddr: AddressInfo
    try {
      httpAddr = await httpThread.request<AddressInfo>({ op: 'listen' })
    } catch (err) {
      const where = `${config.http.host}:${config.http.port}`
      throw new AppError('BAD_CONFIG', `HTTP listener ${where}: ${(err as Error).message}`, { cause: err })
    }

    // Whatever a crash left unindexed is picked up now, and what `holdmail sendmail` writes from
    // another process within a few seconds.
    indexer.wake()
    const wakeTimer = setInterval(() => indexer.wake(), EXTERNAL_POLL_MS)
    wakeTimer.unref()
    cleanups.push(() => clearInterval(wakeTimer))
    cleanups.push(() => indexer.stop())

    if (config.maxMessages > 0 || config.maxAgeMs > 0) {
      const prune = async (): Promise<void> => {
        try {
          const removed = await store.prune({ maxMessages: config.maxMessages, maxAgeMs: config.maxAgeMs })
          if (removed) {
            logger.info({ removed }, 'pruned')
            toHttp({ type: 'pruned' })
          }
        } catch (err) {
          logger.warn({ err }, 'prune failed; retried at the next interval')
        }
      }
      await prune()
      const timer = setInterval(() => void prune(), PRUNE_INTERVAL_MS)
      timer.unref()
      cleanups.push(() => clearInterval(timer))
    }

    return {
      smtp: bound.smtp!,
      lmtp: bound.lmtp ?? null,
      smtps: bound.smtps ?? null,
      http: httpAddr,
      store,
      indexer,
      tlsCertPath: tls.path,
      dbPath,
      reloadRoutes,
      stop() {
        stopping ??= (async () => {
          // Listeners first (no new mail), then HTTP, the indexer and timers, the database last.
          await Promise.all(listeners.map((l) => l.close()))
          for (const cleanup of cleanups.reverse()) await cleanup()
        })()
        return stopping
      },
    }
  } catch (err) {
    stopping = Promise.resolve()
    await Promise.all(listeners.map((l) => l.close()))
    for (const cleanup of cleanups.reverse()) await cleanup()
    throw err
  }
}
