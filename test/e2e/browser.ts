import { existsSync } from 'node:fs'

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
