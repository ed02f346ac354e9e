import { isIP } from 'node:net'
import { AppError } from '../errors.js'

/** An address range; IPv4 ranges are kept as IPv4 so that ::ffff:a.b.c.d peers match them. */
export interface Cidr {
  family: 4 | 6
  bits: bigint // network address as a number
  prefix: number
  text: string
}

/** Strips the IPv4-mapped IPv6 prefix a dual-stack socket reports (::ffff:192.0.2.1). */
export function normalizeIp(ip: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)
  return (m ? m[1]! : ip).toLowerCase()
}

export function ipToBigInt(ip: string): { family: 4 | 6; value: bigint } | null {
  const addr = normalizeIp(ip)
  const family = isIP(addr)
  if (family === 4) {
    const n = addr.split('.').reduce((acc, part) => acc * 256n + BigInt(Number(part)), 0n)
    return { family: 4, value: n }
  }
  if (family === 6) {
    const [head = '', tail = ''] = addr.includes('::') ? addr.split('::') : [addr, '']
    // an embedded dotted quad at the end (::ffff:1.2.3.4 already handled; 64:ff9b::1.2.3.4 here)
    const fix = (s: string): string[] =>
      s === ''
        ? []
        : s.split(':').flatMap((g) => {
            if (!g.includes('.')) return [g]
            const v = ipToBigInt(g)!.value
            return [(v >> 16n).toString(16), (v & 0xffffn).toString(16)]
          })
    const h = fix(head)
    const t = fix(tail)
    const groups = addr.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h
    const value = groups.reduce((acc, g) => acc * 65536n + BigInt(parseInt(g || '0', 16)), 0n)
    return { family: 6, value }
  }
  return null
}

export function parseCidr(text: string): Cidr | null {
  const [addr = '', len] = text.trim().split('/')
  const ip = ipToBigInt(addr)
  if (!ip) return null
  const width = ip.family === 4 ? 32 : 128
  const prefix = len === undefined ? width : Number(len)
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > width || (len !== undefined && !/^\d+$/.test(len))) return null
  const host = BigInt(width - prefix)
  return { family: ip.family, bits: (ip.value >> host) << host, prefix, text: text.trim() }
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
