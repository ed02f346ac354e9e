// Issue 10 item 10: deletes and prune give their pages back to the file system (incremental
// auto-vacuum), so that the database file shrinks; a database made before that switches at start.
import { Database } from '../../src/store/sqlite.js' // the build this Node loads (12 aborts on Node 24)
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createMessageStore } from '../../src/store/index.js'
import { makeEnvelope } from '../helpers/fixtures.js'

const DAY = 86_400_000
const bigBody = (i: number): Buffer => Buffer.from(`Subject: ${i}\r\n\r\n${`${i} `.repeat(100_000)}\r\n`)

function pages(path: string): { free: number; total: number; autoVacuum: number } {
  const db = new Database(path, { readonly: true })
  try {
    return {
      free: db.pragma('freelist_count', { simple: true }) as number,
      total: db.pragma('page_count', { simple: true }) as number,
      autoVacuum: db.pragma('auto_vacuum', { simple: true }) as number,
    }
  } finally {
    db.close()
  }
}

describe('space given back', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'holdmail-reclaim-'))
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  it('prune (--max-age, --max-messages) leaves no free pages and a smaller file', async () => {
    const path = join(dir, 'p.db')
    const store = createMessageStore(path, { compression: 0 }) // the repetitive bodies would compress to almost nothing
    try {
      const now = Date.now()
      for (let i = 0; i < 20; i++) await store.insert(bigBody(i), makeEnvelope({ receivedAt: now - (20 - i) * DAY }))
      const before = pages(path)
      expect(before.autoVacuum).toBe(2) // INCREMENTAL
      const sizeBefore = statSync(path).size

      expect(await store.prune({ maxMessages: 0, maxAgeMs: 10.5 * DAY, now })).toBe(10)
      const afterAge = pages(path)
      expect(afterAge.free).toBe(0)
      expect(afterAge.total).toBeLessThan(before.total * 0.7)

      expect(await store.prune({ maxMessages: 2, maxAgeMs: 0, now })).toBe(8)
      const afterCount = pages(path)
      expect(afterCount.free).toBe(0)
      expect(afterCount.total).toBeLessThan(afterAge.total * 0.4)
      expect(statSync(path).size).toBeLessThan(sizeBefore * 0.3)
      expect(store.counts().total).toBe(2)
    } finally {
      await store.close()
    }
  })

  it('switches a database made without auto-vacuum at the next start, keeping its messages', async () => {
    const path = join(dir, 'old.db')
    const first = createMessageStore(path)
    const ids: string[] = []
    try {
      for (let i = 0; i < 3; i++) ids.push((await first.insert(bigBody(i), makeEnvelope())).id)
    } finally {
      await first.close()
    }
    // As an older holdmail left it: no auto-vacuum.
    const old = new Database(path)
    old.pragma('auto_vacuum = NONE')
    old.exec('VACUUM')
    old.close()
    expect(pages(path).autoVacuum).toBe(0)

    const store = createMessageStore(path)
    try {
      expect(pages(path).autoVacuum).toBe(2)
      expect(store.list({}).messages.map((m) => m.id).sort()).toEqual([...ids].sort())
      await store.delete({ ids: [ids[0]!] })
      expect(pages(path).free).toBe(0)
    } finally {
      await store.close()
    }
  })
})
