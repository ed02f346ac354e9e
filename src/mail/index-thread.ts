import type { MessageStore, MessageSummary } from '../store/index.js'
import { spawnThread, type Thread } from '../threads/index.js'
import type { AuthAnalyserOptions } from './analysis/index.js'
import { createIndexLoop, type Indexer } from './indexer.js'
import { emptySummary } from './summary.js'
import type { IndexReply, IndexRequest, IndexWorkerData } from './index-worker.js'

export interface ThreadIndexerOptions {
  store: MessageStore
  auth: AuthAnalyserOptions
  onIndexed?: (ids: string[]) => void
  onError?: (err: unknown, id: string) => void
  batchSize?: number
}

const DEFAULT_BATCH = 50
const REQUEUE_WINDOW = 1000
const MAX_AUTH_ROUNDS = 4
// During a burst the thread indexes at most 10 % of the time. Its CPU does not come out of the SMTP
// thread, but its summaries (FTS inserts) queue in the same writer as new mail and slow the commits
// of new messages (docs/performance.md has the figures).
const THREAD_BUSY_DUTY = 0.1

/**
 * The indexer for a database file: parsing and analysis run in a worker thread at a lower
 * priority; this thread only asks for rounds and saves what comes back through the store's writer.
 * A thread that dies (an exception a parser threw outside any promise, say) takes only the message
 * it was on with it: that one is marked unparsed, and the next round starts a new thread. Running
 * out of heap is not covered: V8 then aborts the whole process, as it did with indexing in-process.
 */
export function createThreadIndexer(opts: ThreadIndexerOptions): Indexer {
  const { store, batchSize = DEFAULT_BATCH } = opts
  let worker: Thread | null = null
  let stopping = false
  let current: { seq: number; id: string } | null = null
  type Parsed = { seq: number; id: string; summary: MessageSummary }[]
  type Authed = { seq: number; id: string; auth: unknown }[]
  type Waiter<T> = { resolve: (items: T) => void; reject: (err: Error) => void }
  const parsedWaiters = new Map<number, Waiter<Parsed>>()
  const authWaiters = new Map<number, Waiter<Authed>>()
  const pendingAuth = new Set<Promise<void>>()
  let roundNo = 0

  function start(): Thread {
    const died = (err: Error): void => {
      if (worker === w) worker = null
      for (const waiters of [parsedWaiters, authWaiters]) {
        for (const p of waiters.values()) p.reject(err)
        waiters.clear()
      }
    }
    const w = spawnThread(new URL('./index-worker', import.meta.url), {
      data: { path: store.path, auth: opts.auth } satisfies IndexWorkerData,
      // A small young generation (V8's default here is several times that): parsing makes much
      // short-lived garbage, and a smaller nursery keeps this thread's RSS down (docs/performance.md).
      resourceLimits: { maxYoungGenerationSizeMb: 4 },
      onExit: (code) => died(new Error(`indexer thread exited with code ${code}`)),
      onEvent: (body) => onReply(body as IndexReply),
    })
    return w
  }

  function onReply(msg: IndexReply): void {
    {
      if (msg.type === 'start') current = { seq: msg.seq, id: msg.id }
      else if (msg.type === 'error') opts.onError?.(new Error(msg.message), msg.id)
      else if (msg.type === 'parsed') {
        current = null
        parsedWaiters.get(msg.round)?.resolve(msg.items)
        parsedWaiters.delete(msg.round)
      } else if (msg.type === 'authed') {
        authWaiters.get(msg.round)?.resolve(msg.items)
        authWaiters.delete(msg.round)
      }
    }
  }

  // A round saves twice: the summaries as soon as they are parsed (the loop's waiters go on then,
  // and so does the loop, with the next round), and the SPF/DKIM/DMARC/ARC results once their DNS
  // lookups are done, in the background, at most MAX_AUTH_ROUNDS rounds at a time. If the process
  // stops in between, the next start sends those messages back to the indexer (requeueMissingAuth).
  async function round(saved: () => void, throttled: boolean): Promise<number> {
    await requeued
    while (pendingAuth.size >= MAX_AUTH_ROUNDS) await Promise.race(pendingAuth)
    worker ??= start()
    const w = worker
    const id = ++roundNo
    const authed = new Promise<Authed>((resolve, reject) => authWaiters.set(id, { resolve, reject }))
    authed.catch(() => {}) // a thread that dies while parsing is handled below, through the parse
    let items: Parsed
    try {
      items = await new Promise((resolve, reject) => {
        parsedWaiters.set(id, { resolve, reject })
        w.post({ type: 'round', round: id, limit: batchSize, together: throttled } satisfies IndexRequest)
      })
    } catch (err) {
      authWaiters.delete(id)
      const victim = current
      current = null
      if (!victim || stopping) throw err
      opts.onError?.(err, victim.id)
      await store.saveSummaries([{ seq: victim.seq, summary: emptySummary(`indexer failed on this message: ${(err as Error).message}`) }])
      opts.onIndexed?.([victim.id])
      return 1
    }
    if (items.length === 0 || throttled) authWaiters.delete(id) // no second message comes
    if (items.length === 0) return 0
    const ids = items.map((i) => i.id)
    await store.saveSummaries(items.map((i) => ({ seq: i.seq, summary: i.summary })))
    opts.onIndexed?.(ids)
    saved()
    // During a burst (nobody waiting) the round analyses everything before it saves, as one commit
    // and inside the loop's duty cycle: lookups and DKIM checks run in the background, and a
    // second commit per round would take writer time from the SMTP sessions.
    if (throttled) return items.length
    const done: Promise<void> = authed
      .then(async (auth) => {
        if (stopping) return
        await store.saveAuth(auth.map((a) => ({ seq: a.seq, auth: a.auth })))
        opts.onIndexed?.(ids)
      })
      .catch((err: unknown) => {
        if (!stopping) opts.onError?.(err, '')
      })
      .finally(() => pendingAuth.delete(done))
    pendingAuth.add(done)
    return items.length
  }

  // Summaries saved without their auth results when the last run stopped: at most MAX_AUTH_ROUNDS
  // rounds' worth (200 messages), among the newest.
  const requeued = store.requeueMissingAuth(REQUEUE_WINDOW).catch((err: unknown) => {
    opts.onError?.(err, '')
  })

  const loop = createIndexLoop(round, { busyDuty: THREAD_BUSY_DUTY, onError: opts.onError })
  return {
    ...loop,
    // idle() also waits for the auth results still being looked up
    async idle() {
      for (;;) {
        await loop.idle()
        if (pendingAuth.size === 0) return
        await Promise.all([...pendingAuth])
      }
    },
    async stop() {
      stopping = true
      await loop.stop()
      await requeued
      const w = worker
      worker = null
      await w?.close()
    },
  }
}
