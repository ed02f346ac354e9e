// The `import` part of npm run bench (issue 14): `holdmail import` of an mbox against SMTP ingest
// of the same messages, in the same run.
//
// BENCH_IMPORT_MESSAGES messages from the ingest part's generator are written as one mbox (mboxrd
// quoting, the envelope sender on the "From " line) in a temporary folder. Then:
//   import: `node dist/cli/main.js import --db <fresh db> <mbox>`, timed from spawn to exit (so
//           node's start-up and the migrations of the new database count against it); stderr is a
//           pipe, so the progress output is a plain line every few seconds, not a bar.
//   SMTP:   a fresh `holdmail serve` receives the same messages over BENCH_CONCURRENCY reused
//           connections, as the ingest part's reused-connection run does; timed from the first
//           connection to the last 250 (the server's start-up is not counted).
// Both stores are then checked: the number of rows equals the number generated, and the SHA-256 of
// every stored message matches one generated message (byte-exact, none missing, none twice).
//
// The import runs a writer thread of its own (the one `serve` runs: it hashes, compresses and
// commits while the import's main thread reads and splits the mbox), so it can run beside a
// server (SQLite WAL, busy timeout). Here it runs alone on its database; a server's indexer would
// parse the rows later, while `serve` indexes during the SMTP run (that CPU is part of the SMTP
// figure, as in production).
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { finished } from 'node:stream/promises'
import { Database } from '../../dist/store/sqlite.js'
import { runLoad } from './smtp-client.mjs'

const TARGET_RATIO = 2 // issue 14: import at least 2x SMTP ingest of the same messages
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat']
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']

/** The date of an mbox "From " line: asctime(3) format, UTC ("Thu Nov 26 10:00:00 2026"). */
function asctime(d) {
  const p = (n) => String(n).padStart(2, '0')
  return `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} ${d.getUTCFullYear()}`
}

const FROM_LINE = /^(>*From )/gm

/** mboxrd quoting (RFC 4155 appendix): every line matching ^>*From  gets one more ">". */
function mboxrdQuote(raw) {
  const s = raw.toString('latin1')
  return s.startsWith('From ') || s.includes('\nFrom ') || s.includes('\n>') || s.startsWith('>') ? Buffer.from(s.replace(FROM_LINE, '>$1'), 'latin1') : raw
}

const sha256 = (buf) => createHash('sha256').update(buf).digest('hex')

/**
 * Writes messages 0..count-1 as an mbox; resolves to { bytes (message bytes), fileBytes, hashes }.
 * The sender on the "From " line is the MAIL FROM the SMTP run uses (smtp-client.mjs's default).
 */
async function writeMbox(path, count, makeBody) {
  const out = createWriteStream(path, { highWaterMark: 1024 * 1024 })
  const date = asctime(new Date())
  const hashes = new Map()
  let bytes = 0
  for (let i = 0; i < count; i++) {
    const raw = makeBody(i)
    bytes += raw.length
    const h = sha256(raw)
    hashes.set(h, (hashes.get(h) ?? 0) + 1)
    // The blank line after each message is the separator the reader drops; the messages end in
    // CRLF already, so the stored bytes are exactly `raw`.
    const ok = out.write(Buffer.concat([Buffer.from(`From sender${i % 97}@bench.example.test ${date}\n`), mboxrdQuote(raw), Buffer.from('\n')]))
    if (!ok) await new Promise((resolve) => out.once('drain', resolve))
  }
  out.end()
  await finished(out)
  return { bytes, fileBytes: statSync(path).size, hashes }
}

/** Runs `node <main> ...args`; resolves to { code, stdout, stderr, ms } (spawn to exit). */
function runCli(mainJs, args) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now()
    const child = spawn(process.execPath, [mainJs, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (s) => (stdout += s))
    child.stderr.setEncoding('utf8').on('data', (s) => (stderr = (stderr + s).slice(-16_384)))
    child.once('error', reject)
    child.once('close', (code) => resolve({ code, stdout, stderr, ms: performance.now() - t0 }))
  })
}

/**
 * Compares a store with the generated messages: row count, and every stored SHA-256 against the
 * generated ones as a multiset. Returns { stored, mismatched } (mismatched: rows whose bytes match
 * no generated message left over).
 */
function checkStore(dbPath, hashes) {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true })
  try {
    const left = new Map(hashes)
    let stored = 0
    let mismatched = 0
    for (const h of db.prepare('SELECT sha256 FROM messages').pluck().iterate()) {
      stored++
      const n = left.get(h) ?? 0
      if (n === 0) mismatched++
      else left.set(h, n - 1)
    }
    return { stored, mismatched }
  } finally {
    db.close()
  }
}

