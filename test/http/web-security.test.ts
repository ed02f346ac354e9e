import { afterEach, describe, expect, it } from 'vitest'
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http'
import { connect } from 'node:net'
import { loadConfig } from '../../src/config/index.js'
import { DEFAULT_HTTP_LIMITS, hostAllowed } from '../../src/http/security.js'
import { startDnsServer, type DnsServer } from '../helpers/dns-server.js'
import { dotStuff, queuedId, rawSend, startTestApp, type TestApp } from '../helpers/test-app.js'
import { htmlMessage, plainMessage } from '../e2e/samples.js'
import { relatedMessage } from '../e2e/security-samples.js'

// What a browser page could send: forged Host (DNS rebinding), Origin and Fetch Metadata headers.
// node:http, not fetch: fetch will not let a caller set Host or the Sec-Fetch-* headers honestly.

interface Answer {
  status: number
  headers: IncomingHttpHeaders
  body: string
}

function send(port: number, path: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    // Content-Length always: Node sends a DELETE body unframed otherwise.
    const headers = opts.body === undefined ? (opts.headers ?? {}) : { ...opts.headers, 'content-length': String(Buffer.byteLength(opts.body)) }
    const req = httpRequest({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }))
    })
    req.on('error', reject)
    req.end(opts.body)
  })
}

const errorCode = (a: Answer): string => (JSON.parse(a.body) as { error: { code: string } }).error.code

