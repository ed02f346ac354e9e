// Diagnostic preload for the holdmail child (node --import): times every better-sqlite3
// transaction (grouped by its function's source text) with its batch size, and samples event-loop
// delay; writes the numbers as JSON to $BENCH_PROBE_OUT when the process exits. Changes nothing
// in holdmail's behaviour beyond the cost of two performance.now() calls per transaction.
// The build of better-sqlite3 holdmail itself loads on this Node (src/store/sqlite.ts).
import { Database } from '../../dist/store/sqlite.js'
import { writeFileSync } from 'node:fs'
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'

const out = process.env.BENCH_PROBE_OUT
const groups = new Map()
const loop = monitorEventLoopDelay({ resolution: 5 })
loop.enable()

// What-if experiments, to size a proposed fix without touching src/ (comma-separated in
// $BENCH_PROBE_EXPERIMENTS): 'sync-normal' turns holdmail's `synchronous = FULL` into NORMAL;
// 'no-indexer' makes the indexer's "unindexed" query return nothing (an upper bound for moving
// indexing off the SMTP event loop).
const experiments = new Set((process.env.BENCH_PROBE_EXPERIMENTS ?? '').split(',').filter(Boolean))
// 'cache-16m' turns holdmail's 64 MiB page cache (`cache_size = -65536`) into 16 MiB.
if (experiments.has('sync-normal') || experiments.has('cache-16m')) {
  const pragma = Database.prototype.pragma
  Database.prototype.pragma = function (source, options) {
    let s = source
    if (experiments.has('sync-normal') && /^\s*synchronous\s*=\s*full\s*$/i.test(s)) s = 'synchronous = NORMAL'
    if (experiments.has('cache-16m') && /^\s*cache_size\s*=\s*-65536\s*$/i.test(s)) s = 'cache_size = -16384'
    return pragma.call(this, s, options)
  }
}
if (experiments.has('no-indexer')) {
  const prepare = Database.prototype.prepare
  Database.prototype.prepare = function (sql) {
    const stmt = prepare.call(this, sql)
    if (/WHERE m\.indexed_at IS NULL ORDER BY m\.seq LIMIT/.test(sql)) stmt.all = () => []
    return stmt
  }
}

const original = Database.prototype.transaction
Database.prototype.transaction = function (fn) {
  const tx = original.call(this, fn)
  const key = fn.toString().replace(/\s+/g, ' ').slice(0, 80)
  let g = groups.get(key)
  if (!g) groups.set(key, (g = { calls: 0, items: 0, totalMs: 0, durations: [] }))
  const wrapped = function (...args) {
    const t0 = performance.now()
    try {
      return tx.apply(this, args)
    } finally {
      const ms = performance.now() - t0
      g.calls++
      g.items += Array.isArray(args[0]) ? args[0].length : 1
      g.totalMs += ms
      if (g.durations.length < 200_000) g.durations.push(ms)
    }
  }
  for (const k of ['deferred', 'immediate', 'exclusive', 'database']) if (k in tx) wrapped[k] = tx[k]
  return wrapped
}

// memory split (what RSS is made of), sampled once a second; the sample with the highest RSS is kept
let memPeak = null
const memTimer = setInterval(() => {
  const m = process.memoryUsage()
  if (!memPeak || m.rss > memPeak.rss) memPeak = m
}, 1000)
memTimer.unref()
const mib = (m) => m && Object.fromEntries(Object.entries(m).map(([k, v]) => [k, Math.round(v / 1048576)]))

const pct = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : null)

process.on('exit', () => {
  if (!out) return
  const tx = {}
  for (const [key, g] of groups) {
    if (g.calls === 0) continue
    const d = g.durations.sort((a, b) => a - b)
    tx[key] = { calls: g.calls, items: g.items, itemsPerCall: g.items / g.calls, totalMs: g.totalMs, p50Ms: pct(d, 50), p99Ms: pct(d, 99), maxMs: d[d.length - 1] }
  }
  const ms = (ns) => ns / 1e6
  writeFileSync(out, JSON.stringify({ experiments: [...experiments], transactions: tx, memoryMiB: { atExit: mib(process.memoryUsage()), atPeakRss: mib(memPeak) }, eventLoopDelay: { p50Ms: ms(loop.percentile(50)), p99Ms: ms(loop.percentile(99)), maxMs: ms(loop.max), meanMs: ms(loop.mean) } }, null, 2))
})
