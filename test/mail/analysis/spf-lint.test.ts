import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDnsResolver, lintSpf, type DnsResolve, type SpfLintResult } from '../../../src/mail/analysis/index.js'
import { startDnsServer, type DnsServer } from '../../helpers/dns-server.js'

const hosts = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`h${i + 1}.lint.test`, { A: [`192.0.2.${i + 1}`] }]))
const LONG_RECORD = 'v=spf1 ' + Array.from({ length: 20 }, (_, i) => `ip4:198.51.100.${i}`).join(' ') + ' -all'

const ZONE = {
  'good.lint.test': { TXT: ['v=spf1 ip4:192.0.2.0/24 include:_spf.good.lint.test -all'] },
  '_spf.good.lint.test': { TXT: ['v=spf1 ip6:2001:db8::/32 -all'] },
  'typo.lint.test': { TXT: ['v=spf1 ipv4:192.0.2.1 -all'] },
  'two.lint.test': { TXT: ['v=spf1 -all', 'v=spf1 ip4:192.0.2.1 -all', 'google-site-verification=abc'] },
  'many.lint.test': { TXT: ['v=spf1 include:a.many.lint.test include:b.many.lint.test -all'] },
  'a.many.lint.test': { TXT: ['v=spf1 a:h1.lint.test a:h2.lint.test a:h3.lint.test a:h4.lint.test a:h5.lint.test -all'] },
  'b.many.lint.test': { TXT: ['v=spf1 a:h6.lint.test a:h7.lint.test a:h8.lint.test a:h9.lint.test mx:h10.lint.test -all'] },
  ...hosts,
  'h10.lint.test': { MX: [{ priority: 10, exchange: 'h1.lint.test' }] },
  'void.lint.test': { TXT: ['v=spf1 a:gone1.lint.test a:gone2.lint.test mx:gone3.lint.test -all'] },
  'open.lint.test': { TXT: ['v=spf1 +all'] },
  'neutral.lint.test': { TXT: ['v=spf1 ip4:192.0.2.1 ?all'] },
  'soft.lint.test': { TXT: ['v=spf1 ip4:192.0.2.1 ~all'] },
  'loop1.lint.test': { TXT: ['v=spf1 include:loop2.lint.test -all'] },
  'loop2.lint.test': { TXT: ['v=spf1 redirect=loop1.lint.test'] },
  'noall.lint.test': { TXT: ['v=spf1 ip4:192.0.2.1'] },
  'long.lint.test': { TXT: [LONG_RECORD] },
  'dangling.lint.test': { TXT: ['v=spf1 include:nothing-here.lint.test -all'] },
}

let dns: DnsServer
let resolve: DnsResolve
beforeAll(async () => {
  dns = await startDnsServer(ZONE)
  resolve = createDnsResolver({ server: { host: '127.0.0.1', port: dns.port }, timeoutMs: 1000 })
})
afterAll(() => dns.close())

const errors = (r: SpfLintResult): string[] => r.Problems.filter((p) => p.Severity === 'error').map((p) => p.Message)

