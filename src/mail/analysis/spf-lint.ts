import { isIPv4, isIPv6 } from 'node:net'
import type { DnsResolve } from './dns-resolver.js'

export interface SpfProblem {
  Severity: 'error' | 'warning' | 'info'
  Term: string
  Message: string
}

export interface SpfLintResult {
  Domain: string
  Record: string
  Lookups: number // DNS-querying terms, counted through include and redirect (RFC 7208 §4.6.4)
  VoidLookups: number
  Problems: SpfProblem[]
}

// RFC 7208 §4.6.4: more than 10 DNS-querying terms, or more than 2 void lookups, is a permerror.
const MAX_LOOKUPS = 10
const MAX_VOID_LOOKUPS = 2
// RFC 1035 §3.3.14: one TXT character-string carries at most 255 bytes.
const MAX_TXT_STRING = 255
// RFC 7208 §3.4: keep the whole answer within a 512-byte UDP response.
const MAX_RECORD_BYTES = 450
// Stop following includes past this depth; a real policy is never this deep, a loop always is.
const MAX_DEPTH = 12
// One lint request may spend this long waiting on DNS in all: it runs on behalf of an HTTP request or the
// CLI, and a slow or silent DNS server must not hold either for lookups times the resolver timeout.
export const SPF_LINT_BUDGET_MS = 5000

export interface SpfLintOptions {
  /** Overall time for the DNS lookups of one lint (default SPF_LINT_BUDGET_MS). */
  budgetMs?: number
}

const MECHANISMS = ['all', 'include', 'a', 'mx', 'ptr', 'ip4', 'ip6', 'exists'] as const
const MODIFIERS = ['redirect', 'exp'] as const
const QUERYING = new Set(['include', 'a', 'mx', 'ptr', 'exists', 'redirect'])

function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)])
  for (let j = 1; j <= b.length; j++) d[0]![j] = j
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
  }
  return d[a.length]![b.length]!
}

const COMMON_TYPOS: Record<string, string> = { ipv4: 'ip4', ipv6: 'ip6', ip: 'ip4', inc: 'include', includes: 'include', incl: 'include', exist: 'exists', mx4: 'mx' }

function suggest(name: string): string | null {
  const lower = name.toLowerCase()
  if (COMMON_TYPOS[lower]) return COMMON_TYPOS[lower]
  let best: string | null = null
  let bestD = 3
  for (const m of [...MECHANISMS, ...MODIFIERS]) {
    const d = distance(lower, m)
    if (d < bestD && d <= Math.max(1, Math.floor(m.length / 3))) {
      best = m
      bestD = d
    }
  }
  return best
}

function validCidr(value: string, max: number): boolean {
  return /^\d{1,3}$/.test(value) && Number(value) <= max
}

const DOMAIN_SPEC = /^(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.)+[A-Za-z0-9-]{1,63}\.?$/
const hasMacro = (s: string): boolean => s.includes('%{') || s.includes('%%') || s.includes('%_') || s.includes('%-')

interface Ctx {
  resolve: DnsResolve
  lookups: number
  voids: number
  problems: SpfProblem[]
  stack: string[]
  deadline: number
  budgetMs: number
  /** Set once no further DNS query is made, with the reason: where a receiver would stop, or the budget ran out. */
  halted: string | null
}

class Halted extends Error {
  readonly code = 'EHALTED'
}

/**
 * Every DNS query of a lint goes through here. It makes none once the lint has halted (a receiver would have
 * stopped: RFC 7208 §4.6.4 limits, or a DNS error giving temperror) and none past the time budget.
 */
async function query(ctx: Ctx, name: string, type: string, term: string): Promise<unknown[]> {
  if (ctx.halted) throw new Halted(ctx.halted)
  const left = ctx.deadline - Date.now()
  if (left <= 0) throw halt(ctx, term, `the DNS lookups took longer than ${ctx.budgetMs} ms in all`)
  let timer: NodeJS.Timeout | undefined
  const budget = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(halt(ctx, term, `the DNS lookups took longer than ${ctx.budgetMs} ms in all`)), left)
  })
  try {
    return await Promise.race([ctx.resolve(name, type), budget])
  } finally {
    clearTimeout(timer)
  }
}

function halt(ctx: Ctx, term: string, reason: string): Halted {
  if (!ctx.halted) {
    ctx.halted = reason
    ctx.problems.push({ Severity: 'warning', Term: term, Message: `${reason}: no further DNS lookups were made, later terms were checked for syntax only` })
  }
  return new Halted(reason)
}

/** Whether a term may still query DNS: receivers stop at the 11th DNS-querying term (RFC 7208 §4.6.4). */
function mayQuery(ctx: Ctx, term: string): boolean {
  if (ctx.halted) return false
  if (ctx.lookups > MAX_LOOKUPS) {
    halt(ctx, term, `the ${MAX_LOOKUPS + 1}th DNS-querying term is where receivers stop with permerror`)
    return false
  }
  return true
}

