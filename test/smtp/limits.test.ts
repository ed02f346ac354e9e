import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { loadConfig, parseCidrList } from '../../src/config/index.js'
import {
  createSmtpListener,
  createSmtpLimits,
  loadTlsMaterial,
  sharedListenerOptions,
  type TlsMaterial,
  type RejectReason,
  type SmtpLimits,
  type SmtpListener,
} from '../../src/smtp/index.js'
import { clientKey, FD_RESERVE } from '../../src/smtp/smtp-limits.js'
import { createMessageStore, type MessageStore } from '../../src/store/index.js'
import { RawSmtp, until } from '../helpers/test-app.js'

// Connection limits, the DATA deadline, the per-command deadline and the DATA memory budget,
// against a listener on a real socket with a database file, driven by raw SMTP.

const TLS = { key: '', cert: '' } // STARTTLS is never used here
const CRLF = '\r\n'

interface Harness {
  port: number
  store: MessageStore
  limits: SmtpLimits
  rejected: RejectReason[]
  listener: SmtpListener
}

describe('SMTP limits', () => {
  let dir = ''
  let h: Harness | null = null
  const clients: RawSmtp[] = []
  const sockets: Socket[] = []

  async function start(opts: {
    maxConnections?: number
    maxConnectionsPerIp?: number
    maxDataBytes?: number
    dataTimeoutMs?: number
    idleTimeoutMs?: number
    trusted?: string
    maxMessageBytes?: number
    maxRecipients?: number
    smtps?: TlsMaterial
  }): Promise<Harness> {
    dir = mkdtempSync(join(tmpdir(), 'holdmail-limits-'))
    const store = createMessageStore(join(dir, 'holdmail.db'))
    const limits = createSmtpLimits({
      maxConnections: opts.maxConnections ?? 1000,
      maxConnectionsPerIp: opts.maxConnectionsPerIp ?? 50,
      maxDataBytes: opts.maxDataBytes,
      fdLimit: null,
    })
    const rejected: RejectReason[] = []
    const listener = createSmtpListener({
      kind: opts.smtps ? 'smtps' : 'smtp',
      host: '127.0.0.1',
      port: 0,
      hostname: 'holdmail.test',
      maxMessageBytes: opts.maxMessageBytes ?? 1024 * 1024,
      maxRecipients: opts.maxRecipients ?? 100,
      trustedRelays: parseCidrList('trusted-relays', opts.trusted ?? ''),
      greetDelayMs: 0,
      tls: opts.smtps ?? TLS,
      store,
      logger: pino({ level: 'silent' }),
      limits,
      dataTimeoutMs: opts.dataTimeoutMs,
      idleTimeoutMs: opts.idleTimeoutMs,
      onRejected: (reason) => rejected.push(reason),
    })
    const addr = await listener.listen()
    h = { port: addr.port, store, limits, rejected, listener }
    return h
  }

  const open = async (port: number, localAddress?: string): Promise<RawSmtp> => {
    const c = await RawSmtp.open(port, '127.0.0.1', { waitGreeting: false, localAddress })
    clients.push(c)
    return c
  }

  afterEach(async () => {
    for (const c of clients.splice(0)) c.close()
    for (const c of sockets.splice(0)) c.destroy()
    if (h) {
      await h.listener.close()
      await h.store.close()
      h = null
    }
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('refuses connections past --max-connections-per-ip with 421 4.7.0 and closes them', async () => {
    const { port, limits } = await start({ maxConnectionsPerIp: 3 })
    const held: RawSmtp[] = []
    for (let i = 0; i < 3; i++) {
      const c = await open(port)
      expect(await c.reply()).toMatch(/^220 /)
      held.push(c)
    }
    const over = await open(port)
    expect(await over.reply()).toMatch(/^421 4\.7\.0 .*too many connections from your address/)
    await over.ended
    expect(over.lines).toEqual([]) // nothing after the 421: no greeting, the session never started

    // Another client address is counted on its own.
    const other = await open(port, '127.0.0.2')
    expect(await other.reply()).toMatch(/^220 /)

    // A slot comes back when its connection closes.
    held[0]!.close()
    await until(() => limits.openConnections === 3, 'the closed connection released its slot')
    const again = await open(port)
    expect(await again.reply()).toMatch(/^220 /)
    expect(await again.command('EHLO again.example')).toMatch(/^250/)
  })

  it('refuses connections past --max-connections in total, whatever the address', async () => {
    const { port } = await start({ maxConnections: 2, maxConnectionsPerIp: 100 })
    const a = await open(port, '127.0.0.3')
    const b = await open(port, '127.0.0.4')
    expect(await a.reply()).toMatch(/^220 /)
    expect(await b.reply()).toMatch(/^220 /)
    const c = await open(port, '127.0.0.5')
    expect(await c.reply()).toMatch(/^421 4\.7\.0 .*too many connections, try again later/)
    await c.ended
    // the connections already open are unaffected
    expect(await a.command('NOOP')).toMatch(/^250/)
  })

  it('does not apply the per-IP limit to trusted relays', async () => {
    const { port } = await start({ maxConnectionsPerIp: 1, trusted: '127.0.0.1/32' })
    const a = await open(port)
    const b = await open(port)
    expect(await a.reply()).toMatch(/^220 /)
    expect(await b.reply()).toMatch(/^220 /)
    const untrusted1 = await open(port, '127.0.0.6')
    const untrusted2 = await open(port, '127.0.0.6')
    expect(await untrusted1.reply()).toMatch(/^220 /)
    expect(await untrusted2.reply()).toMatch(/^421 4\.7\.0 /)
  })

  it('closes an SMTPS connection over the limit before the TLS handshake', async () => {
    const tls = await loadTlsMaterial(null, ':memory:', 'holdmail.test')
    const { port } = await start({ maxConnectionsPerIp: 1, smtps: tls })
    const greet = (): Promise<string> =>
      new Promise((resolve) => {
        const s = tlsConnect({ port, host: '127.0.0.1', rejectUnauthorized: false })
        sockets.push(s)
        s.setEncoding('latin1')
        s.once('data', (d: string) => {
          resolve('data:' + d.slice(0, 4))
        })
        s.once('error', (err: Error) => resolve('error:' + err.message))
        s.once('close', () => resolve('closed'))
      })
    expect(await greet()).toBe('data:220 ')
    // the first connection is still open (its socket is not closed by the test), so the second is over
    const second = await greet()
    expect(second).toMatch(/^(error|closed)/)
  })

  it('counts IPv6 clients per /64 and IPv4 clients per address', () => {
    expect(clientKey('2001:db8:1:2::1')).toBe(clientKey('2001:db8:1:2:ffff::9'))
    expect(clientKey('2001:db8:1:2::1')).not.toBe(clientKey('2001:db8:1:3::1'))
    expect(clientKey('::ffff:192.0.2.1')).toBe(clientKey('192.0.2.1'))
    expect(clientKey('192.0.2.1')).not.toBe(clientKey('192.0.2.2'))
  })

  it('lowers the connection limit to leave descriptors for HTTP and SQLite when the open-file limit is low', () => {
    const low = createSmtpLimits({ maxConnections: 1000, fdLimit: 1024 })
    expect(low.maxConnections).toBe(1024 - FD_RESERVE)
    expect(low.fdNotice).toContain('1024')
    const high = createSmtpLimits({ maxConnections: 1000, fdLimit: 65536 })
    expect(high.maxConnections).toBe(1000)
    expect(high.fdNotice).toBeNull()
  })

  it('takes the limits from the options, their variables and defaults', () => {
    const defaults = sharedListenerOptions(loadConfig([], {}))
    expect(defaults.limits.maxConnectionsPerIp).toBe(50)
    expect(defaults.limits.maxDataBytes).toBe(256 * 1024 * 1024)
    expect(defaults.dataTimeoutMs).toBe(10 * 60_000)
    expect(defaults.idleTimeoutMs).toBe(5 * 60_000)
    expect(defaults.chaos.enabled).toBe(false)
    const set = sharedListenerOptions(
      loadConfig(['--max-connections-per-ip', '5', '--data-timeout', '30s', '--idle-timeout', '0', '--max-data-memory', '100m', '--enable-chaos'], {
        HOLDMAIL_MAX_CONNECTIONS: '20',
      }),
    )
    expect(set.limits.maxConnections).toBe(20)
    expect(set.limits.maxConnectionsPerIp).toBe(5)
    expect(set.limits.maxDataBytes).toBe(100 * 1024 * 1024)
    expect(set.dataTimeoutMs).toBe(30_000)
    expect(set.idleTimeoutMs).toBe(0)
    expect(set.chaos.enabled).toBe(true)
    expect(() => loadConfig(['--max-data-memory', '1m'], {})).toThrow(/--max-data-memory must be at least --max-message-size/)
  })

  it('closes a session whose DATA trickles past --data-timeout, with 421 4.4.2 and nothing stored', async () => {
    // The idle deadline is far away: each trickled byte would restart a plain socket timeout.
    const { port, store } = await start({ dataTimeoutMs: 300, idleTimeoutMs: 60_000 })
    const c = await open(port)
    await c.reply()
    await c.command('EHLO slow.example')
    await c.command('MAIL FROM:<slow@example.test>')
    await c.command('RCPT TO:<trap@example.test>')
    expect(await c.command('DATA')).toMatch(/^354/)
    c.write(`Subject: slow${CRLF}${CRLF}`)
    let sent = 0
    // one byte per tick of 20 ms until the server gives up; the message never ends
    const trickle = setInterval(() => {
      if (!c.closed) {
        c.write('x')
        sent++
      }
    }, 20)
    try {
      const reply = await c.reply()
      expect(reply).toMatch(/^421 4\.4\.2 .*message not received within/)
      await c.ended
    } finally {
      clearInterval(trickle)
    }
    expect(sent).toBeGreaterThan(0)
    expect(store.counts().total).toBe(0)
    // the listener still serves
    const next = await open(port)
    expect(await next.reply()).toMatch(/^220 /)
  })

  it('accepts a message that completes within --data-timeout', async () => {
    const { port, store } = await start({ dataTimeoutMs: 60_000 })
    const c = await open(port)
    await c.reply()
    await c.command('EHLO quick.example')
    await c.command('MAIL FROM:<quick@example.test>')
    await c.command('RCPT TO:<trap@example.test>')
    await c.command('DATA')
    expect(await c.command(`Subject: quick${CRLF}${CRLF}hi${CRLF}.`)).toMatch(/^250 2\.0\.0 Ok: queued as /)
    expect(store.counts().total).toBe(1)
  })

  it('closes a session whose command trickles in past --idle-timeout, however steady the bytes', async () => {
    const { port } = await start({ idleTimeoutMs: 300 })
    const c = await open(port)
    expect(await c.reply()).toMatch(/^220 /)
    let sent = 0
    const trickle = setInterval(() => {
      if (!c.closed) {
        c.write('N') // "NNNN..." never ends with CRLF
        sent++
      }
    }, 20)
    try {
      expect(await c.reply()).toMatch(/^421 4\.4\.2 .*no complete command within/)
      await c.ended
    } finally {
      clearInterval(trickle)
    }
    expect(sent).toBeGreaterThan(0)
  })

  it('restarts the idle deadline with every reply', async () => {
    const { port } = await start({ idleTimeoutMs: 1500 })
    const c = await open(port)
    await c.reply()
    // Six commands 400 ms apart: longer than the deadline in total, each well within it.
    for (let i = 0; i < 6; i++) {
      await new Promise((r) => setTimeout(r, 400))
      expect(await c.command('NOOP')).toMatch(/^250/)
    }
    expect(c.closed).toBe(false)
  })

  it('answers 452 4.3.1 past the DATA memory budget, keeps the session, and stores nothing half', async () => {
    const budget = 64 * 1024
    const { port, store, limits, rejected } = await start({ maxDataBytes: budget })
    const big = await open(port)
    await big.reply()
    await big.command('EHLO big.example')
    await big.command('MAIL FROM:<big@example.test>')
    await big.command('RCPT TO:<trap@example.test>')
    await big.command('DATA')
    const bigBody = `Subject: big${CRLF}${CRLF}` + ('a'.repeat(998) + CRLF).repeat(50) // ~50 KB, held
    big.write(bigBody)
    await until(() => limits.dataBytesHeld >= 50_000, 'the first message is held in memory')

    // A second message that does not fit: drained, then refused with a temporary error.
    const second = await open(port)
    await second.reply()
    await second.command('EHLO second.example')
    await second.command('MAIL FROM:<second@example.test>')
    await second.command('RCPT TO:<trap@example.test>')
    expect(await second.command('DATA')).toMatch(/^354/)
    const secondBody = `Subject: second${CRLF}${CRLF}` + ('b'.repeat(998) + CRLF).repeat(20)
    expect(await second.command(secondBody + '.')).toMatch(/^452 4\.3\.1 /)
    expect(rejected).toEqual(['memory'])
    // the session goes on: the client may try again in the same connection
    expect(await second.command('RSET')).toMatch(/^250/)

    // The first completes and is stored; then there is room again.
    expect(await big.command('.')).toMatch(/^250 2\.0\.0 Ok: queued as /)
    await until(() => limits.dataBytesHeld === 0, 'the committed message released its bytes')
    await second.command('MAIL FROM:<second@example.test>')
    await second.command('RCPT TO:<trap@example.test>')
    await second.command('DATA')
    expect(await second.command(secondBody + '.')).toMatch(/^250 2\.0\.0 Ok: queued as /)
    const subjects = store.list({ search: '' }).messages.map((m) => m.envelope.mailFrom).sort()
    expect(subjects).toEqual(['big@example.test', 'second@example.test'])
  })

  it('refuses DATA at once with 452 4.3.1 when the declared SIZE does not fit in what is left', async () => {
    const { port, limits, rejected, store } = await start({ maxDataBytes: 64 * 1024 })
    const big = await open(port)
    await big.reply()
    await big.command('EHLO big.example')
    await big.command('MAIL FROM:<big@example.test>')
    await big.command('RCPT TO:<trap@example.test>')
    await big.command('DATA')
    big.write(('c'.repeat(998) + CRLF).repeat(50))
    await until(() => limits.dataBytesHeld >= 45_000, 'the first message is held in memory')

    const other = await open(port)
    await other.reply()
    await other.command('EHLO other.example')
    expect(await other.command('MAIL FROM:<other@example.test> SIZE=20000')).toMatch(/^250/)
    await other.command('RCPT TO:<trap@example.test>')
    expect(await other.command('DATA')).toMatch(/^452 4\.3\.1 /) // no 354: the client keeps its message
    expect(rejected).toEqual(['memory'])
    // a message that fits in what is left goes through
    await other.command('RSET')
    await other.command('MAIL FROM:<other@example.test> SIZE=2000')
    await other.command('RCPT TO:<trap@example.test>')
    expect(await other.command('DATA')).toMatch(/^354/)
    expect(await other.command(`Subject: small${CRLF}${CRLF}ok${CRLF}.`)).toMatch(/^250 2\.0\.0 /)
    expect(await big.command('.')).toMatch(/^250 2\.0\.0 /)
    expect(store.counts().total).toBe(2)
  })

  it('reports each 552 and 452 to onRejected once per command', async () => {
    const { port, rejected, store } = await start({ maxMessageBytes: 1024, maxRecipients: 2 })
    const c = await open(port)
    await c.reply()
    await c.command('EHLO rej.example')
    await c.command('MAIL FROM:<rej@example.test>')
    await c.command('RCPT TO:<a@example.test>')
    await c.command('RCPT TO:<b@example.test>')
    expect(await c.command('RCPT TO:<c@example.test>')).toMatch(/^452 4\.5\.3 /)
    await c.command('DATA')
    expect(await c.command('x'.repeat(2000) + CRLF + '.')).toMatch(/^552 /)
    expect(await c.command('MAIL FROM:<rej@example.test> SIZE=999999')).toMatch(/^552 /)
    expect(rejected).toEqual(['recipients', 'size', 'size'])
    expect(store.counts().total).toBe(0)
  })
})
