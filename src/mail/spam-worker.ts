import { workerData } from 'node:worker_threads'
import { decodeRaw } from '../store/raw-codec.js'
import { openDatabase, type SpamCheck } from '../store/index.js'
import { onCloseRequest, serveRequests } from '../threads/index.js'
import { checkWithSpamd, SpamdUnavailable, type SpamdAddress } from './spamd.js'

// The spam checker's thread: reads committed messages through its own read-only connection and
// sends them to spamd, at most `limit` at a time. The owner (spam-checker.ts) saves the answers
// through the writer. Reading and decompressing a sample happens here, never on the SMTP thread.

export interface SpamWorkerData {
  path: string
  spamd: SpamdAddress
}

export type SpamRequest = { op: 'resumeAt' } | { op: 'check'; afterSeq: number; limit: number }

export interface SpamRound {
  items: { seq: number; spam: SpamCheck }[]
  /** The seq the next round starts after. */
  last: number
  /** spamd could not be reached: the messages from `last` on were not checked; try again later. */
  unavailable: string | null
}

const data = (workerData as { data: SpamWorkerData }).data
const db = openDatabase(data.path, { migrate: false, readonly: true, cacheKiB: 1024 })
const stmt = {
  lastChecked: db.prepare<[], number | null>('SELECT max(seq) FROM messages WHERE spam_json IS NOT NULL').pluck(),
  newest: db.prepare<[], number | null>('SELECT max(seq) FROM messages').pluck(),
  next: db.prepare<[number, number], { seq: number; raw: Buffer; codec: string | null }>(
    'SELECT r.seq, r.raw, r.codec FROM message_raw r WHERE r.seq > ? ORDER BY r.seq LIMIT ?',
  ),
}

async function check(afterSeq: number, limit: number): Promise<SpamRound> {
  const rows = stmt.next.all(afterSeq, limit)
  const settled = await Promise.allSettled(rows.map((r) => checkWithSpamd(data.spamd, decodeRaw(r.raw, r.codec))))
  const round: SpamRound = { items: [], last: afterSeq, unavailable: null }
  // Answers are kept in seq order up to the first message spamd could not be asked about, so that
  // the next round starts there and no message is skipped.
  for (let i = 0; i < rows.length; i++) {
    const s = settled[i]!
    if (s.status === 'rejected') {
      round.unavailable = s.reason instanceof SpamdUnavailable ? s.reason.message : String(s.reason)
      break
    }
    round.items.push({ seq: rows[i]!.seq, spam: s.value })
    round.last = rows[i]!.seq
  }
  return round
}

serveRequests((body) => {
  const r = body as SpamRequest
  // Messages stored before --spamd was first given are not sent: the first start begins at the
  // newest message; later starts resume after the newest one with an answer.
  if (r.op === 'resumeAt') return stmt.lastChecked.get() ?? stmt.newest.get() ?? 0
  return check(r.afterSeq, r.limit)
})
onCloseRequest(() => {
  db.close()
})
