import type Database from 'better-sqlite3'
import { MessageChannel, type MessagePort } from 'node:worker_threads'
import { AppError } from '../errors.js'
import { portClient, spawnThread, type Thread } from '../threads/index.js'
import type { PortLike } from '../threads/wire.js'
import { runWrite, type WriteOp } from './write-ops.js'
import type { ConnectMessage, InsertedMessage, InsertMessage } from './writer-worker.js'
import { createWrites, type InsertRequest } from './writes.js'

/** Where every write goes: the writer thread for database files, in-process for ':memory:'. */
export interface Writer {
  /**
   * Resolves with the row's seq and SHA-256 once the transaction holding it has committed. With
   * `handOver`, req.raw's memory may be moved to the writer thread rather than copied.
   */
  insert(req: InsertRequest, handOver?: boolean): Promise<Inserted>
  /** Any other write; resolves once committed, with its count (read flags set, messages deleted). */
  write(op: WriteOp): Promise<number>
  /** A port for another thread to write through (createPortWriter on its side). */
  connect(): MessagePort
  close(): Promise<void>
}

/** A writer over a port; `failAll` fails what is pending when the thread behind the port died. */
export interface PortWriter extends Writer {
  failAll(err: unknown): void
}

export interface Inserted {
  seq: number
  sha256: string
}

const storeFailed = (cause: unknown): AppError => new AppError('STORE_FAILED', 'storage failed', { cause })

/** Group commit in-process: inserts of one event-loop turn share a transaction. */
export function createInProcessWriter(db: Database.Database, opts: { compression?: number } = {}): Writer {
  const writes = createWrites(db, opts)
  let queue: { req: InsertRequest; resolve: (r: Inserted) => void; reject: (e: unknown) => void }[] = []
  let scheduled = false
  const flush = (): void => {
    scheduled = false
    const batch = queue
    queue = []
    if (batch.length === 0) return
    writes.insertBatch(batch.map((b) => b.req)).forEach((r, i) => {
      const b = batch[i]!
      if ('seq' in r) b.resolve(r)
      else b.reject(storeFailed(r.error))
    })
  }
  return {
    insert(req) {
      return new Promise((resolve, reject) => {
        queue.push({ req, resolve, reject })
        if (!scheduled) {
          scheduled = true
          setImmediate(flush)
        }
      })
    },
    async write(op) {
      flush()
      return runWrite(writes, op)
    },
    connect() {
      throw new AppError('BAD_CONFIG', "an in-memory database cannot be shared with another thread")
    },
    async close() {
      flush()
    },
  }
}

/**
 * Inserts and writes over a port to the writer thread. Inserts made in one go (one socket event,
 * one loop in a caller) travel in one message, posted as soon as that code returns: waiting for
 * the end of the event-loop turn batched more but held every message on a busy SMTP thread. The
 * writer thread batches what queues up while it commits anyway. A buffer that owns its whole
 * ArrayBuffer is moved, not copied.
 */
export function createPortWriter(port: PortLike & { close?: () => void }, closeThread?: () => Promise<void>): PortWriter {
  let nextId = 1
  const waiting = new Map<number, { resolve: (v: Inserted) => void; reject: (e: unknown) => void }>()
  const requests = portClient(port)
  let closing: Promise<void> | null = null
  let outbox: InsertMessage['items'] = []
  let transfer: ArrayBuffer[] = []

  port.on('message', (m: unknown) => {
    const msg = m as InsertedMessage
    if (msg.type !== 'inserted') return
    for (const r of msg.results) {
      const p = waiting.get(r.reqId)
      waiting.delete(r.reqId)
      if (r.seq !== undefined && r.sha256 !== undefined) p?.resolve({ seq: r.seq, sha256: r.sha256 })
      else p?.reject(storeFailed(r.error))
    }
  })

  const postInserts = (): void => {
    if (outbox.length === 0) return // close() already sent them
    const items = outbox
    const moved = transfer
    outbox = []
    transfer = []
    port.postMessage({ type: 'insert', items } satisfies InsertMessage, moved)
  }

  /** Fails what the writer held (the senders get 451 and retry). */
  const failAll = (err: unknown): void => {
    for (const w of waiting.values()) w.reject(storeFailed(err))
    waiting.clear()
    requests.fail(storeFailed(err))
  }

  return {
    failAll,
    insert(req, handOver = false) {
      if (closing) return Promise.reject(new AppError('STORE_FAILED', 'store is closed'))
      const reqId = nextId++
      return new Promise((resolve, reject) => {
        waiting.set(reqId, { resolve, reject })
        if (outbox.length === 0) queueMicrotask(postInserts)
        outbox.push({ reqId, req })
        const ab = req.raw.buffer
        if (handOver && ab instanceof ArrayBuffer && req.raw.byteOffset === 0 && req.raw.byteLength === ab.byteLength && !transfer.includes(ab)) {
          transfer.push(ab)
        }
      })
    },
    write(op) {
      if (closing) return Promise.reject(new AppError('STORE_FAILED', 'store is closed'))
      return requests.request<number>(op).catch((err: unknown) => {
        // A write the writer refused on purpose (a tag that does not exist) keeps its code.
        if (err instanceof AppError && err.code !== 'INTERNAL' && err.code !== 'THREAD_EXITED') throw err
        throw storeFailed(err)
      })
    },
    connect() {
      const { port1, port2 } = new MessageChannel()
      port.postMessage({ type: 'connect', port: port2 } satisfies ConnectMessage, [port2])
      return port1
    },
    close() {
      closing ??= (async () => {
        postInserts()
        if (closeThread) await closeThread()
        else port.close?.()
        failAll(new Error('store is closed'))
      })()
      return closing
    },
  }
}

/** The writer thread for a database file, and the client for this thread. */
export function createThreadWriter(path: string, opts: { compression?: number } = {}): Writer {
  let thread: Thread | null = null
  let writer: PortWriter | null = null
  const start = (): { thread: Thread; writer: PortWriter } => {
    const t = spawnThread(new URL('./writer-worker', import.meta.url), {
      data: { path, ...opts },
      onExit: (code) => {
        w.failAll(new Error(`writer thread exited with code ${code}`))
        if (thread === t) {
          thread = null
          writer = null
        }
      },
    })
    const w = createPortWriter(t.worker, () => t.close())
    return { thread: t, writer: w }
  }
  // The thread starts at once: opening the database there is part of start-up, and a writer that
  // died is replaced at the next write (the mail it held got 451 and is retried by its senders).
  ;({ thread, writer } = start())
  const current = (): Writer => {
    if (!writer) ({ thread, writer } = start())
    return writer
  }
  let closed = false
  return {
    insert: (req, handOver) => (closed ? Promise.reject(new AppError('STORE_FAILED', 'store is closed')) : current().insert(req, handOver)),
    write: (op) => (closed ? Promise.reject(new AppError('STORE_FAILED', 'store is closed')) : current().write(op)),
    connect: () => current().connect(),
    async close() {
      closed = true
      await writer?.close()
    },
  }
}
