// A small, forgiving MIME walker for analysis. mailparser decodes for display; here we need the raw
// structure of reports (message/delivery-status, message/feedback-report, text/rfc822-headers) even
// when a bounce generator got the MIME wrong, and it must never throw.
import type { HeaderLine } from '../headers.js'

export interface MimePart {
  headers: HeaderLine[]
  contentType: string // lowercased type/subtype, 'text/plain' when absent (RFC 2045 §5.2)
  params: Record<string, string>
  body: string // latin1 view of the (still encoded) body, line endings normalised to LF
  children: MimePart[] // multipart children, or the single embedded message of message/rfc822
}

// Deep nesting is hostile input, not mail; real bounces nest three or four levels.
const MAX_DEPTH = 12
const MAX_PARTS = 500

/** Bytes as a latin1 string with CRLF and bare CR turned into LF: one view, whatever the sender used. */
export function toText(raw: Buffer): string {
  let text = raw.toString('latin1')
  if (text.charCodeAt(0) === 0xef && text.charCodeAt(1) === 0xbb && text.charCodeAt(2) === 0xbf) text = text.slice(3) // UTF-8 BOM
  text = text.replace(/\r\n?/g, '\n')
  // an mbox "From " separator line is not a header
  if (text.startsWith('From ')) text = text.slice(text.indexOf('\n') + 1)
  return text
}

export function splitHeaders(text: string): { headers: HeaderLine[]; body: string } {
  const headers: HeaderLine[] = []
  let current: HeaderLine | null = null
  let pos = 0
  while (pos < text.length) {
    const nl = text.indexOf('\n', pos)
    const line = nl < 0 ? text.slice(pos) : text.slice(pos, nl)
    const next = nl < 0 ? text.length : nl + 1
    if (line.trim() === '') {
      pos = next
      break
    }
    if ((line[0] === ' ' || line[0] === '\t') && current) {
      current.value += ' ' + line.trim()
      pos = next
      continue
    }
    const colon = line.indexOf(':')
    if (colon <= 0 || /[\s]/.test(line.slice(0, colon).trimEnd())) {
      // Not a field: a generator forgot the blank line before the body (seen in real bounces).
      if (headers.length === 0 && line.startsWith('From ')) {
        pos = next
        continue
      }
      break
    }
    current = { name: line.slice(0, colon).trim(), value: line.slice(colon + 1).trim() }
    headers.push(current)
    pos = next
  }
  return { headers, body: text.slice(pos) }
}

export function headerValue(headers: readonly HeaderLine[], name: string): string {
  const n = name.toLowerCase()
  return headers.find((h) => h.name.toLowerCase() === n)?.value ?? ''
}

export function headerValues(headers: readonly HeaderLine[], name: string): string[] {
  const n = name.toLowerCase()
  return headers.filter((h) => h.name.toLowerCase() === n).map((h) => h.value)
}

/** RFC 2045 §5.1 Content-Type with RFC 2231 continuations left joined (good enough for boundary and report-type). */
export function parseContentType(value: string): { type: string; params: Record<string, string> } {
  const semi = value.indexOf(';')
  const type = (semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase()
  const params: Record<string, string> = {}
  const rest = semi < 0 ? '' : value.slice(semi + 1)
  for (const m of rest.matchAll(/([A-Za-z0-9_.*-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))/g)) {
    const key = (m[1] ?? '').toLowerCase().replace(/\*\d*\*?$/, '')
    const val = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? '')
    params[key] = (params[key] ?? '') + val
  }
  return { type: /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(type) ? type : 'text/plain', params }
}

