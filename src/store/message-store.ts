import { randomBytes } from 'node:crypto'
import { statSync } from 'node:fs'
import { AppError } from '../errors.js'
import { openDatabase } from './database.js'
import { createInProcessWriter, createThreadWriter, type Writer } from './writer.js'
import { compileSearch, type FtsDriver } from './search-query.js'
import type { Envelope, ListQuery, MessageSummary, Page, Selection, StoredMessage } from './types.js'

const DEFAULT_PAGE_SIZE = 50
const MAX_PAGE_SIZE = 1000
// In ASCII order, so that IDs sort like their time prefix.
const ID_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
// 20 characters: 7 of receive time in ms (62^7 ms lasts until 2081), then 13 random (62^13 ≈ 2^77
// per millisecond: collisions are not a practical concern). New IDs land at the end of the
// messages.id index instead of on a random page of it: the writer measured 35-40 % less time per
// commit than with fully random IDs.
const ID_LENGTH = 20
const ID_TIME_CHARS = 7
// Rows deleted per transaction when emptying or pruning, so a big delete never holds the write lock for long.
const DELETE_BATCH = 5000
const MAX_INDEX_BATCH_BYTES = 32 * 1024 * 1024

// Random bytes are drawn 4 KiB at a time: one getrandom() per ~200 IDs instead of one per ID (it
// was 15 µs of every message's accept path).
const ID_POOL_BYTES = 4096
let idPool = Buffer.alloc(0)
let idPoolAt = 0

export function newMessageId(now = Date.now()): string {
  let out = ''
  for (let t = Math.max(0, Math.floor(now)), i = 0; i < ID_TIME_CHARS; i++, t = Math.floor(t / 62)) out = ID_ALPHABET[t % 62] + out
  while (out.length < ID_LENGTH) {
    if (idPoolAt >= idPool.length) {
      idPool = randomBytes(ID_POOL_BYTES)
      idPoolAt = 0
    }
    const b = idPool[idPoolAt++]!
    if (b < 248) out += ID_ALPHABET[b % 62] // 248 = 4*62: no modulo bias
  }
  return out
}

export interface Counted {
  Key: string
  Count: number
}

export interface StoreStats {
  PerHour: { Hour: string; Count: number }[] // last 48 hours
  PerDay: { Day: string; Count: number }[] // last 30 days
  TopSenderDomains: Counted[]
  TopClientIPs: Counted[]
  TopNets24: Counted[]
  Auth: { SPF: Record<string, number>; DKIM: Record<string, number>; DMARC: Record<string, number> }
  Kinds: Record<string, number>
}

export interface BackscatterGroup {
  Key: string
  Host: string
  Count: number
  FirstSeen: string
  LastSeen: string
  Subjects: string[]
}

export interface Backscatter {
  Bounces: number
  ByOrigin: BackscatterGroup[]
  BySender: BackscatterGroup[]
}

const TOP_N = 20

