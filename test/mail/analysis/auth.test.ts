import { generateKeyPairSync } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { dkimSign } from 'mailauth'
import { parseCidrList } from '../../../src/config/index.js'
import { createAuthAnalyser, type AuthResults } from '../../../src/mail/analysis/index.js'
import { startDnsServer, type DnsServer } from '../../helpers/dns-server.js'
import { blankSummary, makeEnvelope, plainMessage } from './helpers.js'
import type { Envelope } from '../../../src/store/index.js'

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
const publicB64 = publicKey.export({ type: 'spki', format: 'der' }).toString('base64')

const hosts = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`h${i + 1}.many.test`, { A: [`10.9.9.${i + 1}`] }]))

const ZONE = {
  'sender.test': { TXT: ['v=spf1 ip4:192.0.2.10 -all'], A: ['192.0.2.10'] },
  'soft.test': { TXT: ['v=spf1 ip4:192.0.2.99 ~all'] },
  'hard.test': { TXT: ['v=spf1 ip4:192.0.2.99 -all'] },
  'typo.test': { TXT: ['v=spf1 ipv4:192.0.2.10 -all'] },
  'double.test': { TXT: ['v=spf1 ip4:192.0.2.10 -all', 'v=spf1 -all'] },
  'chain.test': { TXT: ['v=spf1 include:_spf.chain.test -all'] },
  '_spf.chain.test': { TXT: ['v=spf1 ip4:203.0.113.1 include:_inner.chain.test -all'] },
  '_inner.chain.test': { TXT: ['v=spf1 ip4:198.51.100.0/24 -all'] },
  'many.test': { TXT: ['v=spf1 include:a.many.test include:b.many.test ip4:192.0.2.10 -all'] },
  'a.many.test': { TXT: ['v=spf1 a:h1.many.test a:h2.many.test a:h3.many.test a:h4.many.test a:h5.many.test -all'] },
  'b.many.test': { TXT: ['v=spf1 a:h6.many.test a:h7.many.test a:h8.many.test a:h9.many.test a:h10.many.test -all'] },
  ...hosts,
  'bulk.test': { TXT: ['v=spf1 ip4:192.0.2.10 -all'] },
  'reject.test': { TXT: ['v=spf1 -all'] },
  '_dmarc.reject.test': { TXT: ['v=DMARC1; p=reject; adkim=r; aspf=r'] },
  'signer.test': { TXT: ['v=spf1 -all'] },
  'sel1._domainkey.signer.test': { TXT: [`v=DKIM1; k=rsa; p=${publicB64}`] },
  '_dmarc.signer.test': { TXT: ['v=DMARC1; p=quarantine'] },
  'slow.test': { DROP: true },
}

let dns: DnsServer
beforeAll(async () => {
  dns = await startDnsServer(ZONE)
})
afterAll(() => dns.close())

async function run(raw: Buffer, env: Partial<Envelope>, relays = ''): Promise<AuthResults> {
  const analyse = createAuthAnalyser({
    enabled: true,
    dnsServer: { host: '127.0.0.1', port: dns.port },
    trustedRelays: relays ? parseCidrList('trusted-relays', relays) : [],
    timeoutMs: 500,
  })
  const summary = blankSummary()
  await analyse(raw, makeEnvelope(env), summary)
  return summary.auth as AuthResults
}

async function sign(raw: Buffer): Promise<Buffer> {
  // mailauth's index.d.ts declares top-level signingDomain/selector/privateKey, but lib/dkim/dkim-signer.js
  // reads only signatureData[]; pass what the implementation reads.
  const options = {
    canonicalization: 'relaxed/relaxed',
    signatureData: [{ signingDomain: 'signer.test', selector: 'sel1', privateKey: privatePem, algorithm: 'rsa-sha256' }],
  }
  const res = await dkimSign(raw, options as unknown as Parameters<typeof dkimSign>[1])
  expect(res.errors).toEqual([])
  expect(res.signatures).toMatch(/^DKIM-Signature: /)
  return Buffer.concat([Buffer.from(res.signatures), raw])
}

