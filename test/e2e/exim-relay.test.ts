import { spawn, type ChildProcess } from 'node:child_process'
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import nodemailer from 'nodemailer'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestApp, type TestApp } from '../helpers/test-app.js'
import { bySubject, freePort, sample, waitForMessages, type Listed } from './relay-helpers.js'

// docs/recipes.md's Exim recipe, run against Debian's Exim on loopback: a router looks the envelope
// sender up in a list file (lsearch*@, like sendmail's smarttable) whose value names the transport,
// SMTP or LMTP to holdmail; everything else goes to its usual relay (a second holdmail standing in
// for production). Exim has no XFORWARD, so holdmail learns the original client from the Received
// line Exim prepends, because the relay is in --trusted-relays. The client connects from 127.0.0.2.
//
// Exim is not installed (it would replace the machine's Postfix): .ci/run unpacks Debian's
// exim4-daemon-light with `dpkg-deb -x` into HOLDMAIL_EXIM_ROOT (default /tmp/holdmail-exim) and
// creates the Debian-exim user the binary was built for. The daemon runs from a temporary
// configuration with -C, in the foreground (-bdf), as root.

const ROOT = process.env.HOLDMAIL_EXIM_ROOT ?? '/tmp/holdmail-exim'
// The unpacked copy, else an Exim installed as the machine's MTA (Debian's path).
const EXIM = existsSync(join(ROOT, 'usr/sbin/exim4')) ? join(ROOT, 'usr/sbin/exim4') : '/usr/sbin/exim4'
const LIBS = join(ROOT, 'usr/lib/x86_64-linux-gnu') // libidn12, unpacked beside it (Postfix does not pull it in)
const hasUser = ((): boolean => {
  try {
    execFileSync('id', ['-u', 'Debian-exim'], { stdio: 'pipe' })
    return true
  } catch {
    return false
  }
})()
const canRun = existsSync(EXIM) && hasUser && process.getuid?.() === 0
if (!canRun) console.warn(`exim-relay: skipped, needs ${join(ROOT, 'usr/sbin/exim4')} or /usr/sbin/exim4, the Debian-exim user and root (.ci/run unpacks Debian's exim4-daemon-light)`)

const CLIENT_IP = '127.0.0.2'
const CLIENT_HELO = 'dyn-198-51-100-7.isp.example'

