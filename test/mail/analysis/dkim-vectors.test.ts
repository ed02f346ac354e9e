import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createAuthAnalyser, type AuthResults, type AuthResultWord } from '../../../src/mail/analysis/index.js'
import type { Analyser } from '../../../src/mail/indexer.js'
import { startDnsServer, type DnsServer, type Zone } from '../../helpers/dns-server.js'
import { blankSummary, makeEnvelope } from './helpers.js'

// Third-party DKIM vectors (Mail::DKIM, dkimpy, MimeKit, generated): ../shared/corpus, absent in a user's clone.
const DIR = join(import.meta.dirname, '..', '..', '..', '..', 'shared', 'corpus', 'dkim')
const present = existsSync(join(DIR, 'VECTORS.tsv'))
if (!present) console.warn(`DKIM vector test skipped: ${DIR} is absent`)

function readTsv(file: string): Record<string, string>[] {
  const [head = '', ...lines] = readFileSync(join(DIR, file), 'utf8').split('\n').filter((l) => l.trim() !== '')
  const cols = head.split('\t')
  return lines.map((l) => {
    const cells = l.split('\t')
    return Object.fromEntries(cols.map((c, i) => [c, cells[i] ?? '']))
  })
}

// dns-records.tsv: a TXT value, or a condition (NXDOMAIN, TIMEOUT, SERVFAIL); an empty cell is an empty TXT record.
function zoneFrom(rows: Record<string, string>[]): Zone {
  const zone: Zone = {}
  for (const r of rows) {
    const name = r.name!
    const v = r.txt_or_condition!
    if (v === 'NXDOMAIN') continue
    else if (v === 'TIMEOUT') zone[name] = { DROP: true }
    else if (v === 'SERVFAIL') zone[name] = { SERVFAIL: true }
    else (zone[name] ??= { TXT: [] }).TXT!.push(v)
  }
  return zone
}

// The best result over all signatures, as Mail::DKIM ranks them for its per-message verdict.
const RANK: AuthResultWord[] = ['pass', 'fail', 'policy', 'permerror', 'temperror', 'neutral', 'none']
function best(auth: AuthResults): AuthResultWord {
  const words = auth.DKIM.map((d) => d.Result)
  return RANK.find((w) => words.includes(w)) ?? 'none'
}

// VECTORS.tsv `expected` (Mail::DKIM words) to the RFC 8601 words we may report. Mail::DKIM "invalid" means the
// signature could not be evaluated (treated as unsigned): anything but pass or fail. A DomainKeys-only message
// (the note says so) has no DKIM signature at all, so a DKIM verifier reports none whatever DomainKeys says.
function acceptable(v: Record<string, string>): AuthResultWord[] {
  if (/a DKIM verifier reports dkim=none/.test(v.note ?? '')) return ['none']
  switch (v.expected) {
    case 'pass':
      return ['pass']
    case 'fail':
      return ['fail']
    case 'fail(permerror)':
    case 'fail(RFC8301)':
      return ['fail', 'permerror']
    case 'invalid':
      return ['none', 'neutral', 'policy', 'permerror', 'temperror']
    default:
      throw new Error(`unknown expectation ${v.expected} for ${v.file}`)
  }
}

const WEAK = 'RSA key under 1024 bits (key_bits): RFC 8301 §3.2, mailauth reports policy (weak-key)'
const DRAFT00 = 'draft-00 signature without bh= (RFC 6376 §3.5 requires it, §6.1.1 PERMFAIL): permerror; its key is also under 1024 bits'
const SHA1 = 'rsa-sha1: RFC 8301 §3.1 says MUST NOT verify, reported permerror'

/**
 * Vectors whose expectation predates RFC 8301 (keys under 1024 bits, rsa-sha1) or RFC 6376 (draft-00), and one
 * whose expectation is a boolean where RFC 8601 has a word: what we report, and why. Policy cases only.
 */
