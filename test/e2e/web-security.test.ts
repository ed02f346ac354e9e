import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createServer, request as httpRequest, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { chromium, type Browser, type BrowserContext, type Frame, type Page, type Response } from 'playwright-core'
import { startDnsServer, type DnsServer } from '../helpers/dns-server.js'
import { dotStuff, queuedId, rawSend, startTestApp, type TestApp } from '../helpers/test-app.js'
import { CHROMIUM_ARGS, chromiumPath, skipBrowserTests } from './browser.js'
import { htmlMessage, plainMessage } from './samples.js'
import { relatedMessage } from './security-samples.js'

// A page in the user's browser is the attacker: a DNS-rebinding name that resolves to 127.0.0.1,
// a page on another loopback address that frames the UI, and a sample whose HTML points at the
// API. Chromium (Debian's, through playwright-core) against the whole app on loopback; the
// server side is checked afterwards (read flags, messages still there, DNS queries asked).

const skip = skipBrowserTests()

interface RecordingProxy {
  base: string
  /** Every request holdmail answered: path and query, and the status it gave. */
  hits: { method: string; url: string; status: number }[]
  close(): Promise<void>
}

/**
 * A pass-through HTTP proxy on loopback in front of holdmail that notes each answer's status. The
 * browser drops the body of a refused <img> (opaque-response blocking) before Playwright sees a
 * response, so what the server answered is read here, on the wire.
 */
