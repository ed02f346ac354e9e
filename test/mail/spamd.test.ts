import { spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { MailpitClient } from 'mailpit-api'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runExport } from '../../src/cli/export.js'
import { checkWithSpamd, parseReportRules, SpamdUnavailable } from '../../src/mail/spamd.js'
import { createSpamChecker } from '../../src/mail/spam-checker.js'
import { compileSearch, createMessageStore } from '../../src/store/index.js'
import { makeEnvelope } from '../helpers/fixtures.js'
import { freePort, GTUBE, SPAMD_PATH, startSpamd, type RunningSpamd } from '../helpers/spamd.js'
import { startTestApp } from '../helpers/test-app.js'

// Debian's spamd on loopback (test/helpers/spamd.ts: a site config of its own, no network tests,
// no Bayes). Installed by .ci/run; skipped where absent.
const SA_LEARN = ['/usr/bin/sa-learn', '/usr/sbin/sa-learn'].find((p) => existsSync(p))
if (!SPAMD_PATH) console.warn('spamd not found (apt-get install spamassassin spamd): SpamAssassin tests skipped')

const spam = Buffer.from(`From: Spammer <spam@shady.example>\r\nTo: trap@holdmail.test\r\nSubject: win now\r\nDate: Fri, 04 Dec 2026 21:00:00 +0000\r\nMessage-ID: <gtube@shady.example>\r\n\r\n${GTUBE}\r\n`)
const ham = Buffer.from('From: Alice <alice@sender.test>\r\nTo: bob@holdmail.test\r\nSubject: lunch\r\nDate: Fri, 04 Dec 2026 21:00:00 +0000\r\nMessage-ID: <lunch@sender.test>\r\n\r\nShall we meet at noon?\r\n')

