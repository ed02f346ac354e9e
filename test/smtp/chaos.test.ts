import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { AppError } from '../../src/errors.js'
import { createSmtpChaos, createSmtpListener, type RejectReason, type SmtpChaos, type SmtpListener } from '../../src/smtp/index.js'
import { createMessageStore, type MessageStore } from '../../src/store/index.js'
import { RawSmtp } from '../helpers/test-app.js'

// Mailpit's chaos triggers on the SMTP side: MAIL FROM, RCPT TO and AUTH answered with the
// trigger's code at its probability, only with --enable-chaos.

const CRLF = '\r\n'

describe('SMTP chaos triggers', () => {
  let dir = ''
  let store: MessageStore | null = null
  let listener: SmtpListener | null = null
  const clients: RawSmtp[] = []

  async function start(opts: { enableChaos?: boolean; chaos?: SmtpChaos; rejected?: RejectReason[] }): Promise<number> {
    dir = mkdtempSync(join(tmpdir(), 'holdmail-chaos-'))
    store = createMessageStore(join(dir, 'holdmail.db'))
    listener = createSmtpListener({
      kind: 'smtp',
      host: '127.0.0.1',
      port: 0,
      hostname: 'holdmail.test',
      maxMessageBytes: 1024 * 1024,
      maxRecipients: 100,
      trustedRelays: [],
      greetDelayMs: 0,
      tls: { key: '', cert: '' },
      store,
      logger: pino({ level: 'silent' }),
      enableChaos: opts.enableChaos,
      chaos: opts.chaos,
      onRejected: (r) => opts.rejected?.push(r),
    })
    return (await listener.listen()).port
  }

  const session = async (port: number): Promise<RawSmtp> => {
    const c = await RawSmtp.open(port, '127.0.0.1', { waitGreeting: false })
    clients.push(c)
    expect(await c.reply()).toMatch(/^220 /)
    expect(await c.command('EHLO dev.example')).toMatch(/^250/)
    return c
  }

  afterEach(async () => {
    for (const c of clients.splice(0)) c.close()
    await listener?.close()
    await store?.close()
    listener = null
    store = null
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('answers MAIL FROM, RCPT TO and AUTH with the configured codes at probability 100', async () => {
    const rejected: RejectReason[] = []
    const port = await start({ enableChaos: true, rejected })
    const c = await session(port)

    listener!.setChaos({ Sender: { ErrorCode: 451, Probability: 100 } })
    expect(await c.command('MAIL FROM:<app@example.test>')).toMatch(/^451 .*chaos trigger \(Sender\)/)

    listener!.setChaos({ Sender: { ErrorCode: 451, Probability: 0 }, Recipient: { ErrorCode: 552, Probability: 100 } })
    expect(await c.command('MAIL FROM:<app@example.test>')).toMatch(/^250 /)
    expect(await c.command('RCPT TO:<user@example.test>')).toMatch(/^552 .*chaos trigger \(Recipient\)/)
    expect(rejected).toEqual([]) // a chaos reply is not a size or memory refusal

    listener!.setChaos({ Recipient: { ErrorCode: 552, Probability: 0 }, Authentication: { ErrorCode: 454, Probability: 100 } })
    const plain = Buffer.from('\0user\0secret').toString('base64')
    expect(await c.command(`AUTH PLAIN ${plain}`)).toMatch(/^454 .*chaos trigger \(Authentication\)/)

    // all off again: the transaction goes through and is stored
    listener!.setChaos({ Authentication: { ErrorCode: 454, Probability: 0 } })
    expect(await c.command(`AUTH PLAIN ${plain}`)).toMatch(/^235 /)
    expect(await c.command('RCPT TO:<user@example.test>')).toMatch(/^250 /)
    expect(await c.command('DATA')).toMatch(/^354/)
    expect(await c.command(`Subject: after chaos${CRLF}${CRLF}ok${CRLF}.`)).toMatch(/^250 2\.0\.0 /)
    expect(store!.counts().total).toBe(1)
  })

  it('fires at the configured probability', () => {
    const draws = [0.1, 0.29, 0.3, 0.9]
    const chaos = createSmtpChaos({ enabled: true, random: () => draws.shift()! })
    chaos.set({ Sender: { ErrorCode: 421, Probability: 30 } })
    // 0.1 and 0.29 are under 30 %, 0.3 and 0.9 are not
    expect([chaos.fire('Sender'), chaos.fire('Sender'), chaos.fire('Sender'), chaos.fire('Sender')]).toEqual([421, 421, null, null])
    expect(chaos.fire('Recipient')).toBeNull() // probability 0 draws nothing
  })

  it('shares one set of triggers between listeners', async () => {
    const chaos = createSmtpChaos({ enabled: true })
    const port = await start({ chaos })
    chaos.set({ Sender: { ErrorCode: 450, Probability: 100 } })
    const c = await session(port)
    expect(await c.command('MAIL FROM:<app@example.test>')).toMatch(/^450 /)
    expect(listener!.getChaos().Sender).toEqual({ ErrorCode: 450, Probability: 100 })
  })

  it('refuses triggers without --enable-chaos and never fires', async () => {
    const port = await start({})
    expect(() => listener!.setChaos({ Sender: { ErrorCode: 451, Probability: 100 } })).toThrow(/--enable-chaos/)
    const c = await session(port)
    expect(await c.command('MAIL FROM:<app@example.test>')).toMatch(/^250 /)
    expect(listener!.getChaos()).toEqual({
      Sender: { ErrorCode: 451, Probability: 0 },
      Recipient: { ErrorCode: 451, Probability: 0 },
      Authentication: { ErrorCode: 451, Probability: 0 },
    })
  })

  it('rejects out-of-range values with BAD_REQUEST and keeps the previous triggers', () => {
    const chaos = createSmtpChaos({ enabled: true })
    chaos.set({ Recipient: { ErrorCode: 550, Probability: 10 } })
    for (const bad of [
      { Sender: { ErrorCode: 399, Probability: 50 } },
      { Sender: { ErrorCode: 600, Probability: 50 } },
      { Sender: { ErrorCode: 451, Probability: 101 } },
      { Sender: { ErrorCode: 451, Probability: -1 } },
      { Sender: { ErrorCode: 451.5, Probability: 1 } },
      { Recipient: { ErrorCode: 451, Probability: 20 }, Sender: { ErrorCode: 1, Probability: 1 } },
    ]) {
      let caught: unknown
      try {
        chaos.set(bad)
      } catch (err) {
        caught = err
      }
      expect(caught, JSON.stringify(bad)).toBeInstanceOf(AppError)
      expect((caught as AppError).code).toBe('BAD_REQUEST')
    }
    expect(chaos.get().Recipient).toEqual({ ErrorCode: 550, Probability: 10 })
    expect(chaos.get().Sender).toEqual({ ErrorCode: 451, Probability: 0 })
  })
})
