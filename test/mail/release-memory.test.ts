import { describe, expect, it } from 'vitest'
import { createMemoryReleaser } from '../../src/mail/release-memory.js'

describe('memory release after an indexed backlog', () => {
  it('collects garbage once at least 1000 messages were indexed, not before', () => {
    const r = createMemoryReleaser()
    r.indexed(999)
    expect(r.drained()).toBe(false)

    let junk: { n: number; s: string }[] | null = Array.from({ length: 1_500_000 }, (_, n) => ({ n, s: `row ${n}` }))
    const withJunk = process.memoryUsage().heapUsed
    expect(junk.length).toBe(1_500_000)
    junk = null
    r.indexed(1)
    expect(r.drained()).toBe(true)
    const after = process.memoryUsage().heapUsed
    expect(withJunk - after).toBeGreaterThan(50 * 1024 * 1024)

    // the count starts again
    expect(r.drained()).toBe(false)
  })
})
