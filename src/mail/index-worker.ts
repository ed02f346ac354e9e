import { readlinkSync } from 'node:fs'
import { setPriority } from 'node:os'
import { parentPort, workerData } from 'node:worker_threads'
import { createMessageStore } from '../store/index.js'
import { contentAnalyser, createAuthAnalyser, type AuthAnalyserOptions } from './analysis/index.js'
import { indexOne } from './indexer.js'
import { createMemoryReleaser } from './release-memory.js'
import type { MessageSummary } from '../store/index.js'

// The indexer thread: reads unindexed messages through its own connection, parses and analyses
// them, and hands the summaries to the main thread, which saves them through the writer. Parsing a
// 50 MiB sample runs beside the SMTP sessions this way, not between their events, and its memory
// churn stays in this thread.

export interface IndexWorkerData {
  entry: string
  path: string
  auth: AuthAnalyserOptions
}

export type IndexRequest = { type: 'round'; limit: number } | { type: 'close' }

export type IndexReply =
  | { type: 'start'; seq: number; id: string } // before each message: what a crash was working on
  | { type: 'round'; items: { seq: number; id: string; summary: MessageSummary }[] }
  | { type: 'error'; id: string; message: string }
  | { type: 'closed' }

const port = parentPort!
const data = workerData as IndexWorkerData

// On Linux a thread has its own nice value: indexing then takes only CPU that SMTP, the writer and
// the HTTP API leave idle, instead of a duty cycle on the main thread.
try {
  const tid = Number(readlinkSync('/proc/thread-self').split('/').pop())
  if (Number.isInteger(tid) && tid > 0) setPriority(tid, 10)
} catch {
  // not Linux, or not permitted: normal priority
}

// A small page cache: this connection reads each unindexed message once.
const store = createMessageStore(data.path, { cacheKiB: 2048, migrate: false })
const analysers = [contentAnalyser, createAuthAnalyser(data.auth)]
const post = (msg: IndexReply): void => port.postMessage(msg)
const memory = createMemoryReleaser()

port.on('message', (msg: IndexRequest) => {
  if (msg.type === 'close') {
    void store.close().then(() => {
      post({ type: 'closed' })
      port.close()
    })
    return
  }
  void (async () => {
    const items = store.unindexed(msg.limit)
    if (items.length === 0) memory.drained() // a backlog is done: give this thread's garbage back
    memory.indexed(items.length)
    const out: { seq: number; id: string; summary: MessageSummary }[] = []
    for (const item of items) {
      post({ type: 'start', seq: item.seq, id: item.id })
      const summary = await indexOne(item, analysers, (err, id) => post({ type: 'error', id, message: (err as Error).message ?? String(err) }))
      out.push({ seq: item.seq, id: item.id, summary })
    }
    post({ type: 'round', items: out })
  })()
})
