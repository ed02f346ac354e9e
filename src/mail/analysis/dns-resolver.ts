import { randomInt } from 'node:crypto'
import { createSocket } from 'node:dgram'
import { getServers } from 'node:dns'
import { connect, isIP } from 'node:net'
import * as packet from 'dns-packet'

/** The resolver shape mailauth calls: node:dns `resolve(name, rrtype)` results, errors carrying `code`. */
export type DnsResolve = (name: string, rrtype: string) => Promise<unknown[]>

export interface DnsResolverOptions {
  server: { host: string; port: number } | null // null: the system's resolvers
  timeoutMs?: number
  /** Upper bound on how long any answer is kept, whatever its TTL says. */
  maxCacheTtlMs?: number
  maxCacheEntries?: number
}

export const DEFAULT_DNS_TIMEOUT_MS = 2000
// A record's TTL is honoured up to an hour: long enough to spare the DNS server during a campaign, short
// enough that a policy fixed by its owner is seen the same hour even if they published a TTL of days.
const DEFAULT_MAX_CACHE_TTL_MS = 3_600_000
const DEFAULT_MAX_CACHE_ENTRIES = 5000
// RFC 1035 §2.3.4: a label is at most 63 octets. RFC 7208 §4.3/§4.8 speak of 253 characters for a name
// in text form (255 octets on the wire less the length of the first label and the root).
const MAX_LABEL_OCTETS = 63
const MAX_NAME_OCTETS = 253

const SUPPORTED = new Set(['A', 'AAAA', 'MX', 'TXT', 'PTR', 'CNAME', 'NS', 'SOA', 'SPF'])

interface CacheEntry {
  expires: number
  value?: unknown[]
  error?: DnsError
}

export class DnsError extends Error {
  constructor(
    readonly code: string,
    readonly hostname: string,
    rrtype: string,
  ) {
    super(`query${rrtype} ${code} ${hostname}`)
    this.name = 'DnsError'
  }
}

interface Server {
  host: string
  port: number
}

/** node:dns formats servers as "1.2.3.4", "1.2.3.4:5353", "::1" or "[::1]:5353". */
function parseServer(s: string): Server {
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(s)
  if (bracket) return { host: bracket[1] ?? '', port: Number(bracket[2] ?? 53) }
  if (isIP(s) === 6) return { host: s, port: 53 }
  const [host = '', port = '53'] = s.split(':')
  return { host, port: Number(port) }
}

/** Rejects what cannot be put on the wire; RFC 7208 §4.3 and §4.8 say what SPF makes of such a name. */
function checkName(name: string, rrtype: string): void {
  const labels = name.replace(/\.$/, '').split('.')
  const octets = Buffer.byteLength(name.replace(/\.$/, ''))
  if (octets === 0 || octets > MAX_NAME_OCTETS || labels.some((l) => l.length === 0 || Buffer.byteLength(l) > MAX_LABEL_OCTETS)) {
    throw new DnsError('EBADNAME', name, rrtype)
  }
}

/** The answer's RCODE name as dns-packet decodes it: NOERROR, NXDOMAIN, SERVFAIL, REFUSED or another. */
type Rcode = string

interface Answer {
  rcode: Rcode
  records: unknown[]
  /** Seconds the answer may be kept: the lowest TTL of the records used, or the negative TTL. */
  ttlS: number | null
}