/**
 * @param {object} o
 * @param {number} o.messages        BENCH_IMPORT_MESSAGES
 * @param {number} o.concurrency     SMTP connections
 * @param {(i: number) => Buffer} o.makeBody  the ingest part's generator
 * @param {string} o.mainJs          dist/cli/main.js
 * @param {(name: string, dbPath: string) => Promise<{ smtpPort: number }>} o.startHoldmail
 * @param {(name: string, server: object) => Promise<void>} o.stopHoldmail
 * @param {(msg: string) => void} o.log
 * @param {Function} o.record        record(group, metric, value, unit, target, pass)
 * @param {(n: number, digits?: number) => string} o.fmt
 */
export async function benchImport({ messages, concurrency, makeBody, mainJs, startHoldmail, stopHoldmail, log, record, fmt }) {
  const dir = mkdtempSync(join(tmpdir(), 'holdmail-bench-import-'))
  const details = { messages, concurrency }
  try {
    const mboxPath = join(dir, 'bench.mbox')
    const t0 = performance.now()
    const mbox = await writeMbox(mboxPath, messages, makeBody)
    details.messageBytes = mbox.bytes
    details.mboxBytes = mbox.fileBytes
    log(`import: ${messages} messages, ${fmt(mbox.bytes / 1e6, 1)} MB (mbox file ${fmt(mbox.fileBytes / 1e6, 1)} MB) written in ${fmt((performance.now() - t0) / 1000, 1)} s`)

    // a) holdmail import into a fresh database
    const importDb = join(dir, 'import.db')
    const run = await runCli(mainJs, ['import', '--db', importDb, mboxPath])
    if (run.code !== 0) throw new Error(`holdmail import exited with ${run.code}: ${run.stderr.slice(-2000)}${run.stdout.slice(-500)}`)
    const imp = { seconds: run.ms / 1000, summary: run.stdout.trim(), ...checkStore(importDb, mbox.hashes) }
    imp.msgsPerSec = messages / imp.seconds
    imp.mbPerSec = mbox.bytes / 1e6 / imp.seconds
    details.import = imp
    log(`import: ${fmt(imp.msgsPerSec)} msg/s, ${fmt(imp.mbPerSec, 1)} MB/s (${fmt(imp.seconds, 1)} s); ${imp.stored} stored, ${imp.mismatched} not matching; "${imp.summary}"`)
    rmSync(mboxPath, { force: true })

    // b) SMTP ingest of the same messages into another fresh holdmail
    const smtpDb = join(dir, 'smtp.db')
    const hm = await startHoldmail('import-smtp', smtpDb)
    let load
    try {
      load = await runLoad({ port: hm.smtpPort, total: messages, concurrency, mode: 'reuse', makeBody })
    } finally {
      await stopHoldmail('import-smtp', hm)
    }
    const smtp = { seconds: load.elapsedMs / 1000, ...checkStore(smtpDb, mbox.hashes) }
    smtp.msgsPerSec = load.count / smtp.seconds
    smtp.mbPerSec = mbox.bytes / 1e6 / smtp.seconds
    details.smtp = smtp
    log(`import part, SMTP ingest: ${fmt(smtp.msgsPerSec)} msg/s, ${fmt(smtp.mbPerSec, 1)} MB/s (${fmt(smtp.seconds, 1)} s); ${smtp.stored} stored, ${smtp.mismatched} not matching`)

    const ratio = imp.msgsPerSec / smtp.msgsPerSec
    details.ratio = ratio
    const exact = (s) => s.stored === messages && s.mismatched === 0
    const n = `${fmt(messages)} msgs`
    record('import', `${n}: holdmail import (mbox) msg/s`, imp.msgsPerSec, 'msg/s')
    record('import', `${n}: holdmail import (mbox) MB/s`, imp.mbPerSec, 'MB/s')
    record('import', `${n}: SMTP ingest, ${concurrency} reused conns, msg/s`, smtp.msgsPerSec, 'msg/s')
    record('import', `${n}: SMTP ingest, ${concurrency} reused conns, MB/s`, smtp.mbPerSec, 'MB/s')
    record('import', 'import/SMTP ingest', ratio, 'x', `>= ${TARGET_RATIO}`, ratio >= TARGET_RATIO)
    record('import', 'imported = generated (count and bytes)', `${imp.stored}/${messages}`, '', 'all, byte-exact', exact(imp))
    record('import', 'SMTP stored = generated (count and bytes)', `${smtp.stored}/${messages}`, '', 'all, byte-exact', exact(smtp))
    return details
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