describe('web security', () => {
  let app: TestApp | undefined
  let dns: DnsServer | undefined
  afterEach(async () => {
    await app?.stop()
    await dns?.close()
    app = undefined
    dns = undefined
  })

  const sendMail = async (raw: Buffer): Promise<string> =>
    queuedId(await rawSend(app!.smtpPort, { from: 's@example.test', to: ['r@example.test'], data: dotStuff(raw) }))
  const isRead = async (id: string): Promise<boolean> => {
    const list = await app!.api<{ messages: { ID: string; Read: boolean }[] }>('/api/v1/messages')
    return list.body.messages.find((m) => m.ID === id)!.Read
  }

  it('answers a rebinding Host with 403 JSON and loopback names as before', async () => {
    app = await startTestApp()
    await sendMail(plainMessage({ from: 'a@example.test', to: 'b@example.test', subject: 'secret', body: 'x' }))
    const port = app.httpPort
    for (const host of [`attacker.test:${port}`, 'attacker.test', `localhost.:${port}`, `127.0.0.1.attacker.test:${port}`, `[::2]:${port}`, `10.0.0.1:${port}`]) {
      for (const path of ['/api/v1/message/latest', '/', '/api/v1/info']) {
        const a = await send(port, path, { headers: { host } })
        expect(a.status, `${host} ${path}`).toBe(403)
        expect(errorCode(a)).toBe('FORBIDDEN_HOST')
        expect(a.body).not.toContain('secret')
      }
    }
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, '127.0.0.1', `127.45.6.7:${port}`, `[::1]:${port}`, `LOCALHOST:${port}`]) {
      const a = await send(port, '/api/v1/message/latest', { headers: { host } })
      expect(a.status, host).toBe(200)
      expect(a.body).toContain('secret')
    }
  })

  it('answers names listed in --http-allowed-hosts, and every Host when HTTP auth is on', async () => {
    app = await startTestApp(['--http-allowed-hosts', 'Mail.Example.Test, other.example.test'])
    const port = app.httpPort
    expect((await send(port, '/api/v1/info', { headers: { host: `mail.example.test:${port}` } })).status).toBe(200)
    expect((await send(port, '/api/v1/info', { headers: { host: 'other.example.test' } })).status).toBe(200)
    expect((await send(port, '/api/v1/info', { headers: { host: `attacker.test:${port}` } })).status).toBe(403)
    await app.stop()

    app = await startTestApp(['--http-token', 's3cret'])
    const p2 = app.httpPort
    expect((await send(p2, '/api/v1/info', { headers: { host: 'anything.example.test' } })).status).toBe(401)
    expect((await send(p2, '/api/v1/info', { headers: { host: 'anything.example.test', authorization: 'Bearer s3cret' } })).status).toBe(200)
  })

  it('reads --http-allowed-hosts as names without ports', () => {
    expect(loadConfig(['--http-allowed-hosts', ' Mail.Test:8025, [2001:db8::1]:80,2001:db8::2 ,,plain.test'], {}).httpAllowedHosts).toEqual([
      'mail.test',
      '2001:db8::1',
      '2001:db8::2',
      'plain.test',
    ])
    expect(loadConfig([], { HOLDMAIL_HTTP_ALLOWED_HOSTS: 'env.test' }).httpAllowedHosts).toEqual(['env.test'])
  })

  it('accepts the --http address when it is not a wildcard', () => {
    const config = (http: string) => loadConfig(['--http', http], {})
    expect(hostAllowed(config('192.0.2.10:8025'), '192.0.2.10:8025')).toBe(true)
    expect(hostAllowed(config('[2001:db8::5]:8025'), '[2001:db8::5]:8025')).toBe(true)
    expect(hostAllowed(config('0.0.0.0:8025'), '0.0.0.0:8025')).toBe(false)
    expect(hostAllowed(config('0.0.0.0:8025'), '192.0.2.10:8025')).toBe(false)
    expect(hostAllowed(config('[::]:8025'), '[::]:8025')).toBe(false)
    expect(hostAllowed(config('0.0.0.0:8025'), '127.9.9.9')).toBe(true)
  })

  it('refuses state changes from another origin or site, and leaves the messages alone', async () => {
    app = await startTestApp()
    const id = await sendMail(plainMessage({ from: 'a@example.test', to: 'b@example.test', subject: 'keep me', body: 'x' }))
    const port = app.httpPort
    const json = { 'content-type': 'application/json' }
    const forged: Record<string, string>[] = [
      { origin: 'http://attacker.test' },
      { origin: `http://attacker.test:${port}` },
      { origin: `http://127.0.0.2:${port}` },
      { origin: 'null' },
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site' },
      { origin: `http://127.0.0.1:${port}`, 'sec-fetch-site': 'cross-site' },
    ]
    for (const headers of forged) {
      const del = await send(port, '/api/v1/messages', { method: 'DELETE', headers: { ...json, ...headers }, body: JSON.stringify({ IDs: [id] }) })
      expect(del.status, JSON.stringify(headers)).toBe(403)
      expect(errorCode(del)).toBe('FORBIDDEN_ORIGIN')
      const put = await send(port, '/api/v1/messages', { method: 'PUT', headers: { ...json, ...headers }, body: JSON.stringify({ IDs: [id], Read: true }) })
      expect(put.status).toBe(403)
    }
    // A WebSocket handshake from another origin (what a live-event socket would get).
    const ws = { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' }
    const hijack = await send(port, '/api/v1/events', { headers: { ...ws, origin: 'http://attacker.test' } })
    expect(hijack.status).toBe(403)
    expect(errorCode(hijack)).toBe('FORBIDDEN_ORIGIN')

    const list = await app.api<{ total: number; messages: { Read: boolean }[] }>('/api/v1/messages')
    expect(list.body.total).toBe(1)
    expect(list.body.messages[0]!.Read).toBe(false)

    // The UI's own requests (same origin) and plain API clients (no Origin) still work.
    const own = await send(port, '/api/v1/messages', {
      method: 'PUT',
      headers: { ...json, origin: `http://127.0.0.1:${port}`, 'sec-fetch-site': 'same-origin', 'sec-fetch-dest': 'empty' },
      body: JSON.stringify({ IDs: [id], Read: true }),
    })
    expect(own.status).toBe(200)
    expect(await isRead(id)).toBe(true)
    expect((await send(port, '/api/v1/messages', { method: 'DELETE', headers: json, body: JSON.stringify({ IDs: [id] }) })).status).toBe(200)
  })

  it('refuses API requests made as images, styles or frames: no DNS lookup, no read flag', async () => {
    dns = await startDnsServer({})
    app = await startTestApp(['--dns-server', `127.0.0.1:${dns.port}`])
    const port = app.httpPort
    const id = await sendMail(plainMessage({ from: 'a@example.test', to: 'b@example.test', subject: 'unread', body: 'x' }))
    const lint = '/api/v1/spf-lint?target=beacon.attacker.test'
    const subresource: Record<string, string>[] = [
      { 'sec-fetch-dest': 'image', 'sec-fetch-site': 'same-origin', 'sec-fetch-mode': 'no-cors' },
      { 'sec-fetch-dest': 'style', 'sec-fetch-site': 'same-origin' },
      { 'sec-fetch-dest': 'iframe', 'sec-fetch-site': 'same-origin' },
      { 'sec-fetch-dest': 'script', 'sec-fetch-site': 'same-origin' },
      { 'sec-fetch-dest': 'font', 'sec-fetch-site': 'same-origin' },
      { 'sec-fetch-dest': 'image', 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-dest': 'document', 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate' }, // a link in a sample
      { 'sec-fetch-dest': 'empty', 'sec-fetch-site': 'cross-site' },
      // What Chromium sends for an <img> and a stylesheet to an origin that gets no Fetch Metadata.
      { accept: 'image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8' },
      { accept: 'text/css,*/*;q=0.1' },
    ]
    for (const headers of subresource) {
      // (/%61pi/ is /api/ to the router.)
      for (const path of [lint, `/%61pi/v1/spf-lint?target=encoded.attacker.test`, `/api/v1/message/${id}`, '/api/v1/search?query=unread', `/view/${id}.html`]) {
        if (path.startsWith('/view/') && headers['sec-fetch-dest'] === 'iframe' && headers['sec-fetch-site'] === 'same-origin') continue // the UI's own frame
        const a = await send(port, path, { headers })
        expect(a.status, `${path} ${JSON.stringify(headers)}`).toBe(403)
        expect(errorCode(a)).toBe('FORBIDDEN_ORIGIN')
      }
    }
    // (The message's own SPF check asks about example.test: only the beacon counts here.)
    const beacon = (): string[] => dns!.queries.filter((q) => q.includes('attacker.test'))
    expect(beacon()).toEqual([])
    expect(await isRead(id)).toBe(false)

    // A document load the user started (address bar: Sec-Fetch-Site none) answers, without marking read.
    const typed = await send(port, `/api/v1/message/${id}`, { headers: { 'sec-fetch-dest': 'document', 'sec-fetch-site': 'none', 'sec-fetch-mode': 'navigate' } })
    expect(typed.status).toBe(200)
    expect(await isRead(id)).toBe(false)
    // The UI's fetch and a plain API client (mailpit-api) read and mark read, as Mailpit does.
    const ui = await send(port, `/api/v1/message/${id}`, { headers: { 'sec-fetch-dest': 'empty', 'sec-fetch-site': 'same-origin', 'sec-fetch-mode': 'cors' } })
    expect(ui.status).toBe(200)
    expect(await isRead(id)).toBe(true)
    // Plain clients are not refused: the lint really looks up (so the refusals above were what kept DNS quiet).
    expect((await send(port, lint)).status).toBe(200)
    expect(beacon().some((q) => q.startsWith('beacon.attacker.test'))).toBe(true)
  })

  it('serves parts to the UI as images, but not to another site', async () => {
    app = await startTestApp()
    const port = app.httpPort
    const id = await sendMail(relatedMessage({ subject: 'inline', cid: 'logo@example.test', html: '<p><img src="cid:logo@example.test"></p>' }))
    const detail = await app.api<{ Inline: { PartID: string }[] }>(`/api/v1/message/${id}`)
    const part = `/api/v1/message/${id}/part/${detail.body.Inline[0]!.PartID}`
    const own = await send(port, part, { headers: { 'sec-fetch-dest': 'image', 'sec-fetch-site': 'same-origin' } })
    expect(own.status).toBe(200)
    expect(own.headers['content-type']).toBe('image/gif')
    expect((await send(port, part, { headers: { 'sec-fetch-dest': 'image', 'sec-fetch-site': 'cross-site' } })).status).toBe(403)
  })

  it('inlines cid: images as data: URIs, loads nothing from the server, and treats undecodable cids as not found', async () => {
    app = await startTestApp()
    const port = app.httpPort
    const id = await sendMail(
      relatedMessage({
        subject: 'cids',
        cid: 'logo@example.test',
        html: '<p><img id="a" src="cid:logo%40example.test"><img id="b" src="cid:%E0%A4%A"><img id="c" src="cid:missing@example.test"></p>',
      }),
    )
    const view = await send(port, `/view/${id}.html`)
    expect(view.status).toBe(200)
    expect(view.body).toContain('<img id="a" src="data:image/gif;base64,R0lGODlh')
    expect(view.body).toContain('<img id="b" src="cid:%E0%A4%A">')
    expect(view.body).toContain('<img id="c" src="cid:missing@example.test">')
    const csp = String(view.headers['content-security-policy'])
    const directives = new Map(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name, values]))
    expect(directives.get('img-src')).toEqual(['data:']) // nothing from holdmail itself, nothing remote
    expect(directives.get('default-src')).toEqual(["'none'"])
    expect(csp).toContain("frame-ancestors 'self'")

    const html = await sendMail(htmlMessage({ from: 'a@example.test', to: 'b@example.test', subject: 'only bad cid', html: '<img src="cid:%E0%A4%A">', text: 'x' }))
    expect((await send(port, `/view/${html}.html`)).status).toBe(200)
  })

  it('caps the bytes of inlined images when a sample refers to one large part many times', async () => {
    app = await startTestApp()
    const image = Buffer.alloc(200 * 1024, 7) // 200 KiB; 1 000 references would be 270 MB of base64
    const id = await sendMail(relatedMessage({ subject: 'many refs', cid: 'big@example.test', image, html: '<img src="cid:big@example.test">'.repeat(1000) }))
    const view = await send(app.httpPort, `/view/${id}.html`)
    expect(view.status).toBe(200)
    const inlined = view.body.split('src="data:image/gif;base64,').length - 1
    const left = view.body.split('src="cid:big@example.test"').length - 1
    expect(inlined).toBeGreaterThan(0)
    expect(inlined + left).toBe(1000)
    expect(view.body.length).toBeLessThan(40 * 1024 * 1024)
  })

  it('tells browsers not to frame the UI or the API', async () => {
    app = await startTestApp()
    const port = app.httpPort
    const id = await sendMail(plainMessage({ from: 'a@example.test', to: 'b@example.test', subject: 'frame', body: 'x' }))
    for (const path of ['/', `/view/${id}`, '/app.js', '/api/v1/info', '/api/v1/messages', `/api/v1/message/${id}/raw`, '/api/v1/nope']) {
      const a = await send(port, path)
      expect(a.headers['x-frame-options'], path).toBe('DENY')
      expect(String(a.headers['content-security-policy']), path).toContain("frame-ancestors 'none'")
      expect(a.headers['x-content-type-options'], path).toBe('nosniff')
    }
    // (a message without HTML has no HTML view: 404)
    const html = await sendMail(htmlMessage({ from: 'a@example.test', to: 'b@example.test', subject: 'frame', html: '<p>x</p>', text: 'x' }))
    const view = await send(port, `/view/${html}.html`)
    expect(view.status).toBe(200)
    expect(view.headers['x-frame-options']).toBe('SAMEORIGIN') // the UI frames it
  })

  it('limits bodies per route: a tag rename takes 1 MiB, a bulk ID list 16 MiB', async () => {
    app = await startTestApp()
    const port = app.httpPort
    const json = { 'content-type': 'application/json' }
    const big = JSON.stringify({ Name: 'x'.repeat(2 * 1024 * 1024) })
    const rename = await send(port, '/api/v1/tags/old', { method: 'PUT', headers: json, body: big })
    expect(rename.status).toBe(413)
    const ids = JSON.stringify({ IDs: Array.from({ length: 100_000 }, (_, i) => `id${String(i).padStart(20, '0')}`), Read: true })
    expect(ids.length).toBeGreaterThan(2 * 1024 * 1024)
    expect((await send(port, '/api/v1/messages', { method: 'PUT', headers: json, body: ids })).status).toBe(200)
  })
})

