// A loopback-only authoritative DNS stub for tests (RFC 1035 over UDP, and TCP for answers that do not fit
// in 512 bytes). It answers from an in-memory zone so that SPF/DKIM/DMARC tests never touch the network.
// Packets are built and read with dns-packet; the stub only decides what to answer.
import { createSocket, type RemoteInfo } from 'node:dgram'
import { createServer, type Server, type Socket } from 'node:net'
import { isIPv4, isIPv6 } from 'node:net'
import * as packet from 'dns-packet'

export interface ZoneEntry {
  /** Each record is one string (split into 255-byte character-strings on the wire) or explicit character-strings. */
  TXT?: (string | Buffer | (string | Buffer)[])[]
  /** Type 99 (RFC 4408 "SPF") records, the same shapes as TXT. */
  SPF?: (string | Buffer | (string | Buffer)[])[]
  A?: string[]
  AAAA?: string[]
  MX?: { priority: number; exchange: string }[]
  PTR?: string[]
  CNAME?: string
  /** Answer SERVFAIL for this name (a broken authoritative server). */
  SERVFAIL?: boolean
  /** Never answer queries for this name (true), or only for the listed types (a timeout). */
  DROP?: boolean | readonly string[]
  /** TTL in seconds of every record of this name (default 60). */
  TTL?: number
}

export type Zone = Record<string, ZoneEntry>

export interface DnsServerOptions {
  /**
   * RFC 2308 §3: put an SOA with this MINIMUM (and TTL) in the authority section of NXDOMAIN and NODATA
   * answers, which is how a server says how long a negative answer may be cached. Omitted: no SOA.
   */
  soaMinimum?: number
  /** Log every question and answer none (a server that never answers, over UDP and TCP). */
  silent?: boolean
}

export interface DnsServer {
  port: number
  /** Every question received, in order, as "name TYPE" (lowercased name), over UDP or TCP. */
  queries: string[]
  close(): Promise<void>
}

const DEFAULT_TTL_S = 60
// RFC 1035 §4.2.1: a UDP message is at most 512 bytes; a longer answer is sent truncated (TC set) and
// the client retries over TCP.
const MAX_UDP_BYTES = 512
// A CNAME chain longer than this is treated as a loop and answered as far as it went.
const MAX_CNAME_HOPS = 8
const ZONE_APEX = 'test-zone.invalid'

type RecordType = 'A' | 'AAAA' | 'MX' | 'PTR' | 'TXT' | 'SPF' | 'CNAME'

function canonical(name: string): string {
  return name.toLowerCase().replace(/\.$/, '')
}

/** RFC 1035 §3.3.14: TXT RDATA is one or more <character-string>s of at most 255 bytes each. */
function txtStrings(record: string | Buffer | (string | Buffer)[]): Buffer[] {
  if (Array.isArray(record)) {
    const parts = record.map((s) => (typeof s === 'string' ? Buffer.from(s, 'utf8') : s))
    for (const p of parts) if (p.length > 255) throw new Error(`TXT character-string longer than 255 bytes (${p.length})`)
    return parts
  }
  const b = typeof record === 'string' ? Buffer.from(record, 'utf8') : record
  if (b.length === 0) return [b]
  const out: Buffer[] = []
  for (let i = 0; i < b.length; i += 255) out.push(b.subarray(i, i + 255))
  return out
}

function recordsOf(name: string, entry: ZoneEntry, type: string): packet.Answer[] {
  const ttl = entry.TTL ?? DEFAULT_TTL_S
  switch (type) {
    case 'A':
      return (entry.A ?? []).map((ip) => {
        if (!isIPv4(ip)) throw new Error(`not an IPv4 address: ${ip}`)
        return { type: 'A', name, ttl, data: ip }
      })
    case 'AAAA':
      return (entry.AAAA ?? []).map((ip) => {
        if (!isIPv6(ip)) throw new Error(`not an IPv6 address: ${ip}`)
        return { type: 'AAAA', name, ttl, data: ip }
      })
    case 'MX':
      return (entry.MX ?? []).map((mx) => ({ type: 'MX', name, ttl, data: { preference: mx.priority, exchange: mx.exchange } }))
    case 'PTR':
      return (entry.PTR ?? []).map((p) => ({ type: 'PTR', name, ttl, data: p }))
    case 'TXT':
      return (entry.TXT ?? []).map((t) => ({ type: 'TXT', name, ttl, data: txtStrings(t) }))
    case 'SPF':
      // RFC 4408 §3.1.1: type 99 has TXT's RDATA. dns-packet writes a type it has no codec for from raw
      // RDATA, so hand it the character-strings already length-prefixed.
      return (entry.SPF ?? []).map((t) => {
        const rdata = Buffer.concat(txtStrings(t).flatMap((s) => [Buffer.from([s.length]), s]))
        return { type: 'SPF', name, ttl, data: rdata } as unknown as packet.Answer
      })
    case 'CNAME':
      return entry.CNAME ? [{ type: 'CNAME', name, ttl, data: entry.CNAME }] : []
    default:
      return []
  }
}

function dropped(entry: ZoneEntry | undefined, type: string): boolean {
  if (!entry?.DROP) return false
  return entry.DROP === true || entry.DROP.includes(type)
}

interface Reply {
  rcode: 'NOERROR' | 'NXDOMAIN' | 'SERVFAIL'
  answers: packet.Answer[]
}

