import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { RawSmtp, queuedId, rawSend, startTestApp, withCrlf, type TestApp } from '../helpers/test-app.js'

interface ListBody {
  total: number
  messages: { ID: string; MailFrom: string; ClientIP: string }[]
}
interface MessageBody {
  ID: string
  Subject: string
  Envelope: {
    MailFrom: string
    MailFromParams: Record<string, string>
    RcptTo: string[]
    ClientIP: string
    ClientPort: number
    IPSource: string
    Helo: string
    TLS: { Protocol: string } | null
    AuthUser: string | null
    Relay: { IP: string } | null
    Listener: string
    Pregreet: boolean
    SHA256: string
  }
}

const CRLF = '\r\n'
const msg = (subject: string, body = 'hello'): string =>
  ['From: a@example.test', 'To: b@example.test', `Subject: ${subject}`, '', body].join(CRLF)

describe('SMTP protocol edge cases', () => {
  let app: TestApp
  beforeEach(async () => {
    app = await startTestApp(['--max-message-size', '65536', '--max-recipients', '1000', '--trusted-relays', '127.0.0.2/32'])
  })
  afterEach(() => app.stop())

  it('greets with ESMTP extensions the contract lists', async () => {
    const c = await RawSmtp.open(app.smtpPort)
    const ehlo = await c.command('EHLO client.example.test')
    c.close()
    for (const ext of ['PIPELINING', '8BITMIME', 'SMTPUTF8', 'SIZE 65536', 'ENHANCEDSTATUSCODES', 'STARTTLS', 'AUTH PLAIN LOGIN']) {
      expect(ehlo).toContain(ext)
    }
    // XCLIENT is offered to trusted relays only; this peer is 127.0.0.1, the trusted one 127.0.0.2
    expect(ehlo).not.toContain('XCLIENT')
  })

  it('answers pipelined commands in order and stores the message', async () => {
    const c = await RawSmtp.open(app.smtpPort)
    await c.command('EHLO pipe.example.test')
    c.write(`MAIL FROM:<p@example.test>${CRLF}RCPT TO:<r1@example.test>${CRLF}RCPT TO:<r2@example.test>${CRLF}DATA${CRLF}`)
    expect(await c.reply()).toMatch(/^250/)
    expect(await c.reply()).toMatch(/^250/)
    expect(await c.reply()).toMatch(/^250/)
    expect(await c.reply()).toMatch(/^354/)
    c.write(msg('pipelined') + `${CRLF}.${CRLF}`)
    const reply = await c.reply()
    c.close()
    expect(reply).toMatch(/^250 2\.0\.0 Ok: queued as [A-Za-z0-9]+$/)
    const m = await app.api<MessageBody>(`/api/v1/message/${queuedId(reply)}`)
    expect(m.body.Envelope.RcptTo).toEqual(['r1@example.test', 'r2@example.test'])
    expect(m.body.Envelope.Helo).toBe('pipe.example.test')
  })

  it('un-stuffs leading dots and keeps bare LF, NUL, 8-bit and invalid UTF-8 bytes as sent', async () => {
    const body = Buffer.concat([
      Buffer.from(`From: a@example.test${CRLF}Subject: odd bytes${CRLF}${CRLF}`),
      // stuffed as a client must (RFC 5321 §4.5.2): stored as ".leading dot", "..two dots" and a lone "."
      Buffer.from(`..leading dot${CRLF}...two dots${CRLF}..`),
      Buffer.from(`${CRLF}bare\nLF and bare\rCR${CRLF}nul:\x00:`, 'latin1'),
      Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xe9]), // invalid UTF-8 and latin1
      Buffer.from(CRLF),
    ])
    const reply = await rawSend(app.smtpPort, { from: 'a@example.test', to: ['b@example.test'], data: body })
    const expected = Buffer.from(body.toString('latin1').replace(/(^|\r\n)\./g, '$1'), 'latin1')
    expect(expected.toString('latin1')).toContain(`\r\n.\r\nbare\nLF`)
    expect(await app.raw(queuedId(reply))).toEqual(expected)
  })

  it('stores a message with a 1 MB header line', async () => {
    const long = 'X-Long: ' + 'a'.repeat(1024 * 1024)
    const big = await startTestApp(['--max-message-size', '4m'])
    try {
      const data = `${long}${CRLF}Subject: long header${CRLF}${CRLF}body`
      const reply = await rawSend(big.smtpPort, { from: 'a@example.test', to: ['b@example.test'], data })
      expect(reply).toMatch(/^250 /)
      expect((await big.raw(queuedId(reply))).equals(withCrlf(data))).toBe(true)
    } finally {
      await big.stop()
    }
  })

  it('accepts an 8-bit body without BODY=8BITMIME and records MAIL FROM parameters when given', async () => {
    const data = Buffer.from(`Subject: caf\xe9${CRLF}${CRLF}na\xefve \xe9t\xe9${CRLF}`, 'latin1')
    const plain = await rawSend(app.smtpPort, { from: 'a@example.test', to: ['b@example.test'], data })
    expect(await app.raw(queuedId(plain))).toEqual(data)

    const c = await RawSmtp.open(app.smtpPort)
    await c.command('EHLO x')
    expect(await c.command('MAIL FROM:<δοκιμή@example.test> SIZE=40 BODY=8BITMIME SMTPUTF8')).toMatch(/^250/)
    expect(await c.command('RCPT TO:<ünicode@example.test>')).toMatch(/^250/)
    await c.command('DATA')
    c.write(`Subject: utf8${CRLF}${CRLF}x${CRLF}.${CRLF}`)
    const reply = await c.reply()
    c.close()
    const m = await app.api<MessageBody>(`/api/v1/message/${queuedId(reply)}`)
    expect(m.body.Envelope.MailFrom).toBe('δοκιμή@example.test')
    expect(m.body.Envelope.MailFromParams).toMatchObject({ SIZE: '40', BODY: '8BITMIME', SMTPUTF8: '' })
    expect(m.body.Envelope.RcptTo).toEqual(['ünicode@example.test'])
  })

  it('refuses an oversize message with 552 5.3.4 and stores nothing, then keeps serving', async () => {
    const before = (await app.api<ListBody>('/api/v1/messages')).body.total
    const reply = await rawSend(app.smtpPort, {
      from: 'big@example.test',
      to: ['b@example.test'],
      data: msg('too big', 'y'.repeat(70 * 1024)),
    })
    expect(reply).toMatch(/^552 5\.3\.4 /)
    expect((await app.api<ListBody>('/api/v1/messages')).body.total).toBe(before)
    const ok = await rawSend(app.smtpPort, { from: 'small@example.test', to: ['b@example.test'], data: msg('fits') })
    expect(ok).toMatch(/^250 /)
  })

  it('answers 452 4.5.3 to the recipient past --max-recipients and stores the message with the first 1000', async () => {
    const c = await RawSmtp.open(app.smtpPort)
    await c.command('EHLO many.example.test')
    await c.command('MAIL FROM:<bulk@example.test>')
    // pipelined, as bulk senders do
    c.write(Array.from({ length: 1001 }, (_, i) => `RCPT TO:<r${i}@example.test>${CRLF}`).join(''))
    const replies: string[] = []
    for (let i = 0; i < 1001; i++) replies.push(await c.reply())
    expect(replies.slice(0, 1000).every((r) => r.startsWith('250'))).toBe(true)
    expect(replies[1000]).toMatch(/^452 4\.5\.3 /)
    await c.command('DATA')
    c.write(msg('many') + `${CRLF}.${CRLF}`)
    const reply = await c.reply()
    c.close()
    const m = await app.api<MessageBody>(`/api/v1/message/${queuedId(reply)}`)
    expect(m.body.Envelope.RcptTo).toHaveLength(1000)
  })

  it('refuses XCLIENT from an untrusted peer', async () => {
    const c = await RawSmtp.open(app.smtpPort)
    await c.command('EHLO relay.example.test')
    expect(await c.command('XCLIENT ADDR=203.0.113.9 HELO=spammer.example')).toMatch(/^550 /)
    expect(await c.command('XFORWARD ADDR=203.0.113.9')).toMatch(/^550 /)
    c.close()
  })

  it('records the AUTH user of any credentials', async () => {
    const c = await RawSmtp.open(app.smtpPort)
    await c.command('EHLO x')
    const token = Buffer.from('\0someone@example.test\0wrong-password').toString('base64')
    expect(await c.command(`AUTH PLAIN ${token}`)).toMatch(/^235/)
    await c.command('MAIL FROM:<a@example.test>')
    await c.command('RCPT TO:<b@example.test>')
    await c.command('DATA')
    c.write(msg('auth') + `${CRLF}.${CRLF}`)
    const reply = await c.reply()
    c.close()
    const m = await app.api<MessageBody>(`/api/v1/message/${queuedId(reply)}`)
    expect(m.body.Envelope.AuthUser).toBe('someone@example.test')
  })

  it('keeps the null sender <> as an empty MAIL FROM (bounces)', async () => {
    const reply = await rawSend(app.smtpPort, { from: '', to: ['b@example.test'], data: msg('bounce') })
    const m = await app.api<MessageBody>(`/api/v1/message/${queuedId(reply)}`)
    expect(m.body.Envelope.MailFrom).toBe('')
    const search = await app.api<ListBody>('/api/v1/search?query=' + encodeURIComponent('mailfrom:<>'))
    expect(search.body.messages.map((x) => x.ID)).toContain(m.body.ID)
  })
})

