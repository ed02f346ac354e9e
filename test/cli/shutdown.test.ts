// Issue 10 item 11: SIGTERM or Ctrl-C (SIGINT) with a UI tab open (an event stream) and SMTP
// sessions connected. The order a clean stop follows: no new SMTP connection from the signal on,
// idle sessions get 421 4.3.2 at once, a message being sent gets its 250 (and then the 421), the
// event stream ends, the process exits 0, and the message that got its 250 is in the database.
import { Database } from '../../src/store/sqlite.js' // the build this Node loads (12 aborts on Node 24)
import { mkdtempSync, rmSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { startServer } from './holdmail-process.js'

/** A raw SMTP client: reply lines in order; `next` waits for the next line (after the last one it returned) matching a pattern. */
function smtpClient(port: number): { socket: Socket; next(re: RegExp): Promise<string>; closed: Promise<void> } {
  const socket = connect(port, '127.0.0.1')
  socket.setEncoding('utf8')
  socket.on('error', () => {})
  const lines: string[] = []
  let cursor = 0
  let buf = ''
  let ended = false
  let wake = (): void => {}
  socket.on('data', (s: string) => {
    buf += s
    for (let i; (i = buf.indexOf('\r\n')) >= 0; buf = buf.slice(i + 2)) lines.push(buf.slice(0, i))
    wake()
  })
  const closed = new Promise<void>((resolve) =>
    socket.on('close', () => {
      ended = true
      wake()
      resolve()
    }),
  )
  return {
    socket,
    closed,
    async next(re) {
      for (;;) {
        while (cursor < lines.length) {
          const line = lines[cursor++]!
          if (re.test(line)) return line
        }
        if (ended) throw new Error(`connection closed before ${String(re)}; lines: ${lines.join(' | ')}`)
        await new Promise<void>((r) => (wake = r))
      }
    },
  }
}

/** What a client connecting now gets: refused, or the first line the server says. */
function firstContact(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1')
    s.setEncoding('utf8')
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message))
    s.once('data', (d: string) => {
      resolve(d.split('\r\n')[0]!)
      s.destroy()
    })
    s.once('close', () => resolve('closed without a reply'))
  })
}

describe('shutdown on a signal', () => {
  const dir = mkdtempSync(join(tmpdir(), 'holdmail-shutdown-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal}: refuses new sessions, finishes the message in DATA, ends the event stream, exits 0`, { timeout: 60_000 }, async () => {
      const db = join(dir, `${signal}.db`)
      const server = await startServer(['--db', db, '--smtp', '127.0.0.1:0', '--http', '127.0.0.1:0', '--no-auth-checks', '--log-level', 'warn'])
      const order: string[] = []

      // A UI tab: the event stream, read until it ends (or fails, which a killed server causes).
      const events = await fetch(`${server.baseUrl}/api/v1/events`)
      expect(events.status).toBe(200)
      const reader = events.body!.getReader()
      const streamEnd = (async () => {
        try {
          while (!(await reader.read()).done);
          order.push('event stream ended')
        } catch (err) {
          order.push(`event stream failed: ${(err as Error).message}`)
        }
      })()

      // One session in the middle of DATA, one idle after EHLO.
      const sending = smtpClient(server.smtpPort)
      await sending.next(/^220 /)
      sending.socket.write('EHLO sender.test\r\nMAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n')
      await sending.next(/^354 /)
      sending.socket.write('Subject: in flight at shutdown\r\n\r\nfirst half of the body\r\n')
      const idle = smtpClient(server.smtpPort)
      await idle.next(/^220 /)
      idle.socket.write('EHLO idle.test\r\n')
      await idle.next(/^250 /)

      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
        server.child.once('close', (code, sig) => {
          order.push(`exit ${code}`)
          resolve({ code, signal: sig })
        }),
      )
      server.child.kill(signal)

      // The idle session hears about the shutdown at once; by then the listener is closed.
      const idleReply = await idle.next(/^421 /)
      expect(idleReply).toMatch(/^421 4\.3\.2 /)
      order.push('idle session got 421')
      const late = await firstContact(server.smtpPort)
      expect(late === 'ECONNREFUSED' || /^421 /.test(late), late).toBe(true)
      order.push('new connection refused')

      // The message in flight is finished: its 250, then the 421 that ends the session.
      sending.socket.write('second half\r\n.\r\n')
      const stored = await sending.next(/^250 2\.0\.0 Ok: queued as /)
      order.push('message in DATA got 250')
      expect(await sending.next(/^421 /)).toMatch(/^421 4\.3\.2 /)
      await sending.closed
      const id = /queued as (\S+)/.exec(stored)![1]!

      await streamEnd
      const e = await exited
      expect(e.signal, server.output()).toBeNull()
      expect(order).toEqual([
        'idle session got 421',
        'new connection refused',
        'message in DATA got 250',
        'event stream ended',
        'exit 0',
      ])

      // The 250 meant committed.
      const check = new Database(db, { readonly: true })
      try {
        expect(check.prepare('SELECT id FROM messages').pluck().all()).toEqual([id])
      } finally {
        check.close()
      }
    })
  }
})
