// Mail and DNS for the analysis benchmark (issue #4): a small zone for the loopback DNS stub (SPF
// for every sender domain, DMARC, one DKIM key) and a message factory in which every
// SIGNED_EVERY-th message carries a real DKIM-Signature made with mailauth's dkimSign, the way
// test/mail/analysis/auth.test.ts signs, so holdmail's DKIM verification really runs.
//
// Signing costs milliseconds, so it happens before any timed run: signed messages come from a pool
// of SIGNED_POOL distinct signed messages, reused in turn; unsigned ones are all distinct.
import { generateKeyPairSync } from 'node:crypto'
import { request } from 'node:http'
import { performance } from 'node:perf_hooks'
import { authenticate, dkimSign } from 'mailauth'

export const SIGNED_EVERY = 2 // every 2nd message is DKIM-signed
export const SIGNED_POOL = 500 // a multiple of DOMAINS.length, so a pooled message keeps its domain
const PARENT = 'analysis.test'
const DOMAINS = Array.from({ length: 8 }, (_, k) => `d${k}.${PARENT}`)
const SELECTOR = 'bench'

/**
 * d0..d5: SPF pass for the loopback client; d6: softfail (~all, another address); d7: pass through
 * an include. DMARC: d0 has its own p=reject record, the others fall back to the organisational
 * domain's p=quarantine record. DKIM: one 2048-bit RSA key, d=analysis.test (relaxed alignment).
 */
function zoneFor(publicB64) {
  const zone = {}
  DOMAINS.forEach((d, k) => {
    zone[d] = { TXT: [k === 6 ? 'v=spf1 ip4:192.0.2.1 ~all' : k === 7 ? `v=spf1 include:_spf.${PARENT} -all` : 'v=spf1 ip4:127.0.0.1 -all'] }
  })
  zone[`_spf.${PARENT}`] = { TXT: ['v=spf1 ip4:192.0.2.0/24 ip4:127.0.0.0/8 -all'] }
  zone[`_dmarc.${DOMAINS[0]}`] = { TXT: ['v=DMARC1; p=reject; adkim=r; aspf=r'] }
  zone[`_dmarc.${PARENT}`] = { TXT: ['v=DMARC1; p=quarantine; rua=mailto:dmarc@analysis.test'] }
  zone[`${SELECTOR}._domainkey.${PARENT}`] = { TXT: [`v=DKIM1; k=rsa; p=${publicB64}`] }
  return zone
}

function loremLines(size) {
  const word = ['lorem', 'ipsum', 'dolor', 'sit', 'amet', 'consectetur', 'adipiscing', 'elit', 'sed', 'do', 'eiusmod', 'tempor']
  const lines = []
  let bytes = 450 // headers
  for (let i = 0; bytes < size; i++) {
    let line = ''
    while (line.length < 70) line += (line ? ' ' : '') + word[(i * 7 + line.length) % word.length]
    lines.push(line)
    bytes += line.length + 2
  }
  return lines.join('\r\n') + '\r\n'
}

/**
 * Builds the key, zone and the signed pool. Returns { zone, makeBody(i), envelope(i), isSigned(i), stats }.
 * Message i and its envelope are the same for every server, so runs compare like with like.
 */
