import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createMessageStore, type Envelope, type MessageStore, type MessageSummary } from '../../src/store/index.js'
import { blankSummary, makeEnvelope } from '../helpers/fixtures.js'

// The trigram index, the index-driven list order and the trigger-kept counters must give exactly
// what the plain queries give: these compare the store against the same rules applied in JS.

const T0 = Date.parse('2026-03-10T12:00:00Z')

const summary = (over: Partial<MessageSummary>): MessageSummary => ({
  ...blankSummary(),
  subject: 'hello',
  from: { Name: 'Someone', Address: 'someone@example.test' },
  to: [{ Name: '', Address: 'trap@example.test' }],
  bodyText: 'text',
  ...over,
})

interface Added {
  id: string
  seq: number
  receivedAt: number
  from: string
  body: string
}

describe('indexed search', () => {
  let store: MessageStore
  let added: Added[]

  const add = async (receivedAt: number, from: { Name: string; Address: string }, body: string): Promise<Added> => {
    const env: Envelope = makeEnvelope({ receivedAt, rcptTo: [{ address: 'trap@example.test', params: {} }] })
    const m = await store.insert(Buffer.from(`Subject: x\r\n\r\n${body}\r\n`), env)
    await store.saveSummaries([{ seq: m.seq, summary: summary({ from, bodyText: body }) }])
    const a = { id: m.id, seq: m.seq, receivedAt, from: `${from.Name} ${from.Address}`.toLowerCase(), body }
    added.push(a)
    return a
  }

  // list order: newest receive time first, then highest seq
  const expected = (keep: (a: Added) => boolean): string[] =>
    added
      .filter(keep)
      .sort((a, b) => b.receivedAt - a.receivedAt || b.seq - a.seq)
      .map((a) => a.id)
  const page = (search: string, start: number, limit: number): string[] => store.list({ search, start, limit }).messages.map((m) => m.id)

  beforeEach(async () => {
    store = createMessageStore(':memory:')
    added = []
    // Receive times out of seq order (envelopes carry their own time), with ties, plus one
    // message far in the future stored first and one far in the past stored last.
    await add(T0 + 10_000_000, { Name: 'Early Bird', Address: 'bird@example.test' }, 'apple future')
    for (let i = 0; i < 60; i++) {
      const jitter = ((i * 7919) % 13) * 1000 - 6000
      const from = i % 3 === 0 ? { Name: 'Shop', Address: `sales${i % 4}@Shop.Example` } : { Name: 'Bob_%', Address: 'bob@example.test' }
      await add(T0 + i * 1000 + jitter, from, i % 2 === 0 ? 'apple pie' : 'banana split')
    }
    await add(T0 - 10_000_000, { Name: 'Late', Address: 'late@shop.example' }, 'apple old')
  })
  afterEach(() => store.close())

  it('pages a full-text search in list order, also when receive times are out of seq order', () => {
    const want = expected((a) => a.body.includes('apple'))
    for (const [start, limit] of [[0, 5], [0, 50], [3, 7], [25, 10], [30, 50], [40, 5]] as const) {
      expect(page('apple', start, limit)).toEqual(want.slice(start, start + limit))
    }
    const p = store.list({ search: 'apple', limit: 5 })
    expect(p.messagesCount).toBe(want.length)
    expect(p.messagesUnread).toBe(want.length)
  })

  it('pages a search with more hits than one index read, out of seq order too', async () => {
    // more than LIST_SCAN_ROWS (200) hits, so that the bound on receive times is what decides
    const more = Array.from({ length: 1100 }, (_, i) => {
      const receivedAt = T0 + 100_000 + i * 1000 + (i % 50 === 0 ? 5_000_000 : 0) // every 50th one "early"
      const from = { Name: 'Bulk', Address: `bulk${i % 7}@example.test` }
      return store.insert(Buffer.from('Subject: x\r\n\r\nbulk\r\n'), makeEnvelope({ receivedAt })).then(async (m) => {
        await store.saveSummaries([{ seq: m.seq, summary: summary({ from, bodyText: 'apple bulk' }) }])
        added.push({ id: m.id, seq: m.seq, receivedAt, from: `${from.Name} ${from.Address}`.toLowerCase(), body: 'apple bulk' })
      })
    })
    await Promise.all(more)
    const want = expected((a) => a.body.includes('apple'))
    for (const [start, limit] of [[0, 5], [0, 50], [17, 30], [990, 50], [1100, 100]] as const) {
      expect(page('apple', start, limit)).toEqual(want.slice(start, start + limit))
    }
    expect(store.list({ search: 'apple bulk', limit: 5 }).messagesCount).toBe(1100)
    // Unread matches past one index read: every message unread (the count skips the unread index),
    // some read (it looks each match up), every message read (skipped again).
    const bulk = (): { messagesCount: number; messagesUnread: number } => store.list({ search: 'bulk', limit: 5 })
    expect(bulk()).toMatchObject({ messagesCount: 1100, messagesUnread: 1100 })
    const bulkIds = added.filter((a) => a.body === 'apple bulk').map((a) => a.id)
    await store.setRead({ ids: bulkIds.slice(0, 7) }, true)
    expect(bulk()).toMatchObject({ messagesCount: 1100, messagesUnread: 1093 })
    await store.setRead({ ids: added.map((a) => a.id) }, true)
    expect(bulk()).toMatchObject({ messagesCount: 1100, messagesUnread: 0 })
    await store.setRead({ ids: added.map((a) => a.id) }, false)
    expect(store.list({ search: 'apple', limit: 5 }).messagesCount).toBe(want.length)
    const bulk3 = expected((a) => a.from.includes('bulk3@'))
    expect(page('from:bulk3@', 0, 20)).toEqual(bulk3.slice(0, 20))
    expect(store.list({ search: 'from:bulk3@', limit: 5 }).messagesCount).toBe(bulk3.length)
  })

  it('counts matches and unread matches for a full-text search', async () => {
    const want = expected((a) => a.body.includes('banana'))
    await store.setRead({ ids: want.slice(0, 4) }, true)
    const p = store.list({ search: 'banana', limit: 3 })
    expect(p.messagesCount).toBe(want.length)
    expect(p.messagesUnread).toBe(want.length - 4)
    expect(store.list({ search: 'banana -bob', limit: 3 }).messagesCount).toBe(want.length - expected((a) => a.body.includes('banana') && a.from.includes('bob')).length)
  })

  it('matches from: as a case-insensitive substring, through the trigram index or without it', () => {
    for (const value of ['shop.example', 'SHOP.EXAMPLE', 'sales1@', 'bob_%', 'bob_', '_%', 'b%b', 'le', 'o', 'example.test', 'late']) {
      const want = expected((a) => a.from.includes(value.toLowerCase()))
      expect(page(`from:${value}`, 0, 1000), value).toEqual(want)
      expect(page(`from:${value}`, 2, 3), value).toEqual(want.slice(2, 5))
      const notWant = expected((a) => !a.from.includes(value.toLowerCase()))
      expect(page(`-from:${value}`, 0, 1000), value).toEqual(notWant)
    }
    expect(page('from:"shop.example" apple', 0, 1000)).toEqual(expected((a) => a.from.includes('shop.example') && a.body.includes('apple')))
  })

  it('keeps the trigram index in step with summaries and deletes', async () => {
    const a = added.find((x) => x.from.includes('late@'))!
    await store.saveSummaries([{ seq: a.seq, summary: summary({ from: { Name: 'Renamed', Address: 'renamed@other.example' } }) }])
    expect(page('from:late@shop', 0, 10)).toEqual([])
    expect(page('from:renamed@other', 0, 10)).toEqual([a.id])
    await store.delete({ ids: [a.id] })
    expect(page('from:renamed@other', 0, 10)).toEqual([])
  })

  it('keeps total and unread counts through inserts, read changes and deletes', async () => {
    expect(store.counts()).toEqual({ total: 62, unread: 62 })
    await store.setRead({ ids: added.slice(0, 10).map((a) => a.id) }, true)
    expect(store.counts()).toEqual({ total: 62, unread: 52 })
    await store.setRead({ ids: added.slice(5, 10).map((a) => a.id) }, false)
    expect(store.counts()).toEqual({ total: 62, unread: 57 })
    await store.delete({ ids: added.slice(0, 3).map((a) => a.id) }) // read ones
    await store.delete({ ids: added.slice(20, 22).map((a) => a.id) }) // unread ones
    expect(store.counts()).toEqual({ total: 57, unread: 55 })
    await add(T0, { Name: 'New', Address: 'new@example.test' }, 'fresh')
    expect(store.counts()).toEqual({ total: 58, unread: 56 })
    const p = store.list({})
    expect([p.total, p.unread]).toEqual([58, 56])
  })

  it('exports the same messages, oldest seq first, from iterate and iterateRaw', () => {
    for (const search of ['', 'apple', 'from:shop.example', `after:2026-03-10`, 'from:o']) {
      const full = [...store.iterate(search)].map((x) => [x.message.id, x.message.envelope.mailFrom, x.message.envelope.receivedAt, x.raw.toString()])
      const raw = [...store.iterateRaw(search)].map((x) => [x.id, x.mailFrom, x.receivedAt, x.raw.toString()])
      expect(raw, search).toEqual(full)
      const seqs = [...store.iterateRaw(search)].map((x) => x.seq)
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b))
    }
    expect([...store.iterateRaw('apple')].length).toBe(added.filter((a) => a.body.includes('apple')).length)
    expect([...store.iterateRaw('before:2026-03-10T10:00:00Z')].map((x) => x.id)).toEqual([added[added.length - 1]!.id])
  })
})
