// A reference point for the ingest benchmark, not a baseline holdmail is measured against: the
// "100-line prototype" the capture-pipeline issue describes (smtp-server + better-sqlite3 in WAL,
// one transaction per event-loop turn, 250 after the commit), reduced to what that sentence says.
// It stores one row (sender, recipients, raw bytes) and nothing else: no envelope details, no
// indexes, no indexer, no thread.
//
//   node bench/prototype-server.mjs DB default   synchronous left as better-sqlite3 sets it up
//   node bench/prototype-server.mjs DB full      PRAGMA synchronous = FULL, as holdmail runs
//
// "default" is worth a note: better-sqlite3 builds SQLite with SQLITE_DEFAULT_WAL_SYNCHRONOUS=1, and
// strace shows such a database doing no fsync at commit (44 fsyncs for 2 000 commits, the
// checkpoints' own), although PRAGMA synchronous still reads 2. A 250 from it survives the process
// dying, not the machine losing power. holdmail sets FULL: one fsync of the WAL per commit.
// Prints "prototype SMTP listening on HOST:PORT".
// The build of better-sqlite3 holdmail itself loads on this Node (src/store/sqlite.ts).
import { Database } from '../dist/store/sqlite.js'
import { CaptureServer } from '../dist/smtp/capture-server.js'

const [path, sync = 'default'] = process.argv.slice(2)
if (!path || !['default', 'full'].includes(sync)) {
  process.stderr.write('usage: prototype-server.mjs DB default|full\n')
  process.exit(2)
}
const db = new Database(path)
db.pragma('journal_mode = WAL')
if (sync === 'full') db.pragma('synchronous = FULL')
db.exec('CREATE TABLE IF NOT EXISTS m (seq INTEGER PRIMARY KEY, mail_from TEXT, rcpt TEXT, raw BLOB)')
const insert = db.prepare('INSERT INTO m (mail_from, rcpt, raw) VALUES (?, ?, ?)')
const commit = db.transaction((items) => {
  for (const it of items) it.seq = insert.run(it.from, it.rcpt, it.raw).lastInsertRowid
})

let pending = []
function flush() {
  const items = pending
  pending = []
  try {
    commit(items)
    for (const it of items) it.done(null, `Ok: queued as ${it.seq}`)
  } catch (err) {
    for (const it of items) it.done(Object.assign(new Error(`storage failed: ${err.message}`), { responseCode: 451 }))
  }
}

const server = new CaptureServer({
  greetDelayMs: 0, // smtp-server's fixed 100 ms pause would cap the new-connection mode
  trustedRelays: [],
  name: 'prototype.localhost',
  disableReverseLookup: true,
  logger: false,
  authOptional: true,
  size: 50 * 1024 * 1024,
  onData(stream, session, done) {
    const chunks = []
    stream.on('data', (c) => chunks.push(c))
    stream.on('end', () => {
      if (pending.length === 0) setImmediate(flush)
      pending.push({
        from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
        rcpt: session.envelope.rcptTo.map((r) => r.address).join(','),
        raw: Buffer.concat(chunks),
        done,
      })
    })
  },
})
server.on('error', () => {})
server.listen(0, '127.0.0.1', () => {
  const a = server.server.address()
  process.stdout.write(`prototype SMTP listening on ${a.address}:${a.port}\n`)
})
process.on('SIGTERM', () => server.close(() => process.exit(0)))
