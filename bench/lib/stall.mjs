// The `stall` part of npm run bench: does capture wait for readers or for hostile samples?
//
// One holdmail holding BENCH_STALL_SEED small messages and a 40 MB multipart message. Two phases,
// each BENCH_STALL_SECONDS long, with the same steady SMTP load (20 reused connections at
// BENCH_STALL_RATE msg/s) and the same probe (a new connection every 50 ms: time to the 220, then
// one small message's DATA -> 250):
//   idle:    nothing else;
//   hostile: a reader runs, one after another and over and over: the heaviest search still accepted
//            (100 negated ip: CIDR terms), a free-word search over every message, GET of the 40 MB
//            message with 20 concurrent part downloads, an mbox export of everything, and a
//            40 000-address Bcc message arriving over SMTP and being opened.
// Meanwhile a light reader lists the first page every 200 ms, and the server's RSS is sampled.
import { performance } from 'node:perf_hooks'
import { connect } from 'node:net'
import { memoryOf } from './procs.mjs'
import { percentile, runLoad, openSession, sendOne, closeSession } from './smtp-client.mjs'

const PROBE_EVERY_MS = 50
const LIST_EVERY_MS = 200
const RSS_EVERY_MS = 200

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const stats = (arr) => {
  const s = Float64Array.from(arr).sort()
  return { n: s.length, p50: percentile(s, 0.5), p99: percentile(s, 0.99), max: s.length ? s[s.length - 1] : NaN }
}

/** A new connection: ms to the 220, then ms from the end of DATA to the 250 of one small message. */
async function probeOnce(port, body) {
  const t0 = performance.now()
  const socket = connect({ port, host: '127.0.0.1', noDelay: true })
  // Complete replies in arrival order (a multi-line reply ends at its "NNN " line).
  const replies = []
  const waiters = []
  let buf = ''
  let current = ''
  socket.setEncoding('latin1')
  socket.on('data', (/** @type {string} */ d) => {
    buf += d
    for (let i; (i = buf.indexOf('\r\n')) !== -1; ) {
      const line = buf.slice(0, i)
      buf = buf.slice(i + 2)
      current += line + '\n'
      if (/^\d{3} /.test(line)) {
        replies.push(current)
        current = ''
      }
    }
    while (replies.length && waiters.length) waiters.shift()(replies.shift())
  })
  const closed = new Promise((_, reject) => socket.once('close', () => reject(new Error('probe: connection closed'))))
  closed.catch(() => {})
  const next = () => (replies.length ? Promise.resolve(replies.shift()) : Promise.race([new Promise((r) => waiters.push(r)), closed]))
  try {
    await next()
    const greetMs = performance.now() - t0
    socket.write('EHLO probe.bench.test\r\n')
    await next()
    socket.write('MAIL FROM:<probe@bench.test>\r\nRCPT TO:<trap@bench.test>\r\nDATA\r\n')
    for (let i = 0; i < 3; i++) await next()
    socket.write(body)
    const t1 = performance.now()
    socket.write('.\r\n')
    const reply = await next()
    const dataMs = performance.now() - t1
    if (!reply.startsWith('250')) throw new Error(`probe: ${reply}`)
    socket.end('QUIT\r\n')
    return { greetMs, dataMs }
  } finally {
    socket.destroy()
  }
}

