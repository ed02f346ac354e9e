import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMessageStore, type Envelope, type MessageStore, type MessageSummary } from '../../src/store/index.js'
import { compileSearch } from '../../src/store/search-query.js'
import { blankSummary, makeEnvelope } from '../helpers/fixtures.js'

// The search terms of issue 11 (Mailpit's substring matching and its extra terms) over a real
// in-memory store: each query is checked against which of three messages it returns.

describe('Mailpit search terms', () => {
  let store: MessageStore
  const ids: Record<string, string> = {}

  beforeAll(async () => {
    store = createMessageStore(':memory:')
    const add = async (name: string, size: number, env: Partial<Envelope>, sum: Partial<MessageSummary>): Promise<void> => {
      const head = `Subject: ${name}\r\n\r\n`
      const m = await store.insert(Buffer.from(head + 'x'.repeat(Math.max(0, size - head.length))), makeEnvelope(env))
      await store.saveSummaries([{ seq: m.seq, summary: { ...blankSummary(), ...sum } }])
      ids[name] = m.id
    }
    await add('zebra', 500, { receivedAt: Date.parse('2026-03-10T12:00:00Z') }, {
      subject: 'Zebra crossing',
      from: { Name: 'Billing', Address: 'billing@shop.example' },
      to: [{ Name: 'Ann', Address: 'ann@to.example' }],
      cc: [{ Name: '', Address: 'carl@cc.example' }],
      bcc: [{ Name: '', Address: 'bea@bcc.example' }],
      replyTo: [{ Name: '', Address: 'rita@reply.example' }],
      messageId: 'ABC-123@shop.example',
      attachments: 1,
      attachmentNames: ['report.pdf'],
      bodyText: 'the striped\r\n   animal',
    })
    // 02:30 UTC on the 11th is still the 10th in New York (UTC-4 after 8 March 2026)
    await add('big', 3000, { receivedAt: Date.parse('2026-03-11T02:30:00Z') }, {
      subject: 'Other',
      from: { Name: '', Address: 'news@list.example' },
      to: [{ Name: '', Address: 'carl@cc.example' }],
      messageId: 'big@list.example',
      inline: 1,
      bodyText: 'nothing here',
    })
    await add('small', 100, { receivedAt: Date.parse('2026-03-12T00:00:00Z') }, {
      subject: 'Short',
      from: null,
      messageId: 'xyz@other.example',
      bodyText: 'ab cd, see re:ticket 42',
    })
  })
  afterAll(async () => store.close())

  const find = (search: string, tz?: string): string[] =>
    store
      .list({ search, ...(tz ? { tz } : {}) })
      .messages.map((m) => Object.entries(ids).find(([, id]) => id === m.id)![0])
      .sort()

  it.each([
    // free words match anywhere inside subject, addresses, attachment names and text
    ['ebra', ['zebra']],
    ['EBRA', ['zebra']],
    ['tripe', ['zebra']],
    ['report.pdf', ['zebra']],
    ['port.p', ['zebra']],
    ['"striped animal"', ['zebra']], // whitespace runs fold to one space
    ['o.examp', ['zebra']], // inside an address
    ['-ebra', ['big', 'small']],
    ['ebra tripe', ['zebra']],
    ['ebra nothing', []],
    ['ab', ['small']], // under 3 characters: the word index, as a prefix
    // unknown word: prefixes are text
    ['re:ticket', ['small']],
    ['xx:ticket', []],
    // to: is To only; addressed: is To, Cc, Bcc or Reply-To
    ['to:carl', ['big']],
    ['to:ann', ['zebra']],
    ['to:an', ['zebra']],
    ['-to:carl', ['small', 'zebra']],
    ['cc:carl', ['zebra']],
    ['addressed:carl', ['big', 'zebra']],
    ['addressed:bea@bcc', ['zebra']],
    ['addressed:rita', ['zebra']],
    ['addressed:billing', []], // From is not an addressee
    ['-addressed:carl', ['small']],
    // message-id: by substring, <> dropped
    ['message-id:123@shop', ['zebra']],
    ['message-id:<ABC-123@shop.example>', ['zebra']],
    ['message-id:example', ['big', 'small', 'zebra']],
    // sizes
    ['larger:2k', ['big']],
    ['larger:2000', ['big']],
    ['smaller:1k', ['small', 'zebra']],
    ['smaller:0.2KB', ['small']],
    ['larger:1.5M', []],
    ['has:inline', ['big']],
    ['has:attachment', ['zebra']],
    // dates: a day means from its start
    ['after:2026-03-11', ['big', 'small']],
    ['after:2026-03-12', ['small']],
    ['before:2026-03-11', ['zebra']],
    ['after:2026-03-10T13:00:00Z', ['big', 'small']],
    // empty address terms are ignored
    ['from:', ['big', 'small', 'zebra']],
    ['from:""', ['big', 'small', 'zebra']],
    ['from: ebra', ['zebra']],
    ['to: message-id:', ['big', 'small', 'zebra']],
    ['-from:', ['big', 'small', 'zebra']],
    ['tag:', ['big', 'small', 'zebra']],
    ['- ebra', ['zebra']], // a lone "-" is no term
  ])('%s', (q, expected) => {
    expect(find(q)).toEqual(expected)
  })

  it('takes date-only values in the tz parameter zone', () => {
    expect(find('after:2026-03-11', 'America/New_York')).toEqual(['small'])
    expect(find('before:2026-03-11', 'America/New_York')).toEqual(['big', 'zebra'])
    expect(find('after:2026-03-11', 'Pacific/Auckland')).toEqual(['big', 'small', 'zebra']) // the 11th starts on the 10th at 11:00Z
    expect(find('after:2026-03-10T13:00:00Z', 'America/New_York')).toEqual(['big', 'small']) // a full time ignores tz
  })

  it('refuses bad sizes and zones with a message naming them', () => {
    expect(() => store.list({ search: 'larger:2x' })).toThrow(/larger:/)
    expect(() => store.list({ search: 'smaller:' })).toThrow(/smaller:/)
    expect(() => store.list({ search: 'after:2026-03-11', tz: 'Mars/Olympus' })).toThrow(/tz/)
    expect(() => store.list({ search: 'has:cake' })).toThrow(/has:inline/)
  })

  it('drives free words of 3+ characters by the trigram index and shorter ones by the word index', () => {
    expect(compileSearch('ebra').driver?.table).toBe('messages_substring_fts')
    expect(compileSearch('ab').driver?.table).toBe('messages_fts')
    expect(compileSearch('addressed:carl').driver?.table).toBe('messages_substring_fts')
    expect(compileSearch('to:carl').driver?.table).toBe('messages_search_fts')
  })

  it('finds a message again after it is deleted and forgets it (the trigger empties the index row)', async () => {
    const s = createMessageStore(':memory:')
    try {
      const m = await s.insert(Buffer.from('Subject: t\r\n\r\nx'), makeEnvelope())
      await s.saveSummaries([{ seq: m.seq, summary: { ...blankSummary(), subject: 'quokka' } }])
      expect(s.list({ search: 'okk' }).messages.map((x) => x.id)).toEqual([m.id])
      await s.delete({ ids: [m.id] })
      const m2 = await s.insert(Buffer.from('Subject: t\r\n\r\nx'), makeEnvelope())
      await s.saveSummaries([{ seq: m2.seq, summary: { ...blankSummary(), subject: 'other' } }])
      expect(s.list({ search: 'okk' }).messages).toEqual([])
    } finally {
      await s.close()
    }
  })
})

