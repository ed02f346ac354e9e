import { Database } from '../../src/store/sqlite.js'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { rawSend, startTestApp } from '../helpers/test-app.js'

describe('storage failure', () => {
  const dir = mkdtempSync(join(tmpdir(), 'holdmail-busy-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('answers 451 4.3.0 when the database stays locked, stores nothing, and recovers', async () => {
    const db = join(dir, 'holdmail.db')
    const app = await startTestApp(['--db', db])
    const other = new Database(db)
    try {
      // Another process holds the write lock longer than holdmail's busy timeout (5 s).
      other.exec('BEGIN IMMEDIATE')
      const data = 'Subject: while locked\r\n\r\nx\r\n'
      const refused = await rawSend(app.smtpPort, { from: 'a@example.test', to: ['b@example.test'], data })
      expect(refused).toMatch(/^451 4\.3\.0 /)
      other.exec('ROLLBACK')
      const ok = await rawSend(app.smtpPort, { from: 'a@example.test', to: ['b@example.test'], data: 'Subject: after\r\n\r\nx\r\n' })
      expect(ok).toMatch(/^250 2\.0\.0 /)
      const list = await app.api<{ total: number }>('/api/v1/messages')
      expect(list.body.total).toBe(1)
    } finally {
      other.close()
      await app.stop()
    }
  }, 30_000)
})
