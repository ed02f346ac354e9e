import { existsSync } from 'node:fs'
import { expect } from 'vitest'
import { dotStuff, queuedId, RawSmtp, type TestApp } from '../helpers/test-app.js'

// Debian's Chromium driven by playwright-core; nothing is downloaded. Background networking,
// component updates and QUIC are off so the only requests the browser makes are the page's own,
// which is what the remote-content test counts.
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-quic',
  '--no-first-run',
  '--disable-sync',
]

export const chromiumPath = (): string => process.env.HOLDMAIL_CHROMIUM ?? '/usr/bin/chromium'

export const haveChromium = (): boolean => existsSync(chromiumPath())

/** True (and says so once) when there is no Chromium to drive. */
export function skipBrowserTests(): boolean {
  if (haveChromium()) return false
  console.warn(`browser tests skipped: no Chromium at ${chromiumPath()} (apt-get install chromium, or set HOLDMAIL_CHROMIUM)`)
  return true
}

/** One transaction as a trusted relay announcing the original client with XCLIENT. */
export async function sendAs(app: TestApp, ip: string, from: string, raw: Buffer): Promise<string> {
  const c = await RawSmtp.open(app.smtpPort)
  try {
    await c.command('EHLO relay.example.test')
    expect(await c.command(`XCLIENT ADDR=${ip} HELO=client-${ip.replace(/\W/g, '-')}.example`)).toMatch(/^220/)
    await c.command('EHLO client.example')
    await c.command(`MAIL FROM:<${from}>`)
    await c.command('RCPT TO:<trap@example.test>')
    await c.command('DATA')
    c.write(Buffer.concat([dotStuff(raw), Buffer.from('\r\n.\r\n')]))
    return queuedId(await c.reply())
  } finally {
    c.close()
  }
}
