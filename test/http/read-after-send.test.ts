import { MailpitClient } from 'mailpit-api'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import nodemailer, { type Transporter } from 'nodemailer'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Analyser } from '../../src/mail/index.js'
import { startTestApp, type TestApp } from '../helpers/test-app.js'

// A developer's test sends a message and reads it back at once through a Mailpit client. holdmail
// answers 250 before parsing, so the API lets the indexer catch up first: the subject, addresses
// and search hits of every message that got its 250 are there, with no wait in the client.
// (Before this, 99 of 100 such lists showed an empty subject.)
describe.each([
  ['a database file (indexer thread)', true],
  [':memory: (indexer in-process)', false],
])('reading right after sending, %s', (_name, onDisk) => {
  let dir: string
  let app: TestApp
  let mailpit: MailpitClient
  let transport: Transporter
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'holdmail-ryw-'))
    app = await startTestApp(onDisk ? ['--db', join(dir, 'h.db')] : [])
    mailpit = new MailpitClient(app.baseUrl)
    transport = nodemailer.createTransport({ host: '127.0.0.1', port: app.smtpPort, ignoreTLS: true, pool: true })
  })
  afterAll(async () => {
    transport.close()
    await app.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('lists, searches and reads each message with its subject as soon as the 250 is in', async () => {
    for (let i = 0; i < 25; i++) {
      const subject = `Order ${i} confirmed`
      await transport.sendMail({ from: `Shop <shop${i}@store.example>`, to: 'customer@example.test', subject, text: `Thanks for order number ${i}` })
      const list = await mailpit.listMessages(0, 1)
      expect(list.messages[0]!.Subject).toBe(subject)
      expect(list.messages[0]!.From).toEqual({ Name: 'Shop', Address: `shop${i}@store.example` })
      const found = await mailpit.searchMessages({ query: `subject:"Order ${i} confirmed"` })
      expect(found.messages_count).toBe(1)
      const words = await mailpit.searchMessages({ query: `number ${i}` })
      expect(words.messages.map((m) => m.Subject)).toContain(subject)
      const latest = await mailpit.getMessageSummary()
      expect(latest.Subject).toBe(subject)
      expect(latest.Text.trim()).toBe(`Thanks for order number ${i}`)
    }
  })
})

describe('reading while the indexer is stuck', () => {
  let app: TestApp
  let release: () => void = () => {}
  const stuck = new Promise<void>((r) => (release = r))
  beforeAll(async () => {
    // an analyser that never finishes until the test lets it: the message stays unindexed
    const hang: Analyser = () => stuck
    app = await startTestApp([], { analysers: [hang], settleMaxWaitMs: 300 })
  })
  afterAll(async () => {
    release()
    await app.stop()
  })

  it('answers anyway after a bounded wait: the list from the envelope, the message parsed for the answer', async () => {
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: app.smtpPort, ignoreTLS: true })
    await transport.sendMail({ from: 'late@example.test', to: 'x@example.test', subject: 'Not yet parsed', text: 'x' })
    transport.close()
    const list = await app.api<{ messages: { Subject: string; Indexed: boolean; MailFrom: string }[] }>('/api/v1/messages')
    expect(list.status).toBe(200)
    expect(list.body.messages).toHaveLength(1)
    expect(list.body.messages[0]).toMatchObject({ Indexed: false, Subject: '', MailFrom: 'late@example.test' })
    // the message itself is parsed for the answer (headers and bodies), without analysis
    const one = await app.api<{ Subject: string; From: { Address: string }; Text: string }>('/api/v1/message/latest')
    expect(one.body).toMatchObject({ Subject: 'Not yet parsed', From: { Address: 'late@example.test' } })
    expect(one.body.Text.trim()).toBe('x')
    release()
    await app.running.indexer.idle()
    const after = await app.api<{ messages: { Subject: string; Indexed: boolean }[] }>('/api/v1/messages')
    expect(after.body.messages[0]).toMatchObject({ Indexed: true, Subject: 'Not yet parsed' })
  })
})
