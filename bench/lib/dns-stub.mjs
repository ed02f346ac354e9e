// A loopback DNS stub for the benchmark. Without a zone it answers every query NXDOMAIN at once, so
// holdmail's SPF/DKIM/DMARC analysers do their CPU work without any packet leaving the machine.
// With a zone ({ 'name': { TXT: ['record', ...] } }) it answers TXT questions for those names from
// memory (long records split into 255-byte character-strings), NODATA for other types of a known
// name, NXDOMAIN for everything else.
import { createSocket } from 'node:dgram'

const RCODE_NXDOMAIN = 3
const TYPE_TXT = 16
const TTL_S = 300

function encodeTxt(record) {
  const b = Buffer.from(record, 'utf8')
  const parts = []
  for (let i = 0; i < b.length || i === 0; i += 255) {
    const s = b.subarray(i, i + 255)
    parts.push(Buffer.from([s.length]), s)
  }
  return Buffer.concat(parts)
}

export function startDnsStub({ zone = null } = {}) {
  const socket = createSocket('udp4')
  let queries = 0
  const answered = new Map() // "name TYPE" -> count (zone mode only)
  const names = new Map(Object.entries(zone ?? {}).map(([name, e]) => [name.toLowerCase().replace(/\.$/, ''), { TXT: (e.TXT ?? []).map(encodeTxt) }]))
  socket.on('message', (msg, rinfo) => {
    if (msg.length < 12) return
    queries++
    // question section: labels up to a zero byte, then QTYPE and QCLASS
    let i = 12
    const labels = []
    while (i < msg.length && msg[i] !== 0) {
      if (zone) labels.push(msg.toString('latin1', i + 1, i + 1 + msg[i]))
      i += msg[i] + 1
    }
    const qEnd = Math.min(msg.length, i + 5)
    const qtype = qEnd === i + 5 ? msg.readUInt16BE(i + 1) : 0
    const entry = zone ? names.get(labels.join('.').toLowerCase()) : undefined
    const rdatas = entry && qtype === TYPE_TXT ? entry.TXT : []
    if (zone) {
      const key = `${labels.join('.').toLowerCase()} ${qtype === TYPE_TXT ? 'TXT' : qtype}`
      answered.set(key, (answered.get(key) ?? 0) + 1)
    }
    const answers = rdatas.map((rdata) => {
      const rr = Buffer.alloc(12)
      rr.writeUInt16BE(0xc00c, 0) // name: pointer to the question's name
      rr.writeUInt16BE(TYPE_TXT, 2)
      rr.writeUInt16BE(1, 4) // class IN
      rr.writeUInt32BE(TTL_S, 6)
      rr.writeUInt16BE(rdata.length, 10)
      return Buffer.concat([rr, rdata])
    })
    const reply = Buffer.concat([msg.subarray(0, qEnd), ...answers])
    reply[2] = 0x80 | (msg[2] & 0x79) | (entry ? 0x04 : 0) // QR=1, opcode and RD copied, AA for zone names
    reply[3] = 0x80 | (entry ? 0 : RCODE_NXDOMAIN) // RA=1; a known name without the type is NODATA
    reply.writeUInt16BE(1, 4) // QDCOUNT
    reply.writeUInt16BE(answers.length, 6) // ANCOUNT
    reply.writeUInt16BE(0, 8) // NSCOUNT
    reply.writeUInt16BE(0, 10) // ARCOUNT
    socket.send(reply, rinfo.port, rinfo.address)
  })
  return new Promise((resolve, reject) => {
    socket.once('error', reject)
    socket.bind(0, '127.0.0.1', () => {
      const { port } = socket.address()
      resolve({
        host: '127.0.0.1',
        port,
        queries: () => queries,
        questions: () => Object.fromEntries(answered),
        close: () => new Promise((r) => socket.close(r)),
      })
    })
  })
}
