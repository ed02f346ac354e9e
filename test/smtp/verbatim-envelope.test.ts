import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { startDnsServer, type DnsServer } from '../helpers/dns-server.js'
import { RawSmtp, queuedId, startTestApp, type TestApp } from '../helpers/test-app.js'
import { addressArgument } from '../../src/smtp/capture-server.js'

// A capture MTA records what the client said: MAIL FROM / RCPT TO arguments that smtp-server
// refuses (`501 5.1.7 Bad sender address syntax`) or rewrites, and the HELO name with its case.

interface MessageBody {
  Envelope: { MailFrom: string; MailFromParams: Record<string, string>; RcptTo: string[]; Helo: string; ClientIP: string }
}
interface ListBody {
  messages_count: number
  messages: { ID: string }[]
}

const CRLF = '\r\n'

describe('envelope kept as the client wrote it', () => {
  let app: TestApp
  const sessions: RawSmtp[] = []
  beforeEach(async () => {
    app = await startTestApp(['--trusted-relays', '127.0.0.1/32'])
  })
  afterEach(async () => {
    for (const c of sessions.splice(0)) c.close() // a failed test leaves no session to wait for
    await app.stop()
  })
  const open = async (): Promise<RawSmtp> => {
    const c = await RawSmtp.open(app.smtpPort)
    sessions.push(c)
    return c
  }

  /** One transaction on an open session; returns the stored message's ID. */
  async function send(c: RawSmtp, mailFrom: string, rcpts: string[] = ['<trap@example.test>']): Promise<string> {
    expect(await c.command(`MAIL FROM:${mailFrom}`), mailFrom).toMatch(/^250 /)
    for (const r of rcpts) expect(await c.command(`RCPT TO:${r}`), r).toMatch(/^250 /)
    expect(await c.command('DATA')).toMatch(/^354/)
    const reply = await c.command(`Subject: verbatim${CRLF}${CRLF}body${CRLF}.`)
    expect(reply).toMatch(/^250 2\.0\.0 /)
    return queuedId(reply)
  }

  const envelopeOf = async (id: string): Promise<MessageBody['Envelope']> => {
    const res = await app.api<MessageBody>(`/api/v1/message/${id}`)
    expect(res.status).toBe(200)
    return res.body.Envelope
  }

  const search = async (q: string): Promise<string[]> => {
    const res = await app.api<ListBody>(`/api/v1/search?query=${encodeURIComponent(q)}&limit=100`)
    expect(res.status).toBe(200)
    return res.body.messages.map((m) => m.ID).sort()
  }

  it('accepts the senders smtp-server refuses and stores each verbatim, marked malformed', async () => {
    const malformed: [string, string][] = [
      ['<@example.net>', '@example.net'], // RFC 7208 suite: nolocalpart
      ['<lyme.eater@A...example.com>', 'lyme.eater@A...example.com'], // emptylabel
      ['<Macro Error@e8.example.com>', 'Macro Error@e8.example.com'], // dorky-sentinel (space in local part)
      ['<user@.example>', 'user@.example'],
      ['<user.@example.com>', 'user.@example.com'],
      ['<postmaster>', 'postmaster'],
      ['bare@example.com', 'bare@example.com'], // no angle brackets
      ['<unclosed@example.com', 'unclosed@example.com'],
      ['<"quoted local"@.example>', '"quoted local"@.example'], // a valid local part, an empty label
    ]
    const valid: [string, string][] = [
      ['<Mixed.Case@Example.COM>', 'Mixed.Case@Example.COM'],
      ['<user@xn--bcher-kva.example>', 'user@xn--bcher-kva.example'], // not turned into Unicode
      ['<>', ''],
      ['<"quoted local"@example.com>', '"quoted local"@example.com'], // RFC 5321 Quoted-string
      ['<@relay.example,@hop.example:routed@example.com>', 'routed@example.com'], // source route ignored (RFC 5321 §4.1.2)
    ]
    const c = await open()
    await c.command('EHLO client.example.test')
    const ids = new Map<string, string>()
    for (const [arg] of [...malformed, ...valid]) ids.set(arg, await send(c, arg))
    c.close()

    for (const [arg, stored] of [...malformed, ...valid]) {
      expect((await envelopeOf(ids.get(arg)!)).MailFrom, arg).toBe(stored)
    }
    expect(await search('is:malformed')).toEqual(malformed.map(([arg]) => ids.get(arg)!).sort())
    expect(await search('-is:malformed')).toEqual(valid.map(([arg]) => ids.get(arg)!).sort())
    expect(await search('mailfrom:@example.net')).toContain(ids.get('<@example.net>'))
  })

  it('keeps malformed recipients verbatim beside valid ones', async () => {
    const c = await open()
    await c.command('EHLO client.example.test')
    const id = await send(c, '<sender@example.test>', ['<@trap.example>', '<Trap@.Example>', '<ok@example.test>'])
    c.close()
    expect((await envelopeOf(id)).RcptTo).toEqual(['@trap.example', 'Trap@.Example', 'ok@example.test'])
    expect(await search('is:malformed')).toEqual([id])
    expect(await search('rcpt:@trap.example')).toEqual([id])
  })

  it('still checks the parameters after a malformed address', async () => {
    const c = await open()
    await c.command('EHLO client.example.test')
    expect(await c.command('MAIL FROM:<@example.net> SIZE=abc')).toMatch(/^501 /)
    expect(await c.command('MAIL FROM:<@example.net> BODY=9BIT')).toMatch(/^501 /)
    expect(await c.command('MAIL FROM:')).toMatch(/^501 /) // no argument at all: nothing to record
    expect(await c.command('MAIL FROM:<@example.net> BODY=8BITMIME SIZE=100')).toMatch(/^250 /)
    expect(await c.command('RCPT TO:<>')).toMatch(/^501 /)
    expect(await c.command('RCPT TO:<x@.example> ORCPT')).toMatch(/^501 /) // ORCPT needs a value
    expect(await c.command('RCPT TO:<x@.example> ORCPT=rfc822;x@.example')).toMatch(/^250 /)
    await c.command('DATA')
    const id = queuedId(await c.command(`Subject: p${CRLF}${CRLF}b${CRLF}.`))
    c.close()
    const env = await envelopeOf(id)
    expect(env.MailFrom).toBe('@example.net')
    expect(env.MailFromParams).toEqual({ BODY: '8BITMIME', SIZE: '100' })
    expect(env.RcptTo).toEqual(['x@.example'])
  })

  it('stores the HELO/EHLO name with its case, directly and through XFORWARD', async () => {
    const ehlo = await open()
    await ehlo.command('EHLO WIN-UPPER.Example')
    const viaEhlo = await send(ehlo, '<a@example.test>')
    ehlo.close()

    const helo = await open()
    await helo.command('HELO Mixed.Case.Example')
    const viaHelo = await send(helo, '<b@example.test>')
    // a second HELO replaces the first, case and all
    await helo.command('HELO second.EXAMPLE')
    const viaSecondHelo = await send(helo, '<b2@example.test>')
    helo.close()

    const relay = await open()
    expect(await relay.command('EHLO relay.example.test')).toContain('XFORWARD')
    expect(await relay.command('XFORWARD NAME=client.example.org ADDR=192.0.2.33 HELO=Relay-Client.EXAMPLE')).toMatch(/^250/)
    const viaXforward = await send(relay, '<c@example.test>')
    relay.close()

    expect((await envelopeOf(viaEhlo)).Helo).toBe('WIN-UPPER.Example')
    expect((await envelopeOf(viaHelo)).Helo).toBe('Mixed.Case.Example')
    expect((await envelopeOf(viaSecondHelo)).Helo).toBe('second.EXAMPLE')
    const fwd = await envelopeOf(viaXforward)
    expect(fwd.Helo).toBe('Relay-Client.EXAMPLE')
    expect(fwd.ClientIP).toBe('192.0.2.33')

    // helo: matches whatever the case, and takes --routes' * globs
    expect(await search('helo:win-upper.example')).toEqual([viaEhlo])
    expect(await search('helo:WIN-*')).toEqual([viaEhlo])
    expect(await search('helo:*.example')).toEqual([viaEhlo, viaHelo, viaSecondHelo, viaXforward].sort())
    expect(await search('helo:relay-*.example')).toEqual([viaXforward])
    expect(await search('helo:*.test')).toEqual([])
  })
})