function isHalted(err: unknown): boolean {
  return err instanceof Halted
}

async function fetchSpf(domain: string, ctx: Ctx, term: string): Promise<string[] | null> {
  let txt: unknown[]
  try {
    txt = await query(ctx, domain, 'TXT', term)
  } catch (err) {
    if (isHalted(err)) return null
    const code = (err as { code?: string }).code
    if (code === 'ENOTFOUND' || code === 'ENODATA') return []
    ctx.problems.push({ Severity: 'error', Term: term, Message: `DNS lookup of TXT ${domain} failed (${code ?? 'error'}); receivers would return temperror` })
    // RFC 7208 §4.4: receivers stop at that error; so does the lint's DNS.
    halt(ctx, term, `DNS lookup of TXT ${domain} failed`)
    return null
  }
  const records: string[] = []
  for (const r of txt) {
    const parts = Array.isArray(r) ? r.map(String) : [String(r)]
    const joined = parts.join('')
    if (!/^v=spf1(?:\s|$)/i.test(joined)) continue
    for (const p of parts) {
      if (Buffer.byteLength(p) > MAX_TXT_STRING) {
        ctx.problems.push({ Severity: 'error', Term: term, Message: `a TXT string of ${domain} is ${Buffer.byteLength(p)} bytes; one string holds at most ${MAX_TXT_STRING}, split the record into several quoted strings` })
      }
    }
    records.push(joined)
  }
  return records
}

async function countAddressLookup(domain: string, type: 'A' | 'MX', ctx: Ctx, term: string): Promise<void> {
  if (hasMacro(domain) || !mayQuery(ctx, term)) return
  const types = type === 'A' ? ['A', 'AAAA'] : ['MX']
  const results = await Promise.allSettled(types.map((t) => query(ctx, domain, t, term)))
  if (results.some((r) => r.status === 'rejected' && isHalted(r.reason))) return
  const found = results.some((r) => r.status === 'fulfilled' && r.value.length > 0)
  const hardFailure = results.find((r) => r.status === 'rejected' && !['ENOTFOUND', 'ENODATA'].includes((r.reason as { code?: string }).code ?? ''))
  if (hardFailure) {
    ctx.problems.push({ Severity: 'warning', Term: term, Message: `DNS lookup of ${type} ${domain} failed; receivers would return temperror` })
    halt(ctx, term, `DNS lookup of ${type} ${domain} failed`)
    return
  }
  if (!found) {
    ctx.voids++
    ctx.problems.push({ Severity: 'warning', Term: term, Message: `${domain} has no ${type === 'A' ? 'A/AAAA' : 'MX'} records (a void lookup): remove the term or fix the name` })
    if (ctx.voids > MAX_VOID_LOOKUPS) halt(ctx, term, `receivers stop with permerror at the ${MAX_VOID_LOOKUPS + 1}rd name without records`)
  }
}

