import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import type { Envelope, MessageSummary } from '../../../src/store/index.js'

const FIXTURES = fileURLToPath(new URL('../../fixtures/analysis/', import.meta.url))

export function readFixture(name: string): Promise<Buffer> {
  return readFile(FIXTURES + name)
}

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
  return {
    parseError: null,
    subject: '',
    from: null,
    to: [],
    cc: [],
    bcc: [],
    replyTo: [],
    date: null,
    messageId: '',
    returnPath: '',
    snippet: '',
    attachments: 0,
    bodyText: '',
    kind: 'message',
    auth: null,
    analysis: null,
    tags: [],
  }
}

/** A plain message with CRLF line endings, as an SMTP client sends it. */
export function plainMessage(from: string, body = 'Hello there.\r\n', extra = ''): Buffer {
  return Buffer.from(
    `From: ${from}\r\nTo: trap@holdmail.test\r\nSubject: test message\r\nDate: Tue, 14 Nov 2023 22:13:20 +0000\r\n` +
      `Message-ID: <m1@sender.test>\r\n${extra}\r\n${body}`,
  )
}
