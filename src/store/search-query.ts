import { AppError } from '../errors.js'
import { parseCidr } from '../config/index.js'

// Mailpit's search syntax compiled to one SQL condition over `messages m`:
// words and "quoted phrases" (full-text index), field:value terms, and "-" or "!" for negation.
// Every value becomes a bound parameter; nothing from the query is spliced into the SQL text.

export interface SqlFilter {
  where: string // '1' when the query is empty
  params: (string | number)[]
  /**
   * Set when every match must appear in a full-text table (a positive word or from:/to: term):
   * a caller may then read that table in rowid (= seq) order and join messages, instead of
   * evaluating `where`. `driver.where` is the rest of the condition, to apply to the joined rows.
   */
  driver?: FtsDriver
}

export interface FtsDriver {
  table: 'messages_fts' | 'messages_search_fts'
  match: string
  where: string
  params: (string | number)[]
}

interface CompiledTerm extends SqlFilter {
  // the index lookup of this term, and what must still hold for a row that the lookup returned
  fts?: { table: FtsDriver['table']; match: string; residual: SqlFilter }
}

interface Term {
  negate: boolean
  field: string // '' for a free word
  value: string
}

// Each term becomes at least one SQL condition with its own parameters; a search of thousands of
// terms ran past SQLite's expression depth and parameter limits (a 500). No one types a hundred.
export const MAX_SEARCH_TERMS = 100

export function tokenize(query: string): Term[] {
  const terms: Term[] = []
  // a term: optional -/!, optional field:, then a "quoted" or bare value
  const re = /([-!]?)(?:([a-z][a-z0-9-]*):)?(?:"((?:[^"\\]|\\.)*)"?|(\S+))/giy
  let i = 0
  while (i < query.length) {
    if (/\s/.test(query[i]!)) {
      i++
      continue
    }
    re.lastIndex = i
    const m = re.exec(query)
    if (!m || m[0] === '') throw new AppError('BAD_QUERY', `cannot read the search at "${query.slice(i, i + 20)}"`)
    i = re.lastIndex
    const value = m[3] !== undefined ? m[3].replace(/\\(.)/g, '$1') : (m[4] ?? '')
    terms.push({ negate: m[1] !== '', field: (m[2] ?? '').toLowerCase(), value })
    if (terms.length > MAX_SEARCH_TERMS) {
      throw new AppError('BAD_QUERY', `the search has more than ${MAX_SEARCH_TERMS} terms; narrow it down to at most ${MAX_SEARCH_TERMS}`)
    }
  }
  return terms
}

const likeEscape = (s: string): string => s.replace(/[\\%_]/g, (c) => '\\' + c)
const contains = (s: string): string => `%${likeEscape(s.toLowerCase())}%`
// A `*` glob as --routes rules take it (route-table.ts): the whole value must match, `*` standing
// for any run of characters. LIKE is case-insensitive for ASCII, as HELO names are.
const globLike = (glob: string): string => glob.split('*').map(likeEscape).join('%')

function ftsPhrase(value: string): string | null {
  // Tokens as the unicode61 tokenizer sees them; the last one matches as a prefix
  // (so "invoic" finds "invoice"), which is the closest a word index gets to Mailpit's substrings.
  const words = value.match(/[\p{L}\p{N}]+/gu)
  if (!words) return null
  return '"' + words.join(' ') + '"*'
}

// Trigrams need 3 characters: a shorter value cannot use the index (and would match no row in it).
const MIN_TRIGRAM_CHARS = 3

/**
 * from: and to: are substring matches on a lower-cased column. The LIKE alone decides what
 * matches; for 3+ characters the trigram index (case-folded, so it finds a superset) narrows the
 * rows first. A negated term is left as the plain LIKE: it has to look at every row anyway.
 */
function substringTerm(column: 'from_search' | 'to_search', v: string, negate: boolean): CompiledTerm {
  const like: SqlFilter = { where: `m.${column} LIKE ? ESCAPE '\\'`, params: [contains(v)] }
  const lower = v.toLowerCase()
  if (negate || [...lower].length < MIN_TRIGRAM_CHARS) return like
  const match = `{${column}} : "${lower.replace(/"/g, '""')}"`
  return {
    where: `m.seq IN (SELECT rowid FROM messages_search_fts WHERE messages_search_fts MATCH ?) AND ${like.where}`,
    params: [match, ...like.params],
    fts: { table: 'messages_search_fts', match, residual: like },
  }
}

