// Regenerates docs/screenshot-list.png and docs/screenshot-message.png:
//   npx tsx test/e2e/screenshots.ts [outDir]
// Starts holdmail in-process, sends a small varied mailbox over SMTP and photographs the UI at 1280x800.
// With HOLDMAIL_SHOTS_EXTRA=1 it also writes phone-width and dark-mode shots (for checking, not committed).
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import { dotStuff, rawSend } from '../helpers/test-app.js'
import { startTestApp } from '../helpers/test-app.js'
import { CHROMIUM_ARGS, chromiumPath } from './browser.js'
import { bounceMessage, htmlMessage, plainMessage, withAttachment } from './samples.js'

const outDir = process.argv[2] ?? 'docs'
mkdirSync(outDir, { recursive: true })

const app = await startTestApp()
const send = (from: string, to: string[], data: Buffer, helo?: string) => rawSend(app.smtpPort, { from, to, data: dotStuff(data), helo })

await send('billing@shop.example.com', ['alice@example.test'], plainMessage({ from: 'Example Shop <billing@shop.example.com>', to: 'Alice <alice@example.test>', subject: 'Your order #48213 has shipped', body: 'Hello Alice,\n\nyour order is on its way. Tracking number 1Z999AA10123456784.\n\nThanks for shopping with us.' }))
await send('', ['postmaster@example.test'], bounceMessage({ to: 'postmaster@example.test', failed: 'nobody@example.org' }))
await send('newsletter-bounces+x7@mailer.example.net', ['bob@example.test'], htmlMessage({
  from: 'Deals Weekly <deals@news.example.net>',
  to: 'bob@example.test',
  subject: 'Last chance: 70% off everything',
  text: 'Open in a browser to see the deals.',
  html: '<html><body style="font-family:sans-serif"><h1 style="color:#c0392b">70% off everything</h1><p>Only today. <a href="https://news.example.net/deals">See the deals</a></p><img src="http://tracker.example.net/open.gif?u=bob" width="1" height="1"><img src="https://cdn.example.net/banner.jpg" alt="banner"></body></html>',
}), 'mailer.example.net')
await send('hr@corp.example.org', ['carol@example.test', 'dave@example.test'], withAttachment({ from: 'HR <hr@corp.example.org>', to: 'carol@example.test, dave@example.test', subject: 'Updated holiday calendar', text: 'Please find the calendar attached.', filename: 'calendar-2026.pdf', content: Buffer.from('%PDF-1.4\n% sample\n'), type: 'application/pdf' }))
await send('x@spam.example.com', ['trap@example.test'], plainMessage({ from: '"<img src=x onerror=alert(1)>" <winner@lottery.example.com>', to: 'trap@example.test', subject: 'You <b>won</b> $1,000,000 <script>alert(1)</script>', body: 'Claim your prize now.' }))
await send('alerts@monitor.example.io', ['ops@example.test'], plainMessage({ from: 'Monitor <alerts@monitor.example.io>', to: 'ops@example.test', subject: '[RESOLVED] disk usage on db-2 back below 80%', body: 'db-2: /var at 71%' }))
await app.running.indexer.idle()
// Tag a couple so the screenshot shows tags.
const list = await app.api<{ messages: { ID: string; Subject: string }[] }>('/api/v1/messages')
const spam = list.body.messages.filter((m) => /won|70%/.test(m.Subject)).map((m) => m.ID)
await app.api('/api/v1/tags', { method: 'PUT', body: { IDs: spam, Tags: ['spam', 'campaign-0412'] } })
// One read message so both states show.
const order = list.body.messages.find((m) => m.Subject.includes('order'))!
await app.api('/api/v1/messages', { method: 'PUT', body: { IDs: [order.ID], Read: true } })

const browser = await chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS })
try {
  const shoot = async (name: string, opts: { width: number; height: number; dark?: boolean }) => {
    const page = await browser.newPage({ viewport: { width: opts.width, height: opts.height }, colorScheme: opts.dark ? 'dark' : 'light' })
    await page.goto(app.baseUrl + '/')
    await page.locator('.msglist .row').first().waitFor()
    await page.screenshot({ path: join(outDir, `${name}-list.png`) })
    await page.locator('.msglist .row', { hasText: '70% off' }).locator('a.subject').click()
    await page.locator('iframe.html-frame').waitFor()
    await page.frameLocator('iframe.html-frame').locator('h1').waitFor()
    await page.screenshot({ path: join(outDir, `${name}-message.png`) })
    await page.close()
  }
  await shoot('screenshot', { width: 1280, height: 800 })
  if (process.env.HOLDMAIL_SHOTS_EXTRA === '1') {
    await shoot('phone', { width: 390, height: 844 })
    await shoot('dark', { width: 1280, height: 800, dark: true })
  }
} finally {
  await browser.close()
  await app.stop()
}
