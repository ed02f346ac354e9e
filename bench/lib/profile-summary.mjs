// Summarises a V8 .cpuprofile (node --cpu-prof): self time by function, top N.
// Usable on its own: node bench/lib/profile-summary.mjs FILE.cpuprofile [N]
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export function summariseProfile(file, top = 25) {
  const p = JSON.parse(readFileSync(file, 'utf8'))
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const selfById = new Map()
  let total = 0
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i] ?? 0
    selfById.set(id, (selfById.get(id) ?? 0) + dt)
    total += dt
  })
  const self = new Map()
  for (const [id, t] of selfById) {
    const cf = byId.get(id).callFrame
    const where = cf.url ? `${cf.url.replace(/^file:\/\//, '').split('/').slice(-3).join('/')}:${cf.lineNumber + 1}` : ''
    const key = `${(cf.functionName || '(anonymous)').slice(0, 60)} ${where}`.trim()
    self.set(key, (self.get(key) ?? 0) + t)
  }
  const rows = [...self].sort((a, b) => b[1] - a[1]).slice(0, top)
  // Who calls the heaviest functions (native ones like sqliteTransaction say little on their own)
  const parent = new Map()
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const nameOf = (id) => {
    const cf = byId.get(id).callFrame
    const where = cf.url ? `${cf.url.replace(/^file:\/\//, '').split('/').slice(-3).join('/')}:${cf.lineNumber + 1}` : ''
    return `${(cf.functionName || '(anonymous)').slice(0, 60)} ${where}`.trim()
  }
  const callers = {}
  for (const [fn] of rows.slice(0, 3)) {
    const by = new Map()
    for (const [id, t] of selfById) {
      if (nameOf(id) !== fn) continue
      const chain = []
      for (let q = parent.get(id), d = 0; q !== undefined && d < 3; q = parent.get(q), d++) chain.push(nameOf(q))
      const key = chain.join(' < ')
      by.set(key, (by.get(key) ?? 0) + t)
    }
    callers[fn] = [...by].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([chain, us]) => ({ chain, ms: us / 1000 }))
  }
  return { totalMs: total / 1000, rows: rows.map(([fn, us]) => ({ fn, ms: us / 1000, pct: (100 * us) / total })), callers }
}

export function formatProfile(summary) {
  const lines = [`total sampled ${summary.totalMs.toFixed(0)} ms`]
  for (const r of summary.rows) lines.push(`${r.ms.toFixed(0).padStart(8)} ms ${r.pct.toFixed(1).padStart(5)}%  ${r.fn}`)
  for (const [fn, list] of Object.entries(summary.callers ?? {})) {
    lines.push(`callers of ${fn}:`)
    for (const c of list) lines.push(`${c.ms.toFixed(0).padStart(8)} ms  ${c.chain}`)
  }
  return lines.join('\n')
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(formatProfile(summariseProfile(process.argv[2], Number(process.argv[3] ?? 30))))
}
