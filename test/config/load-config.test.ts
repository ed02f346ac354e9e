import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { cidrContains, loadConfig, OPTIONS, parseCidr } from '../../src/config/index.js'

describe('loadConfig', () => {
  it('defaults to loopback on 1025/8025 with the database under data/', () => {
    const c = loadConfig([], {})
    expect(c.smtp).toEqual({ host: '127.0.0.1', port: 1025 })
    expect(c.http).toEqual({ host: '127.0.0.1', port: 8025 })
    // the package's data/, wherever the command is started from
    expect(c.dbPath).toBe(fileURLToPath(new URL('../../data/holdmail.db', import.meta.url)))
    expect(c.maxMessageBytes).toBe(50 * 1024 * 1024)
    expect(c.maxRecipients).toBe(1000)
    expect(c.lmtp).toBeNull()
    expect(c.authChecks).toBe(true)
    expect(c.greetDelayMs).toBe(0)
    expect(Object.isFrozen(c)).toBe(true)
  })

  it.each([
    [['--smtp', '0.0.0.0:25'], {}, 'smtp', { host: '0.0.0.0', port: 25 }],
    [['--smtp=[::1]:2525'], {}, 'smtp', { host: '::1', port: 2525 }],
    [[], { HOLDMAIL_SMTP: '127.0.0.2:26' }, 'smtp', { host: '127.0.0.2', port: 26 }],
    [['--smtp', '127.0.0.3:27'], { HOLDMAIL_SMTP: '127.0.0.2:26' }, 'smtp', { host: '127.0.0.3', port: 27 }],
    [['--max-message-size', '10m'], {}, 'maxMessageBytes', 10 * 1024 * 1024],
    [[], { HOLDMAIL_MAX_MESSAGE_SIZE: '512k' }, 'maxMessageBytes', 512 * 1024],
    [['--no-auth-checks'], {}, 'authChecks', false],
    [[], { HOLDMAIL_NO_AUTH_CHECKS: '1' }, 'authChecks', false],
    [['--max-age', '7d'], {}, 'maxAgeMs', 7 * 86_400_000],
    [['--lmtp', '24'], {}, 'lmtp', { host: '127.0.0.1', port: 24 }],
    [['--http-auth', 'admin:s3:cret'], {}, 'httpAuth', { user: 'admin', pass: 's3:cret' }],
  ] as const)('%j with env %j sets %s', (argv, env, key, expected) => {
    expect(loadConfig(argv, env)[key]).toEqual(expected)
  })

  it.each([
    [['--smtp', 'nope'], /--smtp: expected host:port/],
    [['--smtp', '127.0.0.1:70000'], /out of range/],
    [['--max-recipients', '0'], /at least 1/],
    [['--trusted-relays', '10.0.0.0/33'], /not an IP address or CIDR/],
    [['--tls-cert', 'a.pem'], /given together/],
    [['--bogus'], /unknown option --bogus/],
    [['--log-level', 'loud'], /--log-level/],
    [['--dns-server', 'resolver.example:53'], /--dns-server/],
  ])('refuses %j with a clear message', (argv, message) => {
    expect(() => loadConfig(argv, {})).toThrow(message)
  })
})

describe('CIDR matching', () => {
  it.each([
    ['192.0.2.0/24', '192.0.2.77', true],
    ['192.0.2.0/24', '192.0.3.1', false],
    ['192.0.2.0/24', '::ffff:192.0.2.9', true],
    ['2001:db8::/32', '2001:db8:1::25', true],
    ['2001:db8::/32', '2001:db9::1', false],
    ['127.0.0.1', '127.0.0.1', true],
    ['0.0.0.0/0', '203.0.113.1', true],
  ])('%s contains %s: %s', (cidr, ip, expected) => {
    expect(cidrContains(parseCidr(cidr)!, ip)).toBe(expected)
  })
})

describe('README', () => {
  it('documents every option with its variable and default', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
    for (const o of OPTIONS) {
      const row = readme.split('\n').find((l) => l.startsWith(`| \`--${o.flag}`))
      expect(row, `README row for --${o.flag}`).toBeDefined()
      expect(row).toContain(`\`${o.env}\``)
      if (o.default && o.value) expect(row).toContain(`\`${o.default}\``)
    }
  })
})
