import type Database from 'better-sqlite3'
import { decodeRaw } from './raw-codec.js'
import { ROW_COLUMNS, toStored, type MessageRow } from './rows.js'
import type { Envelope } from './types.js'

// The index queue: messages committed but not yet parsed (indexed_at IS NULL), read oldest first.
// Reads only; the writer saves summaries and requeues.

// Bounded by bytes too: 50 messages of 50 MiB each must not all sit in memory at once.
const MAX_INDEX_BATCH_BYTES = 32 * 1024 * 1024

export interface QueuedMessage {
  seq: number
  id: string
  raw: Buffer
  envelope: Envelope
}

export interface IndexQueue {
  /** Messages still waiting for the indexer, oldest first, at most `limit` and about 32 MiB. */
  unindexed(limit: number): QueuedMessage[]
  /** How many messages wait for the indexer, counted up to `cap`, and the newest of those counted. */
  unindexedBacklog(cap: number): { count: number; lastSeq: number }
  /** True when no message up to `seq` waits for the indexer. */
  indexedThrough(seq: number): boolean
}

export function createIndexQueue(db: Database.Database): IndexQueue {
  const stmt = {
    sizes: db.prepare<[number], { seq: number; size: number }>('SELECT seq, size FROM messages WHERE indexed_at IS NULL ORDER BY seq LIMIT ?'),
    backlog: db.prepare<[number], { count: number; lastSeq: number }>(
      'SELECT count(*) AS count, coalesce(max(seq), 0) AS lastSeq FROM (SELECT seq FROM messages WHERE indexed_at IS NULL ORDER BY seq LIMIT ?)',
    ),
    through: db.prepare<[number], number>('SELECT 1 FROM messages WHERE indexed_at IS NULL AND seq <= ? LIMIT 1').pluck(),
    rows: db.prepare<[number, number], MessageRow & { raw: Buffer; raw_codec: string | null }>(`SELECT ${ROW_COLUMNS}, r.raw, r.codec AS raw_codec FROM messages m JOIN message_raw r ON r.seq = m.seq
      WHERE m.indexed_at IS NULL AND m.seq <= ? ORDER BY m.seq LIMIT ?`),
  }
  return {
    unindexed(limit) {
      const sizes = stmt.sizes.all(limit)
      let take = 0
      for (let bytes = 0; take < sizes.length && (take === 0 || bytes + sizes[take]!.size <= MAX_INDEX_BATCH_BYTES); take++) {
        bytes += sizes[take]!.size
      }
      if (take === 0) return []
      return stmt.rows.all(sizes[take - 1]!.seq, take).map((r) => ({ seq: r.seq, id: r.id, raw: decodeRaw(r.raw, r.raw_codec), envelope: toStored(r).envelope }))
    },
    unindexedBacklog(cap) {
      return stmt.backlog.get(cap) ?? { count: 0, lastSeq: 0 }
    },
    indexedThrough(seq) {
      return stmt.through.get(seq) === undefined
    },
  }
}