async function checkRecord(domain: string, record: string, ctx: Ctx, depth: number): Promise<void> {
  const where = depth === 0 ? '' : ` (in the record of ${domain})`
  const push = (Severity: SpfProblem['Severity'], Term: string, Message: string): void => {
    ctx.problems.push({ Severity, Term, Message: Message + where })
  }
  const terms = record.trim().split(/\s+/).slice(1) // drop "v=spf1"
  let sawAll = false
  let redirect: string | null = null
  for (const term of terms) {
    if (sawAll) {
      push('warning', term, `"${term}" comes after "all" and is never evaluated; move it before "all" or remove it`)
      continue
    }
    const mod = /^([A-Za-z][A-Za-z0-9_.-]*)=(.*)$/.exec(term)
    if (mod) {
      const name = (mod[1] ?? '').toLowerCase()
      const value = mod[2] ?? ''
      if (name === 'redirect') {
        if (redirect !== null) push('error', term, 'more than one redirect= modifier (RFC 7208 §6: permerror)')
        redirect = value
        ctx.lookups++
        if (!DOMAIN_SPEC.test(value) && !hasMacro(value)) push('error', term, `redirect= needs a domain name, got "${value}"`)
      } else if (name === 'exp') {
        if (!DOMAIN_SPEC.test(value) && !hasMacro(value)) push('error', term, `exp= needs a domain name, got "${value}"`)
      } else {
        const guess = suggest(name)
        if (guess && (MECHANISMS as readonly string[]).includes(guess)) {
          push('error', term, `unknown mechanism ${name}=, did you mean ${guess}:?`)
        } else {
          push('info', term, `unknown modifier ${name}= is ignored by receivers (RFC 7208 §6)`)
        }
      }
      continue
    }
    const m = /^([+\-~?]?)([A-Za-z][A-Za-z0-9_.-]*)(?::(.*?))?(\/.*)?$/.exec(term)
    if (!m) {
      push('error', term, `"${term}" is not a valid mechanism or modifier`)
      continue
    }
    const qualifier = m[1] || '+'
    const name = (m[2] ?? '').toLowerCase()
    const arg = m[3]
    const cidr = m[4] ?? ''
    const sep = term.includes(':') ? ':' : ''
    if (!(MECHANISMS as readonly string[]).includes(name)) {
      const guess = suggest(name)
      push('error', term, `unknown mechanism ${name}${sep}${guess ? `, did you mean ${guess}${sep}?` : ''} (receivers return permerror for the whole record)`)
      continue
    }
    if (QUERYING.has(name)) ctx.lookups++
    switch (name) {
      case 'all':
        sawAll = true
        if (arg !== undefined || cidr) push('error', term, '"all" takes no argument')
        else if (qualifier === '+') push('warning', term, `"${term}" permits anyone on the Internet to send as this domain; use "-all" (or "~all" while testing)`)
        else if (qualifier === '?') push('warning', term, '"?all" (neutral) says nothing about unlisted senders, so it effectively permits anyone; use "-all" (or "~all" while testing)')
        else if (qualifier === '~') push('info', term, '"~all" (softfail): receivers usually accept unlisted senders with a mark; switch to "-all" once every sender is listed')
        break
      case 'ip4': {
        const bits = cidr.slice(1)
        if (!arg || !isIPv4(arg)) push('error', term, `ip4: needs an IPv4 address, got "${arg ?? ''}"${arg && isIPv6(arg) ? ' (that is IPv6: use ip6:)' : ''}`)
        else if (cidr && !validCidr(bits, 32)) push('error', term, `invalid IPv4 prefix length "${cidr}" (0-32)`)
        break
      }
      case 'ip6': {
        const bits = cidr.slice(1)
        // "ip6:2001:db8::1" splits at the first colon, so rebuild the address from the whole term.
        const addr = term.replace(/^[+\-~?]?ip6:/i, '').replace(/\/.*$/, '')
        if (!isIPv6(addr)) push('error', term, `ip6: needs an IPv6 address, got "${addr}"${isIPv4(addr) ? ' (that is IPv4: use ip4:)' : ''}`)
        else if (cidr && !validCidr(bits, 128)) push('error', term, `invalid IPv6 prefix length "${cidr}" (0-128)`)
        break
      }
      case 'a':
      case 'mx': {
        const target = arg ?? domain
        if (arg !== undefined && !DOMAIN_SPEC.test(arg) && !hasMacro(arg)) push('error', term, `${name}: needs a domain name, got "${arg}"`)
        else if (cidr && !/^\/\d{1,2}(?:\/\/\d{1,3})?$|^\/\/\d{1,3}$/.test(cidr)) push('error', term, `invalid prefix length "${cidr}"`)
        else if (target) await countAddressLookup(target, name === 'a' ? 'A' : 'MX', ctx, term)
        break
      }
      case 'ptr':
        push('warning', term, '"ptr" is deprecated (RFC 7208 §5.5): slow, unreliable, and some receivers skip it; list the addresses with ip4:/ip6: instead')
        break
      case 'exists':
        if (!arg) push('error', term, 'exists: needs a domain name')
        break
      case 'include':
        if (!arg) push('error', term, 'include: needs a domain name')
        else if (!DOMAIN_SPEC.test(arg) && !hasMacro(arg)) push('error', term, `include: needs a domain name, got "${arg}"`)
        // Followed where it stands, as receivers evaluate it (RFC 7208 §5.2), so the limits apply in their order.
        else await follow(arg, term, ctx, depth, 'include')
        break
    }
  }
  if (redirect !== null && sawAll) push('info', `redirect=${redirect}`, 'redirect= is ignored because the record has "all" (RFC 7208 §6.1)')
  if (!sawAll && redirect === null) push('warning', '', 'no "all" term and no redirect=: unlisted senders get neutral, as with "?all"; end the record with "-all" or "~all"')

  if (redirect !== null && !sawAll && !hasMacro(redirect) && DOMAIN_SPEC.test(redirect)) await follow(redirect, `redirect=${redirect}`, ctx, depth, 'redirect')
}

