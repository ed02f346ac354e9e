import { afterEach, describe, expect, it } from 'vitest'
import { makeEnvelope } from '../helpers/fixtures.js'
import { RawSmtp, queuedId, startTestApp, type TestApp } from '../helpers/test-app.js'

// The SMTP thread runs sessions and hand-offs only: heavy reads run in the HTTP thread and its reader
// pool, parsing in the indexer thread. These tests start a read that keeps another thread busy,
// then a new SMTP client, and check the order of events: the client's greeting and its 250 come
// before the read answers.

/** One small transaction on a new connection; records the greeting and the 250 in `events`. */
async function smallSend(port: number, events: string[], subject = 'small while busy'): Promise<string> {
  const c = await RawSmtp.open(port, '127.0.0.1', { waitGreeting: false })
  try {
    const greeting = await c.reply()
    events.push(`220: ${greeting.slice(0, 3)}`)
    await c.command('EHLO probe.test')
    await c.command('MAIL FROM:<probe@client.test>')
    await c.command('RCPT TO:<trap@holdmail.test>')
    await c.command('DATA')
    const reply = await c.command(`Subject: ${subject}\r\n\r\nhello\r\n.`)
    events.push(`250: ${reply.slice(0, 3)}`)
    await c.command('QUIT').catch(() => '')
    return queuedId(reply)
  } finally {
    c.close()
  }
}

/**
 * Resolves once a reader-pool thread is working on a request (the read under test has started), or
 * once `answered` says the read is over (the order check that follows then fails and says so).
 */
async function readerBusy(app: TestApp, answered: () => boolean): Promise<void> {
  while (!answered()) {
    const metrics = await (await fetch(`${app.baseUrl}/metrics`)).text()
    if (/^holdmail_reader_pool_busy [1-9]/m.test(metrics)) return
    await new Promise((r) => setImmediate(r))
  }
}

/** A message of about `mb` MiB in 64 KiB base64 parts, and how many parts it has. */
function bigMessage(mb: number): { raw: Buffer; parts: number } {
  const part = Buffer.alloc(48 * 1024, 'x').toString('base64').replace(/.{76}/g, '$&\r\n')
  const lines = ['From: big@sender.test', 'To: trap@holdmail.test', 'Subject: twenty megabytes', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="b"', '', 'preamble']
  const parts = Math.ceil((mb * 1024 * 1024) / part.length)
  for (let i = 0; i < parts; i++) {
    lines.push('--b', 'Content-Type: application/octet-stream', `Content-Disposition: attachment; filename="p${i}.bin"`, 'Content-Transfer-Encoding: base64', '', part)
  }
  lines.push('--b--', '')
  return { raw: Buffer.from(lines.join('\r\n')), parts }
}

// Each test stores thousands of messages or a 20 MB one first: on a loaded two-core machine that alone
// can take longer than the suite's default 30 s.
describe('capture while readers are busy', { timeout: 120_000 }, () => {
  let app: TestApp
  afterEach(() => app.stop())

  it('greets and accepts a new client while a heavy search runs in the reader pool', async () => {
    app = await startTestApp([], { readBudgets: { search: 120_000 } })
    // 20 000 messages with as many HELO names: every negated helo: glob is a pattern match on every row.
    const inserts: Promise<unknown>[] = []
    for (let i = 0; i < 20_000; i++) {
      const env = makeEnvelope({ helo: `host${i}.client.example`, receivedAt: 1_700_000_000_000 + i })
      inserts.push(app.running.store.insert(Buffer.from(`Subject: m${i}\r\n\r\nbody\r\n`), env))
    }
    await Promise.all(inserts)
    const heavy = Array.from({ length: 100 }, (_, i) => `-helo:*x${i}*`).join(' ')
    const events: string[] = []
    const search = app.api<{ messages_count: number }>(`/api/v1/search?query=${encodeURIComponent(heavy)}`).then((r) => {
      events.push(`search answered: ${r.status}`)
      return r
    })
    await readerBusy(app, () => events.length > 0)
    await smallSend(app.smtpPort, events)
    const answer = await search
    // The probe's message may or may not be counted: the count is a second statement after the page.
    expect(answer.body.messages_count).toBeGreaterThanOrEqual(20_000)
    expect(events).toEqual(['220: 220', '250: 250', 'search answered: 200'])
  })

  it('greets and accepts a new client while a 20 MB message is opened', async () => {
    app = await startTestApp()
    const { raw, parts } = bigMessage(20)
    const big = await app.running.store.insert(raw, makeEnvelope())
    const events: string[] = []
    const opened = app.api<{ Attachments: unknown[] }>(`/api/v1/message/${big.id}`).then((r) => {
      events.push(`message answered: ${r.status}`)
      return r
    })
    await readerBusy(app, () => events.length > 0)
    await smallSend(app.smtpPort, events)
    const answer = await opened
    expect(answer.body.Attachments.length).toBe(parts)
    expect(events).toEqual(['220: 220', '250: 250', 'message answered: 200'])
  })

  it('answers a send-then-read with the subject while a 40 000-address Bcc message is being indexed', async () => {
    app = await startTestApp()
    const bcc = Array.from({ length: 40_000 }, (_, i) => `r${i}@bomb.example`).join(',\r\n ')
    const bomb = Buffer.from(`From: bomb@sender.test\r\nTo: trap@holdmail.test\r\nBcc: ${bcc}\r\nSubject: bcc bomb\r\n\r\nx\r\n`)
    const bombId = (await app.running.store.insert(bomb, makeEnvelope())).id
    app.running.indexer.notify()
    const events: string[] = []
    const id = await smallSend(app.smtpPort, events, 'read after the bomb')
    const { status, body } = await app.api<{ Subject: string }>(`/api/v1/message/${id}`)
    expect(status).toBe(200)
    expect(body.Subject).toBe('read after the bomb')
    const opened = await app.api<{ Bcc: unknown[] }>(`/api/v1/message/${bombId}`)
    expect(opened.status).toBe(200)
    expect(events).toEqual(['220: 220', '250: 250'])
  })

  it('abandons a search past its budget with a 503 JSON error while other requests keep being answered', async () => {
    app = await startTestApp([], { readBudgets: { search: 50 } })
    const inserts: Promise<unknown>[] = []
    for (let i = 0; i < 20_000; i++) inserts.push(app.running.store.insert(Buffer.from(`Subject: m${i}\r\n\r\nbody\r\n`), makeEnvelope({ clientIp: `10.${i % 250}.${(i >> 8) % 250}.1` })))
    await Promise.all(inserts)
    const heavy = Array.from({ length: 100 }, (_, i) => `-ip:192.${i}.0.0/16`).join(' ')
    const slow = await app.api<{ error: { code: string; message: string } }>(`/api/v1/search?query=${encodeURIComponent(heavy)}`)
    expect(slow.status).toBe(503)
    expect(slow.body.error.code).toBe('READ_TIMEOUT')
    expect(slow.body.error.message).toMatch(/narrow the query/)
    const list = await app.api<{ total: number }>('/api/v1/messages?limit=1')
    expect(list.status).toBe(200)
    expect(list.body.total).toBe(20_000)
  })
})
