import { workerData } from 'node:worker_threads'
import { parseDetail, summarize } from '../mail/index.js'
import { createReader, createReports, openDatabase, type ListQuery, type SearchOptions } from '../store/index.js'
import { AppError } from '../errors.js'
import { onCloseRequest, serveRequests, withTransfer } from '../threads/index.js'

// A reader-pool thread: its own read-only connection, for the reads a search or a sample can make
// slow (search pages, neighbours within a search, statistics, backscatter, export pages) and for
// parsing a stored message for display. The HTTP thread gives each request a time budget; a
// request that overruns it is abandoned there, and this thread is retired (it finishes what it was
// doing, closes its connection and exits) while a fresh one takes its place.

export type ReadOp =
  | { op: 'list'; query: ListQuery }
  | ({ op: 'latestId'; search: string } & SearchOptions)
  | ({ op: 'neighbours'; id: string; search: string } & SearchOptions)
  | { op: 'stats'; now: number }
  | ({ op: 'backscatter'; search: string; limit: number } & SearchOptions)
  | ({ op: 'exportPage'; search: string; afterSeq: number; full: boolean } & SearchOptions)
  | { op: 'detail'; id: string }
  | { op: 'summarize'; id: string }

// An export page ends after this many bytes of raw messages or rows, whichever comes first: the
// page crosses to the HTTP thread in one message.
const EXPORT_PAGE_BYTES = 16 * 1024 * 1024
const EXPORT_PAGE_ROWS = 500

const { path } = (workerData as { data: { path: string } }).data
const db = openDatabase(path, { migrate: false, readonly: true })
const reader = createReader(db, path)
const reports = createReports(db)

function rawOf(id: string): Buffer {
  const raw = reader.getRaw(id)
  if (!raw) throw new AppError('NOT_FOUND', `message ${id} not found`)
  return raw
}

/** The search options a request carries (Mailpit's `tz`). */
const searchOptions = (r: SearchOptions): SearchOptions => (r.tz ? { tz: r.tz } : {})

async function run(r: ReadOp): Promise<unknown> {
  switch (r.op) {
    case 'list':
      return reader.list(r.query)
    case 'latestId':
      return reader.latestId(r.search, searchOptions(r)) ?? null
    case 'neighbours':
      return reader.neighbours(r.id, r.search, searchOptions(r))
    case 'stats':
      return reports.stats(r.now)
    case 'backscatter':
      return reports.backscatter(r.search, r.limit, searchOptions(r))
    case 'exportPage': {
      const items: unknown[] = []
      const buffers: ArrayBuffer[] = []
      let bytes = 0
      let last = r.afterSeq
      const rows = r.full ? reader.iterate(r.search, r.afterSeq, searchOptions(r)) : reader.iterateRaw(r.search, r.afterSeq, searchOptions(r))
      for (const row of rows) {
        const raw = row.raw
        const seq = 'message' in row ? row.message.seq : row.seq
        items.push(row)
        if (raw.byteOffset === 0 && raw.byteLength === raw.buffer.byteLength && raw.buffer instanceof ArrayBuffer) buffers.push(raw.buffer)
        bytes += raw.length
        last = seq
        if (bytes >= EXPORT_PAGE_BYTES || items.length >= EXPORT_PAGE_ROWS) break
      }
      return withTransfer({ items, last, done: items.length === 0 }, buffers)
    }
    case 'detail': {
      const detail = await parseDetail(rawOf(r.id))
      const buffers: ArrayBuffer[] = []
      const parts = [...detail.parts].map(([partId, a]) => {
        const content = a.content
        if (content.byteOffset === 0 && content.byteLength === content.buffer.byteLength && content.buffer instanceof ArrayBuffer) buffers.push(content.buffer)
        return { partId, contentType: a.contentType, filename: a.filename ?? null, content }
      })
      const { parts: _parts, ...rest } = detail
      return withTransfer({ ...rest, parts }, buffers)
    }
    case 'summarize': {
      const m = reader.get(r.id)
      if (!m) throw new AppError('NOT_FOUND', `message ${r.id} not found`)
      return summarize(rawOf(r.id), m.envelope)
    }
  }
}

serveRequests((body) => run(body as ReadOp))
onCloseRequest(() => {
  db.close()
})
