import nodemailer, { type Transporter } from 'nodemailer'
import type Mail from 'nodemailer/lib/mailer/index.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { queuedId, startTestApp, withCrlf, type TestApp } from '../helpers/test-app.js'

interface MessageBody {
  Subject: string
  Text: string
  HTML: string
  Attachments: { FileName: string; Size: number; PartID: string }[]
  Inline: { ContentID: string }[]
  Envelope: { MailFrom: string; RcptTo: string[]; MailFromParams: Record<string, string>; TLS: { Protocol: string } | null; Listener: string }
}

// What nodemailer would put on the wire for these options: composed once, then sent as `raw`,
// so the test knows the exact bytes the server must hand back.
async function compose(mail: Mail.Options): Promise<Buffer> {
  const stream = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows' })
  const info = await stream.sendMail(mail)
  return info.message as Buffer
}

// Every case names its sender as a string: the envelope sender below is cut out of it.
const cases: { name: string; mail: Mail.Options & { from: string } }[] = [
  { name: 'plain text', mail: { from: 'dev@example.test', to: 'user@example.test', subject: 'plain', text: 'Hello\n.\nA line with only a dot above' } },
  {
    name: 'multipart alternative with inline image and attachment',
    mail: {
      from: '"Shop" <shop@example.test>',
      to: ['a@example.test', 'b@example.test'],
      cc: 'c@example.test',
      subject: 'Your order',
      text: 'text part',
      html: '<p>html part <img src="cid:logo@example.test"></p>',
      attachments: [
        { filename: 'logo.png', content: Buffer.from('89504e470d0a1a0a', 'hex'), cid: 'logo@example.test' },
        { filename: 'invoice.pdf', content: Buffer.alloc(3000, 7) },
      ],
    },
  },
  {
    name: 'UTF-8 headers and body',
    mail: { from: 'Zoë <zoe@example.test>', to: 'Jürgen <j@example.test>', subject: 'Grüße aus Köln ✉', text: 'Ünïcödé body — 日本語' },
  },
]

describe.each([
  { mode: 'plain', ignoreTLS: true },
  { mode: 'STARTTLS', ignoreTLS: false },
])('nodemailer over $mode', ({ mode, ignoreTLS }) => {
  let app: TestApp
  let transport: Transporter
  beforeAll(async () => {
    app = await startTestApp()
    transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: app.smtpPort,
      secure: false,
      ignoreTLS,
      requireTLS: !ignoreTLS,
      tls: { rejectUnauthorized: false }, // the generated certificate is self-signed
    })
  })
  afterAll(async () => {
    transport.close()
    await app.stop()
  })

  it.each(cases)('$name comes back byte-exact', async ({ mail }) => {
    const raw = await compose(mail)
    const rcpts = ([] as unknown[]).concat(mail.to ?? [], mail.cc ?? []).map((a) => String(a).replace(/^.*<|>$/g, ''))
    const info = await transport.sendMail({ envelope: { from: mail.from.replace(/^.*<|>$/g, ''), to: rcpts }, raw })
    const id = queuedId(info.response)
    expect(await app.raw(id)).toEqual(withCrlf(raw))
    await app.running.indexer.idle()
    const m = (await app.api<MessageBody>(`/api/v1/message/${id}`)).body
    expect(m.Subject).toBe(mail.subject)
    expect(m.Envelope.RcptTo).toEqual(rcpts)
    if (mode === 'STARTTLS') expect(m.Envelope.TLS?.Protocol).toMatch(/^TLSv1\.[23]$/)
    else expect(m.Envelope.TLS).toBeNull()
  })

  it('parses attachments and inline parts of a multipart message', async () => {
    const info = await transport.sendMail(cases[1]!.mail)
    const m = (await app.api<MessageBody>(`/api/v1/message/${queuedId(info.response)}`)).body
    expect(m.HTML).toContain('cid:logo@example.test')
    expect(m.Inline.map((p) => p.ContentID)).toEqual(['logo@example.test'])
    expect(m.Attachments.map((a) => [a.FileName, a.Size])).toEqual([['invoice.pdf', 3000]])
    const part = await fetch(`${app.baseUrl}/api/v1/message/${queuedId(info.response)}/part/${m.Attachments[0]!.PartID}`)
    // a PDF is served with its type, as Mailpit serves it (issue 11)
    expect(part.headers.get('content-type')).toBe('application/pdf')
    expect(part.headers.get('content-disposition')).toMatch(/^inline; filename="invoice.pdf"/)
    expect(Buffer.from(await part.arrayBuffer())).toEqual(Buffer.alloc(3000, 7))
  })
})

describe('SMTPUTF8 and SMTPS', () => {
  let app: TestApp
  beforeAll(async () => {
    app = await startTestApp(['--smtps', '127.0.0.1:0'])
  })
  afterAll(() => app.stop())

  it('accepts internationalised addresses with SMTPUTF8', async () => {
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: app.smtpPort, ignoreTLS: true })
    const info = await transport.sendMail({ from: 'δοκιμή@παράδειγμα.test', to: '用户@例子.test', subject: 'smtputf8', text: 'x' })
    transport.close()
    const m = (await app.api<MessageBody>(`/api/v1/message/${queuedId(info.response)}`)).body
    expect(m.Envelope.MailFrom).toBe('δοκιμή@παράδειγμα.test')
    expect(m.Envelope.RcptTo).toEqual(['用户@例子.test'])
    expect(m.Envelope.MailFromParams).toHaveProperty('SMTPUTF8')
  })

  it('takes mail over implicit TLS on the SMTPS listener', async () => {
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: app.running.smtps!.port, secure: true, tls: { rejectUnauthorized: false } })
    const raw = await compose({ from: 'tls@example.test', to: 'x@example.test', subject: 'smtps', text: 'over tls' })
    const info = await transport.sendMail({ envelope: { from: 'tls@example.test', to: ['x@example.test'] }, raw })
    transport.close()
    const id = queuedId(info.response)
    expect(await app.raw(id)).toEqual(withCrlf(raw))
    const m = (await app.api<MessageBody>(`/api/v1/message/${id}`)).body
    expect(m.Envelope.Listener).toBe('smtps')
    expect(m.Envelope.TLS).not.toBeNull()
  })
})
