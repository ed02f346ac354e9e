import { createSocket } from 'node:dgram'
import { Resolver } from 'node:dns/promises'
import * as packet from 'dns-packet'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDnsResolver } from '../../../src/mail/analysis/index.js'
import { startDnsServer, type DnsServer } from '../../helpers/dns-server.js'

const LONG = 'x'.repeat(300)
// Enough TXT data that the answer does not fit in a 512-byte UDP message (RFC 1035 §4.2.1).
const BIG = Array.from({ length: 6 }, (_, i) => `k${i}=${'y'.repeat(120)}`)
// RFC 2308 §5: the negative TTL is the lesser of the SOA's TTL and its MINIMUM; the stub sends both as this.
const SOA_MINIMUM_S = 2
let dns: DnsServer
let plain: Resolver
beforeAll(async () => {
  dns = await startDnsServer(
    {
      'host.dns.test': { A: ['192.0.2.1', '192.0.2.2'], AAAA: ['2001:db8::1'], MX: [{ priority: 10, exchange: 'mx.dns.test' }], TXT: [LONG, ['a', 'b']] },
      'down.dns.test': { SERVFAIL: true },
      'short.dns.test': { A: ['192.0.2.7'], TTL: 2 },
      'zero.dns.test': { A: ['192.0.2.8'], TTL: 0 },
      'alias.dns.test': { CNAME: 'target.dns.test', TTL: 300 },
      'target.dns.test': { A: ['192.0.2.9'], TTL: 2 },
      'big.dns.test': { TXT: BIG },
      'weird:name/x.dns.test': { A: ['192.0.2.10'] },
      'silent.dns.test': { DROP: true },
    },
    { soaMinimum: SOA_MINIMUM_S },
  )
  plain = new Resolver({ timeout: 1000, tries: 1 })
  plain.setServers([`127.0.0.1:${dns.port}`])
})
afterAll(() => dns.close())

const count = (q: string): number => dns.queries.filter((x) => x === q).length
const resolver = (): ReturnType<typeof createDnsResolver> => createDnsResolver({ server: { host: '127.0.0.1', port: dns.port }, timeoutMs: 1000 })

/** Resolves once the wall clock has moved past `ms` from now (the TTL is the subject of these tests). */
const elapse = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

describe('loopback DNS stub', () => {
  it('serves A, AAAA and MX records', async () => {
    expect(await plain.resolve4('host.dns.test')).toEqual(['192.0.2.1', '192.0.2.2'])
    expect(await plain.resolve6('host.dns.test')).toEqual(['2001:db8::1'])
    // Node 24 adds a `type: 'MX'` field to each record; compare the two that RFC 1035 defines.
    expect(await plain.resolveMx('host.dns.test')).toEqual([expect.objectContaining({ priority: 10, exchange: 'mx.dns.test' })])
  })

  it('splits TXT strings longer than 255 bytes into character-strings', async () => {
    expect(await plain.resolveTxt('host.dns.test')).toEqual([['x'.repeat(255), 'x'.repeat(45)], ['a', 'b']])
  })

  it('truncates a UDP answer over 512 bytes and serves it whole over TCP', async () => {
    expect(await plain.resolveTxt('big.dns.test')).toEqual(BIG.map((t) => [t]))
  })

  it('answers NXDOMAIN for unknown names, NODATA for missing types, SERVFAIL on request', async () => {
    await expect(plain.resolve4('nope.dns.test')).rejects.toMatchObject({ code: 'ENOTFOUND' })
    await expect(plain.resolvePtr('host.dns.test')).rejects.toMatchObject({ code: 'ENODATA' })
    await expect(plain.resolve4('down.dns.test')).rejects.toMatchObject({ code: 'ESERVFAIL' })
  })
})