function bigMessage(mb) {
  const part = Buffer.alloc(48 * 1024, 'x').toString('base64').replace(/.{76}/g, '$&\r\n')
  const lines = ['From: big@sender.test', 'To: trap@bench.test', 'Subject: forty megabytes', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="b"', '', 'x']
  const parts = Math.ceil((mb * 1024 * 1024) / part.length)
  for (let i = 0; i < parts; i++) lines.push('--b', 'Content-Type: image/png', `Content-Disposition: attachment; filename="p${i}.png"`, 'Content-Transfer-Encoding: base64', '', part)
  lines.push('--b--', '')
  return Buffer.from(lines.join('\r\n'))
}

function bccBomb(n) {
  const bcc = Array.from({ length: n }, (_, i) => `r${i}@bomb.example`).join(',\r\n ')
  return Buffer.from(`From: bomb@sender.test\r\nTo: trap@bench.test\r\nBcc: ${bcc}\r\nSubject: bcc bomb ${Date.now()}\r\n\r\nx\r\n`)
}

async function sendRaw(port, raw) {
  const s = await openSession(port)
  try {
    const { reply } = await sendOne(s, 'big@sender.test', 'trap@bench.test', raw.toString('latin1').endsWith('\r\n') ? raw : Buffer.concat([raw, Buffer.from('\r\n')]))
    return /queued as (\S+)/.exec(reply)[1]
  } finally {
    await closeSession(s)
  }
}

async function timed(what, fn, out) {
  const t0 = performance.now()
  let status
  try {
    status = await fn()
  } catch (err) {
    status = `error: ${err.message}`
  }
  out.push({ what, ms: performance.now() - t0, status })
}

const drain = async (res) => {
  let bytes = 0
  for await (const chunk of res.body) bytes += chunk.length
  return bytes
}

/** One round of the hostile reader; returns when every step has answered. */
async function hostileRound(server, bigId, steps) {
  const api = server.baseUrl
  const heavy = Array.from({ length: 100 }, (_, i) => `-ip:192.${i}.0.0/16`).join(' ')
  await timed('search: 100 negated ip: terms', async () => (await fetch(`${api}/api/v1/search?query=${encodeURIComponent(heavy)}`)).status, steps)
  await timed('search: a free word over every message', async () => (await fetch(`${api}/api/v1/search?query=lorem`)).status, steps)
  await timed('GET 40 MB message + 20 part downloads', async () => {
    const m = await (await fetch(`${api}/api/v1/message/${bigId}`)).json()
    const parts = (m.Attachments ?? []).slice(0, 20)
    const codes = await Promise.all(parts.map(async (p) => {
      const r = await fetch(`${api}/api/v1/message/${bigId}/part/${p.PartID}`)
      await drain(r)
      return r.status
    }))
    return `${parts.length} parts: ${[...new Set(codes)].join(',')}`
  }, steps)
  await timed('mbox export of everything', async () => {
    const r = await fetch(`${api}/api/v1/export?format=mbox`)
    return `${r.status} ${(await drain(r)) >> 20} MiB`
  }, steps)
  await timed('Bcc bomb (40 000 addresses) arrives and is opened', async () => {
    const id = await sendRaw(server.smtpPort, bccBomb(40_000))
    return (await fetch(`${api}/api/v1/message/${id}`)).status
  }, steps)
}

/**
 * Runs the two phases against a started server ({ smtpPort, baseUrl, pid }) and returns the rows
 * to print. `record(group, metric, value, unit, target, pass)` as in run.mjs.
 */
export async function benchStall(server, { seed, seconds, rate, log, record, makeBody }) {
  const probeBody = Buffer.from('Subject: probe\r\n\r\nprobe\r\n')
  log(`stall: seeding ${seed} messages and a 40 MB one`)
  await runLoad({ port: server.smtpPort, total: seed, concurrency: 20, mode: 'reuse', makeBody })
  const bigId = await sendRaw(server.smtpPort, bigMessage(40))

  const phase = async (name, hostile) => {
    const stop = { now: false }
    const greet = []
    const data = []
    const lists = []
    const rss = []
    const steps = []
    const loops = []
    loops.push((async () => {
      while (!stop.now) {
        const at = performance.now()
        const p = probeOnce(server.smtpPort, probeBody).then((r) => {
          greet.push(r.greetMs)
          data.push(r.dataMs)
        }, (err) => log(`probe failed: ${err.message}`))
        loops.push(p)
        await sleep(Math.max(0, PROBE_EVERY_MS - (performance.now() - at)))
      }
    })())
    loops.push((async () => {
      while (!stop.now) {
        const t0 = performance.now()
        const r = await fetch(`${server.baseUrl}/api/v1/messages?limit=50`)
        await r.arrayBuffer()
        lists.push(performance.now() - t0)
        await sleep(LIST_EVERY_MS)
      }
    })())
    loops.push((async () => {
      while (!stop.now) {
        rss.push(memoryOf(server.pid).rssMiB)
        await sleep(RSS_EVERY_MS)
      }
    })())
    const total = Math.round(rate * seconds)
    const steady = runLoad({ port: server.smtpPort, total, concurrency: 20, mode: 'reuse', makeBody, ratePerSec: rate })
    if (hostile) {
      loops.push((async () => {
        while (!stop.now) await hostileRound(server, bigId, steps)
      })())
    }
    await steady
    stop.now = true
    await Promise.all(loops)
    const g = stats(greet)
    const d = stats(data)
    const l = stats(lists)
    log(`stall ${name}: probes ${g.n}, greeting p50 ${g.p50.toFixed(1)} p99 ${g.p99.toFixed(1)} max ${g.max.toFixed(1)} ms; DATA->250 p50 ${d.p50.toFixed(1)} p99 ${d.p99.toFixed(1)} max ${d.max.toFixed(1)} ms; list max ${l.max.toFixed(0)} ms; RSS max ${Math.max(...rss).toFixed(0)} MiB`)
    for (const s of steps) log(`  ${s.what}: ${s.ms.toFixed(0)} ms (${s.status})`)
    return { greet: g, data: d, list: l, rssMax: Math.max(...rss), steps }
  }

  const idle = await phase('idle', false)
  const hostile = await phase('hostile', true)
  const G = 'stall'
  record(G, 'probe greeting p50 idle / hostile', `${idle.greet.p50.toFixed(1)} / ${hostile.greet.p50.toFixed(1)}`, 'ms')
  record(G, 'probe greeting p99 with hostile readers', hostile.greet.p99, 'ms', '< 50', hostile.greet.p99 < 50)
  record(G, 'probe greeting max with hostile readers', hostile.greet.max, 'ms', '< 250', hostile.greet.max < 250)
  record(G, 'probe greeting p99 / max idle', `${idle.greet.p99.toFixed(1)} / ${idle.greet.max.toFixed(1)}`, 'ms')
  record(G, 'probe DATA->250 p50 idle / hostile', `${idle.data.p50.toFixed(1)} / ${hostile.data.p50.toFixed(1)}`, 'ms')
  record(G, 'probe DATA->250 p99 idle / hostile', `${idle.data.p99.toFixed(1)} / ${hostile.data.p99.toFixed(1)}`, 'ms')
  const ratio = hostile.data.p99 / idle.data.p99
  record(G, 'probe DATA->250 p99 hostile / idle', ratio, 'x', '< 2', ratio < 2)
  record(G, 'probe DATA->250 max idle / hostile', `${idle.data.max.toFixed(1)} / ${hostile.data.max.toFixed(1)}`, 'ms')
  record(G, 'list first page, max while hostile readers run', hostile.list.max, 'ms', '< 1000', hostile.list.max < 1000)
  record(G, 'server RSS max (idle / hostile)', `${idle.rssMax.toFixed(0)} / ${hostile.rssMax.toFixed(0)}`, 'MiB', '< 1024', Math.max(idle.rssMax, hostile.rssMax) < 1024)
  record(G, 'hostile reader rounds (steps answered)', hostile.steps.length, 'steps')
  return { idle, hostile }
}