const KNOWN_DIFFERENCES: Record<string, { got: AuthResultWord; reason: string }> = {
  'maildkim--bad_1.eml': { got: 'policy', reason: `${WEAK}, before the signature is checked` },
  'maildkim--bad_ietf01_2.eml': { got: 'policy', reason: `${WEAK}, before the signature is checked` },
  'maildkim--bad_ietf01_3.eml': { got: 'policy', reason: `${WEAK}, before the signature is checked` },
  'maildkim--good_1878523.eml': { got: 'policy', reason: WEAK },
  'maildkim--bad_ietf01_1.eml': { got: 'policy', reason: `${WEAK}, before the signature is checked` },
  'maildkim--good_ietf00_1.eml': { got: 'permerror', reason: DRAFT00 },
  'maildkim--good_ietf00_2.eml': { got: 'permerror', reason: DRAFT00 },
  'maildkim--good_ietf00_3.eml': { got: 'permerror', reason: DRAFT00 },
  'maildkim--good_ietf00_4.eml': { got: 'permerror', reason: DRAFT00 },
  'maildkim--good_ietf00_5.eml': { got: 'permerror', reason: DRAFT00 },
  'maildkim--good_ietf01_1.eml': { got: 'policy', reason: `${WEAK}; draft-era signature without v=` },
  'maildkim--good_ietf01_2.eml': { got: 'policy', reason: `${WEAK}; draft-era signature without v=` },
  'maildkim--good_qp_1.eml': { got: 'policy', reason: WEAK },
  'maildkim--good_qp_2.eml': { got: 'policy', reason: WEAK },
  'maildkim--good_qp_3.eml': { got: 'policy', reason: WEAK },
  'maildkim--good_rfc4871_3.eml': { got: 'policy', reason: WEAK },
  'maildkim--good_rfc4871_4.eml': { got: 'policy', reason: WEAK },
  'maildkim--goodkey_1.eml': { got: 'policy', reason: WEAK },
  'maildkim--goodkey_2.eml': { got: 'policy', reason: WEAK },
  'maildkim--goodkey_3.eml': { got: 'policy', reason: WEAK },
  'maildkim--goodkey_4.eml': { got: 'policy', reason: WEAK },
  'maildkim--good_83176.eml': { got: 'permerror', reason: SHA1 },
  'maildkim--mine_ietf01_1.eml': { got: 'permerror', reason: `${SHA1}; draft-era signature without v=` },
  'maildkim--mine_ietf01_2.eml': { got: 'permerror', reason: `${SHA1}; draft-era signature without v=` },
  'maildkim--mine_ietf05_1.eml': { got: 'permerror', reason: `${SHA1}; draft-era v=0.5` },
  'maildkim--no_body_2.eml': { got: 'permerror', reason: `${SHA1}; draft-era v=0.5` },
  'maildkim--no_body_3.eml': { got: 'permerror', reason: `${SHA1}; draft-era v=0.5` },
  'maildkim--no_body_1.eml': { got: 'permerror', reason: `${SHA1}; draft-era v=0.5 (RFC 6376 §6.1.1: incompatible version)` },
  'maildkim--multiple_1.eml': { got: 'policy', reason: `${WEAK} (768-bit); draft-era signatures without v=, one with a body mismatch` },
  'maildkim--multiple_2.eml': { got: 'fail', reason: `the only verifying signature is ${SHA1}; another fails` },
  'dkimpy--test.baddomain.eml': {
    got: 'permerror',
    reason: "illegal d=legitimate.com(.attacker.com: RFC 6376 §6.1.1 PERMFAIL, reported permerror (RFC 8601); the vector's 'fail' is dkimpy's boolean verify(), whose own result is a ValidationError",
  },
}

describe.skipIf(!present)('DKIM vectors (shared corpus)', () => {
  let dns: DnsServer
  let analyse: Analyser
  const vectors = present ? readTsv('VECTORS.tsv') : []

  beforeAll(async () => {
    dns = await startDnsServer(zoneFrom(readTsv('dns-records.tsv')))
    // A short DNS timeout keeps the TIMEOUT record from dominating the run.
    analyse = createAuthAnalyser({ enabled: true, dnsServer: { host: '127.0.0.1', port: dns.port }, trustedRelays: [], timeoutMs: 300 })
  })
  afterAll(() => dns?.close())

  it('has the 95 vectors and no stale known differences', () => {
    expect(vectors).toHaveLength(95)
    const files = new Set(vectors.map((v) => v.file))
    expect(Object.keys(KNOWN_DIFFERENCES).filter((f) => !files.has(f))).toEqual([])
  })

  it.each(vectors.map((v) => [v.file!, v] as const))('%s', async (file, v) => {
    // The files mostly ship with LF; an SMTP client sends (and the store keeps) CRLF.
    const raw = Buffer.from(readFileSync(join(DIR, 'messages', file)).toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1')
    const summary = blankSummary()
    await analyse(raw, makeEnvelope({ mailFrom: '' }), summary)
    const got = best(summary.auth as AuthResults)
    const known = KNOWN_DIFFERENCES[file]
    if (known) {
      // Pin what we report, and drop the entry once the vector passes.
      expect(got, `${file}: known difference (${known.reason})`).toBe(known.got)
      expect(acceptable(v), `${file} now matches its expectation: remove it from KNOWN_DIFFERENCES`).not.toContain(got)
    } else {
      expect(acceptable(v), `${file}: expected ${v.expected} (${v.note}), got ${got}`).toContain(got)
    }
  })
})