/** Turns a decoded response into node:dns-shaped records of the asked type, following the CNAME chain. */
function readResponse(res: packet.DecodedPacket, qname: string, rrtype: string): Answer {
  const rcode = (res as { rcode?: string }).rcode ?? 'NOERROR'
  const answers = res.answers ?? []
  let owner = qname.toLowerCase().replace(/\.$/, '')
  let ttl: number | null = null
  const minTtl = (t: number | undefined): void => {
    const v = t ?? 0
    ttl = ttl === null ? v : Math.min(ttl, v)
  }
  // RFC 1034 §3.6.2: the answer may carry a chain of CNAMEs before the records; follow it by owner name,
  // bounded by the number of records so a loop ends.
  if (rrtype !== 'CNAME') {
    for (let i = 0; i < answers.length; i++) {
      const cname = answers.find((a) => a.type === 'CNAME' && a.name.toLowerCase() === owner)
      if (!cname) break
      minTtl((cname as packet.StringAnswer).ttl)
      owner = String((cname as packet.StringAnswer).data).toLowerCase().replace(/\.$/, '')
    }
  }
  const records: unknown[] = []
  for (const a of answers) {
    if (String(a.type) !== rrtype || a.name.toLowerCase() !== owner) continue
    minTtl((a as { ttl?: number }).ttl)
    switch (a.type) {
      case 'A':
      case 'AAAA':
      case 'CNAME':
      case 'PTR':
      case 'NS':
        records.push(a.data)
        break
      case 'MX':
        records.push({ exchange: a.data.exchange.replace(/\.$/, ''), priority: a.data.preference ?? 0 })
        break
      case 'TXT': {
        const parts = Array.isArray(a.data) ? a.data : [a.data]
        records.push(parts.map((p) => (typeof p === 'string' ? p : p.toString('utf8'))))
        break
      }
      case 'SOA':
        records.push({ nsname: a.data.mname, hostmaster: a.data.rname, serial: a.data.serial, refresh: a.data.refresh, retry: a.data.retry, expire: a.data.expire, minttl: a.data.minimum })
        break
      default: {
        // Type 99 (SPF) has TXT's RDATA, which dns-packet hands over raw: split the character-strings.
        const raw = (a as { data: unknown }).data
        if (Buffer.isBuffer(raw)) {
          const strings: string[] = []
          for (let off = 0; off < raw.length; ) {
            const len = raw[off] ?? 0
            strings.push(raw.subarray(off + 1, off + 1 + len).toString('utf8'))
            off += 1 + len
          }
          records.push(strings)
        }
      }
    }
  }
  if (records.length === 0 && (rcode === 'NOERROR' || rcode === 'NXDOMAIN')) {
    // RFC 2308 §5: a negative answer is cached for the lesser of the SOA record's TTL and its MINIMUM;
    // without an SOA it should not be cached at all.
    const soa = (res.authorities ?? []).find((a): a is packet.SoaAnswer => a.type === 'SOA')
    return { rcode, records, ttlS: soa ? Math.min(soa.ttl ?? 0, soa.data.minimum ?? 0) : null }
  }
  return { rcode, records, ttlS: ttl }
}

/** RFC 5452 §4.1: an answer counts only if it echoes our id and our question. */
function answers(res: packet.DecodedPacket, id: number, name: string, rrtype: string): boolean {
  const q = res.questions?.[0]
  return res.type === 'response' && res.id === id && q !== undefined && String(q.type) === rrtype && q.name.toLowerCase() === name.toLowerCase()
}

function udpQuery(server: Server, query: Buffer, match: (res: packet.DecodedPacket) => boolean, signal: AbortSignal): Promise<packet.DecodedPacket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(isIP(server.host) === 6 ? 'udp6' : 'udp4')
    const done = (fn: () => void): void => {
      signal.removeEventListener('abort', onAbort)
      socket.close()
      fn()
    }
    const onAbort = (): void => done(() => reject(new Error('aborted')))
    signal.addEventListener('abort', onAbort)
    socket.on('error', (err) => done(() => reject(err)))
    socket.on('message', (msg, rinfo) => {
      // Take only a reply from the server we asked, to our question (the source port is random too).
      if (rinfo.port !== server.port) return
      let res: packet.DecodedPacket
      try {
        res = packet.decode(msg)
      } catch {
        return
      }
      if (!match(res)) return
      done(() => resolve(res))
    })
    socket.send(query, server.port, server.host)
  })
}

function tcpQuery(server: Server, query: Buffer, match: (res: packet.DecodedPacket) => boolean, signal: AbortSignal): Promise<packet.DecodedPacket> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: server.host, port: server.port })
    let buf = Buffer.alloc(0)
    const done = (fn: () => void): void => {
      signal.removeEventListener('abort', onAbort)
      sock.destroy()
      fn()
    }
    const onAbort = (): void => done(() => reject(new Error('aborted')))
    signal.addEventListener('abort', onAbort)
    sock.on('error', (err) => done(() => reject(err)))
    sock.on('connect', () => {
      // RFC 1035 §4.2.2: a two-byte length precedes each message on TCP.
      const len = Buffer.alloc(2)
      len.writeUInt16BE(query.length)
      sock.write(Buffer.concat([len, query]))
    })
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk])
      if (buf.length < 2 || buf.length < 2 + buf.readUInt16BE(0)) return
      const msg = buf.subarray(2, 2 + buf.readUInt16BE(0))
      done(() => {
        try {
          const res = packet.decode(msg)
          if (match(res)) resolve(res)
          else reject(new Error('the TCP answer does not match the question'))
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)))
        }
      })
    })
    sock.on('end', () => done(() => reject(new Error('connection closed before the answer'))))
  })
}

