import { createHash } from 'node:crypto'
import { setImmediate as turn } from 'node:timers/promises'
import type { Database } from './sqlite.js'
import { decodeRaw, encodeRaw } from './raw-codec.js'

// `holdmail compact`: rewrites message_raw rows into the form the given --compression level would
// store them in (rows stored before migration 007 or with --compression 0 get compressed; with 0
// every row is stored as received again), then gives the freed pages back to the file system.
//
// It runs on its own connection beside a running server: rows are read in seq order, one range at a
// time, compressed outside any write transaction, and written back in short IMMEDIATE transactions of
// at most BATCH_ROWS rows, so the server's writer waits for at most one batch's UPDATEs (its busy
// timeout is 5 s). Every new stored form is decoded again and compared with messages.sha256 before it
// is written: a row is replaced only by bytes that give back the original message.

/** Rows per read range and per write transaction. */
const BATCH_ROWS = 200
/** A range also ends after this many stored bytes, so that a range of big messages stays in memory bounds. */
const BATCH_BYTES = 32 * 1024 * 1024
/** Free pages given back per incremental_vacuum step, each its own short transaction (as writes.ts reclaimStep). */
const RECLAIM_PAGES = 2048

export interface CompactProgress {
  /** Rows looked at so far. */
  checked: number
  /** Original bytes of those rows. */
  bytes: number
  rewritten: number
}

export interface CompactResult extends CompactProgress {
  /** message_counts before and after: raw bytes as stored, and as received. */
  storedBefore: number
  storedAfter: number
  original: number
  /** Rows left as they were because their stored bytes do not give back messages.sha256. */
  damaged: { seq: number; why: string }[]
  /** Database file bytes (page_count × page_size) before and after, WAL not counted. */
  fileBefore: number
  fileAfter: number
  /** False when the database does not use incremental auto-vacuum (then freed pages are reused, the file keeps its size). */
  shrinkable: boolean
}

interface RawRow {
  seq: number
  raw: Buffer
  codec: string | null
  sha256: string
  size: number
  stored_size: number | null
}

interface Rewrite {
  seq: number
  stored: Buffer
  codec: string | null
  oldCodec: string | null
  oldLength: number
  /** Change of message_counts.raw_stored, as the delete trigger counts it: coalesce(stored_size, size). */
  delta: number
}

const sha256Of = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

export async function compactRaw(db: Database, opts: { compression: number; onProgress?: (p: CompactProgress) => void | Promise<void> }): Promise<CompactResult> {
  const counts = db.prepare<[], { original: number; stored: number }>('SELECT raw_original AS original, raw_stored AS stored FROM message_counts WHERE id = 1')
  const fileBytes = (): number => (db.pragma('page_count', { simple: true }) as number) * (db.pragma('page_size', { simple: true }) as number)
  const range = db.prepare<[number, number], RawRow>(
    `SELECT r.seq, r.raw, r.codec, m.sha256, m.size, m.stored_size FROM message_raw r JOIN messages m ON m.seq = r.seq
      WHERE r.seq > ? ORDER BY r.seq LIMIT ?`,
  )
  // Delete and insert again rather than UPDATE: SQLite merges b-tree pages only when a delete leaves
  // one mostly empty, never when an update shrinks a row in place, so small rows rewritten by UPDATE
  // would leave every page as it was (freelist_count 0, no file to give back). The guard on codec
  // and length skips a row that changed since it was read (another compact); a row deleted
  // meanwhile matches nothing.
  const deleteRaw = db.prepare<[number, string | null, number]>('DELETE FROM message_raw WHERE seq = ? AND codec IS ? AND length(raw) = ?')
  const insertRaw = db.prepare<[number, Buffer, string | null]>('INSERT INTO message_raw (seq, raw, codec) VALUES (?, ?, ?)')
  const updateSize = db.prepare<[number | null, number]>('UPDATE messages SET stored_size = ? WHERE seq = ?')
  const addStored = db.prepare<[number]>('UPDATE message_counts SET raw_stored = raw_stored + ? WHERE id = 1')

  const write = db.transaction((rewrites: Rewrite[]): number => {
    let done = 0
    let delta = 0
    for (const r of rewrites) {
      if (deleteRaw.run(r.seq, r.oldCodec, r.oldLength).changes === 0) continue
      insertRaw.run(r.seq, r.stored, r.codec)
      updateSize.run(r.codec === null ? null : r.stored.length, r.seq)
      delta += r.delta
      done++
    }
    if (delta !== 0) addStored.run(delta)
    return done
  })

  const before = counts.get() ?? { original: 0, stored: 0 }
  const fileBefore = fileBytes()
  const progress: CompactProgress = { checked: 0, bytes: 0, rewritten: 0 }
  const damaged: CompactResult['damaged'] = []
  let last = 0
  for (;;) {
    const rewrites: Rewrite[] = []
    let rangeBytes = 0
    let rows = 0
    // Read without a write lock: the server's writer keeps committing meanwhile.
    for (const row of range.iterate(last, BATCH_ROWS)) {
      rows++
      last = row.seq
      rangeBytes += row.raw.length
      progress.checked++
      progress.bytes += row.size
      let original: Buffer
      try {
        original = decodeRaw(row.raw, row.codec)
      } catch (err) {
        damaged.push({ seq: row.seq, why: (err as Error).message })
        continue
      }
      if (original.length !== row.size || sha256Of(original) !== row.sha256) {
        damaged.push({ seq: row.seq, why: 'stored bytes do not match the message hash' })
        continue
      }
      const next = encodeRaw(original, opts.compression)
      if (next.codec === row.codec && next.stored.equals(row.raw)) continue
      // Byte-exact: the new form must give back the very bytes the message hash was taken of.
      const back = decodeRaw(next.stored, next.codec)
      if (back.length !== row.size || sha256Of(back) !== row.sha256) {
        damaged.push({ seq: row.seq, why: 'the recompressed form did not decode to the original; left as stored' })
        continue
      }
      const newCounted = next.codec === null ? row.size : next.stored.length
      rewrites.push({
        seq: row.seq,
        stored: next.stored,
        codec: next.codec,
        oldCodec: row.codec,
        oldLength: row.raw.length,
        delta: newCounted - (row.stored_size ?? row.size),
      })
      if (rangeBytes >= BATCH_BYTES) break
    }
    if (rows === 0) break
    if (rewrites.length) progress.rewritten += write.immediate(rewrites)
    // Awaited between batches, when no write transaction is open.
    await opts.onProgress?.({ ...progress })
    // Between batches the event loop runs (progress output, signals).
    await turn()
  }

  // The rewritten rows left free pages: give them back, a step at a time, then copy the WAL into
  // the database file so that it shrinks. PASSIVE never waits for the server's readers.
  const shrinkable = (db.pragma('auto_vacuum', { simple: true }) as number) === 2
  if (shrinkable) {
    for (;;) {
      const free = db.pragma('freelist_count', { simple: true }) as number
      if (free === 0) break
      db.pragma(`incremental_vacuum(${RECLAIM_PAGES})`)
      if ((db.pragma('freelist_count', { simple: true }) as number) >= free) break
      await turn()
    }
  }
  db.pragma('wal_checkpoint(PASSIVE)')

  const after = counts.get() ?? { original: 0, stored: 0 }
  return {
    ...progress,
    storedBefore: before.stored,
    storedAfter: after.stored,
    original: after.original,
    damaged,
    fileBefore,
    fileAfter: fileBytes(),
    shrinkable,
  }
}
