import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCompact } from '../../src/cli/compact.js'
import { runImport } from '../../src/cli/import.js'
import { compactRaw, openDatabase } from '../../src/store/index.js'
import { Database } from '../../src/store/sqlite.js' // the build this Node loads (12 aborts on Node 24)
import { queuedId, rawSend, startTestApp, withCrlf } from '../helpers/test-app.js'

const MAIN = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js') // rebuilt by vitest's global setup

function holdmail(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

const MIGRATIONS = join(import.meta.dirname, '../../src/store/migrations')

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

// Text zstd shrinks (more than one batch of them), messages of random bytes it cannot shrink (they
// stay as received), and tiny ones below the codec's threshold.
function corpus(n: number): Buffer[] {
  const words = 'invoice payment urgent account verify password winner prize refund parcel'.split(' ')
  const out: Buffer[] = []
  for (let i = 0; i < n; i++) {
    const lines = Array.from({ length: 40 + (i % 60) }, (_, j) => `${words[(i + j) % 10]} ${words[(i * j) % 10]} line ${j} of ${i}`)
    out.push(Buffer.from(`From: <s${i}@sender.test>\r\nTo: <trap@example.test>\r\nSubject: compact ${i}\r\n\r\n${lines.join('\r\n')}\r\n`, 'latin1'))
  }
  for (let i = 0; i < 3; i++) out.push(Buffer.concat([Buffer.from(`Subject: random ${i}\r\n\r\n`), randomBytes(5000 + i * 1000)]))
  out.push(Buffer.from('Subject: x\r\n\r\ny\r\n'))
  return out
}

interface RawState {
  rows: number
  zstd: number
  sumLength: number
  sumCounted: number
  counts: { original: number; stored: number }
}
function rawState(path: string): RawState {
  const db = new Database(path, { readonly: true })
  try {
    const s = db
      .prepare<[], { rows: number; zstd: number; sumLength: number; sumCounted: number }>(
        `SELECT count(*) AS rows, count(r.codec) AS zstd, sum(length(r.raw)) AS sumLength, sum(coalesce(m.stored_size, m.size)) AS sumCounted
          FROM message_raw r JOIN messages m ON m.seq = r.seq`,
      )
      .get()!
    const counts = db.prepare<[], { original: number; stored: number }>('SELECT raw_original AS original, raw_stored AS stored FROM message_counts').get()!
    return { ...s, counts }
  } finally {
    db.close()
  }
}

const ids = (path: string): { id: string; sha256: string }[] => {
  const db = new Database(path, { readonly: true })
  try {
    return db.prepare<[], { id: string; sha256: string }>('SELECT id, sha256 FROM messages ORDER BY seq').all()
  } finally {
    db.close()
  }
}

/** Every message's raw endpoint, on a fresh server on that file, equals the bytes it was stored from. */
async function expectByteExact(path: string, expected: Map<string, Buffer>): Promise<{ Original: number; Stored: number }> {
  const app = await startTestApp(['--db', path])
  try {
    const listed = ids(path)
    expect(listed.length).toBe(expected.size)
    for (const { id, sha256: hash } of listed) {
      const want = expected.get(hash)
      expect(want, `message ${id} is one of those stored`).toBeDefined()
      expect((await app.raw(id)).equals(want!), `raw of ${id}`).toBe(true)
    }
    const info = await app.api<{ RawBytes: { Original: number; Stored: number } }>('/api/v1/info')
    return info.body.RawBytes
  } finally {
    await app.stop()
  }
}

function output(): { io: { stdout: PassThrough; stderr: PassThrough }; text: () => string } {
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  let text = ''
  stdout.on('data', (d: Buffer) => (text += d.toString()))
  stderr.on('data', (d: Buffer) => (text += d.toString()))
  return { io: { stdout, stderr }, text: () => text }
}

describe('holdmail compact', () => {
  const dir = mkdtempSync(join(tmpdir(), 'holdmail-compact-'))
  const db = join(dir, 'holdmail.db')
  const expected = new Map<string, Buffer>()
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  beforeAll(async () => {
    // A store written without compression, as a database from before compression is.
    const eml = join(dir, 'eml')
    mkdirSync(eml)
    corpus(450).forEach((raw, i) => {
      writeFileSync(join(eml, `${i}.eml`), raw)
      expected.set(sha256(raw), raw)
    })
    const out = output()
    expect(await runImport(['--db', db, '--compression', '0', eml], {}, out.io), out.text()).toBe(0)
  })

  it('compresses rows stored as received, byte-exact, and a second run rewrites none', async () => {
    const before = rawState(db)
    expect(before.rows).toBe(expected.size)
    expect(before.zstd).toBe(0)
    const infoBefore = await expectByteExact(db, expected)
    expect(infoBefore.Stored).toBe(infoBefore.Original)
    const fileBefore = statSync(db).size

    const out = output()
    expect(await runCompact(['--db', db, '--compression', '1'], {}, out.io), out.text()).toBe(0)
    // The 450 text messages shrink; the random and the tiny ones stay as received.
    expect(out.text()).toMatch(/holdmail compact: 450 of 454 messages rewritten at --compression 1; raw bytes stored .+ -> .+/)

    const after = rawState(db)
    expect(after.zstd).toBe(450)
    expect(after.sumLength).toBeLessThan(before.sumLength / 2)
    // message_counts follows the rows, as the delete trigger counts them.
    expect(after.counts.stored).toBe(after.sumLength)
    expect(after.sumCounted).toBe(after.sumLength)
    expect(after.counts.original).toBe(before.counts.original)
    expect(statSync(db).size, out.text()).toBeLessThan(fileBefore)

    const infoAfter = await expectByteExact(db, expected)
    expect(infoAfter.Original).toBe(infoBefore.Original)
    expect(infoAfter.Stored).toBe(after.sumLength)
    expect(infoAfter.Stored).toBeLessThan(infoBefore.Stored)

    const again = output()
    expect(await runCompact(['--db', db], {}, again.io), again.text()).toBe(0)
    expect(again.text()).toMatch(/holdmail compact: 0 of 454 messages rewritten/)
    expect(rawState(db)).toEqual(after)
  })

  it('--compression 0 (the real command) stores every row as received again', async () => {
    const res = await holdmail(['compact', '--db', db, '--compression', '0'])
    expect(res.code, res.stderr).toBe(0)
    expect(res.stdout).toMatch(/holdmail compact: 450 of 454 messages rewritten at --compression 0/)
    const s = rawState(db)
    expect(s.zstd).toBe(0)
    expect(s.counts.stored).toBe(s.counts.original)
    expect(s.sumLength).toBe(s.counts.original)
    const info = await expectByteExact(db, expected)
    expect(info.Stored).toBe(info.Original)
  })

  it('migrates a database from before compression (006), compresses its rows, and leaves a row that does not match its hash alone', async () => {
    const path = join(dir, 'old.db')
    const old = new Database(path)
    old.pragma('journal_mode = WAL')
    for (const f of readdirSync(MIGRATIONS).filter((f) => parseInt(f, 10) < 7).sort()) old.exec(readFileSync(join(MIGRATIONS, f), 'utf8'))
    old.pragma('user_version = 6')
    const [good, bad] = corpus(2) as [Buffer, Buffer]
    const insert = old.prepare<[string, number, string]>(`INSERT INTO messages (id, received_at, listener, client_ip, client_port, ip_source, helo,
      mail_from, mail_from_params, rcpt_count, size, sha256, connection_id, transaction_no) VALUES (?, 1, 'smtp', '192.0.2.1', 25,
      'connection', 'h', 'old@example.test', '{}', 0, ?, ?, 'c', 1)`)
    const rawInsert = old.prepare<[number | bigint, Buffer]>('INSERT INTO message_raw (seq, raw) VALUES (?, ?)')
    rawInsert.run(insert.run('0000000aaaaaaaaaaaaa', good.length, sha256(good)).lastInsertRowid, good)
    // A row whose bytes do not give back the recorded hash: compact must not touch it.
    rawInsert.run(insert.run('0000000bbbbbbbbbbbbb', bad.length, sha256(good)).lastInsertRowid, bad)
    old.prepare('UPDATE message_counts SET total = 2, unread = 2').run()
    old.close()

    const out = output()
    expect(await runCompact(['--db', path], {}, out.io)).toBe(1)
    expect(out.text()).toMatch(/message seq 2 left as stored: stored bytes do not match the message hash\n/)
    expect(out.text()).toMatch(/holdmail compact: 1 of 2 messages rewritten at --compression 1/)
    const conn = new Database(path, { readonly: true })
    try {
      const rows = conn.prepare<[], { id: string; codec: string | null; raw: Buffer }>('SELECT id, codec, raw FROM messages JOIN message_raw USING (seq) ORDER BY seq').all()
      expect(rows.map((r) => [r.id, r.codec])).toEqual([['0000000aaaaaaaaaaaaa', 'zstd'], ['0000000bbbbbbbbbbbbb', null]])
      expect(rows[1]!.raw.equals(bad)).toBe(true)
      expect(conn.pragma('user_version', { simple: true })).toBeGreaterThanOrEqual(7)
    } finally {
      conn.close()
    }
    const app = await startTestApp(['--db', path])
    try {
      expect((await app.raw('0000000aaaaaaaaaaaaa')).equals(good)).toBe(true)
    } finally {
      await app.stop()
    }
  })

  it('a bad --db gives one clear line and exit 1, and creates nothing', async () => {
    const missing = join(dir, 'nope', 'x.db')
    const res = await holdmail(['compact', '--db', missing])
    expect(res.code).toBe(1)
    expect(res.stderr).toBe(`holdmail: --db ${missing}: no such database\n`)

    const other = join(dir, 'other.db')
    writeFileSync(other, 'not sqlite at all, just text that is long enough to be a header of a file\n'.repeat(10))
    const res2 = await holdmail(['compact', '--db', other])
    expect(res2.code).toBe(1)
    expect(res2.stderr).toMatch(/^holdmail: --db .*other\.db: not a holdmail database \(.+\)\n$/)

    // Another program's SQLite database is not given holdmail's tables.
    const foreign = join(dir, 'foreign.db')
    const f = new Database(foreign)
    f.exec('CREATE TABLE t (x)')
    f.close()
    const res3 = await holdmail(['compact', '--db', foreign])
    expect(res3.code).toBe(1)
    expect(res3.stderr).toMatch(/not a holdmail database \(no message_raw table\)/)
    const g = new Database(foreign, { readonly: true })
    expect(g.prepare<[], { n: number }>("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'").get()!.n).toBe(1)
    g.close()

    const res4 = await holdmail(['compact', '--db', db, 'extra'])
    expect(res4.code).toBe(1)
    expect(res4.stderr).toMatch(/^holdmail: unknown argument extra\nusage: holdmail compact/)
  })

  it('runs beside a server on the same file: SMTP keeps getting 250 between its batches and during the real command', async () => {
    const path = join(dir, 'live.db')
    const app = await startTestApp(['--db', path, '--compression', '0'])
    const stored = new Map<string, Buffer>()
    const send = async (raw: Buffer): Promise<string> => {
      const reply = await rawSend(app.smtpPort, { from: 's@sender.test', to: ['trap@example.test'], data: raw })
      expect(reply).toMatch(/^250 /)
      const bytes = withCrlf(raw)
      stored.set(sha256(bytes), bytes)
      return queuedId(reply)
    }
    try {
      const out = output()
      expect(await runImport(['--db', path, '--compression', '0', join(dir, 'eml')], {}, out.io), out.text()).toBe(0)
      for (const raw of expected.values()) stored.set(sha256(raw), raw)

      // In-process: after each of the first two batches (no write transaction open), a message goes
      // through the server; its new row lies ahead of the ranges read so far, so a later batch takes it too.
      const events: string[] = []
      const conn = openDatabase(path, { migrate: true })
      try {
        const result = await compactRaw(conn, {
          compression: 1,
          onProgress: async (p) => {
            events.push(`batch ${p.checked}`)
            if (p.checked > 400) return
            const text = corpus(1)[0]!.toString('latin1').replace('Subject: compact 0', `Subject: live ${p.checked}`)
            events.push(`250 ${await send(Buffer.from(text, 'latin1'))}`)
          },
        })
        events.push(`done ${result.rewritten}`)
        expect(result.rewritten).toBe(452)
      } finally {
        conn.close()
      }
      // Batches of up to 200 rows; the server committed a message after each of the first two.
      expect(events.map((e) => e.replace(/^250 \S+$/, '250'))).toEqual(['batch 200', '250', 'batch 400', '250', 'batch 456', 'done 452'])

      // The real command in its own process while a client keeps sending: every message gets 250.
      const child = holdmail(['compact', '--db', path, '--compression', '3'])
      let running = true
      void child.finally(() => (running = false))
      let sentDuring = 0
      while (running || sentDuring === 0) {
        await send(Buffer.from(`Subject: during ${sentDuring}\r\n\r\n${'spam spam spam '.repeat(50)}\r\n`, 'latin1'))
        sentDuring++
      }
      const res = await child
      expect(res.code, res.stderr).toBe(0)
      expect(res.stdout).toMatch(/holdmail compact: \d+ of \d+ messages rewritten at --compression 3/)
    } finally {
      await app.stop()
    }
    const s = rawState(path)
    expect(s.counts.stored).toBe(s.sumLength)
    expect(s.sumCounted).toBe(s.sumLength)
    await expectByteExact(path, stored)
  })
})
