import { parentPort, workerData, type MessagePort } from 'node:worker_threads'
import { pino } from 'pino'
import type { Config } from '../config/index.js'
import { buildHttpApp, createEventHub, listItemJson, type ChaosTriggersJson, type HttpLimits } from '../http/index.js'
import { createPortWriter, createReader, openDatabase, type Envelope, type StoredMessage } from '../store/index.js'
import { onCloseRequest, portClient, serveRequests } from '../threads/index.js'
import { terminalDestination } from './log-destination.js'
import { createHttpStore, createMessageParser, type READ_BUDGET_MS } from './http-store.js'
import { createReadPool } from './read-pool.js'
import { createThumbnailer } from './thumbnail.js'
import { createWebhook } from './webhook.js'

// The HTTP thread: Fastify, the API, the UI, exports and events, on an event loop of its own, so no
// request (a heavy search, a 40 MB message view, an export) can delay an SMTP greeting or a 250.
// It reads through its own read-only connection and a reader pool, writes through a port to the
// writer thread, and asks the SMTP thread (its owner) only to let the indexer catch up (settle).

export interface HttpThreadData {
  config: Config
  writerPort: MessagePort
  /** [accepted, acceptedBytes, rejected], counted by the SMTP thread. */
  counters: SharedArrayBuffer
  webRoot: string
  startedAt: number
  prettyLogs: boolean
  readPoolSize: number
  budgets?: Partial<typeof READ_BUDGET_MS>
  httpLimits?: HttpLimits
}

/** From the SMTP thread: mail stored, indexed or pruned. */
export type HttpThreadEvent = { type: 'stored'; message: StoredMessage } | { type: 'indexed'; ids: string[] } | { type: 'pruned' }
/** To the SMTP thread: whether any browser listens for events (so it only posts new mail when one does). */
export type HttpThreadNotice = { type: 'listeners'; count: number }
/** Requests to the SMTP thread (owner.request). */
export type HttpThreadRequest =
  | { op: 'settle' }
  | { op: 'stored'; id: string }
  | { op: 'tagsFor'; envelope: Envelope }
  | { op: 'chaos'; set?: Partial<ChaosTriggersJson> }
  | { op: 'ready' }

const port = parentPort!
const data = (workerData as { data: HttpThreadData }).data
const { config } = data
const logger = pino({ level: config.logLevel, base: { pid: process.pid } }, data.prettyLogs ? terminalDestination(process.stdout) : process.stdout)
const db = openDatabase(config.dbPath, { migrate: false, readonly: true })
const reader = createReader(db, config.dbPath)
const pool = createReadPool({
  path: config.dbPath,
  size: data.readPoolSize,
  onRetire: (op) => logger.warn({ op: op.op }, 'read over its time budget; its reader thread is replaced'),
})
const writerPort = data.writerPort
const writer = createPortWriter(writerPort)
const store = createHttpStore({ path: config.dbPath, reader, pool, writer, ...(data.budgets ? { budgets: data.budgets } : {}) })
const parser = createMessageParser(pool, data.budgets)
const owner = portClient(port)
const counters = new Float64Array(data.counters)

const thumbnailer = createThumbnailer()
const webhook = config.webhookUrl ? createWebhook({ url: config.webhookUrl, logger }) : null
// The webhook posts each message once it is indexed (its summary has subject and addresses); a
// point read on this thread's connection, off the SMTP thread.
// Only a message the webhook will queue is read: with a slow receiver the queue stays full, and
// reading each new message only to drop its summary would cost the HTTP thread for nothing.
const toWebhook = async (ids: string[]): Promise<void> => {
  for (const id of ids) {
    if (!webhook?.wants(id)) continue
    const m = await store.get(id)
    if (m) webhook.push(id, listItemJson(m))
  }
}

const events = createEventHub((count) => port.postMessage({ kind: 'event', body: { type: 'listeners', count } satisfies HttpThreadNotice }))
port.on('message', (m: unknown) => {
  const msg = m as { kind?: string; body?: HttpThreadEvent }
  if (msg.kind !== 'event' || !msg.body) return
  const e = msg.body
  if (e.type === 'stored') events.emit({ type: 'new', message: listItemJson(e.message) })
  else if (e.type === 'indexed') {
    events.emit({ type: 'indexed', ids: e.ids })
    if (webhook) toWebhook(e.ids).catch((err: unknown) => logger.warn({ err }, 'webhook: message not read'))
  }
  else if (e.type === 'pruned') events.emit({ type: 'delete' })
})

// Requests from the owner are served from the start (a message that arrives before any listener
// is attached would be lost); they wait for the app.
const ready = buildHttpApp({
  config,
  store,
  parser,
  events,
  logger,
  startedAt: data.startedAt,
  stats: () => ({ smtpAccepted: counters[0]!, smtpAcceptedBytes: counters[1]!, smtpRejected: counters[2]! }),
  webRoot: data.webRoot,
  settle: () => owner.request<void>({ op: 'settle' } satisfies HttpThreadRequest),
  stored: (message) => owner.request<void>({ op: 'stored', id: message.id } satisfies HttpThreadRequest),
  tagsFor: (envelope) => owner.request<string[]>({ op: 'tagsFor', envelope } satisfies HttpThreadRequest),
  chaos: {
    enabled: config.enableChaos,
    get: () => owner.request<ChaosTriggersJson>({ op: 'chaos' } satisfies HttpThreadRequest),
    set: (triggers) => owner.request<ChaosTriggersJson>({ op: 'chaos', set: triggers } satisfies HttpThreadRequest),
  },
  thumbnail: (content) => thumbnailer.make(content),
  ready: () => owner.request<{ ok: boolean; reason?: string }>({ op: 'ready' } satisfies HttpThreadRequest),
  readersBusy: () => pool.busy(),
}, data.httpLimits)

serveRequests(async (body) => {
  const req = body as { op: 'listen' }
  if (req.op !== 'listen') throw new Error(`unknown request ${String(req.op)}`)
  const app = await ready
  await app.listen({ host: config.http.host, port: config.http.port })
  return app.server.address()
})

onCloseRequest(async () => {
  // Event streams end first (a browser tab would otherwise hold the close), then requests in
  // flight finish, then the pool and the connections close.
  events.close()
  await webhook?.close()
  await (await ready).close()
  await pool.close()
  await thumbnailer.close()
  await writer.close()
  writerPort.close()
  db.close()
})
