import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startDnsServer, type DnsServer } from '../helpers/dns-server.js'
import { RawSmtp, queuedId, rawSend, startTestApp, type TestApp } from '../helpers/test-app.js'

interface AuthBody {
  Auth: { SPF: { Result: string; IP: string; IPSource: string; Domain: string }; DMARC: { Result: string; Policy: string } } | null
  Kind: string
}

// The whole path: SMTP in through a trusted relay, analysis after the 250, DNS from a zone this
// test serves on loopback, results in the message JSON and in search.
describe('SPF/DMARC at ingress with the original client IP', () => {
  let dns: DnsServer
  let app: TestApp
  beforeAll(async () => {
    dns = await startDnsServer({
      'sender.example': { TXT: ['v=spf1 ip4:203.0.113.0/24 -all'] },
      '_dmarc.sender.example': { TXT: ['v=DMARC1; p=reject'] },
    })
    app = await startTestApp(['--dns-server', `127.0.0.1:${dns.port}`, '--trusted-relays', '127.0.0.0/8'])
  })
  afterAll(async () => {
    await app.stop()
    await dns.close()
  })

  const auth = async (id: string): Promise<AuthBody> => {
    await app.running.indexer.idle()
    return (await app.api<AuthBody>(`/api/v1/message/${id}`)).body
  }
  const data = 'From: news@sender.example\r\nTo: trap@example.test\r\nSubject: hi\r\n\r\nbody\r\n'

  it('evaluates SPF against the XFORWARD address, not the relay', async () => {
    const c = await RawSmtp.open(app.smtpPort)
    await c.command('EHLO relay.example.test')
    expect(await c.command('XFORWARD ADDR=203.0.113.5 HELO=mail.sender.example')).toMatch(/^250/)
    await c.command('MAIL FROM:<news@sender.example>')
    await c.command('RCPT TO:<trap@example.test>')
    await c.command('DATA')
    c.write(data + '.\r\n')
    const reply = await c.reply()
    c.close()
    const m = await auth(queuedId(reply))
    expect(m.Auth?.SPF).toMatchObject({ Result: 'pass', IP: '203.0.113.5', IPSource: 'xforward', Domain: 'sender.example' })
    expect(m.Auth?.DMARC.Result).toBe('pass')
  })

  it('takes the IP from the trusted relay\'s Received header when the relay sent no XFORWARD', async () => {
    const relayed =
      'Received: from bad.host.example (bad.host.example [198.51.100.9])\r\n\tby relay.example.test with ESMTP id 4Xyz; Tue, 24 Nov 2026 10:00:00 +0000\r\n' + data
    const reply = await rawSend(app.smtpPort, { from: 'news@sender.example', to: ['trap@example.test'], data: relayed })
    const m = await auth(queuedId(reply))
    expect(m.Auth?.SPF).toMatchObject({ Result: 'fail', IP: '198.51.100.9', IPSource: 'received' })
    expect(m.Auth?.DMARC).toMatchObject({ Result: 'fail', Policy: 'reject' })
    const failing = await app.api<{ messages: { ID: string }[] }>('/api/v1/search?query=' + encodeURIComponent('spf:fail dmarc:fail'))
    expect(failing.body.messages.map((x) => x.ID)).toEqual([queuedId(reply)])
    expect(dns.queries).toContain('sender.example TXT')
  })
})

describe('--no-auth-checks', () => {
  it('says not evaluated instead of a false fail, and asks no DNS', async () => {
    const app = await startTestApp(['--no-auth-checks'])
    try {
      const reply = await rawSend(app.smtpPort, { from: 'news@sender.example', to: ['t@example.test'], data: 'Subject: x\r\n\r\ny\r\n' })
      await app.running.indexer.idle()
      const m = (await app.api<AuthBody>(`/api/v1/message/${queuedId(reply)}`)).body
      expect(m.Auth?.SPF.Result).toBe('not-evaluated')
      expect(m.Auth?.DMARC.Result).toBe('not-evaluated')
    } finally {
      await app.stop()
    }
  })
})
