// The one header reader of holdmail: every module that needs header fields (summary, auth, HTTP, the
// CLI tools, the MIME walker of the analysers) reads them here. Values are unfolded (RFC 5322 §2.2.3)
// and not decoded; RFC 2047 words are decoded where a value is displayed.
//
// Hand-written rather than libmime.decodeHeaders: that returns an object keyed by lowercased name,
// which loses field order and the name as sent (the raw-headers API and Received-chain analysis need
// both), and it has no notion of where the body starts in a block that has no blank line.

export interface HeaderLine {
  name: string
  value: string // unfolded (RFC 5322 §2.2.3), not decoded: the sample as sent
}

export interface HeaderBlock {
  headers: HeaderLine[]
  bodyStart: number // index in the text of the first character after the header block
}

/**
 * How a header block ends.
 * - 'message': a whole stored message. Only an empty line ends the block (RFC 5322 §2.1), as
 *   mailparser reads it; lines that are not fields (an mbox "From " line, garbage) are skipped.
 * - 'part': a MIME part or a header copy inside a bounce. Bounce generators forget the blank line
 *   before the body, so the first line that is neither a field nor a fold starts the body, and a
 *   line of only whitespace ends the block too. Only a leading mbox "From " line is skipped.
 */
export type HeaderBlockMode = 'message' | 'part'

const decoder = new TextDecoder('utf-8', { fatal: false })

/** Offset of the first byte after the header block (after the blank line), or raw.length. */
export function headerEnd(raw: Buffer): number {
  // A blank line is CRLF CRLF, LF LF, or a mix of the two (bare LF is common in hostile mail).
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] !== 0x0a) continue
    if (raw[i + 1] === 0x0a) return i + 2
    if (raw[i + 1] === 0x0d && raw[i + 2] === 0x0a) return i + 3
    if (i === 0 || (i === 1 && raw[0] === 0x0d)) return i + 1 // no headers at all
  }
  return raw.length
}

/**
 * Header fields of a text in order, repeated names kept, and where the body starts. Lines end at
 * LF with or without a CR before it (bare LF is common in hostile mail); a bare CR is not a line end.
 * Give it a latin1 view of the bytes to keep every value byte-for-byte (one char per byte).
 */
export function readHeaderBlock(text: string, mode: HeaderBlockMode = 'message'): HeaderBlock {
  const headers: HeaderLine[] = []
  let current: HeaderLine | null = null
  let pos = 0
  while (pos < text.length) {
    const nl = text.indexOf('\n', pos)
    const next = nl < 0 ? text.length : nl + 1
    let line = nl < 0 ? text.slice(pos) : text.slice(pos, nl)
    if (line.endsWith('\r')) line = line.slice(0, -1)
    if (mode === 'part' ? line.trim() === '' : line === '' || line === '\r') return { headers, bodyStart: next }
    if ((line[0] === ' ' || line[0] === '\t') && current) {
      current.value += ' ' + line.trim()
      pos = next
      continue
    }
    const colon = line.indexOf(':')
    if (colon <= 0 || /\s/.test(line.slice(0, colon).trimEnd())) {
      if (mode === 'part' && !(headers.length === 0 && line.startsWith('From '))) return { headers, bodyStart: pos }
      current = null // an mbox "From " line or garbage: not a field
      pos = next
      continue
    }
    current = { name: line.slice(0, colon).trimEnd(), value: line.slice(colon + 1).trim() }
    headers.push(current)
    pos = next
  }
  return { headers, bodyStart: text.length }
}

/** Header fields of a stored message in order, repeated names kept, UTF-8 read (RFC 6532). */
export function readHeaders(raw: Buffer): HeaderLine[] {
  return readHeaderBlock(decoder.decode(raw.subarray(0, headerEnd(raw))), 'message').headers
}

/** The first field of that name (case-insensitive), '' when absent. */
export function headerValue(headers: readonly HeaderLine[], name: string): string {
  const n = name.toLowerCase()
  return headers.find((h) => h.name.toLowerCase() === n)?.value ?? ''
}

/** Every field of that name (case-insensitive), in order. */
export function headerValues(headers: readonly HeaderLine[], name: string): string[] {
  const n = name.toLowerCase()
  return headers.filter((h) => h.name.toLowerCase() === n).map((h) => h.value)
}
