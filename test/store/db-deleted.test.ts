// Issue 10 item 9: `rm holdmail.db holdmail.db-wal holdmail.db-shm` under a running holdmail. SQLite
// keeps writing to the unlinked files, so without a check every later 250 would be a message lost
// at the next start. After the deletion, SMTP answers 451 4.3.0, nothing is stored, and
// /api/v1/info says what happened.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { rawSend, startTestApp, type TestApp } from '../helpers/test-app.js'

type Info = { Messages: number; Store: { Writable: boolean; Problem: string } }

describe('database file deleted while running', () => {
  let app: TestApp | null = null
  let dir: string
  afterEach(async () => {
    await app?.stop()
    app = null
    rmSync(dir, { recursive: true, force: true })
  })

  it('answers 451 4.3.0 once the files are gone, stores nothing, and /api/v1/info reports it', { timeout: 60_000 }, async () => {
    dir = mkdtempSync(join(tmpdir(), 'holdmail-dbgone-'))
    const db = join(dir, 'holdmail.db')
    app = await startTestApp(['--db', db])
    const send = (subject: string): Promise<string> =>
      rawSend(app!.smtpPort, { from: 'a@example.test', to: ['b@example.test'], data: `Subject: ${subject}\r\n\r\nbody\r\n` })

    expect(await send('before')).toMatch(/^250 /)
    const before = await app.api<Info>('/api/v1/info')
    expect(before.body.Store).toEqual({ Writable: true, Problem: '' })

    for (const suffix of ['', '-wal', '-shm']) rmSync(db + suffix, { force: true })
    const reply = await send('after')
    expect(reply).toMatch(/^451 4\.3\.0 /)
    // Every later message too, until restart.
    expect(await send('after again')).toMatch(/^451 4\.3\.0 /)

    const info = await app.api<Info>('/api/v1/info')
    expect(info.status).toBe(200)
    expect(info.body.Store.Writable).toBe(false)
    expect(info.body.Store.Problem).toMatch(/deleted or replaced; restart holdmail/)
    // Writes from the API are refused as well, with a JSON error.
    const put = await app.api<{ error: { code: string } }>('/api/v1/messages', { method: 'PUT', body: { Read: true } })
    expect(put.status).toBeGreaterThanOrEqual(500)

    // Nothing went into the unlinked files either: the API's connection still reads them.
    expect(info.body.Messages).toBe(1)
  })

  it('keeps accepting while the files stay in place (the check does not misfire)', { timeout: 60_000 }, async () => {
    dir = mkdtempSync(join(tmpdir(), 'holdmail-dbgone-'))
    app = await startTestApp(['--db', join(dir, 'holdmail.db')])
    for (let i = 0; i < 5; i++) {
      expect(await rawSend(app.smtpPort, { from: 'a@example.test', to: ['b@example.test'], data: `Subject: n${i}\r\n\r\nx\r\n` })).toMatch(/^250 /)
    }
    expect((await app.api('/api/v1/messages', { method: 'PUT', body: { Read: true } })).status).toBe(200)
    const info = await app.api<Info & { Unread: number }>('/api/v1/info')
    expect(info.body.Store).toEqual({ Writable: true, Problem: '' })
    expect([info.body.Messages, info.body.Unread]).toEqual([5, 0])
  })
})
