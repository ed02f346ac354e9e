import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { RawSmtp, queuedId, startTestApp, type TestApp } from '../helpers/test-app.js'

// Exim and sendmail send no XCLIENT/XFORWARD: from a peer in --trusted-relays, holdmail stores the
// client named by the Received fields the trusted relays prepended as the envelope's client (as
// XFORWARD would), over a raw socket so that the chain below the relay's line can look forged.

interface Envelope {
  ClientIP: string
  ClientPort: number
  IPSource: string
  Helo: string
  ClientHostname: string | null
  Relay: { IP: string; Port: number } | null
}
interface MessageBody {
  ID: string
  Tags: string[]
  Envelope: Envelope
  Auth: { SPF: { IP: string; IPSource: string; Helo: string } } | null
}
interface ListBody {
  messages: { ID: string }[]
}

const CRLF = '\r\n'
// The top line is the one a trusted relay wrote: from an inner relay (10.1.2.3, trusted too) that
// had it from 198.51.100.9. Below are lines the sender wrote itself, which name other "clients".
const CHAIN = [
  'Received: from inner.relay.test (inner.relay.test [10.1.2.3])\r\n\tby mx.relay.test (Postfix) with ESMTP id 4AbC; Fri, 4 Dec 2026 10:00:02 +0000',
  'Received: from dyn-9.isp.example (bad.host.example [198.51.100.9])\r\n\tby inner.relay.test with ESMTP id 7xYz; Fri, 4 Dec 2026 10:00:01 +0000',
  'Received: from trusted.bank.example ([10.9.9.9]) by mail.bank.example; Fri, 4 Dec 2026 10:00:00 +0000',
  'Received: from [203.0.113.77] (helo=friendly) by nowhere.example; Fri, 4 Dec 2026 09:59:59 +0000',
]
const message = (headers: string[], subject: string): Buffer =>
  Buffer.from([...headers, 'From: a@example.test', 'To: trap@example.test', `Subject: ${subject}`, '', 'body', ''].join(CRLF), 'latin1')

