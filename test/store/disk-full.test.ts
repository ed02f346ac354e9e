// Issue 10 item 10: a full disk. holdmail runs on a small tmpfs made for this test; mail is sent
// until SMTP refuses it with 452 4.3.1 (holdmail keeps room for a delete, as an MTA keeps a minimum
// of free space), then another file takes the last free blocks, as another program on the same
// disk would. DELETE /api/v1/messages must work on that full disk (the UI's way to free space), the
// database file must give the space back (incremental vacuum), and new mail must get its 250.
// Mounting needs root (or CAP_SYS_ADMIN); elsewhere the test is skipped with a message.
import { execFileSync } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Database } from '../../src/store/sqlite.js' // the build this Node loads (12 aborts on Node 24)
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rawSend, startTestApp, type TestApp } from '../helpers/test-app.js'

const FS_SIZE = '64m'
const MESSAGE_LINES = 8000 // about 600 KiB a message
const MAX_MESSAGES = 200 // far more than fit: the loop ends with the first 451

describe('disk full', () => {
  const dir = mkdtempSync(join(tmpdir(), 'holdmail-diskfull-'))
  let mounted = false
  let why = ''
  let app: TestApp | null = null
  beforeAll(() => {
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${FS_SIZE}`, 'tmpfs', dir], { stdio: 'pipe' })
      mounted = true
    } catch (err) {
      why = (err as { stderr?: Buffer }).stderr?.toString().trim() || (err as Error).message
    }
  })
  afterAll(async () => {
    await app?.stop()
    if (mounted) execFileSync('umount', [dir])
    rmSync(dir, { recursive: true, force: true })
  })

  it('deletes on a full disk, gives the space back, and takes new mail again', { timeout: 180_000 }, async (ctx) => {
    if (!mounted) return ctx.skip(`cannot mount a ${FS_SIZE} tmpfs (${why}); run as root to test a full disk`)
    const db = join(dir, 'holdmail.db')
    app = await startTestApp(['--db', db, '--compression', '0']) // fill the disk with bytes as sent, not compressed
    // Each line differs, so that nothing compresses or repeats.
    const body = (n: number): string =>
      Array.from({ length: MESSAGE_LINES }, (_, i) => `${n}-${i} ${(n * 7919 + i * 104729).toString(36).padStart(60, 'x')}`).join('\r\n')
    const send = (n: number): Promise<string> =>
      rawSend(app!.smtpPort, { from: 'a@example.test', to: ['b@example.test'], data: `Subject: fill ${n}\r\n\r\n${body(n)}\r\n` })

    let stored = 0
    let last = ''
    for (let n = 0; n < MAX_MESSAGES; n++) {
      last = await send(n)
      if (!last.startsWith('250')) break
      stored++
    }
    expect(last).toMatch(/^452 4\.3\.1 /)
    expect(stored).toBeGreaterThan(5)
    await app.running.indexer.idle()
    const fullSize = statSync(db).size

    // Another file takes what is left, to the last block.
    const filler = openSync(join(dir, 'filler'), 'w')
    const chunk = Buffer.alloc(64 * 1024, 1)
    let fillerBytes = 0
    try {
      for (;;) fillerBytes += writeSync(filler, chunk)
    } catch (err) {
      expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC')
    } finally {
      closeSync(filler)
    }
    expect(fillerBytes).toBeGreaterThan(0)
    expect(await send(999)).toMatch(/^4\d\d /) // nothing fits now

    const del = await app.api('/api/v1/messages', { method: 'DELETE', body: { IDs: [] } })
    expect(del.status, JSON.stringify(del.body)).toBe(200)
    const info = await app.api<{ Messages: number }>('/api/v1/info')
    expect(info.body.Messages).toBe(0)

    // The freed pages went back to the file system: no free pages left in the file, and it shrank.
    const check = new Database(db, { readonly: true })
    try {
      expect(check.pragma('freelist_count', { simple: true })).toBe(0)
    } finally {
      check.close()
    }
    expect(statSync(db).size).toBeLessThan(fullSize / 4)

    expect(await send(1000)).toMatch(/^250 /)
  })
})
