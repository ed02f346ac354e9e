import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createMessageStore, type Envelope, type MessageStore, type MessageSummary } from '../../src/store/index.js'
import { tokenize } from '../../src/store/index.js'
import { makeEnvelope } from '../helpers/fixtures.js'

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
