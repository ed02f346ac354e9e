import { AppError } from '../errors.js'
import { openDatabase } from './database.js'
import { newMessageId } from './ids.js'
import { createIndexQueue, type IndexQueue } from './index-queue.js'
import { createReader, type Reader } from './reader.js'
import { createReports, type Reports } from './reports.js'
import { createInProcessWriter, createThreadWriter, type Writer } from './writer.js'
import { userWrites, type UserWrites } from './write-ops.js'
import type { AuthItem, SummaryItem } from './writes.js'
import type { Envelope, StoredMessage } from './types.js'

/**
 * The store as one process sees it: the writer (a thread for database files) plus reads on this
 * thread's own connection. The SMTP thread uses only `insert`, the index queue and the writer's
 * commands; tools and tests use the rest. Every write goes through the writer and resolves once
 * committed.
 */
export interface MessageStore extends Reader, IndexQueue, Reports, UserWrites {
  readonly path: string
  readonly writer: Writer
  /**
   * Resolves once raw bytes and envelope are committed (group commit). With `handOver`, the caller
   * gives up `raw`: its memory may move to the writer thread instead of being copied.
   */
  insert(raw: Buffer, envelope: Envelope, opts?: { handOver?: boolean }): Promise<StoredMessage>
  saveSummaries(items: SummaryItem[]): Promise<void>
  /** SPF/DKIM/DMARC/ARC results of messages whose summary is already saved. */
  saveAuth(items: AuthItem[]): Promise<void>
  prune(opts: { maxMessages: number; maxAgeMs: number; now?: number }): Promise<number>
  /** Sends back to the indexer recent messages saved without their auth results; returns how many. */
  requeueMissingAuth(window: number): Promise<number>
  close(): Promise<void>
}

/** Opens (and migrates) the database, starts its writer and prepares this thread's reads. */
export function createMessageStore(path: string, opts: { cacheKiB?: number; compression?: number } = {}): MessageStore {
  const db = openDatabase(path, { migrate: true, ...(opts.cacheKiB !== undefined ? { cacheKiB: opts.cacheKiB } : {}) })
  // An in-memory database is private to its connection, so ':memory:' writes in-process.
  const writerOpts = opts.compression !== undefined ? { compression: opts.compression } : {}
  const writer = path !== ':memory:' ? createThreadWriter(path, writerOpts) : createInProcessWriter(db, writerOpts)
  let closed = false
  const write = writer.write.bind(writer)
  return {
    ...createReader(db, path),
    ...createIndexQueue(db),
    ...createReports(db),
    path,
    writer,
    async insert(raw, envelope, o) {
      if (closed) throw new AppError('STORE_FAILED', 'store is closed')
      const id = newMessageId()
      const size = raw.length // the writer may take the buffer over (transfer to its thread)
      const { seq, sha256 } = await writer.insert({ id, raw, env: envelope }, o?.handOver === true)
      return { id, seq, size, sha256, read: false, tags: [...envelope.tags], envelope, indexed: false, summary: null }
    },
    saveSummaries: async (items) => void (await write({ op: 'summaries', items })),
    saveAuth: async (items) => void (await write({ op: 'auth', items })),
    ...userWrites(write),
    prune: ({ maxMessages, maxAgeMs, now = Date.now() }) => write({ op: 'prune', maxMessages, maxAgeMs, now }),
    requeueMissingAuth: (window) => write({ op: 'requeueMissingAuth', window }),
    async close() {
      if (closed) return
      closed = true
      await writer.close()
      db.close()
    },
  }
}
