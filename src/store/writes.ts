import type Database from 'better-sqlite3'
import { createHash } from 'node:crypto'
import { ipToBigInt } from '../config/index.js'
import type { Envelope, MessageSummary } from './types.js'

// The hot writes (new messages, indexer summaries), as plain functions of a connection, so that
// the same code runs in the writer thread (file databases) and in-process (':memory:').

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
  tagIdFor(name: string): number
}

const addrText = (list: { Name: string; Address: string }[]): string =>
  list.map((a) => `${a.Name} ${a.Address}`.trim()).join(', ').toLowerCase()

export function createWrites(db: Database.Database): Writes {
  const stmt = {
    // Positional parameters: binding 22 named ones looked each up on the object. from_search and
    // to_search stay NULL here: messages_search_fts follows them through its UPDATE trigger only.
    // With message_counts kept per transaction below, this cut the writer's CPU per message by
    // ~20 % (batches of 8 in a micro-bench: 132-150 -> 108-113 µs).
    insertMessage: db.prepare(`INSERT INTO messages (id, received_at, listener, client_ip, client_ip4, client_port,
      ip_source, relay_ip, relay_port, helo, client_hostname, tls_protocol, tls_cipher, auth_user, mail_from,
      mail_from_params, rcpt_count, size, sha256, connection_id, transaction_no, pregreet, malformed)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    countInserted: db.prepare('UPDATE message_counts SET total = total + ?, unread = unread + ? WHERE id = 1'),
    insertRaw: db.prepare('INSERT INTO message_raw (seq, raw) VALUES (?, ?)'),
    insertRcpt: db.prepare('INSERT INTO recipients (seq, pos, address, params) VALUES (?, ?, ?, ?)'),
    saveSummary: db.prepare(`UPDATE messages SET indexed_at = @indexedAt, parse_error = @parseError, subject = @subject,
      from_name = @fromName, from_addr = @fromAddr, from_search = @fromSearch, to_search = @toSearch,
      addresses_json = @addresses, date_header = @date, message_id = @messageId, return_path = @returnPath,
      snippet = @snippet, attachments = @attachments, kind = @kind, auth_json = @auth, analysis_json = @analysis
      WHERE seq = @seq`),
    saveAuth: db.prepare('UPDATE messages SET auth_json = ? WHERE seq = ?'),
    ftsInsert: db.prepare('INSERT INTO messages_fts (rowid, subject, addresses, body) VALUES (?, ?, ?, ?)'),
    ftsDelete: db.prepare('DELETE FROM messages_fts WHERE rowid = ?'),
    tagId: db.prepare('SELECT tag_id FROM tags WHERE name = ?').pluck(),
    tagInsert: db.prepare('INSERT INTO tags (name) VALUES (?) ON CONFLICT (name) DO NOTHING'),
    tagLink: db.prepare('INSERT OR IGNORE INTO message_tags (seq, tag_id) VALUES (?, ?)'),
  }

  function tagIdFor(name: string): number {
    stmt.tagInsert.run(name)
    return stmt.tagId.get(name) as number
  }

  function insertOne(r: InsertRequest): { seq: number; sha256: string } {
    const env = r.env
    const sha256 = createHash('sha256').update(r.raw).digest('hex')
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
    )
    const seq = Number(info.lastInsertRowid)
    stmt.insertRaw.run(seq, Buffer.from(r.raw.buffer, r.raw.byteOffset, r.raw.byteLength))
    env.rcptTo.forEach((rc, pos) => stmt.insertRcpt.run(seq, pos, rc.address, JSON.stringify(rc.params)))
    for (const tag of env.tags) stmt.tagLink.run(seq, tagIdFor(tag))
    return { seq, sha256 }
  }

  // message_counts has no insert trigger (migration 003): each transaction adds its rows once.
  // New rows are unread.
  const commitBatch = db.transaction((batch: InsertRequest[]) => {
    const results = batch.map(insertOne)
    stmt.countInserted.run(batch.length, batch.length)
    return results
  })
  const commitSingle = db.transaction((r: InsertRequest) => {
    const result = insertOne(r)
    stmt.countInserted.run(1, 1)
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
    tagIdFor,
  }
}
