import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { queuedId, rawSend, startTestApp, withCrlf } from '../helpers/test-app.js'

describe('restart', () => {
  const dir = mkdtempSync(join(tmpdir(), 'holdmail-restart-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('keeps every message, its envelope, read state, tags and TLS certificate across a restart', async () => {
    const flags = ['--db', join(dir, 'holdmail.db')]
    const first = await startTestApp(flags)
    const sent = new Map<string, Buffer>()
    for (let i = 0; i < 5; i++) {
      const data = `From: a@example.test\r\nSubject: keep ${i}\r\n\r\nbody ${i}\r\n`
      const reply = await rawSend(first.smtpPort, { from: `s${i}@example.test`, to: [`r${i}@example.test`], data })
      sent.set(queuedId(reply), withCrlf(data))
    }
    const ids = [...sent.keys()]
    await first.api('/api/v1/tags', { method: 'PUT', body: { IDs: [ids[0]], Tags: ['kept'] } })
    await first.api('/api/v1/messages', { method: 'PUT', body: { IDs: [ids[1]], Read: true } })
    const cert = await import('node:fs').then((fs) => fs.readFileSync(first.running.tlsCertPath!, 'utf8'))
    await first.stop()

    const second = await startTestApp(flags)
    try {
      const list = await second.api<{ total: number; messages: { ID: string; Read: boolean; Tags: string[]; MailFrom: string }[] }>('/api/v1/messages')
      expect(list.body.total).toBe(5)
      for (const [id, bytes] of sent) expect(await second.raw(id)).toEqual(bytes)
      const byId = new Map(list.body.messages.map((m) => [m.ID, m]))
      expect(byId.get(ids[0]!)!.Tags).toEqual(['kept'])
      expect(byId.get(ids[1]!)!.Read).toBe(true)
      expect(byId.get(ids[2]!)!.MailFrom).toBe('s2@example.test')
      const certAgain = await import('node:fs').then((fs) => fs.readFileSync(second.running.tlsCertPath!, 'utf8'))
      expect(certAgain).toBe(cert)
    } finally {
      await second.stop()
    }
  })
})
