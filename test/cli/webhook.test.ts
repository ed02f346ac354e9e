import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { createWebhook, type Webhook } from '../../src/cli/webhook.js'

// The webhook's queue against a real loopback receiver: bounded, one request at a time, each
// message once, retries until the attempts run out.

describe('webhook queue', () => {
  const cleanups: (() => Promise<void>)[] = []
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  async function receiver(answer: (n: number, res: ServerResponse) => void): Promise<{ url: string; bodies: string[]; arrived: (n: number) => Promise<void> }> {
    const bodies: string[] = []
    const waiters: (() => void)[] = []
    const server = createServer((req, res) => {
      let body = ''
      req.setEncoding('utf8')
      req.on('data', (c: string) => (body += c))
      req.on('end', () => {
        bodies.push(body)
        for (const w of waiters.splice(0)) w()
        answer(bodies.length, res)
      })
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    cleanups.push(async () => {
      server.closeAllConnections()
      await new Promise((r) => server.close(r))
    })
    const arrived = (n: number): Promise<void> =>
      new Promise((resolve) => {
        const check = (): void => (bodies.length >= n ? resolve() : void waiters.push(check))
        check()
      })
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, bodies, arrived }
  }

  const start = (url: string, o: Partial<Parameters<typeof createWebhook>[0]> = {}): Webhook => {
    const hook = createWebhook({ url, logger: pino({ level: 'silent' }), ratePerSecond: 1000, backoffMs: 10, ...o })
    cleanups.push(() => hook.close())
    return hook
  }

  it('holds at most queueMax payloads behind a hanging receiver and drops the rest', async () => {
    const held: ServerResponse[] = []
    const r = await receiver((_n, res) => held.push(res))
    cleanups.push(async () => void held.forEach((res) => res.end()))
    const hook = start(r.url, { queueMax: 2 })
    hook.push('a', { ID: 'a' })
    await r.arrived(1) // 'a' is in flight, held by the receiver
    for (const id of ['b', 'c', 'd', 'e']) hook.push(id, { ID: id })
    expect(hook.stats()).toMatchObject({ queued: 2, dropped: 2, sent: 0 })
    hook.push('b', { ID: 'b' }) // already queued: not again
    expect(hook.stats()).toMatchObject({ queued: 2, dropped: 2 })
    // Asked first (before the caller reads the message): a full queue says no and counts the drop.
    expect(hook.wants('b')).toBe(false)
    expect(hook.wants('f')).toBe(false)
    expect(hook.stats()).toMatchObject({ queued: 2, dropped: 3 })
    held.shift()!.writeHead(204).end()
    await r.arrived(2)
    expect(hook.wants('g')).toBe(true) // 'b' left the queue: room for one
    held.shift()!.writeHead(204).end()
    await r.arrived(3)
    held.shift()!.writeHead(204).end()
    expect(r.bodies.map((b) => (JSON.parse(b) as { ID: string }).ID)).toEqual(['a', 'b', 'c'])
  })

  it('gives up after the retries and goes on with the next message', async () => {
    const r = await receiver((_n, res) => {
      const body = r.bodies[r.bodies.length - 1]!
      res.writeHead(body.includes('"bad"') ? 500 : 200).end()
    })
    const hook = start(r.url, { retries: 2 })
    hook.push('bad', { ID: 'bad' })
    hook.push('good', { ID: 'good' })
    await r.arrived(4)
    expect(r.bodies.map((b) => (JSON.parse(b) as { ID: string }).ID)).toEqual(['bad', 'bad', 'bad', 'good'])
    await expect.poll(() => hook.stats()).toMatchObject({ sent: 1, failed: 1 })
  })
})
