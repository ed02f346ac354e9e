import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/index.js'

// The options of Mailpit's automation features (issue 11), as flags and as environment variables.

describe('automation options', () => {
  it('are off by default', () => {
    const c = loadConfig([], {})
    expect([c.webhookUrl, c.tagsPlusAddresses, c.tagsUsername, c.enableChaos]).toEqual(['', false, false, false])
  })

  it('come from flags and from HOLDMAIL_* variables', () => {
    const flags = loadConfig(['--webhook-url', 'http://127.0.0.1:9000/hook', '--tags-plus-addresses', '--tags-username', '--enable-chaos'], {})
    expect([flags.webhookUrl, flags.tagsPlusAddresses, flags.tagsUsername, flags.enableChaos]).toEqual(['http://127.0.0.1:9000/hook', true, true, true])
    const env = loadConfig([], {
      HOLDMAIL_WEBHOOK_URL: 'https://hooks.example/x',
      HOLDMAIL_TAGS_PLUS_ADDRESSES: '1',
      HOLDMAIL_TAGS_USERNAME: 'true',
      HOLDMAIL_ENABLE_CHAOS: 'yes',
    })
    expect([env.webhookUrl, env.tagsPlusAddresses, env.tagsUsername, env.enableChaos]).toEqual(['https://hooks.example/x', true, true, true])
  })

  it('refuse a webhook URL that is not http(s)', () => {
    expect(() => loadConfig(['--webhook-url', 'ftp://host/x'], {})).toThrow(/--webhook-url/)
    expect(() => loadConfig(['--webhook-url', 'not a url'], {})).toThrow(/--webhook-url/)
  })
})
