import { describe, expect, it } from 'vitest'
import { createMemoryReleaser } from '../../src/mail/release-memory.js'

describe('memory release after an indexed backlog', () => {
  it('collects garbage once at least 1000 messages were indexed, not before', () => {
    const r = createMemoryReleaser()
    r.indexed(999)
    expect(r.drained()).toBe(false)

    // The junk is reachable only inside this function: once it returns, the garbage collector may free it.
    const withJunk = ((): number => {
      const junk = Array.from({ length: 1_500_000 }, (_, n) => ({ n, s: `row ${n}` }))
      const heap = process.memoryUsage().heapUsed
      expect(junk.length).toBe(1_500_000)
      return heap
    })()
    r.indexed(1)
    expect(r.drained()).toBe(true)
    const after = process.memoryUsage().heapUsed
    expect(withJunk - after).toBeGreaterThan(50 * 1024 * 1024)

    // the count starts again
    expect(r.drained()).toBe(false)
  })
})