describe('the search help', () => {
  it('lists every field the search knows, and every known field compiles', async () => {
    const { readFile } = await import('node:fs/promises')
    const { SEARCH_FIELDS } = await import('../../src/store/search-query.js')
    const help = await readFile(new URL('../../web/dialogs.js', import.meta.url), 'utf8')
    const listed = help.slice(help.indexOf('const SEARCH_HELP'), help.indexOf('export function helpDialog'))
    for (const field of SEARCH_FIELDS) expect(listed, field).toMatch(new RegExp(`(^|[^a-z-])${field}:`))
    for (const value of ['read', 'unread', 'tagged', 'tls', 'auth', 'pregreet', 'unparsed', 'malformed']) expect(listed).toContain(`is:${value}`)
    for (const value of ['attachment', 'inline']) expect(listed).toContain(`has:${value}`)
    // a field the search does not know is text, so each listed field must compile to something
    // other than a free-text lookup of "field:value"
    for (const field of SEARCH_FIELDS) {
      const value = { is: 'read', has: 'inline', larger: '1k', smaller: '1k', before: '2026-01-01', after: '2026-01-01', ip: '192.0.2.1', origin: '192.0.2.1', spf: 'pass', dmarc: 'pass', arc: 'pass', dkim: 'pass' }[field as string] ?? 'abc'
      expect(compileSearch(`${field}:${value}`).params, field).not.toContain(`"${field}:${value}"`)
    }
  })
})
