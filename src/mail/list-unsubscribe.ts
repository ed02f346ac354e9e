import type { HeaderLine } from './headers.js'

export interface ListUnsubscribe {
  Header: string
  Links: string[]
  Errors: string
  HeaderPost: string
}

// List-Unsubscribe (RFC 2369 §3.2, with the RFC 8058 rules Gmail and Yahoo apply to bulk senders)
// checked as Mailpit checks it, so a developer sees the same verdict: every URI in <>, separated by
// commas, at most one mailto: and one http(s): URI, no spaces inside the brackets, comments in ()
// removed first. Links holds the URIs that passed; Errors says what did not, "" when all is well.
// No library covers this check; it is a few rules over one header value.

const HTTP = /^https?:\/\/[a-z0-9]/i
const MAILTO = /^mailto:[a-z0-9]/i

function validUri(uri: string): string | null {
  try {
    new URL(uri)
    return null
  } catch {
    return `"${uri}" is not a valid URI`
  }
}

export function parseListUnsubscribe(header: string): { links: string[]; errors: string[] } {
  const value = header.replace(/\([^)]*\)/g, '').trim()
  const links: string[] = []
  const errors: string[] = []
  const bracketed = [...value.matchAll(/<([^>]*)>/g)]
  if (bracketed.length === 0) return { links, errors: [`"${value}" no valid unsubscribe links found`] }
  if (!/^<[\s\S]*>$/.test(value)) return { links, errors: [`"${value}" should be enclosed in <>`] }
  if (bracketed.length > 2) return { links, errors: [`"${value}" should include a maximum of one email and one HTTP link`] }
  for (const between of value.matchAll(/>([^<]*)</g)) {
    if (!/^\s*,\s*$/.test(between[1]!)) return { links, errors: [`"${value}" <> should be split with a comma and optional spaces`] }
  }
  let mailto = false
  let http = false
  for (const [, uri] of bracketed) {
    const u = uri!
    if (/\s/.test(u)) {
      errors.push(`"${u}" should not contain spaces`)
      continue
    }
    if (MAILTO.test(u)) {
      if (mailto) {
        errors.push(`"${u}" should only contain one mailto:`)
        continue
      }
      mailto = true
    } else if (HTTP.test(u)) {
      if (http) {
        errors.push(`"${u}" should only contain one HTTP link`)
        continue
      }
      http = true
    } else {
      errors.push(`"${u}" should start with either http(s):// or mailto:`)
      continue
    }
    const invalid = validUri(u)
    if (invalid) errors.push(invalid)
    else links.push(u)
  }
  return { links, errors }
}

/**
 * The ListUnsubscribe object of the message API, from the raw header lines (mailparser folds every
 * List-* header into one `list` object and loses the original value).
 */
export function listUnsubscribeOf(headers: readonly HeaderLine[]): ListUnsubscribe {
  const first = (name: string): string | undefined => headers.find((h) => h.name.toLowerCase() === name)?.value
  const header = first('list-unsubscribe')
  if (header === undefined || header.trim() === '') return { Header: '', Links: [], Errors: '', HeaderPost: '' }
  const { links, errors } = parseListUnsubscribe(header)
  return { Header: header, Links: links, Errors: errors.join(', '), HeaderPost: first('list-unsubscribe-post') ?? '' }
}