describe.skipIf(!SPAMD_PATH)('SpamAssassin (spamd on loopback)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'holdmail-spamd-test-'))
  let spamd: RunningSpamd | null = null
  let port = 0

  beforeAll(async () => {
    spamd = await startSpamd()
    port = spamd.port
  }, 120_000)

  afterAll(async () => {
    await spamd?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('scores a message with REPORT: verdict, score, threshold and rule hits with descriptions', async () => {
    const s = await checkWithSpamd({ host: '127.0.0.1', port }, spam)
    expect(s.error).toBe('')
    expect(s.isSpam).toBe(true)
    expect(s.score).toBeGreaterThanOrEqual(1000)
    expect(s.threshold).toBe(5)
    const gtube = s.rules.find((r) => r.name === 'GTUBE')
    expect(gtube?.score).toBe(1000)
    expect(gtube?.description).toMatch(/Generic Test for Unsolicited Bulk Email/i)

    const h = await checkWithSpamd({ host: '127.0.0.1', port }, ham)
    expect(h.error).toBe('')
    expect(h.isSpam).toBe(false)
    expect(h.score).toBeLessThan(5)
    expect(h.rules.some((r) => r.name === 'GTUBE')).toBe(false)
  }, 60_000)

  it('scores stored messages after commit, searches them with score: and is:spam, and answers sa-check like Mailpit', async () => {
    const path = join(dir, 'scored.db')
    const store = createMessageStore(path)
    const checker = createSpamChecker({ store, spamd: { host: '127.0.0.1', port } })
    const stored = { spam: '', ham: '' }
    try {
      await checker.idle() // started: it checks what is stored from now on
      stored.spam = (await store.insert(Buffer.from(spam), makeEnvelope())).id
      stored.ham = (await store.insert(Buffer.from(ham), makeEnvelope())).id
      await checker.idle()
      expect(store.get(stored.spam)?.spam?.isSpam).toBe(true)
      expect(store.get(stored.ham)?.spam?.isSpam).toBe(false)
      const ids = (search: string): string[] => store.list({ search }).messages.map((m) => m.id)
      expect(ids('is:spam')).toEqual([stored.spam])
      expect(ids('-is:spam')).toEqual([stored.ham])
      expect(ids('score:>5')).toEqual([stored.spam])
      expect(ids('score:<5')).toEqual([stored.ham])
    } finally {
      await checker.stop()
      await store.close()
    }

    const app = await startTestApp(['--db', path])
    try {
      const mailpit = new MailpitClient(app.baseUrl)
      const r = await mailpit.spamAssassinCheck(stored.spam)
      expect(r.Error).toBe('')
      expect(r.IsSpam).toBe(true)
      expect(r.Score).toBeGreaterThanOrEqual(1000)
      expect(r.Rules?.find((x) => x.Name === 'GTUBE')).toMatchObject({ Score: 1000 })
      const h = await mailpit.spamAssassinCheck(stored.ham)
      expect(h.IsSpam).toBe(false)
      const search = await app.api<{ messages: { ID: string }[] }>('/api/v1/search?query=is:spam')
      expect(search.body.messages.map((m) => m.ID)).toEqual([stored.spam])
    } finally {
      await app.stop()
    }
  }, 120_000)

  it.skipIf(!SA_LEARN)('feeds an mbox export to sa-learn --mbox --spam, which reads every message of it', async () => {
    const path = join(dir, 'learn.db')
    const store = createMessageStore(path)
    // Bodies with lines an mbox must quote ("From " at a line start) and one with a blank last line.
    const bodies = Array.from({ length: 7 }, (_, i) =>
      Buffer.from(`From: s${i}@shady.example\r\nTo: trap@holdmail.test\r\nSubject: offer ${i}\r\nMessage-ID: <${i}@shady.example>\r\n\r\nFrom the desk of number ${i}\r\n>From quoted\r\n${'cheap pills '.repeat(i + 1)}\r\n\r\n`),
    )
    try {
      for (const b of bodies) await store.insert(b, makeEnvelope({ mailFrom: 'spam@shady.example' }))
    } finally {
      await store.close()
    }
    const mbox = join(dir, 'spam.mbox')
    const io = { stdout: new PassThrough(), stderr: new PassThrough() }
    expect(await runExport(['--format', 'mbox', '--db', path, mbox], {}, io)).toBe(0)
    // A site config of its own: the spamd one turns Bayes off, and sa-learn refuses to run then.
    const learnSite = join(dir, 'learn-site')
    spawnSync('mkdir', ['-p', learnSite])
    for (const f of readdirSync('/etc/spamassassin').filter((f) => f.endsWith('.pre'))) copyFileSync(join('/etc/spamassassin', f), join(learnSite, f))
    writeFileSync(join(learnSite, 'local.cf'), 'use_bayes 1\nbayes_auto_learn 0\nskip_rbl_checks 1\ndns_available no\n')
    const out = spawnSync(SA_LEARN!, ['--mbox', '--spam', '--dbpath', join(dir, 'bayes'), '--siteconfigpath', learnSite, '--no-sync', mbox], { encoding: 'utf8' })
    expect(out.status, out.stderr).toBe(0)
    // "Learned tokens from 7 message(s) (7 message(s) examined)"
    expect(out.stdout).toMatch(new RegExp(`\\(${bodies.length} message\\(s\\) examined\\)`))
  }, 120_000)
})

describe('spamd client without spamd', () => {
  it('reports an unreachable spamd as SpamdUnavailable (retried later), not as a verdict', async () => {
    const port = await freePort() // nothing listens there now
    await expect(checkWithSpamd({ host: '127.0.0.1', port }, ham)).rejects.toBeInstanceOf(SpamdUnavailable)
  })

  it('compiles score: comparisons and refuses a score that is not a number', () => {
    expect(compileSearch('score:>5')).toMatchObject({ where: '(m.spam_score > ?)', params: [5] })
    expect(compileSearch('score:<=-1.5')).toMatchObject({ where: '(m.spam_score <= ?)', params: [-1.5] })
    expect(compileSearch('score:3')).toMatchObject({ where: '(m.spam_score >= ?)', params: [3] })
    expect(compileSearch('is:spam').where).toBe('(m.spam_flag = 1)')
    expect(() => compileSearch('score:high')).toThrow(/score: expected a SpamAssassin score/)
  })

  it('reads rule tables whose descriptions wrap', () => {
    const report = [
      'Content analysis details:   (6.1 points, 5.0 required)',
      '',
      ' pts rule name              description',
      '---- ---------------------- --------------------------------------------------',
      ' 2.5 MISSING_DATE           Missing Date: header',
      '-0.0 NO_RELAYS              Informational: message was not relayed via SMTP',
      ' 3.6 SOME_LONG_RULE         a description that goes on and is',
      '                            continued on the next line',
      '',
    ].join('\n')
    expect(parseReportRules(report)).toEqual([
      { score: 2.5, name: 'MISSING_DATE', description: 'Missing Date: header' },
      { score: -0, name: 'NO_RELAYS', description: 'Informational: message was not relayed via SMTP' },
      { score: 3.6, name: 'SOME_LONG_RULE', description: 'a description that goes on and is continued on the next line' },
    ])
  })
})
