// A minimal SMTP load client on raw sockets: EHLO once, then MAIL/RCPT/DATA pipelined
// (RFC 2920: DATA is the last command of a group, the body waits for 354), then the body.
// It does as little work per message as possible so that it measures the server, not itself.
import { connect } from 'node:net'
import { performance } from 'node:perf_hooks'

const CRLF_DOT_CRLF = Buffer.from('\r\n.\r\n')

/** Reads SMTP replies from a socket; resolves one waiter per complete (possibly multi-line) reply. */
class ReplyReader {
  constructor(socket) {
    this.buf = ''
    this.replies = []
    this.waiters = []
    this.error = null
    socket.setEncoding('latin1')
    socket.on('data', (s) => this.#onData(s))
    const fail = (err) => {
      this.error ??= err ?? new Error('connection closed')
      for (const w of this.waiters.splice(0)) w.reject(this.error)
    }
    socket.on('error', fail)
    socket.on('close', () => fail(new Error('connection closed')))
  }

  #onData(s) {
    this.buf += s
    let start = 0
    let i
    while ((i = this.buf.indexOf('\r\n', start)) !== -1) {
      const line = this.buf.slice(start, i)
      start = i + 2
      // a reply ends at a line "NNN " (or exactly "NNN"); "NNN-" continues it
      if (line.charCodeAt(3) === 45 /* - */) {
        this.partial = (this.partial ?? '') + line + '\n'
        continue
      }
      const text = (this.partial ?? '') + line
      this.partial = undefined
      const w = this.waiters.shift()
      if (w) w.resolve(text)
      else this.replies.push(text)
    }
    if (start > 0) this.buf = this.buf.slice(start)
  }

  next() {
    if (this.replies.length) return Promise.resolve(this.replies.shift())
    if (this.error) return Promise.reject(this.error instanceof Error ? this.error : new Error(String(this.error)))
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }))
  }
}

async function expect(reader, code, what) {
  const r = await reader.next()
  if (!r.startsWith(code)) throw new Error(`${what}: expected ${code}, got ${JSON.stringify(r.slice(0, 200))}`)
  return r
}

export async function openSession(port, host = '127.0.0.1') {
  const socket = connect({ port, host, noDelay: true })
  const reader = new ReplyReader(socket)
  await new Promise((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  await expect(reader, '220', 'greeting')
  socket.write('EHLO bench.example.test\r\n')
  await expect(reader, '250', 'EHLO')
  return { socket, reader }
}

/**
 * One transaction on an open session. `body` must already be dot-stuffed and end with CRLF.
 * Returns { reply, latencyMs } where latency is final "." written -> 250 received.
 */
export async function sendOne(session, from, to, body) {
  const { socket, reader } = session
  socket.write(`MAIL FROM:<${from}>\r\nRCPT TO:<${to}>\r\nDATA\r\n`)
  await expect(reader, '250', 'MAIL FROM')
  await expect(reader, '250', 'RCPT TO')
  await expect(reader, '354', 'DATA')
  socket.write(body)
  const t0 = performance.now()
  socket.write(CRLF_DOT_CRLF.subarray(2)) // body ends with CRLF already: "." CRLF
  const reply = await reader.next()
  const latencyMs = performance.now() - t0
  if (!reply.startsWith('250')) throw new Error(`end of DATA: got ${JSON.stringify(reply.slice(0, 200))}`)
  return { reply, latencyMs }
}

export async function closeSession(session) {
  const { socket } = session
  // QUIT and half-close; the server closes its side after 221, so TIME_WAIT stays on its side.
  socket.end('QUIT\r\n')
  await new Promise((resolve) => {
    if (socket.destroyed) return resolve()
    socket.once('close', resolve)
    socket.resume()
  })
}

/**
 * Runs `total` messages over `concurrency` workers.
 * mode 'reuse': each worker keeps one connection for all its messages.
 * mode 'new': each message gets its own connection (greeting, EHLO, transaction, QUIT).
 * makeBody(i) -> Buffer (dot-stuffed, CRLF-terminated). Returns { elapsedMs, latencies: Float64Array, count }.
 * envelope(i) -> { from, to } replaces the default MAIL FROM/RCPT TO addresses.
 * ratePerSec paces the run: message i is not sent before start + i / ratePerSec (a worker that falls
 * behind sends at once), so the offered load is steady rather than as fast as the server answers.
 * onReply(i, reply, atMs) is called on each 250, atMs being performance.now() when it arrived.
 */
export async function runLoad({ port, host = '127.0.0.1', total, concurrency, mode, makeBody, timeoutMs = 600_000, onReply, envelope, ratePerSec = 0 }) {
  let next = 0
  const latencies = new Float64Array(total)
  let done = 0
  const deadline = Date.now() + timeoutMs
  const take = () => (next < total && Date.now() < deadline ? next++ : -1)
  let t0 = 0

  async function worker() {
    let session = null
    try {
      for (let i = take(); i !== -1; i = take()) {
        if (!session) session = await openSession(port, host)
        if (ratePerSec > 0) {
          const wait = t0 + (i * 1000) / ratePerSec - performance.now()
          if (wait > 1) await new Promise((r) => setTimeout(r, wait))
        }
        const env = envelope?.(i)
        const { reply, latencyMs } = await sendOne(session, env?.from ?? `sender${i % 97}@bench.example.test`, env?.to ?? `rcpt${i % 13}@capture.example.test`, makeBody(i))
        latencies[done++] = latencyMs
        onReply?.(i, reply, performance.now())
        if (mode === 'new') {
          await closeSession(session)
          session = null
        }
      }
    } finally {
      if (session) await closeSession(session)
    }
  }

  t0 = performance.now()
  await Promise.all(Array.from({ length: concurrency }, worker))
  const elapsedMs = performance.now() - t0
  if (done < total) throw new Error(`load run timed out after ${done}/${total} messages`)
  return { elapsedMs, latencies: latencies.subarray(0, done), count: done }
}

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[i]
}
