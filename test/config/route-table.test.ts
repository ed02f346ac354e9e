import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { loadRoutesFile, parseRoutes, tagsForRoutes } from '../../src/config/index.js'
import { queuedId, rawSend, startTestApp } from '../helpers/test-app.js'

const RULES = `
# smarttable-style capture rules
spammer@example.com        campaign-a
@bad.example               bad-domain, suspect
.sub.example               subdomains
<>                         null-sender
rcpt:@trap.example         trap
ip:203.0.113.0/24          botnet
helo:*.dynamic.example     dynamic-helo
`

describe('route table', () => {
  const rules = parseRoutes(RULES)
  const subject = { mailFrom: 'x@ok.example', rcptTo: ['a@ok.example'], clientIp: '192.0.2.1', helo: 'mx.ok.example' }

  it.each([
    [{ mailFrom: 'Spammer@Example.com' }, ['campaign-a']],
    [{ mailFrom: 'anyone@bad.example' }, ['bad-domain', 'suspect']],
    [{ mailFrom: 'anyone@mx.sub.example' }, ['subdomains']],
    [{ mailFrom: '' }, ['null-sender']],
    [{ rcptTo: ['a@ok.example', 'hit@trap.example'] }, ['trap']],
    [{ clientIp: '203.0.113.99' }, ['botnet']],
    [{ helo: 'host-1-2-3-4.dynamic.example' }, ['dynamic-helo']],
    [{}, []],
  ])('%j gets %j', (over, tags) => {
    expect(tagsForRoutes(rules, { ...subject, ...over })).toEqual(tags)
  })

  it('refuses a rule without a tag or with a bad CIDR, naming the line', () => {
    expect(() => parseRoutes('\n@x.example\n', 'r.txt')).toThrow(/r\.txt:2: .* no tag/)
    expect(() => parseRoutes('ip:10.0.0.0/40 t', 'r.txt')).toThrow(/r\.txt:1: .*CIDR/)
  })

  const dir = mkdtempSync(join(tmpdir(), 'holdmail-routes-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('refuses an unknown prefix, naming the file and line, instead of loading it as a sender that never matches', () => {
    expect(() => parseRoutes('# rules\nspammer@example.com t\nbogus:thing tag\n', 'r.txt')).toThrow('r.txt:3: unknown prefix "bogus:" in "bogus:thing"')
    expect(() => parseRoutes('rcpt: t', 'r.txt')).toThrow('r.txt:1: "rcpt:" has nothing after the prefix')
    // the known prefixes, in any case, and IPv6 ranges with their colons
    expect(parseRoutes('TO:@trap.example a\nFrom:x@y.example b\nip:2001:db8::/32 c\nHELO:*.x d').map((r) => [r.kind, r.pattern])).toEqual([
      ['rcpt', '@trap.example'],
      ['from', 'x@y.example'],
      ['ip', '2001:db8::/32'],
      ['helo', '*.x'],
    ])
  })

  it('names the flag and the file when the routes file cannot be read or has a bad rule', () => {
    const missing = join(dir, 'missing-routes')
    expect(() => loadRoutesFile(missing)).toThrow(`--routes ${missing}: ENOENT: no such file or directory`)
    const bad = join(dir, 'bad-routes')
    writeFileSync(bad, '@ok.example fine\nbogus:thing tag\n')
    expect(() => loadRoutesFile(bad)).toThrow(`--routes ${bad}:2: unknown prefix "bogus:"`)
    writeFileSync(bad, '@ok.example fine\n')
    expect(loadRoutesFile(bad)).toHaveLength(1)
  })

  it('tags messages at ingest, with the listener tag, and picks up an edited file', async () => {
    const file = join(dir, 'routes')
    writeFileSync(file, '@bad.example campaign-a\n')
    const app = await startTestApp(['--routes', file, '--listener-tag', 'capture'])
    try {
      const tagsOf = async (reply: string): Promise<string[]> =>
        (await app.api<{ Tags: string[] }>(`/api/v1/message/${queuedId(reply)}`)).body.Tags
      const data = 'Subject: routed\r\n\r\nx\r\n'
      expect(await tagsOf(await rawSend(app.smtpPort, { from: 'a@bad.example', to: ['t@example.test'], data }))).toEqual(['campaign-a', 'capture'])
      expect(await tagsOf(await rawSend(app.smtpPort, { from: 'a@fine.example', to: ['t@example.test'], data }))).toEqual(['capture'])

      writeFileSync(file, '@fine.example campaign-b\n')
      app.running.reloadRoutes() // what SIGHUP does; the file watcher would do it within a second
      expect(await tagsOf(await rawSend(app.smtpPort, { from: 'a@fine.example', to: ['t@example.test'], data }))).toEqual(['campaign-b', 'capture'])
      // the list and search see the tags too
      const tagged = await app.api<{ messages_count: number }>('/api/v1/search?query=tag:campaign-b')
      expect(tagged.body.messages_count).toBe(1)
    } finally {
      await app.stop()
    }
  })
})
