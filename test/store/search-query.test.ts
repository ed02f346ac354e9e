import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createMessageStore, type Envelope, type MessageStore, type MessageSummary } from '../../src/store/index.js'
import { tokenize } from '../../src/store/index.js'
import { MAX_SEARCH_TERMS } from '../../src/store/search-query.js'
import { AppError } from '../../src/errors.js'
import { makeEnvelope } from '../helpers/fixtures.js'
import { startTestApp, type TestApp } from '../helpers/test-app.js'

const envelope = (over: Partial<Envelope> = {}): Envelope =>
  makeEnvelope({ receivedAt: Date.parse('2026-03-10T12:00:00Z'), helo: 'mail.example.test', mailFrom: 'bounce@example.test', rcptTo: [{ address: 'trap@example.test', params: {} }], ...over })

const summary = (over: Partial<MessageSummary> = {}): MessageSummary => ({
  parseError: null,
  subject: 'Invoice overdue',
  from: { Name: 'Billing', Address: 'billing@shop.example' },
  to: [{ Name: '', Address: 'trap@example.test' }],
  cc: [],
  bcc: [],
  replyTo: [],
  date: null,
  messageId: 'abc@shop.example',
  returnPath: '',
  snippet: '',
  attachments: 0,
  bodyText: 'Please pay the attached invoice today',
  kind: 'message',
  auth: null,
  analysis: null,
  tags: [],
  ...over,
})

describe('search over the store', () => {
  let store: MessageStore
  const ids: Record<string, string> = {}
  beforeEach(async () => {
    store = createMessageStore(':memory:')
    const add = async (name: string, env: Partial<Envelope>, sum: Partial<MessageSummary>): Promise<void> => {
      const m = await store.insert(Buffer.from(`Subject: ${name}\r\n\r\nx\r\n`), envelope(env))
      await store.saveSummaries([{ seq: m.seq, summary: summary(sum) }])
      ids[name] = m.id
    }
    await add('invoice', {}, {})
    await add('bounce', { mailFrom: '', clientIp: '198.51.100.7', helo: 'mx.bad.example', receivedAt: Date.parse('2026-03-12T00:00:00Z') }, {
      subject: 'Undelivered Mail Returned to Sender',
      from: { Name: 'Mail Delivery System', Address: 'MAILER-DAEMON@mx.bad.example' },
      kind: 'bounce',
      bodyText: 'This is the mail system at host mx.bad.example',
      analysis: { Kind: 'bounce', Bounce: { Recipients: [{ Status: '5.1.1' }] } },
      auth: { SPF: { Result: 'fail' }, DKIM: [{ Result: 'pass' }], DMARC: { Result: 'fail' } },
    })
    await add('v6', { clientIp: '2001:db8::25', rcptTo: [{ address: 'other@example.test', params: {} }], receivedAt: Date.parse('2026-03-14T00:00:00Z') }, {
      subject: 'Café naïve',
      attachments: 2,
      from: { Name: 'Zoë', Address: 'zoe@example.org' },
      bodyText: 'Résumé attached',
    })
  })
  afterEach(() => store.close())

  const find = (q: string): string[] =>
    store
      .list({ search: q })
      .messages.map((m) => Object.entries(ids).find(([, id]) => id === m.id)![0])
      .sort()

  it.each([
    ['', ['bounce', 'invoice', 'v6']],
    ['invoice', ['invoice']],
    ['INVOIC', ['invoice']], // prefix of the last word, case-insensitive
    ['"mail system"', ['bounce']],
    ['-invoice', ['bounce', 'v6']],
    ['!invoice', ['bounce', 'v6']],
    ['from:billing', ['invoice']],
    ['from:"mail delivery"', ['bounce']],
    ['to:trap@', ['bounce', 'invoice', 'v6']],
    ['subject:café', ['v6']],
    ['resume', ['v6']], // diacritics folded by the index
    ['message-id:<abc@shop.example>', ['bounce', 'invoice', 'v6']],
    ['has:attachment', ['v6']],
    ['mailfrom:<>', ['bounce']],
    ['mailfrom:bounce@', ['invoice', 'v6']],
    ['rcpt:other', ['v6']],
    ['helo:bad.example', ['bounce']],
    ['ip:198.51.100.0/24', ['bounce']],
    ['ip:192.0.2.10', ['invoice']],
    ['ip:2001:db8::/32', ['v6']],
    ['-ip:192.0.2.0/24', ['bounce', 'v6']],
    ['spf:fail', ['bounce']],
    ['dkim:pass', ['bounce']],
    ['dmarc:fail', ['bounce']],
    ['kind:bounce', ['bounce']],
    ['status:5.1', ['bounce']],
    ['after:2026-03-11', ['bounce', 'v6']],
    ['before:2026-03-11', ['invoice']],
    ['after:2026-03-11 before:2026-03-13', ['bounce']],
    ['is:unread', ['bounce', 'invoice', 'v6']],
    ['is:read', []],
    ['from:billing subject:overdue -kind:bounce', ['invoice']],
  ])('%s', (q, expected) => {
    expect(find(q)).toEqual(expected)
  })

  it('refuses bad terms with a message naming the term', () => {
    expect(() => store.list({ search: 'ip:999.1.1.1' })).toThrow(/ip:/)
    expect(() => store.list({ search: 'before:someday' })).toThrow(/before:/)
    expect(() => store.list({ search: 'spf:maybe' })).toThrow(/spf:/)
    expect(() => store.list({ search: 'is:weird' })).toThrow(/is:weird/)
  })

  it('treats SQL in a search as text', () => {
    expect(find(`from:"' OR 1=1 --"`)).toEqual([])
    expect(find(`subject:%`)).toEqual([])
    expect(find(`subject:_`)).toEqual([])
  })

  it('tokenizes quotes, fields and negation', () => {
    expect(tokenize('from:"John Doe" -subject:x "two words" plain')).toEqual([
      { negate: false, field: 'from', value: 'John Doe' },
      { negate: true, field: 'subject', value: 'x' },
      { negate: false, field: '', value: 'two words' },
      { negate: false, field: '', value: 'plain' },
    ])
  })
})

