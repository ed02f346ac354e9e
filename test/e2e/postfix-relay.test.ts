import { execFileSync } from 'node:child_process'
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import nodemailer from 'nodemailer'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestApp, type TestApp } from '../helpers/test-app.js'
import { freePort } from '../helpers/ports.js'

// The README's recipe for mail admins, run against a real Postfix on loopback: a production MTA
// routes suspect senders (sender_dependent_relayhost_maps) and a suspect recipient domain
// (transport_maps, over LMTP) to holdmail with XFORWARD, and everything else to its usual relay
// (here a second holdmail standing in for production). The client connects from 127.0.0.2, so the
// original client IP differs from the relay's. Postfix must run as root; .ci/run installs it.

const POSTFIX = '/usr/sbin/postfix'
const canRun = existsSync(POSTFIX) && process.getuid?.() === 0
if (!canRun) console.warn(`postfix-relay: skipped, needs ${POSTFIX} and root (CI installs Debian's postfix)`)

type Listed = { messages: { ID: string }[] }
type Envelope = { ClientIP: string; IPSource: string; Helo: string; Relay: { IP: string } | null; Listener: string; MailFrom: string; RcptTo: string[] }
type Message = { ID: string; Tags: string[]; Envelope: Envelope }

const CLIENT_IP = '127.0.0.2'
const CLIENT_HELO = 'dyn-198-51-100-7.isp.example'

/** One message as its bytes, the way a spam client would send it: every header Postfix would otherwise add is there. */
function sample(from: string, to: string, subject: string): Buffer {
  return Buffer.from(
    `From: <${from}>\r\nTo: <${to}>\r\nSubject: ${subject}\r\nDate: Wed, 25 Nov 2026 18:00:00 +0000\r\n` +
      `Message-ID: <${subject.replace(/\W/g, '')}.${Date.now()}@sender.example>\r\nMIME-Version: 1.0\r\n` +
      `Content-Type: text/plain; charset=us-ascii\r\n\r\n${subject}: buy now\r\n`,
  )
}

