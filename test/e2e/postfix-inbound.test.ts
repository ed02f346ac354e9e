import { execFileSync } from 'node:child_process'
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import nodemailer from 'nodemailer'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestApp, type TestApp } from '../helpers/test-app.js'
import { bySubject, freePort, sample, waitForMessages } from './relay-helpers.js'

// docs/recipes.md's inbound recipe, run against a real Postfix on loopback. sender_dependent_relayhost_maps
// (test/e2e/postfix-relay.test.ts) only applies to mail Postfix relays; mail for its own mailboxes
// never takes a relay decision. Here Postfix hosts virtual mailboxes, and check_sender_access
// returns FILTER for the listed senders, which sends the whole message to holdmail instead of the
// mailbox (SMTP for one entry, LMTP for the other), with XFORWARD; everyone else's mail is delivered
// to the mailbox as usual. Postfix must run as root; .ci/run installs it.

const POSTFIX = '/usr/sbin/postfix'
const canRun = existsSync(POSTFIX) && process.getuid?.() === 0
if (!canRun) console.warn(`postfix-inbound: skipped, needs ${POSTFIX} and root (CI installs Debian's postfix)`)

const CLIENT_IP = '127.0.0.2'
const CLIENT_HELO = 'dyn-198-51-100-7.isp.example'
const MAILBOX = 'victim@mail.local.test'