async function follow(target: string, term: string, ctx: Ctx, depth: number, how: 'include' | 'redirect'): Promise<void> {
  if (hasMacro(target)) return
  const name = target.toLowerCase().replace(/\.$/, '')
  if (ctx.stack.includes(name)) {
    ctx.problems.push({ Severity: 'error', Term: term, Message: `${how} loop: ${[...ctx.stack, name].join(' → ')}; receivers hit the lookup limit and return permerror` })
    return
  }
  if (depth + 1 > MAX_DEPTH || !mayQuery(ctx, term)) return
  const records = await fetchSpf(name, ctx, term)
  if (records === null) return
  if (records.length === 0) {
    ctx.problems.push({ Severity: 'error', Term: term, Message: `${name} has no SPF record; an ${how} of it is a permerror (RFC 7208 §5.2/§6.1)` })
    ctx.voids++
    if (ctx.voids > MAX_VOID_LOOKUPS) halt(ctx, term, `receivers stop with permerror at the ${MAX_VOID_LOOKUPS + 1}rd name without records`)
    return
  }
  if (records.length > 1) {
    ctx.problems.push({ Severity: 'error', Term: term, Message: `${name} publishes ${records.length} v=spf1 records; receivers return permerror (RFC 7208 §4.5): merge them into one` })
    return
  }
  ctx.stack.push(name)
  await checkRecord(name, records[0] ?? '', ctx, depth + 1)
  ctx.stack.pop()
}

/** Checks a domain's SPF policy (or a literal "v=spf1 ..." record) for what makes receivers fail it or trust it too much. */
export async function lintSpf(input: string, resolver: DnsResolve, opts: SpfLintOptions = {}): Promise<SpfLintResult> {
  const text = input.trim()
  const budgetMs = opts.budgetMs ?? SPF_LINT_BUDGET_MS
  const ctx: Ctx = { resolve: resolver, lookups: 0, voids: 0, problems: [], stack: [], deadline: Date.now() + budgetMs, budgetMs, halted: null }
  let domain = ''
  let record: string
  if (/^v=spf1(?:\s|$)/i.test(text)) {
    record = text
    const bytes = Buffer.byteLength(record)
    if (bytes > MAX_TXT_STRING) {
      ctx.problems.push({ Severity: 'warning', Term: '', Message: `the record is ${bytes} bytes: longer than one 255-byte TXT string (oversize), publish it as several quoted strings` })
    }
  } else if (/^v=spf/i.test(text)) {
    ctx.problems.push({ Severity: 'error', Term: text.split(/\s/)[0] ?? '', Message: 'an SPF record starts with exactly "v=spf1"' })
    return { Domain: '', Record: text, Lookups: 0, VoidLookups: 0, Problems: ctx.problems }
  } else {
    domain = text.toLowerCase().replace(/\.$/, '')
    if (!DOMAIN_SPEC.test(domain)) {
      ctx.problems.push({ Severity: 'error', Term: text, Message: `"${text}" is neither a domain name nor a "v=spf1 ..." record` })
      return { Domain: text, Record: '', Lookups: 0, VoidLookups: 0, Problems: ctx.problems }
    }
    const records = await fetchSpf(domain, ctx, '')
    if (records === null) return { Domain: domain, Record: '', Lookups: 0, VoidLookups: 0, Problems: ctx.problems }
    if (records.length === 0) {
      ctx.problems.push({ Severity: 'error', Term: '', Message: `${domain} publishes no SPF record (no TXT record starting "v=spf1"); receivers return none` })
      return { Domain: domain, Record: '', Lookups: 0, VoidLookups: 0, Problems: ctx.problems }
    }
    if (records.length > 1) {
      ctx.problems.push({ Severity: 'error', Term: '', Message: `${domain} publishes ${records.length} v=spf1 records; receivers return permerror (RFC 7208 §4.5): merge them into one` })
    }
    record = records[0] ?? ''
  }
  if (Buffer.byteLength(record) > MAX_RECORD_BYTES) {
    ctx.problems.push({ Severity: 'warning', Term: '', Message: `the record is ${Buffer.byteLength(record)} bytes; answers over 512 bytes may need TCP (RFC 7208 §3.4), shorten it` })
  }
  if (domain) ctx.stack.push(domain)
  await checkRecord(domain, record, ctx, 0)
  if (ctx.lookups > MAX_LOOKUPS) {
    ctx.problems.push({ Severity: 'error', Term: '', Message: `${ctx.lookups} DNS-querying terms (include, a, mx, ptr, exists, redirect, counted through includes); the limit is ${MAX_LOOKUPS} (RFC 7208 §4.6.4), so receivers return permerror: replace includes you do not need or list addresses with ip4:/ip6:` })
  }
  if (ctx.voids > MAX_VOID_LOOKUPS) {
    ctx.problems.push({ Severity: 'error', Term: '', Message: `${ctx.voids} void lookups (names with no records); more than ${MAX_VOID_LOOKUPS} is a permerror (RFC 7208 §4.6.4): remove terms that point at nothing` })
  }
  return { Domain: domain, Record: record, Lookups: ctx.lookups, VoidLookups: ctx.voids, Problems: ctx.problems }
}
