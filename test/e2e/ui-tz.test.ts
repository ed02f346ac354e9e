import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { chromium, type Browser } from 'playwright-core'
import { dotStuff, queuedId, rawSend, startTestApp, type TestApp } from '../helpers/test-app.js'
import { CHROMIUM_ARGS, chromiumPath, skipBrowserTests } from './browser.js'
import { plainMessage } from './samples.js'

// The web UI sends the browser's time zone with its searches (Mailpit's `tz`), so a date-only
// `after:DAY` means that day where the user is. DAY is the calendar day of the first message in
// Pacific/Kiritimati (UTC+14): it began there before every message, while in Etc/GMT+12 (UTC-12) it
// begins 26 hours later, after every message. Two browser contexts in those zones see all or none.

const skip = skipBrowserTests()
const HOUR_MS = 3_600_000

describe.skipIf(skip)('date-only searches in the browser\'s time zone', { timeout: 90_000 }, () => {
  let browser: Browser
  let app: TestApp

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS })
  }, 90_000)
  afterAll(async () => {
    await browser?.close()
  })
  beforeEach(async () => {
    app = await startTestApp()
  })
  afterEach(() => app?.stop())

  it('lists after:DAY by the day in the browser\'s zone', async () => {
    for (const n of [1, 2]) {
      const raw = plainMessage({ from: 'a@example.test', to: 'b@example.test', subject: `message ${n}`, body: 'hello' })
      queuedId(await rawSend(app.smtpPort, { from: 'a@example.test', to: ['b@example.test'], data: dotStuff(raw) }))
    }
    const times = (await app.api<{ messages: { Created: string }[] }>('/api/v1/messages')).body.messages.map((m) => Date.parse(m.Created))
    const first = Math.min(...times)
    expect(Math.max(...times) - first).toBeLessThan(HOUR_MS)
    const day = new Date(first + 14 * HOUR_MS).toISOString().slice(0, 10)

    const shown = async (timezoneId: string): Promise<{ rows: number; empty: boolean }> => {
      const context = await browser.newContext({ timezoneId, viewport: { width: 1280, height: 800 } })
      try {
        const page = await context.newPage()
        page.setDefaultTimeout(45_000)
        const searches: string[] = []
        page.on('request', (r) => {
          if (r.url().includes('/api/v1/search?')) searches.push(r.url())
        })
        await page.goto(`${app.baseUrl}/search?q=${encodeURIComponent(`after:${day}`)}`)
        // The list is drawn empty before the first answer: wait until the search has been answered
        // and drawn (the list says aria-busy until then).
        await page.locator('.msglist[aria-busy="false"]').waitFor()
        expect(searches.some((u) => new URL(u).searchParams.get('tz') === timezoneId), searches.join('\n')).toBe(true)
        return { rows: await page.locator('.msglist .row:not(.head)').count(), empty: await page.locator('p.empty').isVisible() }
      } finally {
        await context.close()
      }
    }
    expect(await shown('Pacific/Kiritimati')).toEqual({ rows: 2, empty: false })
    expect(await shown('Etc/GMT+12')).toEqual({ rows: 0, empty: true })
  })
})
