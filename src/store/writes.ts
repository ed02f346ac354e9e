import type Database from 'better-sqlite3'
import { createHash } from 'node:crypto'
import { ipToBigInt } from '../config/index.js'
import { AppError } from '../errors.js'
import { DEFAULT_COMPRESSION, encodeRaw } from './raw-codec.js'
import { compileSearch } from './search-query.js'
import type { Envelope, MessageSummary, Selection, SpamCheck } from './types.js'

// Every write of the store, as plain functions of one connection: new messages, indexer summaries
// and auth results, read flags, tags, deletes, prune, requeue. The same code runs in the writer
// thread (database files) and in-process (':memory:', where the connection is private).

// Rows deleted per transaction when deleting or pruning, so that a big delete never holds the write
// lock (and the inserts queued behind it) for long.
const DELETE_BATCH = 5000
// Free pages given back to the file system per step after a delete (8 MiB of 4 KiB pages), so that
// inserts queued behind a big delete are committed between steps.
const RECLAIM_PAGES = 2048

export interface InsertRequest {
  id: string
  raw: Uint8Array
  env: Envelope
}

// The SHA-256 is taken here, in the writer thread: for a 50 MiB message it is ~150 ms of CPU that
// must not stall every other SMTP session on the main thread.
export type InsertResult = { seq: number; sha256: string } | { error: string }

export interface SummaryItem {
  seq: number
  summary: MessageSummary
}

/** SpamAssassin's answer for a message (--spamd), saved after commit by the spam checker. */
export interface SpamItem {
  seq: number
  spam: SpamCheck
}

/** SPF/DKIM/DMARC/ARC results, saved after the rest of a message's summary (they wait on DNS). */
export interface AuthItem {
  seq: number
  auth: unknown
}

export interface Writes {
  /** One transaction for the batch; when it fails, each message alone, so one bad row fails only itself. */
  insertBatch(batch: InsertRequest[]): InsertResult[]
  saveSummaries(items: SummaryItem[]): void
  saveAuth(items: AuthItem[]): void
  saveSpam(items: SpamItem[]): void
  setRead(selection: Selection, read: boolean): number
  /** Deletes at most `limit` (DELETE_BATCH) matching messages in one transaction; 0 when none is left. */
  deleteBatch(selection: Selection, limit?: number): number
  setTags(ids: string[], tags: string[]): void
  addTags(ids: string[], tags: string[]): void
  renameTag(from: string, to: string): void
  deleteTag(tag: string): void
  /** The selection prune deletes next: messages older than maxAgeMs, or beyond the newest maxMessages. */
  pruneSelection(opts: { maxMessages: number; maxAgeMs: number; now: number }): Selection | null
  /**
   * Gives up to RECLAIM_PAGES free pages back to the file system (incremental vacuum); returns how
   * many it gave back, 0 when none is left.
   */
  reclaimStep(): number
  /** Copies the WAL into the database file without waiting for readers, so that the file shrinks. */
  checkpoint(): void
  /**
   * Sends back to the indexer the messages among the newest `window` whose summary was saved but
   * whose authentication results were not (the process stopped in between). Returns how many.
   */
  requeueMissingAuth(window: number): number
}

const addrText = (list: { Name: string; Address: string }[]): string =>
  list.map((a) => `${a.Name} ${a.Address}`.trim()).join(', ').toLowerCase()

export interface WritesOptions {
  /** --compression level for new raw bytes (0 = store as received); see raw-codec.ts. */
  compression?: number
}

