import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { inflateRawSync } from 'node:zlib'
import { dotStuff, queuedId, rawSend, startTestApp, type TestApp } from '../helpers/test-app.js'

// Exports are checked by parsing them back: the mbox with an mboxrd reader, the zip with a small
// central-directory reader (ZIP64 included), comparing bytes with what was sent.

let app: TestApp
beforeEach(async () => {
  app = await startTestApp()
})
afterEach(() => app.stop())

/** A message whose body has lines an mbox reader would take for separators, quoted and not. */
function sample(i: number, from = `sender${i}@example.test`): Buffer {
  return Buffer.from(
    [
      `From: Sender ${i} <${from}>`,
      `To: rcpt${i}@example.test`,
      `Subject: export sample ${i}`,
      `Message-ID: <export-${i}@example.test>`,
      '',
      `Body of message ${i}.`,
      'From the start of a line, this must be quoted.',
      '>From an already quoted line, this gets one more.',
      '>>From deeper still.',
      ' From with a leading space is left alone.',
      'From', // no space after: not a separator
      '',
      'last line',
      '',
    ].join('\r\n'),
    'latin1',
  )
}

async function sendMany(n: number): Promise<{ id: string; raw: Buffer; from: string }[]> {
  const out: { id: string; raw: Buffer; from: string }[] = []
  for (let i = 0; i < n; i++) {
    const from = i % 3 === 0 ? '' : `env${i}@example.test`
    const raw = sample(i)
    const reply = await rawSend(app.smtpPort, { from, to: [`rcpt${i}@example.test`], data: dotStuff(raw) })
    out.push({ id: queuedId(reply), raw, from })
  }
  return out
}

/** mboxrd reader: split at "From " lines that follow a blank line (or start the file), un-quote ">From ". */
function parseMboxrd(data: Buffer): { fromLine: string; raw: Buffer }[] {
  const text = data.toString('latin1')
  const lines = text.split(/(?<=\n)/)
  const messages: { fromLine: string; lines: string[] }[] = []
  let prevBlank = true
  for (const line of lines) {
    if (prevBlank && line.startsWith('From ')) {
      messages.push({ fromLine: line.replace(/\r?\n$/, ''), lines: [] })
    } else {
      const cur = messages[messages.length - 1]
      if (!cur) throw new Error('mbox does not start with a From line')
      cur.lines.push(/^>+From /.test(line) ? line.slice(1) : line)
    }
    prevBlank = line === '\n' || line === '\r\n'
  }
  return messages.map((m) => {
    // The writer ends each message with one blank line of its own: drop it.
    const last = m.lines.pop()
    expect(last).toBe('\n')
    return { fromLine: m.fromLine, raw: Buffer.from(m.lines.join(''), 'latin1') }
  })
}

interface ZipEntry {
  name: string
  data: Buffer
}

/** Reads a zip through its central directory, as unzip does; handles ZIP64 end records. */
function readZip(zip: Buffer): ZipEntry[] {
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]))
  expect(eocd).toBeGreaterThan(-1)
  let count = zip.readUInt16LE(eocd + 10)
  let cdOffset = zip.readUInt32LE(eocd + 16)
  if (count === 0xffff || cdOffset === 0xffffffff) {
    const loc = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x06, 0x07]))
    const z64 = Number(zip.readBigUInt64LE(loc + 8))
    count = Number(zip.readBigUInt64LE(z64 + 32))
    cdOffset = Number(zip.readBigUInt64LE(z64 + 48))
  }
  const entries: ZipEntry[] = []
  let p = cdOffset
  for (let i = 0; i < count; i++) {
    expect(zip.readUInt32LE(p)).toBe(0x02014b50)
    const method = zip.readUInt16LE(p + 10)
    let compSize = zip.readUInt32LE(p + 20)
    const nameLen = zip.readUInt16LE(p + 28)
    const extraLen = zip.readUInt16LE(p + 30)
    const commentLen = zip.readUInt16LE(p + 32)
    let localOffset = zip.readUInt32LE(p + 42)
    const name = zip.subarray(p + 46, p + 46 + nameLen).toString('utf8')
    // ZIP64 extra field (0x0001) carries the sizes/offset that overflowed 32 bits.
    let e = p + 46 + nameLen
    const extraEnd = e + extraLen
    while (e < extraEnd) {
      const id = zip.readUInt16LE(e)
      const size = zip.readUInt16LE(e + 2)
      if (id === 0x0001) {
        let q = e + 4
        const uncomp = zip.readUInt32LE(p + 24)
        if (uncomp === 0xffffffff) q += 8
        if (compSize === 0xffffffff) {
          compSize = Number(zip.readBigUInt64LE(q))
          q += 8
        }
        if (localOffset === 0xffffffff) localOffset = Number(zip.readBigUInt64LE(q))
      }
      e += 4 + size
    }
    const lNameLen = zip.readUInt16LE(localOffset + 26)
    const lExtraLen = zip.readUInt16LE(localOffset + 28)
    const start = localOffset + 30 + lNameLen + lExtraLen
    const stored = zip.subarray(start, start + compSize)
    entries.push({ name, data: method === 8 ? inflateRawSync(stored) : Buffer.from(stored) })
    p = extraEnd + commentLen
  }
  return entries
}

