import { mkdtempSync, rmSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { startHoldmail, type RunningHoldmail, type StartOptions } from '../../src/cli/start-holdmail.js'
import { loadConfig } from '../../src/config/index.js'
import type { Analyser } from '../../src/mail/index.js'

export interface TestApp {
  running: RunningHoldmail
  smtpPort: number
  httpPort: number
  baseUrl: string
  /** GET/PUT/DELETE JSON against the API; returns status and parsed body (or text). */
  api<T = unknown>(path: string, init?: { method?: string; body?: unknown }): Promise<{ status: number; body: T }>
  /** The raw endpoint's bytes. */
  raw(id: string): Promise<Buffer>
  stop(): Promise<void>
}

/**
 * The whole app as production runs it (SMTP on this thread; writer, indexer, HTTP and reader threads;
 * a database file) on 127.0.0.1 with port 0, and a temporary database removed at stop unless flags
 * name one.
 */
export async function startTestApp(
  flags: string[] = [],
  extra: { analysers?: Analyser[]; settleMaxWaitMs?: number; readBudgets?: StartOptions['readBudgets']; httpLimits?: StartOptions['httpLimits'] } = {},
): Promise<TestApp> {
  const hasDb = flags.some((f) => f === '--db' || f.startsWith('--db='))
  const tmp = hasDb ? null : mkdtempSync(join(tmpdir(), 'holdmail-test-'))
  // No DNS leaves this machine: auth checks run only in tests that serve their own zone.
  const hasDns = flags.some((f) => f === '--dns-server' || f.startsWith('--dns-server='))
  const config = loadConfig(
    ['--smtp', '127.0.0.1:0', '--http', '127.0.0.1:0', '--log-level', 'silent', ...(tmp ? ['--db', join(tmp, 'holdmail.db')] : []), ...(hasDns ? [] : ['--no-auth-checks']), ...flags],
    {},
  )
  const running = await startHoldmail(config, {
    // HOLDMAIL_TEST_LOG=debug shows the SMTP thread's log while a test runs.
    logger: pino({ level: process.env.HOLDMAIL_TEST_LOG ?? 'silent' }),
    ...(extra.analysers ? { analysers: extra.analysers } : {}),
    ...(extra.settleMaxWaitMs !== undefined ? { settleMaxWaitMs: extra.settleMaxWaitMs } : {}),
    ...(extra.readBudgets ? { readBudgets: extra.readBudgets } : {}),
    ...(extra.httpLimits ? { httpLimits: extra.httpLimits } : {}),
  }).catch((err: unknown) => {
    if (tmp) rmSync(tmp, { recursive: true, force: true })
    throw err
  })
  const baseUrl = `http://127.0.0.1:${running.http.port}`
  return {
    running,
    smtpPort: running.smtp.port,
    httpPort: running.http.port,
    baseUrl,
    async api<T>(path: string, init: { method?: string; body?: unknown } = {}) {
      const res = await fetch(baseUrl + path, {
        method: init.method ?? 'GET',
        headers: init.body === undefined ? {} : { 'content-type': 'application/json' },
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
      })
      const text = await res.text()
      let body: unknown = text
      try {
        body = JSON.parse(text)
      } catch {
        /* plain text ("ok") */
      }
      return { status: res.status, body: body as T }
    },
    async raw(id: string) {
      const res = await fetch(`${baseUrl}/api/v1/message/${id}/raw`)
      if (res.status !== 200) throw new Error(`raw ${id}: HTTP ${res.status}`)
      return Buffer.from(await res.arrayBuffer())
    },
    async stop() {
      await running.stop()
      if (tmp) rmSync(tmp, { recursive: true, force: true })
    },
  }
}

/**
 * A line-oriented raw SMTP client for protocol edge cases. It can pick its local address (127.0.0.x,
 * for per-client limits and trusted-relay tests) and leave the greeting unread (for tests of what
 * happens before or instead of it).
 */
export class RawSmtp {
  private buffer = ''
  private waiters: (() => void)[] = []
  readonly lines: string[] = []
  /** Resolves when the server has closed the connection (end or close). */
  readonly ended: Promise<void>

  private constructor(readonly socket: Socket) {
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => {
      this.buffer += chunk
      let i: number
      while ((i = this.buffer.indexOf('\r\n')) !== -1) {
        this.lines.push(this.buffer.slice(0, i))
        this.buffer = this.buffer.slice(i + 2)
      }
      this.wake()
    })
    // A reset by the server ends the connection like a close: reply() then throws, nothing is unhandled.
    socket.on('error', () => this.wake())
    this.ended = new Promise((resolve) => {
      socket.once('end', () => resolve())
      socket.once('close', () => resolve())
    })
    void this.ended.then(() => this.wake())
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w()
  }

  /** Connects and, unless `waitGreeting` is false, reads the greeting. */
  static async open(port: number, host = '127.0.0.1', opts: { waitGreeting?: boolean; localAddress?: string | undefined } = {}): Promise<RawSmtp> {
    const socket = connect({ port, host, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) })
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve)
      socket.once('error', reject)
    })
    const c = new RawSmtp(socket)
    if (opts.waitGreeting !== false) await c.reply()
    return c
  }

  get closed(): boolean {
    return this.socket.destroyed || this.socket.readableEnded
  }

  /** The next complete reply (multi-line replies joined with \n); throws if the peer closes first. */
  async reply(): Promise<string> {
    const parts: string[] = []
    for (;;) {
      while (this.lines.length === 0) {
        if (this.closed) throw new Error('connection closed; got: ' + parts.join('\n'))
        await new Promise<void>((r) => this.waiters.push(r))
      }
      const line = this.lines.shift()!
      parts.push(line)
      if (!/^\d{3}-/.test(line)) return parts.join('\n')
    }
  }

  write(data: string | Buffer): void {
    this.socket.write(data)
  }

  async command(line: string): Promise<string> {
    this.write(line + '\r\n')
    return this.reply()
  }

  close(): void {
    this.socket.destroy()
  }
}

