import { readlinkSync } from 'node:fs'
import { setPriority } from 'node:os'
import { parentPort, workerData } from 'node:worker_threads'
import { createIndexQueue, openDatabase } from '../store/index.js'
import { onCloseRequest } from '../threads/index.js'
import { contentAnalyser, createAuthAnalyser, type AuthAnalyserOptions } from './analysis/index.js'
import { indexOne } from './indexer.js'
import { createMemoryReleaser } from './release-memory.js'
import type { MessageSummary } from '../store/index.js'

// The indexer thread: reads unindexed messages through its own connection, parses and analyses
// them, and hands the summaries to the main thread, which saves them through the writer. Parsing a
// 50 MiB sample runs beside the SMTP sessions this way, not between their events, and its memory
// churn stays in this thread.

export interface IndexWorkerData {
  path: string
  auth: AuthAnalyserOptions
}

// together: analyse each message completely before the round's summaries go back (one save);
// otherwise the SPF/DKIM/DMARC/ARC results follow in a second message (see index-thread.ts).
export type IndexRequest = { type: 'round'; round: number; limit: number; together: boolean }

export type IndexReply =
  | { type: 'start'; seq: number; id: string } // before each message: what a crash was working on
  | { type: 'parsed'; round: number; items: { seq: number; id: string; summary: MessageSummary }[] } // auth still null
  | { type: 'authed'; round: number; items: { seq: number; id: string; auth: unknown }[] }
  | { type: 'error'; id: string; message: string }

const port = parentPort!
const data = (workerData as { data: IndexWorkerData }).data

// On Linux a thread has its own nice value: indexing then takes only CPU that SMTP, the writer and
// the HTTP API leave idle, instead of a duty cycle on the main thread.
try {
  const tid = Number(readlinkSync('/proc/thread-self').split('/').pop())
  if (Number.isInteger(tid) && tid > 0) setPriority(tid, 10)
} catch {
  // not Linux, or not permitted: normal priority
}

// Read-only, with a small page cache: this connection reads each unindexed message once. The
// summaries go back to the owner, which saves them through the writer.
const db = openDatabase(data.path, { migrate: false, readonly: true, cacheKiB: 2048 })
const queue = createIndexQueue(db)
// Parsing and content analysis first; SPF/DKIM/DMARC/ARC, which wait on DNS, after the summaries
// are saved, for the whole round at once: a slow or silent DNS server then delays only the auth
// results, not the subject an API client waits for.
const analysers = [contentAnalyser]
const authAnalyser = createAuthAnalyser(data.auth)
const post = (body: IndexReply): void => port.postMessage({ kind: 'event', body })
const memory = createMemoryReleaser()
let closed = false
onCloseRequest(() => {
  closed = true
  db.close()
})

port.on('message', (msg: IndexRequest) => {
  if (msg.type !== 'round' || closed) return
  void (async () => {
    const items = queue.unindexed(msg.limit)
    if (items.length === 0) memory.drained() // a backlog is done: give this thread's garbage back
    memory.indexed(items.length)
    const out: { seq: number; id: string; summary: MessageSummary }[] = []
    const onError = (err: unknown, id: string): void => post({ type: 'error', id, message: (err as Error).message ?? String(err) })
    for (const item of items) {
      post({ type: 'start', seq: item.seq, id: item.id })
      const summary = await indexOne(item, msg.together ? [...analysers, authAnalyser] : analysers, onError)
      out.push({ seq: item.seq, id: item.id, summary })
    }
    post({ type: 'parsed', round: msg.round, items: out })
    if (msg.together) return
    // The next round may be parsed while this one's lookups are still out.
    const auth = await Promise.all(
      items.map(async (item, i) => {
        const summary = { ...out[i]!.summary }
        try {
          await authAnalyser(item.raw, item.envelope, summary)
        } catch (err) {
          onError(err, item.id)
        }
        return { seq: item.seq, id: item.id, auth: summary.auth ?? null }
      }),
    )
    post({ type: 'authed', round: msg.round, items: auth })
  })()
})
