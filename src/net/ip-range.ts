import ipaddr from 'ipaddr.js'
import { AppError } from '../errors.js'

// IP parsing is ipaddr.js (the parser Fastify's proxy-addr uses): it knows every IPv6 spelling,
// embedded dotted quads and zone IDs, which a hand-written parser kept getting wrong. What stays
// here is holdmail's own rule: an IPv4-mapped IPv6 peer (::ffff:a.b.c.d, what a dual-stack socket
// reports) is that IPv4 address, so it matches IPv4 ranges and is stored as IPv4.

/** An address range; IPv4 ranges are kept as IPv4 so that ::ffff:a.b.c.d peers match them. */
export interface Cidr {
  family: 4 | 6
  bits: bigint // network address as a number
  prefix: number
  text: string
}

type Addr = ipaddr.IPv4 | ipaddr.IPv6

function parse(text: string): Addr | null {
  const s = text.trim()
  // No address at all (a message imported from an archive has no client): ipaddr.js would find
  // that out by trying every notation it knows and catching each failure, which is slow.
  if (s === '' || !ipaddr.isValid(s)) return null
  try {
    return ipaddr.process(s) // IPv4-mapped IPv6 comes back as IPv4
  } catch {
    return null
  }
}

const toBigInt = (a: Addr): bigint => a.toByteArray().reduce((acc, b) => acc * 256n + BigInt(b), 0n)

/** Strips the IPv4-mapped IPv6 prefix a dual-stack socket reports (::ffff:192.0.2.1); lowercases. */
export function normalizeIp(ip: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)
  return (m ? m[1]! : ip).toLowerCase()
}

export function ipToBigInt(ip: string): { family: 4 | 6; value: bigint } | null {
  const a = parse(ip)
  if (!a) return null
  return { family: a.kind() === 'ipv4' ? 4 : 6, value: toBigInt(a) }
}

export function parseCidr(text: string): Cidr | null {
  const t = text.trim()
  const [addr = '', len] = t.split('/')
  if (len !== undefined && !/^\d+$/.test(len)) return null
  const a = parse(addr)
  if (!a) return null
  const family = a.kind() === 'ipv4' ? 4 : 6
  const width = family === 4 ? 32 : 128
  // A mapped IPv6 range (::ffff:10.0.0.0/104) is the IPv4 range it covers.
  const mapped = family === 4 && addr.includes(':')
  let prefix = len === undefined ? width : Number(len) - (mapped ? 96 : 0)
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > width) return null
  if (len === undefined) prefix = width
  const host = BigInt(width - prefix)
  return { family, bits: (toBigInt(a) >> host) << host, prefix, text: t }
}

export function parseCidrList(name: string, value: string): Cidr[] {
  return value
    .split(/[\s,]+/)
    .filter(Boolean)
    .map((part) => {
      const cidr = parseCidr(part)
      if (!cidr) throw new AppError('BAD_CONFIG', `--${name}: "${part}" is not an IP address or CIDR range`)
      return cidr
    })
}

export function cidrContains(cidr: Cidr, ip: string): boolean {
  const addr = ipToBigInt(ip)
  if (!addr || addr.family !== cidr.family) return false
  const host = BigInt((cidr.family === 4 ? 32 : 128) - cidr.prefix)
  return addr.value >> host === cidr.bits >> host
}

export function inAnyCidr(list: readonly Cidr[], ip: string): boolean {
  return list.some((c) => cidrContains(c, ip))
}