export async function createAnalysisMail({ size = 5120, log = () => {} } = {}) {
  const t0 = performance.now()
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  const publicB64 = publicKey.export({ type: 'spki', format: 'der' }).toString('base64')
  const zone = zoneFor(publicB64)

  const date = new Date().toUTCString().replace('GMT', '+0000')
  const run = Date.now().toString(36)
  const tail = Buffer.from(`Date: ${date}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n${loremLines(size)}`)
  const isSigned = (i) => i % SIGNED_EVERY === 0
  // the index whose addresses message i uses: a pooled signed message keeps the one it was signed with
  const ident = (i) => (isSigned(i) ? ((i / SIGNED_EVERY) % SIGNED_POOL) * SIGNED_EVERY : i)
  const address = (i) => `sender${i % 97}@${DOMAINS[i % DOMAINS.length]}`
  const envelope = (i) => {
    const k = ident(i)
    return { from: address(k), to: `rcpt${k % 13}@capture.example.test` }
  }
  const plain = (i) =>
    Buffer.concat([
      Buffer.from(
        `From: "Bench Sender" <${address(i)}>\r\nTo: <rcpt${i % 13}@capture.example.test>\r\n` +
          `Subject: analysis bench message ${i} of run ${run}\r\nMessage-ID: <${i}.${run}@${DOMAINS[i % DOMAINS.length]}>\r\n`,
      ),
      tail,
    ])

  const options = {
    canonicalization: 'relaxed/relaxed',
    // what mailauth's signer reads (see test/mail/analysis/auth.test.ts)
    signatureData: [{ signingDomain: PARENT, selector: SELECTOR, privateKey: privatePem, algorithm: 'rsa-sha256' }],
  }
  // Every pooled signature is verified here with mailauth against the zone: about 1 in 300 of
  // mailauth's own signatures does not verify with mailauth ("bad signature"), so those are signed
  // again with another t= until they do; the pool then holds only signatures that should pass.
  const zoneResolve = async (name, type) => {
    const txt = type === 'TXT' ? zone[name.toLowerCase()]?.TXT : null
    if (txt) return txt.map((r) => [r])
    throw Object.assign(new Error(`${name} ${type}: not in the bench zone`), { code: 'ENOTFOUND' })
  }
  const pool = []
  let resigned = 0
  for (let j = 0; j < SIGNED_POOL; j++) {
    const raw = plain(j * SIGNED_EVERY)
    for (let attempt = 0; ; attempt++) {
      const res = await dkimSign(raw, { ...options, signTime: new Date(Date.now() - attempt * 1000) })
      if (res.errors?.length || !/^DKIM-Signature: /.test(res.signatures)) throw new Error(`dkimSign failed: ${JSON.stringify(res.errors)}`)
      const signed = Buffer.concat([Buffer.from(res.signatures), raw])
      const check = await authenticate(signed, { ip: '127.0.0.1', helo: 'bench.example.test', sender: address(j * SIGNED_EVERY), resolver: zoneResolve, disableBimi: true, disableArc: true, disableDmarc: true })
      if (check.dkim?.results?.[0]?.status?.result === 'pass') {
        pool.push(signed)
        break
      }
      if (attempt >= 5) throw new Error(`message ${j * SIGNED_EVERY}: no verifiable signature after ${attempt + 1} attempts (${JSON.stringify(check.dkim?.results?.[0]?.status)})`)
      resigned++
    }
  }
  const makeBody = (i) => (isSigned(i) ? pool[(i / SIGNED_EVERY) % SIGNED_POOL] : plain(i))
  const seconds = (performance.now() - t0) / 1000
  log(`analysis: signed and verified ${SIGNED_POOL} messages in ${seconds.toFixed(1)} s (${resigned} signed again: mailauth failed to verify its own signature; every ${SIGNED_EVERY}nd message is signed, pool reused)`)
  return { zone, makeBody, envelope, isSigned, stats: { domains: DOMAINS, selector: `${SELECTOR}._domainkey.${PARENT}`, signedEvery: SIGNED_EVERY, signedPool: SIGNED_POOL, messageBytes: plain(1).length, signedMessageBytes: pool[0].length, prepareSeconds: seconds, resigned } }
}

/**
 * Subscribes to holdmail's server-sent events (GET /api/v1/events); calls onEvent(type, data, atMs)
 * with atMs = performance.now() when the event's bytes arrived. Resolves to { close() } once the
 * stream is open.
 */
export function subscribeEvents(baseUrl, onEvent) {
  return new Promise((resolve, reject) => {
    const req = request(new URL('/api/v1/events', baseUrl), { headers: { Accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) {
        res.resume()
        reject(new Error(`GET /api/v1/events: HTTP ${res.statusCode}`))
        return
      }
      res.setEncoding('utf8')
      let buf = ''
      res.on('data', (s) => {
        const at = performance.now()
        buf += s
        let i
        while ((i = buf.indexOf('\n\n')) !== -1) {
          const block = buf.slice(0, i)
          buf = buf.slice(i + 2)
          let type = 'message'
          let data = ''
          for (const line of block.split('\n')) {
            if (line.startsWith('event:')) type = line.slice(6).trim()
            else if (line.startsWith('data:')) data += line.slice(5).trim()
          }
          if (data) onEvent(type, JSON.parse(data), at)
        }
      })
      res.on('error', () => {})
      resolve({ close: () => req.destroy() })
    })
    req.on('error', reject)
    req.end()
  })
}