describe('GET /api/v1/export', () => {
  it('mbox export of N messages parses back into N messages with the bytes that were sent', async () => {
    const sent = await sendMany(7)
    const res = await fetch(`${app.baseUrl}/api/v1/export?format=mbox`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^application\/mbox/)
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="holdmail-\d{8}T\d{6}Z\.mbox"$/)
    const body = Buffer.from(await res.arrayBuffer())
    // The quoting is really there in the file, not just undone by the reader.
    expect(body.toString('latin1')).toContain('\r\n>From the start of a line')
    expect(body.toString('latin1')).toContain('\r\n>>From an already quoted')
    expect(body.toString('latin1')).toContain('\r\n>>>From deeper')
    const parsed = parseMboxrd(body)
    expect(parsed).toHaveLength(sent.length)
    // Export order is store order (oldest first).
    parsed.forEach((p, i) => {
      expect(p.raw.equals(sent[i]!.raw)).toBe(true)
      expect(p.fromLine).toMatch(new RegExp(`^From ${sent[i]!.from || 'MAILER-DAEMON'} \\w{3} \\w{3} [ \\d]\\d \\d\\d:\\d\\d:\\d\\d \\d{4}$`))
    })
  })

  it('exports only the search matches, or only the given IDs', async () => {
    const sent = await sendMany(5)
    await app.running.indexer.idle()
    const bySearch = await fetch(`${app.baseUrl}/api/v1/export?format=mbox&query=${encodeURIComponent('mailfrom:env1@')}`)
    const fromSearch = parseMboxrd(Buffer.from(await bySearch.arrayBuffer()))
    expect(fromSearch).toHaveLength(1)
    expect(fromSearch[0]!.raw.equals(sent[1]!.raw)).toBe(true)

    const ids = [sent[4]!.id, sent[2]!.id, 'NoSuchMessage000000']
    const byIds = await fetch(`${app.baseUrl}/api/v1/export?format=mbox&ids=${ids.join(',')}`)
    const fromIds = parseMboxrd(Buffer.from(await byIds.arrayBuffer()))
    expect(fromIds.map((m) => m.raw)).toEqual([sent[4]!.raw, sent[2]!.raw])
  })

  it('zip export lists N .eml files plus manifest.json, each .eml equal to the raw endpoint', async () => {
    const sent = await sendMany(6)
    const res = await fetch(`${app.baseUrl}/api/v1/export?format=zip`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/zip')
    expect(res.headers.get('content-disposition')).toMatch(/\.zip"$/)
    const entries = readZip(Buffer.from(await res.arrayBuffer()))
    const names = entries.map((e) => e.name)
    expect(names.filter((n) => n.endsWith('.eml'))).toHaveLength(sent.length)
    expect(names).toContain('manifest.json')
    for (const s of sent) {
      const entry = entries.find((e) => e.name === `${s.id}.eml`)
      expect(entry, `${s.id}.eml in the zip`).toBeDefined()
      expect(entry!.data.equals(await app.raw(s.id))).toBe(true)
      expect(entry!.data.equals(s.raw)).toBe(true)
    }
    const manifest = JSON.parse(entries.find((e) => e.name === 'manifest.json')!.data.toString('utf8')) as {
      ID: string
      File: string
      Envelope: { MailFrom: string; RcptTo: string[]; ClientIP: string }
    }[]
    expect(manifest.map((m) => m.ID)).toEqual(sent.map((s) => s.id))
    manifest.forEach((m, i) => {
      expect(m.File).toBe(`${sent[i]!.id}.eml`)
      expect(m.Envelope.MailFrom).toBe(sent[i]!.from)
      expect(m.Envelope.RcptTo).toEqual([`rcpt${i}@example.test`])
      expect(m.Envelope.ClientIP).toBe('127.0.0.1')
    })
  })

  it('an empty result is a valid empty mbox and an empty zip with an empty manifest', async () => {
    const mbox = await fetch(`${app.baseUrl}/api/v1/export?format=mbox`)
    expect(mbox.status).toBe(200)
    expect((await mbox.arrayBuffer()).byteLength).toBe(0)
    const zip = await fetch(`${app.baseUrl}/api/v1/export?format=zip`)
    const entries = readZip(Buffer.from(await zip.arrayBuffer()))
    expect(entries.map((e) => e.name)).toEqual(['manifest.json'])
    expect(JSON.parse(entries[0]!.data.toString('utf8'))).toEqual([])
  })

  it('rejects a bad search or format with a JSON 400 before any download starts', async () => {
    const bad = await app.api<{ error: { code: string; message: string } }>('/api/v1/export?query=is:nonsense')
    expect(bad.status).toBe(400)
    expect(bad.body.error.code).toBe('BAD_QUERY')
    const format = await app.api<{ error: { code: string } }>('/api/v1/export?format=tar')
    expect(format.status).toBe(400)
    const ids = await app.api<{ error: { code: string } }>('/api/v1/export?ids=' + encodeURIComponent('a;b'))
    expect(ids.status).toBe(400)
  })

  it('survives a client that aborts a large zip download half way', async () => {
    // 300 messages of 64 KiB = ~19 MiB; the client reads a little and then aborts.
    const big = Buffer.alloc(64 * 1024, 'x')
    const raw = Buffer.concat([Buffer.from('Subject: big\r\n\r\n'), Buffer.from(big.toString('latin1').replace(/(.{76})/g, '$1\r\n'))])
    for (let i = 0; i < 300; i++) await app.running.store.insert(raw, envelopeFor(i))
    const controller = new AbortController()
    const res = await fetch(`${app.baseUrl}/api/v1/export?format=zip`, { signal: controller.signal })
    const reader = res.body!.getReader()
    let got = 0
    while (got < 256 * 1024) {
      const { value, done } = await reader.read()
      if (done) break
      got += value.byteLength
    }
    controller.abort()
    await reader.cancel().catch(() => undefined)
    // The server is still healthy afterwards and a full export still works.
    const full = await fetch(`${app.baseUrl}/api/v1/export?format=zip`)
    const entries = readZip(Buffer.from(await full.arrayBuffer()))
    expect(entries.filter((e) => e.name.endsWith('.eml'))).toHaveLength(300)
    expect(got).toBeGreaterThanOrEqual(256 * 1024)
  })
})

function envelopeFor(i: number): import('../../src/store/index.js').Envelope {
  return {
    receivedAt: Date.now() + i,
    listener: 'smtp',
    clientIp: '192.0.2.1',
    clientPort: 25,
    ipSource: 'connection',
    relayIp: null,
    relayPort: null,
    helo: 'bulk.example.test',
    clientHostname: null,
    tls: null,
    authUser: null,
    mailFrom: `bulk${i}@example.test`,
    mailFromParams: {},
    rcptTo: [{ address: 'trap@example.test', params: {} }],
    connectionId: 'test',
    transaction: i + 1,
    pregreet: false,
    tags: [],
  }
}
