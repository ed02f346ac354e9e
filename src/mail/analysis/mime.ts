// A small, forgiving MIME walker for analysis. mailparser decodes for display; here we need the raw
// structure of reports (message/delivery-status, message/feedback-report, text/rfc822-headers) even
// when a bounce generator got the MIME wrong, and it must never throw. That walk (multipart split,
// embedded messages, part budget) stays hand-written: mailparser and mailsplit stream decoded content
// and do not expose a report's sub-parts as text with their headers as sent, nor tolerate a missing
// blank line or close delimiter the way bounce parsing needs. The decoding steps are libmime's
// (RFC 2047 words, RFC 2231 parameters, charsets) and libqp's / Buffer's (transfer encodings);
// header fields come from the one header reader in ../headers.ts.
import libmime from 'libmime'
import { decode as decodeCharset } from 'libmime/lib/charset.js'
import { decode as decodeQuotedPrintable } from 'libqp'
import { readHeaderBlock, headerValue, type HeaderLine } from '../headers.js'

export { headerValue, headerValues } from '../headers.js'

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
  // an mbox "From " separator line is skipped by the header reader ('part' mode)
  return text.replace(/\r\n?/g, '\n')
}

/** A part's header fields and the rest of its text as the body (the 'part' mode of the one header reader). */
export function splitHeaders(text: string): { headers: HeaderLine[]; body: string } {
  const { headers, bodyStart } = readHeaderBlock(text, 'part')
  return { headers, body: text.slice(bodyStart) }
}

/**
 * RFC 2045 §5.1 Content-Type through libmime: quoted strings, comments, RFC 2231 continuations and
 * charsets (a decoded value is Unicode text, a plain one stays the sample's latin1 bytes). A type that
 * is not type/subtype falls back to text/plain (RFC 2045 §5.2).
 */
export function parseContentType(value: string): { type: string; params: Record<string, string> } {
  const parsed = libmime.parseHeaderValue(value, { stripComments: true })
  const type = parsed.value.trim().toLowerCase()
  return { type: /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(type) ? type : 'text/plain', params: { ...parsed.params } }
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

/** Content-Transfer-Encoding undone (RFC 2045 §6); result is still a latin1 (byte) string. */
export function decodeBody(part: MimePart): string {
  const cte = headerValue(part.headers, 'content-transfer-encoding').toLowerCase().trim()
  // Buffer's base64 decoder skips line breaks; other stray characters are dropped first, as RFC 2045 §6.8 says to.
  if (cte === 'base64') return Buffer.from(part.body.replace(/[^A-Za-z0-9+/=]/g, ''), 'base64').toString('latin1').replace(/\r\n?/g, '\n')
  // libqp reads each char of a latin1 string as one byte and drops trailing whitespace and soft breaks (§6.7).
  if (cte === 'quoted-printable') return decodeQuotedPrintable(part.body).toString('latin1')
  return part.body
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * A decoded body as readable text: UTF-8 when it is valid UTF-8 (whatever the label says: bounces
 * mislabel it), else the declared charset through libmime, else the bytes as latin1.
 */
export function bodyText(part: MimePart): string {
  const bytes = Buffer.from(decodeBody(part), 'latin1')
  try {
    return utf8.decode(bytes)
  } catch {
    const charset = part.params.charset?.trim()
    return charset ? decodeCharset(bytes, charset) : bytes.toString('latin1')
  }
}

export function* walk(part: MimePart): Generator<MimePart> {
  yield part
  for (const c of part.children) yield* walk(c)
}

/** A header value for display: raw 8-bit bytes read as UTF-8 when valid (RFC 6532), RFC 2047 words decoded by libmime. */
export function decodeHeader(latin1: string): string {
  let value = latin1
  try {
    value = utf8.decode(Buffer.from(latin1, 'latin1'))
  } catch {
    /* not UTF-8: keep the bytes as they are */
  }
  return libmime.decodeWords(value)
}