export function parseMime(text: string, depth = 0, budget = { parts: 0 }): MimePart {
  const { headers, body } = splitHeaders(text)
  const { type, params } = parseContentType(headerValue(headers, 'content-type'))
  const part: MimePart = { headers, contentType: type, params, body, children: [] }
  budget.parts++
  if (depth >= MAX_DEPTH || budget.parts > MAX_PARTS) return part
  if (type.startsWith('multipart/') && params.boundary) {
    for (const chunk of splitMultipart(body, params.boundary)) part.children.push(parseMime(chunk, depth + 1, budget))
  } else if (type === 'message/rfc822' || type === 'message/global' || type === 'text/rfc822-headers' || type === 'message/rfc822-headers') {
    part.children.push(parseMime(decodeBody(part), depth + 1, budget))
  }
  return part
}

/**
 * RFC 2046 §5.1.1 body parts between "--boundary" lines. A missing close delimiter (common in
 * truncated bounces) ends the last part at the end of the text; a missing first delimiter means no parts.
 */
export function splitMultipart(body: string, boundary: string): string[] {
  const delim = '--' + boundary
  const parts: string[] = []
  let start = -1
  let pos = 0
  while (pos <= body.length) {
    const nl = body.indexOf('\n', pos)
    const line = nl < 0 ? body.slice(pos) : body.slice(pos, nl)
    const next = nl < 0 ? body.length + 1 : nl + 1
    if (line.startsWith(delim)) {
      const tail = line.slice(delim.length).trimEnd()
      if (tail === '' || tail === '--') {
        if (start >= 0) parts.push(body.slice(start, Math.max(start, pos - 1)))
        if (tail === '--') return parts
        start = next
      }
    }
    pos = next
  }
  if (start >= 0 && start < body.length) parts.push(body.slice(start))
  return parts
}

/** Content-Transfer-Encoding undone; result is still a latin1 (byte) string. */
export function decodeBody(part: MimePart): string {
  const cte = headerValue(part.headers, 'content-transfer-encoding').toLowerCase().trim()
  if (cte === 'base64') return Buffer.from(part.body.replace(/[^A-Za-z0-9+/=]/g, ''), 'base64').toString('latin1').replace(/\r\n?/g, '\n')
  if (cte === 'quoted-printable') {
    return part.body
      .replace(/[ \t]+$/gm, '')
      .replace(/=\n/g, '')
      .replace(/=([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)))
  }
  return part.body
}

const utf8 = new TextDecoder('utf-8', { fatal: false })

/** A decoded body as readable text: UTF-8 when it is valid UTF-8, else the bytes as latin1. */
export function bodyText(part: MimePart): string {
  const bytes = Buffer.from(decodeBody(part), 'latin1')
  const strict = new TextDecoder('utf-8', { fatal: true })
  try {
    return strict.decode(bytes)
  } catch {
    const charset = (part.params.charset ?? '').toLowerCase()
    return charset === 'utf-8' || charset === 'utf8' ? utf8.decode(bytes) : bytes.toString('latin1')
  }
}

export function* walk(part: MimePart): Generator<MimePart> {
  yield part
  for (const c of part.children) yield* walk(c)
}

function decodeCharset(bytes: Buffer, charset: string): string {
  try {
    return new TextDecoder(charset.toLowerCase().replace(/\*.*$/, ''), { fatal: false }).decode(bytes)
  } catch {
    return bytes.toString('latin1') // a charset name TextDecoder does not know
  }
}

/** A header value for display: raw 8-bit bytes read as UTF-8 when valid (RFC 6532), RFC 2047 words decoded. */
export function decodeHeader(latin1: string): string {
  let value = latin1
  try {
    value = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(latin1, 'latin1'))
  } catch {
    /* not UTF-8: keep the bytes as they are */
  }
  // RFC 2047 §6.2: whitespace between adjacent encoded-words is not displayed.
  return value.replace(/(\?=)\s+(?==\?)/g, '$1').replace(/=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=/g, (_, charset: string, enc: string, data: string) => {
    const bytes =
      enc.toUpperCase() === 'B'
        ? Buffer.from(data, 'base64')
        : Buffer.from(data.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1')
    return decodeCharset(bytes, charset)
  })
}
