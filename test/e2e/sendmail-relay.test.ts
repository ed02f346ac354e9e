import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import nodemailer from 'nodemailer'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestApp, type TestApp } from '../helpers/test-app.js'
import { bySubject, freePort, sample, waitForMessages, type Listed } from './relay-helpers.js'

// docs/recipes.md's sendmail recipe, the part every build has: mailertable sends a suspect
// recipient domain to a dedicated "holdmail" mailer whose A=TCP $h PORT carries holdmail's port
// (RELAY_MAILER_ARGS would only change the relay mailer). Everything else goes to the SMART_HOST, a
// second holdmail standing in for production. Sendmail sends no XFORWARD: holdmail reads the
// original client from its Received line. The sender-based part (the contributed smarttable
// feature) is not tested: no sendmail build at hand ships it.
//
// Sendmail is not installed (it would replace the machine's Postfix): .ci/run unpacks Debian's
// sendmail-bin, sendmail-cf, m4 and libwrap0 into HOLDMAIL_SENDMAIL_ROOT (default
// /tmp/holdmail-sendmail). The daemon runs in the foreground (-bD) as root, in its own UTS
// namespace named mx.relay.test: sendmail sleeps 60 s at start when the machine's host name has no
// domain. It logs to syslog, which this machine may not have, so its SMTP transcript (-X) is checked.

const ROOT = process.env.HOLDMAIL_SENDMAIL_ROOT ?? '/tmp/holdmail-sendmail'
const SENDMAIL = join(ROOT, 'usr/libexec/sendmail/sendmail')
const MAKEMAP = join(ROOT, 'usr/libexec/sendmail/makemap')
const M4 = join(ROOT, 'usr/bin/m4')
const CF_DIR = join(ROOT, 'usr/share/sendmail/cf')
const LIBS = join(ROOT, 'usr/lib/x86_64-linux-gnu') // libwrap0
const canRun = [SENDMAIL, MAKEMAP, M4, CF_DIR, '/usr/bin/unshare'].every((p) => existsSync(p)) && process.getuid?.() === 0
if (!canRun) console.warn(`sendmail-relay: skipped, needs sendmail, makemap, m4 and sendmail-cf under ${ROOT}, unshare, and root (.ci/run unpacks them)`)

const CLIENT_IP = '127.0.0.2'
const CLIENT_HELO = 'dyn-198-51-100-7.isp.example'

async function listening(port: number, daemon: ChildProcess, log: () => string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (daemon.exitCode !== null) throw new Error(`sendmail exited with ${daemon.exitCode}\n${log()}`)
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1')
      s.once('connect', () => {
        s.destroy()
        resolve(true)
      })
      s.once('error', () => resolve(false))
    })
    if (ok) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`sendmail did not listen on ${port}\n${log()}`)
}

