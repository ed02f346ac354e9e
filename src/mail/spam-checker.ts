import type { MessageStore } from '../store/index.js'
import { spawnThread, type Thread } from '../threads/index.js'
import type { SpamdAddress } from './spamd.js'
import type { SpamRequest, SpamRound, SpamWorkerData } from './spam-worker.js'

// --spamd: every message committed while holdmail runs goes to SpamAssassin's spamd after commit,
// from a thread of its own (spam-worker.ts), SPAMD_CONCURRENCY at a time, and the answers are
// saved through the writer. Nothing here is on the accept path: a slow or absent spamd only delays
// the scores.

export interface SpamChecker {
  /**
   * Resolves once the checker knows where it starts (the first start: after the newest message
   * stored then). Messages committed after that are checked; the owner awaits this before its
   * listeners accept mail, so that no message arriving during start-up is skipped.
   */
  started(): Promise<void>
  /** Resolves once every message committed before the call has an answer (or spamd is unreachable). */
  idle(): Promise<void>
  stop(): Promise<void>
}

// spamd forks 5 children by default (--max-children); more requests would only queue there.
const SPAMD_CONCURRENCY = 4
// How often to look for new messages when idle, and to retry when spamd is unreachable.
const POLL_MS = 500
const RETRY_MS = 5000

export function createSpamChecker(opts: {
  store: MessageStore
  spamd: SpamdAddress
  onError?: (err: unknown) => void
  onChecked?: (ids: number[]) => void
  concurrency?: number
}): SpamChecker {
  const { store } = opts
  const limit = opts.concurrency ?? SPAMD_CONCURRENCY
  let thread: Thread | null = null
  let stopped = false
  let timer: NodeJS.Timeout | null = null
  let wake: (() => void) | null = null
  let roundNo = 0
  // Each waiter is released by an empty round that started after it was added.
  let idleWaiters: { after: number; resolve: () => void }[] = []
  let reported: string | null = null
  let markStarted: () => void = () => {}
  const startedOnce = new Promise<void>((resolve) => (markStarted = resolve))

  const start = (): Thread =>
    spawnThread(new URL('./spam-worker', import.meta.url), {
      data: { path: store.path, spamd: opts.spamd } satisfies SpamWorkerData,
      onExit: () => {
        thread = null
      },
    })
  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      wake = resolve
      timer = setTimeout(resolve, ms)
      timer.unref()
    })

  const loop = (async () => {
    let after: number | null = null
    while (!stopped) {
      try {
        thread ??= start()
        after ??= await thread.request<number>({ op: 'resumeAt' } satisfies SpamRequest)
        markStarted()
        const mine = ++roundNo
        const round: SpamRound = await thread.request<SpamRound>({ op: 'check', afterSeq: after, limit } satisfies SpamRequest)
        if (round.items.length) {
          await store.writer.write({ op: 'spam', items: round.items })
          opts.onChecked?.(round.items.map((i) => i.seq))
        }
        after = round.last
        if (round.unavailable) {
          if (reported !== round.unavailable) opts.onError?.(new Error(round.unavailable)) // once per kind of failure
          reported = round.unavailable
        } else reported = null
        if (round.items.length === 0 || round.unavailable) {
          const done = idleWaiters.filter((w) => w.after < mine)
          idleWaiters = idleWaiters.filter((w) => w.after >= mine)
          for (const w of done) w.resolve()
          await sleep(round.unavailable ? RETRY_MS : POLL_MS)
        }
      } catch (err) {
        // A checker that cannot start must not hold up the server's start-up; it retries below.
        markStarted()
        if (stopped) break
        opts.onError?.(err)
        await sleep(RETRY_MS)
      }
    }
  })()

  return {
    started: () => startedOnce,
    idle() {
      return new Promise((resolve) => {
        idleWaiters.push({ after: roundNo, resolve })
        if (timer) clearTimeout(timer)
        wake?.()
      })
    },
    async stop() {
      stopped = true
      markStarted()
      if (timer) clearTimeout(timer)
      wake?.()
      await loop
      await thread?.close()
      for (const w of idleWaiters) w.resolve()
      idleWaiters = []
    },
  }
}
