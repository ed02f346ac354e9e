// The OpenSPF RFC 7208 conformance suite (../shared/corpus/spf, absent in a user's clone), run through the
// auth analyser that evaluates SMTP traffic, with each scenario's zone served by a loopback DNS server and
// a fresh analyser (so an empty DNS cache) per scenario.
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { parseAllDocuments } from 'yaml'
import { createAuthAnalyser, type AuthResults } from '../../../src/mail/analysis/index.js'
import { startDnsServer, type DnsServer, type Zone, type ZoneEntry } from '../../helpers/dns-server.js'
import { blankSummary, makeEnvelope, plainMessage } from './helpers.js'

const FILE = join(import.meta.dirname, '..', '..', '..', '..', 'shared', 'corpus', 'spf', 'rfc7208-tests.yml')
const present = existsSync(FILE)
if (!present) console.warn(`RFC 7208 suite skipped: ${FILE} is absent`)

/**
 * Tests we do not pass (result, or explanation where the test gives one), by name, each with the reason. Any
 * other failure fails this file, and so does a listed test that passes (so the list cannot go stale).
 */
const KNOWN_MISSES: Record<string, string> = {
  'v-macro-ip6':
    'result right (fail); the client IP is written CAFE:BABE::1 and the suite expects the %{i} nibbles of the explanation in that case, we write them lowercase, as RFC 7208 §7.4 does in its own example',
}

interface SuiteTest {
  description?: string
  spec?: string | string[]
  helo: string
  host: string
  mailfrom: string
  result: string | string[]
  explanation?: string
}

interface Scenario {
  description: string
  tests: Record<string, SuiteTest>
  zonedata?: Record<string, (Record<string, unknown> | string)[]>
}

// The YAML writes bytes as "\xNN" escapes, which a YAML parser reads as code points U+0000-U+00FF: put such a
// string on the wire as those bytes (latin1), anything wider as UTF-8.
const bytes = (s: string): Buffer => (/[\u0100-\uffff]/.test(s) ? Buffer.from(s, 'utf8') : Buffer.from(s, 'latin1'))

function txtRecord(v: unknown): Buffer | Buffer[] {
  return Array.isArray(v) ? v.map((s) => bytes(String(s))) : bytes(String(v))
}

/**
 * The drivers' rules (README of the corpus): an SPF record is also served as TXT unless the name has TXT
 * records of its own; "TXT: NONE" means no TXT record; TIMEOUT applies to the query types with no record
 * listed before it.
 */
function zoneFrom(data: Scenario['zonedata']): Zone {
  const zone: Zone = {}
  for (const [name, records] of Object.entries(data ?? {})) {
    const entry: ZoneEntry = {}
    const seen = new Set<string>()
    let ownTxt = false
    let txtNone = false
    let timeout = false
    for (const rec of records) {
      if (rec === 'TIMEOUT') {
        timeout = true
        continue
      }
      if (typeof rec !== 'object' || rec === null) throw new Error(`unreadable record at ${name}: ${String(rec)}`)
      for (const [type, value] of Object.entries(rec)) {
        if (!(type === 'TXT' && value === 'NONE')) seen.add(type)
        switch (type) {
          case 'SPF':
            ;(entry.SPF ??= []).push(txtRecord(value))
            break
          case 'TXT':
            if (value === 'NONE') txtNone = true
            else {
              ownTxt = true
              ;(entry.TXT ??= []).push(txtRecord(value))
            }
            break
          case 'A':
            ;(entry.A ??= []).push(...[value].flat().map(String))
            break
          case 'AAAA':
            ;(entry.AAAA ??= []).push(...[value].flat().map(String))
            break
          case 'MX': {
            const [priority, exchange] = value as [number, string]
            ;(entry.MX ??= []).push({ priority, exchange })
            break
          }
          case 'PTR':
            ;(entry.PTR ??= []).push(String(value))
            break
          case 'CNAME':
            entry.CNAME = String(value)
            break
          default:
            throw new Error(`record type ${type} at ${name} is not served`)
        }
      }
    }
    if (!ownTxt && !txtNone && entry.SPF) entry.TXT = [...entry.SPF]
    if (timeout) {
      const answered = new Set([...seen].flatMap((t) => (t === 'SPF' && !ownTxt && !txtNone ? ['SPF', 'TXT'] : [t])))
      const drop = ['A', 'AAAA', 'MX', 'PTR', 'TXT', 'SPF', 'CNAME'].filter((t) => !answered.has(t))
      entry.DROP = drop.length === 7 ? true : drop
    }
    zone[name] = entry
  }
  return zone
}

const scenarios: Scenario[] = present ? parseAllDocuments(readFileSync(FILE, 'latin1')).map((d) => d.toJSON() as Scenario) : []
const outcomes = new Map<string, { expected: string[]; got: string; explained: boolean }>()

describe.skipIf(!present)('RFC 7208 conformance suite through the auth analyser', () => {
  for (const scenario of scenarios) {
    describe(scenario.description, () => {
      let dns: DnsServer | undefined
      afterAll(() => dns?.close())

      for (const [name, t] of Object.entries(scenario.tests)) {
        const expected = [t.result].flat()
        const known = KNOWN_MISSES[name]
        it(`${name} (§${[t.spec].flat().join(', §')}): ${expected.join(' or ')}${known ? ` [known miss: ${known}]` : ''}`, async () => {
          dns ??= await startDnsServer(zoneFrom(scenario.zonedata))
          const analyse = scenarioAnalyser(scenario, dns)
          const summary = blankSummary()
          await analyse(plainMessage('someone@header-from.invalid'), makeEnvelope({ mailFrom: t.mailfrom, clientIp: t.host, helo: t.helo }), summary)
          const got = (summary.auth as AuthResults).SPF.Result
          const explanation = (summary.auth as AuthResults).SPF.Explanation
          const explained = t.explanation === undefined || t.explanation === 'DEFAULT' || explanation === t.explanation
          outcomes.set(name, { expected, got, explained })
          if (known) expect(expected.includes(got) && explained, `${name} passes now: take it off KNOWN_MISSES`).toBe(false)
          else {
            expect(expected, `got ${got}: ${explanation}`).toContain(got)
            // RFC 7208 §6.2: where the test names the domain's explanation, SPF.Explanation carries it.
            if (t.explanation !== undefined && t.explanation !== 'DEFAULT') expect(explanation).toBe(t.explanation)
          }
        })
      }
    })
  }

  afterAll(() => {
    const passed = [...outcomes.values()].filter((o) => o.expected.includes(o.got) && o.explained).length
    console.info(`RFC 7208 suite: ${passed} of ${outcomes.size} tests give the expected result (and explanation, where given)`)
  })
})

const analysers = new WeakMap<Scenario, ReturnType<typeof createAuthAnalyser>>()
/** One analyser, so one DNS cache, per scenario: scenarios reuse names with other records. */
function scenarioAnalyser(scenario: Scenario, dns: DnsServer): ReturnType<typeof createAuthAnalyser> {
  let a = analysers.get(scenario)
  if (!a) {
    a = createAuthAnalyser({ enabled: true, dnsServer: { host: '127.0.0.1', port: dns.port }, trustedRelays: [], timeoutMs: 300 })
    analysers.set(scenario, a)
  }
  return a
}
