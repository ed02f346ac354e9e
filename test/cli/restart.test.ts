// Reproduces the Node 24 abort of issue 13: on an existing database, a start sometimes died before
// listening with `node::RemoveEnvironmentCleanupHook ... Assertion failed: (env) != nullptr` from
// better-sqlite3's Statement destructor (a statement finalized after its worker thread's
// environment was gone). The cycle that showed it: start, send one message, SIGTERM, start again.
// Every start must reach its listeners and every SIGTERM must end in exit code 0. It runs under
// whichever Node runs the suite (.ci/run runs the suite on the machine's Node and on Node 24).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import nodemailer from 'nodemailer'
import { afterAll, describe, expect, it } from 'vitest'
import { startServer } from './holdmail-process.js'

const CYCLES = 8 // the abort hit about one start in three on Node 24.21; 8 starts make a miss unlikely

describe('restart on the same database', () => {
  const dir = mkdtempSync(join(tmpdir(), 'holdmail-restart-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it(`starts, stores, stops cleanly on SIGTERM and starts again, ${CYCLES} times`, { timeout: 180_000 }, async () => {
    const db = join(dir, 'holdmail.db')
    const ids: string[] = []
    for (let cycle = 1; cycle <= CYCLES; cycle++) {
      const server = await startServer(['--db', db, '--smtp', '127.0.0.1:0', '--http', '127.0.0.1:0', '--no-auth-checks', '--log-level', 'warn'])
      const transport = nodemailer.createTransport({ host: '127.0.0.1', port: server.smtpPort, secure: false, ignoreTLS: true })
      const info = await transport.sendMail({
        from: 'app@example.test',
        to: 'user@example.test',
        subject: `restart ${cycle}`,
        text: `cycle ${cycle}\n`,
      })
      transport.close()
      const id = /queued as ([A-Za-z0-9]+)/.exec(info.response)?.[1]
      expect(id, info.response).toBeDefined()
      ids.push(id!)
      // Every message stored by the earlier starts is still there after the restarts.
      const list = (await (await fetch(`${server.baseUrl}/api/v1/messages?limit=50`)).json()) as { total: number }
      expect(list.total).toBe(cycle)
      const exit = await server.stop()
      expect({ cycle, code: exit.code, signal: exit.signal }, exit.stderr).toEqual({ cycle, code: 0, signal: null })
    }
    expect(new Set(ids).size).toBe(CYCLES)
  })
})
