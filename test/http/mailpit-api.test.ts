import { MailpitClient } from 'mailpit-api'
import nodemailer from 'nodemailer'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestApp, type TestApp } from '../helpers/test-app.js'

// Mailpit's own client library, unchanged, against holdmail.
describe('mailpit-api client', () => {
  let app: TestApp
  let mailpit: MailpitClient
  beforeAll(async () => {
    app = await startTestApp()
    mailpit = new MailpitClient(app.baseUrl)
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: app.smtpPort, ignoreTLS: true })
    await transport.sendMail({ from: 'Alice <alice@shop.example>', to: 'bob@example.test', subject: 'Welcome Bob', text: 'Welcome aboard', headers: { 'X-Campaign': 'spring' } })
    await transport.sendMail({ from: 'carol@news.example', to: 'dave@example.test', subject: 'Newsletter 42', html: '<h1>News</h1><p>Read more</p>', attachments: [{ filename: 'report.csv', content: 'a,b\n1,2\n' }] })
    await transport.sendMail({ from: 'alice@shop.example', to: 'erin@example.test', subject: 'Receipt', text: 'Thanks for your order' })
    transport.close()
    await app.running.indexer.idle()
  })
  afterAll(() => app.stop())

  it('reads info and lists messages newest first', async () => {
    const info = await mailpit.getInfo()
    expect(info.Messages).toBe(3)
    expect(info.Unread).toBe(3)
    const list = await mailpit.listMessages()
    expect(list.total).toBe(3)
    expect(list.messages.map((m) => m.Subject)).toEqual(['Receipt', 'Newsletter 42', 'Welcome Bob'])
    expect(list.messages[1]!.Attachments).toBe(1)
    const page = await mailpit.listMessages(1, 1)
    expect(page.messages.map((m) => m.Subject)).toEqual(['Newsletter 42'])
    expect(page.start).toBe(1)
  })

  it('reads a message, its headers and its source', async () => {
    const summary = await mailpit.getMessageSummary() // "latest"
    expect(summary.Subject).toBe('Receipt')
    expect(summary.From).toEqual({ Name: '', Address: 'alice@shop.example' })
    expect(summary.Text.trim()).toBe('Thanks for your order')
    const welcome = (await mailpit.searchMessages({ query: 'subject:"Welcome Bob"' })).messages[0]!
    const headers = await mailpit.getMessageHeaders(welcome.ID)
    expect(headers['X-Campaign']).toEqual(['spring'])
    expect(headers['Subject']).toEqual(['Welcome Bob'])
    const source = await mailpit.getMessageSource(welcome.ID)
    expect(source).toContain('X-Campaign: spring\r\n')
    const news = (await mailpit.searchMessages({ query: 'has:attachment' })).messages
    expect(news.map((m) => m.Subject)).toEqual(['Newsletter 42'])
    const full = await mailpit.getMessageSummary(news[0]!.ID)
    const blob = await mailpit.getMessageAttachment(news[0]!.ID, full.Attachments[0]!.PartID)
    expect(await blob.text()).toBe('a,b\n1,2\n')
    expect(await mailpit.renderMessageHTML(news[0]!.ID)).toContain('<h1>News</h1>')
  })

  it('searches with Mailpit syntax and waits for a message', async () => {
    expect((await mailpit.searchMessages({ query: 'from:alice@shop.example' })).messages_count).toBe(2)
    expect((await mailpit.searchMessages({ query: 'from:alice -subject:receipt' })).messages.map((m) => m.Subject)).toEqual(['Welcome Bob'])
    expect((await mailpit.searchMessages({ query: 'to:dave' })).messages.map((m) => m.Subject)).toEqual(['Newsletter 42'])
    expect((await mailpit.searchMessages({ query: 'welcome' })).messages.map((m) => m.Subject)).toEqual(['Welcome Bob'])
    const waited = await mailpit.waitForMessage({ query: 'subject:Newsletter' }, { timeout: 2000, interval: 50 })
    expect(waited.Subject).toBe('Newsletter 42')
  })

  it('marks read, tags, and deletes', async () => {
    const list = await mailpit.listMessages()
    const ids = list.messages.map((m) => m.ID)
    // opening messages above marked them read, as Mailpit does; start from all unread
    expect(await mailpit.setReadStatus({ Read: false })).toBe('ok')
    expect((await mailpit.getInfo()).Unread).toBe(3)
    expect(await mailpit.setReadStatus({ IDs: [ids[0]!], Read: true })).toBe('ok')
    expect((await mailpit.searchMessages({ query: 'is:unread' })).messages_count).toBe(2)
    await mailpit.setTags({ IDs: [ids[0]!, ids[1]!], Tags: ['campaign-x', 'Review'] })
    expect(await mailpit.getTags()).toEqual(['campaign-x', 'Review'])
    expect((await mailpit.searchMessages({ query: 'tag:campaign-x' })).messages_count).toBe(2)
    await mailpit.renameTag('Review', 'reviewed')
    expect(await mailpit.getTags()).toEqual(['campaign-x', 'reviewed'])
    await mailpit.deleteTag('campaign-x')
    expect(await mailpit.getTags()).toEqual(['reviewed'])

    await mailpit.deleteMessagesBySearch({ query: 'from:carol' })
    expect((await mailpit.listMessages()).total).toBe(2)
    await mailpit.deleteMessages({ IDs: [ids[0]!] })
    expect((await mailpit.listMessages()).messages.map((m) => m.ID)).toEqual([ids[2]])
    await mailpit.deleteMessages()
    expect((await mailpit.getInfo()).Messages).toBe(0)
  })

  it('gives JSON errors a person can act on', async () => {
    const missing = await app.api<{ error: { code: string; message: string } }>('/api/v1/message/nope')
    expect(missing.status).toBe(404)
    expect(missing.body.error.code).toBe('NOT_FOUND')
    const bad = await app.api<{ error: { code: string; message: string } }>('/api/v1/search?query=' + encodeURIComponent('ip:300.1.1.1'))
    expect(bad.status).toBe(400)
    expect(bad.body.error.message).toContain('ip:')
    const badBody = await fetch(`${app.baseUrl}/api/v1/messages`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{nope' })
    expect(badBody.status).toBe(400)
    const spec = await app.api<{ openapi: string; paths: Record<string, unknown> }>('/api/v1/openapi.json')
    expect(spec.body.openapi).toMatch(/^3\./)
    expect(Object.keys(spec.body.paths)).toEqual(expect.arrayContaining(['/api/v1/messages', '/api/v1/message/{ID}/raw', '/api/v1/search']))
  })
})
