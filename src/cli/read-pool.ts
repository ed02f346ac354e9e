import { AppError } from '../errors.js'
import { spawnThread, type Thread } from '../threads/index.js'
import type { ReadOp } from './read-worker.js'

// A small pool of reader threads for reads with a time budget. A request waits for a free thread
// (its wait counts against its budget); one that overruns its budget is answered with a 503 at
// once, and the thread running it, which cannot be interrupted inside SQLite or mailparser, is
// retired: it is asked to close (it does so when its current work ends) and a new thread takes its
// place, so the pool keeps its size for the requests that follow.

export interface ReadPool {
  run<T>(op: ReadOp, budgetMs: number): Promise<T>
  /** Reader threads working on a request now (for /metrics). */
  busy(): number
  close(): Promise<void>
}

interface Slot {
  thread: Thread
  busy: boolean
}

interface Queued {
  op: ReadOp
  budgetMs: number
  deadline: number
  resolve: (v: unknown) => void
  reject: (e: unknown) => void
  timer: NodeJS.Timeout
}

const RETIRE_GRACE_MS = 120_000

const overBudget = (op: ReadOp, budgetMs: number): AppError =>
  new AppError(
    'READ_TIMEOUT',
    op.op === 'detail' || op.op === 'summarize'
      ? `parsing this message took longer than ${budgetMs / 1000} s and was stopped`
      : `this ${op.op === 'exportPage' ? 'export' : 'search'} took longer than ${budgetMs / 1000} s and was stopped; narrow the query and try again`,
  )

export function createReadPool(opts: { path: string; size: number; onRetire?: (op: ReadOp) => void }): ReadPool {
  const spawn = (): Slot => ({
    thread: spawnThread(new URL('./read-worker', import.meta.url), {
      data: { path: opts.path },
      // A thread that runs out of heap on a hostile sample dies alone (ERR_WORKER_OUT_OF_MEMORY);
      // its request fails and the slot is refilled at the next request.
      resourceLimits: { maxOldGenerationSizeMb: 768 },
      // A retired thread finishes its current read before it closes; only a read that runs past
      // this is cut short.
      closeTimeoutMs: RETIRE_GRACE_MS,
    }),
    busy: false,
  })
  const slots: Slot[] = Array.from({ length: opts.size }, spawn)
  const queue: Queued[] = []
  const retired = new Set<Promise<void>>()
  let closed = false

  function dispatch(): void {
    while (queue.length) {
      const i = slots.findIndex((s) => !s.busy)
      if (i < 0) return
      if (slots[i]!.thread.exited) slots[i] = spawn()
      const slot = slots[i]!
      const q = queue.shift()!
      clearTimeout(q.timer)
      const left = q.deadline - Date.now()
      if (left <= 0) {
        q.reject(overBudget(q.op, q.budgetMs))
        continue
      }
      slot.busy = true
      let settled = false
      const timer = setTimeout(() => {
        if (settled) return
        settled = true
        q.reject(overBudget(q.op, q.budgetMs))
        retire(slot)
        opts.onRetire?.(q.op)
      }, left)
      slot.thread.request(q.op).then(
        (v) => {
          if (settled) return
          settled = true
          clearTimeout(timer)
          slot.busy = false
          q.resolve(v)
          dispatch()
        },
        (err: unknown) => {
          if (settled) return
          settled = true
          clearTimeout(timer)
          slot.busy = false
          q.reject(err)
          dispatch()
        },
      )
    }
  }

  function retire(slot: Slot): void {
    const i = slots.indexOf(slot)
    if (i >= 0 && !closed) slots[i] = spawn()
    const done = slot.thread.close().finally(() => retired.delete(done))
    retired.add(done)
    dispatch()
  }

  return {
    run<T>(op: ReadOp, budgetMs: number): Promise<T> {
      if (closed) return Promise.reject(new AppError('STORE_FAILED', 'the server is stopping'))
      return new Promise<T>((resolve, reject) => {
        const q: Queued = {
          op,
          budgetMs,
          deadline: Date.now() + budgetMs,
          resolve: resolve as (v: unknown) => void,
          reject,
          timer: setTimeout(() => {
            const at = queue.indexOf(q)
            if (at >= 0) queue.splice(at, 1)
            reject(overBudget(op, budgetMs))
          }, budgetMs),
        }
        queue.push(q)
        dispatch()
      })
    },
    busy: () => slots.filter((s) => s.busy).length,
    async close() {
      closed = true
      for (const q of queue.splice(0)) {
        clearTimeout(q.timer)
        q.reject(new AppError('STORE_FAILED', 'the server is stopping'))
      }
      await Promise.all([...slots.map((s) => s.thread.close()), ...retired])
    },
  }
}