describe('SPF', () => {
  it('passes an authorised IP and records where the IP came from', async () => {
    const auth = await run(plainMessage('alice@sender.test'), {})
    expect(auth.SPF).toMatchObject({ Result: 'pass', Domain: 'sender.test', IP: '192.0.2.10', IPSource: 'connection', Helo: 'mail.sender.test' })
  })

  it('gives softfail for ~all and fail for -all', async () => {
    expect((await run(plainMessage('a@soft.test'), { mailFrom: 'a@soft.test' })).SPF.Result).toBe('softfail')
    expect((await run(plainMessage('a@hard.test'), { mailFrom: 'a@hard.test' })).SPF.Result).toBe('fail')
  })

  it('gives permerror for an ipv4: typo', async () => {
    const auth = await run(plainMessage('a@typo.test'), { mailFrom: 'a@typo.test' })
    expect(auth.SPF.Result).toBe('permerror')
    expect(auth.SPF.Explanation).toMatch(/ipv4/i)
  })

  it('gives permerror for two v=spf1 records', async () => {
    const auth = await run(plainMessage('a@double.test'), { mailFrom: 'a@double.test' })
    expect(auth.SPF.Result).toBe('permerror')
  })

  it('follows include chains', async () => {
    expect((await run(plainMessage('a@chain.test'), { mailFrom: 'a@chain.test', clientIp: '198.51.100.7' })).SPF.Result).toBe('pass')
    expect((await run(plainMessage('a@chain.test'), { mailFrom: 'a@chain.test', clientIp: '198.51.101.7' })).SPF.Result).toBe('fail')
  })

  it('gives permerror past the 10-lookup limit (RFC 7208 §4.6.4), counting through includes', async () => {
    const auth = await run(plainMessage('a@many.test'), { mailFrom: 'a@many.test' })
    expect(auth.SPF.Result).toBe('permerror')
    expect(auth.SPF.Explanation).toMatch(/too many DNS/i)
  })

  it('gives temperror when the DNS server does not answer, never fail', async () => {
    const auth = await run(plainMessage('a@slow.test'), { mailFrom: 'a@slow.test' })
    expect(auth.SPF.Result).toBe('temperror')
  })

  it('checks malformed senders as RFC 7208 §4.3 says', async () => {
    // No local part: checked as postmaster@sender.test.
    expect((await run(plainMessage('a@sender.test'), { mailFrom: '@sender.test' })).SPF).toMatchObject({ Result: 'pass', Domain: 'sender.test' })
    // The verbatim argument with brackets and a source route (RFC 5321 §C: ignored).
    expect((await run(plainMessage('a@sender.test'), { mailFrom: '<@relay.example,@r2.example:alice@sender.test>' })).SPF).toMatchObject({ Result: 'pass', Domain: 'sender.test' })
    // An empty label makes the domain malformed: none, without a DNS query for it.
    const before = dns.queries.length
    expect((await run(plainMessage('a@sender.test'), { mailFrom: 'alice@a..sender.test' })).SPF.Result).toBe('none')
    expect(dns.queries.slice(before).filter((q) => q.includes('..') || q.startsWith('a.sender.test'))).toEqual([])
  })

  it('uses the XCLIENT address, not the relay connection', async () => {
    const auth = await run(plainMessage('a@hard.test'), { mailFrom: 'a@hard.test', clientIp: '192.0.2.99', ipSource: 'xclient', relayIp: '127.0.0.1' })
    expect(auth.SPF).toMatchObject({ Result: 'pass', IP: '192.0.2.99', IPSource: 'xclient' })
  })

  it('takes the client IP from the Received field a trusted relay added', async () => {
    const received =
      'Received: from mx.outside.test (mx.outside.test [192.0.2.99])\r\n\tby relay.inside.test (Postfix) with ESMTP id 4AbC;\r\n\tTue, 14 Nov 2023 22:13:19 +0000\r\n'
    const raw = Buffer.concat([Buffer.from(received), plainMessage('a@hard.test')])
    const auth = await run(raw, { mailFrom: 'a@hard.test', clientIp: '10.1.2.3', helo: 'relay.inside.test' }, '10.0.0.0/8')
    expect(auth.SPF).toMatchObject({ Result: 'pass', IP: '192.0.2.99', IPSource: 'received', Helo: 'mx.outside.test' })
  })

  it('ignores Received fields when the connection is not a trusted relay', async () => {
    const received = 'Received: from x (x [192.0.2.99]) by y; Tue, 14 Nov 2023 22:13:19 +0000\r\n'
    const raw = Buffer.concat([Buffer.from(received), plainMessage('a@hard.test')])
    const auth = await run(raw, { mailFrom: 'a@hard.test', clientIp: '10.1.2.3' }, '127.0.0.0/8')
    expect(auth.SPF).toMatchObject({ Result: 'fail', IP: '10.1.2.3', IPSource: 'connection' })
  })
})

