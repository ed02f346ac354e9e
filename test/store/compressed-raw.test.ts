import { Database } from '../../src/store/sqlite.js' // the build this Node loads (12 aborts on Node 24)
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { runExport } from '../../src/cli/export.js'
import { loadConfig } from '../../src/config/index.js'
import { createIndexQueue, createMessageStore, createReader, newMessageId, openDatabase, type MessageStore } from '../../src/store/index.js'
import { createWrites } from '../../src/store/writes.js'
import { makeEnvelope } from '../helpers/fixtures.js'
import { queuedId, rawSend, startTestApp, withCrlf } from '../helpers/test-app.js'

const MIGRATIONS = join(import.meta.dirname, '../../src/store/migrations')

// A text message zstd shrinks, one of random bytes it cannot (stored as received), and a tiny one.
function samples(): Buffer[] {
  const words = 'invoice payment urgent account verify password winner prize refund parcel'.split(' ')
  const text = Array.from({ length: 400 }, (_, i) => `${words[i % 10]} ${words[(i * 7) % 10]} line ${i}`).join('\r\n')
  return [
    Buffer.from(`Subject: compressible\r\nFrom: a@sender.test\r\n\r\n${text}\r\n`),
    Buffer.concat([Buffer.from('Subject: random\r\nContent-Type: application/octet-stream\r\n\r\n'), randomBytes(20_000)]),
    Buffer.from('Subject: x\r\n\r\ny\r\n'),
  ]
}

interface RawRow {
  id: string
  size: number
  stored_size: number | null
  codec: string | null
  blob: Buffer
}
const rawRows = (path: string): RawRow[] => {
  const db = new Database(path, { readonly: true })
  try {
    return db
      .prepare<[], RawRow>('SELECT m.id, m.size, m.stored_size, r.codec, r.raw AS blob FROM messages m JOIN message_raw r ON r.seq = m.seq ORDER BY m.seq')
      .all()
  } finally {
    db.close()
  }
}

