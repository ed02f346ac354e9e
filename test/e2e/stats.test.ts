import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { readFile } from 'node:fs/promises'
import { chromium, type Browser, type Page } from 'playwright-core'
import { dotStuff, rawSend, startTestApp, withCrlf, type TestApp } from '../helpers/test-app.js'
import { CHROMIUM_ARGS, chromiumPath, sendAs, skipBrowserTests } from './browser.js'
import { bounceMessage, plainMessage } from './samples.js'

// The stats and backscatter pages and the abuse-report download, in a real browser against the
// whole app on loopback. Bounces carry the bounced mail's headers (text/rfc822-headers) with the
// server that really sent it in a Received field.

const skip = skipBrowserTests()

const HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>Cheap & "meds"'

const bounce = (n: number, originIp: string, subject: string): Buffer =>
  bounceMessage({ to: 'forged@our.example', failed: `nobody${n}@example.org`, originIp, subject })

describe.skipIf(skip)('stats, backscatter and abuse report in Chromium', { timeout: 90_000 }, () => {
  let browser: Browser
  let app: TestApp
  let page: Page
  let errors: string[]
  let spamId: string
  let spamRaw: Buffer

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS })
  }, 90_000)
  afterAll(async () => {
    await browser?.close()
  })
  beforeEach(async () => {
    app = await startTestApp(['--trusted-relays', '127.0.0.0/8'])
    spamRaw = plainMessage({ from: 'Spammer <spammer@spam.example>', to: 'trap@example.test', subject: 'buy now', body: 'cheap stuff' })
    spamId = await sendAs(app, '192.0.2.10', 'spammer@spam.example', spamRaw)
    await sendAs(app, '192.0.2.10', 'spammer@spam.example', plainMessage({ from: 'spammer@spam.example', to: 'trap@example.test', subject: 'buy again', body: 'x' }))
    await sendAs(app, '203.0.113.5', 'other@other.example', plainMessage({ from: 'other@other.example', to: 'trap@example.test', subject: 'hello', body: 'y' }))
    await rawSend(app.smtpPort, { from: '', to: ['forged@our.example'], data: dotStuff(bounce(1, '198.51.100.23', 'Cheap pills')) })
    await rawSend(app.smtpPort, { from: '', to: ['forged@our.example'], data: dotStuff(bounce(2, '198.51.100.23', HOSTILE)) })
    await rawSend(app.smtpPort, { from: '', to: ['forged@our.example'], data: dotStuff(bounce(3, '203.0.113.40', 'Win now')) })
    await app.running.indexer.idle()
    page = await browser.newPage({ viewport: { width: 1280, height: 800 }, acceptDownloads: true })
    page.setDefaultTimeout(45_000)
    errors = []
    page.on('pageerror', (err) => errors.push(err.message))
  })
  afterEach(async () => {
    await page?.close()
    await app?.stop()
  })

  it('shows kind counts, charts and top tables; a client IP narrows the list', async () => {
    await page.goto(app.baseUrl + '/stats')
    await page.locator('.kind-list').waitFor()
    expect(await page.locator('.kind-list li[data-kind="bounce"] .n').textContent()).toBe('3')
    expect(await page.locator('.kind-list li[data-kind="message"] .n').textContent()).toBe('3')
    expect(await page.locator('.kind-list li[data-kind="bounce"] a').getAttribute('href')).toBe('/search?q=kind%3Abounce')
    // the charts: 48 hourly and 30 daily bars, with this hour's and today's six messages
    expect(await page.locator('.per-hour svg.chart rect.bar').count()).toBe(48)
    expect(await page.locator('.per-day svg.chart rect.bar').count()).toBe(30)
    const total = async (sel: string) => (await page.locator(`${sel} rect.bar`).evaluateAll((rs) => rs.map((r) => Number((r as SVGElement).dataset.count)))).reduce((a, b) => a + b, 0)
    expect(await total('.per-hour')).toBe(6)
    expect(await total('.per-day')).toBe(6)
    expect(await page.locator('[aria-current="page"]').textContent()).toBe('Stats')
    // top tables link to searches the search syntax understands
    expect(await page.locator('.top-domains a', { hasText: 'spam.example' }).getAttribute('href')).toBe('/search?q=mailfrom%3Aspam.example')
    expect(await page.locator('.top-nets a', { hasText: '192.0.2.0/24' }).getAttribute('href')).toBe('/search?q=ip%3A192.0.2.0%2F24')
    await page.locator('.top-backscatter td', { hasText: '198.51.100.23' }).waitFor()

    await page.locator('.top-ips a', { hasText: '192.0.2.10' }).click()
    await page.waitForURL(/\/search\?q=ip%3A192\.0\.2\.10$/)
    await expect.poll(() => page.locator('.msglist .row:not(.head)').count()).toBe(2)
    expect(await page.locator('#search').inputValue()).toBe('ip:192.0.2.10')
    expect(await page.locator('.msglist').textContent()).toContain('buy again')
    expect(await page.locator('#stats-view').isHidden()).toBe(true)
    // back to the stats page from the header
    await page.locator('.nav a', { hasText: 'Stats' }).click()
    await page.waitForURL(/\/stats$/)
    await page.locator('#stats-view .kind-list').waitFor()
    expect(errors).toEqual([])
  })

  it('lists backscatter by origin and forged sender; hostile subjects stay inert', async () => {
    await page.goto(app.baseUrl + '/backscatter')
    const origin = page.locator('.by-origin tbody tr[data-key="198.51.100.23"]')
    await origin.waitFor()
    expect(await origin.locator('.count').textContent()).toBe('2')
    expect(await page.locator('.by-origin tbody tr[data-key="203.0.113.40"] .count').textContent()).toBe('1')
    expect(await page.locator('.bounce-total strong').textContent()).toBe('3')
    const sender = page.locator('.by-sender tbody tr[data-key="forged@our.example"]')
    expect(await sender.locator('.count').textContent()).toBe('3')
    expect(await sender.locator('a').first().getAttribute('href')).toBe('/search?q=kind%3Abounce+to%3Aforged%40our.example')

    // The hostile subject is shown as text: no element, no script ran.
    expect(await origin.locator('.subjects').textContent()).toContain(HOSTILE)
    expect(await page.locator('#backscatter-view img, #backscatter-view script').count()).toBe(0)
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined()

    // The origin link is the search for exactly that server's bounces.
    await origin.locator('a').first().click()
    await page.waitForURL(/\/search\?q=origin%3A198\.51\.100\.23$/)
    await expect.poll(() => page.locator('.msglist .row:not(.head)').count()).toBe(2)

    // The search box narrows (query param); the bounce's delivery-status text is in the full-text index.
    await page.goto(app.baseUrl + '/backscatter')
    await page.locator('.backscatter-search input').fill('to:nobody')
    await page.locator('.backscatter-search button').click()
    await page.waitForURL(/\/backscatter\?query=to%3Anobody$/)
    await page.goto(app.baseUrl + '/backscatter?query=' + encodeURIComponent('-"nobody3"'))
    await page.locator('.bounce-total strong', { hasText: '2' }).waitFor()
    expect(await page.locator('.by-origin tbody tr').count()).toBe(1)
    expect(await page.locator('.backscatter-search input').inputValue()).toBe('-"nobody3"')
    expect(errors).toEqual([])
  })

  it('downloads an abuse report draft with the sample inside', async () => {
    await page.goto(`${app.baseUrl}/view/${spamId}`)
    await page.locator('.abuse-report').click()
    const dialog = page.locator('dialog.arf-dialog')
    await dialog.waitFor()
    expect(await dialog.locator('input[name=to]').getAttribute('placeholder')).toContain('abuse@spam.example')
    await dialog.locator('select[name=type]').selectOption('fraud')
    const response = page.waitForResponse((r) => r.url().includes(`/api/v1/message/${spamId}/arf-report`))
    const download = page.waitForEvent('download')
    await dialog.locator('button[type=submit]').click()
    const res = await response
    expect(res.status()).toBe(200)
    expect(res.headers()['content-type']).toMatch(/^message\/rfc822/)
    expect(res.url()).toContain('type=fraud')
    expect(res.url()).not.toContain('to=')
    const file = await download
    expect(file.suggestedFilename()).toBe(`arf-${spamId}.eml`)
    const bytes = await readFile(await file.path())
    expect(bytes.includes(withCrlf(spamRaw))).toBe(true)
    expect(bytes.toString('latin1')).toContain('abuse@spam.example')
    expect(bytes.toString('latin1')).toMatch(/Feedback-Type: fraud/i)
    await dialog.waitFor({ state: 'detached' })

    // an explicit contact goes to the server
    await page.locator('.abuse-report').click()
    await dialog.locator('input[name=to]').fill('abuse@isp.example')
    const res2 = page.waitForResponse((r) => r.url().includes('/arf-report'))
    const dl2 = page.waitForEvent('download')
    await dialog.locator('button[type=submit]').click()
    expect((await res2).url()).toContain('to=abuse%40isp.example')
    expect((await readFile(await (await dl2).path())).toString('latin1')).toContain('abuse@isp.example')
    expect(errors).toEqual([])
  })

  it('lints SPF records from the stats page', async () => {
    await page.goto(app.baseUrl + '/stats')
    const box = page.locator('.spf-lint')
    await box.locator('input[name=target]').fill('v=spf1 ip4:192.0.2.1 +all')
    await box.locator('button[type=submit]').click()
    await box.locator('.spf-problems li, .spf-ok').first().waitFor()
    expect(await box.locator('.spf-facts').textContent()).toContain('v=spf1 ip4:192.0.2.1 +all')
    expect(await box.locator('.spf-problems').textContent()).toMatch(/all/)
    expect(errors).toEqual([])
  })

  it('fits a 390 px wide screen', async () => {
    await page.setViewportSize({ width: 390, height: 800 })
    for (const path of ['/stats', '/backscatter']) {
      await page.goto(app.baseUrl + path)
      await page.locator(path === '/stats' ? '.kind-list' : '.by-origin tbody tr').first().waitFor()
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)
      expect(overflow, path).toBeLessThanOrEqual(0)
    }
  })
})
