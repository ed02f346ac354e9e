import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDnsResolver, lintSpf, type DnsResolve, type SpfLintResult } from '../../../src/mail/analysis/index.js'
import { startDnsServer, type DnsServer } from '../../helpers/dns-server.js'

// vitest types its asymmetric matchers as `any`; typed `unknown`, one can sit inside an objectContaining pattern.
const matching = (re: RegExp): unknown => expect.stringMatching(re)

const hosts = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`h${i + 1}.lint.test`, { A: [`192.0.2.${(i % 250) + 1}`] }]))
// A literal record with 200 DNS-querying terms, each naming a host that exists.
const MANY_A = 'v=spf1 ' + Array.from({ length: 200 }, (_, i) => `a:h${i + 1}.lint.test`).join(' ') + ' -all'
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
      expect.objectContaining({ Severity: 'warning', Term: '+all', Message: matching(/permits anyone/) }),
    )
    expect((await lintSpf('neutral.lint.test', resolve)).Problems).toContainEqual(
      expect.objectContaining({ Severity: 'warning', Term: '?all', Message: matching(/permits anyone/) }),
    )
    expect((await lintSpf('soft.lint.test', resolve)).Problems).toEqual([
      expect.objectContaining({ Severity: 'info', Term: '~all', Message: matching(/-all/) }),
    ])
  })

  it('finds an include/redirect loop', async () => {
    const r = await lintSpf('loop1.lint.test', resolve)
    expect(errors(r)).toContainEqual(expect.stringMatching(/loop: loop1.lint.test → loop2.lint.test → loop1.lint.test/))
  })

  it('warns when there is no all and no redirect', async () => {
    const r = await lintSpf('noall.lint.test', resolve)
    expect(r.Problems).toEqual([expect.objectContaining({ Severity: 'warning', Message: matching(/no "all" term/) })])
  })

  it('reports an include of a name without SPF', async () => {
    const r = await lintSpf('dangling.lint.test', resolve)
    expect(r.Problems).toContainEqual(expect.objectContaining({ Severity: 'error', Term: 'include:nothing-here.lint.test', Message: matching(/has no SPF record/) }))
  })

  it('lints a literal record, flagging oversize strings without any DNS for non-querying terms', async () => {
    const before = dns.queries.length
    const r = await lintSpf(LONG_RECORD, resolve)
    expect(r.Domain).toBe('')
    expect(r.Lookups).toBe(0)
    expect(r.Problems).toContainEqual(expect.objectContaining({ Severity: 'warning', Message: matching(/oversize/) }))
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

  it('makes no DNS query past the 10th DNS-querying term of a 200-term record (RFC 7208 §4.6.4)', async () => {
    // A resolver of its own, so that no answer comes from the cache of earlier tests.
    const fresh = createDnsResolver({ server: { host: '127.0.0.1', port: dns.port }, timeoutMs: 1000 })
    const before = dns.queries.length
    const r = await lintSpf(MANY_A, fresh)
    const asked = dns.queries.slice(before)
    // Each a: term asks A and AAAA: 10 terms, 20 queries, for h1 to h10 only.
    expect(asked).toHaveLength(20)
    expect(new Set(asked.map((q) => q.split(' ')[0]))).toEqual(new Set(Array.from({ length: 10 }, (_, i) => `h${i + 1}.lint.test`)))
    expect(r.Lookups).toBe(200)
    expect(errors(r)).toContainEqual(expect.stringMatching(/^200 DNS-querying terms.*limit is 10/))
    expect(r.Problems).toContainEqual(expect.objectContaining({ Severity: 'warning', Term: 'a:h11.lint.test', Message: matching(/11th DNS-querying term.*no further DNS lookups/) }))
  })

  it('stops querying at the third void lookup', async () => {
    const record = 'v=spf1 ' + Array.from({ length: 6 }, (_, i) => `a:void${i}.lint.test`).join(' ') + ' -all'
    const before = dns.queries.length
    const r = await lintSpf(record, resolve)
    expect(dns.queries.slice(before).map((q) => q.split(' ')[0])).toEqual(['void0.lint.test', 'void0.lint.test', 'void1.lint.test', 'void1.lint.test', 'void2.lint.test', 'void2.lint.test'])
    expect(r.VoidLookups).toBe(3)
    expect(errors(r)).toContainEqual(expect.stringMatching(/^3 void lookups/))
  })

  it('says what to do when a domain has no SPF at all', async () => {
    const r = await lintSpf('nowhere.lint.test', resolve)
    expect(errors(r)).toEqual([expect.stringMatching(/publishes no SPF record/)])
  })
})

describe('lintSpf against a DNS server that never answers', () => {
  let silent: DnsServer
  beforeAll(async () => {
    silent = await startDnsServer({}, { silent: true })
  })
  afterAll(() => silent.close())

  it('stops at the first timeout of a 200-term record, as a receiver stops with temperror', async () => {
    const r = await lintSpf(MANY_A, createDnsResolver({ server: { host: '127.0.0.1', port: silent.port }, timeoutMs: 200 }))
    expect(silent.queries.splice(0)).toEqual(['h1.lint.test A', 'h1.lint.test AAAA'])
    expect(r.Problems).toContainEqual(expect.objectContaining({ Term: 'a:h1.lint.test', Message: matching(/failed; receivers would return temperror/) }))
    expect(r.Problems).toContainEqual(expect.objectContaining({ Term: 'a:h1.lint.test', Message: matching(/no further DNS lookups/) }))
  })

  it('gives up when the time budget runs out before the resolver times out', async () => {
    const resolveSlowly = createDnsResolver({ server: { host: '127.0.0.1', port: silent.port }, timeoutMs: 20_000 })
    const r = await lintSpf('silent.lint.test', resolveSlowly, { budgetMs: 300 })
    expect(silent.queries.splice(0)).toEqual(['silent.lint.test TXT'])
    expect(r.Record).toBe('')
    expect(r.Problems).toEqual([expect.objectContaining({ Severity: 'warning', Message: matching(/longer than 300 ms in all: no further DNS lookups/) })])
  })
})
