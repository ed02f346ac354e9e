import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'

const FIXTURES = fileURLToPath(new URL('../../fixtures/analysis/', import.meta.url))

export function readFixture(name: string): Promise<Buffer> {
  return readFile(FIXTURES + name)
}

export { makeEnvelope, blankSummary } from '../../helpers/fixtures.js'

/** A plain message with CRLF line endings, as an SMTP client sends it. */
export function plainMessage(from: string, body = 'Hello there.\r\n', extra = ''): Buffer {
  return Buffer.from(
    `From: ${from}\r\nTo: trap@holdmail.test\r\nSubject: test message\r\nDate: Tue, 14 Nov 2023 22:13:20 +0000\r\n` +
      `Message-ID: <m1@sender.test>\r\n${extra}\r\n${body}`,
  )
}
