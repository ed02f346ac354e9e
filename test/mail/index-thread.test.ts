import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { rawSend, startTestApp } from '../helpers/test-app.js'

describe('indexer thread (database files)', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'holdmail-index-'))
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  it('indexes mail received over SMTP: subject, addresses, search, analysis', async () => {
    const app = await startTestApp(['--db', join(dir, 'h.db')])
    try {
      const reply = await rawSend(app.smtpPort, {
        from: '',
        to: ['trap@example.test'],
        data:
          'From: MAILER-DAEMON@mx.example.test\r\nTo: trap@example.test\r\nSubject: Undelivered Mail Returned to Sender\r\n' +
          'MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nThis is the mail system at host mx.example.test.\r\n' +
          "I'm sorry to have to inform you that your message could not be delivered to one or more recipients.\r\n",
      })
      const id = /queued as (\S+)/.exec(reply)![1]!
      await app.running.indexer.idle()
      const m = await app.api<{ Subject: string; From: { Address: string } }>(`/api/v1/message/${id}`)
      expect(m.body.Subject).toBe('Undelivered Mail Returned to Sender')
      expect(m.body.From.Address).toBe('MAILER-DAEMON@mx.example.test')
      const found = await app.api<{ messages_count: number }>('/api/v1/search?query=undelivered')
      expect(found.body.messages_count).toBe(1)
      const bounces = await app.api<{ messages_count: number }>('/api/v1/search?query=kind:bounce')
      expect(bounces.body.messages_count).toBe(1) // the content analyser ran in the thread
    } finally {
      await app.stop()
    }
  })
})