/** One question to one server: UDP, then TCP when the answer comes back truncated (RFC 7766 §5). */
async function ask(server: Server, name: string, rrtype: string, signal: AbortSignal): Promise<packet.DecodedPacket> {
  const id = randomInt(0, 0x10000)
  const query = packet.encode({
    type: 'query',
    id,
    flags: packet.RECURSION_DESIRED,
    questions: [{ type: rrtype as packet.RecordType, name }],
  })
  const match = (res: packet.DecodedPacket): boolean => answers(res, id, name, rrtype)
  const res = await udpQuery(server, query, match, signal)
  if (!res.flag_tc) return res
  return tcpQuery(server, query, match, signal)
}

/**
 * A DNS lookup function with a per-lookup timeout and an in-memory cache keyed by name and type that keeps
 * each answer for its TTL (capped; TTL 0 is not kept) and negative answers for their RFC 2308 TTL.
 * node:dns gives no TTL for most types, so queries are made with dns-packet over UDP, with TCP on truncation.
 */
export function createDnsResolver(opts: DnsResolverOptions): DnsResolve {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_DNS_TIMEOUT_MS
  const maxTtlMs = opts.maxCacheTtlMs ?? DEFAULT_MAX_CACHE_TTL_MS
  const maxEntries = opts.maxCacheEntries ?? DEFAULT_MAX_CACHE_ENTRIES
  const servers = (): Server[] => {
    if (opts.server) return [opts.server]
    const system = getServers().map(parseServer)
    return system.length > 0 ? system : [{ host: '127.0.0.1', port: 53 }]
  }
  const cache = new Map<string, CacheEntry>()
  const inflight = new Map<string, Promise<unknown[]>>()

  function remember(key: string, ttlS: number | null, entry: Omit<CacheEntry, 'expires'>): void {
    if (ttlS === null || ttlS <= 0) return
    if (cache.size >= maxEntries) {
      // Map keeps insertion order: dropping the first key drops the oldest entry.
      const oldest = cache.keys().next().value
      if (oldest !== undefined) cache.delete(oldest)
    }
    cache.set(key, { ...entry, expires: Date.now() + Math.min(ttlS * 1000, maxTtlMs) })
  }

  async function lookup(name: string, rrtype: string, key: string): Promise<unknown[]> {
    const controller = new AbortController()
    const timer = setTimeout(() => controller.abort(), timeoutMs)
    try {
      let lastError: DnsError = new DnsError('ECONNREFUSED', name, rrtype)
      for (const server of servers()) {
        let res: packet.DecodedPacket
        try {
          res = await ask(server, name, rrtype, controller.signal)
        } catch {
          if (controller.signal.aborted) throw new DnsError('ETIMEOUT', name, rrtype)
          continue // unreachable server: try the next one, as node:dns does
        }
        const answer = readResponse(res, name, rrtype)
        if (answer.rcode === 'NXDOMAIN') {
          const err = new DnsError('ENOTFOUND', name, rrtype)
          remember(key, answer.ttlS, { error: err })
          throw err
        }
        if (answer.rcode === 'NOERROR') {
          if (answer.records.length === 0) {
            const err = new DnsError('ENODATA', name, rrtype)
            remember(key, answer.ttlS, { error: err })
            throw err
          }
          remember(key, answer.ttlS, { value: answer.records })
          return answer.records
        }
        // SERVFAIL, REFUSED and the rest are about the server, not the name: never cached, next server.
        lastError = new DnsError(answer.rcode === 'SERVFAIL' ? 'ESERVFAIL' : answer.rcode === 'REFUSED' ? 'EREFUSED' : 'EBADRESP', name, rrtype)
      }
      throw lastError
    } finally {
      clearTimeout(timer)
    }
  }

  return async (name: string, rrtype: string): Promise<unknown[]> => {
    const type = rrtype.toUpperCase()
    if (!SUPPORTED.has(type)) throw new DnsError('ENOTIMP', name, type)
    checkName(name, type)
    const key = `${name.toLowerCase().replace(/\.$/, '')} ${type}`
    const hit = cache.get(key)
    if (hit && hit.expires > Date.now()) {
      if (hit.error) throw hit.error
      return [...(hit.value ?? [])]
    }
    if (hit) cache.delete(key)
    let pending = inflight.get(key)
    if (!pending) {
      pending = lookup(name.replace(/\.$/, ''), type, key).finally(() => inflight.delete(key))
      inflight.set(key, pending)
    }
    // Callers get their own array: mailauth sorts MX lists in place, which must not reorder the cache.
    return [...(await pending)]
  }
}