describe('HTTP deadlines', () => {
  it('runs the real server with the default deadlines (the keep-alive one shows in every answer)', async () => {
    const app = await startTestApp()
    try {
      const a = await send(app.httpPort, '/api/v1/info', { headers: { connection: 'keep-alive' } })
      expect(a.headers['keep-alive']).toBe(`timeout=${DEFAULT_HTTP_LIMITS.keepAliveTimeoutMs / 1000}`)
    } finally {
      await app.stop()
    }
  })


  // The real app factory with short limits (the defaults are tens of seconds), on a real socket.
  it('cuts off a request whose body never finishes, and one whose headers never finish', async () => {
    const app = await startTestApp([], {
      httpLimits: { headersTimeoutMs: 300, requestTimeoutMs: 600, idleTimeoutMs: 30_000, keepAliveTimeoutMs: 1_000, checkIntervalMs: 100 },
    })
    const port = app.httpPort
    try {
      const stalled = async (head: string): Promise<string[]> => {
        const events: string[] = []
        const socket = connect(port, '127.0.0.1')
        let answer = ''
        socket.setEncoding('latin1')
        socket.on('data', (d: string) => (answer += d))
        await new Promise((resolve) => socket.once('connect', resolve))
        socket.write(head)
        events.push('client sent part of the request')
        // The client would go on forever; the server must end it first.
        await new Promise((resolve) => socket.once('close', resolve))
        events.push(`server ended the connection: ${answer.split('\r\n')[0] ?? ''}`)
        socket.destroy()
        return events
      }
      const body = await stalled(`PUT /api/v1/messages HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: 15000000\r\n\r\n{"IDs":["a`)
      expect(body).toEqual(['client sent part of the request', 'server ended the connection: HTTP/1.1 408 Request Timeout'])
      const headers = await stalled(`GET /api/v1/info HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-Slow: `)
      expect(headers).toEqual(['client sent part of the request', 'server ended the connection: HTTP/1.1 408 Request Timeout'])
    } finally {
      await app.stop()
    }
  })
})
