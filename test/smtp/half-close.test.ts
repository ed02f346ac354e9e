import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { parseCidrList } from '../../src/config/index.js'
import { createSmtpListener, type ListenerKind, type SmtpListener } from '../../src/smtp/index.js'
import { createMessageStore, type MessageStore, type StoredMessage } from '../../src/store/index.js'
import { RawSmtp } from '../helpers/test-app.js'

// A client that half-closes the connection (shutdown(SHUT_WR): FIN after its last command) still
// reads the replies. Exim's smtp transport does exactly this when no other message waits for the
// host: it writes the message, the final dot, a pipelined QUIT, shuts its side down and then reads
// the 250 and the 221. A server that closes at the FIN leaves Exim with "Remote host closed
// connection in response to end of data" and the message deferred although it was stored.

const CRLF = '\r\n'
const BODY = ['Received: from [127.0.0.2] (helo=dyn.isp.example)', '\tby mx.relay.test with esmtp (Exim 4.96)', 'Subject: half close', '', 'body line', ''].join(CRLF)

describe('a client that half-closes the connection', () => {
  let dir = ''
  let store: MessageStore | null = null
  let listener: SmtpListener | null = null
  const clients: RawSmtp[] = []

  async function start(kind: ListenerKind = 'smtp'): Promise<{ port: number; stored: StoredMessage[] }> {
    dir = mkdtempSync(join(tmpdir(), 'holdmail-halfclose-'))
    store = createMessageStore(join(dir, 'holdmail.db'))
    const stored: StoredMessage[] = []
    listener = createSmtpListener({
      kind,
      host: '127.0.0.1',
      port: 0,
      hostname: 'holdmail.test',
      maxMessageBytes: 1024 * 1024,
      maxRecipients: 100,
      trustedRelays: parseCidrList('trusted-relays', ''),
      greetDelayMs: 0,
      tls: { key: '', cert: '' }, // no STARTTLS here
      store,
      logger: pino({ level: 'silent' }),
      onStored: (m) => stored.push(m),
    })
    const { port } = await listener.listen()
    return { port, stored }
  }

  const open = async (port: number): Promise<RawSmtp> => {
    const c = await RawSmtp.open(port, '127.0.0.1', { waitGreeting: false })
    clients.push(c)
    return c
  }

  afterEach(async () => {
    for (const c of clients.splice(0)) c.close()
    await listener?.close()
    await store?.close()
    listener = store = null
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it("answers the final dot and a pipelined QUIT sent before the client's FIN (Exim's smtp transport)", async () => {
    const { port, stored } = await start()
    const c = await open(port)
    expect(await c.reply()).toMatch(/^220 /)
    expect(await c.command('EHLO mx.relay.test')).toMatch(/^250-[\s\S]*PIPELINING/)
    // Exim's command sequence, write by write: MAIL (with SIZE=) and RCPT pipelined with DATA.
    c.write(`MAIL FROM:<bulk@shady.example> SIZE=1519${CRLF}RCPT TO:<victim@target.example>${CRLF}DATA${CRLF}`)
    expect(await c.reply()).toMatch(/^250 2\.1\.0 /)
    expect(await c.reply()).toMatch(/^250 2\.1\.5 /)
    expect(await c.reply()).toMatch(/^354 /)
    // The message and the final dot, then QUIT, then shutdown(SHUT_WR), before reading anything.
    c.write(`${BODY}.${CRLF}`)
    c.socket.end(`QUIT${CRLF}`)
    await c.ended
    expect(c.lines).toEqual([expect.stringMatching(/^250 2\.0\.0 Ok: queued as /), '221 2.0.0 Bye'])
    expect(stored).toHaveLength(1) // onStored runs before the reply is written
    expect(c.lines[0]).toBe(`250 2.0.0 Ok: queued as ${stored[0]!.id}`)
  })

  it('answers every recipient of an LMTP DATA sent before the FIN', async () => {
    const { port, stored } = await start('lmtp')
    const c = await open(port)
    expect(await c.reply()).toMatch(/^220 /)
    expect(await c.command('LHLO mx.relay.test')).toMatch(/^250/)
    c.write(`MAIL FROM:<promo@spam-campaign.example>${CRLF}RCPT TO:<a@target.example>${CRLF}RCPT TO:<b@target.example>${CRLF}DATA${CRLF}`)
    for (let i = 0; i < 3; i++) expect(await c.reply()).toMatch(/^250 /)
    expect(await c.reply()).toMatch(/^354 /)
    c.socket.end(`${BODY}.${CRLF}QUIT${CRLF}`)
    await c.ended
    const queued: unknown = expect.stringMatching(/^250 2\.0\.0 Ok: queued as /)
    expect(c.lines).toEqual([queued, queued, '221 2.0.0 Bye'])
    expect(stored).toHaveLength(1)
    expect(c.lines[0]).toBe(`250 2.0.0 Ok: queued as ${stored[0]!.id}`)
  })

  it('answers the commands sent before the FIN and then closes, without QUIT', async () => {
    const { port, stored } = await start()
    const c = await open(port)
    expect(await c.reply()).toMatch(/^220 /)
    // A last line without CRLF is run as a command when the client's side ends.
    c.socket.end(`EHLO client.example${CRLF}NOOP${CRLF}RSET`)
    // Without a close on the server's side this waits for the idle deadline (minutes) and times out.
    await c.ended
    expect(c.lines.filter((l) => !l.startsWith('250-'))).toEqual([
      '250 SIZE 1048576',
      '250 2.0.0 OK',
      '250 2.0.0 Flushed',
    ])
    expect(stored).toHaveLength(0)
  })
})
