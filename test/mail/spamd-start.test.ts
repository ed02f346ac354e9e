import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GTUBE, SPAMD_PATH, startSpamd, type RunningSpamd } from '../helpers/spamd.js'
import { dotStuff, queuedId, rawSend, startTestApp } from '../helpers/test-app.js'

// --spamd on a first start begins after the newest stored message. That starting point is read
// before the listeners accept mail: a message sent the moment holdmail is up is scored too (it was
// skipped for good when the checker's thread read the point after the message had been committed).

if (!SPAMD_PATH) console.warn('spamd not found (apt-get install spamassassin spamd): SpamAssassin start-up test skipped')

describe.skipIf(!SPAMD_PATH)('SpamAssassin checker at start-up', () => {
  let spamd: RunningSpamd
  beforeAll(async () => {
    spamd = await startSpamd()
  }, 120_000)
  afterAll(async () => {
    await spamd?.stop()
  })

  it('scores a message sent as soon as holdmail has started on a fresh database', async () => {
    const app = await startTestApp(['--spamd', `127.0.0.1:${spamd.port}`])
    try {
      const raw = Buffer.from(`From: <spam@shady.example>\r\nTo: <trap@holdmail.test>\r\nSubject: first\r\n\r\n${GTUBE}\r\n`)
      const id = queuedId(await rawSend(app.smtpPort, { from: 'spam@shady.example', to: ['trap@holdmail.test'], data: dotStuff(raw) }))
      const check = async (): Promise<{ Error: string; IsSpam: boolean }> => (await app.api<{ Error: string; IsSpam: boolean }>(`/api/v1/message/${id}/sa-check`)).body
      await expect.poll(async () => (await check()).Error, { timeout: 60_000, interval: 250 }).toBe('')
      expect((await check()).IsSpam).toBe(true)
    } finally {
      await app.stop()
    }
  }, 120_000)
})
