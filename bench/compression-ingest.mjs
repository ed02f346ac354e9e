// Ingest with compressed storage on vs off, in the same run (a separate script from bench/run.mjs).
//
//   node bench/compression-ingest.mjs          the writer alone: holdmail's insert statements
//                                              (dist/store/writes.js) on a database file with
//                                              synchronous=FULL, in batches as group commit makes them
//   node bench/compression-ingest.mjs --smtp   the whole server over SMTP (dist/cli/main.js serve
//                                              --compression 0 / 1), as bench/run.mjs's ingest part
//
//   BENCH_INGEST_MESSAGES=5000 BENCH_INGEST_ROUNDS=3 BENCH_INGEST_CONCURRENCY=8 BENCH_INGEST_BATCH=8
//
// Rounds alternate off, on, off, on ... so that load elsewhere on the machine hits both alike; the
// best round of each is reported. Messages: 5 KB of varied words (bench/codec.mjs's "varied" set),
// which compress like real text (about 0.4), not the lorem-ipsum lines of bench/run.mjs (0.07).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { spawnServer } from './lib/procs.mjs'
import { runLoad } from './lib/smtp-client.mjs'
import { mulberry32 } from './lib/prng.mjs'

const HERE = dirname(fileURLToPath(import.meta.url))
const DIST = join(HERE, '..', 'dist')
const N = Number(process.env.BENCH_INGEST_MESSAGES ?? 5000)
const ROUNDS = Number(process.env.BENCH_INGEST_ROUNDS ?? 3)
const CONCURRENCY = Number(process.env.BENCH_INGEST_CONCURRENCY ?? 8)
const BATCH = Number(process.env.BENCH_INGEST_BATCH ?? 8)
const smtp = process.argv.includes('--smtp')

const rnd = mulberry32(7)
const syllables = ['ka', 'lo', 'mi', 'ne', 'ra', 'to', 'vu', 'zen', 'qua', 'dor', 'fel', 'gri', 'hus', 'jor', 'pex', 'sil', 'tam', 'wex', 'yol', 'bri']
const vocab = Array.from({ length: 3000 }, () => {
  let w = ''
  for (let i = 0, n = 2 + Math.floor(rnd() * 3); i < n; i++) w += syllables[Math.floor(rnd() * syllables.length)]
  return w
})
// 200 distinct bodies, reused round-robin with a per-message header so no two are equal.
const bodies = Array.from({ length: 200 }, (_, i) => {
  let text = `Subject: ${vocab[i]} ${vocab[(i * 3) % 3000]}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n`
  let line = ''
  while (text.length < 5000) {
    line += vocab[Math.min(2999, Math.floor(3000 ** rnd() - 1))] + ' '
    if (line.length > 70) {
      text += line.trimEnd() + '\r\n'
      line = ''
    }
  }
  return text
})
const message = (i) => Buffer.from(`From: <billing${i % 97}@d${i % 50}mail.example>\r\nTo: <user${i % 13}@capture.example.test>\r\nMessage-ID: <${i}.${Date.now()}@bench.example>\r\n${bodies[i % 200]}`)

async function writerRound(level, dir) {
  const { openDatabase, newMessageId } = await import(join(DIST, 'store', 'index.js'))
  const { createWrites } = await import(join(DIST, 'store', 'writes.js'))
  const path = join(dir, `w${level}-${Date.now()}.db`)
  const db = openDatabase(path, { migrate: true, cacheKiB: 4096 })
  db.pragma('foreign_keys = OFF') // as the writer thread runs
  const writes = createWrites(db, { compression: level })
  const env = {
    receivedAt: Date.now(), listener: 'smtp', clientIp: '127.0.0.1', clientPort: 1, ipSource: 'connection', relayIp: null, relayPort: null,
    helo: 'bench', clientHostname: null, tls: null, authUser: null, mailFrom: 'a@bench.example', mailFromParams: {},
    rcptTo: [{ address: 'b@capture.example.test', params: {} }], connectionId: 'c', transaction: 1, pregreet: false, tags: [],
  }
  const msgs = Array.from({ length: N }, (_, i) => message(i))
  const t0 = performance.now()
  for (let i = 0; i < N; i += BATCH) writes.insertBatch(msgs.slice(i, i + BATCH).map((raw) => ({ id: newMessageId(), raw, env })))
  const ms = performance.now() - t0
  const bytes = db.prepare('SELECT raw_original AS original, raw_stored AS stored FROM message_counts').get()
  db.close()
  return { rate: N / (ms / 1000), bytes }
}

async function smtpRound(level, dir) {
  const path = join(dir, `s${level}-${Date.now()}.db`)
  const s = await spawnServer(`c${level}`, [join(DIST, 'cli', 'main.js'), 'serve', '--db', path, '--smtp', '127.0.0.1:0', '--http', '127.0.0.1:0', '--log-level', 'warn', '--no-auth-checks', '--compression', String(level)], [/SMTP listening on [^\s]+:(\d+)/, /HTTP listening on (http:\/\/\S+)/])
  try {
    const r = await runLoad({ port: Number(s.matches[0][1]), total: N, concurrency: CONCURRENCY, mode: 'reuse', makeBody: (i) => Buffer.from(message(i).toString('latin1').replace(/(^|\n)\./g, '$1..') + '\r\n') })
    const info = await (await fetch(`${s.matches[1][1]}/api/v1/info`)).json()
    return { rate: r.count / (r.elapsedMs / 1000), bytes: { original: info.RawBytes?.Original, stored: info.RawBytes?.Stored } }
  } finally {
    await s.stop()
  }
}

const dir = mkdtempSync(join(tmpdir(), 'holdmail-compress-bench-'))
try {
  const best = { 0: null, 1: null }
  for (let round = 0; round < ROUNDS; round++) {
    for (const level of [0, 1]) {
      const r = await (smtp ? smtpRound : writerRound)(level, dir)
      process.stderr.write(`round ${round + 1} --compression ${level}: ${r.rate.toFixed(0)} msg/s, raw ${r.bytes.original} -> ${r.bytes.stored} bytes\n`)
      if (!best[level] || r.rate > best[level].rate) best[level] = r
    }
  }
  if (best[1].bytes.stored >= best[1].bytes.original) process.stderr.write('warning: --compression 1 stored nothing compressed (is the option wired to the writer?)\n')
  console.log(`${smtp ? 'SMTP ingest (whole server)' : 'writer inserts'}, ${N} messages of ~5 KB, best of ${ROUNDS} alternating rounds, node ${process.version}`)
  console.log('| --compression | msg/s | stored / original |')
  console.log('| ---: | ---: | ---: |')
  for (const level of [0, 1]) console.log(`| ${level} | ${best[level].rate.toFixed(0)} | ${(best[level].bytes.stored / best[level].bytes.original).toFixed(3)} |`)
  console.log(`on / off: ${(best[1].rate / best[0].rate).toFixed(2)}x`)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
