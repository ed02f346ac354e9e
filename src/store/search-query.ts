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
  table: 'messages_fts' | 'messages_search_fts' | 'messages_substring_fts'
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
  // (a field may have an empty value, "from:" alone, which the field then ignores or refuses)
  const re = /([-!]?)(?:([a-z][a-z0-9-]*):)?(?:"((?:[^"\\]|\\.)*)"?|(\S*))/giy
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

const ftsString = (s: string): string => '"' + s.replace(/"/g, '""') + '"'
const NOTHING: SqlFilter = { where: '1', params: [] }

/**
 * A free word or "quoted phrase", matched as Mailpit matches it: anywhere inside the subject, an
 * address or name, an attachment's file name or the text (migration 006's trigram index; the
 * indexed text has its whitespace runs folded to one space, and so has the value). Values of
 * fewer than 3 characters cannot use trigrams and go to the word index as a prefix match.
 */
function freeText(value: string): CompiledTerm {
  const v = value.replace(/\s+/g, ' ').trim()
  if ([...v].length >= MIN_TRIGRAM_CHARS) {
    const match = ftsString(v)
    return {
      where: 'm.seq IN (SELECT rowid FROM messages_substring_fts WHERE messages_substring_fts MATCH ?)',
      params: [match],
      fts: { table: 'messages_substring_fts', match, residual: NOTHING },
    }
  }
  const phrase = ftsPhrase(v)
  if (!phrase) return NOTHING
  return {
    where: 'm.seq IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?)',
    params: [phrase],
    fts: { table: 'messages_fts', match: phrase, residual: NOTHING },
  }
}

const ADDRESS_KEYS = { to: ['To'], cc: ['Cc'], bcc: ['Bcc'], 'reply-to': ['ReplyTo'], addressed: ['To', 'Cc', 'Bcc', 'ReplyTo'] } as const

/** Some address (name or address) in the given headers of the summary contains `v`. */
function addressLike(keys: readonly string[], v: string): SqlFilter {
  const each =
    keys.length === 1
      ? `json_each(m.addresses_json, '$.${keys[0]}') a`
      : `json_each(m.addresses_json) k, json_each(k.value) a`
  const which = keys.length === 1 ? '' : `k.key IN (${keys.map((k) => `'${k}'`).join(', ')}) AND `
  return {
    where: `EXISTS (SELECT 1 FROM ${each} WHERE ${which}(lower(a.value ->> 'Address') LIKE ? ESCAPE '\\' OR lower(a.value ->> 'Name') LIKE ? ESCAPE '\\'))`,
    params: [contains(v), contains(v)],
  }
}

/**
 * An address term checked on the summary's address lists, with a trigram index narrowing the rows
 * first for 3+ characters: `column` of `table` holds a superset of those addresses, so the lookup
 * never loses a match and the JSON check alone decides.
 */
function indexedAddressTerm(keys: readonly string[], v: string, negate: boolean, table: FtsDriver['table'], column: string): CompiledTerm {
  const exact = addressLike(keys, v)
  const lower = v.toLowerCase()
  if (negate || [...lower].length < MIN_TRIGRAM_CHARS) return exact
  const match = `{${column}} : ${ftsString(lower)}`
  return {
    where: `m.seq IN (SELECT rowid FROM ${table} WHERE ${table} MATCH ?) AND ${exact.where}`,
    params: [match, ...exact.params],
    fts: { table, match, residual: exact },
  }
}

// Sizes as Mailpit takes them: a number with an optional unit, K/M/G in powers of 1024.
const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, m: 1024 ** 2, mb: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3 }

function parseSize(field: string, value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(value.trim())
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined
  if (!m || unit === undefined) throw new AppError('BAD_QUERY', `${field}: expected a size like 500, 2k or 1.5M, got "${value}"`)
  return Math.round(Number(m[1]) * unit)
}

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

export interface SearchOptions {
  /** IANA time zone for date-only before:/after: values (Mailpit's `tz` parameter); UTC when unset. */
  tz?: string
}

/** Milliseconds to add to UTC to get the wall-clock time in `tz` at instant `t`. */
function zoneOffset(t: number, tz: Intl.DateTimeFormat): number {
  const parts = new Map<string, number>()
  for (const p of tz.formatToParts(new Date(t))) if (p.type !== 'literal') parts.set(p.type, Number(p.value))
  const get = (type: string): number => parts.get(type) ?? 0
  const wall = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'))
  return wall - Math.floor(t / 1000) * 1000
}