export function createWrites(db: Database.Database, opts: WritesOptions = {}): Writes {
  const compression = opts.compression ?? DEFAULT_COMPRESSION
  const stmt = {
    // Positional parameters: binding 22 named ones looked each up on the object. from_search and
    // to_search stay NULL here: messages_search_fts follows them through its UPDATE trigger only.
    // Together with message_counts kept per transaction below, this is a good share of the writer's
    // CPU per message (docs/performance.md).
    insertMessage: db.prepare(`INSERT INTO messages (id, received_at, listener, client_ip, client_ip4, client_port,
      ip_source, relay_ip, relay_port, helo, client_hostname, tls_protocol, tls_cipher, auth_user, mail_from,
      mail_from_params, rcpt_count, size, sha256, connection_id, transaction_no, pregreet, malformed, stored_size)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    countInserted: db.prepare(
      'UPDATE message_counts SET total = total + ?, unread = unread + ?, raw_original = raw_original + ?, raw_stored = raw_stored + ? WHERE id = 1',
    ),
    insertRaw: db.prepare('INSERT INTO message_raw (seq, raw, codec) VALUES (?, ?, ?)'),
    insertRcpt: db.prepare('INSERT INTO recipients (seq, pos, address, params) VALUES (?, ?, ?, ?)'),
    saveSummary: db.prepare(`UPDATE messages SET indexed_at = @indexedAt, parse_error = @parseError, subject = @subject,
      from_name = @fromName, from_addr = @fromAddr, from_search = @fromSearch, to_search = @toSearch,
      addresses_json = @addresses, date_header = @date, message_id = @messageId, return_path = @returnPath,
      snippet = @snippet, attachments = @attachments, inline_parts = @inline, kind = @kind, auth_json = @auth, analysis_json = @analysis
      WHERE seq = @seq`),
    saveAuth: db.prepare('UPDATE messages SET auth_json = ? WHERE seq = ?'),
    // A result without a score (spamd failed on it) leaves score and verdict NULL: neither
    // score: nor is:spam finds it.
    saveSpam: db.prepare('UPDATE messages SET spam_score = ?, spam_flag = ?, spam_json = ? WHERE seq = ?'),
    ftsInsert: db.prepare('INSERT INTO messages_fts (rowid, subject, addresses, body) VALUES (?, ?, ?, ?)'),
    ftsDelete: db.prepare('DELETE FROM messages_fts WHERE rowid = ?'),
    substringInsert: db.prepare('INSERT INTO messages_substring_fts (rowid, subject, addresses, names, body) VALUES (?, ?, ?, ?, ?)'),
    substringDelete: db.prepare('DELETE FROM messages_substring_fts WHERE rowid = ?'),
    tagId: db.prepare('SELECT tag_id FROM tags WHERE name = ?').pluck(),
    tagInsert: db.prepare('INSERT INTO tags (name) VALUES (?) ON CONFLICT (name) DO NOTHING'),
    tagLink: db.prepare('INSERT OR IGNORE INTO message_tags (seq, tag_id) VALUES (?, ?)'),
    tagUnlinkAll: db.prepare('DELETE FROM message_tags WHERE seq = ?'),
    tagsGc: db.prepare('DELETE FROM tags WHERE tag_id NOT IN (SELECT tag_id FROM message_tags)'),
    seqById: db.prepare<[string], number>('SELECT seq FROM messages WHERE id = ?').pluck(),
    deleteMessage: db.prepare('DELETE FROM messages WHERE seq = ?'),
    total: db.prepare<[], number>('SELECT total FROM message_counts WHERE id = 1').pluck(),
  }

  function tagIdFor(name: string): number {
    stmt.tagInsert.run(name)
    return stmt.tagId.get(name) as number
  }

  function selectionWhere(sel: Selection): { where: string; params: (string | number)[] } {
    if ('all' in sel) return { where: '1', params: [] }
    if ('search' in sel) return compileSearch(sel.search, sel.tz ? { tz: sel.tz } : {})
    if (sel.ids.length === 0) return { where: '0', params: [] }
    return { where: `m.id IN (SELECT value FROM json_each(?))`, params: [JSON.stringify(sel.ids)] }
  }

  const seqsFor = (ids: string[]): number[] => ids.map((id) => stmt.seqById.get(id)).filter((s): s is number => s !== undefined)

  const deleteSeqs = db.transaction((seqs: number[]) => {
    for (const seq of seqs) {
      stmt.ftsDelete.run(seq)
      stmt.deleteMessage.run(seq)
    }
    stmt.tagsGc.run()
  })

  // Raw bytes of the current transaction, original and stored, for message_counts.
  let batchOriginal = 0
  let batchStored = 0

  function insertOne(r: InsertRequest): { seq: number; sha256: string } {
    const env = r.env
    const sha256 = createHash('sha256').update(r.raw).digest('hex')
    // Compressed here, in the writer thread (never on the SMTP thread), before the row is written.
    const { stored, codec } = encodeRaw(Buffer.from(r.raw.buffer, r.raw.byteOffset, r.raw.byteLength), compression)
    const ip4 = ipToBigInt(env.clientIp)
    const info = stmt.insertMessage.run(
      r.id,
      env.receivedAt,
      env.listener,
      env.clientIp,
      ip4?.family === 4 ? Number(ip4.value) : null,
      env.clientPort,
      env.ipSource,
      env.relayIp,
      env.relayPort,
      env.helo,
      env.clientHostname,
      env.tls?.protocol ?? null,
      env.tls?.cipher ?? null,
      env.authUser,
      env.mailFrom,
      JSON.stringify(env.mailFromParams),
      env.rcptTo.length,
      r.raw.length,
      sha256,
      env.connectionId,
      env.transaction,
      env.pregreet ? 1 : 0,
      env.malformed ? 1 : 0,
      codec === null ? null : stored.length,
    )
    const seq = Number(info.lastInsertRowid)
    stmt.insertRaw.run(seq, stored, codec)
    batchOriginal += r.raw.length
    batchStored += stored.length
    env.rcptTo.forEach((rc, pos) => stmt.insertRcpt.run(seq, pos, rc.address, JSON.stringify(rc.params)))
    for (const tag of env.tags) stmt.tagLink.run(seq, tagIdFor(tag))
    return { seq, sha256 }
  }

  // message_counts has no insert trigger (migration 003): each transaction adds its rows once.
  // New rows are unread.
  const commitBatch = db.transaction((batch: InsertRequest[]) => {
    batchOriginal = batchStored = 0
    const results = batch.map(insertOne)
    stmt.countInserted.run(batch.length, batch.length, batchOriginal, batchStored)
    return results
  })
  const commitSingle = db.transaction((r: InsertRequest) => {
    batchOriginal = batchStored = 0
    const result = insertOne(r)
    stmt.countInserted.run(1, 1, batchOriginal, batchStored)
    return result
  })

  const saveAll = db.transaction((items: SummaryItem[]) => {
    const now = Date.now()
    for (const { seq, summary: s } of items) {
      const changes = stmt.saveSummary.run({
        seq,
        indexedAt: now,
        parseError: s.parseError,
        subject: s.subject,
        fromName: s.from?.Name ?? null,
        fromAddr: s.from?.Address ?? null,
        fromSearch: s.from ? addrText([s.from]) : '',
        toSearch: addrText([...s.to, ...s.cc]),
        addresses: JSON.stringify({ To: s.to, Cc: s.cc, Bcc: s.bcc, ReplyTo: s.replyTo }),
        date: s.date,
        messageId: s.messageId,
        returnPath: s.returnPath,
        snippet: s.snippet,
        attachments: s.attachments,
        inline: s.inline ?? 0,
        kind: s.kind,
        auth: s.auth === null || s.auth === undefined ? null : JSON.stringify(s.auth),
        analysis: s.analysis === null || s.analysis === undefined ? null : JSON.stringify(s.analysis),
      }).changes
      if (changes === 0) continue // deleted before it was indexed
      const addresses = [s.from, ...s.to, ...s.cc, ...s.bcc, ...s.replyTo]
        .filter((a): a is { Name: string; Address: string } => a !== null)
        .map((a) => `${a.Name} ${a.Address}`)
        .join(' ')
      stmt.ftsDelete.run(seq)
      stmt.ftsInsert.run(seq, s.subject, addresses, s.bodyText)
      // Substring (trigram) index: whitespace runs become one space, so a quoted phrase matches
      // across line breaks, as the reader sees the text.
      stmt.substringDelete.run(seq)
      stmt.substringInsert.run(seq, s.subject, addresses, (s.attachmentNames ?? []).join('\n'), s.bodyText.replace(/\s+/g, ' '))
      for (const tag of s.tags) stmt.tagLink.run(seq, tagIdFor(tag))
    }
  })

  return {
    insertBatch(batch) {
      try {
        return commitBatch(batch)
      } catch {
        return batch.map((r) => {
          try {
            return commitSingle(r)
          } catch (err) {
            return { error: (err as Error).message }
          }
        })
      }
    },
    saveSummaries(items) {
      saveAll(items)
    },
    saveAuth: db.transaction((items: AuthItem[]) => {
      for (const { seq, auth } of items) stmt.saveAuth.run(auth === null || auth === undefined ? null : JSON.stringify(auth), seq)
    }),

    saveSpam: db.transaction((items: SpamItem[]) => {
      for (const { seq, spam } of items) {
        const checked = spam.error === ''
        stmt.saveSpam.run(checked ? spam.score : null, checked ? (spam.isSpam ? 1 : 0) : null, JSON.stringify(spam), seq)
      }
    }),

    setRead(selection, read) {
      const f = selectionWhere(selection)
      return db.prepare(`UPDATE messages AS m SET read = ? WHERE ${f.where} AND m.read <> ?`).run(read ? 1 : 0, ...f.params, read ? 1 : 0).changes
    },

    deleteBatch(selection, limit = DELETE_BATCH) {
      const f = selectionWhere(selection)
      const seqs = db.prepare<unknown[], number>(`SELECT m.seq FROM messages m WHERE ${f.where} LIMIT ?`).pluck().all(...f.params, limit)
      if (seqs.length === 0) return 0
      // Recipients, raw bytes and tag links go with their message through ON DELETE CASCADE; the
      // writer connection keeps foreign keys off for inserts (it writes the parents itself), so they
      // are on for the length of a delete.
      const keysWere = db.pragma('foreign_keys', { simple: true }) as number
      if (!keysWere) db.pragma('foreign_keys = ON')
      try {
        deleteSeqs(seqs)
      } finally {
        if (!keysWere) db.pragma('foreign_keys = OFF')
      }
      return seqs.length
    },

    setTags: db.transaction((ids: string[], tags: string[]) => {
      const tagIds = tags.map(tagIdFor)
      for (const seq of seqsFor(ids)) {
        stmt.tagUnlinkAll.run(seq)
        for (const t of tagIds) stmt.tagLink.run(seq, t)
      }
      stmt.tagsGc.run()
    }),

    addTags: db.transaction((ids: string[], tags: string[]) => {
      const tagIds = tags.map(tagIdFor)
      for (const seq of seqsFor(ids)) for (const t of tagIds) stmt.tagLink.run(seq, t)
    }),

    renameTag: db.transaction((from: string, to: string) => {
      const fromId = stmt.tagId.get(from) as number | undefined
      if (fromId === undefined) throw new AppError('NOT_FOUND', `tag "${from}" not found`)
      const toId = stmt.tagId.get(to) as number | undefined
      if (toId !== undefined && toId !== fromId) {
        db.prepare('INSERT OR IGNORE INTO message_tags (seq, tag_id) SELECT seq, ? FROM message_tags WHERE tag_id = ?').run(toId, fromId)
        db.prepare('DELETE FROM message_tags WHERE tag_id = ?').run(fromId)
        db.prepare('DELETE FROM tags WHERE tag_id = ?').run(fromId)
      } else {
        db.prepare('UPDATE tags SET name = ? WHERE tag_id = ?').run(to, fromId)
      }
    }),

    deleteTag: db.transaction((tag: string) => {
      const id = stmt.tagId.get(tag) as number | undefined
      if (id === undefined) throw new AppError('NOT_FOUND', `tag "${tag}" not found`)
      db.prepare('DELETE FROM message_tags WHERE tag_id = ?').run(id)
      db.prepare('DELETE FROM tags WHERE tag_id = ?').run(id)
    }),

    pruneSelection({ maxMessages, maxAgeMs, now }) {
      if (maxAgeMs > 0) {
        const cutoff = now - maxAgeMs
        if (db.prepare('SELECT 1 FROM messages WHERE received_at < ? LIMIT 1').get(cutoff)) return { search: `before:${new Date(cutoff).toISOString()}` }
      }
      if (maxMessages > 0 && (stmt.total.get() ?? 0) > maxMessages) {
        const cutoff = db
          .prepare<[number], number>('SELECT seq FROM messages ORDER BY received_at DESC, seq DESC LIMIT 1 OFFSET ?')
          .pluck()
          .get(maxMessages - 1)
        if (cutoff !== undefined) {
          const ids = db.prepare<[number, number], string>('SELECT id FROM messages WHERE seq < ? ORDER BY seq LIMIT ?').pluck().all(cutoff, DELETE_BATCH)
          if (ids.length) return { ids }
        }
      }
      return null
    },

    reclaimStep() {
      const free = db.pragma('freelist_count', { simple: true }) as number
      // A database without incremental auto-vacuum (too big to convert) reuses its free pages instead.
      if (free === 0 || (db.pragma('auto_vacuum', { simple: true }) as number) !== 2) return 0
      db.pragma(`incremental_vacuum(${RECLAIM_PAGES})`)
      return free - (db.pragma('freelist_count', { simple: true }) as number)
    },

    checkpoint() {
      // PASSIVE: never waits for a reader (an export in the pool); what a reader still needs is
      // copied by the next checkpoint.
      db.pragma('wal_checkpoint(PASSIVE)')
    },

    requeueMissingAuth(window) {
      return db
        .prepare(
          `UPDATE messages SET indexed_at = NULL WHERE seq > (SELECT coalesce(max(seq), 0) FROM messages) - ?
            AND indexed_at IS NOT NULL AND auth_json IS NULL AND parse_error IS NULL`,
        )
        .run(window).changes
    },
  }
}
