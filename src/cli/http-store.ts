import type { DetailPart, HttpStore, MessageParser, ParsedMessage } from '../http/index.js'
import { newMessageId, storeHealth, userWrites, type SearchOptions, type MessageSummary, type Page, type RawMessage, type Reader, type StoredMessage, type StoreStats, type Backscatter, type Writer } from '../store/index.js'
import type { ReadPool } from './read-pool.js'

// The HTTP thread's view of the store. Point reads (one message, its bytes, counts, tags, the
// plain list) run on this thread's read-only connection: they follow an index and cost
// microseconds. Anything a query or a sample can make slow (a search, statistics, export pages,
// parsing for display) runs in the reader pool with a time budget. Writes go to the writer thread.

// Budgets per kind of read; past them the request gets a 503 and the pool thread is replaced.
export const READ_BUDGET_MS = {
  search: 5000,
  report: 20_000,
  parse: 30_000,
  exportPage: 30_000,
}
// A plain list (no search) reads an index from its offset; past this offset the skipped rows cost
// enough to send it to the pool.
const LOCAL_LIST_MAX_START = 2000
// Parsed messages kept for repeated views and part downloads, by decoded size.
const PARSE_CACHE_BYTES = 256 * 1024 * 1024

const asBuffer = (u: Uint8Array): Buffer => (Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength))

export function createHttpStore(opts: { path: string; reader: Reader; pool: ReadPool; writer: Writer; budgets?: Partial<typeof READ_BUDGET_MS> }): HttpStore {
  const { reader, pool, writer } = opts
  const budget = { ...READ_BUDGET_MS, ...opts.budgets }
  const write = writer.write.bind(writer)

  async function* pages<T extends { raw: Uint8Array }>(search: string, full: boolean, opts: SearchOptions): AsyncGenerator<T> {
    type ExportPage = { items: T[]; last: number; done: boolean }
    const fetchPage = (after: number): Promise<ExportPage> =>
      pool.run<ExportPage>({ op: 'exportPage', search, afterSeq: after, full, ...opts }, budget.exportPage)
    // The next page is read in a reader thread while this one is written out (at most two pages,
    // 16 MiB each, in memory).
    let next = fetchPage(0)
    try {
      for (;;) {
        const page = await next
        if (page.done) return
        next = fetchPage(page.last)
        // Buffers arrive as plain Uint8Arrays after crossing a thread; the routes expect Buffers.
        for (const item of page.items) yield { ...item, raw: asBuffer(item.raw) }
      }
    } finally {
      // A client that went away leaves a page read ahead: its answer (or error) is dropped.
      next.catch(() => {})
    }
  }
  return {
    path: opts.path,
    get: async (id) => reader.get(id),
    getRaw: async (id) => reader.getRaw(id),
    async latestId(search, opts = {}) {
      const s = (search ?? '').trim()
      if (!s) return reader.latestId()
      return (await pool.run<string | null>({ op: 'latestId', search: s, ...opts }, budget.search)) ?? undefined
    },
    async list(query) {
      const s = (query.search ?? '').trim()
      if (!s && (query.start ?? 0) <= LOCAL_LIST_MAX_START) return reader.list(query)
      return pool.run<Page>({ op: 'list', query }, budget.search)
    },
    async neighbours(id, search, opts = {}) {
      const s = (search ?? '').trim()
      if (!s) return reader.neighbours(id)
      return pool.run({ op: 'neighbours', id, search: s, ...opts }, budget.search)
    },
    counts: async () => reader.counts(),
    rawBytes: async () => reader.rawBytes(),
    listTags: async () => reader.listTags(),
    tagCounts: async () => reader.tagCounts(),
    stats: () => pool.run<StoreStats>({ op: 'stats', now: Date.now() }, budget.report),
    backscatter: (search, limit = 50, opts = {}) => pool.run<Backscatter>({ op: 'backscatter', search, limit, ...opts }, budget.report),
    dbSizeBytes: async () => reader.dbSizeBytes(),
    iterate: (search, opts = {}) => pages<{ message: StoredMessage; raw: Buffer }>(search, true, opts),
    iterateRaw: (search, opts = {}) => pages<RawMessage>(search, false, opts),
    ...userWrites(write),
    async health() {
      try {
        return storeHealth(await write({ op: 'health' }))
      } catch (err) {
        return { writable: false, problem: `the writer does not answer: ${(err as Error).message}` }
      }
    },
    async insert(raw, envelope) {
      const id = newMessageId()
      const { seq, sha256 } = await writer.insert({ id, raw, env: envelope })
      return { id, seq, size: raw.length, sha256, read: false, tags: [...envelope.tags], envelope, indexed: false, summary: null }
    },
  }
}

/**
 * Parses for display in the reader pool, once per message: concurrent requests for the same
 * message share one parse, and results stay cached (least recently used first out) within
 * PARSE_CACHE_BYTES, so part downloads and repeated views never parse or hash the message again.
 */
export function createMessageParser(pool: ReadPool, budgets?: Partial<typeof READ_BUDGET_MS>): MessageParser {
  const budget = { ...READ_BUDGET_MS, ...budgets }
  const cache = new Map<string, { parsed: Promise<ParsedMessage>; bytes: number }>()
  let cached = 0
  const evict = (): void => {
    for (const [id, entry] of cache) {
      if (cached <= PARSE_CACHE_BYTES) return
      cache.delete(id)
      cached -= entry.bytes
    }
  }
  type Wire = Omit<ParsedMessage, 'parts'> & { parts: { partId: string; contentType: string; filename: string | null; content: Uint8Array }[] }
  return {
    detail(id) {
      const hit = cache.get(id)
      if (hit) {
        cache.delete(id) // re-insert: most recently used last
        cache.set(id, hit)
        return hit.parsed
      }
      const entry = { bytes: 0, parsed: null as unknown as Promise<ParsedMessage> }
      entry.parsed = pool.run<Wire>({ op: 'detail', id }, budget.parse).then(
        (w) => {
          const parts = new Map<string, DetailPart>()
          let bytes = w.text.length * 2 + w.html.length * 2
          for (const p of w.parts) {
            const content = Buffer.from(p.content.buffer, p.content.byteOffset, p.content.byteLength)
            parts.set(p.partId, { partId: p.partId, contentType: p.contentType, filename: p.filename, content })
            bytes += content.length
          }
          if (cache.get(id) === entry) {
            entry.bytes = bytes
            cached += bytes
            evict()
          }
          return { ...w, parts }
        },
        (err: unknown) => {
          if (cache.get(id) === entry) cache.delete(id) // a failed or abandoned parse is not cached
          throw err
        },
      )
      cache.set(id, entry)
      return entry.parsed
    },
    summarize: (id) => pool.run<MessageSummary>({ op: 'summarize', id }, budget.parse),
  }
}