export interface MessageStore {
  /**
   * Resolves once raw bytes and envelope are committed (group commit: one transaction per event-loop
   * turn). With `handOver`, the caller gives up `raw`: its memory may move to the writer thread
   * instead of being copied, leaving `raw` empty.
   */
  insert(raw: Buffer, envelope: Envelope, opts?: { handOver?: boolean }): Promise<StoredMessage>
  get(id: string): StoredMessage | undefined
  getRaw(id: string): Buffer | undefined
  latestId(search?: string): string | undefined
  list(query: ListQuery): Page
  /** Neighbours in list order (newest first): previous = newer, next = older. */
  neighbours(id: string, search?: string): { previous: string | null; next: string | null }
  setRead(selection: Selection, read: boolean): number
  delete(selection: Selection): number
  listTags(): string[]
  setTags(ids: string[], tags: string[]): void
  addTags(ids: string[], tags: string[]): void
  renameTag(from: string, to: string): void
  deleteTag(tag: string): void
  tagCounts(): Record<string, number>
  counts(): { total: number; unread: number }
  /** Messages still waiting for the indexer, oldest first. */
  unindexed(limit: number): { seq: number; id: string; raw: Buffer; envelope: Envelope }[]
  /** How many messages wait for the indexer, counted up to `cap`, and the newest of those counted. */
  unindexedBacklog(cap: number): { count: number; lastSeq: number }
  /** True when no message up to `seq` waits for the indexer. */
  indexedThrough(seq: number): boolean
  /** Resolves once committed; for ':memory:' the write has happened before it returns. */
  saveSummaries(items: { seq: number; summary: MessageSummary }[]): Promise<void>
  /** SPF/DKIM/DMARC/ARC results of messages whose summary is already saved. */
  saveAuth(items: { seq: number; auth: unknown }[]): Promise<void>
  /**
   * Sends back to the indexer the messages among the newest `window` whose summary was saved but
   * whose authentication results were not (the process stopped in between). Returns how many.
   */
  requeueMissingAuth(window: number): number
  /** Streams matching messages (oldest first) in batches, for exports; reads one batch at a time. */
  iterate(search: string): Generator<{ message: StoredMessage; raw: Buffer }>
  /** Like iterate, with only what an mbox needs: reading the whole row costs more than the raw bytes. */
  iterateRaw(search: string): Generator<RawMessage>
  prune(opts: { maxMessages: number; maxAgeMs: number; now?: number }): number
  stats(now?: number): StoreStats
  /** Bounces grouped by the server that really sent the bounced mail, and by the forged sender. */
  backscatter(search: string, limit?: number): Backscatter
  dbSizeBytes(): number
  readonly path: string
  close(): Promise<void>
}

export interface RawMessage {
  seq: number
  id: string
  mailFrom: string
  receivedAt: number
  raw: Buffer
}

interface MessageRow {
  seq: number
  id: string
  received_at: number
  listener: string
  client_ip: string
  client_port: number
  ip_source: Envelope['ipSource']
  relay_ip: string | null
  relay_port: number | null
  helo: string
  client_hostname: string | null
  tls_protocol: string | null
  tls_cipher: string | null
  auth_user: string | null
  mail_from: string
  mail_from_params: string
  rcpt_count: number
  size: number
  sha256: string
  connection_id: string
  transaction_no: number
  pregreet: number
  read: number
  indexed_at: number | null
  parse_error: string | null
  subject: string | null
  from_name: string | null
  from_addr: string | null
  addresses_json: string | null
  date_header: number | null
  message_id: string | null
  return_path: string | null
  snippet: string | null
  attachments: number | null
  kind: string | null
  auth_json: string | null
  analysis_json: string | null
  tags: string | null // group_concat of tag names, \x1f separated
  rcpts: string | null // JSON array of [address, params]
}

const ROW_COLUMNS = `m.*,
  (SELECT group_concat(t.name, char(31)) FROM message_tags mt JOIN tags t ON t.tag_id = mt.tag_id WHERE mt.seq = m.seq) AS tags,
  (SELECT json_group_array(json_array(rc.address, json(rc.params)) ORDER BY rc.pos) FROM recipients rc WHERE rc.seq = m.seq) AS rcpts`
// Rows per page when streaming an export: big enough that per-query costs vanish, small enough to keep memory flat.
const EXPORT_PAGE_ROWS = 1000
const EXPORT_PAGE_BYTES = 32 * 1024 * 1024
// Full-text hits a list reads at least, newest seq first (see listByIndex).
const LIST_SCAN_ROWS = 200

/**
 * The store on one connection. Other threads that open the same file (the indexer) pass
 * `migrate: false` (the main thread migrated it) and a smaller cache.
 */