describe('lintSpf', () => {
  it('finds nothing wrong with a clean record and counts its lookups', async () => {
    const r = await lintSpf('good.lint.test', resolve)
    expect(r).toMatchObject({ Domain: 'good.lint.test', Record: 'v=spf1 ip4:192.0.2.0/24 include:_spf.good.lint.test -all', Lookups: 1, VoidLookups: 0 })
    expect(r.Problems).toEqual([])
  })

  it('names the mistyped mechanism and suggests the right one', async () => {
    const r = await lintSpf('typo.lint.test', resolve)
    expect(r.Problems).toContainEqual(expect.objectContaining({ Severity: 'error', Term: 'ipv4:192.0.2.1' }))
    expect(errors(r).join('\n')).toContain('unknown mechanism ipv4:, did you mean ip4:?')
  })

  it('reports two v=spf1 records and ignores other TXT records', async () => {
    const r = await lintSpf('two.lint.test', resolve)
    expect(errors(r)).toEqual([expect.stringMatching(/publishes 2 v=spf1 records.*permerror.*merge/)])
  })

  it('counts DNS-querying terms through includes past the limit of 10', async () => {
    const r = await lintSpf('many.lint.test', resolve)
    expect(r.Lookups).toBe(12)
    expect(errors(r)).toContainEqual(expect.stringMatching(/^12 DNS-querying terms.*limit is 10/))
  })

  it('counts void lookups and errors past 2', async () => {
    const r = await lintSpf('void.lint.test', resolve)
    expect(r.VoidLookups).toBe(3)
    expect(r.Problems.filter((p) => p.Severity === 'warning' && /void lookup/.test(p.Message)).map((p) => p.Term)).toEqual([
      'a:gone1.lint.test',
      'a:gone2.lint.test',
      'mx:gone3.lint.test',
    ])
    expect(errors(r)).toContainEqual(expect.stringMatching(/^3 void lookups.*more than 2/))
  })

  it('warns that +all and ?all permit anyone, and advises on ~all', async () => {
    expect((await lintSpf('open.lint.test', resolve)).Problems).toContainEqual(
      expect.objectContaining({ Severity: 'warning', Term: '+all', Message: expect.stringMatching(/permits anyone/) }),
    )
    expect((await lintSpf('neutral.lint.test', resolve)).Problems).toContainEqual(
      expect.objectContaining({ Severity: 'warning', Term: '?all', Message: expect.stringMatching(/permits anyone/) }),
    )
    expect((await lintSpf('soft.lint.test', resolve)).Problems).toEqual([
      expect.objectContaining({ Severity: 'info', Term: '~all', Message: expect.stringMatching(/-all/) }),
    ])
  })

  it('finds an include/redirect loop', async () => {
    const r = await lintSpf('loop1.lint.test', resolve)
    expect(errors(r)).toContainEqual(expect.stringMatching(/loop: loop1.lint.test → loop2.lint.test → loop1.lint.test/))
  })

  it('warns when there is no all and no redirect', async () => {
    const r = await lintSpf('noall.lint.test', resolve)
    expect(r.Problems).toEqual([expect.objectContaining({ Severity: 'warning', Message: expect.stringMatching(/no "all" term/) })])
  })

  it('reports an include of a name without SPF', async () => {
    const r = await lintSpf('dangling.lint.test', resolve)
    expect(r.Problems).toContainEqual(expect.objectContaining({ Severity: 'error', Term: 'include:nothing-here.lint.test', Message: expect.stringMatching(/has no SPF record/) }))
  })

  it('lints a literal record, flagging oversize strings without any DNS for non-querying terms', async () => {
    const before = dns.queries.length
    const r = await lintSpf(LONG_RECORD, resolve)
    expect(r.Domain).toBe('')
    expect(r.Lookups).toBe(0)
    expect(r.Problems).toContainEqual(expect.objectContaining({ Severity: 'warning', Message: expect.stringMatching(/oversize/) }))
    expect(dns.queries.length).toBe(before)
  })

  it('a long record published in 255-byte strings reads back whole', async () => {
    const r = await lintSpf('long.lint.test', resolve)
    expect(r.Record).toBe(LONG_RECORD)
    expect(errors(r)).toEqual([])
  })

  it('checks ip4/ip6 arguments and prefix lengths', async () => {
    const r = await lintSpf('v=spf1 ip4:192.0.2.300 ip4:192.0.2.0/33 ip6:2001:db8::/129 ip4:2001:db8::1 ptr -all', resolve)
    expect(r.Problems.map((p) => [p.Severity, p.Term])).toEqual([
      ['error', 'ip4:192.0.2.300'],
      ['error', 'ip4:192.0.2.0/33'],
      ['error', 'ip6:2001:db8::/129'],
      ['error', 'ip4:2001:db8::1'],
      ['warning', 'ptr'],
    ])
    expect(r.Problems[3]?.Message).toMatch(/use ip6:/)
  })

  it('says what to do when a domain has no SPF at all', async () => {
    const r = await lintSpf('nowhere.lint.test', resolve)
    expect(errors(r)).toEqual([expect.stringMatching(/publishes no SPF record/)])
  })
})