async function startRecordingProxy(targetPort: number): Promise<RecordingProxy> {
  const hits: RecordingProxy['hits'] = []
  const server = createServer((req, res) => {
    // One upstream connection per request, ended with it, so holdmail can stop without waiting on the proxy.
    const headers = { ...req.headers, connection: 'close' }
    const upstream = httpRequest({ host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers, agent: false }, (answer) => {
      hits.push({ method: req.method ?? '', url: req.url ?? '', status: answer.statusCode ?? 0 })
      res.writeHead(answer.statusCode ?? 502, answer.headers)
      answer.pipe(res)
    })
    upstream.on('error', () => res.destroy())
    res.on('close', () => upstream.destroy())
    req.pipe(upstream)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits,
    close: async () => {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}
const REBIND = 'attacker.test'

describe.skipIf(skip)('web security in Chromium', { timeout: 90_000 }, () => {
  let browser: Browser
  let app: TestApp
  let dns: DnsServer
  let context: BrowserContext
  let page: Page
  let responses: Response[]
  let proxy: RecordingProxy

  beforeAll(async () => {
    // The rebinding: attacker.test resolves to the loopback address holdmail listens on.
    browser = await chromium.launch({ executablePath: chromiumPath(), args: [...CHROMIUM_ARGS, `--host-resolver-rules=MAP ${REBIND} 127.0.0.1`] })
  }, 90_000)
  afterAll(async () => {
    await browser?.close()
  })
  beforeEach(async () => {
    // SPF lint lookups go to this stub, so a lookup a sample triggered would show up in its log.
    dns = await startDnsServer({})
    app = await startTestApp(['--dns-server', `127.0.0.1:${dns.port}`])
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } })
    responses = []
    context.on('response', (r) => responses.push(r))
    page = await context.newPage()
    page.setDefaultTimeout(45_000)
    proxy = await startRecordingProxy(app.httpPort)
  })
  afterEach(async () => {
    await context?.close()
    await proxy?.close()
    await app?.stop()
    await dns?.close()
  })

  const send = async (raw: Buffer): Promise<string> =>
    queuedId(await rawSend(app.smtpPort, { from: 's@example.test', to: ['r@example.test'], data: dotStuff(raw) }))
  const readFlags = async (): Promise<Map<string, boolean>> => {
    const list = await app.api<{ messages: { ID: string; Read: boolean }[] }>('/api/v1/messages')
    return new Map(list.body.messages.map((m) => [m.ID, m.Read]))
  }
  const attackerQueries = (): string[] => dns.queries.filter((q) => q.includes(REBIND))
  const viewFrame = async (id: string): Promise<Frame> => {
    await expect.poll(() => page.frames().some((f) => f.url().includes(`/view/${id}.html`))).toBe(true)
    const frame = page.frames().find((f) => f.url().includes(`/view/${id}.html`))!
    await frame.waitForLoadState('load')
    return frame
  }
  /** What holdmail answered to requests whose URL contains `part` (as the recording proxy saw them). */
  const statusOf = (part: string): number[] => proxy.hits.filter((h) => h.url.includes(part)).map((h) => h.status)
  /** Statuses of documents (pages, popups, frames) loaded from exactly `url`. */
  const documentStatus = (url: string): number[] => responses.filter((r) => r.url() === url).map((r) => r.status())

  it('refuses a DNS-rebinding page: it can neither read nor delete messages', async () => {
    // The attack as it happens: the page comes from the attacker's server at attacker.test:P, then
    // the name is rebound and the same origin reaches holdmail listening on port P.
    await app.stop()
    const attacker = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html', connection: 'close' }).end('<!doctype html><title>evil</title><p id="ready">evil</p>')
    })
    await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve))
    const port = (attacker.address() as AddressInfo).port
    const origin = `http://${REBIND}:${port}`
    await page.goto(`${origin}/evil.html`)
    await page.locator('#ready').waitFor()
    attacker.closeAllConnections()
    await new Promise((resolve) => attacker.close(resolve))
    app = await startTestApp(['--dns-server', `127.0.0.1:${dns.port}`, '--http', `127.0.0.1:${port}`])
    const id = await send(plainMessage({ from: 'a@example.test', to: 'b@example.test', subject: 'private', body: 'secret words' }))

    const results = await page.evaluate(async (target) => {
      const read = await fetch('/api/v1/message/latest')
      const list = await fetch('/api/v1/messages')
      const del = await fetch('/api/v1/messages', { method: 'DELETE', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ IDs: [target] }) })
      return { read: read.status, readBody: await read.text(), list: list.status, del: del.status }
    }, id)
    expect(results.read).toBe(403)
    expect(results.readBody).not.toContain('secret')
    expect(JSON.parse(results.readBody)).toMatchObject({ error: { code: 'FORBIDDEN_HOST' } })
    expect(results.list).toBe(403)
    expect(results.del).toBe(403)
    // The UI under that name is refused too.
    expect((await page.goto(`${origin}/`))?.status()).toBe(403)

    const flags = await readFlags()
    expect([...flags.keys()]).toEqual([id])
    expect(flags.get(id)).toBe(false)
    // The same browser on a loopback name still gets the UI.
    expect((await page.goto(`http://localhost:${port}/`))?.status()).toBe(200)
  })

  it('keeps a sample from reaching the API: no lookup, no read flag, nothing loaded, even with remote content on', async () => {
    const other = await send(plainMessage({ from: 'a@example.test', to: 'b@example.test', subject: 'stays unread', body: 'x' }))
    const base = proxy.base
    const html = [
      '<html><body><h1 id="t">Offer</h1>',
      '<img src="/api/v1/spf-lint?target=rel.attacker.test">',
      `<img src="${base}/api/v1/spf-lint?target=abs.attacker.test">`,
      `<img src="${base}/api/v1/message/${other}">`,
      `<img src="/api/v1/message/${other}/headers">`,
      `<img src="${base}/api/v1/search?query=stays">`,
      `<link rel="stylesheet" href="${base}/api/v1/messages">`,
      `<div style="background: url('${base}/api/v1/spf-lint?target=css.attacker.test')">bg</div>`,
      `<iframe src="${base}/api/v1/message/${other}/raw"></iframe>`,
      `<a id="link" href="${base}/api/v1/spf-lint?target=click.attacker.test" target="_blank">more</a>`,
      '</body></html>',
    ].join('\n')
    const id = await send(htmlMessage({ from: 'Spam <spam@example.test>', to: 'trap@example.test', subject: 'beacon', html, text: 'x' }))
    await app.running.indexer.idle()

    await page.goto(`${base}/view/${id}`)
    let frame = await viewFrame(id)
    await frame.locator('#t').waitFor()
    expect(attackerQueries()).toEqual([])

    // With remote content allowed the CSP lets the frame load any URL: the server must refuse.
    await page.locator('button.load-remote').click()
    await expect.poll(() => page.frames().some((f) => f.url().includes(`/view/${id}.html?remote=1`))).toBe(true)
    frame = page.frames().find((f) => f.url().includes(`/view/${id}.html?remote=1`))!
    await frame.waitForLoadState('load')
    await expect.poll(() => statusOf('abs.attacker.test')).toEqual([403])
    await expect.poll(() => statusOf('css.attacker.test')).toEqual([403])
    // (The nested <iframe> is blocked by the CSP's frame-src in both modes; were it loaded, it is refused.)
    expect(statusOf(`/api/v1/message/${other}`).every((s) => s === 403)).toBe(true)
    expect(statusOf('/api/v1/search?query=stays')).toEqual([403])

    // A link in the sample, opened by a click: the new tab's request is cross-site, refused too.
    const [popup] = await Promise.all([page.waitForEvent('popup'), frame.locator('#link').click()])
    await popup.waitForLoadState()
    await expect.poll(() => statusOf('click.attacker.test')).toEqual([403])

    // One more request through the server, so everything the page sent before has been answered.
    await page.evaluate(() => fetch('/api/v1/info').then((r) => r.text()))
    expect(attackerQueries()).toEqual([])
    expect((await readFlags()).get(other)).toBe(false)
    expect((await readFlags()).get(id)).toBe(true) // the UI's own open did mark the sample read
  })

  it('shows inline (cid:) images, and no other message\'s parts', async () => {
    const otherId = await send(relatedMessage({ subject: 'other', cid: 'other@example.test', html: '<img src="cid:other@example.test">' }))
    const other = await app.api<{ Inline: { PartID: string }[] }>(`/api/v1/message/${otherId}`)
    const otherPart = `${proxy.base}/api/v1/message/${otherId}/part/${other.body.Inline[0]!.PartID}`
    const id = await send(
      relatedMessage({
        subject: 'logo',
        cid: 'logo@example.test',
        html: `<html><body><h1 id="t">Logo</h1><img id="logo" src="cid:logo@example.test"><img id="foreign" src="${otherPart}"></body></html>`,
      }),
    )
    await app.running.indexer.idle()
    await page.goto(`${proxy.base}/view/${id}`)
    const sizes = async (frame: Frame) => {
      await frame.locator('#t').waitFor()
      return frame.evaluate(() => {
        const w = (sel: string) => {
          const img = document.querySelector<HTMLImageElement>(sel)!
          return { complete: img.complete, width: img.naturalWidth }
        }
        return { logo: w('#logo'), foreign: w('#foreign') }
      })
    }
    const local = await sizes(await viewFrame(id))
    expect(local.logo).toEqual({ complete: true, width: 1 })
    expect(local.foreign).toEqual({ complete: true, width: 0 })

    await page.locator('button.load-remote').click()
    await expect.poll(() => page.frames().some((f) => f.url().includes(`/view/${id}.html?remote=1`))).toBe(true)
    const remoteFrame = page.frames().find((f) => f.url().includes(`/view/${id}.html?remote=1`))!
    await remoteFrame.waitForLoadState('load')
    const remote = await sizes(remoteFrame)
    expect(remote.logo).toEqual({ complete: true, width: 1 })
    expect(remote.foreign).toEqual({ complete: true, width: 0 })
    expect(statusOf(new URL(otherPart).pathname)).toEqual([403])
  })

  describe('framing', () => {
    let framer: Server
    afterEach(async () => {
      await new Promise((resolve) => framer?.close(resolve))
    })

    it('cannot be framed by a page on another origin', async () => {
      const id = await send(htmlMessage({ from: 'a@example.test', to: 'b@example.test', subject: 'zq-framed-subject', html: '<h1>zq-inner-text</h1>', text: 'x' }))
      await app.running.indexer.idle()
      const base = `http://127.0.0.1:${app.httpPort}`
      // The clickjacking page: another loopback address, so another origin (and site).
      framer = createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/html' }).end(
          `<!doctype html><h1 id="outer">win a prize</h1>` +
            `<iframe name="ui" src="${base}/"></iframe><iframe name="msg" src="${base}/view/${id}"></iframe>` +
            `<iframe name="view" src="${base}/view/${id}.html"></iframe><iframe name="api" src="${base}/api/v1/messages"></iframe>`,
        )
      })
      await new Promise<void>((resolve) => framer.listen(0, '127.0.0.2', resolve))
      await page.goto(`http://127.0.0.2:${(framer.address() as AddressInfo).port}/`)
      await page.locator('#outer').waitFor()
      await page.waitForLoadState('load')
      // Each frame got its answer (so the browser had the chance to show it) ...
      for (const url of [`${base}/`, `${base}/view/${id}`, `${base}/view/${id}.html`, `${base}/api/v1/messages`]) {
        await expect.poll(() => documentStatus(url).length, { message: url }).toBe(1)
      }
      // ... and none of them shows holdmail: the browser replaced each with an error page.
      for (const name of ['ui', 'msg', 'view', 'api']) {
        const frame = page.frame({ name })!
        expect(frame, name).not.toBeNull()
        const text = await frame.evaluate(() => document.documentElement.outerHTML).catch(() => '')
        expect(text, name).not.toContain('id="search-form"') // the UI
        expect(text, name).not.toContain('zq-inner-text') // the message HTML
        expect(text, name).not.toContain('zq-framed-subject') // the API's list
      }
    })
  })
})
