import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { chromium, type Browser, type Page } from 'playwright-core'
import { dotStuff, queuedId, rawSend, startTestApp, type TestApp } from '../helpers/test-app.js'
import { freePort, GTUBE, SPAMD_PATH, startSpamd, type RunningSpamd } from '../helpers/spamd.js'
import { CHROMIUM_ARGS, chromiumPath, skipBrowserTests } from './browser.js'

// The message view's Analysis tab and SpamAssassin (issue 14): holdmail runs with --spamd against
// Debian's spamd on loopback, scores each message after commit, and the tab shows the score, the
// verdict against spamd's threshold and the rules that hit, the same rules as GET /sa-check.

const skipBrowser = skipBrowserTests()
if (!SPAMD_PATH) console.warn('spamd not found (apt-get install spamassassin spamd): the UI SpamAssassin tests that need it are skipped')

interface SaCheck {
  Error: string
  IsSpam: boolean
  Score: number
  Threshold?: number
  Rules: { Name: string; Score: number; Description: string }[] | null
}

const spamMessage = Buffer.from(
  `From: Spammer <spam@shady.example>\r\nTo: trap@holdmail.test\r\nSubject: win now\r\nDate: Fri, 04 Dec 2026 21:00:00 +0000\r\nMessage-ID: <gtube-ui@shady.example>\r\n\r\n${GTUBE}\r\n`,
)
const hamMessage = Buffer.from(
  'From: Alice <alice@sender.test>\r\nTo: bob@holdmail.test\r\nSubject: lunch\r\nDate: Fri, 04 Dec 2026 21:00:00 +0000\r\nMessage-ID: <lunch-ui@sender.test>\r\n\r\nShall we meet at noon?\r\n',
)

