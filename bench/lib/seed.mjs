// Seeds a holdmail database with N realistic, already-indexed messages, fast: the schema comes
// from holdmail's own migrations (createMessageStore), rows go in directly with better-sqlite3 in
// big transactions. Deterministic for a given count (seeded PRNG), so a cached file is reusable.
// The build of better-sqlite3 holdmail itself loads on this Node (src/store/sqlite.ts).
import { Database } from '../../dist/store/sqlite.js'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { createMessageStore } from '../../dist/store/index.js'
import { mulberry32 } from './prng.mjs'

export const SEED_FORMAT = 3 // bump when the generated data changes, so cached files are rebuilt
const BATCH_ROWS = 20_000
const DAY_MS = 86_400_000
const INDEX_TEXT_CHARS = 64 * 1024 // what holdmail indexes of a message's text (src/mail/summary.ts)


// Zipf-ish pick in [0, n): small indexes are much more frequent (like senders and words in spam).
const zipf = (rnd, n) => Math.min(n - 1, Math.floor(n ** rnd() - 1))

const SYLLABLES = ['ka', 'lo', 'mi', 'ne', 'ra', 'to', 'vu', 'zen', 'qua', 'dor', 'fel', 'gri', 'hus', 'jor', 'pex', 'sil', 'tam', 'wex', 'yol', 'bri']
const SPAM_WORDS = ['invoice', 'payment', 'urgent', 'account', 'verify', 'password', 'winner', 'prize', 'crypto', 'bitcoin', 'offer', 'discount', 'pharmacy', 'delivery', 'parcel', 'refund', 'bank', 'security', 'login', 'unsubscribe']
const TLDS = ['com', 'net', 'org', 'ru', 'cn', 'info', 'biz', 'xyz', 'top', 'co.uk']
const NAMES = ['Alice', 'Bob', 'Carol', 'Dave', 'Eve', 'Mallory', 'Support', 'Billing', 'Security Team', 'Customer Service', 'No Reply', 'Admin']

export function vocabulary(rnd, size) {
  const words = new Set(SPAM_WORDS)
  while (words.size < size) {
    const n = 2 + Math.floor(rnd() * 3)
    let w = ''
    for (let i = 0; i < n; i++) w += SYLLABLES[Math.floor(rnd() * SYLLABLES.length)]
    words.add(w)
  }
  return [...words]
}

function senders(rnd, count) {
  const out = []
  for (let i = 0; i < count; i++) {
    const domain = `d${i.toString(36)}mail.${TLDS[i % TLDS.length]}`
    const local = ['info', 'news', 'noreply', 'billing', 'promo', 'user' + i][i % 6]
    out.push({ name: NAMES[i % NAMES.length], address: `${local}@${domain}` })
  }
  return out
}

/** The plan the benchmark queries are built from (same for every count). */
export function seedPlan(seed = 42) {
  const rnd = mulberry32(seed)
  return { vocab: vocabulary(rnd, 3000), senders: senders(rnd, 5000) }
}

// Vocabulary words a seeded message holds: 3-7 in the subject, 20-149 in the body (see seedDatabase).
const WORDS_PER_MESSAGE = 5 + 85

/**
 * 3-letter fragments for substring searches: each occurs inside some vocabulary word (offset 1 or
 * more), begins no vocabulary word and appears in no sender, name or recipient, so only a substring
 * match finds it (a word-prefix match finds nothing). `share` is the expected fraction of messages
 * holding it, from the words' Zipf pick probabilities. Most frequent first; deterministic.
 */
