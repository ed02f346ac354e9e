import { Worker, type ResourceLimits, type TransferListItem } from 'node:worker_threads'
import { fromWireError, isWire, type PortLike, type WireMessage } from './wire.js'
import { AppError } from '../errors.js'

export interface SpawnOptions {
  /** Extra data for the thread (the entry module reads `workerData.data`). */
  data?: unknown
  /** Objects in `data` to move to the thread (MessagePorts, buffers). */
  transferList?: TransferListItem[]
  resourceLimits?: ResourceLimits
  /** Keep the process alive while this thread lives (default false: its callers' sockets do). */
  ref?: boolean
  /** Called once when the thread is gone, after pending requests were failed. */
  onExit?: (code: number) => void
  /** Messages the thread sends outside request/response. */
  onEvent?: (body: unknown) => void
  /** How long close() waits for the handshake before it terminates the thread. */
  closeTimeoutMs?: number
}

export interface Thread {
  readonly worker: Worker
  /** Sends a request; resolves with the thread's answer, rejects with its error (code kept). */
  request<T>(body: unknown, transfer?: readonly TransferListItem[]): Promise<T>
  /** Requests not yet answered. */
  pending(): number
  /** Posts a message outside request/response (the thread's port sees it as a raw message). */
  post(body: unknown, transfer?: readonly TransferListItem[]): void
  /** The close handshake: the thread closes its resources and exits; terminates it after the timeout. */
  close(): Promise<void>
  /** Ends the thread now, failing what is pending (a runaway request it cannot interrupt). */
  terminate(): Promise<void>
  readonly exited: boolean
}

const BOOT = new URL('./boot.mjs', import.meta.url)
// V8 lets each isolate's young generation grow to 48 MiB (16 MiB semi-spaces) and keeps what it
// grew to: with six threads that is most of holdmail's resident memory, for no measured gain in
// throughput. 6 MiB is 2 MiB semi-spaces, what `npm start` gives the main thread
// (--max-semi-space-size=2); a caller's own limit wins. Figures in docs/performance.md.
const YOUNG_GENERATION_MB = 6
const DEFAULT_CLOSE_TIMEOUT_MS = 10_000

/**
 * Starts `entry` (a module URL next to the caller, without extension: `.ts` under the test runner,
 * `.js` when built) in a worker thread. A thread that exits fails every pending request with
 * STORE_FAILED-like errors its callers already handle (code THREAD_EXITED).
 */
export function spawnThread(entry: URL, opts: SpawnOptions = {}): Thread {
  const ts = import.meta.url.endsWith('.ts')
  // Under the test runner the entry is TypeScript, and every thread would load it through tsx; the
  // suite sets HOLDMAIL_THREADS_FROM_DIST after making dist/ current (test/global-setup.ts), and the
  // threads then load the same code compiled, which starts and stops them about twice as fast.
  const fromDist = ts && process.env.HOLDMAIL_THREADS_FROM_DIST === '1'
  const entryHref = fromDist ? `${entry.href.replace(/\/src\/(?!.*\/src\/)/, '/dist/')}.js` : `${entry.href}.${ts ? 'ts' : 'js'}`
  const worker = new Worker(BOOT, {
    workerData: { entry: entryHref, data: opts.data },
    transferList: opts.transferList ?? [],
    resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB, ...opts.resourceLimits },
  })
  if (!opts.ref) worker.unref()
  let nextId = 1
  let exited = false
  let closing: Promise<void> | null = null
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>()

  const failAll = (err: AppError): void => {
    for (const w of waiting.values()) w.reject(err)
    waiting.clear()
  }
  worker.on('message', (m: unknown) => {
    if (!isWire(m)) return
    if (m.kind === 'res') {
      const w = waiting.get(m.reqId)
      if (!w) return
      waiting.delete(m.reqId)
      if (m.error) w.reject(fromWireError(m.error))
      else w.resolve(m.value)
    } else if (m.kind === 'event') {
      opts.onEvent?.(m.body)
    }
  })
  let lastError: Error | null = null
  worker.on('error', (err) => {
    lastError = err
  })
  worker.on('exit', (code) => {
    exited = true
    const why = lastError ? `: ${lastError.message}` : ''
    failAll(new AppError('THREAD_EXITED', `worker thread exited with code ${code}${why}`, { cause: lastError }))
    opts.onExit?.(code)
  })

  const thread: Thread = {
    worker,
    get exited() {
      return exited
    },
    request<T>(body: unknown, transfer: readonly TransferListItem[] = []): Promise<T> {
      if (exited || closing) return Promise.reject(new AppError('THREAD_EXITED', 'worker thread is closed'))
      const reqId = nextId++
      return new Promise<T>((resolve, reject) => {
        waiting.set(reqId, { resolve: resolve as (v: unknown) => void, reject })
        worker.postMessage({ kind: 'req', reqId, body } satisfies WireMessage, transfer)
      })
    },
    pending: () => waiting.size,
    post(body, transfer = []) {
      if (!exited) worker.postMessage(body, transfer)
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        if (exited) return resolve()
        const timer = setTimeout(() => void worker.terminate(), opts.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS)
        timer.unref()
        worker.once('exit', () => {
          clearTimeout(timer)
          resolve()
        })
        // The handshake keeps the process alive until the thread has closed its database.
        worker.ref()
        worker.postMessage({ kind: 'close' } satisfies WireMessage)
      })
      return closing
    },
    async terminate() {
      if (!exited) await worker.terminate()
    },
  }
  return thread
}

/** A request/response client over a port the caller does not own (a MessagePort to another thread's server). */
export function portClient(port: PortLike): { request<T>(body: unknown, transfer?: readonly TransferListItem[]): Promise<T>; fail(err: AppError): void } {
  let nextId = 1
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>()
  port.on('message', (m: unknown) => {
    if (!isWire(m) || m.kind !== 'res') return
    const w = waiting.get(m.reqId)
    if (!w) return
    waiting.delete(m.reqId)
    if (m.error) w.reject(fromWireError(m.error))
    else w.resolve(m.value)
  })
  return {
    request<T>(body: unknown, transfer: readonly TransferListItem[] = []) {
      const reqId = nextId++
      return new Promise<T>((resolve, reject) => {
        waiting.set(reqId, { resolve: resolve as (v: unknown) => void, reject })
        port.postMessage({ kind: 'req', reqId, body } satisfies WireMessage, transfer)
      })
    },
    fail(err) {
      for (const w of waiting.values()) w.reject(err)
      waiting.clear()
    },
  }
}
