import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RawSmtp, queuedId, startTestApp, withCrlf, type TestApp } from '../helpers/test-app.js'

// Real mail nobody on this project wrote (../shared/corpus, present in CI, absent in a user's clone).
const CORPUS = join(import.meta.dirname, '..', '..', '..', 'shared', 'corpus', 'messages')
const present = existsSync(CORPUS)
if (!present) console.warn(`corpus test skipped: ${CORPUS} is absent`)

// What an SMTP client puts on the wire: CRLF line endings (the files mostly ship with LF), then
// dot-stuffing (RFC 5321 §4.5.2). The server must store the CRLF form, dots un-stuffed.
function onTheWire(file: Buffer): { wire: Buffer; stored: Buffer } {
  const crlf = withCrlf(Buffer.from(file.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1'))
  const wire = Buffer.from(crlf.toString('latin1').replace(/(^|\r\n)\./g, '$1..'), 'latin1')
  return { wire, stored: crlf }
}

describe.skipIf(!present)('real-mail corpus', () => {
  let app: TestApp
  beforeAll(async () => {
    app = await startTestApp()
  })
  afterAll(() => app.stop())

  it('stores every corpus message byte-exact and serves its raw bytes back', async () => {
    const files = readdirSync(CORPUS).filter((f) => f.endsWith('.eml')).sort()
    expect(files.length).toBeGreaterThan(100)
    const c = await RawSmtp.open(app.smtpPort)
    await c.command('EHLO corpus.example.test')
    const stored = new Map<string, { file: string; bytes: Buffer }>()
    for (const file of files) {
      const { wire, stored: bytes } = onTheWire(readFileSync(join(CORPUS, file)))
      expect(await c.command('MAIL FROM:<corpus@example.test> BODY=8BITMIME')).toMatch(/^250/)
      expect(await c.command('RCPT TO:<trap@example.test>')).toMatch(/^250/)
      expect(await c.command('DATA')).toMatch(/^354/)
      c.write(Buffer.concat([wire, Buffer.from('.\r\n')]))
      const reply = await c.reply()
      expect(reply, file).toMatch(/^250 /)
      stored.set(queuedId(reply), { file, bytes })
    }
    c.close()
    for (const [id, { file, bytes }] of stored) {
      expect((await app.raw(id)).equals(bytes), file).toBe(true)
    }
    // and every one of them is indexed or marked unparsed, none dropped or stuck
    await app.running.indexer.idle()
    const list = await app.api<{ total: number; messages: { Indexed: boolean }[] }>('/api/v1/messages?limit=1000')
    expect(list.body.total).toBe(files.length)
    expect(list.body.messages.every((m) => m.Indexed)).toBe(true)
  })
})