describe.skipIf(!canRun)('routing a suspect recipient domain from a real sendmail', () => {
  let dir: string
  let daemon: ChildProcess | undefined
  let capture: TestApp
  let production: TestApp
  const sent: Record<string, Buffer> = {}
  let output = ''
  const transcript = (): string => (existsSync(join(dir, 'transcript')) ? readFileSync(join(dir, 'transcript'), 'latin1') : '(no transcript)')

  beforeAll(async () => {
    capture = await startTestApp(['--trusted-relays', '127.0.0.1/32', '--listener-tag', 'capture'])
    production = await startTestApp()
    const port = await freePort()
    const env = { ...process.env, LD_LIBRARY_PATH: LIBS }

    dir = mkdtempSync(join(tmpdir(), 'holdmail-sendmail-'))
    chmodSync(dir, 0o755)
    mkdirSync(join(dir, 'mqueue'), { mode: 0o700 })
    // The recipe's sendmail.mc; the defines after the first block only fit sendmail to a temporary folder.
    const mc = [
      'divert(-1)',
      'divert(0)dnl',
      'OSTYPE(`linux\')dnl',
      'FEATURE(`mailertable\', `hash ' + join(dir, 'mailertable') + "')dnl",
      `define(\`SMART_HOST', \`[127.0.0.1]')dnl`,
      `define(\`RELAY_MAILER_ARGS', \`TCP $h ${production.smtpPort}')dnl`, // the usual route: the relay mailer
      `define(\`confDOMAIN_NAME', \`mx.relay.test')dnl`,
      `define(\`QUEUE_DIR', \`${dir}/mqueue')dnl`,
      `define(\`confPID_FILE', \`${dir}/sendmail.pid')dnl`,
      `define(\`confSERVICE_SWITCH_FILE', \`${dir}/service.switch')dnl`,
      "define(`ALIAS_FILE', `')dnl",
      "define(`STATUS_FILE', `')dnl",
      "define(`confTO_IDENT', `0s')dnl",
      "define(`confDONT_PROBE_INTERFACES', `True')dnl",
      "define(`confDONT_BLAME_SENDMAIL', `MapInUnsafeDirPath')dnl", // the maps live under /tmp
      'FEATURE(`access_db\', `hash -T<TMPF> ' + join(dir, 'access') + "')dnl",
      "FEATURE(`accept_unresolvable_domains')dnl", // no DNS here
      "FEATURE(`nocanonify')dnl",
      `DAEMON_OPTIONS(\`Port=${port},Addr=127.0.0.1,Name=MTA')dnl`,
      "MAILER(`smtp')dnl",
      'MAILER_DEFINITIONS',
      'Mholdmail, P=[IPC], F=mDFMuXa, S=EnvFromSMTP/HdrFromSMTP, R=EnvToSMTP, E=\\r\\n, L=990,',
      `\tT=DNS/RFC822/SMTP, A=TCP $h ${capture.smtpPort}`,
      '',
    ].join('\n')
    writeFileSync(join(dir, 'sendmail.mc'), mc)
    const cf = execFileSync(M4, [`-D_CF_DIR_=${CF_DIR}/`, join(CF_DIR, 'm4/cf.m4'), join(dir, 'sendmail.mc')], { env, stdio: 'pipe' })
    writeFileSync(join(dir, 'sendmail.cf'), cf)
    writeFileSync(join(dir, 'service.switch'), 'hosts files\naliases files\n')
    writeFileSync(join(dir, 'mailertable'), 'suspect.example holdmail:[127.0.0.1]\n')
    writeFileSync(join(dir, 'access'), 'Connect:127 RELAY\n')
    for (const map of ['mailertable', 'access']) {
      execFileSync(MAKEMAP, ['-C', join(dir, 'sendmail.cf'), 'hash', join(dir, map)], { input: readFileSync(join(dir, map)), env, stdio: 'pipe' })
    }

    daemon = spawn(
      '/usr/bin/unshare',
      ['--uts', 'sh', '-c', `hostname mx.relay.test && exec "$0" -C "$1" -bD -X "$2"`, SENDMAIL, join(dir, 'sendmail.cf'), join(dir, 'transcript')],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    )
    daemon.stdout?.on('data', (c: Buffer) => (output += c.toString()))
    daemon.stderr?.on('data', (c: Buffer) => (output += c.toString()))
    await listening(port, daemon, () => output)

    const client = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true, localAddress: CLIENT_IP, name: CLIENT_HELO })
    const send = async (from: string, to: string, subject: string): Promise<void> => {
      const raw = sample(from, to, subject)
      sent[subject] = raw
      await client.sendMail({ envelope: { from, to: [to] }, raw })
    }
    await send('alice@legit.example', 'bob@suspect.example', 'suspect recipient domain')
    await send('alice@legit.example', 'victim@target.example', 'ordinary mail')
    client.close()

    const describe = (): string => `sendmail's output:\n${output}\ntranscript:\n${transcript()}\nqueue: ${readdirSync(join(dir, 'mqueue')).join(' ')}`
    await waitForMessages(capture, 1, describe)
    await waitForMessages(production, 1, describe)
  }, 60_000)

  afterAll(async () => {
    if (daemon && daemon.exitCode === null) {
      const exited = new Promise((r) => daemon!.once('exit', r))
      daemon.kill('SIGTERM')
      await exited
    }
    await capture?.stop()
    await production?.stop()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('captures the suspect domain through the holdmail mailer, with the original client from sendmail\'s Received line', async () => {
    const m = (await bySubject(capture)).get('suspect recipient domain')
    expect(m).toBeDefined()
    // The connection is sendmail's; the stored client is the one its Received line names, sendmail the relay.
    expect(m!.message.Envelope).toMatchObject({
      ClientIP: CLIENT_IP,
      IPSource: 'received',
      Helo: CLIENT_HELO,
      Relay: { IP: '127.0.0.1' },
      MailFrom: 'alice@legit.example',
      RcptTo: ['bob@suspect.example'],
    })
    const found = await capture.api<Listed>('/api/v1/search?query=' + encodeURIComponent(`ip:${CLIENT_IP} helo:${CLIENT_HELO}`))
    expect(found.body.messages.map((x) => x.ID)).toEqual([m!.message.ID])
    expect(m!.message.Auth?.SPF).toMatchObject({ IP: CLIENT_IP, IPSource: 'received', Helo: CLIENT_HELO })
    expect(m!.message.Tags).toContain('capture')
    const original = sent['suspect recipient domain']!
    const raw = m!.raw
    expect(raw.subarray(raw.length - original.length).equals(original)).toBe(true)
    expect(raw.subarray(0, raw.length - original.length).toString('latin1')).toMatch(
      /^Received: from dyn-198-51-100-7\.isp\.example \(\[127\.0\.0\.2\]\)\r\n\tby mx\.relay\.test \(8\.[\d./]+\) with ESMTP id \w+\r\n\tfor <bob@suspect\.example>; [^\r]+\r\n$/,
    )
  })

  it('sends other mail to its usual relay, and sendmail hears holdmail\'s queue ID', async () => {
    const { body } = await production.api<Listed>('/api/v1/messages')
    expect(body.messages).toHaveLength(1)
    expect((await production.raw(body.messages[0]!.ID)).toString('latin1')).toContain('Subject: ordinary mail\r\n')
    const id = (await bySubject(capture)).get('suspect recipient domain')!.message.ID
    expect(transcript()).toMatch(new RegExp(`250 2\\.0\\.0 Ok: queued as ${id}`))
  })
})
