import type { Writable } from 'node:stream'

// Progress of `holdmail import` and `holdmail export` on stderr: a bar redrawn in place on a
// terminal (count, rate, ETA), plain lines every few seconds when stderr is a pipe or a file, so a
// log stays readable.

export interface Progress {
  /** Totals so far; cheap to call per message (output is throttled). */
  update(messages: number, bytes: number): void
  /** Clears the bar (a terminal) so the summary line starts clean. */
  done(): void
}

export interface ProgressOptions {
  verb: string // 'imported', 'exported'
  /** What 100 % means, when known: bytes to read (import) or messages to write (export). */
  total: { bytes: number } | { messages: number } | null
  isTTY: boolean
  now?: () => number
}

const REDRAW_MS = 100 // ten redraws a second look smooth and cost nothing
const LINE_EVERY_MS = 5000 // one plain line per 5 s keeps a CI log short
const BAR_WIDTH = 24

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let v = n / 1024
  let u = 0
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024
    u++
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds))
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const pad = (x: number): string => String(x).padStart(2, '0')
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`
}

export function createProgress(out: Writable, opts: ProgressOptions): Progress {
  const now = opts.now ?? Date.now
  const started = now()
  let last = opts.isTTY ? 0 : started // piped: the first line after LINE_EVERY_MS, not at once
  let drawn = false

  function text(messages: number, bytes: number): { line: string; fraction: number | null } {
    const seconds = Math.max((now() - started) / 1000, 0.001)
    const rate = messages / seconds
    const t = opts.total
    const fraction = t === null ? null : 'bytes' in t ? (t.bytes > 0 ? Math.min(bytes / t.bytes, 1) : 1) : t.messages > 0 ? Math.min(messages / t.messages, 1) : 1
    const eta = fraction !== null && fraction > 0 && fraction < 1 ? ` ETA ${formatDuration((seconds * (1 - fraction)) / fraction)}` : ''
    const pct = fraction === null ? '' : ` ${Math.floor(fraction * 100)}%`
    return {
      line: `${opts.verb} ${messages} messages (${formatBytes(bytes)})${pct}, ${Math.round(rate)} msg/s, ${formatBytes(bytes / seconds)}/s${eta}`,
      fraction,
    }
  }

  return {
    update(messages, bytes) {
      const t = now()
      if (t - last < (opts.isTTY ? REDRAW_MS : LINE_EVERY_MS)) return
      last = t
      const { line, fraction } = text(messages, bytes)
      if (opts.isTTY) {
        const filled = fraction === null ? 0 : Math.round(fraction * BAR_WIDTH)
        const bar = fraction === null ? '' : `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] `
        out.write(`\r\x1b[2K${bar}${line}`)
        drawn = true
      } else {
        out.write(`${line}\n`)
      }
    },
    done() {
      if (drawn) out.write('\r\x1b[2K')
      drawn = false
    },
  }
}