describe('is:malformed, helo: globs and the term cap', () => {
  let store: MessageStore
  const ids: Record<string, string> = {}
  beforeEach(async () => {
    store = createMessageStore(':memory:')
    const add = async (name: string, env: Partial<Envelope>): Promise<void> => {
      const m = await store.insert(Buffer.from(`Subject: ${name}\r\n\r\nx\r\n`), envelope(env))
      ids[name] = m.id
    }
    await add('odd', { helo: 'WIN-UPPER.Example', mailFrom: '@example.net', malformed: true })
    await add('bounce', { helo: 'mx.bad.example' })
    await add('plain', { helo: 'mail_relay.example.test' })
  })
  afterEach(() => store.close())

  const find = (q: string): string[] =>
    store
      .list({ search: q })
      .messages.map((m) => Object.entries(ids).find(([, id]) => id === m.id)![0])
      .sort()

  it.each([
    ['is:malformed', ['odd']],
    ['-is:malformed', ['bounce', 'plain']],
    ['mailfrom:@example.net', ['odd']],
    ['helo:win-upper', ['odd']], // no *: any part of the name, whatever its case
    ['helo:WIN-UPPER.EXAMPLE', ['odd']],
    ['helo:*.example', ['bounce', 'odd']], // a glob matches the whole name, as in --routes
    ['helo:win-*', ['odd']],
    ['helo:mx.*.example', ['bounce']],
    ['helo:*.bad', []],
    ['helo:mail?relay*', []], // ? is not a wildcard
    ['helo:mail_relay.*', ['plain']],
    ['helo:mail%relay.*', []], // neither is %
    ['helo:*', ['bounce', 'odd', 'plain']],
  ])('%s', (q, expected) => {
    expect(find(q)).toEqual(expected)
  })

  it('takes up to MAX_SEARCH_TERMS terms and refuses more with BAD_QUERY', () => {
    const terms = (n: number): string => Array.from({ length: n }, (_, i) => `-word${i}`).join(' ')
    expect(find(terms(MAX_SEARCH_TERMS))).toEqual(['bounce', 'odd', 'plain'])
    let caught: unknown
    try {
      store.list({ search: terms(MAX_SEARCH_TERMS + 1) })
    } catch (err) {
      caught = err
    }
    expect(caught).toBeInstanceOf(AppError)
    expect((caught as AppError).code).toBe('BAD_QUERY')
    expect((caught as AppError).message).toContain(`more than ${MAX_SEARCH_TERMS} terms`)
  })
})

describe('search and paging limits over HTTP', () => {
  let app: TestApp
  beforeEach(async () => {
    app = await startTestApp()
  })
  afterEach(() => app.stop())

  interface ErrorBody {
    error: { code: string; message: string }
  }

  it('answers a search of more than MAX_SEARCH_TERMS terms with a 400 BAD_QUERY', async () => {
    // 1000 one-letter words: within the query's length limit, far past the term cap
    const words = Array.from({ length: 1000 }, (_, i) => String.fromCharCode(97 + (i % 26))).join(' ')
    const res = await app.api<ErrorBody>('/api/v1/search?query=' + encodeURIComponent(words))
    expect(res.status).toBe(400)
    expect(res.body.error.code).toBe('BAD_QUERY')
    expect(res.body.error.message).toContain(`${MAX_SEARCH_TERMS} terms`)
    const del = await app.api<ErrorBody>('/api/v1/search?query=' + encodeURIComponent(words), { method: 'DELETE' })
    expect(del.status).toBe(400)
    expect(del.body.error.code).toBe('BAD_QUERY')
    const ok = await app.api<{ messages_count: number }>('/api/v1/search?query=' + encodeURIComponent(words.split(' ').slice(0, MAX_SEARCH_TERMS).join(' ')))
    expect(ok.status).toBe(200)
    expect(ok.body.messages_count).toBe(0)
  })

  it.each([
    '/api/v1/messages?start=99999999999999999999',
    '/api/v1/messages?start=1.5',
    '/api/v1/messages?start=-1',
    '/api/v1/messages?start=abc',
    '/api/v1/messages?limit=1e400',
    '/api/v1/messages?start=1e400',
    '/api/v1/search?query=x&start=99999999999999999999',
    '/api/v1/search?query=x&start=9007199254740993',
    '/api/v1/search?query=x&limit=2.5',
    '/api/v1/backscatter?limit=1e400',
  ])('answers %s with a 400 JSON error', async (path) => {
    const res = await app.api<ErrorBody>(path)
    expect(res.status).toBe(400)
    expect(typeof res.body.error.message).toBe('string')
    expect(res.body.error.message).toMatch(/start|limit/)
  })

  it('still pages with a large but valid start', async () => {
    const res = await app.api<{ messages: unknown[]; start: number }>('/api/v1/messages?start=9007199254740991')
    expect(res.status).toBe(200)
    expect(res.body.messages).toEqual([])
  })
})