describe('the original client from a trusted relay\'s Received fields', () => {
  let app: TestApp
  let dir: string
  const clients: RawSmtp[] = []

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'holdmail-received-'))
    // The routes file's ip:/helo: rules see the client the envelope records.
    writeFileSync(join(dir, 'routes'), 'ip:198.51.100.0/24 from-isp-net\nhelo:*.isp.example dynamic-helo\nip:127.0.0.0/8 loopback\n')
    app = await startTestApp(['--trusted-relays', '127.0.0.1/32,10.0.0.0/8', '--routes', join(dir, 'routes')])
  })
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close()
    await app.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  /** One transaction from `localAddress`, optionally after XFORWARD; returns the stored message's ID. */
  const send = async (raw: Buffer, opts: { localAddress?: string; xforward?: string } = {}): Promise<string> => {
    const c = await RawSmtp.open(app.smtpPort, '127.0.0.1', { localAddress: opts.localAddress })
    clients.push(c)
    expect(await c.command('EHLO relay-said-this.test')).toMatch(/^250/)
    if (opts.xforward) expect(await c.command(`XFORWARD ${opts.xforward}`)).toMatch(/^250 /)
    expect(await c.command('MAIL FROM:<a@example.test>')).toMatch(/^250 /)
    expect(await c.command('RCPT TO:<trap@example.test>')).toMatch(/^250 /)
    expect(await c.command('DATA')).toMatch(/^354 /)
    c.write(Buffer.concat([raw, Buffer.from('.\r\n')]))
    const id = queuedId(await c.reply())
    c.close()
    return id
  }
  const get = async (id: string): Promise<MessageBody> => {
    await app.running.indexer.idle()
    return (await app.api<MessageBody>(`/api/v1/message/${id}`)).body
  }
  const search = async (q: string): Promise<string[]> =>
    (await app.api<ListBody>('/api/v1/search?query=' + encodeURIComponent(q))).body.messages.map((m) => m.ID)

  it('stores the first untrusted hop as the client from a trusted peer, the peer as the relay, the bytes untouched', async () => {
    const raw = message(CHAIN, 'via a trusted relay')
    const id = await send(raw)
    const m = await get(id)
    expect(m.Envelope).toMatchObject({
      ClientIP: '198.51.100.9',
      ClientPort: 0,
      IPSource: 'received',
      Helo: 'dyn-9.isp.example',
      ClientHostname: 'bad.host.example',
      Relay: { IP: '127.0.0.1' },
    })
    expect(m.Envelope.Relay!.Port).toBeGreaterThan(0)
    // The analysis reads the same client from the envelope.
    expect(m.Auth?.SPF).toMatchObject({ IP: '198.51.100.9', IPSource: 'received', Helo: 'dyn-9.isp.example' })
    expect(m.Tags).toEqual(expect.arrayContaining(['from-isp-net', 'dynamic-helo']))
    expect(m.Tags).not.toContain('loopback')
    expect(await app.raw(id)).toEqual(raw)
    expect(await search('ip:198.51.100.0/24')).toEqual([id])
    expect(await search('helo:dyn-9.isp.example')).toEqual([id])
    expect(await search('ip:127.0.0.1')).toEqual([])
    // The message list shows the original client too.
    const list = await app.api<{ messages: { ID: string; ClientIP: string }[] }>('/api/v1/messages')
    expect(list.body.messages.find((x) => x.ID === id)?.ClientIP).toBe('198.51.100.9')
  })

  it('ignores the Received fields of an untrusted peer: the connection is the client', async () => {
    const id = await send(message(CHAIN, 'from an untrusted peer'), { localAddress: '127.0.0.2' })
    const m = await get(id)
    expect(m.Envelope).toMatchObject({ ClientIP: '127.0.0.2', IPSource: 'connection', Helo: 'relay-said-this.test', ClientHostname: null, Relay: null })
    expect(m.Envelope.ClientPort).toBeGreaterThan(0)
    expect(m.Auth?.SPF).toMatchObject({ IP: '127.0.0.2', IPSource: 'connection' })
    expect(m.Tags).toContain('loopback')
    expect(await search('ip:198.51.100.9')).toEqual([])
  })

  it('keeps the connection\'s facts when the Received fields name no untrusted client', async () => {
    const ids = [
      await send(message([], 'no Received field')),
      await send(message(['Received: by mx.relay.test (Postfix, from userid 1000) id 9QrS; Fri, 4 Dec 2026 10:00:00 +0000'], 'no from clause')),
      await send(message(['Received: from garbage-without-an-address by mx.relay.test; Fri, 4 Dec 2026 10:00:00 +0000', CHAIN[1]!], 'no IP in the top field')),
      await send(message([CHAIN[0]!, 'Received: from [10.7.7.7] (helo=x) by inner.relay.test'], 'every hop trusted')),
      await send(message(['Received: from (broken [not.an.ip]) by', 'Received: \x00\xff\r\n\t\x80 from [', 'X: y'], 'hostile')),
      // past the 64 KiB that are read, and a field whose address comes after the 4 KiB that are parsed
      await send(message([`X-Pad: ${'p'.repeat(70_000)}`, CHAIN[1]!], 'Received field out of reach')),
      await send(message([`Received: from ${'(x '.repeat(2000)} [198.51.100.9] by mx.relay.test`], 'address out of reach')),
    ]
    for (const id of ids) {
      const m = await get(id)
      expect(m.Envelope, id).toMatchObject({ ClientIP: '127.0.0.1', IPSource: 'connection', Helo: 'relay-said-this.test', Relay: null })
      expect(m.Tags, id).toContain('loopback')
    }
  })

  it('prefers XFORWARD to the Received fields when the trusted peer sends it', async () => {
    const id = await send(message(CHAIN, 'xforward and received'), { xforward: 'ADDR=203.0.113.5 HELO=said.by.xforward' })
    const m = await get(id)
    expect(m.Envelope).toMatchObject({ ClientIP: '203.0.113.5', IPSource: 'xforward', Helo: 'said.by.xforward', Relay: { IP: '127.0.0.1' } })
  })
})
