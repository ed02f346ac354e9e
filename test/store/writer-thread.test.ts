import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createMessageStore, newMessageId, type MessageStore } from '../../src/store/index.js'
import { makeEnvelope } from '../helpers/fixtures.js'

// A file database writes through the writer thread: inserts made in one go travel together,
// and a buffer handed over moves to that thread instead of being copied.
describe('writer thread', () => {
  let dir: string
  let store: MessageStore
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'holdmail-writer-'))
    store = createMessageStore(join(dir, 'w.db'))
  })
  afterEach(async () => {
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('leaves the caller its buffer unless it hands it over', async () => {
    const raw = Buffer.from(`Subject: kept\r\n\r\n${'x'.repeat(64 * 1024)}\r\n`)
    const copy = Buffer.from(raw)
    const a = await store.insert(raw, makeEnvelope())
    const b = await store.insert(raw, makeEnvelope())
    expect(raw.equals(copy)).toBe(true)
    expect(store.getRaw(a.id)?.equals(copy)).toBe(true)
    expect(store.getRaw(b.id)?.equals(copy)).toBe(true)

    const given = Buffer.from(copy)
    const c = await store.insert(given, makeEnvelope(), { handOver: true })
    expect(given.length).toBe(0) // moved to the writer thread, not copied
    expect(c.size).toBe(copy.length)
    expect(store.getRaw(c.id)?.equals(copy)).toBe(true)
  })

  it('commits many inserts made in one go, each with its own bytes, order and SHA-256', async () => {
    const bodies = Array.from({ length: 200 }, (_, i) => Buffer.from(`Subject: n${i}\r\n\r\n${'y'.repeat(i * 50)}\r\n`))
    const stored = await Promise.all(bodies.map((b) => store.insert(Buffer.from(b), makeEnvelope(), { handOver: true })))
    expect(new Set(stored.map((m) => m.seq)).size).toBe(200)
    stored.forEach((m, i) => {
      expect(store.getRaw(m.id)?.equals(bodies[i]!)).toBe(true)
      expect(store.get(m.id)?.sha256).toBe(m.sha256)
    })
    expect(stored.map((m) => m.seq)).toEqual([...stored.map((m) => m.seq)].sort((x, y) => x - y))
  })

  it('fails inserts after close instead of losing them', async () => {
    const pending = store.insert(Buffer.from('Subject: last\r\n\r\nz\r\n'), makeEnvelope())
    await store.close()
    const last = await pending // queued before close: committed
    expect(last.seq).toBeGreaterThan(0)
    await expect(store.insert(Buffer.from('Subject: late\r\n\r\nz\r\n'), makeEnvelope())).rejects.toThrow(/closed/)
    store = createMessageStore(join(dir, 'w.db'))
    expect(store.getRaw(last.id)?.toString()).toContain('Subject: last')
  })
})

describe('message IDs', () => {
  it('are 20 base62 characters and do not repeat over many draws', () => {
    const ids = Array.from({ length: 20_000 }, newMessageId)
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9]{20}$/)
    expect(new Set(ids).size).toBe(ids.length)
    // every alphabet symbol turns up (a pool bug tends to repeat or skip bytes)
    expect(new Set(ids.map((id) => id.slice(7)).join('')).size).toBe(62)
  })

  it('sort by receive time, so new ones append to the index', () => {
    const times = [0, 1, 61, 62, 1_700_000_000_000, 1_700_000_000_001, 1_800_000_000_000, Date.UTC(2080, 0, 1)]
    const ids = times.map((t) => newMessageId(t))
    expect([...ids].sort()).toEqual(ids)
    expect(ids[0]!.slice(0, 7)).toBe('0000000')
    expect(ids[2]!.slice(0, 7)).toBe('000000z')
    expect(ids[3]!.slice(0, 7)).toBe('0000010')
    // same millisecond: same prefix, different IDs
    const a = newMessageId(1_700_000_000_000)
    expect(a.slice(0, 7)).toBe(ids[4]!.slice(0, 7))
    expect(a).not.toBe(ids[4])
  })
})