/** Waits, one event-loop turn at a time, until `cond` holds (state the server updates on its own events). */
export async function until(cond: () => boolean, what: string, maxTurns = 200_000): Promise<void> {
  for (let i = 0; i < maxTurns; i++) {
    if (cond()) return
    await new Promise((r) => setImmediate(r))
  }
  throw new Error('never happened: ' + what)
}

/**
 * A whole transaction over a raw socket; `data` is sent as-is, then the terminator. The CRLF before
 * the final "." belongs to the message (RFC 5321 §4.1.1.4), so data not ending in CRLF gets one:
 * the stored message is withCrlf(data). Returns the DATA reply.
 */
export async function rawSend(port: number, opts: { from: string; to: string[]; data: Buffer | string; helo?: string }): Promise<string> {
  const c = await RawSmtp.open(port)
  try {
    await c.command(`EHLO ${opts.helo ?? 'client.example.test'}`)
    await c.command(`MAIL FROM:<${opts.from}>`)
    for (const r of opts.to) await c.command(`RCPT TO:<${r}>`)
    const go = await c.command('DATA')
    if (!go.startsWith('354')) return go
    c.write(Buffer.concat([withCrlf(opts.data), Buffer.from('.\r\n')]))
    const reply = await c.reply()
    await c.command('QUIT').catch(() => '')
    return reply
  } finally {
    c.close()
  }
}

/** The bytes a message is stored as when sent with rawSend: ending in CRLF. */
export function withCrlf(data: Buffer | string): Buffer {
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data, 'latin1')
  return buf.subarray(-2).toString('latin1') === '\r\n' ? buf : Buffer.concat([buf, Buffer.from('\r\n')])
}

export const queuedId = (reply: string | undefined): string => {
  const m = /queued as ([A-Za-z0-9]+)/.exec(reply ?? '')
  if (!m) throw new Error('no queue ID in reply: ' + reply)
  return m[1]!
}

/** Dot-stuffs a message for DATA (RFC 5321 §4.5.2) and makes sure it ends with CRLF. */
export function dotStuff(raw: Buffer): Buffer {
  const text = raw.toString('latin1').replace(/(^|\n)\./g, '$1..')
  return Buffer.from(text, 'latin1')
}
