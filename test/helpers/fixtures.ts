import { emptySummary } from '../../src/mail/index.js'
import type { Envelope, MessageSummary } from '../../src/store/index.js'

// Envelope and summary builders for tests that talk to the store or analysers directly.

export function makeEnvelope(over: Partial<Envelope> = {}): Envelope {
  return {
    receivedAt: 1_700_000_000_000,
    listener: 'smtp',
    clientIp: '192.0.2.10',
    clientPort: 40000,
    ipSource: 'connection',
    relayIp: null,
    relayPort: null,
    helo: 'mail.sender.test',
    clientHostname: null,
    tls: null,
    authUser: null,
    mailFrom: 'alice@sender.test',
    mailFromParams: {},
    rcptTo: [{ address: 'trap@holdmail.test', params: {} }],
    connectionId: 'c1',
    transaction: 1,
    pregreet: false,
    tags: [],
    ...over,
  }
}

export function blankSummary(): MessageSummary {
  return emptySummary(null)
}
