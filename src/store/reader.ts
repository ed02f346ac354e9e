import type Database from 'better-sqlite3'
import { statSync } from 'node:fs'
import { AppError } from '../errors.js'
import { decodeRaw } from './raw-codec.js'
import { ROW_COLUMNS, toStored, type MessageRow } from './rows.js'
import { compileSearch, type FtsDriver, type SearchOptions } from './search-query.js'
import type { ListQuery, Page, StoredMessage } from './types.js'

// Reads of messages on one read-only connection: one message, its raw bytes, pages of the list
// and of a search, neighbours, counts, tags, and export iteration. Never writes. Runs in the
// HTTP thread (point reads) and in the reader pool (anything a search can make slow).

const DEFAULT_PAGE_SIZE = 50
const MAX_PAGE_SIZE = 1000
// Rows per page when streaming an export: big enough that per-query costs vanish, small enough to keep memory flat.
const EXPORT_PAGE_ROWS = 1000
const EXPORT_PAGE_BYTES = 32 * 1024 * 1024
// Full-text hits a list reads at least, newest seq first (see listByIndex).
const LIST_SCAN_ROWS = 200

export interface RawMessage {
  seq: number
  id: string
  mailFrom: string
  receivedAt: number
  raw: Buffer
}

export interface Reader {
  get(id: string): StoredMessage | undefined
  getRaw(id: string): Buffer | undefined
  latestId(search?: string, opts?: SearchOptions): string | undefined
  list(query: ListQuery): Page
  /** Neighbours in list order (newest first): previous = newer, next = older. */
  neighbours(id: string, search?: string, opts?: SearchOptions): { previous: string | null; next: string | null }
  counts(): { total: number; unread: number }
  /** Raw bytes of every message as received, and as stored (compressed where --compression applied). */
  rawBytes(): { original: number; stored: number }
  listTags(): string[]
  tagCounts(): Record<string, number>
  /** Matching messages (oldest first) in pages of bounded bytes, for exports; reads one page at a time. */
  iterate(search: string, afterSeq?: number, opts?: SearchOptions): Generator<{ message: StoredMessage; raw: Buffer }>
  /** Like iterate, with only what an mbox needs: reading the whole row costs more than the raw bytes. */
  iterateRaw(search: string, afterSeq?: number, opts?: SearchOptions): Generator<RawMessage>
  dbSizeBytes(): number
}

