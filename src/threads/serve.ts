import { parentPort } from 'node:worker_threads'
import { isWire, toWireError, type PortLike, type WireMessage } from './wire.js'


/** Answers one request body; may return `{ [TRANSFER]: [...] }` through `withTransfer`. */
export type Handler = (body: unknown, port: PortLike) => unknown

const transfers = new WeakMap<object, ArrayBuffer[]>()

/** Marks a reply whose buffers should be moved to the caller instead of copied. */
export function withTransfer<T extends object>(value: T, buffers: ArrayBuffer[]): T {
  transfers.set(value, buffers)
  return value
}

/**
 * Answers requests arriving on `port` (the parent port by default) with `handle`. Replies keep
 * the request's ID; a thrown error crosses as { code, message }. Requests are answered in the
 * order their handlers finish.
 */
export function serveRequests(handle: Handler, port: PortLike = parentPort!): void {
  port.on('message', (m: unknown) => {
    if (!isWire(m) || m.kind !== 'req') return
    const { reqId } = m
    const answer = (msg: WireMessage): void => {
      const t = msg.kind === 'res' && typeof msg.value === 'object' && msg.value !== null ? transfers.get(msg.value) : undefined
      try {
        port.postMessage(msg, t ?? [])
      } catch (err) {
        // Some buffers cannot be moved (better-sqlite3 13 returns blobs in external memory): copy
        // them instead; and a value that cannot be cloned at all becomes an error answer, never an
        // exception that would end the thread.
        try {
          if (!t?.length) throw err
          port.postMessage(msg)
        } catch (cloneErr) {
          port.postMessage({ kind: 'res', reqId, error: toWireError(cloneErr) } satisfies WireMessage)
        }
      }
    }
    let result: unknown
    try {
      result = handle(m.body, port)
    } catch (err) {
      answer({ kind: 'res', reqId, error: toWireError(err) })
      return
    }
    if (result instanceof Promise) {
      result.then(
        (value: unknown) => answer({ kind: 'res', reqId, value }),
        (err: unknown) => answer({ kind: 'res', reqId, error: toWireError(err) }),
      )
    } else {
      answer({ kind: 'res', reqId, value: result })
    }
  })
}

/**
 * Runs `close` when the owner asks this thread to stop (the close handshake): close statements and
 * the database there, then the thread tells its owner and lets its event loop end. A thread that is
 * terminated instead while statements are alive can abort the process (better-sqlite3 finalizing a
 * statement after its environment is gone), which is why owners ask first.
 */
export function onCloseRequest(close: () => void | Promise<void>): void {
  const port = parentPort!
  port.on('message', (m: unknown) => {
    if (!isWire(m) || m.kind !== 'close') return
    void (async () => {
      try {
        await close()
      } finally {
        port.postMessage({ kind: 'closed' } satisfies WireMessage)
        port.close()
      }
    })()
  })
}
