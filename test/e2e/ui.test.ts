import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { readFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { chromium, type Browser, type Page } from 'playwright-core'
import { dotStuff, queuedId, rawSend, startTestApp, type TestApp } from '../helpers/test-app.js'
import { CHROMIUM_ARGS, chromiumPath, sendAs, skipBrowserTests } from './browser.js'
import { htmlMessage, plainMessage } from './samples.js'

// The web UI in a real browser (Debian's Chromium through playwright-core) against the whole app
// on loopback. A second loopback HTTP server counts requests: it stands in for a spammer's
// tracking-pixel host and must see nothing until the user asks for remote content.

const skip = skipBrowserTests()

interface Tracker {
  server: Server
  base: string
  hits: string[]
}

async function startTracker(): Promise<Tracker> {
  const hits: string[] = []
  // A 1x1 GIF, so the browser has something real to draw once it is allowed to fetch.
  const gif = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64')
  const server = createServer((req, res) => {
    hits.push(req.url ?? '')
    res.writeHead(200, { 'content-type': 'image/gif', 'cache-control': 'no-store' }).end(gif)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits }
}

/** mboxrd reader: "From " after a blank line starts a message; ">From " loses one ">". */
function parseMboxrd(data: Buffer): Buffer[] {
  const out: string[][] = []
  let prevBlank = true
  for (const line of data.toString('latin1').split(/(?<=\n)/)) {
    if (prevBlank && line.startsWith('From ')) out.push([])
    else out[out.length - 1]!.push(/^>+From /.test(line) ? line.slice(1) : line)
    prevBlank = line === '\n' || line === '\r\n'
  }
  return out.map((lines) => Buffer.from(lines.slice(0, -1).join(''), 'latin1'))
}

// A browser on a shared two-core machine: generous limits, so load elsewhere in the suite is not a failure.
describe.skipIf(skip)('web UI in Chromium', { timeout: 90_000 }, () => {
  let browser: Browser
  let app: TestApp
  let tracker: Tracker
  let page: Page

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS })
  }, 90_000)
  afterAll(async () => {
    await browser?.close()
  })
  beforeEach(async () => {
    app = await startTestApp(['--trusted-relays', '127.0.0.0/8'])
    tracker = await startTracker()
    page = await browser.newPage({ viewport: { width: 1280, height: 800 }, acceptDownloads: true })
    page.setDefaultTimeout(45_000)
    const errors: string[] = []
    page.on('pageerror', (err) => errors.push(err.message))
    ;(page as unknown as { errors: string[] }).errors = errors
  })
  afterEach(async () => {
    // The page holds an event stream open: close it before the server so close() does not wait on it.
    await page?.close()
    await app?.stop()
    await new Promise((resolve) => tracker.server.close(resolve))
  })

  const send = async (raw: Buffer, from = 'sender@example.test', to = ['rcpt@example.test']): Promise<string> =>
    queuedId(await rawSend(app.smtpPort, { from, to, data: dotStuff(raw) }))

  const rows = () => page.locator('.msglist .row')
  /** Waits for the message iframe's load event: it fires only after every image and style request settled. */
  const frameLoaded = async (id: string): Promise<void> => {
    await expect.poll(() => page.frames().some((f) => f.url().includes(`/view/${id}.html`))).toBe(true)
    await page.frames().find((f) => f.url().includes(`/view/${id}.html`))!.waitForLoadState('load')
  }
  const pageErrors = () => (page as unknown as { errors: string[] }).errors

  it('shows a message sent over SMTP in the list without a reload', async () => {
    await page.goto(app.baseUrl + '/')
    await page.locator('.empty').waitFor()
    await expect.poll(() => page.locator('#live').textContent()).toBe('live')
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42))

    await send(plainMessage({ from: 'Live Sender <live@example.test>', to: 'a@example.test', subject: 'arrives live', body: 'hello' }))
    await rows().filter({ hasText: 'Live Sender' }).waitFor()
    await expect.poll(() => rows().filter({ hasText: 'arrives live' }).count()).toBe(1) // subject fills in once indexed
    // Same document: nothing reloaded the page.
    expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(42)
    expect(await page.locator('.range').textContent()).toContain('of 1')

    // A reader scrolled down gets a count of arrivals instead of rows moving under them.
    await page.setViewportSize({ width: 1280, height: 300 })
    for (let i = 0; i < 8; i++) await send(plainMessage({ from: 'x@example.test', to: 'a@example.test', subject: `filler ${i}`, body: 'x' }))
    await expect.poll(() => rows().count()).toBe(9)
    await page.evaluate(() => window.scrollTo(0, 400))
    await expect.poll(() => page.evaluate(() => window.scrollY)).toBeGreaterThan(100)
    await send(plainMessage({ from: 'x@example.test', to: 'a@example.test', subject: 'while scrolled', body: 'x' }))
    await expect.poll(() => page.locator('.new-pill').textContent()).toContain('1 new message')
    expect(await rows().filter({ hasText: 'while scrolled' }).count()).toBe(0)
    // dispatchEvent, not click(): click() first scrolls the pill into view, and a scroll that reaches
    // the top shows the new rows by itself, hiding the pill under the pointer (a race under load).
    await page.locator('.new-pill').dispatchEvent('click')
    await expect.poll(() => rows().filter({ hasText: 'while scrolled' }).count()).toBe(1)
    expect(await page.locator('.new-pill').isVisible()).toBe(false)
    expect(pageErrors()).toEqual([])
  })

  it('opens a message with HTML, text, headers (in order), source with byte count and the envelope', async () => {
    const raw = Buffer.concat([
      Buffer.from('Received: from hop2.example.test by mx.example.test; Mon, 1 Jan 2026 10:00:02 +0000\r\n'),
      Buffer.from('Received: from hop1.example.test by hop2.example.test; Mon, 1 Jan 2026 10:00:01 +0000\r\n'),
      htmlMessage({
        from: 'Html Sender <html@example.test>',
        to: 'one@example.test, two@example.test',
        subject: 'html and text',
        html: '<html><body><h1 id="greeting">Hello in HTML</h1><p>paragraph</p></body></html>',
        text: 'Hello in plain text',
      }),
    ])
    const id = await send(raw, 'bounces@example.test', ['one@example.test', 'two@example.test'])
    await app.running.indexer.idle()
    await page.goto(`${app.baseUrl}/view/${id}`)

    await expect.poll(() => page.frameLocator('iframe.html-frame').locator('#greeting').textContent()).toBe('Hello in HTML')
    const sandbox = await page.locator('iframe.html-frame').getAttribute('sandbox')
    expect(sandbox).toBe('allow-popups allow-popups-to-escape-sandbox')

    await page.locator('.tab-text').click()
    expect(await page.locator('.text-body').textContent()).toContain('Hello in plain text')

    await page.locator('.tab-headers').click()
    const names = await page.locator('.headers-table tbody th').allTextContents()
    expect(names.slice(0, 3)).toEqual(['Received', 'Received', 'From'])
    const values = await page.locator('.headers-table tbody td').allTextContents()
    expect(values[0]).toContain('hop2.example.test')
    expect(values[1]).toContain('hop1.example.test')

    await page.locator('.tab-source').click()
    expect(await page.locator('.byte-count').textContent()).toBe(`${raw.length.toLocaleString('en-US')} bytes`)
    expect(await page.locator('pre.source').textContent()).toContain('Received: from hop1.example.test')

    await page.locator('.tab-envelope').click()
    const envelope = await page.locator('.panel table.kv').textContent()
    expect(envelope).toContain('<bounces@example.test>')
    expect(envelope).toContain('<one@example.test>')
    expect(envelope).toContain('<two@example.test>')
    expect(envelope).toContain('127.0.0.1')
    expect(envelope).toContain('client.example.test') // HELO from rawSend
    expect(envelope).toContain(id) // queue ID
    expect(pageErrors()).toEqual([])
  })

  it('fetches nothing remote until "Load remote content" is clicked, then loads it for that message', async () => {
    const pixel = `${tracker.base}/pixel.gif?u=trap`
    const id = await send(
      htmlMessage({
        from: 'Tracker <t@example.test>',
        to: 'trap@example.test',
        subject: 'tracking pixel',
        html: `<html><head><style>body { background: url('${tracker.base}/bg.gif') }</style></head><body><h1 id="t">Deal</h1><img src="${pixel}" width="1" height="1"><img srcset="${tracker.base}/a.gif 1x, ${tracker.base}/b.gif 2x"></body></html>`,
        text: 'deal',
      }),
    )
    await app.running.indexer.idle()
    await page.goto(`${app.baseUrl}/view/${id}`)
    const frame = page.frameLocator('iframe.html-frame')
    await frame.locator('#t').waitFor()
    await frameLoaded(id)
    expect(await page.locator('.remote-count').textContent()).toBe('4 remote resources blocked')
    expect(tracker.hits).toEqual([])

    // Other tabs and coming back must not leak either.
    await page.locator('.tab-source').click()
    await page.locator('.tab-html').click()
    await frame.locator('#t').waitFor()
    await frameLoaded(id)
    expect(tracker.hits).toEqual([])

    await page.locator('button.load-remote').click()
    await expect.poll(() => tracker.hits.some((h) => h.startsWith('/pixel.gif'))).toBe(true)
    expect(await page.locator('iframe.html-frame').getAttribute('src')).toContain('remote=1')

    // The permission is for that message only: another message with a pixel stays blocked.
    // (The first message's CSS background may still be loading: wait for it, and judge the second
    // message by its own URL, so a late request of the first one cannot be mistaken for a leak.)
    await expect.poll(() => tracker.hits.some((h) => h.startsWith('/bg.gif'))).toBe(true)
    tracker.hits.length = 0
    const other = await send(
      htmlMessage({ from: 'x@example.test', to: 'y@example.test', subject: 'second pixel', html: `<h1 id="s">x</h1><img src="${tracker.base}/second.gif">`, text: 'x' }),
    )
    await app.running.indexer.idle()
    await page.goto(`${app.baseUrl}/view/${other}`)
    await page.frameLocator('iframe.html-frame').locator('#s').waitFor()
    await frameLoaded(other)
    expect(tracker.hits.filter((h) => h.startsWith('/second.gif'))).toEqual([])
    expect(tracker.hits.every((h) => /^\/(pixel|bg|a|b)\.gif/.test(h))).toBe(true)
  })

  it('keeps hostile subjects, names and header values inert', async () => {
    const payload = (tag: string) => `<img src=x onerror="window.pwned='${tag}';fetch('${tracker.base}/xss-${tag}')">`
    const raw = Buffer.from(
      [
        `From: "${payload('from').replace(/"/g, "'")}" <evil@example.test>`,
        'To: victim@example.test',
        `Subject: ${payload('subject')}<script>window.pwned='script'</script>`,
        `X-Evil: ${payload('header')}`,
        'Content-Type: text/plain',
        '',
        payload('body'),
        '',
      ].join('\r\n'),
    )
    const id = await send(raw, `evil+${'"><svg onload=alert(1)>'.length}@example.test`)
    await app.running.indexer.idle()
    await page.goto(app.baseUrl + '/')
    await rows().first().waitFor()
    await expect.poll(() => rows().first().locator('.subject').textContent()).toContain("onerror=\"window.pwned='subject'")
    await page.goto(`${app.baseUrl}/view/${id}`)
    await page.locator('h1.subject').waitFor()
    expect(await page.locator('h1.subject').textContent()).toContain('<script>')
    await page.locator('.tab-headers').click()
    await page.locator('.headers-table').waitFor()
    await page.locator('.tab-text').click()
    await page.locator('.tab-source').click()
    await page.locator('pre.source').waitFor()
    await page.waitForFunction(() => document.readyState === 'complete')
    // One more round trip to the server so that anything the page might have queued has run.
    await page.evaluate(() => fetch('/api/v1/info').then((r) => r.text()))
    expect(await page.evaluate(() => (window as unknown as { pwned?: string }).pwned)).toBeUndefined()
    expect(await page.locator('img').count()).toBe(0) // no element was created from the markup
    expect(tracker.hits).toEqual([])
  })

  it('narrows the list by clicking a sender and an IP, and by typing a search', async () => {
    await sendAs(app, '198.51.100.7', 'alice@one.example', plainMessage({ from: 'Alice <alice@one.example>', to: 't@example.test', subject: 'from alice', body: 'a' }))
    await sendAs(app, '198.51.100.7', 'bob@two.example', plainMessage({ from: 'Bob <bob@two.example>', to: 't@example.test', subject: 'from bob same ip', body: 'b' }))
    await sendAs(app, '203.0.113.50', 'carol@three.example', plainMessage({ from: 'Carol <carol@three.example>', to: 't@example.test', subject: 'from carol', body: 'c' }))
    await app.running.indexer.idle()
    await page.goto(app.baseUrl + '/')
    await expect.poll(() => rows().count()).toBe(3)

    await rows().filter({ hasText: 'from carol' }).locator('button.ip').click()
    await expect.poll(() => page.url()).toBe(`${app.baseUrl}/search?q=${encodeURIComponent('ip:203.0.113.50')}`)
    await expect.poll(() => rows().count()).toBe(1)
    expect(await page.locator('#search').inputValue()).toBe('ip:203.0.113.50')

    await page.goBack()
    await expect.poll(() => rows().count()).toBe(3)
    await rows().filter({ hasText: 'from alice' }).locator('button.sender').click()
    await expect.poll(() => page.locator('#search').inputValue()).toBe('from:alice@one.example')
    await expect.poll(() => rows().count()).toBe(1)
    expect(await rows().first().textContent()).toContain('from alice')

    await page.locator('#search').fill('ip:198.51.100.0/24')
    await page.locator('#search').press('Enter')
    await expect.poll(() => rows().count()).toBe(2)
    await page.keyboard.press('/')
    await page.locator('#search').fill('ip:198.51.100.0/24 -from:bob')
    await page.locator('#search').press('Enter')
    await expect.poll(() => rows().count()).toBe(1)
    await page.locator('#search').fill('is:nonsense')
    await page.locator('#search').press('Enter')
    await expect.poll(() => page.locator('.banner.error').textContent()).toContain('is:nonsense')
  })

  it('downloads the .eml byte for byte as sent', async () => {
    // Bytes a text pipeline would "fix": bare LF, trailing spaces, latin1, a leading dot.
    const raw = Buffer.concat([
      Buffer.from('From: dl@example.test\r\nTo: x@example.test\r\nSubject: download me\r\n\r\n'),
      Buffer.from('bare LF\nline with trailing spaces   \r\n.leading dot\r\ncaf\xe9 latin1\r\n', 'latin1'),
    ])
    const id = await send(raw)
    await page.goto(`${app.baseUrl}/view/${id}`)
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('a.download-eml').click()])
    expect(download.suggestedFilename()).toBe(`${id}.eml`)
    const got = await readFile(await download.path())
    expect(got.equals(raw)).toBe(true)
    expect(got.equals(await app.raw(id))).toBe(true)
  })

  it('exports the current search as mbox that parses back into the same messages', async () => {
    const sent: Buffer[] = []
    for (let i = 0; i < 5; i++) {
      const raw = plainMessage({ from: `batch${i}@example.test`, to: 'x@example.test', subject: `batch ${i}`, body: `From here on, line one of ${i}\n>From quoted\nend`, messageId: `batch${i}` })
      sent.push(raw)
      await send(raw, `batch${i}@example.test`)
    }
    await send(plainMessage({ from: 'other@example.test', to: 'x@example.test', subject: 'not in the export', body: 'x' }), 'other@example.test')
    await app.running.indexer.idle()
    await page.goto(`${app.baseUrl}/search?q=${encodeURIComponent('mailfrom:batch')}`)
    await expect.poll(() => rows().count()).toBe(5)
    await page.locator('.export-menu summary').click()
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('.export-menu [data-format=mbox]').click()])
    expect(download.suggestedFilename()).toMatch(/^holdmail-.*\.mbox$/)
    const messages = parseMboxrd(await readFile(await download.path()))
    expect(messages).toHaveLength(5)
    messages.forEach((m, i) => expect(m.equals(sent[i]!)).toBe(true))

    // A selection exports just the selected messages.
    await rows().nth(0).locator('input.select').check()
    await rows().nth(1).locator('input.select').check()
    await page.locator('.export-menu summary').click()
    const [zip] = await Promise.all([page.waitForEvent('download'), page.locator('.export-menu [data-format=mbox]').click()])
    expect(parseMboxrd(await readFile(await zip.path()))).toHaveLength(2)
  })

  it('selects messages to mark read, tag and delete; "all matching" covers more than the page', async () => {
    for (let i = 0; i < 6; i++) await send(plainMessage({ from: `s${i}@example.test`, to: 'x@example.test', subject: `bulk ${i}`, body: 'x' }))
    await app.running.indexer.idle()
    await page.evaluate(() => localStorage.clear()).catch(() => undefined)
    await page.goto(app.baseUrl + '/')
    await page.locator('select.page-size').selectOption('25')
    await expect.poll(() => rows().count()).toBe(6)
    expect(await page.locator('.row.unread').count()).toBe(6)

    await rows().nth(0).locator('input.select').check()
    await rows().nth(1).locator('input.select').check()
    await page.locator('button.tool', { hasText: 'Mark read' }).click()
    await expect.poll(() => page.locator('.row.unread').count()).toBe(4)

    await page.locator('button.tool', { hasText: 'Tag' }).click()
    await page.locator('dialog input[name=tag]').fill('case <b>42</b>')
    await page.locator('dialog button[value=add]').click()
    await expect.poll(() => page.locator('.msglist button.tag', { hasText: 'case <b>42</b>' }).count()).toBe(2)
    const tagged = await app.api<{ messages: unknown[] }>(`/api/v1/search?query=${encodeURIComponent('tag:"case <b>42</b>"')}`)
    expect(tagged.body.messages).toHaveLength(2)

    // Clicking a tag searches for it.
    await page.locator('.msglist button.tag').first().click()
    await expect.poll(() => rows().count()).toBe(2)
    await page.locator('input.select-page').check()
    await page.locator('button.tool', { hasText: 'Delete' }).click()
    await expect.poll(() => rows().count()).toBe(0)
    const left = await app.api<{ total: number }>('/api/v1/messages')
    expect(left.body.total).toBe(4)

    // 30 more than fit on a 25-row page: "select all matching" acts on the search, not the page.
    for (let i = 0; i < 30; i++) {
      await app.running.store.insert(plainMessage({ from: 'many@example.test', to: 'x@example.test', subject: `many ${i}`, body: 'x' }), {
        receivedAt: Date.now(), listener: 'smtp', clientIp: '192.0.2.9', clientPort: 2525, ipSource: 'connection', relayIp: null, relayPort: null,
        helo: 'many.example', clientHostname: null, tls: null, authUser: null, mailFrom: 'many@example.test', mailFromParams: {},
        rcptTo: [{ address: 'x@example.test', params: {} }], connectionId: 'e2e', transaction: i + 1, pregreet: false, tags: [],
      })
    }
    await page.goto(`${app.baseUrl}/search?q=${encodeURIComponent('ip:192.0.2.9')}`)
    await expect.poll(() => rows().count()).toBe(25)
    await page.locator('input.select-page').check()
    await page.locator('button.select-all-matching').click()
    expect(await page.locator('.sel-info').textContent()).toBe('30 selected')
    await page.locator('button.tool', { hasText: 'Mark read' }).click()
    await expect.poll(async () => (await app.api<{ messages_unread: number }>('/api/v1/search?query=ip:192.0.2.9')).body.messages_unread).toBe(0)
    const others = await app.api<{ messages_unread: number }>('/api/v1/search?query=' + encodeURIComponent('-ip:192.0.2.9'))
    expect(others.body.messages_unread).toBe(4) // outside the search: untouched
  })

  it('is usable from the keyboard: j/k, Enter, u, d and ?', async () => {
    for (let i = 0; i < 3; i++) await send(plainMessage({ from: `k${i}@example.test`, to: 'x@example.test', subject: `key ${i}`, body: `body ${i}` }))
    await app.running.indexer.idle()
    await page.goto(app.baseUrl + '/')
    await expect.poll(() => rows().count()).toBe(3)
    await page.keyboard.press('j')
    await page.keyboard.press('j')
    expect(await page.locator('.row.cursor').textContent()).toContain('key 1')
    await page.keyboard.press('Enter')
    await expect.poll(() => page.locator('h1.subject').textContent()).toBe('key 1')
    await page.keyboard.press('j') // older
    await expect.poll(() => page.locator('h1.subject').textContent()).toBe('key 0')
    await page.keyboard.press('k') // newer
    await expect.poll(() => page.locator('h1.subject').textContent()).toBe('key 1')
    await page.keyboard.press('d')
    await expect.poll(() => page.locator('h1.subject').textContent()).toBe('key 0')
    await page.keyboard.press('u')
    await expect.poll(() => rows().count()).toBe(2)
    await page.keyboard.press('?')
    await expect.poll(() => page.locator('dialog.help').isVisible()).toBe(true)
    await page.keyboard.press('Escape')
    await page.keyboard.press('/')
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('search')
  })

  it('fits a phone-width screen without sideways scrolling', async () => {
    await send(plainMessage({ from: 'A very long display name indeed <a-very-long-local-part-for-testing@subdomain.example.test>', to: 'x@example.test', subject: 'A subject line that is much longer than a phone screen is wide, to check that it wraps', body: 'x'.repeat(500) }))
    await app.running.indexer.idle()
    await page.setViewportSize({ width: 390, height: 844 })
    await page.goto(app.baseUrl + '/')
    await rows().first().waitFor()
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
    await rows().first().locator('a.subject').click()
    await page.locator('h1.subject').waitFor()
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
  })
})