describe('DKIM, DMARC, ARC', () => {
  it('passes a signature made with the published key and aligns DMARC on it', async () => {
    const raw = await sign(plainMessage('bob@signer.test'))
    const auth = await run(raw, { mailFrom: 'bounces@sender.test' })
    expect(auth.DKIM).toEqual([{ Result: 'pass', Domain: 'signer.test', Selector: 'sel1', Algorithm: 'rsa-sha256', Aligned: true }])
    expect(auth.DMARC).toMatchObject({ Result: 'pass', Domain: 'signer.test', Policy: 'quarantine', Aligned: true })
    expect(auth.ARC.Result).toBe('none')
  })

  it('fails a signature whose body was modified after signing', async () => {
    const signed = await sign(plainMessage('bob@signer.test', 'Original body.\r\n'))
    const tampered = Buffer.from(signed.toString('latin1').replace('Original body.', 'Changed body!'), 'latin1')
    const auth = await run(tampered, { mailFrom: 'bounces@sender.test' })
    expect(auth.DKIM).toHaveLength(1)
    expect(auth.DKIM[0]).toMatchObject({ Result: 'fail', Domain: 'signer.test', Aligned: false })
    expect(auth.DMARC).toMatchObject({ Result: 'fail', Policy: 'quarantine', Aligned: false })
  })

  it('fails DMARC with policy reject when SPF passes for an unaligned domain and there is no DKIM', async () => {
    const auth = await run(plainMessage('ceo@reject.test'), { mailFrom: 'bounce@bulk.test' })
    expect(auth.SPF.Result).toBe('pass')
    expect(auth.SPF.Domain).toBe('bulk.test')
    expect(auth.DKIM).toEqual([])
    expect(auth.DMARC).toMatchObject({ Result: 'fail', Domain: 'reject.test', Policy: 'reject', Aligned: false })
  })
})

describe('hostile input', () => {
  it('evaluates a message with NUL bytes, bare LF and no headers without throwing', async () => {
    const auth = await run(Buffer.from('\0\0garbage\nwithout headers\n'), { mailFrom: '' , helo: 'sender.test' })
    expect(auth.SPF.Domain).toBe('sender.test')
    // RFC 7208 §2.4: a null reverse-path is checked as postmaster@HELO
    expect(auth.SPF.Result).toBe('pass')
    expect(auth.DKIM).toEqual([])
  })
})

describe('disabled', () => {
  it('records not-evaluated without any DNS query', async () => {
    const before = dns.queries.length
    const analyse = createAuthAnalyser({ enabled: false, dnsServer: { host: '127.0.0.1', port: dns.port }, trustedRelays: [] })
    const summary = blankSummary()
    await analyse(plainMessage('a@hard.test'), makeEnvelope({ mailFrom: 'a@hard.test' }), summary)
    const auth = summary.auth as AuthResults
    expect(auth.SPF.Result).toBe('not-evaluated')
    expect(auth.DMARC.Result).toBe('not-evaluated')
    expect(auth.ARC.Result).toBe('not-evaluated')
    expect(dns.queries.length).toBe(before)
  })
})
