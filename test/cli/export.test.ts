import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inflateRawSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { dotStuff, queuedId, rawSend, startTestApp, type TestApp } from '../helpers/test-app.js'

const MAIN = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js') // built by `npm test`

function holdmail(args: string[]): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => out.push(d))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr }))
  })
}

// Messages that exercise the mbox quoting and the bytes around it.
const SAMPLES: { from: string; subject: string; body: string }[] = [
  { from: 'bulk@shady.example', subject: 'quoted lines', body: 'From the start\r\n>From already quoted\r\n' },
  { from: '', subject: 'null sender', body: 'bounce body\r\n' },
  { from: 'bulk@shady.example', subject: 'third', body: 'caf\xe9 8-bit\r\n' },
  { from: 'other@legit.example', subject: 'not matched', body: 'hello\r\n' },
]

/** The files of a zip, read through its central directory (APPNOTE 4.3.12), as unzip does. */
function unzip(zip: Buffer): Map<string, Buffer> {
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]))
  const count = zip.readUInt16LE(eocd + 10)
  let at = zip.readUInt32LE(eocd + 16)
  const files = new Map<string, Buffer>()
  for (let i = 0; i < count; i++) {
    const method = zip.readUInt16LE(at + 10)
    const size = zip.readUInt32LE(at + 20)
    const nameLength = zip.readUInt16LE(at + 28)
    const skip = nameLength + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32)
    const local = zip.readUInt32LE(at + 42)
    const name = zip.toString('utf8', at + 46, at + 46 + nameLength)
    const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28)
    const data = zip.subarray(start, start + size)
    files.set(name, method === 8 ? inflateRawSync(data) : data)
    at += 46 + skip
  }
  return files
}

describe('holdmail export', () => {
  const dir = mkdtempSync(join(tmpdir(), 'holdmail-export-'))
  const db = join(dir, 'holdmail.db')
  let app: TestApp
  const sent = new Map<string, Buffer>() // ID -> bytes
  const shady = new Set<string>() // IDs that QUERY matches
  const QUERY = 'mailfrom:shady.example'

  beforeAll(async () => {
    app = await startTestApp(['--db', db])
    for (const s of SAMPLES) {
      const raw = Buffer.from(`From: <x@example.test>\r\nTo: <v@example.test>\r\nSubject: ${s.subject}\r\n\r\n${s.body}`, 'latin1')
      const id = queuedId(await rawSend(app.smtpPort, { from: s.from, to: ['v@example.test'], data: dotStuff(raw) }))
      sent.set(id, raw)
      if (s.from.endsWith('@shady.example')) shady.add(id)
    }
    for (const id of [...sent.keys()].slice(0, 3)) expect(await app.raw(id)).toEqual(sent.get(id))
  })

  afterAll(async () => {
    await app?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  const http = async (path: string): Promise<Buffer> => Buffer.from(await (await fetch(`${app.baseUrl}${path}`)).arrayBuffer())

  it('writes the same mbox bytes as the HTTP export, for everything and for a search, while the server runs', async () => {
    const all = await holdmail(['export', '--db', db, '--format', 'mbox', '-'])
    expect(all.code, all.stderr).toBe(0)
    expect(all.stdout.equals(await http('/api/v1/export?format=mbox'))).toBe(true)
    expect(all.stdout.toString('latin1')).toContain('\n>From the start\r\n>>From already quoted\r\n')
    expect(all.stderr).toContain('4 messages')

    const file = join(dir, 'shady.mbox')
    const some = await holdmail(['export', '--db', db, '--format', 'mbox', '--query', QUERY, file])
    expect(some.code, some.stderr).toBe(0)
    const bytes = readFileSync(file)
    expect(bytes.equals(await http(`/api/v1/export?format=mbox&query=${encodeURIComponent(QUERY)}`))).toBe(true)
    expect(bytes.toString('latin1').match(/^From /gm)).toHaveLength(2)

    // an existing file is never overwritten
    const again = await holdmail(['export', '--db', db, '--format', 'mbox', file])
    expect(again.code).toBe(1)
    expect(again.stderr).toContain('EEXIST')
  })

  it('writes .eml files and a Maildir with the stored bytes', async () => {
    const emlDir = join(dir, 'eml')
    const r = await holdmail(['export', '--db', db, '--format', 'eml', '--query', QUERY, emlDir])
    expect(r.code, r.stderr).toBe(0)
    const names = readdirSync(emlDir).sort()
    expect(names).toHaveLength(2)
    for (const name of names) expect(readFileSync(join(emlDir, name)).equals(sent.get(name.replace(/\.eml$/, ''))!)).toBe(true)

    const md = join(dir, 'Maildir')
    const m = await holdmail(['export', '--db', db, '--format', 'maildir', md])
    expect(m.code, m.stderr).toBe(0)
    expect(readdirSync(join(md, 'tmp'))).toEqual([])
    const files = readdirSync(join(md, 'cur'))
    expect(files).toHaveLength(4)
    for (const f of files) {
      const id = /^\d+\.([A-Za-z0-9]+)\.holdmail:2,$/.exec(f)?.[1]
      expect(id, f).toBeDefined()
      expect(readFileSync(join(md, 'cur', f)).equals(sent.get(id!)!)).toBe(true)
    }
  })

  it('writes a zip whose .eml entries are byte for byte the HTTP zip\'s (the manifest carries its own time)', async () => {
    const file = join(dir, 'out.zip')
    const r = await holdmail(['export', '--db', db, '--format', 'zip', '--query', QUERY, file])
    expect(r.code, r.stderr).toBe(0)
    const cli = readFileSync(file)
    const web = await http(`/api/v1/export?format=zip&query=${encodeURIComponent(QUERY)}`)
    // Everything before manifest.json's local header (30 bytes before its name) is the .eml entries.
    const cut = (zip: Buffer): number => zip.indexOf('manifest.json') - 30
    expect(cut(cli)).toBeGreaterThan(0)
    expect(cli.subarray(0, cut(cli)).equals(web.subarray(0, cut(web)))).toBe(true)
    const files = unzip(cli)
    expect([...files.keys()].sort()).toEqual([...[...shady].map((id) => `${id}.eml`), 'manifest.json'].sort())
    for (const id of shady) expect(files.get(`${id}.eml`)!.equals(sent.get(id)!), id).toBe(true)
    const manifest = JSON.parse(files.get('manifest.json')!.toString()) as { ID: string; Envelope: { MailFrom: string } }[]
    const webManifest = JSON.parse(unzip(web).get('manifest.json')!.toString()) as unknown
    expect(manifest).toEqual(webManifest) // the same entries, whoever wrote them
    expect(manifest.map((m) => m.Envelope.MailFrom)).toEqual(['bulk@shady.example', 'bulk@shady.example'])
  })

  it('rejects a bad search and a missing database with a clear message', async () => {
    const bad = await holdmail(['export', '--db', db, '--format', 'mbox', '--query', 'ip:not-an-ip', join(dir, 'x.mbox')])
    expect(bad.code).toBe(1)
    expect(bad.stderr).toContain('ip: expected an IP address')
    const missing = await holdmail(['export', '--db', join(dir, 'nope.db'), '--format', 'mbox', '-'])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain(`--db ${join(dir, 'nope.db')}: no such database`)
  })
})