export function substringFragments(plan = seedPlan()) {
  const n = plan.vocab.length
  // zipf() returns i for r in [log(i+1)/log(n), log(i+2)/log(n)), r uniform in [0, 1): never n - 1
  const pick = (i) => (i >= n - 1 ? 0 : Math.log((i + 2) / (i + 1)) / Math.log(n))
  const weight = new Map()
  const starts = new Set()
  plan.vocab.forEach((word, i) => {
    starts.add(word.slice(0, 3))
    const inside = new Set()
    for (let k = 1; k + 3 <= word.length; k++) inside.add(word.slice(k, k + 3))
    for (const f of inside) weight.set(f, (weight.get(f) ?? 0) + pick(i))
  })
  const elsewhere = (plan.senders.map((s) => `${s.name} ${s.address}`).join(' ') + ' user trap example.test').toLowerCase()
  return [...weight]
    .filter(([f]) => !starts.has(f) && !elsewhere.includes(f))
    .map(([fragment, p]) => ({ fragment, share: 1 - Math.exp(-WORDS_PER_MESSAGE * p) }))
    .sort((a, b) => b.share - a.share || (a.fragment < b.fragment ? -1 : 1))
}

/** Returns the path of a seeded db for `count` messages under `outDir`, building it when missing. */
export function seededDbPath(outDir, count) {
  return join(outDir, `seed-${count}-v${SEED_FORMAT}.db`)
}

