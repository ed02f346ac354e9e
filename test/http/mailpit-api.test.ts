import { Jimp } from 'jimp'
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
    expect((await mailpit.renderMessageText(welcome.ID)).trim()).toBe('Welcome aboard')
  })

  it('searches with Mailpit syntax and waits for a message', async () => {
    expect((await mailpit.searchMessages({ query: 'from:alice@shop.example' })).messages_count).toBe(2)
    expect((await mailpit.searchMessages({ query: 'from:alice -subject:receipt' })).messages.map((m) => m.Subject)).toEqual(['Welcome Bob'])
    expect((await mailpit.searchMessages({ query: 'to:dave' })).messages.map((m) => m.Subject)).toEqual(['Newsletter 42'])
    expect((await mailpit.searchMessages({ query: 'welcome' })).messages.map((m) => m.Subject)).toEqual(['Welcome Bob'])
    const waited = await mailpit.waitForMessage({ query: 'subject:Newsletter' }, { timeout: 2000, interval: 50 })
    expect(waited.Subject).toBe('Newsletter 42')
    const all = await mailpit.waitForMessages({ query: 'from:alice', count: 2, exact: true }, { timeout: 2000, interval: 50 })
    expect(all.messages.map((m) => m.Subject)).toEqual(['Receipt', 'Welcome Bob'])
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

  it('stores a message sent through the API (never delivered) and returns its ID', async () => {
    const png = await new Jimp({ width: 40, height: 30, color: 0x3366ccff }).getBuffer('image/png')
    const { ID } = await mailpit.sendMessage({
      From: { Email: 'app@dev.example', Name: 'The App' },
      To: [{ Email: 'user+signup@example.test', Name: 'User' }],
      Cc: [{ Email: 'cc@example.test' }],
      Bcc: ['hidden@example.test'],
      ReplyTo: [{ Email: 'support@dev.example' }],
      Subject: 'Confirm your address',
      Text: 'Click the link to confirm',
      HTML: '<p>Click <a href="https://dev.example/c">here</a></p><img src="cid:logo">',
      Attachments: [
        { Content: Buffer.from('id,name\n1,x\n').toString('base64'), Filename: 'list.csv', ContentType: 'text/csv' },
        { Content: png.toString('base64'), Filename: 'logo.png', ContentType: 'image/png', ContentID: 'logo' },
      ],
      Headers: { 'X-Campaign': 'signup' },
      Tags: ['api-test'],
    })
    expect(ID).toMatch(/\S/)
    const m = await mailpit.getMessageSummary(ID)
    expect(m.Subject).toBe('Confirm your address')
    expect(m.From).toEqual({ Name: 'The App', Address: 'app@dev.example' })
    expect(m.To).toEqual([{ Name: 'User', Address: 'user+signup@example.test' }])
    expect(m.Cc).toEqual([{ Name: '', Address: 'cc@example.test' }])
    expect(m.Bcc.map((a) => a.Address)).toEqual(['hidden@example.test'])
    expect(m.ReplyTo).toEqual([{ Name: '', Address: 'support@dev.example' }])
    expect(m.Text.trim()).toBe('Click the link to confirm')
    expect(m.HTML).toContain('cid:logo')
    expect(m.Tags).toEqual(['api-test'])
    expect(m.Attachments.map((a) => a.FileName)).toEqual(['list.csv'])
    expect(m.Inline.map((a) => [a.FileName, a.ContentID])).toEqual([['logo.png', 'logo']])
    const csv = await mailpit.getMessageAttachment(ID, m.Attachments[0]!.PartID)
    expect(await csv.text()).toBe('id,name\n1,x\n')
    // a thumbnail of the image, a 404 JSON error for a part that is not one
    const thumb = await mailpit.getAttachmentThumbnail(ID, m.Inline[0]!.PartID)
    expect(thumb.type).toBe('image/jpeg')
    expect(Buffer.from(await thumb.arrayBuffer()).subarray(0, 3).toString('hex')).toBe('ffd8ff')
    await expect(mailpit.getAttachmentThumbnail(ID, m.Attachments[0]!.PartID)).rejects.toThrow(/404 .*not an image/)
    expect((await mailpit.getMessageHeaders(ID))['X-Campaign']).toEqual(['signup'])
    const source = await mailpit.getMessageSource(ID)
    expect(source).not.toMatch(/^Bcc:/im) // blind copies are in the envelope only
    const env = (await app.api<{ Envelope: { Listener: string; MailFrom: string; RcptTo: string[] } }>(`/api/v1/message/${ID}`)).body.Envelope
    expect(env.Listener).toBe('api')
    expect(env.MailFrom).toBe('app@dev.example')
    expect(env.RcptTo).toEqual(['user+signup@example.test', 'cc@example.test', 'hidden@example.test'])

    // no recipients, or a header that would replace a field: a 400 that says why
    const none = await app.api<{ error: { message: string } }>('/api/v1/send', { method: 'POST', body: { From: { Email: 'a@b.example' }, Subject: 'x' } })
    expect(none.status).toBe(400)
    expect(none.body.error.message).toContain('recipients')
    const bad = await app.api<{ error: { message: string } }>('/api/v1/send', { method: 'POST', body: { From: { Email: 'a@b.example' }, To: [{ Email: 'c@d.example' }], Headers: { Subject: 'x' } } })
    expect(bad.status).toBe(400)
    expect(bad.body.error.message).toContain('Subject')
    await mailpit.deleteMessages({ IDs: [ID] })
  })

  it("answers Mailpit's configuration, probes, 404 JSON for the checks holdmail does not have, and the SpamAssassin check", async () => {
    const cfg = await mailpit.getConfiguration()
    expect(cfg.MessageRelay.Enabled).toBe(false)
    expect(cfg.SpamAssassin).toBe(false)
    expect(cfg.ChaosEnabled).toBe(false)
    const live = await fetch(`${app.baseUrl}/livez`)
    expect([live.status, await live.text()]).toEqual([200, 'ok'])
    const ready = await fetch(`${app.baseUrl}/readyz`)
    expect([ready.status, await ready.text()]).toEqual([200, 'ok'])
    const { ID: checked } = await mailpit.sendMessage({ From: { Email: 'a@b.example' }, To: [{ Email: 'c@d.example' }], Subject: 'checks', HTML: '<p>hi</p>' })
    await expect(mailpit.htmlCheck(checked)).rejects.toThrow(/404 .*"code":"NOT_FOUND".*not part of holdmail/)
    await expect(mailpit.linkCheck(checked)).rejects.toThrow(/404 .*"code":"NOT_FOUND".*not part of holdmail/)
    // SpamAssassin's check (with --spamd) answers Mailpit's shape; without it, its Error says so
    expect((await mailpit.spamAssassinCheck(checked)).Error).toContain('SpamAssassin is not enabled')
    await mailpit.deleteMessages({ IDs: [checked] })
    // a PNG whose header claims 50 000 x 50 000 pixels is refused before it is decoded
    const ihdr = Buffer.alloc(13)
    ihdr.writeUInt32BE(50_000, 0)
    ihdr.writeUInt32BE(50_000, 4)
    ihdr.set([8, 6, 0, 0, 0], 8)
    const len = Buffer.alloc(4)
    len.writeUInt32BE(13)
    const bomb = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), len, Buffer.from('IHDR'), ihdr, Buffer.alloc(4)])
    const { ID } = await mailpit.sendMessage({ From: { Email: 'a@b.example' }, To: [{ Email: 'c@d.example' }], Attachments: [{ Content: bomb.toString('base64'), Filename: 'big.png', ContentType: 'image/png' }] })
    const part = (await mailpit.getMessageSummary(ID)).Attachments[0]!.PartID
    await expect(mailpit.getAttachmentThumbnail(ID, part)).rejects.toThrow(/404 .*NOT_FOUND.*not an image holdmail can decode/)
    await mailpit.deleteMessages({ IDs: [ID] })
    // chaos is off without --enable-chaos
    await expect(mailpit.getChaosTriggers()).rejects.toThrow(/400 .*--enable-chaos/)
    await expect(mailpit.setChaosTriggers({ Sender: { ErrorCode: 451, Probability: 100 } })).rejects.toThrow(/400 .*--enable-chaos/)
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
