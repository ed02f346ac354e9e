import { parentPort, workerData, type MessagePort } from 'node:worker_threads'
import { onCloseRequest, serveRequests } from '../threads/index.js'
import type { PortLike } from '../threads/wire.js'
import { openDatabase } from './database.js'
import { createWrites, type InsertRequest } from './writes.js'
import { runWrite, type WriteOp } from './write-ops.js'

// The writer thread: it owns the only connection that writes, so every fsync (synchronous=FULL)
// blocks this thread, never an SMTP session or an HTTP request. Inserts that arrive while a commit
// runs queue up in the ports and go into the next transaction together: group commit that grows
// with the load. Other threads (the HTTP thread) get a port of their own through `connect`.

export type InsertMessage = { type: 'insert'; items: { reqId: number; req: InsertRequest }[] }
export type InsertedMessage = { type: 'inserted'; results: { reqId: number; seq?: number; sha256?: string; error?: string }[] }
export type ConnectMessage = { type: 'connect'; port: MessagePort }
export type { WriteOp }

const port = parentPort!
// 4 MiB of page cache: inserts touch the right edge of each b-tree and a few index pages, and
// every page the cache holds is RSS the process keeps.
const db = openDatabase((workerData as { data: { path: string } }).data.path, { migrate: false, cacheKiB: 4096 })
// Inserts write rows whose parents they wrote themselves in the same transaction, and updates touch
// rows they checked exist: foreign-key lookups would prove nothing and cost a share of each commit.
// Deletes turn them on for their own transactions (writes.ts).
db.pragma('foreign_keys = OFF')
const writes = createWrites(db)
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
  const results = writes.insertBatch(batch.map((b) => b.req))
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
    flush()
    return runWrite(writes, body as WriteOp)
  }, p)
}

listen(port)
onCloseRequest(() => {
  flush()
  closed = true
  db.close()
  for (const p of connected) p.close()
})
