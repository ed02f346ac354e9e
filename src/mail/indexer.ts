import type { MessageStore, MessageSummary, Envelope } from '../store/index.js'
import { createMemoryReleaser } from './release-memory.js'
import { summarize } from './summary.js'

/** Content analysis run after commit: fills kind, auth, analysis and content tags of a summary. */
export type Analyser = (raw: Buffer, envelope: Envelope, summary: MessageSummary) => Promise<void>

export interface Indexer {
  /** Tell the indexer that new messages were committed. */
  notify(): void
  /** Look for unindexed rows without signalling arriving mail (rows another process wrote). */
  wake(): void
  /** Resolves when every message committed so far has been indexed. */
  idle(): Promise<void>
  /**
   * Indexes now (no burst throttling while anyone waits) and resolves once `done()` says what the
   * caller waits for is indexed, when nothing is left to index, or after `maxWaitMs`.
   */
  settle(done: () => boolean, maxWaitMs: number): Promise<void>
  stop(): Promise<void>
}

export interface IndexerOptions {
  store: MessageStore
  analysers?: Analyser[]
  onIndexed?: (ids: string[]) => void
  onError?: (err: unknown, id: string) => void
  batchSize?: number
}

const DEFAULT_BATCH = 50
// During a burst (mail arriving faster than BURST_MSGS_PER_S over the last second) the indexer
// takes at most BUSY_DUTY of the CPU, so the burst is accepted at full speed and indexed right after
// it; at a steady, moderate rate it keeps up instead (throttled at every arrival, its lag grows
// without bound at a steady 200 msg/s).
const BURST_MSGS_PER_S = 300
const BUSY_DUTY = 0.25
const MAX_PAUSE_MS = 500
// New mail is indexed this long after it arrives, so that at a moderate rate a round takes several
// messages: one read query, one summary commit and a few thread hand-offs per round rather than per
// message, which lowers the CPU spent per message (docs/performance.md). An API request does not
// wait for it (settle starts a round at once), nor does idle().
const GATHER_MS = 20

/**
 * One round of indexing: how many messages it took from the store (0: nothing left). A round that
 * saves in two steps calls `saved()` after the first, so that API requests waiting for those
 * messages (settle) go on before the second. `throttled`: the loop is holding indexing to its duty
 * cycle (a burst, nobody waiting), so the round should finish all its work before it returns.
 */
export type IndexRound = (saved: () => void, throttled: boolean) => Promise<number>

/**
 * Runs index rounds until the store has nothing unindexed, again whenever told that mail arrived.
 * During a burst each round is followed by a pause, so that indexing takes at most `busyDuty` of
 * the time (1: no pause).
 */
