// A loopback DNS stub for the benchmark: answers every query NXDOMAIN at once, so holdmail's
// SPF/DKIM/DMARC analysers do their CPU work without any packet leaving the machine.
import { createSocket } from 'node:dgram'

const RCODE_NXDOMAIN = 3

export function startDnsStub() {
  const socket = createSocket('udp4')
  let queries = 0
  socket.on('message', (msg, rinfo) => {
    if (msg.length < 12) return
    queries++
    // question section: labels up to a zero byte, then QTYPE and QCLASS
    let i = 12
    while (i < msg.length && msg[i] !== 0) i += msg[i] + 1
    const qEnd = Math.min(msg.length, i + 5)
    const reply = Buffer.alloc(qEnd)
    msg.copy(reply, 0, 0, qEnd)
    reply[2] = 0x80 | (msg[2] & 0x79) // QR=1, opcode and RD copied
    reply[3] = 0x80 | RCODE_NXDOMAIN // RA=1
    reply.writeUInt16BE(1, 4) // QDCOUNT
    reply.writeUInt32BE(0, 6) // ANCOUNT, NSCOUNT
    reply.writeUInt16BE(0, 10) // ARCOUNT
    socket.send(reply, rinfo.port, rinfo.address)
  })
  return new Promise((resolve, reject) => {
    socket.once('error', reject)
    socket.bind(0, '127.0.0.1', () => {
      const { port } = socket.address()
      resolve({ host: '127.0.0.1', port, queries: () => queries, close: () => new Promise((r) => socket.close(r)) })
    })
  })
}