export function createMessageStore(path: string, opts: { cacheKiB?: number; migrate?: boolean } = {}): MessageStore {
  const db = openDatabase(path, { migrate: opts.migrate ?? true, ...(opts.cacheKiB !== undefined ? { cacheKiB: opts.cacheKiB } : {}) })
  // New messages and summaries go to a writer thread, so no fsync ever blocks an SMTP session; an
  // in-memory database is private to its connection, so ':memory:' writes in-process.
  const writer: Writer =
    path !== ':memory:' ? createThreadWriter(path) : createInProcessWriter(db)

  const stmt = {
    bySeq: db.prepare(`SELECT ${ROW_COLUMNS} FROM messages m WHERE m.seq = ?`),
    byId: db.prepare(`SELECT ${ROW_COLUMNS} FROM messages m WHERE m.id = ?`),
    seqById: db.prepare('SELECT seq FROM messages WHERE id = ?').pluck(),
    rcpts: db.prepare('SELECT address, params FROM recipients WHERE seq = ? ORDER BY pos'),
    raw: db.prepare('SELECT r.raw FROM message_raw r JOIN messages m ON m.seq = r.seq WHERE m.id = ?').pluck(),
    counts: db.prepare('SELECT total, unread FROM message_counts WHERE id = 1'), // kept by the writer on insert, by triggers on delete and read (migrations 002, 003)
    firstSeqSince: db.prepare('SELECT min(seq + 0) FROM messages WHERE received_at >= ?').pluck(),
    unindexedSizes: db.prepare('SELECT seq, size FROM messages WHERE indexed_at IS NULL ORDER BY seq LIMIT ?'),
    unindexedBacklog: db.prepare(
      'SELECT count(*) AS count, coalesce(max(seq), 0) AS lastSeq FROM (SELECT seq FROM messages WHERE indexed_at IS NULL ORDER BY seq LIMIT ?)',
    ),
    unindexedThrough: db.prepare('SELECT 1 FROM messages WHERE indexed_at IS NULL AND seq <= ? LIMIT 1').pluck(),
    unindexedRows: db.prepare(`SELECT ${ROW_COLUMNS}, r.raw FROM messages m JOIN message_raw r ON r.seq = m.seq
      WHERE m.indexed_at IS NULL AND m.seq <= ? ORDER BY m.seq LIMIT ?`),
    ftsDelete: db.prepare('DELETE FROM messages_fts WHERE rowid = ?'),
    tagId: db.prepare('SELECT tag_id FROM tags WHERE name = ?').pluck(),
    tagInsert: db.prepare('INSERT INTO tags (name) VALUES (?) ON CONFLICT (name) DO NOTHING'),
    tagLink: db.prepare('INSERT OR IGNORE INTO message_tags (seq, tag_id) VALUES (?, ?)'),
    tagUnlinkAll: db.prepare('DELETE FROM message_tags WHERE seq = ?'),
    tagsAll: db.prepare('SELECT name FROM tags WHERE tag_id IN (SELECT tag_id FROM message_tags) ORDER BY name COLLATE NOCASE').pluck(),
    tagCounts: db.prepare(`SELECT t.name, count(*) AS n FROM message_tags mt JOIN tags t ON t.tag_id = mt.tag_id GROUP BY t.tag_id`),
    tagsGc: db.prepare('DELETE FROM tags WHERE tag_id NOT IN (SELECT tag_id FROM message_tags)'),
  }

  function tagIdFor(name: string): number {
    stmt.tagInsert.run(name)
    return stmt.tagId.get(name) as number
  }

  let closed = false

  function toStored(row: MessageRow): StoredMessage {
    const rcpts: { address: string; params: Record<string, string> }[] =
      row.rcpts !== undefined && row.rcpts !== null
        ? (JSON.parse(row.rcpts) as [string, Record<string, string>][]).map(([address, params]) => ({ address, params }))
        : (stmt.rcpts.all(row.seq) as { address: string; params: string }[]).map((r) => ({ address: r.address, params: JSON.parse(r.params) }))
    const envelope: Envelope = {
      receivedAt: row.received_at,
      listener: row.listener,
      clientIp: row.client_ip,
      clientPort: row.client_port,
      ipSource: row.ip_source,
      relayIp: row.relay_ip,
      relayPort: row.relay_port,
      helo: row.helo,
      clientHostname: row.client_hostname,
      tls: row.tls_protocol ? { protocol: row.tls_protocol, cipher: row.tls_cipher ?? '' } : null,
      authUser: row.auth_user,
      mailFrom: row.mail_from,
      mailFromParams: JSON.parse(row.mail_from_params) as Record<string, string>,
      rcptTo: rcpts,
      connectionId: row.connection_id,
      transaction: row.transaction_no,
      pregreet: row.pregreet === 1,
      tags: [],
    }
    const addresses = row.addresses_json ? (JSON.parse(row.addresses_json) as Record<string, MessageSummary['to']>) : {}
    return {
      id: row.id,
      seq: row.seq,
      size: row.size,
      sha256: row.sha256,
      read: row.read === 1,
      tags: row.tags ? row.tags.split('\x1f').sort((a, b) => a.localeCompare(b)) : [],
      envelope,
      indexed: row.indexed_at !== null,
      summary:
        row.indexed_at === null
          ? null
          : {
              parseError: row.parse_error,
              subject: row.subject ?? '',
              from: row.from_addr !== null || row.from_name !== null ? { Name: row.from_name ?? '', Address: row.from_addr ?? '' } : null,
              to: addresses.To ?? [],
              cc: addresses.Cc ?? [],
              bcc: addresses.Bcc ?? [],
              replyTo: addresses.ReplyTo ?? [],
              date: row.date_header,
              messageId: row.message_id ?? '',
              returnPath: row.return_path ?? '',
              snippet: row.snippet ?? '',
              attachments: row.attachments ?? 0,
              kind: row.kind ?? 'message',
              auth: row.auth_json ? JSON.parse(row.auth_json) : null,
              analysis: row.analysis_json ? JSON.parse(row.analysis_json) : null,
            },
    }
  }

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
      // without reading a message row.
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
  function* pages<Row extends { seq: number }>(search: string, columns: string): Generator<Row> {
    const f = compileSearch(search)
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
    let after = d ? 0 : firstSeqOf(f.where, f.params) - 1
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

  function selectionWhere(sel: Selection): { where: string; params: (string | number)[] } {
    if ('all' in sel) return { where: '1', params: [] }
    if ('search' in sel) return compileSearch(sel.search)
    if (sel.ids.length === 0) return { where: '0', params: [] }
    return { where: `m.id IN (SELECT value FROM json_each(?))`, params: [JSON.stringify(sel.ids)] }
  }

  function seqsFor(ids: string[]): number[] {
    return ids.map((id) => stmt.seqById.get(id) as number | undefined).filter((s): s is number => s !== undefined)
  }

  const store: MessageStore = {
    path,

    async insert(raw, envelope, opts) {
      if (closed) throw new AppError('STORE_FAILED', 'store is closed')
      const id = newMessageId()
      const size = raw.length // the writer may take the buffer over (transfer to its thread)
      const { seq, sha256 } = await writer.insert({ id, raw, env: envelope }, opts?.handOver === true)
      return {
        id,
        seq,
        size,
        sha256,
        read: false,
        tags: [...envelope.tags],
        envelope,
        indexed: false,
        summary: null,
      }
    },

    get(id) {
      const row = stmt.byId.get(id) as MessageRow | undefined
      return row ? toStored(row) : undefined
    },

    getRaw(id) {
      return stmt.raw.get(id) as Buffer | undefined
    },

    latestId(search) {
      const f = compileSearch(search ?? '')
      return db
        .prepare(`SELECT m.id FROM messages m WHERE ${f.where} ORDER BY m.received_at DESC, m.seq DESC LIMIT 1`)
        .pluck()
        .get(...f.params) as string | undefined
    },

    list(query) {
      const start = Math.max(0, Math.floor(query.start ?? 0))
      const limit = Math.min(MAX_PAGE_SIZE, Math.max(1, Math.floor(query.limit ?? DEFAULT_PAGE_SIZE)))
      const search = (query.search ?? '').trim()
      const f = compileSearch(search)
      const totals = stmt.counts.get() as { total: number; unread: number }
      if (f.driver) {
        const found = listByIndex(f.driver, start, limit)
        return { total: totals.total, unread: totals.unread, messagesCount: found.total, messagesUnread: found.unread, start, messages: found.rows.map(toStored) }
      }
      const rows = db
        .prepare(`SELECT ${ROW_COLUMNS} FROM messages m WHERE ${f.where} ORDER BY m.received_at DESC, m.seq DESC LIMIT ? OFFSET ?`)
        .all(...f.params, limit, start) as MessageRow[]
      let matching = totals
      if (search) {
        matching = db
          .prepare(`SELECT count(*) AS total, coalesce(sum(m.read = 0), 0) AS unread FROM messages m WHERE ${f.where}`)
          .get(...f.params) as { total: number; unread: number }
      }
      return {
        total: totals.total,
        unread: totals.unread,
        messagesCount: matching.total,
        messagesUnread: matching.unread,
        start,
        messages: rows.map(toStored),
      }
    },

    neighbours(id, search) {
      const row = db.prepare('SELECT seq, received_at FROM messages WHERE id = ?').get(id) as
        | { seq: number; received_at: number }
        | undefined
      if (!row) throw new AppError('NOT_FOUND', `message ${id} not found`)
      const f = compileSearch(search ?? '')
      const newer = db
        .prepare(`SELECT m.id FROM messages m WHERE ${f.where} AND (m.received_at > ? OR (m.received_at = ? AND m.seq > ?))
          ORDER BY m.received_at ASC, m.seq ASC LIMIT 1`)
        .pluck()
        .get(...f.params, row.received_at, row.received_at, row.seq) as string | undefined
      const older = db
        .prepare(`SELECT m.id FROM messages m WHERE ${f.where} AND (m.received_at < ? OR (m.received_at = ? AND m.seq < ?))
          ORDER BY m.received_at DESC, m.seq DESC LIMIT 1`)
        .pluck()
        .get(...f.params, row.received_at, row.received_at, row.seq) as string | undefined
      return { previous: newer ?? null, next: older ?? null }
    },

    setRead(selection, read) {
      const f = selectionWhere(selection)
      return db.prepare(`UPDATE messages AS m SET read = ? WHERE ${f.where} AND m.read <> ?`).run(read ? 1 : 0, ...f.params, read ? 1 : 0)
        .changes
    },

    delete(selection) {
      const f = selectionWhere(selection)
      const pick = db.prepare(`SELECT m.seq FROM messages m WHERE ${f.where} LIMIT ${DELETE_BATCH}`).pluck()
      const del = db.prepare('DELETE FROM messages WHERE seq = ?')
      const batch = db.transaction((seqs: number[]) => {
        for (const seq of seqs) {
          stmt.ftsDelete.run(seq)
          del.run(seq)
        }
        stmt.tagsGc.run()
      })
      let removed = 0
      for (;;) {
        const seqs = pick.all(...f.params) as number[]
        if (seqs.length === 0) break
        batch(seqs)
        removed += seqs.length
      }
      return removed
    },

    listTags() {
      return stmt.tagsAll.all() as string[]
    },

    setTags(ids, tags) {
      db.transaction(() => {
        const tagIds = tags.map(tagIdFor)
        for (const seq of seqsFor(ids)) {
          stmt.tagUnlinkAll.run(seq)
          for (const t of tagIds) stmt.tagLink.run(seq, t)
        }
        stmt.tagsGc.run()
      })()
    },

    addTags(ids, tags) {
      db.transaction(() => {
        const tagIds = tags.map(tagIdFor)
        for (const seq of seqsFor(ids)) for (const t of tagIds) stmt.tagLink.run(seq, t)
      })()
    },

    renameTag(from, to) {
      db.transaction(() => {
        const fromId = stmt.tagId.get(from) as number | undefined
        if (fromId === undefined) throw new AppError('NOT_FOUND', `tag "${from}" not found`)
        const toId = stmt.tagId.get(to) as number | undefined
        if (toId !== undefined && toId !== fromId) {
          db.prepare('INSERT OR IGNORE INTO message_tags (seq, tag_id) SELECT seq, ? FROM message_tags WHERE tag_id = ?').run(toId, fromId)
          db.prepare('DELETE FROM tags WHERE tag_id = ?').run(fromId)
        } else {
          db.prepare('UPDATE tags SET name = ? WHERE tag_id = ?').run(to, fromId)
        }
      })()
    },

    deleteTag(tag) {
      const changes = db.prepare('DELETE FROM tags WHERE name = ?').run(tag).changes
      if (changes === 0) throw new AppError('NOT_FOUND', `tag "${tag}" not found`)
    },

    tagCounts() {
      const out: Record<string, number> = {}
      for (const r of stmt.tagCounts.all() as { name: string; n: number }[]) out[r.name] = r.n
      return out
    },

    counts() {
      return stmt.counts.get() as { total: number; unread: number }
    },

    unindexedBacklog(cap) {
      return stmt.unindexedBacklog.get(cap) as { count: number; lastSeq: number }
    },

    indexedThrough(seq) {
      return stmt.unindexedThrough.get(seq) === undefined
    },

    unindexed(limit) {
      // Bounded by bytes too: 50 messages of 50 MiB each must not all sit in memory at once.
      const sizes = stmt.unindexedSizes.all(limit) as { seq: number; size: number }[]
      let take = 0
      for (let bytes = 0; take < sizes.length && (take === 0 || bytes + sizes[take]!.size <= MAX_INDEX_BATCH_BYTES); take++) {
        bytes += sizes[take]!.size
      }
      if (take === 0) return []
      const rows = stmt.unindexedRows.all(sizes[take - 1]!.seq, take) as (MessageRow & { raw: Buffer })[]
      return rows.map((r) => {
        const m = toStored(r)
        return { seq: r.seq, id: r.id, raw: r.raw, envelope: m.envelope }
      })
    },

    saveAuth(items) {
      return writer.saveAuth(items)
    },

    requeueMissingAuth(window) {
      return db
        .prepare(
          `UPDATE messages SET indexed_at = NULL WHERE seq > (SELECT coalesce(max(seq), 0) FROM messages) - ?
            AND indexed_at IS NOT NULL AND auth_json IS NULL AND parse_error IS NULL`,
        )
        .run(window).changes
    },

    saveSummaries(items) {
      return writer.saveSummaries(items)
    },

    *iterate(search) {
      for (const r of pages<MessageRow & { raw: Buffer }>(search, `${ROW_COLUMNS}, r.raw`)) yield { message: toStored(r), raw: r.raw }
    },

    *iterateRaw(search) {
      const columns = 'm.seq, m.id, m.mail_from AS mailFrom, m.received_at AS receivedAt, r.raw'
      yield* pages<RawMessage>(search, columns)
    },

    prune({ maxMessages, maxAgeMs, now = Date.now() }) {
      let removed = 0
      if (maxAgeMs > 0) {
        removed += store.delete({ search: `before:${new Date(now - maxAgeMs).toISOString()}` })
      }
      if (maxMessages > 0) {
        const { total } = stmt.counts.get() as { total: number }
        if (total > maxMessages) {
          const cutoff = db
            .prepare('SELECT seq FROM messages ORDER BY received_at DESC, seq DESC LIMIT 1 OFFSET ?')
            .pluck()
            .get(maxMessages - 1) as number
          const ids = db.prepare('SELECT id FROM messages WHERE seq < ?').pluck().all(cutoff) as string[]
          removed += store.delete({ ids })
        }
      }
      return removed
    },

    stats(now = Date.now()) {
      const hourMs = 3_600_000
      const dayMs = 86_400_000
      const perHour = db
        .prepare(`SELECT received_at / ${hourMs} AS h, count(*) AS n FROM messages WHERE received_at >= ? GROUP BY h ORDER BY h`)
        .all(now - 48 * hourMs) as { h: number; n: number }[]
      const perDay = db
        .prepare(`SELECT received_at / ${dayMs} AS d, count(*) AS n FROM messages WHERE received_at >= ? GROUP BY d ORDER BY d`)
        .all(now - 30 * dayMs) as { d: number; n: number }[]
      const top = (sql: string): Counted[] =>
        (db.prepare(sql).all(TOP_N) as { k: string; n: number }[]).map((r) => ({ Key: r.k, Count: r.n }))
      const dist = (sql: string): Record<string, number> => {
        const out: Record<string, number> = {}
        for (const r of db.prepare(sql).all() as { k: string | null; n: number }[]) out[r.k ?? 'unknown'] = r.n
        return out
      }
      return {
        PerHour: perHour.map((r) => ({ Hour: new Date(r.h * hourMs).toISOString(), Count: r.n })),
        PerDay: perDay.map((r) => ({ Day: new Date(r.d * dayMs).toISOString().slice(0, 10), Count: r.n })),
        TopSenderDomains: top(`SELECT CASE WHEN mail_from = '' THEN '<>' ELSE lower(substr(mail_from, instr(mail_from, '@') + 1)) END AS k,
          count(*) AS n FROM messages GROUP BY k ORDER BY n DESC LIMIT ?`),
        TopClientIPs: top('SELECT client_ip AS k, count(*) AS n FROM messages GROUP BY k ORDER BY n DESC LIMIT ?'),
        TopNets24: top(`SELECT ((client_ip4 >> 24) & 255) || '.' || ((client_ip4 >> 16) & 255) || '.' || ((client_ip4 >> 8) & 255) || '.0/24' AS k,
          count(*) AS n FROM messages WHERE client_ip4 IS NOT NULL GROUP BY client_ip4 >> 8 ORDER BY n DESC LIMIT ?`),
        Auth: {
          SPF: dist(`SELECT auth_json ->> '$.SPF.Result' AS k, count(*) AS n FROM messages WHERE auth_json IS NOT NULL GROUP BY k`),
          DKIM: dist(`SELECT coalesce((SELECT d.value ->> 'Result' FROM json_each(auth_json, '$.DKIM') d
            ORDER BY d.value ->> 'Result' = 'pass' DESC LIMIT 1), 'none') AS k, count(*) AS n FROM messages WHERE auth_json IS NOT NULL GROUP BY k`),
          DMARC: dist(`SELECT auth_json ->> '$.DMARC.Result' AS k, count(*) AS n FROM messages WHERE auth_json IS NOT NULL GROUP BY k`),
        },
        Kinds: dist(`SELECT coalesce(kind, 'unindexed') AS k, count(*) AS n FROM messages GROUP BY k`),
      }
    },

    backscatter(search, limit = 50) {
      const f = compileSearch(search)
      const where = `m.kind = 'bounce' AND ${f.where}`
      const group = (keyExpr: string, hostExpr: string): BackscatterGroup[] =>
        (
          db
            .prepare(`SELECT ${keyExpr} AS k, max(${hostExpr}) AS host, count(*) AS n, min(m.received_at) AS first, max(m.received_at) AS last,
              json_group_array(DISTINCT coalesce(m.analysis_json ->> '$.Bounce.Original.Subject', m.subject)) AS subjects
              FROM messages m WHERE ${where} GROUP BY k ORDER BY n DESC LIMIT ?`)
            .all(...f.params, limit) as { k: string | null; host: string | null; n: number; first: number; last: number; subjects: string }[]
        ).map((r) => ({
          Key: r.k ?? '',
          Host: r.host ?? '',
          Count: r.n,
          FirstSeen: new Date(r.first).toISOString(),
          LastSeen: new Date(r.last).toISOString(),
          Subjects: (JSON.parse(r.subjects) as (string | null)[]).filter((x): x is string => Boolean(x)).slice(0, 5),
        }))
      const total = db.prepare(`SELECT count(*) FROM messages m WHERE ${where}`).pluck().get(...f.params) as number
      return {
        Bounces: total,
        ByOrigin: group(`coalesce(nullif(m.analysis_json ->> '$.Bounce.Original.OriginIP', ''), 'unknown')`, `m.analysis_json ->> '$.Bounce.Original.OriginHost'`),
        BySender: group(
          `lower(coalesce(nullif(m.analysis_json ->> '$.Bounce.Original.MailFrom', ''), nullif(m.analysis_json ->> '$.Bounce.Original.From', ''), 'unknown'))`,
          `m.analysis_json ->> '$.Bounce.Original.From'`,
        ),
      }
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

    async close() {
      if (closed) return
      closed = true
      await writer.close()
      db.close()
    },
  }
  return store
}
