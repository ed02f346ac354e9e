import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { MailpitClient } from 'mailpit-api'
import nodemailer from 'nodemailer'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestApp, type TestApp } from '../helpers/test-app.js'

// Mailpit's automation features against the production layout: chaos triggers answered by the SMTP
// listener, tags a message carries by itself, the webhook, readiness.

const smtp = (app: TestApp, auth?: { user: string; pass: string }) =>
  nodemailer.createTransport({ host: '127.0.0.1', port: app.smtpPort, ignoreTLS: true, ...(auth ? { auth } : {}) })

describe('chaos triggers (--enable-chaos)', () => {
  let app: TestApp
  let mailpit: MailpitClient
  beforeAll(async () => {
    app = await startTestApp(['--enable-chaos'])
    mailpit = new MailpitClient(app.baseUrl)
  })
  afterAll(() => app.stop())

  it('makes the SMTP listener answer with the configured error, and stops when reset', async () => {
    expect((await mailpit.getConfiguration()).ChaosEnabled).toBe(true)
    const off = await mailpit.getChaosTriggers()
    expect(off.Recipient.Probability).toBe(0)

    const set = await mailpit.setChaosTriggers({ Recipient: { ErrorCode: 452, Probability: 100 } })
    expect(set.Recipient).toEqual({ ErrorCode: 452, Probability: 100 })
    expect(set.Sender.Probability).toBe(0)
    expect((await mailpit.getChaosTriggers()).Recipient).toEqual({ ErrorCode: 452, Probability: 100 })

    const t = smtp(app)
    const err = await t.sendMail({ from: 'dev@app.example', to: 'user@example.test', subject: 'retry me', text: 'x' }).then(
      () => null,
      (e: { responseCode?: number }) => e,
    )
    expect(err?.responseCode).toBe(452)
    expect((await mailpit.getInfo()).Messages).toBe(0)

    // Mailpit: triggers left out of a PUT are reset
    const reset = await mailpit.setChaosTriggers({ Sender: { ErrorCode: 550, Probability: 0 } })
    expect(reset.Recipient.Probability).toBe(0)
    await t.sendMail({ from: 'dev@app.example', to: 'user@example.test', subject: 'goes through', text: 'x' })
    t.close()
    expect((await mailpit.listMessages()).messages.map((m) => m.Subject)).toEqual(['goes through'])

    const bad = await app.api<{ error: { message: string } }>('/api/v1/chaos', { method: 'PUT', body: { Sender: { ErrorCode: 250, Probability: 10 } } })
    expect(bad.status).toBe(400)
    expect(bad.body.error.message).toContain('ErrorCode')
  })
})

describe('tags from the message', () => {
  let plain: TestApp
  let tagging: TestApp
  beforeAll(async () => {
    ;[plain, tagging] = await Promise.all([startTestApp(), startTestApp(['--tags-plus-addresses', '--tags-username'])])
  })
  afterAll(() => Promise.all([plain.stop(), tagging.stop()]))

  const send = async (app: TestApp): Promise<string[]> => {
    const t = smtp(app, { user: 'ci-bot', pass: 'secret' })
    await t.sendMail({
      from: 'shop@app.example',
      to: 'bob+orders@example.test',
      cc: 'carol@example.test',
      subject: 'Order 7',
      text: 'thanks',
      headers: { 'X-Tags': 'alpha, Beta two,,alpha' },
    })
    t.close()
    const m = await new MailpitClient(app.baseUrl).getMessageSummary()
    return [...m.Tags].sort()
  }

  it('takes X-Tags always, plus-address and AUTH-user tags only when asked', async () => {
    expect(await send(plain)).toEqual(['Beta two', 'alpha'])
    expect(await send(tagging)).toEqual(['Beta two', 'alpha', 'ci-bot', 'orders'])
    // search and the tag list see them as any other tag
    const found = await tagging.api<{ messages_count: number }>('/api/v1/search?query=' + encodeURIComponent('tag:orders'))
    expect(found.body.messages_count).toBe(1)
    expect(await new MailpitClient(tagging.baseUrl).getTags()).toEqual(expect.arrayContaining(['orders', 'ci-bot', 'alpha', 'Beta two']))
  })

  it('tags a message sent through the API by its recipients too', async () => {
    const client = new MailpitClient(tagging.baseUrl)
    const { ID } = await client.sendMessage({ From: { Email: 'a@app.example' }, To: [{ Email: 'dev+api@example.test' }], Subject: 'via api', Tags: ['mine'] })
    expect([...(await client.getMessageSummary(ID)).Tags].sort()).toEqual(['api', 'mine'])
  })
})