function parseDate(field: string, value: string, endOfDay: boolean): number {
  let t: number
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) {
    t = Date.parse(value + 'T00:00:00Z') + (endOfDay ? 86_400_000 : 0)
  } else {
    t = Date.parse(value)
  }
  if (Number.isNaN(t)) throw new AppError('BAD_QUERY', `${field}: expected a date like 2026-01-31, got "${value}"`)
  return t
}

const AUTH_RESULTS = new Set(['pass', 'fail', 'softfail', 'neutral', 'none', 'temperror', 'permerror', 'policy', 'not-evaluated'])

function compileTerm(t: Term): CompiledTerm {
  const v = t.value
  const spam = compileSpamTerm(t)
  if (spam) return spam
  switch (t.field) {
    case '': {
      const phrase = ftsPhrase(v)
      if (!phrase) return { where: '1', params: [] }
      return {
        where: 'm.seq IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?)',
        params: [phrase],
        fts: { table: 'messages_fts', match: phrase, residual: { where: '1', params: [] } },
      }
    }
    case 'from':
    case 'to':
      return substringTerm(t.field === 'from' ? 'from_search' : 'to_search', v, t.negate)
    case 'cc':
    case 'bcc':
    case 'reply-to': {
      const key = { cc: 'Cc', bcc: 'Bcc', 'reply-to': 'ReplyTo' }[t.field]
      return {
        where: `EXISTS (SELECT 1 FROM json_each(m.addresses_json, '$.${key}') a WHERE lower(a.value ->> 'Address') LIKE ? ESCAPE '\\' OR lower(a.value ->> 'Name') LIKE ? ESCAPE '\\')`,
        params: [contains(v), contains(v)],
      }
    }
    case 'subject':
      return { where: "m.subject LIKE ? ESCAPE '\\'", params: [contains(v)] }
    case 'message-id':
      return { where: 'm.message_id = ?', params: [v.replace(/^<|>$/g, '')] }
    case 'tag':
      return {
        where: 'm.seq IN (SELECT mt.seq FROM message_tags mt JOIN tags t ON t.tag_id = mt.tag_id WHERE t.name = ?)',
        params: [v],
      }
    case 'is':
      switch (v.toLowerCase()) {
        case 'read':
          return { where: 'm.read = 1', params: [] }
        case 'unread':
          return { where: 'm.read = 0', params: [] }
        case 'tagged':
          return { where: 'm.seq IN (SELECT seq FROM message_tags)', params: [] }
        case 'pregreet':
          return { where: 'm.pregreet = 1', params: [] }
        case 'tls':
          return { where: 'm.tls_protocol IS NOT NULL', params: [] }
        case 'auth':
          return { where: 'm.auth_user IS NOT NULL', params: [] }
        case 'unparsed':
          return { where: 'm.parse_error IS NOT NULL', params: [] }
        case 'malformed':
          // MAIL FROM or a RCPT TO that was not a valid path, kept as written (migration 004)
          return { where: 'm.malformed = 1', params: [] }
        default:
          throw new AppError(
            'BAD_QUERY',
            `is:${v} is not known; use is:read, is:unread, is:tagged, is:pregreet, is:tls, is:auth, is:unparsed or is:malformed`,
          )
      }
    case 'has':
      if (/^attachments?$/i.test(v)) return { where: 'm.attachments > 0', params: [] }
      throw new AppError('BAD_QUERY', `has:${v} is not known; use has:attachment`)
    case 'before':
      return { where: 'm.received_at < ?', params: [parseDate('before', v, false)] }
    case 'after':
      return { where: 'm.received_at >= ?', params: [parseDate('after', v, true)] }
    case 'mailfrom':
      if (v === '<>' || v === '') return { where: "m.mail_from = ''", params: [] }
      return { where: "m.mail_from LIKE ? ESCAPE '\\'", params: [contains(v)] }
    case 'rcpt':
      return { where: "m.seq IN (SELECT seq FROM recipients WHERE address LIKE ? ESCAPE '\\')", params: [contains(v)] }
    case 'helo':
      // The HELO name is stored as the client wrote it; a value with `*` is a glob over the whole
      // name, as in --routes, and one without matches any part of it.
      return { where: "m.helo LIKE ? ESCAPE '\\'", params: [v.includes('*') ? globLike(v) : contains(v)] }
    case 'origin': {
      // the server that really sent the mail a bounce returns (its quoted Received chain)
      const cidr = parseCidr(v)
      if (!cidr) throw new AppError('BAD_QUERY', `origin: expected an IP address or CIDR range, got "${v}"`)
      return {
        where: "m.kind = 'bounce' AND ip_in_cidr(m.analysis_json ->> '$.Bounce.Original.OriginIP', ?)",
        params: [cidr.text],
      }
    }
    case 'ip': {
      const cidr = parseCidr(v)
      if (!cidr) throw new AppError('BAD_QUERY', `ip: expected an IP address or CIDR range like 192.0.2.0/24, got "${v}"`)
      if (cidr.family === 4) {
        const span = 2 ** (32 - cidr.prefix)
        const lo = Number(cidr.bits)
        return { where: 'm.client_ip4 BETWEEN ? AND ?', params: [lo, lo + span - 1] }
      }
      return { where: 'ip_in_cidr(m.client_ip, ?)', params: [cidr.text] }
    }
    case 'spf':
    case 'dmarc':
    case 'arc': {
      const result = v.toLowerCase()
      if (!AUTH_RESULTS.has(result)) throw new AppError('BAD_QUERY', `${t.field}: expected one of ${[...AUTH_RESULTS].join(', ')}`)
      return { where: `(m.auth_json ->> '$.${t.field.toUpperCase()}.Result') = ?`, params: [result] }
    }
    case 'dkim': {
      const result = v.toLowerCase()
      if (!AUTH_RESULTS.has(result)) throw new AppError('BAD_QUERY', `dkim: expected one of ${[...AUTH_RESULTS].join(', ')}`)
      if (result === 'none') {
        return { where: "(m.auth_json IS NOT NULL AND json_array_length(m.auth_json, '$.DKIM') = 0)", params: [] }
      }
      return { where: "EXISTS (SELECT 1 FROM json_each(m.auth_json, '$.DKIM') d WHERE d.value ->> 'Result' = ?)", params: [result] }
    }
    case 'kind':
      return { where: 'm.kind = ?', params: [v.toLowerCase()] }
    case 'status':
      return {
        where: "EXISTS (SELECT 1 FROM json_each(m.analysis_json, '$.Bounce.Recipients') r WHERE (r.value ->> 'Status') LIKE ? ESCAPE '\\')",
        params: [likeEscape(v) + '%'],
      }
    case 'listener':
      return { where: 'm.listener = ?', params: [v.toLowerCase()] }
    default:
      // An unknown field is most likely a word containing a colon ("re:", a URL): search it as text.
      return compileTerm({ negate: false, field: '', value: `${t.field}:${v}` })
  }
}

