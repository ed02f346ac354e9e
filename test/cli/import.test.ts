import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MboxSplitter, type SourceMessage, type SourceProblem } from '../../src/mail/mailbox-reader.js'
import { archivedEnvelope } from '../../src/cli/import.js'
import { startTestApp, type TestApp } from '../helpers/test-app.js'

const MAIN = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js') // built by `npm test`

function holdmail(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

type Listed = { messages_count: number; messages: { ID: string; Subject: string }[] }
type Message = { ID: string; Tags: string[]; Envelope: { MailFrom: string; RcptTo: string[]; Listener: string } }

// The archive as it would be found on a disk: what each message must be stored as, by Subject.
const msg = (subject: string, extra = '', body = 'hello\n', eol = '\n'): Buffer =>
  Buffer.from(`${extra}From: <sender@example.test>${eol}To: <user@example.test>${eol}Subject: ${subject}${eol}${eol}${body}`, 'latin1')

const expected = new Map<string, { raw: Buffer; mailFrom: string; rcptTo: string[] }>()
function expect_(subject: string, raw: Buffer, mailFrom: string, rcptTo: string[]): Buffer {
  expected.set(subject, { raw, mailFrom, rcptTo })
  return raw
}

describe('holdmail import', () => {
  const dir = mkdtempSync(join(tmpdir(), 'holdmail-import-'))
  const archive = join(dir, 'archive')
  let app: TestApp
  const db = join(dir, 'holdmail.db')

  beforeAll(() => {
    mkdirSync(join(archive, 'Maildir', 'cur'), { recursive: true })
    mkdirSync(join(archive, 'Maildir', 'new'), { recursive: true })
    mkdirSync(join(archive, 'Maildir', 'tmp'), { recursive: true })
    mkdirSync(join(archive, 'Maildir', '.Spam', 'cur'), { recursive: true })
    mkdirSync(join(archive, 'eml', 'nested'), { recursive: true })

    // mboxrd: body lines "From " and ">From " were quoted once more by the writer; a CRLF message;
    // the envelope sender on the From line; a null sender as MAILER-DAEMON.
    const m1 = expect_('mbox one', msg('mbox one', 'X-Original-To: trap@example.test\n', 'From here on\n>From quoted\nend\n'), 'spammer@bad.example', ['trap@example.test'])
    const m2 = expect_('mbox crlf', msg('mbox crlf', 'Delivered-To: a@example.test\r\nDelivered-To: b@example.test\r\n', 'crlf body\r\n', '\r\n'), '', ['a@example.test', 'b@example.test'])
    const m3 = expect_('mbox last', msg('mbox last', 'Return-Path: <ignored@example.test>\n'), 'bounce@example.test', [])
    const quote = (b: Buffer): string => b.toString('latin1').replace(/^(>*From )/gm, '>$1')
    writeFileSync(
      join(archive, 'inbox.mbox'),
      Buffer.from(
        `From spammer@bad.example Thu Nov 26 10:00:00 2026\n${quote(m1)}\n` +
          `From MAILER-DAEMON Thu Nov 26 10:00:01 2026\n${quote(m2)}\n` +
          `From bounce@example.test Thu Nov 26 10:00:02 2026\n${quote(m3)}\n`,
        'latin1',
      ),
    )
    writeFileSync(join(archive, 'Maildir', 'cur', '1700000000.1.host:2,S'), expect_('maildir cur', msg('maildir cur', 'Return-Path: <rp@example.test>\n'), 'rp@example.test', []))
    writeFileSync(join(archive, 'Maildir', 'new', '1700000001.2.host'), expect_('maildir new', msg('maildir new'), '', []))
    writeFileSync(join(archive, 'Maildir', 'tmp', '1700000002.3.host'), msg('maildir tmp: being delivered, not a message yet'))
    writeFileSync(join(archive, 'Maildir', '.Spam', 'cur', '1700000003.4.host:2,'), expect_('maildir++ folder', msg('maildir++ folder'), '', []))
    // bytes that must survive: no final newline, a NUL, 8-bit, bare CR
    writeFileSync(join(archive, 'eml', 'odd.eml'), expect_('eml odd', Buffer.concat([msg('eml odd', '', 'bin \x00 caf\xe9 \r bare CR'), Buffer.from([0xff])]), '', []))
    writeFileSync(join(archive, 'eml', 'nested', 'b.EML'), expect_('eml nested', msg('eml nested'), '', []))
    writeFileSync(join(archive, 'eml', 'README.txt'), 'not mail\n')
    writeFileSync(join(archive, 'eml', 'empty.eml'), '')
  })

  afterAll(async () => {
    await app?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('reads mbox entries as the bytes before quoting and without the separator line', () => {
    const s = new MboxSplitter('x', 1 << 20)
    const out: (SourceMessage | SourceProblem)[] = []
    const text = 'From a@x Thu Nov 26 10:00:00 2026\nSubject: a\n\n>From one\n>>From two\nFrom three\n\nFrom b@x Thu Nov 26 10:00:00 2026\nSubject: b\n\nlast'
    // fed byte by byte: line and message boundaries may fall anywhere in a chunk
    for (const byte of Buffer.from(text)) s.push(Buffer.from([byte]), out)
    s.end(out)
    expect(out).toEqual([
      { raw: Buffer.from('Subject: a\n\nFrom one\n>From two\nFrom three\n'), fromLine: 'a@x Thu Nov 26 10:00:00 2026', origin: 'x:1' },
      { raw: Buffer.from('Subject: b\n\nlast'), fromLine: 'b@x Thu Nov 26 10:00:00 2026', origin: 'x:8' },
    ])
  })

  it.each([
    ['From line sender, X-Original-To', { raw: Buffer.from('Return-Path: <r@x>\nX-Original-To: a@x, b@x\nDelivered-To: c@x\n\n'), fromLine: 's@x Thu Nov 26 10:00:00 2026', origin: '' }, { mailFrom: 's@x', rcptTo: ['a@x', 'b@x'] }],
    ['Return-Path, Delivered-To', { raw: Buffer.from('Return-Path: <r@x>\nDelivered-To: c@x\n\n'), fromLine: null, origin: '' }, { mailFrom: 'r@x', rcptTo: ['c@x'] }],
    ['nothing', { raw: Buffer.from('Subject: s\n\n'), fromLine: null, origin: '' }, { mailFrom: '', rcptTo: [] }],
  ])('derives the envelope: %s', (_name, input, want) => {
    expect(archivedEnvelope(input)).toEqual(want)
  })

  it('refuses unreadable input with a clear message and stores nothing', async () => {
    const r = await holdmail(['import', '--db', db, archive, join(dir, 'missing.mbox')])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(`cannot read ${join(dir, 'missing.mbox')}: ENOENT`)
    expect(r.stderr).toContain('nothing imported')
    const r2 = await holdmail(['import', '--db', db, '--bogus', archive])
    expect(r2.code).toBe(1)
    expect(r2.stderr).toContain('unknown option --bogus')
  })

  it('imports mbox, Maildir and .eml byte-exact, with the archived envelope, and a running server serves them', async () => {
    app = await startTestApp(['--db', db])
    const r = await holdmail(['import', '--db', db, '--tag', 'archive-2026', archive])
    expect(r.stderr).not.toContain('holdmail import: /') // no problem lines
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain(`${expected.size} messages`)
    expect(r.stdout).toContain('2 other files left alone') // README.txt and the empty .eml
    // piped: plain lines only, no carriage-return redraws or ANSI escapes
    expect(r.stderr).not.toContain('\r')
    expect(r.stderr).not.toContain('\x1b')

    // The server's indexer finds rows written by another process by polling.
    let listed: Listed = { messages_count: 0, messages: [] }
    for (let i = 0; i < 100; i++) {
      listed = (await app.api<Listed>('/api/v1/messages?limit=100')).body
      if (listed.messages.length === expected.size && listed.messages.every((m) => m.Subject)) break
      await new Promise((res) => setTimeout(res, 100))
    }
    expect(listed.messages.map((m) => m.Subject).sort()).toEqual([...expected.keys()].sort())
    for (const { ID, Subject } of listed.messages) {
      const want = expected.get(Subject)!
      expect((await app.raw(ID)).equals(want.raw), Subject).toBe(true)
      const m = (await app.api<Message>(`/api/v1/message/${ID}`)).body
      expect(m.Envelope, Subject).toMatchObject({ MailFrom: want.mailFrom, RcptTo: want.rcptTo, Listener: 'import' })
      expect(m.Tags).toContain('archive-2026')
    }
    const { body: searched } = await app.api<Listed>('/api/v1/search?query=listener:import')
    expect(searched.messages).toHaveLength(expected.size)
  })

  it('skips what is already stored with --skip-duplicates, and imports it again without', async () => {
    const mbox = join(archive, 'inbox.mbox')
    const skip = await holdmail(['import', '--db', db, '--skip-duplicates', mbox])
    expect(skip.code, skip.stderr).toBe(0)
    expect(skip.stdout).toContain('0 messages')
    expect(skip.stdout).toContain('3 duplicates skipped')
    const again = await holdmail(['import', '--db', db, mbox])
    expect(again.stdout).toContain('3 messages')
    expect((await app.api<Listed>('/api/v1/messages')).body.messages_count).toBe(expected.size + 3)
  })

  it('leaves out a message over --max-message-size, stores the rest, and exits non-zero', async () => {
    const big = join(dir, 'big')
    mkdirSync(big)
    writeFileSync(join(big, 'small.eml'), msg('small'))
    writeFileSync(join(big, 'large.eml'), msg('large', '', 'x'.repeat(5000) + '\n'))
    writeFileSync(join(big, 'both.mbox'), `From a@x Thu Nov 26 10:00:00 2026\n${msg('small in mbox').toString()}\nFrom a@x Thu Nov 26 10:00:00 2026\n${msg('large in mbox', '', 'x'.repeat(5000) + '\n').toString()}`)
    const before = (await app.api<Listed>('/api/v1/messages')).body.messages_count
    const r = await holdmail(['import', '--db', db, '--max-message-size', '2k', big])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/large\.eml: larger than the 2048-byte limit/)
    expect(r.stderr).toMatch(/both\.mbox:8: larger than the 2048-byte limit/)
    expect(r.stdout).toContain('2 messages')
    expect((await app.api<Listed>('/api/v1/messages')).body.messages_count).toBe(before + 2)
  })
})