describe('webhook (--webhook-url)', () => {
  // A loopback receiver whose answers the test scripts: a status, or 'hang' (held until released).
  const received: { id: string; subject: string }[] = []
  const script: (number | 'hang')[] = []
  const held: ServerResponse[] = []
  const waiters: (() => void)[] = []
  let receiver: Server
  let app: TestApp
  const events: string[] = []

  const receivedAtLeast = (n: number): Promise<void> =>
    new Promise((resolve) => {
      const check = (): void => (received.length >= n ? resolve() : void waiters.push(check))
      check()
    })

  beforeAll(async () => {
    receiver = createServer((req: IncomingMessage, res: ServerResponse) => {
      let body = ''
      req.setEncoding('utf8')
      req.on('data', (c: string) => (body += c))
      req.on('end', () => {
        const json = JSON.parse(body) as { ID: string; Subject: string }
        received.push({ id: json.ID, subject: json.Subject })
        events.push(`webhook:${json.Subject}`)
        for (const w of waiters.splice(0)) w()
        const what = script.shift() ?? 200
        if (what === 'hang') held.push(res)
        else res.writeHead(what).end()
      })
    })
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r))
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`
    app = await startTestApp(['--webhook-url', url])
  })
  afterAll(async () => {
    for (const res of held) res.end()
    await app.stop()
    receiver.closeAllConnections()
    await new Promise((r) => receiver.close(r))
  })

  it("posts Mailpit's summary JSON of each stored message, once", async () => {
    const t = smtp(app)
    await t.sendMail({ from: 'a@app.example', to: 'b@example.test', subject: 'first hook', text: 'x' })
    t.close()
    await receivedAtLeast(1)
    expect(received[0]!.subject).toBe('first hook')
    const listed = (await new MailpitClient(app.baseUrl).listMessages()).messages[0]!
    expect(received[0]!.id).toBe(listed.ID)
    // indexed twice (summary, then authentication results) but posted once: the next post is the next message
    const t2 = smtp(app)
    await t2.sendMail({ from: 'a@app.example', to: 'b@example.test', subject: 'second hook', text: 'x' })
    t2.close()
    await receivedAtLeast(2)
    expect(received.map((r) => r.subject)).toEqual(['first hook', 'second hook'])
  })

  it('retries after a 500', async () => {
    received.length = 0
    script.push(500)
    const t = smtp(app)
    await t.sendMail({ from: 'a@app.example', to: 'b@example.test', subject: 'retried', text: 'x' })
    t.close()
    await receivedAtLeast(2)
    expect(received.map((r) => r.subject)).toEqual(['retried', 'retried'])
    expect(received[0]!.id).toBe(received[1]!.id)
  })

  it('keeps accepting and showing mail while the receiver hangs', async () => {
    received.length = 0
    events.length = 0
    script.push('hang')
    const t = smtp(app)
    await t.sendMail({ from: 'a@app.example', to: 'b@example.test', subject: 'hung', text: 'x' })
    await receivedAtLeast(1) // the receiver holds this request
    for (const n of [1, 2, 3]) {
      const info = await t.sendMail({ from: 'a@app.example', to: 'b@example.test', subject: `behind ${n}`, text: 'x' })
      events.push(`250:behind ${n}:${/^250 /.test(info.response) ? 'ok' : info.response}`)
    }
    t.close()
    const mailpit = new MailpitClient(app.baseUrl)
    const listed = await mailpit.searchMessages({ query: 'subject:behind' })
    events.push(`listed:${listed.messages_count}`)
    held.shift()!.writeHead(200).end()
    events.push('released')
    await receivedAtLeast(4)
    expect(events).toEqual([
      'webhook:hung',
      '250:behind 1:ok',
      '250:behind 2:ok',
      '250:behind 3:ok',
      'listed:3',
      'released',
      'webhook:behind 1',
      'webhook:behind 2',
      'webhook:behind 3',
    ])
  })
})

describe('readiness, and the size limit of the send endpoint', () => {
  it('is ready while running, the probes need no credentials, and send keeps to --max-message-size', async () => {
    const app = await startTestApp(['--http-token', 'sekrit', '--max-message-size', '64k'])
    try {
      expect((await fetch(`${app.baseUrl}/readyz`)).status).toBe(200)
      expect((await fetch(`${app.baseUrl}/livez`)).status).toBe(200)
      expect((await fetch(`${app.baseUrl}/api/v1/info`)).status).toBe(401)

      const send = (bytes: number) =>
        fetch(`${app.baseUrl}/api/v1/send`, {
          method: 'POST',
          headers: { authorization: 'Bearer sekrit', 'content-type': 'application/json' },
          body: JSON.stringify({ From: { Email: 'a@app.example' }, To: [{ Email: 'b@example.test' }], Attachments: [{ Filename: 'f.bin', Content: Buffer.alloc(bytes, 7).toString('base64') }] }),
        })
      expect((await send(10_000)).status).toBe(200)
      const over = await send(80_000) // the JSON fits the 1 MiB body limit; the message is over 64k
      expect(over.status).toBe(400)
      expect(((await over.json()) as { error: { message: string } }).error.message).toContain('--max-message-size')
      const huge = await send(2 * 1024 * 1024) // past the body limit itself
      expect(huge.status).toBe(413)
      expect(((await huge.json()) as { error: { code: string } }).error.code).toMatch(/\S/)
    } finally {
      await app.stop()
    }
  })
})