/** What the zone says for one question, following CNAMEs inside the zone (RFC 1034 §4.3.2 step 3a). */
function lookup(zone: Map<string, ZoneEntry>, qname: string, type: string): Reply | null {
  const answers: packet.Answer[] = []
  let name = qname
  for (let hop = 0; hop <= MAX_CNAME_HOPS; hop++) {
    const entry = zone.get(canonical(name))
    if (dropped(entry, type)) return hop === 0 ? null : { rcode: 'NOERROR', answers }
    if (!entry) return { rcode: hop === 0 ? 'NXDOMAIN' : 'NOERROR', answers }
    if (entry.SERVFAIL) return { rcode: 'SERVFAIL', answers: [] }
    if (entry.CNAME && type !== 'CNAME') {
      answers.push(...recordsOf(name, entry, 'CNAME'))
      name = entry.CNAME
      continue
    }
    answers.push(...recordsOf(name, entry, type))
    return { rcode: 'NOERROR', answers }
  }
  return { rcode: 'NOERROR', answers }
}

function respond(query: Buffer, zone: Map<string, ZoneEntry>, log: string[], opts: DnsServerOptions): Buffer | null {
  let q: packet.DecodedPacket
  try {
    q = packet.decode(query)
  } catch {
    return null
  }
  const question = q.questions?.[0]
  if (!question) return null
  // dns-packet reports unknown types as "UNKNOWN_n"; type 99 decodes as "SPF".
  const type = String(question.type) as RecordType
  log.push(`${canonical(question.name)} ${type}`)
  const reply = opts.silent ? null : lookup(zone, question.name, type)
  if (!reply) return null
  const authorities: packet.Answer[] = []
  if (reply.answers.length === 0 && reply.rcode !== 'SERVFAIL' && opts.soaMinimum !== undefined) {
    authorities.push({
      type: 'SOA',
      name: ZONE_APEX,
      ttl: opts.soaMinimum,
      data: { mname: `ns.${ZONE_APEX}`, rname: `hostmaster.${ZONE_APEX}`, serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: opts.soaMinimum },
    })
  }
  const rcodeBits = { NOERROR: 0, SERVFAIL: 2, NXDOMAIN: 3 }[reply.rcode]
  return packet.encode({
    type: 'response',
    id: q.id ?? 0,
    // QR is set by type: 'response'; AA, RA and the client's RD; the low 4 bits are the RCODE.
    flags: packet.AUTHORITATIVE_ANSWER | packet.RECURSION_AVAILABLE | ((q.flags ?? 0) & packet.RECURSION_DESIRED) | rcodeBits,
    questions: [question],
    answers: reply.answers,
    authorities,
  })
}

function truncated(reply: Buffer): Buffer {
  const d = packet.decode(reply)
  return packet.encode({ type: 'response', id: d.id ?? 0, flags: (d.flags ?? 0) | packet.TRUNCATED_RESPONSE, questions: d.questions ?? [] })
}

async function listenTcp(port: number, onQuery: (msg: Buffer) => Buffer | null): Promise<{ server: Server; conns: Set<Socket> }> {
  const conns = new Set<Socket>()
  const server = createServer((sock) => {
    conns.add(sock)
    sock.on('close', () => conns.delete(sock))
    sock.on('error', () => sock.destroy())
    let pending = Buffer.alloc(0)
    sock.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk])
      // RFC 1035 §4.2.2: each TCP message is preceded by a two-byte length.
      while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
        const len = pending.readUInt16BE(0)
        const reply = onQuery(pending.subarray(2, 2 + len))
        pending = pending.subarray(2 + len)
        if (reply) {
          const lenBuf = Buffer.alloc(2)
          lenBuf.writeUInt16BE(reply.length)
          sock.write(Buffer.concat([lenBuf, reply]))
        }
      }
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  return { server, conns }
}

/** Starts the stub on 127.0.0.1 (UDP and TCP, same free port). Zone keys are names without the trailing dot. */
export async function startDnsServer(zone: Zone, opts: DnsServerOptions = {}): Promise<DnsServer> {
  const map = new Map(Object.entries(zone).map(([k, v]) => [canonical(k), v]))
  // Fail early on a malformed zone rather than with a confusing resolver error mid-test.
  for (const [name, entry] of map) for (const t of ['A', 'AAAA', 'TXT', 'SPF', 'MX', 'PTR']) packet.encode({ type: 'response', answers: recordsOf(name, entry, t) })
  const queries: string[] = []
  const onQuery = (msg: Buffer): Buffer | null => respond(msg, map, queries, opts)

  // The UDP port is picked by the system; the TCP listener takes the same number, retrying with a new
  // port in the rare case another process holds that TCP port.
  for (let attempt = 0; ; attempt++) {
    const socket = createSocket('udp4')
    socket.on('message', (msg: Buffer, rinfo: RemoteInfo) => {
      const reply = onQuery(msg)
      if (reply) socket.send(reply.length > MAX_UDP_BYTES ? truncated(reply) : reply, rinfo.port, rinfo.address)
    })
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject)
      socket.bind(0, '127.0.0.1', () => {
        socket.off('error', reject)
        resolve()
      })
    })
    const port = socket.address().port
    let tcp: { server: Server; conns: Set<Socket> }
    try {
      tcp = await listenTcp(port, onQuery)
    } catch (err) {
      socket.close()
      if (attempt < 5) continue
      throw err
    }
    return {
      port,
      queries,
      close: async () => {
        await Promise.all([
          new Promise<void>((resolve) => socket.close(() => resolve())),
          new Promise<void>((resolve) => {
            for (const c of tcp.conns) c.destroy()
            tcp.server.close(() => resolve())
          }),
        ])
      },
    }
  }
}
