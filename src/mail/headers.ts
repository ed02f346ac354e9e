export interface HeaderLine {
  name: string
  value: string // unfolded (RFC 5322 §2.2.3), not decoded: the sample as sent
}

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

/** Header fields in order, repeated names kept. Lines that are not fields (no colon) are skipped. */
export function readHeaders(raw: Buffer): HeaderLine[] {
  const text = decoder.decode(raw.subarray(0, headerEnd(raw)))
  const out: HeaderLine[] = []
  let current: HeaderLine | null = null
  for (const line of text.split(/\r?\n/)) {
    if (line === '' || line === '\r') break
    if ((line[0] === ' ' || line[0] === '\t') && current) {
      current.value += ' ' + line.trim()
      continue
    }
    const colon = line.indexOf(':')
    if (colon <= 0 || /\s/.test(line.slice(0, colon).trimEnd())) {
      current = null // an mbox "From " line or garbage: not a field
      continue
    }
    current = { name: line.slice(0, colon).trimEnd(), value: line.slice(colon + 1).trim() }
    out.push(current)
  }
  return out
}