function zoneFormat(tz: string): Intl.DateTimeFormat {
  try {
    return new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    })
  } catch {
    throw new AppError('BAD_QUERY', `tz: "${tz}" is not a known time zone (use a name like Europe/Paris)`)
  }
}

/**
 * The instant a date-only value starts: midnight of that day in `tz` (UTC by default). The offset
 * is taken at the UTC guess and again at the result, which settles days where it changes (DST).
 */
function startOfDay(day: string, tz: string | undefined): number {
  const utc = Date.parse(day + 'T00:00:00Z')
  if (!tz || Number.isNaN(utc)) return utc
  const fmt = zoneFormat(tz)
  let t = utc - zoneOffset(utc, fmt)
  t = utc - zoneOffset(t, fmt)
  return t
}

function parseDate(field: string, value: string, opts: SearchOptions): number {
  const t = /^\d{4}-\d{2}-\d{2}$/.test(value) ? startOfDay(value, opts.tz) : Date.parse(value)
  if (Number.isNaN(t)) throw new AppError('BAD_QUERY', `${field}: expected a date like 2026-01-31, got "${value}"`)
  return t
}

const AUTH_RESULTS = new Set(['pass', 'fail', 'softfail', 'neutral', 'none', 'temperror', 'permerror', 'policy', 'not-evaluated'])

/** Every field the search knows (the UI's search help lists each of them). */
export const SEARCH_FIELDS = [
  'from', 'to', 'addressed', 'cc', 'bcc', 'reply-to', 'subject', 'message-id', 'larger', 'smaller', 'tag', 'is', 'has',
  'before', 'after', 'mailfrom', 'rcpt', 'helo', 'origin', 'ip', 'spf', 'dmarc', 'arc', 'dkim', 'kind', 'status', 'listener',
] as const

// Fields whose empty value ("from:" alone, or from:"") is ignored, as Mailpit ignores it, rather
// than matching every message or none.
const IGNORED_WHEN_EMPTY = new Set(['from', 'to', 'cc', 'bcc', 'reply-to', 'addressed', 'subject', 'message-id', 'tag'])

function compileTerm(t: Term, opts: SearchOptions): CompiledTerm {
  const v = t.value
  if (IGNORED_WHEN_EMPTY.has(t.field) && v.trim() === '') return NOTHING
  const spam = compileSpamTerm(t)
  if (spam) return spam
  switch (t.field) {
    case '':
      return freeText(v)
    case 'from':
      return substringTerm('from_search', v, t.negate)
    case 'to':
      // To only, as Mailpit; to_search (To and Cc) narrows the rows, the To list decides
      return indexedAddressTerm(ADDRESS_KEYS.to, v, t.negate, 'messages_search_fts', 'to_search')
    case 'addressed':
      // any recipient header: To, Cc, Bcc or Reply-To
      return indexedAddressTerm(ADDRESS_KEYS.addressed, v, t.negate, 'messages_substring_fts', 'addresses')
    case 'cc':
    case 'bcc':
    case 'reply-to':
      return addressLike(ADDRESS_KEYS[t.field], v)
    case 'subject':
      return { where: "m.subject LIKE ? ESCAPE '\\'", params: [contains(v)] }
    case 'message-id':
      // a part of the Message-ID, as Mailpit matches it; <> around a whole one are dropped
      return { where: "m.message_id LIKE ? ESCAPE '\\'", params: [`%${likeEscape(v.trim().replace(/^<|>$/g, ''))}%`] }
    case 'larger':
      return { where: 'm.size > ?', params: [parseSize('larger', v)] }
    case 'smaller':
      return { where: 'm.size < ?', params: [parseSize('smaller', v)] }
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
      if (/^inline$/i.test(v)) return { where: 'm.inline_parts > 0', params: [] }
      throw new AppError('BAD_QUERY', `has:${v} is not known; use has:attachment or has:inline`)
    // A date-only value means the start of that day (in the tz parameter's zone): before:D is
    // everything received before D began, after:D everything from D on.
    case 'before':
      return { where: 'm.received_at < ?', params: [parseDate('before', v, opts)] }
    case 'after':
      return { where: 'm.received_at >= ?', params: [parseDate('after', v, opts)] }
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
      return freeText(`${t.field}:${v}`)
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

export function compileSearch(query: string, opts: SearchOptions = {}): SqlFilter {
  // A term that compiles to nothing (an empty from:, a lone "-", punctuation only) is dropped, so
  // that negating it does not turn it into "match nothing".
  const compiled = tokenize(query)
    .map((term) => ({ term, c: compileTerm(term, opts) }))
    .filter(({ c }) => c.where !== '1')
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
