import { rmSync, statfsSync, statSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { parentPort, workerData, type MessagePort } from 'node:worker_threads'
import { AppError } from '../errors.js'
import { onCloseRequest, serveRequests } from '../threads/index.js'
import type { PortLike } from '../threads/wire.js'
import { openDatabase } from './database.js'
import { createWrites, type InsertRequest, type InsertResult, type SummaryItem } from './writes.js'
import { isDiskFull, LOW_DISK_SPACE, runWrite, STORE_GONE, STORE_PROBLEMS, type WriteOp, type WriteProgress } from './write-ops.js'

// The writer thread: it owns the only connection that writes, so every fsync (synchronous=FULL)
// blocks this thread, never an SMTP session or an HTTP request. Inserts that arrive while a commit
// runs queue up in the ports and go into the next transaction together: group commit that grows
// with the load. Other threads (the HTTP thread) get a port of their own through `connect`.

export type InsertMessage = { type: 'insert'; items: { reqId: number; req: InsertRequest }[] }
export type InsertedMessage = { type: 'inserted'; results: { reqId: number; seq?: number; sha256?: string; error?: string }[] }
export type ConnectMessage = { type: 'connect'; port: MessagePort }
export type { WriteOp }

const port = parentPort!
const path = (workerData as { data: { path: string } }).data.path
// 4 MiB of page cache: inserts touch the right edge of each b-tree and a few index pages, and
// every page the cache holds is RSS the process keeps.
const db = openDatabase(path, { migrate: false, cacheKiB: 4096 })
// Inserts write rows whose parents they wrote themselves in the same transaction, and updates touch
// rows they checked exist: foreign-key lookups would prove nothing and cost a share of each commit.
// Deletes turn them on for their own transactions (writes.ts).
db.pragma('foreign_keys = OFF')
const writes = createWrites(db, { compression: (workerData as { data: { compression?: number } }).data.compression })

// The database file deleted or replaced under a running holdmail (`rm holdmail.db*`): SQLite keeps
// writing to the open, unlinked files, so every commit would succeed and be lost at the next start.
// The files at the path are compared with the ones opened (device and inode) after each insert
// batch commits and before its replies go out, and every FILE_CHECK_MS without traffic for
// /api/v1/info; once they differ, every write fails (SMTP answers 451) until holdmail is restarted.
const FILE_CHECK_MS = 1000
type FileId = { dev: number; ino: number }
const fileId = (p: string): FileId | null => {
  try {
    const s = statSync(p)
    return { dev: s.dev, ino: s.ino }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw err
  }
}
const sameFile = (a: FileId | null, b: FileId | null): boolean => a !== null && b !== null && a.dev === b.dev && a.ino === b.ino
const dbFile = fileId(path)
// The WAL exists while any connection is open (the opener in the SMTP thread made it); it is
// taken at the first check that sees it.
let walFile: FileId | null = null
let problem = 0
function checkFiles(): boolean {
  if (problem) return false
  try {
    const wal = fileId(`${path}-wal`)
    walFile ??= wal
    if (!sameFile(fileId(path), dbFile) || (walFile !== null && !sameFile(wal, walFile))) problem = STORE_GONE
  } catch {
    // Another error (a permission changed on the folder) says nothing about which file is open.
  }
  return problem === 0
}
checkFiles()
const fileTimer = setInterval(() => {
  if (checkFiles() && !reserveKept) reserveKept = keepReserve()
}, FILE_CHECK_MS)
fileTimer.unref()
const refusal = (): string => STORE_PROBLEMS[problem] ?? 'storage failed'

// A full disk: SQLite needs room in the WAL to delete, so the writer keeps a reserve file next to
// the database and removes it when a delete or prune fails with SQLITE_FULL, runs the write again,
// and puts the reserve back once the delete has given its pages back. A delete needs WAL room for
// one batch at a time (write-ops.ts gives the space back after each): the b-tree pages it changes
// and the freelist trunk pages, not the freed pages themselves. 8 MiB is 2048 such pages; on a
// small file system the reserve is at most an eighth of it.
const RESERVE_MAX_BYTES = 8 * 1024 * 1024
// Messages per delete transaction once the disk is full.
const FULL_DISK_DELETE_BATCHES = [100, 10, 1]
const reservePath = `${path}-reserve`
const reserveOf = (fs: { blocks: number; bsize: number }): number => Math.min(RESERVE_MAX_BYTES, Math.floor((fs.blocks * fs.bsize) / 8))
function reserveBytes(): number {
  try {
    return reserveOf(statfsSync(dirname(path)))
  } catch {
    return RESERVE_MAX_BYTES
  }
}
/** Writes the reserve when it is missing and there is room for it; false when there is not. */
function keepReserve(): boolean {
  const want = reserveBytes()
  try {
    if (statSync(reservePath).size >= want) return true
  } catch {
    // missing: written below
  }
  try {
    // Only with room to spare: the last free blocks of a nearly full disk go to new mail first.
    const fs = statfsSync(dirname(path))
    if (fs.bavail * fs.bsize < 2 * want) return false
    // Zeros written, not a sparse file: the blocks must really be taken.
    writeFileSync(reservePath, Buffer.alloc(want))
    return true
  } catch {
    rmSync(reservePath, { force: true })
    return false
  }
}
/**
 * Whether a write that adds `bytes` to the store leaves the room a full disk needs, as an MTA keeps
 * a minimum of free space (Postfix's queue_minfree, Exim's check_spool_space): the bytes go to the
 * WAL and again to the database file at the checkpoint, and beyond them as much as the reserve
 * stays free. Without it holdmail's own mail and index would fill the disk to the last block, the
 * checkpoints would fail first, and the WAL would come to hold more pages not yet in the database
 * file than the reserve frees, so that no delete could run. Refused mail gets 452 4.3.1 and is
 * retried by its sender; refused index writes are retried with the next message; deleting or
 * pruning makes room again.
 */
function roomFor(bytes: number): boolean {
  try {
    const fs = statfsSync(dirname(path))
    return fs.bavail * fs.bsize >= 2 * bytes + reserveOf(fs)
  } catch {
    return true // no answer from the file system: SQLite's own SQLITE_FULL is the last word
  }
}
// What a summary adds: its text goes into two full-text indexes (words, and trigrams at about
// three entries per character), beside the columns of the row.
const summaryBytes = (items: readonly SummaryItem[]): number =>
  items.reduce((n, i) => n + 4 * (i.summary.bodyText.length + i.summary.subject.length) + 4096, 0)
const freesSpace = (op: WriteOp): boolean => op.op === 'delete' || op.op === 'prune'

async function write(op: WriteOp): Promise<number> {
  const progress: WriteProgress = { removed: 0 }
  try {
    return await runWrite(writes, op, { progress })
  } catch (err) {
    if (!isDiskFull(err) || !freesSpace(op)) throw err
    rmSync(reservePath, { force: true })
    reserveKept = false
    try {
      // A checkpoint first, so that the WAL starts over in the room it already has (the insert
      // rule in flush keeps what it must copy into the database file smaller than the reserve);
      // then small transactions, each followed by giving its pages back, smaller still while the
      // disk stays full (a delete of one message needs only a few pages of WAL).
      let last: unknown = err
      for (const batch of FULL_DISK_DELETE_BATCHES) {
        try {
          writes.checkpoint()
        } catch (ckptErr) {
          if (!isDiskFull(ckptErr)) throw ckptErr
        }
        try {
          return await runWrite(writes, op, { deleteBatch: batch, progress })
        } catch (retryErr) {
          if (!isDiskFull(retryErr)) throw retryErr
          last = retryErr
        }
      }
      throw last
    } finally {
      reserveKept = keepReserve()
    }
  }
}
let reserveKept = keepReserve()

let pending: { from: PortLike; reqId: number; req: InsertRequest }[] = []
let scheduled = false
let closed = false
// Ports other threads write through; closed with the thread, so that none keeps it alive.
const connected = new Set<MessagePort>()

function flush(): void {
  scheduled = false
  const batch = pending
  pending = []
  if (batch.length === 0 || closed) return
  // Committed to files nobody will open again is not committed: the senders get 451 and retry
  // after the restart.
  let results: InsertResult[]
  if (!checkFiles()) results = batch.map(() => ({ error: refusal() }))
  else if (!roomFor(batch.reduce((n, b) => n + b.req.raw.length, 0))) results = batch.map(() => ({ error: LOW_DISK_SPACE }))
  else {
    const committed = writes.insertBatch(batch.map((b) => b.req))
    results = checkFiles() ? committed : batch.map(() => ({ error: refusal() }))
  }
  // One reply per port that had inserts in this batch.
  const byPort = new Map<PortLike, InsertedMessage['results']>()
  batch.forEach((b, i) => {
    let list = byPort.get(b.from)
    if (!list) byPort.set(b.from, (list = []))
    list.push({ reqId: b.reqId, ...results[i] })
  })
  for (const [to, list] of byPort) to.postMessage({ type: 'inserted', results: list } satisfies InsertedMessage)
}

function listen(p: PortLike): void {
  p.on('message', (msg: unknown) => {
    const m = msg as InsertMessage | ConnectMessage
    if (m.type === 'insert') {
      for (const item of m.items) pending.push({ from: p, ...item })
      if (!scheduled) {
        scheduled = true
        setImmediate(flush)
      }
    } else if (m.type === 'connect') {
      connected.add(m.port)
      m.port.on('close', () => connected.delete(m.port))
      listen(m.port)
    }
  })
  // Everything else is a request: a summary may refer to a message still queued, so the queue is
  // committed first.
  serveRequests((body) => {
    if (closed) throw new Error('store is closed')
    const op = body as WriteOp
    if (op.op === 'health') return checkFiles() ? 0 : problem
    flush()
    if (!checkFiles()) throw new AppError('STORE_FAILED', refusal())
    if (op.op === 'summaries' && !roomFor(summaryBytes(op.items))) throw new AppError('STORE_FAILED', LOW_DISK_SPACE)
    return write(op)
  }, p)
}

listen(port)
onCloseRequest(() => {
  clearInterval(fileTimer)
  flush()
  closed = true
  db.close()
  for (const p of connected) p.close()
})