describe.skipIf(!canRun)('routing suspect senders from a real Postfix', () => {
  let dir: string
  let conf: string
  let capture: TestApp
  let production: TestApp
  let postfixPort: number
  const sent: Record<string, Buffer> = {}

  beforeAll(async () => {
    capture = await startTestApp(['--trusted-relays', '127.0.0.1/32', '--listener-tag', 'capture', '--lmtp', '127.0.0.1:0'])
    production = await startTestApp()
    const lmtpPort = capture.running.lmtp!.port
    postfixPort = await freePort()

    dir = mkdtempSync(join(tmpdir(), 'holdmail-postfix-'))
    chmodSync(dir, 0o755) // Postfix's daemons run as the postfix user
    conf = join(dir, 'conf')
    for (const d of ['conf', 'queue', 'data']) mkdirSync(join(dir, d))
    const postfixUid = Number(execFileSync('id', ['-u', 'postfix'], { encoding: 'utf8' }).trim())
    chownSync(join(dir, 'data'), postfixUid, -1)
    writeFileSync(
      join(conf, 'main.cf'),
      [
        'compatibility_level = 3.6',
        `queue_directory = ${dir}/queue`,
        `data_directory = ${dir}/data`,
        'mail_owner = postfix',
        'setgid_group = postdrop',
        'myhostname = mx.relay.test',
        'mydomain = relay.test',
        'mydestination =',
        'local_recipient_maps =',
        'alias_maps =',
        'alias_database =',
        'inet_interfaces = 127.0.0.1',
        'inet_protocols = ipv4',
        'mynetworks = 127.0.0.0/8',
        'smtpd_relay_restrictions = permit_mynetworks, reject',
        // no DNS on this machine: no reverse lookup of the client, no MX lookups for relays
        'smtpd_peername_lookup = no',
        'smtp_dns_support_level = disabled',
        `maillog_file_prefixes = ${dir}`,
        `maillog_file = ${dir}/maillog`,
        // production mail goes to its usual relay
        `relayhost = [127.0.0.1]:${production.smtpPort}`,
        // the README's recipe
        `sender_dependent_relayhost_maps = hash:${conf}/capture_senders`,
        'smtp_send_xforward_command = yes',
        `transport_maps = hash:${conf}/transport`,
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
        service('anvil', 'unix', '-', '1', 'anvil'),
        service('scache', 'unix', '-', '1', 'scache'),
        service('postlog', 'unix-dgram', 'n', '1', 'postlogd'),
        '',
      ].join('\n'),
    )
    writeFileSync(join(conf, 'capture_senders'), `@spam-campaign.example [127.0.0.1]:${capture.smtpPort}\nbulk@shady.example [127.0.0.1]:${capture.smtpPort}\n`)
    writeFileSync(join(conf, 'transport'), `suspect.example lmtp:inet:127.0.0.1:${lmtpPort}\n`)
    for (const map of ['capture_senders', 'transport']) execFileSync('postmap', ['-c', conf, `hash:${conf}/${map}`])
    try {
      execFileSync(POSTFIX, ['-c', conf, 'start'], { stdio: 'pipe' })
    } catch (err) {
      const log = existsSync(join(dir, 'maillog')) ? readFileSync(join(dir, 'maillog'), 'utf8') : '(no log)'
      throw new Error(`postfix did not start: ${(err as Error).message}\n${log}`, { cause: err })
    }

    const client = nodemailer.createTransport({
      host: '127.0.0.1',
      port: postfixPort,
      secure: false,
      ignoreTLS: true,
      localAddress: CLIENT_IP,
      name: CLIENT_HELO,
    })
    // The master process listens at once; smtpd may take a moment to answer the first connection.
    const send = async (from: string, to: string, subject: string): Promise<void> => {
      const raw = sample(from, to, subject)
      sent[subject] = raw
      for (let attempt = 0; ; attempt++) {
        try {
          await client.sendMail({ envelope: { from, to: [to] }, raw })
          return
        } catch (err) {
          if (attempt >= 20) throw err
          await new Promise((r) => setTimeout(r, 250))
        }
      }
    }
    await send('bulk@shady.example', 'victim@target.example', 'listed sender')
    await send('promo@spam-campaign.example', 'victim@target.example', 'listed domain')
    await send('alice@legit.example', 'bob@suspect.example', 'suspect recipient domain')
    await send('alice@legit.example', 'victim@target.example', 'ordinary mail')
    client.close()

    const until = async (app: TestApp, count: number): Promise<void> => {
      for (let i = 0; i < 120; i++) {
        const { body } = await app.api<Listed>('/api/v1/messages')
        if (body.messages.length >= count) return
        await new Promise((r) => setTimeout(r, 250))
      }
      throw new Error(`postfix did not deliver ${count} messages in 30 s; its log:\n${readFileSync(join(dir, 'maillog'), 'utf8')}`)
    }
    await until(capture, 3)
    await until(production, 1)
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
    await production?.stop()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  const captured = async (): Promise<Map<string, { message: Message; raw: Buffer }>> => {
    const { body } = await capture.api<Listed>('/api/v1/messages')
    const out = new Map<string, { message: Message; raw: Buffer }>()
    for (const { ID } of body.messages) {
      const raw = await capture.raw(ID)
      const subject = /^Subject: (.*)\r$/m.exec(raw.toString('latin1'))![1]!
      out.set(subject, { message: (await capture.api<Message>(`/api/v1/message/${ID}`)).body, raw })
    }
    return out
  }

  it('captures the listed sender and domain with the original client from XFORWARD, the relay kept apart', async () => {
    const got = await captured()
    for (const [subject, from] of [
      ['listed sender', 'bulk@shady.example'],
      ['listed domain', 'promo@spam-campaign.example'],
    ] as const) {
      const m = got.get(subject)
      expect(m, subject).toBeDefined()
      const env = m!.message.Envelope
      expect(env).toMatchObject({ ClientIP: CLIENT_IP, IPSource: 'xforward', Helo: CLIENT_HELO, Listener: 'smtp', MailFrom: from, RcptTo: ['victim@target.example'] })
      expect(env.Relay?.IP).toBe('127.0.0.1')
      expect(m!.message.Tags).toContain('capture')
    }
  })

  it('captures mail for a suspect recipient domain over LMTP, also with XFORWARD', async () => {
    const m = (await captured()).get('suspect recipient domain')
    expect(m).toBeDefined()
    expect(m!.message.Envelope).toMatchObject({ ClientIP: CLIENT_IP, IPSource: 'xforward', Helo: CLIENT_HELO, Listener: 'lmtp', RcptTo: ['bob@suspect.example'] })
  })

  it('stores what Postfix passed on: its Received line, then the sender\'s bytes unchanged', async () => {
    for (const [subject, { raw }] of await captured()) {
      const original = sent[subject]!
      expect(raw.subarray(raw.length - original.length).equals(original), subject).toBe(true)
      const added = raw.subarray(0, raw.length - original.length).toString('latin1')
      expect(added, subject).toMatch(new RegExp(`^Received: from ${CLIENT_HELO.replace(/\./g, '\\.')} \\(unknown \\[127\\.0\\.0\\.2\\]\\)\\r\\n\\tby mx\\.relay\\.test \\(Postfix\\) with E?SMTP id \\w+`))
      expect(added.match(/^\S/gm), subject).toHaveLength(1) // one header line added, nothing else
    }
  })

  it('leaves other mail on its usual route, and Postfix logs holdmail\'s queue IDs as delivered', async () => {
    const { body } = await production.api<Listed>('/api/v1/messages')
    expect(body.messages).toHaveLength(1)
    expect((await production.raw(body.messages[0]!.ID)).toString('latin1')).toContain('Subject: ordinary mail\r\n')
    const log = readFileSync(join(dir, 'maillog'), 'utf8')
    for (const { message } of (await captured()).values()) {
      expect(log).toMatch(new RegExp(`status=sent \\(250 2\\.0\\.0 Ok: queued as ${message.ID}\\)`))
    }
  })
})