describe('compressed storage', () => {
  let dir: string
  let store: MessageStore | null = null
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'holdmail-compress-'))
  })
  afterEach(async () => {
    await store?.close()
    store = null
    rmSync(dir, { recursive: true, force: true })
  })

  it('stores raw bytes compressed by default and every read gives back the original bytes', async () => {
    const path = join(dir, 'c.db')
    store = createMessageStore(path)
    const bodies = samples()
    const ids = []
    for (const b of bodies) ids.push((await store.insert(Buffer.from(b), makeEnvelope())).id)

    const rows = rawRows(path)
    expect(rows.map((r) => r.codec)).toEqual(['zstd', null, null]) // random and tiny: not worth it
    expect(rows[0]!.blob.length).toBeLessThan(bodies[0]!.length / 3)
    expect(rows[0]!.stored_size).toBe(rows[0]!.blob.length)
    expect(rows[1]!.blob.equals(bodies[1]!)).toBe(true)

    ids.forEach((id, i) => expect(store!.getRaw(id)?.equals(bodies[i]!)).toBe(true))
    expect([...store.iterate('')].map((m) => m.raw)).toEqual(bodies)
    expect([...store.iterateRaw('')].map((m) => m.raw)).toEqual(bodies)
    expect(Object.keys([...store.iterateRaw('')][0]!).sort()).toEqual(['id', 'mailFrom', 'raw', 'receivedAt', 'seq'])
    expect(store.unindexed(10).map((m) => m.raw)).toEqual(bodies) // what the indexer and analysers read

    const original = bodies.reduce((n, b) => n + b.length, 0)
    const stored = rows.reduce((n, r) => n + r.blob.length, 0)
    expect(store.rawBytes()).toEqual({ original, stored })
    await store.delete({ ids: [ids[0]!] })
    expect(store.rawBytes()).toEqual({ original: original - bodies[0]!.length, stored: stored - rows[0]!.blob.length })
  })

  it('writes standard zstd frames that the zstd command decodes', async (ctx) => {
    if (spawnSync('zstd', ['--version']).status !== 0) ctx.skip() // the zstd command is not installed here
    const path = join(dir, 'z.db')
    store = createMessageStore(path)
    const body = samples()[0]!
    await store.insert(Buffer.from(body), makeEnvelope())
    const out = spawnSync('zstd', ['-d', '-c'], { input: rawRows(path)[0]!.blob })
    expect(out.status).toBe(0)
    expect(out.stdout.equals(body)).toBe(true)
  })

  it('honours the levels: 0 stores as received, higher levels store no more than level 1', () => {
    const path = join(dir, 'levels.db')
    const db = openDatabase(path, { migrate: true })
    try {
      const body = samples()[0]!
      for (const level of [0, 1, 2, 3]) createWrites(db, { compression: level }).insertBatch([{ id: newMessageId(), raw: Buffer.from(body), env: makeEnvelope() }])
      const reader = createReader(db, path)
      const rows = rawRows(path)
      expect(rows.map((r) => r.codec)).toEqual([null, 'zstd', 'zstd', 'zstd'])
      expect(rows[0]!.stored_size).toBeNull()
      expect(rows[3]!.blob.length).toBeLessThanOrEqual(rows[1]!.blob.length)
      for (const r of rows) expect(reader.getRaw(r.id)?.equals(body)).toBe(true)
      expect(reader.rawBytes()).toEqual({ original: 4 * body.length, stored: rows.reduce((n, r) => n + r.blob.length, 0) })
    } finally {
      db.close()
    }
  })

  it('keeps the rows of a database from before compression as they are, beside new compressed ones (007)', async () => {
    const path = join(dir, 'old.db')
    const old = new Database(path)
    old.pragma('journal_mode = WAL')
    for (const f of readdirSync(MIGRATIONS).filter((f) => parseInt(f, 10) < 7).sort()) old.exec(readFileSync(join(MIGRATIONS, f), 'utf8'))
    old.pragma('user_version = 6')
    const oldBody = samples()[0]!
    const seq = old
      .prepare(`INSERT INTO messages (id, received_at, listener, client_ip, client_port, ip_source, helo, mail_from,
        mail_from_params, rcpt_count, size, sha256, connection_id, transaction_no) VALUES (?, 1, 'smtp', '192.0.2.1', 25,
        'connection', 'h', 'old@example.test', '{}', 0, ?, 'x', 'c', 1)`)
      .run('0000000aaaaaaaaaaaaa', oldBody.length).lastInsertRowid
    old.prepare('INSERT INTO message_raw (seq, raw) VALUES (?, ?)').run(seq, oldBody)
    old.prepare('UPDATE message_counts SET total = 1, unread = 1').run()
    old.close()

    store = createMessageStore(path)
    expect(store.rawBytes()).toEqual({ original: oldBody.length, stored: oldBody.length })
    const newBody = Buffer.from(`${oldBody.toString()}new\r\n`)
    const added = await store.insert(Buffer.from(newBody), makeEnvelope())
    const rows = rawRows(path)
    expect(rows.map((r) => r.codec)).toEqual([null, 'zstd'])
    expect(store.getRaw('0000000aaaaaaaaaaaaa')?.equals(oldBody)).toBe(true)
    expect(store.getRaw(added.id)?.equals(newBody)).toBe(true)
    await store.close()
    store = null

    // The CLI export reads both kinds of row and writes the original bytes.
    const out = join(dir, 'eml')
    const io = { stdout: new PassThrough(), stderr: new PassThrough() }
    expect(await runExport(['--format', 'eml', '--db', path, out], {}, io)).toBe(0)
    expect(readFileSync(join(out, '0000000aaaaaaaaaaaaa.eml')).equals(oldBody)).toBe(true)
    expect(readFileSync(join(out, `${added.id}.eml`)).equals(newBody)).toBe(true)
  })

  it('gives the index queue the original bytes of a compressed row', async () => {
    const path = join(dir, 'q.db')
    store = createMessageStore(path)
    const body = samples()[0]!
    await store.insert(Buffer.from(body), makeEnvelope())
    const ro = openDatabase(path, { migrate: false, readonly: true })
    try {
      expect(createIndexQueue(ro).unindexed(5)[0]?.raw.equals(body)).toBe(true)
    } finally {
      ro.close()
    }
  })

  it('rejects a --compression level outside 0..3', () => {
    expect(loadConfig([], {}).compression).toBe(1)
    expect(loadConfig(['--compression', '0'], {}).compression).toBe(0)
    expect(loadConfig([], { HOLDMAIL_COMPRESSION: '3' }).compression).toBe(3)
    expect(() => loadConfig(['--compression', '4'], {})).toThrow(/--compression: expected 0 \(off\) to 3/)
    expect(() => loadConfig(['--compression', 'fast'], {})).toThrow(/--compression/)
  })
})

describe('compressed storage through the server', () => {
  it('serves the exact bytes over the raw endpoint and .eml download, and shows both sizes in /api/v1/info', async () => {
    const app = await startTestApp()
    try {
      const data = samples()[0]!
      const id = queuedId(await rawSend(app.smtpPort, { from: 'a@sender.test', to: ['trap@holdmail.test'], data }))
      const expected = withCrlf(data)
      expect((await app.raw(id)).equals(expected)).toBe(true)
      const dl = await fetch(`${app.baseUrl}/api/v1/message/${id}/raw?dl=1`)
      expect(Buffer.from(await dl.arrayBuffer()).equals(expected)).toBe(true)
      const info = await app.api<{ RawBytes: { Original: number; Stored: number } }>('/api/v1/info')
      expect(info.body.RawBytes.Original).toBe(expected.length)
      expect(info.body.RawBytes.Stored).toBeGreaterThan(0)
      expect(info.body.RawBytes.Stored).toBeLessThan(expected.length / 3)
      // the indexer parsed the original bytes
      await app.running.indexer.idle()
      const msg = await app.api<{ Subject: string }>(`/api/v1/message/${id}`)
      expect(msg.body.Subject).toBe('compressible')
    } finally {
      await app.stop()
    }
  }, 90_000)
})
