import { describe, expect, it } from 'vitest'
import { MAX_SUMMARY_ADDRESSES, summarize, uniqueAddresses } from '../../src/mail/summary.js'
import { makeEnvelope } from '../helpers/fixtures.js'

// Bcc de-duplication is one pass, and each address header keeps at most MAX_SUMMARY_ADDRESSES
// entries in the summary (the raw message, which the summary never touches, keeps them all).

const CRLF = '\r\n'
const rcpt = (address: string): { address: string; params: Record<string, string> } => ({ address, params: {} })

describe('summary addresses', () => {
  it('de-duplicates Bcc and blind envelope recipients case-insensitively, in order', async () => {
    const raw = Buffer.from(
      [
        'From: a@example.test',
        'To: Named <named@example.test>',
        'Cc: copy@example.test',
        'Bcc: one@example.test, ONE@example.test, two@example.test',
        'Subject: bcc',
        '',
        'x',
      ].join(CRLF),
    )
    const env = makeEnvelope({
      rcptTo: [rcpt('NAMED@example.test'), rcpt('Two@Example.test'), rcpt('three@example.test'), rcpt('copy@example.test'), rcpt('three@EXAMPLE.test')],
    })
    const s = await summarize(raw, env)
    expect(s.bcc).toEqual([
      { Name: '', Address: 'one@example.test' },
      { Name: '', Address: 'two@example.test' },
      { Name: '', Address: 'three@example.test' },
    ])
    expect(s.to).toEqual([{ Name: 'Named', Address: 'named@example.test' }])
  })

  it('handles a Bcc of 40 000 addresses, keeping the first MAX_SUMMARY_ADDRESSES distinct ones', async () => {
    // 20 000 distinct addresses, each twice (the second time upper-cased), so de-duplication has
    // work to do all the way through the header.
    // Eight addresses a folded line: mailsplit counts each header line as at least 64 bytes
    // against its 1 MiB limit on a MIME node's head.
    const distinct = Array.from({ length: 20_000 }, (_, i) => `u${i}@b.example`)
    const all = distinct.flatMap((a) => [a, a.toUpperCase()])
    const lines: string[] = []
    for (let i = 0; i < all.length; i += 8) lines.push(all.slice(i, i + 8).join(', '))
    const header = 'Bcc: ' + lines.join(',' + CRLF + ' ')
    const raw = Buffer.from(['From: a@example.test', 'To: to@example.test', header, 'Subject: many', '', 'x'].join(CRLF))
    const env = makeEnvelope({ rcptTo: distinct.slice(0, 5000).map(rcpt) })
    const s = await summarize(raw, env)
    expect(s.parseError).toBeNull()
    expect(s.bcc).toHaveLength(MAX_SUMMARY_ADDRESSES)
    expect(s.bcc.map((a) => a.Address)).toEqual(distinct.slice(0, MAX_SUMMARY_ADDRESSES))
    expect(new Set(s.bcc.map((a) => a.Address.toLowerCase())).size).toBe(MAX_SUMMARY_ADDRESSES)
  })

  it('caps the blind copies of a message too large to parse, taken from 40 000 envelope recipients', async () => {
    const many = Array.from({ length: 40_000 }, (_, i) => `r${i % 20_000}@rcpt.example`)
    // a head over mailparser's 1 MB limit: the summary falls back to header-level facts
    const raw = Buffer.from(['From: a@example.test', 'X-Filler: ' + 'y'.repeat(1_100_000), 'Subject: huge', '', 'x'].join(CRLF))
    const s = await summarize(raw, makeEnvelope({ rcptTo: many.map(rcpt) }))
    expect(s.parseError).not.toBeNull()
    expect(s.bcc.map((a) => a.Address)).toEqual(many.slice(0, MAX_SUMMARY_ADDRESSES))
  })

  it('caps To and Cc at MAX_SUMMARY_ADDRESSES but still treats every named recipient as not blind', async () => {
    const named = Array.from({ length: MAX_SUMMARY_ADDRESSES + 500 }, (_, i) => `to${i}@example.test`)
    const raw = Buffer.from(['From: a@example.test', 'To: ' + named.join(', '), 'Subject: wide', '', 'x'].join(CRLF))
    const last = named[named.length - 1]!
    const env = makeEnvelope({ rcptTo: [rcpt(last), rcpt('hidden@example.test')] })
    const s = await summarize(raw, env)
    expect(s.to).toHaveLength(MAX_SUMMARY_ADDRESSES)
    expect(s.to[0]!.Address).toBe('to0@example.test')
    // the last To address is past the cap, but it was named: only hidden@ is a blind copy
    expect(s.bcc).toEqual([{ Name: '', Address: 'hidden@example.test' }])
  })

  it('uniqueAddresses stops at its maximum', () => {
    const list = Array.from({ length: 10 }, (_, i) => ({ Name: '', Address: `a${i % 4}@x.test` }))
    expect(uniqueAddresses([list], 3).map((a) => a.Address)).toEqual(['a0@x.test', 'a1@x.test', 'a2@x.test'])
    expect(uniqueAddresses([list, [{ Name: 'N', Address: 'A3@X.TEST' }, { Name: '', Address: 'b@x.test' }]]).map((a) => a.Address)).toEqual([
      'a0@x.test',
      'a1@x.test',
      'a2@x.test',
      'a3@x.test',
      'b@x.test',
    ])
  })
})