describe.skipIf(!canRun)('diverting inbound mail for local mailboxes from listed senders, with a real Postfix', () => {
  let dir: string
  let conf: string
  let capture: TestApp
  const sent: Record<string, Buffer> = {}
  const maillog = (): string => (existsSync(join(dir, 'maillog')) ? readFileSync(join(dir, 'maillog'), 'utf8') : '(no log)')
  const mailbox = (): string[] => {
    const out: string[] = []
    for (const sub of ['new', 'cur']) {
      const d = join(dir, 'mail/mail.local.test/victim', sub)
      if (existsSync(d)) for (const f of readdirSync(d)) out.push(readFileSync(join(d, f), 'latin1'))
    }
    return out
  }

  beforeAll(async () => {
    capture = await startTestApp(['--trusted-relays', '127.0.0.1/32', '--listener-tag', 'capture', '--lmtp', '127.0.0.1:0'])
    const lmtpPort = capture.running.lmtp!.port
    const postfixPort = await freePort()

    dir = mkdtempSync(join(tmpdir(), 'holdmail-postfix-in-'))
    chmodSync(dir, 0o755) // Postfix's daemons run as the postfix user
    conf = join(dir, 'conf')
    for (const d of ['conf', 'queue', 'data', 'mail']) mkdirSync(join(dir, d))
    const postfixUid = Number(execFileSync('id', ['-u', 'postfix'], { encoding: 'utf8' }).trim())
    chownSync(join(dir, 'data'), postfixUid, -1)
    const nobody = execFileSync('id', ['nobody'], { encoding: 'utf8' })
    const [uid, gid] = [/uid=(\d+)/.exec(nobody)![1]!, /gid=(\d+)/.exec(nobody)![1]!]
    chownSync(join(dir, 'mail'), Number(uid), Number(gid)) // the virtual delivery agent writes as this user
    writeFileSync(
      join(conf, 'main.cf'),
      [
        'compatibility_level = 3.6',
        `queue_directory = ${dir}/queue`,
        `data_directory = ${dir}/data`,
        'mail_owner = postfix',
        'setgid_group = postdrop',
        'myhostname = mx.inbound.test',
        'mydomain = inbound.test',
        'mydestination =',
        'alias_maps =',
        'alias_database =',
        'inet_interfaces = 127.0.0.1',
        'inet_protocols = ipv4',
        'mynetworks = 127.0.0.1/32', // the client (127.0.0.2) is outside: it may only send to our own mailboxes
        'smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination',
        'smtpd_peername_lookup = no',
        'smtp_dns_support_level = disabled',
        `maillog_file_prefixes = ${dir}`,
        `maillog_file = ${dir}/maillog`,
        // the mailboxes this server hosts
        'virtual_mailbox_domains = mail.local.test',
        `virtual_mailbox_maps = hash:${conf}/vmailbox`,
        `virtual_mailbox_base = ${dir}/mail`,
        `virtual_uid_maps = static:${uid}`,
        `virtual_gid_maps = static:${gid}`,
        // the recipe: FILTER for listed senders, with the original client passed on
        `smtpd_sender_restrictions = check_sender_access hash:${conf}/capture_senders`,
        'smtp_send_xforward_command = yes',
        'lmtp_send_xforward_command = yes',
        '',
      ].join('\n'),
    )
    const service = (name: string, type: string, priv: string, limit: string, command: string): string =>
      `${name} ${type} ${priv} - n - ${limit} ${command}`
    writeFileSync(
      join(conf, 'master.cf'),
      [
        `127.0.0.1:${postfixPort} inet n - n - - smtpd`,
        service('pickup', 'unix', 'n', '1', 'pickup'),
        service('cleanup', 'unix', 'n', '0', 'cleanup'),
        service('qmgr', 'unix', 'n', '1', 'qmgr'),
        service('rewrite', 'unix', '-', '-', 'trivial-rewrite'),
        service('bounce', 'unix', '-', '0', 'bounce'),
        service('defer', 'unix', '-', '0', 'bounce'),
        service('trace', 'unix', '-', '0', 'bounce'),
        service('verify', 'unix', '-', '1', 'verify'),
        service('flush', 'unix', 'n', '0', 'flush'),
        service('proxymap', 'unix', '-', '-', 'proxymap'),
        service('smtp', 'unix', '-', '-', 'smtp'),
        service('relay', 'unix', '-', '-', 'smtp'),
        service('showq', 'unix', 'n', '-', 'showq'),
        service('error', 'unix', '-', '-', 'error'),
        service('retry', 'unix', '-', '-', 'error'),
        service('discard', 'unix', '-', '-', 'discard'),
        service('lmtp', 'unix', '-', '-', 'lmtp'),
        'virtual unix - n n - - virtual', // unprivileged = n: it writes mailboxes as their owner
        service('anvil', 'unix', '-', '1', 'anvil'),
        service('scache', 'unix', '-', '1', 'scache'),
        service('postlog', 'unix-dgram', 'n', '1', 'postlogd'),
        '',
      ].join('\n'),
    )
    writeFileSync(join(conf, 'vmailbox'), `${MAILBOX} mail.local.test/victim/\n`) // trailing slash: Maildir
    writeFileSync(
      join(conf, 'capture_senders'),
      `bulk@shady.example FILTER smtp:[127.0.0.1]:${capture.smtpPort}\nspam-campaign.example FILTER lmtp:inet:127.0.0.1:${lmtpPort}\n`,
    )
    for (const map of ['vmailbox', 'capture_senders']) execFileSync('postmap', ['-c', conf, `hash:${conf}/${map}`])
    try {
      execFileSync(POSTFIX, ['-c', conf, 'start'], { stdio: 'pipe' })
    } catch (err) {
      throw new Error(`postfix did not start: ${(err as Error).message}\n${maillog()}`, { cause: err })
    }

    const client = nodemailer.createTransport({
      host: '127.0.0.1',
      port: postfixPort,
      secure: false,
      ignoreTLS: true,
      localAddress: CLIENT_IP,
      name: CLIENT_HELO,
    })
    const send = async (from: string, subject: string): Promise<void> => {
      const raw = sample(from, MAILBOX, subject)
      sent[subject] = raw
      // The master process listens at once; smtpd may take a moment to answer the first connection.
      for (let attempt = 0; ; attempt++) {
        try {
          await client.sendMail({ envelope: { from, to: [MAILBOX] }, raw })
          return
        } catch (err) {
          if (attempt >= 20) throw err
          await new Promise((r) => setTimeout(r, 250))
        }
      }
    }
    await send('bulk@shady.example', 'listed sender')
    await send('promo@spam-campaign.example', 'listed domain')
    await send('alice@legit.example', 'ordinary mail')
    client.close()

    await waitForMessages(capture, 2, () => `postfix's log:\n${maillog()}`)
    for (let i = 0; i < 120 && mailbox().length === 0; i++) await new Promise((r) => setTimeout(r, 250))
  }, 60_000)

  afterAll(async () => {
    if (conf) {
      try {
        execFileSync(POSTFIX, ['-c', conf, 'stop'], { stdio: 'pipe' })
      } catch {
        /* not started */
      }
    }
    await capture?.stop()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('captures inbound mail from the listed sender (SMTP) and domain (LMTP) with the original client from XFORWARD', async () => {
    const got = await bySubject(capture)
    for (const [subject, from, listener] of [
      ['listed sender', 'bulk@shady.example', 'smtp'],
      ['listed domain', 'promo@spam-campaign.example', 'lmtp'],
    ] as const) {
      const m = got.get(subject)
      expect(m, subject).toBeDefined()
      expect(m!.message.Envelope).toMatchObject({ ClientIP: CLIENT_IP, IPSource: 'xforward', Helo: CLIENT_HELO, Listener: listener, MailFrom: from, RcptTo: [MAILBOX] })
      expect(m!.message.Envelope.Relay?.IP).toBe('127.0.0.1')
      expect(m!.message.Tags).toContain('capture')
      const original = sent[subject]!
      expect(m!.raw.subarray(m!.raw.length - original.length).equals(original), subject).toBe(true)
    }
  })

  it('delivers everyone else\'s mail to the mailbox, and none of the listed senders\' mail', () => {
    const delivered = mailbox()
    expect(delivered).toHaveLength(1)
    expect(delivered[0]).toContain('Subject: ordinary mail')
  })

  it('logs the filter decision and holdmail\'s queue IDs', async () => {
    const log = maillog()
    expect(log).toMatch(/filter: RCPT from unknown\[127\.0\.0\.2\]: <bulk@shady\.example>: Sender address triggers FILTER smtp:\[127\.0\.0\.1\]/)
    for (const { message } of (await bySubject(capture)).values()) {
      expect(log).toMatch(new RegExp(`status=sent \\(250 2\\.0\\.0 Ok: queued as ${message.ID}\\)`))
    }
  })
})