describe('trusted relays', () => {
  let app: TestApp
  beforeEach(async () => {
    app = await startTestApp(['--trusted-relays', '127.0.0.0/8'])
  })
  afterEach(() => app.stop())

  it('honours XCLIENT from a trusted relay: original IP and HELO stored, relay kept', async () => {
    const c = await RawSmtp.open(app.smtpPort)
    expect(await c.command('EHLO relay.example.test')).toContain('XCLIENT')
    // Postfix XCLIENT: after it the server greets again (RFC-less, postfix XCLIENT_README)
    expect(await c.command('XCLIENT ADDR=203.0.113.9 PORT=40000 HELO=spammer.example NAME=[UNAVAILABLE]')).toMatch(/^220/)
    await c.command('EHLO spammer.example')
    await c.command('MAIL FROM:<spam@example.test>')
    await c.command('RCPT TO:<trap@example.test>')
    await c.command('DATA')
    c.write(msg('via xclient') + `${CRLF}.${CRLF}`)
    const reply = await c.reply()
    c.close()
    const m = await app.api<MessageBody>(`/api/v1/message/${queuedId(reply)}`)
    expect(m.body.Envelope).toMatchObject({
      ClientIP: '203.0.113.9',
      ClientPort: 40000,
      IPSource: 'xclient',
      Helo: 'spammer.example',
      Relay: { IP: '127.0.0.1' },
    })
    const byIp = await app.api<ListBody>('/api/v1/search?query=ip:203.0.113.0/24')
    expect(byIp.body.messages.map((x) => x.ID)).toEqual([m.body.ID])
  })

  it('honours XFORWARD from a trusted relay (postfix smtp_send_xforward_command)', async () => {
    const c = await RawSmtp.open(app.smtpPort)
    expect(await c.command('EHLO mx.example.test')).toContain('XFORWARD')
    expect(await c.command('XFORWARD NAME=bad.example.net ADDR=IPV6:2001:db8::25 PORT=2525')).toMatch(/^250/)
    expect(await c.command('XFORWARD HELO=bad.example.net PROTO=ESMTP SOURCE=REMOTE')).toMatch(/^250/)
    await c.command('MAIL FROM:<spam@example.test>')
    await c.command('RCPT TO:<trap@example.test>')
    await c.command('DATA')
    c.write(msg('via xforward') + `${CRLF}.${CRLF}`)
    const reply = await c.reply()
    c.close()
    const m = await app.api<MessageBody>(`/api/v1/message/${queuedId(reply)}`)
    expect(m.body.Envelope).toMatchObject({
      ClientIP: '2001:db8::25',
      IPSource: 'xforward',
      Helo: 'bad.example.net',
      Relay: { IP: '127.0.0.1' },
    })
    const byIp = await app.api<ListBody>('/api/v1/search?query=' + encodeURIComponent('ip:2001:db8::/32'))
    expect(byIp.body.messages.map((x) => x.ID)).toEqual([m.body.ID])
  })
})

