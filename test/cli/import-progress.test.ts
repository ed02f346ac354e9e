import { Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { createProgress, formatDuration } from '../../src/cli/progress.js'

// The progress display of import and export, driven by a fake clock: what a terminal and a log get.

function sink(): { stream: Writable; text: () => string } {
  let text = ''
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString()
      done()
    },
  })
  return { stream, text: () => text }
}

describe('import/export progress', () => {
  it('redraws one bar in place on a terminal, with count, rate and ETA, and clears it at the end', () => {
    let now = 1_000_000
    const out = sink()
    const p = createProgress(out.stream, { verb: 'imported', total: { bytes: 1000 }, isTTY: true, now: () => now })
    now += 1000
    p.update(50, 250) // a quarter of the bytes after 1 s: 3 s to go
    now += 50
    p.update(51, 260) // within the redraw interval: not drawn
    now += 1000
    p.update(100, 500)
    p.done()
    const frames = out.text().split('\r\x1b[2K')
    expect(frames[0]).toBe('')
    expect(frames[1]).toBe('[######..................] imported 50 messages (250 B) 25%, 50 msg/s, 250 B/s ETA 0:03')
    expect(frames[2]).toMatch(/^\[############\.{12}\] imported 100 messages \(500 B\) 50%, 49 msg\/s, .* ETA 0:02$/)
    expect(frames).toHaveLength(4) // two frames, then the clear
    expect(frames[3]).toBe('')
    expect(out.text()).not.toContain('\n')
  })

  it('writes plain lines every few seconds when piped, never control characters', () => {
    let now = 0
    const out = sink()
    const p = createProgress(out.stream, { verb: 'exported', total: { messages: 10 }, isTTY: false, now: () => now })
    for (let i = 1; i <= 10; i++) {
      now += 1000
      p.update(i, i * 100)
    }
    p.done()
    expect(out.text()).toBe('exported 5 messages (500 B) 50%, 1 msg/s, 100 B/s ETA 0:05\nexported 10 messages (1000 B) 100%, 1 msg/s, 100 B/s\n')
  })

  it.each([
    [0, '0:00'],
    [59.6, '1:00'],
    [3725, '1:02:05'],
  ])('formats %s s as %s', (s, text) => expect(formatDuration(s)).toBe(text))
})
