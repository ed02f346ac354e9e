import { spawn, type ChildProcess } from 'node:child_process'
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { checkWithSpamd, SpamdUnavailable } from '../../src/mail/spamd.js'
import { freePort } from './ports.js'

export { freePort }

// Debian's spamd on loopback for tests, with a site config of its own: no network tests (--local,
// no RBLs), no Bayes, no user configs, required_score 5.
// Installed by .ci/run (apt-get install spamassassin spamd); tests skip with a message where absent.

export const SPAMD_PATH = ['/usr/sbin/spamd', '/usr/bin/spamd'].find((p) => existsSync(p))

/** GTUBE, SpamAssassin's test string: 1000 points on any installation, under the rule GTUBE. */
export const GTUBE = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X'

export interface RunningSpamd {
  port: number
  stop(): Promise<void>
}

async function waitForPort(port: number, child: ChildProcess, log: () => string): Promise<void> {
  for (;;) {
    if (child.exitCode !== null) throw new Error(`spamd exited (${child.exitCode}): ${log()}`)
    const up = await new Promise<boolean>((resolve) => {
      const c = connect(port, '127.0.0.1')
      c.once('connect', () => (c.destroy(), resolve(true)))
      c.once('error', () => resolve(false))
    })
    if (up) return
    await new Promise((r) => setTimeout(r, 250))
  }
}

/** Starts spamd on a free loopback port and resolves once it has scored a first message. */
export async function startSpamd(): Promise<RunningSpamd> {
  if (!SPAMD_PATH) throw new Error('spamd not found (apt-get install spamassassin spamd)')
  const dir = mkdtempSync(join(tmpdir(), 'holdmail-spamd-'))
  const site = join(dir, 'site')
  // spamd reads its config as the user it runs as (nobody, when the tests run as root).
  chmodSync(dir, 0o755)
  mkdirSync(site)
  // The .pre files load the plugins the stock rules need; local.cf turns off everything that
  // would touch the network or keep state between tests.
  for (const f of readdirSync('/etc/spamassassin').filter((f) => f.endsWith('.pre'))) copyFileSync(join('/etc/spamassassin', f), join(site, f))
  writeFileSync(join(site, 'local.cf'), 'required_score 5.0\nuse_bayes 0\nskip_rbl_checks 1\ndns_available no\n')
  const port = await freePort()
  const asRoot = process.getuid?.() === 0
  const child = spawn(
    SPAMD_PATH,
    ['--local', '--listen', `127.0.0.1:${port}`, '-x', '--siteconfigpath', site, '--max-children', '2', '--pidfile', join(dir, 'spamd.pid'), '--syslog', 'stderr', ...(asRoot ? ['-u', 'nobody'] : [])],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  )
  let log = ''
  child.stderr.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)))
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((r) => child.once('exit', r))
      child.kill('SIGTERM')
      await gone
    }
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    await waitForPort(port, child, () => log)
    // The port opens before spamd's children are ready; a first scan that works is the real signal.
    const probe = Buffer.from('From: a@example.test\r\nTo: b@example.test\r\nSubject: ready?\r\n\r\nhello\r\n')
    for (let tries = 0; ; tries++) {
      try {
        await checkWithSpamd({ host: '127.0.0.1', port }, probe)
        break
      } catch (err) {
        if (!(err instanceof SpamdUnavailable) || tries > 60) throw new Error(`${(err as Error).message}; spamd's log: ${log}`, { cause: err })
        await new Promise((r) => setTimeout(r, 500))
      }
    }
  } catch (err) {
    await stop()
    throw err
  }
  return { port, stop }
}
