import { createSocket, type Socket } from 'node:dgram'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import nodemailer from 'nodemailer'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMessageStore } from '../../src/store/index.js'
import { blankSummary, makeEnvelope } from '../helpers/fixtures.js'
import { startTestApp, type TestApp } from '../helpers/test-app.js'

type Row = { Subject: string; Indexed: boolean; Auth: { SPF: { Result: string } } | null }

// The indexer thread saves a message's summary first and its SPF/DKIM/DMARC/ARC results once the
// DNS lookups are done, so that a DNS server that never answers (an offline laptop) delays the
// auth results, not the subject that a client reading right after sending waits for.
describe('auth results saved after the summary', () => {
  let dir: string
  let dns: Socket
  let app: TestApp
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'holdmail-auth-late-'))
    dns = createSocket('udp4')
    dns.on('message', () => {}) // a DNS server that never answers: each lookup times out (2 s)
    await new Promise<void>((resolve) => dns.bind(0, '127.0.0.1', resolve))
    // Requests wait at most 1 s for the indexer: less than one lookup's timeout.
    app = await startTestApp(['--db', join(dir, 'h.db'), '--dns-server', `127.0.0.1:${dns.address().port}`], { settleMaxWaitMs: 1000 })
    // the indexer thread's first (empty) round: its modules are loaded before the clock matters
    await app.running.indexer.idle()
  })
  afterAll(async () => {
    await app.stop()
    dns.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('lists each message with its subject at once, and its auth results once the lookups time out', async () => {
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: app.smtpPort, ignoreTLS: true })
    for (let i = 0; i < 3; i++) {
      await transport.sendMail({ from: `app@offline${i}.example`, to: 'dev@example.test', subject: `offline ${i}`, text: 'hello' })
      const list = await app.api<{ messages: Row[] }>('/api/v1/messages?limit=1')
      expect(list.body.messages[0]).toMatchObject({ Subject: `offline ${i}`, Indexed: true, Auth: null })
    }
    transport.close()
    await app.running.indexer.idle() // waits for the auth results as well
    const after = await app.api<{ messages: Row[] }>('/api/v1/messages')
    expect(after.body.messages.map((m) => m.Auth?.SPF.Result)).toEqual(['temperror', 'temperror', 'temperror'])
  }, 30_000)
})

describe('requeueMissingAuth', () => {
  it('sends back to the indexer the newest messages whose summary was saved without auth results', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'holdmail-requeue-'))
    const store = createMessageStore(join(dir, 'r.db'))
    try {
      const m = []
      for (let i = 0; i < 5; i++) m.push(await store.insert(Buffer.from(`Subject: ${i}\r\n\r\nx\r\n`), makeEnvelope()))
      const withAuth = { ...blankSummary(), auth: { SPF: { Result: 'pass' } } }
      const failed = { ...blankSummary(), parseError: 'indexer failed on this message: boom' }
      await store.saveSummaries([
        { seq: m[0]!.seq, summary: blankSummary() }, // no auth, but outside the window below
        { seq: m[1]!.seq, summary: withAuth },
        { seq: m[2]!.seq, summary: blankSummary() }, // no auth: requeued
        { seq: m[3]!.seq, summary: failed }, // the indexer died on it: not retried forever
      ]) // m[4] was never indexed
      expect(store.unindexed(10).map((u) => u.seq)).toEqual([m[4]!.seq])
      expect(await store.requeueMissingAuth(4)).toBe(1)
      expect(store.unindexed(10).map((u) => u.seq)).toEqual([m[2]!.seq, m[4]!.seq])
    } finally {
      await store.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
