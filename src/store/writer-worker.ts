import { parentPort, workerData } from 'node:worker_threads'
import { openDatabase } from './database.js'
import { createWrites, type AuthItem, type InsertRequest, type SummaryItem } from './writes.js'

// The store's writer thread: it owns the only write-heavy connection, so the fsync of each commit
// (synchronous=FULL) blocks this thread, not the SMTP sessions. Inserts that arrive while a commit
// runs queue up in the port and go into the next transaction together: group commit that grows
// with the load.

export type WriterRequest =
  | { type: 'insert'; items: { reqId: number; req: InsertRequest }[] }
  | { type: 'summaries'; reqId: number; items: SummaryItem[] }
  | { type: 'auth'; reqId: number; items: AuthItem[] }
  | { type: 'close' }

export type WriterReply =
  | { type: 'inserted'; results: { reqId: number; seq?: number; sha256?: string; error?: string }[] }
  | { type: 'saved'; reqId: number; error?: string }
  | { type: 'closed' }

const port = parentPort!
// 4 MiB of page cache: inserts touch the right edge of each b-tree and a few index pages, and
// every page the cache holds is RSS the process keeps (16 MiB here was ~14 MiB of it for nothing).
const db = openDatabase((workerData as { path: string }).path, { migrate: false, cacheKiB: 4096 })
// This connection only inserts rows whose parents it wrote itself in the same transaction, or
// updates rows it checked exist: the foreign-key lookups would prove nothing and cost ~10 % of a
// commit. Deletes (and their cascades) run on the main connection, where the keys stay enforced.
db.pragma('foreign_keys = OFF')
const writes = createWrites(db)
let pending: { reqId: number; req: InsertRequest }[] = []
let scheduled = false

function flush(): void {
  scheduled = false
  const batch = pending
  pending = []
  if (batch.length === 0) return
  const results = writes.insertBatch(batch.map((b) => b.req))
  port.postMessage({
    type: 'inserted',
    results: batch.map((b, i) => ({ reqId: b.reqId, ...results[i] })),
  } satisfies WriterReply)
}

port.on('message', (msg: WriterRequest) => {
  switch (msg.type) {
    case 'insert':
      for (const item of msg.items) pending.push(item)
      if (!scheduled) {
        scheduled = true
        setImmediate(flush)
      }
      return
    case 'summaries':
    case 'auth':
      flush() // a summary may refer to a message still in the queue
      try {
        if (msg.type === 'summaries') writes.saveSummaries(msg.items)
        else writes.saveAuth(msg.items)
        port.postMessage({ type: 'saved', reqId: msg.reqId } satisfies WriterReply)
      } catch (err) {
        port.postMessage({ type: 'saved', reqId: msg.reqId, error: (err as Error).message } satisfies WriterReply)
      }
      return
    case 'close':
      flush()
      db.close()
      port.postMessage({ type: 'closed' } satisfies WriterReply)
      port.close()
  }
})