export async function seedDatabase(path, count, { log = () => {} } = {}) {
  if (existsSync(path)) return { cached: true }
  mkdirSync(dirname(path), { recursive: true })
  const tmp = path + '.building'
  for (const s of ['', '-wal', '-shm']) rmSync(tmp + s, { force: true })
  await createMessageStore(tmp).close() // holdmail's migrations make the schema; the writer thread closes first

  const db = new Database(tmp)
  db.pragma('journal_mode = OFF')
  db.pragma('synchronous = OFF')
  db.pragma('cache_size = -524288') // 512 MiB while building
  db.pragma('temp_store = MEMORY')

  // Secondary indexes are dropped while loading and rebuilt from their own SQL afterwards:
  // building an index from sorted data is much faster than a million random B-tree inserts.
  const indexes = db
    .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ('messages', 'recipients')")
    .all()
  for (const ix of indexes) db.exec(`DROP INDEX "${ix.name}"`)

  const insMsg = db.prepare(`INSERT INTO messages (seq, id, received_at, listener, client_ip, client_ip4, client_port, ip_source,
    helo, mail_from, mail_from_params, rcpt_count, size, sha256, connection_id, transaction_no, pregreet, read,
    indexed_at, parse_error, subject, from_name, from_addr, from_search, to_search, addresses_json, date_header,
    message_id, return_path, snippet, attachments, kind)
    VALUES (?, ?, ?, 'smtp', ?, ?, ?, 'connection', ?, ?, '{}', 1, ?, ?, ?, 1, 0, ?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 'message')`)
  const insRaw = db.prepare('INSERT INTO message_raw (seq, raw) VALUES (?, ?)')
  const insRcpt = db.prepare(`INSERT INTO recipients (seq, pos, address, params) VALUES (?, 0, ?, '{}')`)
  const insFts = db.prepare('INSERT INTO messages_fts (rowid, subject, addresses, body) VALUES (?, ?, ?, ?)')
  // The trigram index of migration 006, filled as the writer's saveSummaries does: the same
  // subject and addresses as the word index, the attachments' names (none here) and the first
  // 64 KiB of the text with whitespace runs made one space.
  const insSubstring = db.prepare('INSERT INTO messages_substring_fts (rowid, subject, addresses, names, body) VALUES (?, ?, ?, ?, ?)')
  // The trigram index of from:/to: (migration 002), which holdmail fills through its UPDATE trigger
  // when a summary sets from_search and to_search; rows inserted with them set need it directly.
  const insSearch = db.prepare('INSERT INTO messages_search_fts (rowid, from_search, to_search) VALUES (?, ?, ?)')

  const { vocab, senders: from } = seedPlan()
  const rnd = mulberry32(count ^ 0x5eed)
  const idBytes = randomBytes(16 * count) // ids need only be unique; 16 random bytes -> 20 chars
  const now = Date.now()
  const start = now - 30 * DAY_MS
  const step = (30 * DAY_MS) / count
  const t0 = Date.now()

  const words = (n) => {
    let s = ''
    for (let i = 0; i < n; i++) s += (i ? (i % 12 === 0 ? '\r\n' : ' ') : '') + vocab[zipf(rnd, vocab.length)]
    return s
  }

  const batch = db.transaction((lo, hi) => {
    for (let seq = lo; seq <= hi; seq++) {
      const id = idBytes.toString('base64url', (seq - 1) * 16, (seq - 1) * 16 + 15)
      const sender = from[zipf(rnd, from.length)]
      const rcpt = `user${Math.floor(rnd() * 20000)}@trap${Math.floor(rnd() * 50)}.example.test`
      const receivedAt = Math.floor(start + seq * step)
      const ip4 = (Math.floor(rnd() * 223) + 1) * 16777216 + Math.floor(rnd() * 16777216)
      const ip = `${ip4 >>> 24}.${(ip4 >>> 16) & 255}.${(ip4 >>> 8) & 255}.${ip4 & 255}`
      const subject = `${SPAM_WORDS[Math.floor(rnd() * SPAM_WORDS.length)]} ${words(3 + Math.floor(rnd() * 5))} #${seq}`
      const body = words(20 + Math.floor(rnd() * 130))
      const messageId = `${seq}.${id}@${sender.address.split('@')[1]}`
      const date = new Date(receivedAt - 5000).toUTCString().replace('GMT', '+0000')
      const raw = Buffer.from(
        `Received: from mx.${sender.address.split('@')[1]} ([${ip}]) by holdmail.localhost with ESMTP; ${date}\r\n` +
          `From: "${sender.name}" <${sender.address}>\r\nTo: <${rcpt}>\r\nSubject: ${subject}\r\nDate: ${date}\r\n` +
          `Message-ID: <${messageId}>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n` +
          `Content-Transfer-Encoding: 8bit\r\n\r\n${body}\r\n`,
      )
      const flat = body.replace(/\s+/g, ' ')
      const snippet = flat.length > 250 ? flat.slice(0, 250) + '…' : flat
      const fromSearch = `${sender.name} ${sender.address}`.toLowerCase()
      insMsg.run(
        seq, id, receivedAt, ip, ip4, 1024 + (seq % 60000), `mx.${sender.address.split('@')[1]}`, sender.address,
        raw.length, createHash('sha256').update(raw).digest('hex'), `c${seq.toString(36)}`, rnd() < 0.3 ? 1 : 0,
        receivedAt + 50, subject, sender.name, sender.address, fromSearch, rcpt,
        JSON.stringify({ To: [{ Name: '', Address: rcpt }], Cc: [], Bcc: [], ReplyTo: [] }), receivedAt - 5000,
        messageId, '', snippet,
      )
      insRaw.run(seq, raw)
      insRcpt.run(seq, rcpt)
      const addresses = `${sender.name} ${sender.address}  ${rcpt}` // "Name Address" per address; the To has no name
      insFts.run(seq, subject, addresses, body)
      insSubstring.run(seq, subject, addresses, '', flat.slice(0, INDEX_TEXT_CHARS))
      insSearch.run(seq, fromSearch, rcpt)
    }
  })
  for (let lo = 1; lo <= count; lo += BATCH_ROWS) {
    batch(lo, Math.min(count, lo + BATCH_ROWS - 1))
    if ((lo - 1) % (BATCH_ROWS * 10) === 0) log(`seeded ${lo - 1 + BATCH_ROWS}/${count} (${((Date.now() - t0) / 1000).toFixed(0)} s)`)
  }
  const tIndex = Date.now()
  for (const ix of indexes) db.exec(ix.sql)
  log(`rebuilt ${indexes.length} indexes in ${((Date.now() - tIndex) / 1000).toFixed(1)} s`)
  // holdmail's writer keeps message_counts itself (no insert trigger since migration 003).
  db.exec('UPDATE message_counts SET total = (SELECT count(*) FROM messages), unread = (SELECT count(*) FROM messages WHERE read = 0) WHERE id = 1')
  // No ANALYZE and no FTS 'optimize': holdmail runs neither, so the planner and the index see
  // what a database grown by holdmail itself would give them.
  db.pragma('journal_mode = WAL')
  db.close()
  renameSync(tmp, path)
  rmSync(tmp + '-reserve', { force: true }) // the full-disk reserve holdmail's writer made next to the building file
  return { cached: false, seconds: (Date.now() - t0) / 1000 }
}
