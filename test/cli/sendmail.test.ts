import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { parseSendmailArgs } from '../../src/cli/sendmail.js'
import { startTestApp } from '../helpers/test-app.js'

const MAIN = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js') // built by `npm test`

function sendmail(args: string[], input: Buffer): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, 'sendmail', ...args], { stdio: ['pipe', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stderr }))
    child.stdin.end(input)
  })
}

describe('holdmail sendmail', () => {
  const dir = mkdtempSync(join(tmpdir(), 'holdmail-sendmail-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it.each([
    [['-t', '-i'], { fromHeaders: true, ignoreDots: true, recipients: [] }],
    [['-oi', '-f', 'app@example.test', 'a@example.test,b@example.test'], { sender: 'app@example.test', recipients: ['a@example.test', 'b@example.test'] }],
    [['-fbounce@example.test', '-F', 'Full Name', 'x@example.test'], { sender: 'bounce@example.test', recipients: ['x@example.test'] }],
  ])('parses %j', (argv, expected) => {
    expect(parseSendmailArgs(argv)).toMatchObject(expected)
  })

  it('stores a piped message byte-exact, and a running server indexes it', async () => {
    const db = join(dir, 'holdmail.db')
    const app = await startTestApp(['--db', db])
    try {
      const raw = Buffer.from('From: App <app@example.test>\nTo: user@example.test\nCc: cc@example.test\nSubject: from sendmail\n\nHello\n.\nafter a dot line\n')
      const r = await sendmail(['-t', '-i', '--db', db], raw)
      expect(r.code, r.stderr).toBe(0)
      const id = /stored as ([A-Za-z0-9]+)/.exec(r.stderr)![1]!
      expect(await app.raw(id)).toEqual(raw)
      await expect
        .poll(async () => (await app.api<{ Subject: string }>(`/api/v1/message/${id}`)).body.Subject, { timeout: 15_000 })
        .toBe('from sendmail')
      const m = (await app.api<{ Envelope: { Listener: string; MailFrom: string; RcptTo: string[] } }>(`/api/v1/message/${id}`)).body
      expect(m.Envelope).toMatchObject({ Listener: 'cli', MailFrom: 'app@example.test', RcptTo: ['user@example.test', 'cc@example.test'] })
    } finally {
      await app.stop()
    }
  })

  it('ends the message at a lone dot without -i, and refuses a message with no recipient', async () => {
    const db = join(dir, 'second.db')
    const r = await sendmail(['--db', db, 'x@example.test'], Buffer.from('Subject: cut\n\nkept\n.\nnot kept\n'))
    expect(r.code).toBe(0)
    const id = /stored as ([A-Za-z0-9]+)/.exec(r.stderr)![1]!
    const app = await startTestApp(['--db', db])
    try {
      expect((await app.raw(id)).toString()).toBe('Subject: cut\n\nkept\n')
    } finally {
      await app.stop()
    }
    const none = await sendmail(['--db', db], Buffer.from('Subject: nobody\n\nx\n'))
    expect(none.code).toBe(64)
    expect(none.stderr).toContain('no recipients')
  })
})