/**
 * SpamAssassin terms (columns of migration 008): `score:>5`, `score:<=1.5`, `score:3` (at least 3)
 * and `is:spam` (spamd's own verdict against its threshold). null for any other term.
 */
function compileSpamTerm(t: Term): CompiledTerm | null {
  if (t.field === 'is' && t.value.toLowerCase() === 'spam') return { where: 'm.spam_flag = 1', params: [] }
  if (t.field !== 'score') return null
  const m = /^(>=|<=|>|<|=)?(-?\d+(?:\.\d+)?)$/.exec(t.value.trim())
  if (!m) throw new AppError('BAD_QUERY', `score: expected a SpamAssassin score like score:>5, score:<1 or score:5 (at least 5), got "${t.value}"`)
  return { where: `m.spam_score ${m[1] ?? '>='} ?`, params: [Number(m[2])] }
}

export function compileSearch(query: string): SqlFilter {
  const compiled = tokenize(query).map((term) => ({ term, c: compileTerm(term) }))
  // coalesce: a summary column is NULL until indexed, and NOT NULL would hide the row
  const sql = (negate: boolean, c: SqlFilter): string => (negate ? `NOT coalesce((${c.where}), 0)` : `(${c.where})`)
  const join = (items: { negate: boolean; c: SqlFilter }[]): SqlFilter => ({
    where: items.length ? items.map((x) => sql(x.negate, x.c)).join(' AND ') : '1',
    params: items.flatMap((x) => x.c.params),
  })
  const filter: SqlFilter = join(compiled.map(({ term, c }) => ({ negate: term.negate, c })))
  // The first positive term with an index lookup drives; it is usually the most selective one.
  const lead = compiled.findIndex(({ term, c }) => !term.negate && c.fts)
  if (lead >= 0) {
    const fts = compiled[lead]!.c.fts!
    const others = compiled.map(({ term, c }, i) => ({ negate: term.negate, c: i === lead ? fts.residual : c }))
    const rest = join(others.filter((x) => x.negate || x.c.where !== '1')) // '1': nothing left to check
    filter.driver = { table: fts.table, match: fts.match, where: rest.where, params: rest.params }
  }
  return filter
}