// A browser and spamd on a shared two-core machine: generous limits.
describe.skipIf(skipBrowser)('web UI: SpamAssassin on the Analysis tab', { timeout: 120_000 }, () => {
  let browser: Browser
  let app: TestApp | undefined
  let page: Page | undefined
  const errors: string[] = []

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS })
  }, 90_000)
  afterAll(async () => {
    await browser?.close()
  })
  afterEach(async () => {
    // The page holds an event stream open: close it before the server so stop() does not wait on it.
    await page?.close()
    await app?.stop()
    page = undefined
    app = undefined
    errors.length = 0
  })

  async function openPage(): Promise<Page> {
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
    page.setDefaultTimeout(45_000)
    page.on('pageerror', (err) => errors.push(err.message))
    return page
  }

  const send = async (a: TestApp, raw: Buffer): Promise<string> => queuedId(await rawSend(a.smtpPort, { from: 'sender@example.test', to: ['trap@holdmail.test'], data: dotStuff(raw) }))

  /** Opens a message and its Analysis tab. */
  async function openAnalysis(p: Page, a: TestApp, id: string): Promise<void> {
    await p.goto(`${a.baseUrl}/view/${id}`)
    await p.locator('#tab-analysis').click()
    await expect.poll(() => p.locator('#tab-analysis').getAttribute('aria-selected')).toBe('true')
  }

  describe.skipIf(!SPAMD_PATH)('with spamd', () => {
    let spamd: RunningSpamd
    beforeAll(async () => {
      spamd = await startSpamd()
    }, 120_000)
    afterAll(async () => {
      await spamd?.stop()
    })

    it('shows the score, the verdict against the threshold and the same rule hits as /sa-check', async () => {
      app = await startTestApp(['--spamd', `127.0.0.1:${spamd.port}`])
      const a = app
      const ids = { spam: await send(a, spamMessage), ham: await send(a, hamMessage) }
      // The checker scores each message after commit; /sa-check says "not checked" until then.
      const verdict = async (id: string): Promise<SaCheck> => (await a.api<SaCheck>(`/api/v1/message/${id}/sa-check`)).body
      await expect.poll(async () => (await verdict(ids.spam)).Error, { timeout: 60_000, interval: 250 }).toBe('')
      await expect.poll(async () => (await verdict(ids.ham)).Error, { timeout: 60_000, interval: 250 }).toBe('')
      const spam = await verdict(ids.spam)
      const ham = await verdict(ids.ham)
      expect(spam.IsSpam).toBe(true)
      expect(spam.Threshold).toBe(5)
      expect(spam.Rules?.map((r) => r.Name)).toContain('GTUBE')
      expect(ham.IsSpam).toBe(false)

      const p = await openPage()
      await openAnalysis(p, a, ids.spam)
      const section = p.locator('.sa-check')
      await section.locator('.sa-rules').waitFor()
      expect(await section.locator('h2').textContent()).toBe('SpamAssassin')
      expect(await section.locator('.sa-verdict').textContent()).toBe('spam')
      expect(await section.locator('.kv').textContent()).toContain('≥ threshold 5.0')
      expect(Number((await section.locator('.sa-score').textContent())!.replace(/,/g, ''))).toBeCloseTo(spam.Score, 3)
      // Every rule the API lists, in its order, by name, with its score and description.
      expect(await section.locator('.sa-rule-name').allTextContents()).toEqual(spam.Rules!.map((r) => r.Name))
      const gtube = section.locator('.sa-rule', { hasText: 'GTUBE' })
      expect(await gtube.locator('.sa-rule-score').textContent()).toBe('1,000.0')
      expect(await gtube.textContent()).toMatch(/Generic Test for Unsolicited Bulk Email/i)

      await openAnalysis(p, a, ids.ham)
      await expect.poll(() => section.locator('.sa-verdict').textContent()).toBe('not spam')
      expect(await section.locator('.kv').textContent()).toContain('< threshold 5.0')
      const hamRules = (ham.Rules ?? []).map((r) => r.Name)
      if (hamRules.length > 0) expect(await section.locator('.sa-rule-name').allTextContents()).toEqual(hamRules)
      else expect(await section.locator('.sa-no-rules').textContent()).toBe('No rules hit.')
      expect(await section.textContent()).not.toContain('GTUBE')
      expect(errors).toEqual([])
    })
  })

  it('says "not checked" while spamd has not scored a message', async () => {
    // --spamd pointing at a port where nothing listens: the checker keeps retrying, nothing is stored.
    app = await startTestApp(['--spamd', `127.0.0.1:${await freePort()}`])
    const id = await send(app, hamMessage)
    const api = (await app.api<SaCheck>(`/api/v1/message/${id}/sa-check`)).body
    expect(api.Error).not.toBe('')

    const p = await openPage()
    await openAnalysis(p, app, id)
    const notChecked = p.locator('.sa-check .sa-not-checked')
    await notChecked.waitFor()
    expect(await notChecked.textContent()).toBe(`not checked ${api.Error}`)
    expect(await p.locator('.sa-check .sa-rules').count()).toBe(0)
    expect(await p.locator('.sa-check .sa-verdict').count()).toBe(0)
    expect(errors).toEqual([])
  })

  it('shows no SpamAssassin section when holdmail runs without --spamd', async () => {
    // A DSN, so that the Analysis tab has something else to show (the bounce) and is there at all.
    app = await startTestApp()
    const dsn = Buffer.from(
      [
        'From: Mail Delivery System <MAILER-DAEMON@mx.example.test>',
        'To: sender@example.test',
        'Subject: Undelivered Mail Returned to Sender',
        'MIME-Version: 1.0',
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"',
        '',
        '--b',
        'Content-Type: text/plain',
        '',
        'Your message could not be delivered.',
        '--b',
        'Content-Type: message/delivery-status',
        '',
        'Reporting-MTA: dns; mx.example.test',
        '',
        'Final-Recipient: rfc822; gone@example.test',
        'Action: failed',
        'Status: 5.1.1',
        '',
        '--b--',
        '',
      ].join('\r\n'),
    )
    const id = await send(app, dsn)
    const a = app
    // The Analysis tab appears once the indexer has parsed the bounce.
    await expect.poll(async () => (await a.api<{ Analysis: unknown }>(`/api/v1/message/${id}`)).body.Analysis, { timeout: 30_000 }).toBeTruthy()

    const p = await openPage()
    const answered = p.waitForResponse((r) => r.url().endsWith(`/api/v1/message/${id}/sa-check`))
    await openAnalysis(p, a, id)
    await p.locator('.panel h2', { hasText: 'Bounce' }).waitFor()
    expect((await answered).status()).toBe(200)
    // The section is there (hidden) until /sa-check answers, then removed: nothing to say.
    await expect.poll(() => p.locator('.sa-check').count()).toBe(0)
    expect(await p.locator('.panel').textContent()).not.toContain('SpamAssassin')
    expect(errors).toEqual([])
  })
})