describe('createDnsResolver', () => {
  it('caches answers and negative answers per name and type', async () => {
    const resolve = resolver()
    const before = count('host.dns.test A')
    expect(await resolve('host.dns.test', 'A')).toEqual(['192.0.2.1', '192.0.2.2'])
    expect(await resolve('HOST.dns.test.', 'A')).toEqual(['192.0.2.1', '192.0.2.2'])
    expect(count('host.dns.test A')).toBe(before + 1)
    const nx = count('gone.dns.test TXT')
    await expect(resolve('gone.dns.test', 'TXT')).rejects.toMatchObject({ code: 'ENOTFOUND' })
    await expect(resolve('gone.dns.test', 'TXT')).rejects.toMatchObject({ code: 'ENOTFOUND' })
    expect(count('gone.dns.test TXT')).toBe(nx + 1)
  })

  it('does not cache a server failure', async () => {
    const resolve = createDnsResolver({ server: { host: '127.0.0.1', port: dns.port }, timeoutMs: 1000 })
    const before = dns.queries.filter((x) => x === 'down.dns.test TXT').length
    await expect(resolve('down.dns.test', 'TXT')).rejects.toMatchObject({ code: 'ESERVFAIL' })
    await expect(resolve('down.dns.test', 'TXT')).rejects.toMatchObject({ code: 'ESERVFAIL' })
    expect(dns.queries.filter((x) => x === 'down.dns.test TXT').length).toBe(before + 2)
  })

  it('answers in node:dns shapes, over TCP when the UDP answer is truncated', async () => {
    const resolve = resolver()
    expect(await resolve('host.dns.test', 'MX')).toEqual([{ exchange: 'mx.dns.test', priority: 10 }])
    expect(await resolve('host.dns.test', 'AAAA')).toEqual(['2001:db8::1'])
    expect(await resolve('host.dns.test', 'TXT')).toEqual([['x'.repeat(255), 'x'.repeat(45)], ['a', 'b']])
    expect(await resolve('big.dns.test', 'TXT')).toEqual(BIG.map((t) => [t]))
  })

  it.concurrent('keeps an answer for its TTL: a 2 s record is asked again after 2 s, not before', async () => {
    const resolve = resolver()
    const before = count('short.dns.test A')
    expect(await resolve('short.dns.test', 'A')).toEqual(['192.0.2.7'])
    expect(await resolve('short.dns.test', 'A')).toEqual(['192.0.2.7'])
    expect(count('short.dns.test A')).toBe(before + 1)
    await elapse(2100)
    expect(await resolve('short.dns.test', 'A')).toEqual(['192.0.2.7'])
    expect(count('short.dns.test A')).toBe(before + 2)
  })

  it('does not keep an answer whose TTL is 0', async () => {
    const resolve = resolver()
    const before = count('zero.dns.test A')
    await resolve('zero.dns.test', 'A')
    await resolve('zero.dns.test', 'A')
    expect(count('zero.dns.test A')).toBe(before + 2)
  })

  it.concurrent('keeps an answer through a CNAME for the lowest TTL of the chain', async () => {
    const resolve = resolver()
    expect(await resolve('alias.dns.test', 'A')).toEqual(['192.0.2.9'])
    const before = count('alias.dns.test A')
    await resolve('alias.dns.test', 'A')
    expect(count('alias.dns.test A')).toBe(before)
    await elapse(2100)
    await resolve('alias.dns.test', 'A')
    expect(count('alias.dns.test A')).toBe(before + 1)
  })

  it.concurrent('keeps NXDOMAIN for the SOA minimum (RFC 2308), then asks again', async () => {
    const resolve = resolver()
    const before = count('gone2.dns.test TXT')
    await expect(resolve('gone2.dns.test', 'TXT')).rejects.toMatchObject({ code: 'ENOTFOUND' })
    await expect(resolve('gone2.dns.test', 'TXT')).rejects.toMatchObject({ code: 'ENOTFOUND' })
    expect(count('gone2.dns.test TXT')).toBe(before + 1)
    await elapse(SOA_MINIMUM_S * 1000 + 100)
    await expect(resolve('gone2.dns.test', 'TXT')).rejects.toMatchObject({ code: 'ENOTFOUND' })
    expect(count('gone2.dns.test TXT')).toBe(before + 2)
  })

  it('does not cache a negative answer that carries no SOA', async () => {
    const bare = await startDnsServer({ 'x.bare.test': { A: ['192.0.2.1'] } })
    try {
      const resolve = createDnsResolver({ server: { host: '127.0.0.1', port: bare.port }, timeoutMs: 1000 })
      await expect(resolve('x.bare.test', 'TXT')).rejects.toMatchObject({ code: 'ENODATA' })
      await expect(resolve('x.bare.test', 'TXT')).rejects.toMatchObject({ code: 'ENODATA' })
      expect(bare.queries.filter((q) => q === 'x.bare.test TXT')).toHaveLength(2)
    } finally {
      await bare.close()
    }
  })

  it('queries names with any octets in a label, and refuses names DNS cannot carry', async () => {
    const resolve = resolver()
    expect(await resolve('weird:name/x.dns.test', 'A')).toEqual(['192.0.2.10'])
    const before = dns.queries.length
    await expect(resolve(`${'a'.repeat(64)}.dns.test`, 'A')).rejects.toMatchObject({ code: 'EBADNAME' })
    await expect(resolve('a..dns.test', 'A')).rejects.toMatchObject({ code: 'EBADNAME' })
    await expect(resolve(`${'abcdefghi.'.repeat(26)}test`, 'A')).rejects.toMatchObject({ code: 'EBADNAME' })
    expect(dns.queries.length).toBe(before)
  })

  it('gives ETIMEOUT when the server never answers, and does not cache it', async () => {
    const resolve = createDnsResolver({ server: { host: '127.0.0.1', port: dns.port }, timeoutMs: 200 })
    await expect(resolve('silent.dns.test', 'TXT')).rejects.toMatchObject({ code: 'ETIMEOUT' })
    await expect(resolve('silent.dns.test', 'TXT')).rejects.toMatchObject({ code: 'ETIMEOUT' })
    expect(count('silent.dns.test TXT')).toBe(2)
  })

  it('ignores a reply that does not echo its id and question (RFC 5452 §4.1)', async () => {
    // A server that first sends forged answers (wrong id, then another name), then the real one.
    const sock = createSocket('udp4')
    sock.on('message', (msg, rinfo) => {
      const q = packet.decode(msg)
      const question = q.questions![0]!
      const reply = (id: number, name: string, ip: string): Buffer =>
        packet.encode({ type: 'response', id, flags: packet.RECURSION_AVAILABLE, questions: [{ ...question, name }], answers: [{ type: 'A', name, ttl: 60, data: ip }] })
      sock.send(reply(((q.id ?? 0) + 1) & 0xffff, question.name, '192.0.2.66'), rinfo.port, rinfo.address)
      sock.send(reply(q.id ?? 0, 'other.dns.test', '192.0.2.67'), rinfo.port, rinfo.address)
      sock.send(reply(q.id ?? 0, question.name, '192.0.2.1'), rinfo.port, rinfo.address)
    })
    await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', () => resolve()))
    try {
      const resolve = createDnsResolver({ server: { host: '127.0.0.1', port: sock.address().port }, timeoutMs: 1000 })
      expect(await resolve('real.dns.test', 'A')).toEqual(['192.0.2.1'])
    } finally {
      await new Promise<void>((resolve) => sock.close(() => resolve()))
    }
  })
})
