import { Resolver } from 'node:dns/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDnsResolver } from '../../../src/mail/analysis/index.js'
import { startDnsServer, type DnsServer } from '../../helpers/dns-server.js'

const LONG = 'x'.repeat(300)
let dns: DnsServer
let plain: Resolver
beforeAll(async () => {
  dns = await startDnsServer({
    'host.dns.test': { A: ['192.0.2.1', '192.0.2.2'], AAAA: ['2001:db8::1'], MX: [{ priority: 10, exchange: 'mx.dns.test' }], TXT: [LONG, ['a', 'b']] },
    'down.dns.test': { SERVFAIL: true },
  })
  plain = new Resolver({ timeout: 1000, tries: 1 })
  plain.setServers([`127.0.0.1:${dns.port}`])
})
afterAll(() => dns.close())

describe('loopback DNS stub', () => {
  it('serves A, AAAA and MX records', async () => {
    expect(await plain.resolve4('host.dns.test')).toEqual(['192.0.2.1', '192.0.2.2'])
    expect(await plain.resolve6('host.dns.test')).toEqual(['2001:db8::1'])
    expect(await plain.resolveMx('host.dns.test')).toEqual([{ priority: 10, exchange: 'mx.dns.test' }])
  })

  it('splits TXT strings longer than 255 bytes into character-strings', async () => {
    expect(await plain.resolveTxt('host.dns.test')).toEqual([['x'.repeat(255), 'x'.repeat(45)], ['a', 'b']])
  })

  it('answers NXDOMAIN for unknown names, NODATA for missing types, SERVFAIL on request', async () => {
    await expect(plain.resolve4('nope.dns.test')).rejects.toMatchObject({ code: 'ENOTFOUND' })
    await expect(plain.resolvePtr('host.dns.test')).rejects.toMatchObject({ code: 'ENODATA' })
    await expect(plain.resolve4('down.dns.test')).rejects.toMatchObject({ code: 'ESERVFAIL' })
  })
})

describe('createDnsResolver', () => {
  it('caches answers and negative answers per name and type', async () => {
    const resolve = createDnsResolver({ server: { host: '127.0.0.1', port: dns.port }, timeoutMs: 1000 })
    const count = (q: string): number => dns.queries.filter((x) => x === q).length
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
})
