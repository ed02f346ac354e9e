import type { TestApp } from '../helpers/test-app.js'
export { freePort } from '../helpers/ports.js'

// Shared by the end-to-end tests that run a real MTA (Exim, Postfix) in front of holdmail.

export type Listed = { messages: { ID: string }[] }
export type RelayEnvelope = {
  ClientIP: string
  IPSource: string
  Helo: string
  Relay: { IP: string } | null
  Listener: string
  MailFrom: string
  RcptTo: string[]
}
export type RelayMessage = {
  ID: string
  Tags: string[]
  Envelope: RelayEnvelope
  Auth: { SPF: { IP: string; IPSource: string; Helo: string } } | null
}

/** One message as its bytes, the way a spam client would send it: every header an MTA would otherwise add is there. */
export function sample(from: string, to: string, subject: string): Buffer {
  return Buffer.from(
    `From: <${from}>\r\nTo: <${to}>\r\nSubject: ${subject}\r\nDate: Wed, 25 Nov 2026 18:00:00 +0000\r\n` +
      `Message-ID: <${subject.replace(/\W/g, '')}.${Date.now()}@sender.example>\r\nMIME-Version: 1.0\r\n` +
      `Content-Type: text/plain; charset=us-ascii\r\n\r\n${subject}: buy now\r\n`,
  )
}

/** Polls the API until `count` messages are listed (an MTA delivers in its own time), then returns them by subject. */
export async function waitForMessages(app: TestApp, count: number, describeFailure: () => string): Promise<void> {
  for (let i = 0; i < 120; i++) {
    const { body } = await app.api<Listed>('/api/v1/messages')
    if (body.messages.length >= count) return
    await new Promise((r) => setTimeout(r, 250))
  }
  throw new Error(`${count} messages did not arrive in 30 s\n${describeFailure()}`)
}

/** Every message of an app with its JSON and raw bytes, keyed by Subject. */
export async function bySubject(app: TestApp): Promise<Map<string, { message: RelayMessage; raw: Buffer }>> {
  const { body } = await app.api<Listed>('/api/v1/messages')
  const out = new Map<string, { message: RelayMessage; raw: Buffer }>()
  for (const { ID } of body.messages) {
    const raw = await app.raw(ID)
    const subject = /^Subject: (.*)\r$/m.exec(raw.toString('latin1'))?.[1] ?? ''
    out.set(subject, { message: (await app.api<RelayMessage>(`/api/v1/message/${ID}`)).body, raw })
  }
  return out
}
