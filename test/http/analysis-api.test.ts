import { simpleParser } from 'mailparser'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startDnsServer, type DnsServer } from '../helpers/dns-server.js'
import { rawSend, startTestApp, type TestApp } from '../helpers/test-app.js'

const bounce = (n: number, origin: string, subject: string): string =>
  [
    'From: MAILER-DAEMON@mx.victim.example',
    'To: webmaster@our.example',
    `Subject: Undelivered Mail Returned to Sender ${n}`,
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status; boundary="b"',
    '',
    '--b',
    'Content-Type: text/plain',
    '',
    'I could not deliver your message.',
    '--b',
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mx.victim.example',
    '',
    `Final-Recipient: rfc822; nobody${n}@victim.example`,
    'Action: failed',
    'Status: 5.1.1',
    'Diagnostic-Code: smtp; 550 5.1.1 no such user',
    '',
    '--b',
    'Content-Type: text/rfc822-headers',
    '',
    `Received: from webform.host.example (webform.host.example [${origin}])`,
    '\tby mail.our.example with ESMTP; Tue, 24 Nov 2026 10:00:00 +0000',
    'From: forged@our.example',
    'Return-Path: <forged@our.example>',
    `Subject: ${subject}`,
    '',
    '--b--',
    '',
  ].join('\r\n')

describe('analysis API: stats, backscatter, ARF draft, SPF lint, metrics', () => {
  let app: TestApp
  let dns: DnsServer
  beforeAll(async () => {
    dns = await startDnsServer({ 'lint.example': { TXT: ['v=spf1 ipv4:192.0.2.1 +all'] } })
    app = await startTestApp(['--no-auth-checks', '--dns-server', `127.0.0.1:${dns.port}`])
    for (let i = 0; i < 3; i++) await rawSend(app.smtpPort, { from: '', to: ['webmaster@our.example'], data: bounce(i, '198.51.100.23', 'Cheap pills') })
    await rawSend(app.smtpPort, { from: '', to: ['webmaster@our.example'], data: bounce(9, '203.0.113.40', 'Win now') })
    await rawSend(app.smtpPort, { from: 'spammer@spam.example', to: ['trap@our.example'], data: 'From: spammer@spam.example\r\nSubject: buy\r\n\r\nbuy now\r\n' })
    await app.running.indexer.idle()
  })
  afterAll(async () => {
    await app.stop()
    await dns.close()
  })

  it('groups backscatter by the originating server and the forged sender', async () => {
    const r = await app.api<{ Bounces: number; ByOrigin: { Key: string; Count: number; Subjects: string[] }[]; BySender: { Key: string; Count: number }[] }>(
      '/api/v1/backscatter',
    )
    expect(r.body.Bounces).toBe(4)
    expect(r.body.ByOrigin[0]).toMatchObject({ Key: '198.51.100.23', Count: 3, Subjects: ['Cheap pills'] })
    expect(r.body.ByOrigin[1]).toMatchObject({ Key: '203.0.113.40', Count: 1 })
    expect(r.body.BySender).toEqual([expect.objectContaining({ Key: 'forged@our.example', Count: 4 })])
    const search = await app.api<{ messages_count: number }>('/api/v1/search?query=' + encodeURIComponent('kind:bounce status:5.1.1'))
    expect(search.body.messages_count).toBe(4)
    const byOrigin = await app.api<{ messages_count: number }>('/api/v1/search?query=' + encodeURIComponent('origin:198.51.100.0/24'))
    expect(byOrigin.body.messages_count).toBe(3)
    const bad = await app.api<{ error: { message: string } }>('/api/v1/search?query=origin:nope')
    expect(bad.status).toBe(400)
  })

  it('reports statistics', async () => {
    const r = await app.api<{ Kinds: Record<string, number>; TopSenderDomains: { Key: string; Count: number }[]; PerDay: { Count: number }[] }>('/api/v1/stats')
    expect(r.body.Kinds).toEqual({ bounce: 4, message: 1 })
    expect(r.body.TopSenderDomains[0]).toEqual({ Key: '<>', Count: 4 })
    expect(r.body.PerDay.reduce((a, d) => a + d.Count, 0)).toBe(5)
  })

  it('drafts an ARF report with the sample attached byte-exact', async () => {
    const list = await app.api<{ messages: { ID: string }[] }>('/api/v1/search?query=from:spammer')
    const id = list.body.messages[0]!.ID
    const res = await fetch(`${app.baseUrl}/api/v1/message/${id}/arf-report`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-disposition')).toContain(`arf-${id}.eml`)
    const eml = Buffer.from(await res.arrayBuffer())
    const parsed = await simpleParser(eml)
    expect(parsed.to && 'text' in parsed.to ? parsed.to.text : '').toContain('abuse@spam.example')
    expect(eml.toString('latin1')).toContain('report-type=feedback-report')
    expect(eml.includes(await app.raw(id))).toBe(true)
  })

  it('lints SPF records, from DNS or literal', async () => {
    const r = await app.api<{ Problems: { Severity: string; Term: string; Message: string }[] }>('/api/v1/spf-lint?target=lint.example')
    expect(r.status).toBe(200)
    expect(r.body.Problems.map((p) => p.Term)).toEqual(expect.arrayContaining(['ipv4:192.0.2.1', '+all']))
    expect(r.body.Problems.find((p) => p.Term === 'ipv4:192.0.2.1')?.Message).toMatch(/ip4/)
    const literal = await app.api<{ Problems: { Term: string }[] }>('/api/v1/spf-lint?target=' + encodeURIComponent('v=spf1 mx ~all'))
    expect(literal.status).toBe(200)
  })

  it('exposes Prometheus metrics', async () => {
    const text = await (await fetch(`${app.baseUrl}/metrics`)).text()
    expect(text).toMatch(/^holdmail_messages 5$/m)
    expect(text).toMatch(/^holdmail_smtp_accepted_total 5$/m)
  })
})