/** Resolves once something accepts TCP connections on the port. */
async function listening(port: number, exim: ChildProcess, log: () => string): Promise<void> {
  for (let i = 0; i < 80; i++) {
    if (exim.exitCode !== null) throw new Error(`exim exited with ${exim.exitCode}\n${log()}`)
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
  throw new Error(`exim did not listen on ${port}\n${log()}`)
}

describe.skipIf(!canRun)('routing listed senders from a real Exim', () => {
  let dir: string
  let exim: ChildProcess | undefined
  let capture: TestApp
  let production: TestApp
  const sent: Record<string, Buffer> = {}
  const mainlog = (): string => (existsSync(join(dir, 'log/mainlog')) ? readFileSync(join(dir, 'log/mainlog'), 'utf8') : '(no mainlog)')
  const paniclog = (): string => (existsSync(join(dir, 'log/paniclog')) ? readFileSync(join(dir, 'log/paniclog'), 'utf8') : '')

  beforeAll(async () => {
    capture = await startTestApp(['--trusted-relays', '127.0.0.1/32', '--listener-tag', 'capture', '--lmtp', '127.0.0.1:0', '--no-auth-checks'])
    production = await startTestApp()
    const eximPort = await freePort()

    dir = mkdtempSync(join(tmpdir(), 'holdmail-exim-'))
    chmodSync(dir, 0o755) // Exim receives and delivers as Debian-exim
    const eximUid = Number(execFileSync('id', ['-u', 'Debian-exim'], { encoding: 'utf8' }).trim())
    for (const d of ['spool', 'log']) {
      mkdirSync(join(dir, d))
      chownSync(join(dir, d), eximUid, -1)
    }
    // The recipe's list file: envelope sender (or *@domain) -> the transport that takes it to holdmail.
    writeFileSync(join(dir, 'holdmail_senders'), 'bulk@shady.example      holdmail_smtp\n*@spam-campaign.example holdmail_lmtp\n')
    const conf = join(dir, 'exim.conf')
    writeFileSync(
      conf,
      [
        `exim_path = ${EXIM}`, // the delivery processes re-execute it
        'keep_environment = LD_LIBRARY_PATH',
        `spool_directory = ${dir}/spool`,
        `log_file_path = ${dir}/log/%slog`,
        'primary_hostname = mx.relay.test',
        'local_interfaces = 127.0.0.1',
        // no DNS on this machine: no reverse lookup of clients, no ident
        'host_lookup =',
        'rfc1413_hosts =',
        'tls_advertise_hosts =',
        'acl_smtp_rcpt = acl_check_rcpt',
        '',
        'begin acl',
        'acl_check_rcpt:',
        '  accept hosts = 127.0.0.0/8',
        '  deny',
        '',
        'begin routers',
        // the recipe's router, before the usual ones
        'holdmail:',
        '  driver = manualroute',
        `  condition = \${lookup{$sender_address}lsearch*@{${dir}/holdmail_senders}{yes}{no}}`,
        `  transport = \${lookup{$sender_address}lsearch*@{${dir}/holdmail_senders}}`,
        '  route_list = * 127.0.0.1',
        '  self = send',
        '',
        // production mail goes to its usual relay
        'ordinary:',
        '  driver = manualroute',
        '  route_list = * 127.0.0.1',
        '  transport = production_smtp',
        '  self = send',
        '',
        'begin transports',
        'holdmail_smtp:',
        '  driver = smtp',
        `  port = ${capture.smtpPort}`,
        '  allow_localhost',
        '  hosts_avoid_tls = *',
        'holdmail_lmtp:',
        '  driver = smtp',
        '  protocol = lmtp',
        `  port = ${capture.running.lmtp!.port}`,
        '  allow_localhost',
        '  hosts_avoid_tls = *',
        'production_smtp:',
        '  driver = smtp',
        `  port = ${production.smtpPort}`,
        '  allow_localhost',
        '  hosts_avoid_tls = *',
        '',
        'begin retry',
        '* * F,1m,5s',
        '',
      ].join('\n'),
    )
    exim = spawn(EXIM, ['-C', conf, '-bdf', '-oX', String(eximPort)], {
      env: { LD_LIBRARY_PATH: LIBS, PATH: process.env.PATH ?? '/usr/bin:/bin' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    exim.stdout?.on('data', (c: Buffer) => (output += c.toString()))
    exim.stderr?.on('data', (c: Buffer) => (output += c.toString()))
    await listening(eximPort, exim, () => `${output}\n${mainlog()}\n${paniclog()}`)

    const client = nodemailer.createTransport({
      host: '127.0.0.1',
      port: eximPort,
      secure: false,
      ignoreTLS: true,
      localAddress: CLIENT_IP,
      name: CLIENT_HELO,
    })
    const send = async (from: string, to: string, subject: string): Promise<void> => {
      const raw = sample(from, to, subject)
      sent[subject] = raw
      await client.sendMail({ envelope: { from, to: [to] }, raw })
    }
    await send('bulk@shady.example', 'victim@target.example', 'listed sender')
    await send('promo@spam-campaign.example', 'victim@target.example', 'listed domain')
    await send('alice@legit.example', 'victim@target.example', 'ordinary mail')
    client.close()

    const describe = (): string => `exim's log:\n${mainlog()}\n${paniclog()}`
    await waitForMessages(capture, 2, describe)
    await waitForMessages(production, 1, describe)
  }, 60_000)

  afterAll(async () => {
    if (exim && exim.exitCode === null) {
      const exited = new Promise((r) => exim!.once('exit', r))
      exim.kill('SIGTERM')
      await exited
    }
    await capture?.stop()
    await production?.stop()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('captures the listed sender over SMTP and the listed domain over LMTP, with the original client from Exim\'s Received line', async () => {
    const got = await bySubject(capture)
    for (const [subject, from, listener] of [
      ['listed sender', 'bulk@shady.example', 'smtp'],
      ['listed domain', 'promo@spam-campaign.example', 'lmtp'],
    ] as const) {
      const m = got.get(subject)
      expect(m, subject).toBeDefined()
      const { Envelope: env, Auth: auth, Tags: tags } = m!.message
      // The connection is Exim's; the stored client is the one its Received line names, Exim the relay.
      expect(env).toMatchObject({
        ClientIP: CLIENT_IP,
        IPSource: 'received',
        Helo: CLIENT_HELO,
        Relay: { IP: '127.0.0.1' },
        Listener: listener,
        MailFrom: from,
        RcptTo: ['victim@target.example'],
      })
      expect(auth?.SPF).toMatchObject({ IP: CLIENT_IP, IPSource: 'received', Helo: CLIENT_HELO })
      expect(tags).toContain('capture')
    }
    // Searches see the original client, not Exim.
    const ids = async (q: string): Promise<string[]> =>
      (await capture.api<Listed>('/api/v1/search?query=' + encodeURIComponent(q))).body.messages.map((x) => x.ID).sort()
    const both = [got.get('listed sender')!.message.ID, got.get('listed domain')!.message.ID].sort()
    expect(await ids(`ip:${CLIENT_IP}`)).toEqual(both)
    expect(await ids(`helo:${CLIENT_HELO}`)).toEqual(both)
    expect(await ids('ip:127.0.0.1')).toEqual([])
  })

  it('stores what Exim passed on: its Received line, then the sender\'s bytes unchanged', async () => {
    for (const [subject, { raw }] of await bySubject(capture)) {
      const original = sent[subject]!
      expect(raw.subarray(raw.length - original.length).equals(original), subject).toBe(true)
      const added = raw.subarray(0, raw.length - original.length).toString('latin1')
      expect(added, subject).toMatch(new RegExp(`^Received: from \\[127\\.0\\.0\\.2\\] \\(helo=${CLIENT_HELO.replace(/\./g, '\\.')}\\)\\r\\n\\tby mx\\.relay\\.test with e?smtp \\(Exim `))
      expect(added.match(/^\S/gm), subject).toHaveLength(1) // one header line added, nothing else
    }
  })

  it('leaves other mail on its usual route, and Exim logs holdmail\'s queue IDs', async () => {
    const { body } = await production.api<Listed>('/api/v1/messages')
    expect(body.messages).toHaveLength(1)
    expect((await production.raw(body.messages[0]!.ID)).toString('latin1')).toContain('Subject: ordinary mail\r\n')
    const log = mainlog()
    const got = await bySubject(capture)
    expect(log).toMatch(new RegExp(`=> victim@target\\.example R=holdmail T=holdmail_smtp .*C="250 2\\.0\\.0 Ok: queued as ${got.get('listed sender')!.message.ID}"`))
    expect(log).toMatch(new RegExp(`=> victim@target\\.example R=holdmail T=holdmail_lmtp .*C="250 2\\.0\\.0 Ok: queued as ${got.get('listed domain')!.message.ID}"`))
    expect(log).toMatch(/=> victim@target\.example R=ordinary T=production_smtp /)
  })
})
