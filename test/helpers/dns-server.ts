// A loopback-only authoritative DNS stub for tests (RFC 1035 wire format over UDP). It answers from
// an in-memory zone so that SPF/DKIM/DMARC tests never touch the network.
import { createSocket, type RemoteInfo } from 'node:dgram'
import { isIPv4, isIPv6 } from 'node:net'

export interface ZoneEntry {
  /** Each record is one string (split into 255-byte character-strings on the wire) or explicit character-strings. */
  TXT?: (string | string[])[]
  A?: string[]
  AAAA?: string[]
  MX?: { priority: number; exchange: string }[]
  PTR?: string[]
  CNAME?: string
  /** Answer SERVFAIL for this name (a broken authoritative server). */
  SERVFAIL?: boolean
  /** Never answer queries for this name (a timeout). */
  DROP?: boolean
}

export type Zone = Record<string, ZoneEntry>

export interface DnsServer {
  port: number
  /** Every question received, in order, as "name TYPE" (lowercased name). */
  queries: string[]
  close(): Promise<void>
}

const TYPE = { A: 1, CNAME: 5, PTR: 12, MX: 15, TXT: 16, AAAA: 28 } as const
const TYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(TYPE).map(([k, v]) => [v, k]))
const TTL_S = 60
const RCODE_SERVFAIL = 2
const RCODE_NXDOMAIN = 3

function canonical(name: string): string {
  return name.toLowerCase().replace(/\.$/, '')
}

function encodeName(name: string): Buffer {
  const parts: Buffer[] = []
  for (const label of canonical(name).split('.').filter(Boolean)) {
    const b = Buffer.from(label, 'utf8')
    parts.push(Buffer.from([b.length]), b)
  }
  parts.push(Buffer.from([0]))
  return Buffer.concat(parts)
}

/** RFC 1035 §3.3.14: TXT RDATA is one or more <character-string>s of at most 255 bytes each. */
function encodeTxt(record: string | string[]): Buffer {
  const chunks: Buffer[] = []
  const strings = Array.isArray(record) ? record.map((s) => Buffer.from(s, 'utf8')) : splitTxt(Buffer.from(record, 'utf8'))
  for (const s of strings) {
    if (s.length > 255) throw new Error(`TXT character-string longer than 255 bytes (${s.length})`)
    chunks.push(Buffer.from([s.length]), s)
  }
  return Buffer.concat(chunks)
}

function splitTxt(b: Buffer): Buffer[] {
  if (b.length === 0) return [b]
  const out: Buffer[] = []
  for (let i = 0; i < b.length; i += 255) out.push(b.subarray(i, i + 255))
  return out
}

function encodeIp4(ip: string): Buffer {
  if (!isIPv4(ip)) throw new Error(`not an IPv4 address: ${ip}`)
  return Buffer.from(ip.split('.').map(Number))
}

function encodeIp6(ip: string): Buffer {
  if (!isIPv6(ip)) throw new Error(`not an IPv6 address: ${ip}`)
  const [head = '', tail = ''] = ip.includes('::') ? ip.split('::') : [ip, '']
  const h = head ? head.split(':') : []
  const t = tail ? tail.split(':') : []
  const groups = ip.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h
  const out = Buffer.alloc(16)
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2))
  return out
}

function readQuestion(msg: Buffer): { name: string; type: number; end: number } | null {
  let off = 12
  const labels: string[] = []
  while (off < msg.length) {
    const len = msg[off]!
    if (len === 0) {
      off++
      break
    }
    if (len > 63) return null // compression is not used in questions
    labels.push(msg.subarray(off + 1, off + 1 + len).toString('utf8'))
    off += 1 + len
  }
  if (off + 4 > msg.length) return null
  return { name: labels.join('.'), type: msg.readUInt16BE(off), end: off + 4 }
}

function answersFor(entry: ZoneEntry, type: number): { type: number; rdata: Buffer }[] {
  const out: { type: number; rdata: Buffer }[] = []
  if (entry.CNAME && type !== TYPE.CNAME) return [{ type: TYPE.CNAME, rdata: encodeName(entry.CNAME) }]
  switch (type) {
    case TYPE.A:
      for (const ip of entry.A ?? []) out.push({ type, rdata: encodeIp4(ip) })
      break
    case TYPE.AAAA:
      for (const ip of entry.AAAA ?? []) out.push({ type, rdata: encodeIp6(ip) })
      break
    case TYPE.TXT:
      for (const t of entry.TXT ?? []) out.push({ type, rdata: encodeTxt(t) })
      break
    case TYPE.MX:
      for (const mx of entry.MX ?? []) {
        const pref = Buffer.alloc(2)
        pref.writeUInt16BE(mx.priority)
        out.push({ type, rdata: Buffer.concat([pref, encodeName(mx.exchange)]) })
      }
      break
    case TYPE.PTR:
      for (const p of entry.PTR ?? []) out.push({ type, rdata: encodeName(p) })
      break
    case TYPE.CNAME:
      if (entry.CNAME) out.push({ type, rdata: encodeName(entry.CNAME) })
      break
  }
  return out
}

function respond(query: Buffer, zone: Map<string, ZoneEntry>, log: string[]): Buffer | null {
  if (query.length < 12) return null
  const q = readQuestion(query)
  if (!q) return null
  const name = canonical(q.name)
  log.push(`${name} ${TYPE_NAMES[q.type] ?? String(q.type)}`)
  const entry = zone.get(name)
  if (entry?.DROP) return null
  let rcode = 0
  let answers: { type: number; rdata: Buffer }[] = []
  if (!entry) rcode = RCODE_NXDOMAIN
  else if (entry.SERVFAIL) rcode = RCODE_SERVFAIL
  else answers = answersFor(entry, q.type)

  const header = Buffer.alloc(12)
  query.copy(header, 0, 0, 2) // id
  const rd = query[2]! & 0x01
  header[2] = 0x84 | rd // QR=1, AA=1
  header[3] = 0x80 | rcode // RA=1
  header.writeUInt16BE(1, 4)
  header.writeUInt16BE(answers.length, 6)
  const question = query.subarray(12, q.end)
  const records = answers.map((a) => {
    const fixed = Buffer.alloc(12)
    fixed.writeUInt16BE(0xc00c, 0) // pointer to the question name
    fixed.writeUInt16BE(a.type, 2)
    fixed.writeUInt16BE(1, 4) // IN
    fixed.writeUInt32BE(TTL_S, 6)
    fixed.writeUInt16BE(a.rdata.length, 10)
    return Buffer.concat([fixed, a.rdata])
  })
  return Buffer.concat([header, question, ...records])
}

/** Starts the stub on 127.0.0.1 with a free port. Zone keys are names without the trailing dot. */
export async function startDnsServer(zone: Zone): Promise<DnsServer> {
  const map = new Map(Object.entries(zone).map(([k, v]) => [canonical(k), v]))
  // Fail early on a malformed zone rather than with a confusing resolver error mid-test.
  for (const entry of map.values()) for (const t of [TYPE.A, TYPE.AAAA, TYPE.TXT, TYPE.MX, TYPE.PTR]) answersFor(entry, t)
  const socket = createSocket('udp4')
  const queries: string[] = []
  socket.on('message', (msg: Buffer, rinfo: RemoteInfo) => {
    const reply = respond(msg, map, queries)
    if (reply) socket.send(reply, rinfo.port, rinfo.address)
  })
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject)
    socket.bind(0, '127.0.0.1', () => {
      socket.off('error', reject)
      resolve()
    })
  })
  return {
    port: socket.address().port,
    queries,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  }
}
