import { Agent, get as httpGet } from 'node:http'
import { MailpitClient } from 'mailpit-api'
import nodemailer from 'nodemailer'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { startTestApp, type TestApp } from '../helpers/test-app.js'

// Mailpit's websocket stream at /api/events, read by a real websocket client.

interface Frame {
  Type: string
  Data: Record<string, unknown> | null
}

/** A websocket client that queues frames; next(type) waits for the next frame of that type. */
async function listen(url: string, headers: Record<string, string> = {}): Promise<{ ws: WebSocket; next(type: string): Promise<Frame>; seen: string[] }> {
  const ws = new WebSocket(url, { headers })
  const frames: Frame[] = []
  const seen: string[] = []
  const waiters: (() => void)[] = []
  ws.on('message', (data: Buffer) => {
    const f = JSON.parse(data.toString('utf8')) as Frame
    frames.push(f)
    seen.push(f.Type)
    for (const w of waiters.splice(0)) w()
  })
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)))
  })
  return {
    ws,
    seen,
    async next(type) {
      for (;;) {
        const i = frames.findIndex((f) => f.Type === type)
        if (i !== -1) return frames.splice(0, i + 1).pop()!
        await new Promise<void>((r) => waiters.push(r))
      }
    },
  }
}

async function t2send(app: TestApp, subject: string): Promise<void> {
  const t = nodemailer.createTransport({ host: '127.0.0.1', port: app.smtpPort, ignoreTLS: true })
  await t.sendMail({ from: 'shop@app.example', to: 'bob@example.test', subject, text: 'x' })
  t.close()
}

describe('websocket /api/events', () => {
  let app: TestApp
  beforeAll(async () => {
    app = await startTestApp()
  })
  afterAll(() => app.stop())

  it("streams Mailpit's new, stats, update, delete, prune and truncate frames", async () => {
    const client = await listen(`ws://127.0.0.1:${app.httpPort}/api/events`)
    expect((await client.next('stats')).Data).toMatchObject({ Total: 0, Unread: 0 })
    const t = nodemailer.createTransport({ host: '127.0.0.1', port: app.smtpPort, ignoreTLS: true })
    await t.sendMail({ from: 'Shop <shop@app.example>', to: 'bob@example.test', subject: 'Live one', text: 'x' })
    const created = await client.next('new')
    expect(created.Data).toMatchObject({ Subject: 'Live one', From: { Name: 'Shop', Address: 'shop@app.example' }, Read: false })
    expect((await client.next('stats')).Data).toMatchObject({ Total: 1, Unread: 1 })
    await t.sendMail({ from: 'shop@app.example', to: 'bob@example.test', subject: 'Live two', text: 'x' })
    t.close()
    expect((await client.next('new')).Data).toMatchObject({ Subject: 'Live two' })

    const mailpit = new MailpitClient(app.baseUrl)
    await mailpit.setReadStatus({ IDs: [created.Data!.ID as string], Read: true })
    expect((await client.next('update')).Data).toEqual({ ID: created.Data!.ID, Read: true })
    expect((await client.next('stats')).Data).toMatchObject({ Total: 2, Unread: 1 })
    await mailpit.deleteMessages({ IDs: [created.Data!.ID as string] })
    expect((await client.next('delete')).Data).toEqual({ ID: created.Data!.ID })
    expect((await client.next('stats')).Data).toMatchObject({ Total: 1 })
    await mailpit.deleteMessagesBySearch({ query: 'subject:nothing-matches-this' })
    await t2send(app, 'Live three')
    await client.next('new')
    await mailpit.deleteMessagesBySearch({ query: 'subject:three' })
    await client.next('prune')
    await mailpit.deleteMessages()
    await client.next('truncate')
    // each message announced once, though indexed twice (summary, then authentication results)
    expect(client.seen.filter((s) => s === 'new')).toHaveLength(3)
    client.ws.close()
  })

  it('refuses a handshake from another origin, and closes that connection', async () => {
    await expect(listen(`ws://127.0.0.1:${app.httpPort}/api/events`, { Origin: 'http://evil.example' })).rejects.toThrow('HTTP 403')
    // The refusal says "Connection: close" (the socket is destroyed after it), so a keep-alive
    // client with one connection sends its next request on a new one and gets its answer.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    const get = (path: string, headers: Record<string, string> = {}): Promise<{ status: number; connection: string | undefined }> =>
      new Promise((resolve, reject) => {
        const req = httpGet({ agent, host: '127.0.0.1', port: app.httpPort, path, headers }, (res) => {
          res.resume()
          res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }))
        })
        req.on('error', reject)
      })
    const handshake = { connection: 'Upgrade', upgrade: 'websocket', origin: 'http://evil.example', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' }
    expect(await get('/api/v1/info')).toEqual({ status: 200, connection: 'keep-alive' })
    expect(await get('/api/events', handshake)).toEqual({ status: 403, connection: 'close' })
    expect((await get('/api/v1/info')).status).toBe(200)
    agent.destroy()
    const ok = await listen(`ws://127.0.0.1:${app.httpPort}/api/events`, { Origin: `http://127.0.0.1:${app.httpPort}` })
    ok.ws.close()
  })
})