export function createIndexLoop(round: IndexRound, opts: { busyDuty: number; onError?: (err: unknown, id: string) => void }): Indexer {
  const memory = createMemoryReleaser()
  let running: Promise<void> | null = null
  let again = false
  let stopped = false
  // arrivals counted per whole second: the previous second's count decides whether this is a burst
  let second = 0
  let arrivals = 0
  let previousArrivals = 0
  const inBurst = (): boolean => {
    const now = Math.floor(Date.now() / 1000)
    if (now !== second) {
      previousArrivals = now === second + 1 ? arrivals : 0
      arrivals = 0
      second = now
    }
    return Math.max(arrivals, previousArrivals) > BURST_MSGS_PER_S
  }

  // API requests waiting for the messages committed before them (settle)
  const waiters = new Set<{ done: () => boolean; resolve: () => void }>()
  let cutPause: (() => void) | null = null // ends a burst pause early when a request starts waiting
  let gather: NodeJS.Timeout | null = null
  const release = (all: boolean): void => {
    for (const w of waiters) {
      let ready = all
      try {
        ready ||= w.done()
      } catch {
        ready = true // the store is closing: stop waiting
      }
      if (ready) {
        waiters.delete(w)
        w.resolve()
      }
    }
  }

  // Held to the duty cycle: a burst, and no API request waiting for the indexer.
  const throttling = (): boolean => opts.busyDuty < 1 && waiters.size === 0 && inBurst()

  async function loop(): Promise<void> {
    try {
      do {
        again = false
        for (;;) {
          const started = Date.now()
          const n = stopped ? 0 : await round(() => release(false), throttling())
          if (n === 0) break
          memory.indexed(n)
          release(false)
          const took = Date.now() - started
          if (throttling()) {
            const pause = Math.min(MAX_PAUSE_MS, (took * (1 - opts.busyDuty)) / opts.busyDuty)
            await new Promise<void>((r) => {
              const t = setTimeout(r, pause)
              cutPause = () => {
                clearTimeout(t)
                r()
              }
            })
            cutPause = null
          }
        }
      } while (again && !stopped)
      if (!stopped) memory.drained()
    } catch (err) {
      // The database was busy or closed: the rows stay unindexed and the next notify retries them.
      opts.onError?.(err, '')
    } finally {
      running = null
      release(true) // nothing left to index (or indexing failed and will be retried): wait no more
    }
  }

  const indexer: Indexer = {
    notify() {
      inBurst() // roll the window
      arrivals++
      if (running) {
        again = true
        return
      }
      gather ??= setTimeout(() => indexer.wake(), GATHER_MS)
    },
    wake() {
      if (gather) {
        clearTimeout(gather)
        gather = null
      }
      if (stopped) return
      if (running) {
        again = true
        return
      }
      running = loop()
    },
    async idle() {
      if (gather) indexer.wake() // mail waiting to be gathered counts as committed
      while (running) await running
    },
    settle(done, maxWaitMs) {
      if (stopped || done()) return Promise.resolve()
      return new Promise<void>((resolve) => {
        const w = {
          done,
          resolve: () => {
            clearTimeout(timer)
            resolve()
          },
        }
        const timer = setTimeout(() => {
          waiters.delete(w)
          resolve()
        }, maxWaitMs)
        waiters.add(w)
        indexer.wake()
        cutPause?.()
      })
    },
    async stop() {
      stopped = true
      if (gather) clearTimeout(gather)
      await indexer.idle()
    },
  }
  return indexer
}

/** Summary and analysis of one message; analyser failures are reported and do not stop the others. */
export async function indexOne(
  item: { id: string; raw: Buffer; envelope: Envelope },
  analysers: readonly Analyser[],
  onError?: (err: unknown, id: string) => void,
): Promise<MessageSummary> {
  const summary = await summarize(item.raw, item.envelope)
  for (const analyse of analysers) {
    try {
      await analyse(item.raw, item.envelope, summary)
    } catch (err) {
      onError?.(err, item.id)
    }
  }
  return summary
}

/**
 * Parses committed messages off the accept path, in batches, oldest first, on the calling thread
 * (used for ':memory:' databases and for custom analysers); also picks up whatever a crash left
 * unindexed, since it works from the store rather than from a queue.
 */
export function createIndexer(opts: IndexerOptions): Indexer {
  const { store, analysers = [], batchSize = DEFAULT_BATCH } = opts
  let stopped = false
  async function round(): Promise<number> {
    const items = store.unindexed(batchSize)
    const done: { seq: number; summary: MessageSummary }[] = []
    const ids: string[] = []
    for (const item of items) {
      done.push({ seq: item.seq, summary: await indexOne(item, analysers, opts.onError) })
      ids.push(item.id)
      // yield between messages so SMTP sessions keep their latency while a backlog is indexed
      await new Promise((r) => setImmediate(r))
      if (stopped) break
    }
    if (done.length && !stopped) {
      await store.saveSummaries(done)
      opts.onIndexed?.(ids)
    }
    return items.length
  }
  const loop = createIndexLoop(round, { busyDuty: BUSY_DUTY, onError: opts.onError })
  return {
    ...loop,
    async stop() {
      stopped = true
      await loop.stop()
    },
  }
}