describe('LMTP', () => {
  let app: TestApp
  beforeEach(async () => {
    app = await startTestApp(['--lmtp', '127.0.0.1:0'])
  })
  afterEach(() => app.stop())

  it('replies once per recipient after DATA and stores one message', async () => {
    const c = await RawSmtp.open(app.running.lmtp!.port)
    expect(await c.command('LHLO mta.example.test')).toMatch(/^250/)
    await c.command('MAIL FROM:<a@example.test>')
    for (const r of ['x@example.test', 'y@example.test', 'z@example.test']) expect(await c.command(`RCPT TO:<${r}>`)).toMatch(/^250/)
    await c.command('DATA')
    c.write(msg('lmtp') + `${CRLF}.${CRLF}`)
    const replies = [await c.reply(), await c.reply(), await c.reply()]
    c.close()
    const ids = replies.map(queuedId)
    expect(new Set(ids).size).toBe(1)
    const m = await app.api<MessageBody>(`/api/v1/message/${ids[0]}`)
    expect(m.body.Envelope.Listener).toBe('lmtp')
    expect(m.body.Envelope.RcptTo).toEqual(['x@example.test', 'y@example.test', 'z@example.test'])
  })
})

describe('greeting delay', () => {
  let app: TestApp
  beforeEach(async () => {
    app = await startTestApp(['--greet-delay', '300'])
  })
  afterEach(() => app.stop())

  it('records a client that talks before the 220 as pregreet, and still takes its mail', async () => {
    const c = await RawSmtp.open(app.smtpPort, '127.0.0.1', { waitGreeting: false })
    c.write(`EHLO eager.example.test${CRLF}`) // before the greeting
    expect(await c.reply()).toMatch(/^220 /)
    expect(await c.reply()).toMatch(/^250/)
    await c.command('MAIL FROM:<a@example.test>')
    await c.command('RCPT TO:<b@example.test>')
    await c.command('DATA')
    c.write(msg('eager') + `${CRLF}.${CRLF}`)
    const eager = await c.reply()
    c.close()
    expect((await app.api<MessageBody>(`/api/v1/message/${queuedId(eager)}`)).body.Envelope.Pregreet).toBe(true)

    const polite = await rawSend(app.smtpPort, { from: 'a@example.test', to: ['b@example.test'], data: msg('polite') })
    expect((await app.api<MessageBody>(`/api/v1/message/${queuedId(polite)}`)).body.Envelope.Pregreet).toBe(false)
  })
})
