import { readFileSync } from 'node:fs'
import { AppError } from '../errors.js'
import { inAnyCidr, parseCidr, type Cidr } from '../net/index.js'

// A smarttable-style route file: one rule a line, "<match> <tag>[,<tag>...]", # comments.
//   spammer@example.com      campaign-a       envelope sender, exact address
//   @bad.example             bad-domain       sender domain (.bad.example also matches subdomains)
//   rcpt:@trap.example       trap             recipient address or domain, same forms
//   ip:203.0.113.0/24        botnet           client IP or CIDR (the original client's)
//   helo:*.dynamic.example   dynamic-helo     HELO name, * as a wildcard
// Rules only add tags; holdmail has nothing to route mail to. The format is documented for users
// in docs/recipes.md ("The routes file").

const KINDS: Record<string, RouteRule['kind']> = { from: 'from', rcpt: 'rcpt', to: 'rcpt', ip: 'ip', helo: 'helo' }

export interface RouteRule {
  line: number
  kind: 'from' | 'rcpt' | 'ip' | 'helo'
  pattern: string
  cidr: Cidr | null
  tags: string[]
}

export interface RouteSubject {
  mailFrom: string
  rcptTo: readonly string[]
  clientIp: string
  helo: string
}

export function parseRoutes(text: string, source = 'routes'): RouteRule[] {
  const rules: RouteRule[] = []
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim()
    if (!line) return
    const [match = '', ...rest] = line.split(/\s+/)
    const tags = rest.join(',').split(',').map((t) => t.trim()).filter(Boolean)
    if (tags.length === 0) throw new AppError('BAD_CONFIG', `${source}:${i + 1}: "${match}" has no tag after it`)
    // A word before a colon is a prefix. Sender patterns never contain one (an address with a
    // colon would need a quoted local part), so an unknown prefix is a typo, not a sender: loading
    // it as one would silently never match.
    const m = /^([^:@<>]*):(.*)$/.exec(match)
    const kind = m ? KINDS[m[1]!.toLowerCase()] : 'from'
    if (!kind) {
      throw new AppError('BAD_CONFIG', `${source}:${i + 1}: unknown prefix "${m![1]}:" in "${match}" (use from:, rcpt:, to:, ip:, helo: or a bare sender)`)
    }
    const pattern = (m ? m[2]! : match).toLowerCase()
    if (!pattern) throw new AppError('BAD_CONFIG', `${source}:${i + 1}: "${match}" has nothing after the prefix`)
    let cidr: Cidr | null = null
    if (kind === 'ip') {
      cidr = parseCidr(pattern)
      if (!cidr) throw new AppError('BAD_CONFIG', `${source}:${i + 1}: "${pattern}" is not an IP address or CIDR range`)
    }
    rules.push({ line: i + 1, kind, pattern, cidr, tags })
  })
  return rules
}

/**
 * Reads and parses the --routes file. Every error names the flag and the file (and the line, for a
 * bad rule), since a start-up error is all the user sees: "--routes /etc/holdmail/routes: ENOENT ...".
 */
export function loadRoutesFile(path: string, flag = '--routes'): RouteRule[] {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    throw new AppError('BAD_CONFIG', `${flag} ${path}: ${e.code ? `${e.code}: ` : ''}${e.message.replace(/^\w+: /, '')}`, { cause: err })
  }
  return parseRoutes(text, `${flag} ${path}`)
}

function addressMatches(pattern: string, address: string): boolean {
  const a = address.toLowerCase()
  if (pattern === '<>') return a === ''
  const domain = a.slice(a.lastIndexOf('@') + 1)
  if (pattern.startsWith('@')) return domain === pattern.slice(1)
  if (pattern.startsWith('.')) return domain.endsWith(pattern) || domain === pattern.slice(1)
  if (!pattern.includes('@')) return domain === pattern
  return a === pattern
}

const globToRegExp = (glob: string): RegExp =>
  new RegExp('^' + glob.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$', 'i')

export function tagsForRoutes(rules: readonly RouteRule[], s: RouteSubject): string[] {
  const tags = new Set<string>()
  for (const r of rules) {
    const hit =
      r.kind === 'from'
        ? addressMatches(r.pattern, s.mailFrom)
        : r.kind === 'rcpt'
          ? s.rcptTo.some((a) => addressMatches(r.pattern, a))
          : r.kind === 'ip'
            ? inAnyCidr([r.cidr!], s.clientIp)
            : globToRegExp(r.pattern).test(s.helo)
    if (hit) for (const t of r.tags) tags.add(t)
  }
  return [...tags]
}