describe('malformed senders reach the SPF analysis', () => {
  let dns: DnsServer
  let app: TestApp
  beforeEach(async () => {
    dns = await startDnsServer({
      'example.net': { TXT: ['v=spf1 -all'] },
      'e8.example.com': { TXT: ['v=spf1 -all'] },
    })
    app = await startTestApp(['--dns-server', `127.0.0.1:${dns.port}`, '--trusted-relays', '127.0.0.0/8'])
  })
  afterEach(async () => {
    await app.stop()
    await dns.close()
  })

  interface AuthBody {
    Envelope: { MailFrom: string }
    Auth: { SPF: { Result: string } } | null
  }

  it('stores each verbatim with its SPF result', async () => {
    const c = await RawSmtp.open(app.smtpPort)
    await c.command('EHLO relay.example.test')
    expect(await c.command('XFORWARD ADDR=1.2.3.4 HELO=mail.example.net')).toMatch(/^250/)
    const ids: [string, string][] = []
    for (const sender of ['@example.net', 'Macro Error@e8.example.com']) {
      expect(await c.command(`MAIL FROM:<${sender}>`)).toMatch(/^250 /)
      await c.command('RCPT TO:<trap@example.test>')
      await c.command('DATA')
      ids.push([sender, queuedId(await c.command(`Subject: spf${CRLF}${CRLF}b${CRLF}.`))])
    }
    c.close()
    await app.running.indexer.idle()
    for (const [sender, id] of ids) {
      const m = (await app.api<AuthBody>(`/api/v1/message/${id}`)).body
      expect(m.Envelope.MailFrom).toBe(sender)
      expect(m.Auth?.SPF.Result, sender).toBe('fail') // both domains publish "v=spf1 -all"
    }
  })
})

describe('addressArgument', () => {
  it.each([
    ['MAIL FROM:<a@example.com> SIZE=10', { path: 'a@example.com', bracketed: true, params: 'SIZE=10' }],
    ['mail  from: <a b@example.com>  BODY=8BITMIME', { path: 'a b@example.com', bracketed: true, params: 'BODY=8BITMIME' }],
    ['MAIL FROM:a@example.com SIZE=10', { path: 'a@example.com', bracketed: false, params: 'SIZE=10' }],
    ['MAIL FROM:<@r.example:a@example.com>', { path: 'a@example.com', bracketed: true, params: '' }],
    ['MAIL FROM:<>', { path: '', bracketed: true, params: '' }],
    ['MAIL FROM:', null],
    ['MAIL FROM <a@example.com>', null],
    ['RCPT TO:<a@example.com>', null],
  ])('%s', (command, expected) => {
    expect(addressArgument('MAIL FROM', command)).toEqual(expected)
  })
})