export function createReader(db: Database.Database, path: string): Reader {
  const stmt = {
    byId: db.prepare<[string], MessageRow>(`SELECT ${ROW_COLUMNS} FROM messages m WHERE m.id = ?`),
    raw: db.prepare<[string], { raw: Buffer; codec: string | null }>('SELECT r.raw, r.codec FROM message_raw r JOIN messages m ON m.seq = r.seq WHERE m.id = ?'),
    rawBytes: db.prepare<[], { original: number; stored: number }>('SELECT raw_original AS original, raw_stored AS stored FROM message_counts WHERE id = 1'),
    // kept by the writer on insert, by triggers on delete and read (migrations 002, 003)
    counts: db.prepare<[], { total: number; unread: number }>('SELECT total, unread FROM message_counts WHERE id = 1'),
    firstSeqSince: db.prepare<[number], number>('SELECT min(seq + 0) FROM messages WHERE received_at >= ?').pluck(),
    tagsAll: db.prepare<[], string>('SELECT name FROM tags WHERE tag_id IN (SELECT tag_id FROM message_tags) ORDER BY name COLLATE NOCASE').pluck(),
    tagCounts: db.prepare<[], { name: string; n: number }>(
      'SELECT t.name, count(*) AS n FROM message_tags mt JOIN tags t ON t.tag_id = mt.tag_id GROUP BY t.tag_id',
    ),
  }
  const counts = (): { total: number; unread: number } => stmt.counts.get() ?? { total: 0, unread: 0 }

  /**
   * A search with a full-text term, newest first, without materialising and sorting every match.
   * The index yields matches newest-seq first; seq follows receive order closely but not exactly
   * (received_at comes from the envelope), so the page is made exact in two steps:
   * 1. the `scan` (>= want) matches with the highest seq. Every one of them has received_at >= `since`,
   *    their oldest, so the true first `want` in list order all do too;
   * 2. every message with received_at >= since has seq >= `firstSeq`. When that is below the lowest
   *    seq of step 1 (a message stored out of receive order), the matches in [firstSeq, ...) are read.
   * The page is then the first `want` of those by (received_at DESC, seq DESC), as in the plain query.
   */
  function listByIndex(d: FtsDriver, start: number, limit: number): { rows: MessageRow[]; total: number; unread: number } {
    const want = start + limit
    // Reading a few hundred more hits than the page needs costs little, and for a search with fewer
    // matches than that it yields all of them: no bound to check and no count query.
    const scan = Math.max(want, LIST_SCAN_ROWS)
    const from = `${d.table} f CROSS JOIN messages m ON m.seq = f.rowid WHERE f.${d.table} MATCH ? AND ${d.where}`
    type Hit = [seq: number, receivedAt: number, read: number]
    let hits = db
      .prepare(`SELECT m.seq, m.received_at, m.read FROM ${from} ORDER BY f.rowid DESC LIMIT ?`)
      .raw()
      .all(d.match, ...d.params, scan) as Hit[]
    let total: number
    let unread: number
    if (hits.length < scan) {
      total = hits.length // that was every match
      unread = hits.reduce((n, h) => n + (h[2] === 0 ? 1 : 0), 0)
    } else {
      let since = Infinity
      for (const h of hits) since = Math.min(since, h[1])
      const firstSeq = stmt.firstSeqSince.get(since) as number
      if (firstSeq < hits[hits.length - 1]![0]) {
        hits = db
          .prepare(`SELECT m.seq, m.received_at, m.read FROM ${from} AND f.rowid >= ? AND m.received_at >= ?`)
          .raw()
          .all(d.match, ...d.params, firstSeq, since) as Hit[]
      }
      // When the index lookup is the whole search, count from the index and the unread index alone,
      // without reading a message row. When nothing in the store is read (a spamtrap nobody reads
      // message by message) or everything is, the unread matches follow from the total: the
      // lookup of each match in the unread index, most of the count's time, is skipped.
      const store = counts()
      const allUnread = store.unread === store.total
      if (d.where === '1' && (allUnread || store.unread === 0)) {
        total = db.prepare(`SELECT count(*) FROM ${d.table} f WHERE f.${d.table} MATCH ?`).pluck().get(d.match) as number
        unread = allUnread ? total : 0
      } else {
        const c = (
          d.where === '1'
            ? db
                .prepare(`SELECT count(*) AS total, count(u.seq) AS unread FROM ${d.table} f
                  LEFT JOIN messages u INDEXED BY messages_unread ON u.seq = f.rowid AND u.read = 0 WHERE f.${d.table} MATCH ?`)
                .get(d.match)
            : db.prepare(`SELECT count(*) AS total, coalesce(sum(m.read = 0), 0) AS unread FROM ${from}`).get(d.match, ...d.params)
        ) as { total: number; unread: number }
        total = c.total
        unread = c.unread
      }
    }
    hits.sort((a, b) => b[1] - a[1] || b[0] - a[0])
    const seqs = hits.slice(start, want).map((h) => h[0])
    const bySeq = new Map(
      (db.prepare(`SELECT ${ROW_COLUMNS} FROM messages m WHERE m.seq IN (SELECT value FROM json_each(?))`).all(JSON.stringify(seqs)) as MessageRow[]).map(
        (r) => [r.seq, r],
      ),
    )
    return { rows: seqs.map((s) => bySeq.get(s)!), total, unread }
  }

  /**
   * Matching rows in seq order, EXPORT_PAGE_ROWS per query, with `columns` over `messages m` and
   * `message_raw r`. A full-text search walks its index; any other search starts at its first
   * match, found through the index its condition can use, rather than at seq 0.
   */
  function* pages<Row extends { seq: number }>(search: string, columns: string, afterSeq: number, opts: SearchOptions): Generator<Row> {
    const f = compileSearch(search, opts)
    const d = f.driver
    const query = (cols: string, withRaw: boolean): string => {
      const raw = withRaw ? 'JOIN message_raw r ON r.seq = m.seq' : ''
      return d
        ? `SELECT ${cols} FROM ${d.table} f CROSS JOIN messages m ON m.seq = f.rowid ${raw}
          WHERE f.${d.table} MATCH ? AND f.rowid > ? AND f.rowid <= ? AND ${d.where} ORDER BY f.rowid LIMIT ${EXPORT_PAGE_ROWS}`
        : `SELECT ${cols} FROM messages m ${raw}
          WHERE m.seq > ? AND m.seq <= ? AND ${f.where} ORDER BY m.seq LIMIT ${EXPORT_PAGE_ROWS}`
    }
    // Two passes per page: sizes first, then the raw bytes of as many rows as fit in
    // EXPORT_PAGE_BYTES, so a page of 50 MiB samples cannot take gigabytes of memory.
    const sizes = db.prepare(query('m.seq, m.size', false))
    const page = db.prepare(query(columns, true))
    const params = (after: number, upTo: number): (string | number)[] =>
      d ? [d.match, after, upTo, ...d.params] : [after, upTo, ...f.params]
    let after = Math.max(afterSeq, d ? 0 : firstSeqOf(f.where, f.params) - 1)
    for (;;) {
      const next = sizes.all(...params(after, Number.MAX_SAFE_INTEGER)) as { seq: number; size: number }[]
      if (next.length === 0) return
      let take = 1
      for (let bytes = next[0]!.size; take < next.length && bytes + next[take]!.size <= EXPORT_PAGE_BYTES; take++) bytes += next[take]!.size
      const rows = page.all(...params(after, next[take - 1]!.seq)) as Row[]
      yield* rows
      after = next[take - 1]!.seq
    }
  }

  /** The lowest seq matching a condition, when an index can find it; else 1 (a scan from the start finds it as fast). */
  function firstSeqOf(where: string, params: (string | number)[]): number {
    if (where === '1') return 1
    const sql = `SELECT min(m.seq + 0) FROM messages m WHERE ${where}` // + 0: let the condition pick the index
    const plan = db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]
    if (plan.some((p) => /^SCAN m\b(?! USING COVERING)/.test(p.detail))) return 1
    return (db.prepare(sql).pluck().get(...params) as number | null) ?? Number.MAX_SAFE_INTEGER
  }

  const reader: Reader = {
    get(id) {
      const row = stmt.byId.get(id)
      return row ? toStored(row) : undefined
    },

    getRaw(id) {
      const row = stmt.raw.get(id)
      return row && decodeRaw(row.raw, row.codec)
    },

    latestId(search, opts = {}) {
      const f = compileSearch(search ?? '', opts)
      return db
        .prepare<unknown[], string>(`SELECT m.id FROM messages m WHERE ${f.where} ORDER BY m.received_at DESC, m.seq DESC LIMIT 1`)
        .pluck()
        .get(...f.params)
    },

    list(query) {
      const start = Math.max(0, Math.floor(query.start ?? 0))
      const limit = Math.min(MAX_PAGE_SIZE, Math.max(1, Math.floor(query.limit ?? DEFAULT_PAGE_SIZE)))
      const search = (query.search ?? '').trim()
      const f = compileSearch(search, query.tz ? { tz: query.tz } : {})
      const totals = counts()
      if (f.driver) {
        const found = listByIndex(f.driver, start, limit)
        return { total: totals.total, unread: totals.unread, messagesCount: found.total, messagesUnread: found.unread, start, messages: found.rows.map(toStored) }
      }
      const rows = db
        .prepare<unknown[], MessageRow>(`SELECT ${ROW_COLUMNS} FROM messages m WHERE ${f.where} ORDER BY m.received_at DESC, m.seq DESC LIMIT ? OFFSET ?`)
        .all(...f.params, limit, start)
      let matching = totals
      if (search) {
        matching = db
          .prepare<unknown[], { total: number; unread: number }>(`SELECT count(*) AS total, coalesce(sum(m.read = 0), 0) AS unread FROM messages m WHERE ${f.where}`)
          .get(...f.params)!
      }
      return { total: totals.total, unread: totals.unread, messagesCount: matching.total, messagesUnread: matching.unread, start, messages: rows.map(toStored) }
    },

    neighbours(id, search, opts = {}) {
      const row = db.prepare<[string], { seq: number; received_at: number }>('SELECT seq, received_at FROM messages WHERE id = ?').get(id)
      if (!row) throw new AppError('NOT_FOUND', `message ${id} not found`)
      const f = compileSearch(search ?? '', opts)
      const newer = db
        .prepare<unknown[], string>(`SELECT m.id FROM messages m WHERE ${f.where} AND (m.received_at > ? OR (m.received_at = ? AND m.seq > ?))
          ORDER BY m.received_at ASC, m.seq ASC LIMIT 1`)
        .pluck()
        .get(...f.params, row.received_at, row.received_at, row.seq)
      const older = db
        .prepare<unknown[], string>(`SELECT m.id FROM messages m WHERE ${f.where} AND (m.received_at < ? OR (m.received_at = ? AND m.seq < ?))
          ORDER BY m.received_at DESC, m.seq DESC LIMIT 1`)
        .pluck()
        .get(...f.params, row.received_at, row.received_at, row.seq)
      return { previous: newer ?? null, next: older ?? null }
    },

    counts,

    rawBytes() {
      return stmt.rawBytes.get() ?? { original: 0, stored: 0 }
    },

    listTags() {
      return stmt.tagsAll.all()
    },

    tagCounts() {
      const out: Record<string, number> = {}
      for (const r of stmt.tagCounts.all()) out[r.name] = r.n
      return out
    },

    *iterate(search, afterSeq = 0, opts = {}) {
      for (const r of pages<MessageRow & { raw: Buffer; raw_codec: string | null }>(search, `${ROW_COLUMNS}, r.raw, r.codec AS raw_codec`, afterSeq, opts)) {
        yield { message: toStored(r), raw: decodeRaw(r.raw, r.raw_codec) }
      }
    },

    *iterateRaw(search, afterSeq = 0, opts = {}) {
      const rows = pages<RawMessage & { codec: string | null }>(search, 'm.seq, m.id, m.mail_from AS mailFrom, m.received_at AS receivedAt, r.raw, r.codec', afterSeq, opts)
      for (const { codec, ...r } of rows) yield { ...r, raw: decodeRaw(r.raw, codec) }
    },

    dbSizeBytes() {
      if (path === ':memory:') {
        return (db.pragma('page_count', { simple: true }) as number) * (db.pragma('page_size', { simple: true }) as number)
      }
      let size = 0
      for (const suffix of ['', '-wal']) {
        try {
          size += statSync(path + suffix).size
        } catch {
          // no WAL file yet
        }
      }
      return size
    },
  }
  return reader
}
