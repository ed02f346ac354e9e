import { isIP } from 'node:net'
import { inAnyCidr, normalizeIp, parseCidr, type Cidr } from '../../config/index.js'
import { readHeaders } from '../headers.js'

/** The "from" clause of one Received header (RFC 5321 §4.4): who handed the message to the host that wrote it. */
export interface ReceivedFrom {
  ip: string | null
  helo: string | null // the name the client gave in EHLO/HELO
  host: string | null // the reverse-DNS name the receiving host recorded, when it did
}

/**
 * Reads the client IP, HELO and host name from a Received field value. MTAs disagree on the layout:
 * Postfix/Sendmail "from HELO (rdns [ip])", Exim "from rdns ([ip] helo=HELO)" or "from [ip] (helo=HELO)",
 * Exchange "from HELO (ip) by ...", IPv6 literals as "[IPv6:2001:db8::1]".
 */
export function parseReceivedFrom(value: string): ReceivedFrom {
  const flat = value.replace(/\s+/g, ' ').trim()
  const m = /^from\s+(.*?)(?:\s+by\s|\s+with\s|\s+id\s|\s*;|$)/i.exec(flat)
  if (!m) return { ip: null, helo: null, host: null }
  const clause = m[1] ?? ''
  const first = /^(\S+)/.exec(clause)?.[1] ?? ''
  const comment = clause.slice(first.length)
  let ip: string | null = null
  const candidates = [...clause.matchAll(/\[(?:IPv6:)?([0-9a-fA-F.:]+)\]/gi)].map((x) => x[1] ?? '')
  // Exchange writes a bare "(192.0.2.1)" without brackets.
  candidates.push(...[...comment.matchAll(/\(\s*(?:IPv6:)?([0-9a-fA-F.:]{3,})\s*\)/gi)].map((x) => x[1] ?? ''))
  candidates.push(...[...comment.matchAll(/(?:^|[\s(])((?:\d{1,3}\.){3}\d{1,3})(?=[\s)\]:]|$)/g)].map((x) => x[1] ?? ''))
  for (const c of candidates) {
    const clean = c.replace(/:\d+$/, (port) => (isIP(c) ? port : '')) // Exim "[ip]:port"
    if (isIP(clean)) {
      ip = normalizeIp(clean)
      break
    }
  }
  // Exim "helo=NAME", qmail "(HELO NAME)"
  const heloParam = /helo=([^\s)]+)/i.exec(comment)?.[1] ?? /\(HELO ([^\s)]+)\)/i.exec(comment)?.[1] ?? null
  // "unknown" is what qmail and Sendmail write when reverse DNS failed: not a name.
  const firstIsLiteral = /^\[.*\]$/.test(first) || isIP(first) !== 0 || first.toLowerCase() === 'unknown'
  // In Exim's layout the first word is the reverse name and helo= carries the EHLO name.
  const helo = heloParam ?? (first && first.toLowerCase() !== 'unknown' ? first.replace(/^\[(?:IPv6:)?|\]$/gi, '') : null)
  let host: string | null
  if (heloParam && first && !firstIsLiteral) host = first
  else {
    const rdns = /\(\s*([A-Za-z0-9][A-Za-z0-9.-]*\.[A-Za-z]{2,})\.?\s*(?:\[|\))/.exec(comment)?.[1]
    host = rdns ?? null // the first word is only the client's claim (HELO), not a looked-up name
  }
  return { ip, helo: helo || null, host }
}

// The Received fields a trusted relay prepends sit at the top of the header block: reading its first
// 64 KiB finds them in any real message, and bounds the work a hostile header pile can cause (this
// runs on the SMTP loop for mail from trusted relays, before the reply).
const RECEIVED_SCAN_BYTES = 64 * 1024
// A relay chain deeper than this is a loop or a forged header pile, not a real mail path.
const MAX_TRUSTED_HOPS = 10
// The "from" clause opens a Received field and fits in its first lines (RFC 5321 §4.5.3.1.6: 1000
// octets a line); only this much of a field is parsed, so a forged 60 KiB field costs no more.
const RECEIVED_FIELD_CHARS = 4096

/**
 * The client that handed the message to the first trusted host (RFC 7208 §2.4 "the SMTP client"), read
 * from the Received fields at the top of a message that a trusted relay passed on: the relay prepended
 * its field, and when several trusted relays passed the message along each added one above the
 * previous, so this walks down until a hop comes from outside the trusted set. Null when a field has
 * no readable client IP first, or every hop within reach was trusted: then the chain says nothing
 * and the connection's facts stand.
 */
export function clientFromReceived(raw: Buffer, trustedRelays: readonly Cidr[]): (ReceivedFrom & { ip: string }) | null {
  const received = readHeaders(raw.subarray(0, RECEIVED_SCAN_BYTES)).filter((h) => h.name.toLowerCase() === 'received')
  for (const h of received.slice(0, MAX_TRUSTED_HOPS)) {
    const hop = parseReceivedFrom(h.value.slice(0, RECEIVED_FIELD_CHARS))
    if (!hop.ip) return null
    if (inAnyCidr(trustedRelays, hop.ip)) continue
    return { ...hop, ip: hop.ip }
  }
  return null
}

// RFC 6890 special-purpose ranges that never identify a sender on the Internet. The documentation
// ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32) are deliberately absent:
// example mail uses them for "some public server".
const NON_PUBLIC: readonly Cidr[] = [
  '0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12',
  '192.168.0.0/16', '198.18.0.0/15', '224.0.0.0/4', '240.0.0.0/4', '::/128', '::1/128', 'fc00::/7', 'fe80::/10',
].map((t) => parseCidr(t)!)

export function isPublicIp(ip: string): boolean {
  return isIP(ip) !== 0 && !inAnyCidr(NON_PUBLIC, ip)
}
