// Codec measurements for compressed storage (--compression): each message is compressed on its
// own, as the store does, and the table gives the ratio (stored / original bytes, lower is better)
// and compress / decompress throughput in MB of original bytes per second of CPU time.
//
//   node bench/codec.mjs                    the sets below, with every codec this Node has
//   BENCH_CODEC_MODULES=DIR node bench/...   also try zstd packages installed under DIR/node_modules
//                                            (@toondepauw/node-zstd, @bokuweb/zstd-wasm)
//   BENCH_CODEC_MS=100 BENCH_CODEC_ROUNDS=5  time per measurement, and rounds (the best is kept)
//
// Sets: ../shared/corpus/messages (real mail, when present), the bench's 5 KB messages
// (bench/run.mjs: repeated lorem-ipsum lines, very compressible) and 5 KB messages of varied
// words like the seeded databases' (bench/lib/seed.mjs).
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import zlib from 'node:zlib'
import { mulberry32 } from './lib/prng.mjs'

const HERE = dirname(fileURLToPath(import.meta.url))
const BUDGET_MS = Number(process.env.BENCH_CODEC_MS ?? 100)
const ROUNDS = Number(process.env.BENCH_CODEC_ROUNDS ?? 5)
const MB = 1e6

function corpus() {
  const dir = join(HERE, '..', '..', 'shared', 'corpus', 'messages')
  const alt = '/work/shared/corpus/messages'
  for (const d of [dir, alt]) {
    try {
      return readdirSync(d).filter((f) => statSync(join(d, f)).isFile()).map((f) => readFileSync(join(d, f)))
    } catch {
      // not there
    }
  }
  return null
}

/** The bench's ingest messages (bench/run.mjs bodyFactory), 200 of them. */
function benchMessages(size = 5120, n = 200) {
  const word = ['lorem', 'ipsum', 'dolor', 'sit', 'amet', 'consectetur', 'adipiscing', 'elit', 'sed', 'do', 'eiusmod', 'tempor']
  const lines = []
  for (let i = 0, bytes = 300; bytes < size; i++) {
    let line = ''
    while (line.length < 70) line += (line ? ' ' : '') + word[(i * 7 + line.length) % word.length]
    lines.push(line)
    bytes += line.length + 2
  }
  const tail = `Date: Fri, 04 Dec 2026 21:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n${lines.join('\r\n')}\r\n`
  return Array.from({ length: n }, (_, i) =>
    Buffer.from(
      `From: "Bench Sender" <sender${i % 97}@bench.example.test>\r\nTo: <rcpt${i % 13}@capture.example.test>\r\n` +
        `Subject: bench message ${i} of run kq1x\r\nMessage-ID: <${i}.kq1x@bench.example.test>\r\n` +
        tail,
    ),
  )
}

// Word shapes like bench/lib/seed.mjs's (which needs a build of holdmail to import); its PRNG.
function vocabulary(rnd, size) {
  const syllables = ['ka', 'lo', 'mi', 'ne', 'ra', 'to', 'vu', 'zen', 'qua', 'dor', 'fel', 'gri', 'hus', 'jor', 'pex', 'sil', 'tam', 'wex', 'yol', 'bri']
  const words = new Set(['invoice', 'payment', 'urgent', 'account', 'verify', 'password', 'winner', 'prize', 'crypto', 'bitcoin'])
  while (words.size < size) {
    let w = ''
    for (let i = 0, n = 2 + Math.floor(rnd() * 3); i < n; i++) w += syllables[Math.floor(rnd() * syllables.length)]
    words.add(w)
  }
  return [...words]
}

/** 5 KB messages of words drawn from a 3000-word vocabulary, Zipf-like, as in the seeded databases. */
function variedMessages(size = 5120, n = 200) {
  const rnd = mulberry32(7)
  const vocab = vocabulary(rnd, 3000)
  return Array.from({ length: n }, (_, i) => {
    let text = `Received: from mx${i}.example.net (mx${i}.example.net [192.0.2.${i % 250}])\r\n\tby capture.example.test with ESMTP id ${i.toString(36)}\r\n` +
      `From: "Billing" <billing@d${i}mail.com>\r\nTo: <user${i}@capture.example.test>\r\nSubject: ${vocab[i]} ${vocab[i * 3 % 3000]}\r\n` +
      `Message-ID: <${(i * 7919).toString(36)}@d${i}mail.com>\r\nDate: Fri, 04 Dec 2026 21:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n`
    let line = ''
    while (text.length < size) {
      line += vocab[Math.min(2999, Math.floor(3000 ** rnd() - 1))] + ' '
      if (line.length > 70) {
        text += line.trimEnd() + '\r\n'
        line = ''
      }
    }
    return Buffer.from(text)
  })
}

const brotli = (quality) => ({
  name: `brotli q${quality}`,
  compress: (b) =>
    zlib.brotliCompressSync(b, {
      params: {
        [zlib.constants.BROTLI_PARAM_QUALITY]: quality,
        [zlib.constants.BROTLI_PARAM_SIZE_HINT]: b.length,
        [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_TEXT,
      },
    }),
  decompress: (b) => zlib.brotliDecompressSync(b),
})
const deflate = (level) => ({
  name: `deflate ${level}`,
  compress: (b) => zlib.deflateRawSync(b, { level }),
  decompress: (b) => zlib.inflateRawSync(b),
})

async function codecs() {
  const list = [deflate(1), deflate(6), brotli(1), brotli(4), brotli(5), brotli(9)]
  if (typeof zlib.zstdCompressSync === 'function') {
    for (const level of [1, 3, 9]) {
      list.push({
        name: `zstd ${level} (node:zlib)`,
        compress: (b) => zlib.zstdCompressSync(b, { params: { [zlib.constants.ZSTD_c_compressionLevel]: level } }),
        decompress: (b) => zlib.zstdDecompressSync(b),
      })
    }
  }
  const dir = process.env.BENCH_CODEC_MODULES
  if (dir) {
    const require = createRequire(join(dir, 'noop.js'))
    try {
      const { Encoder, Decoder } = require('@toondepauw/node-zstd')
      const dec = new Decoder()
      for (const level of [1, 3, 9]) {
        const enc = new Encoder(level)
        list.push({ name: `zstd ${level} (native addon)`, compress: (b) => enc.encodeSync(b), decompress: (b) => dec.decodeSync(b) })
      }
    } catch (err) {
      console.error(`@toondepauw/node-zstd: ${err.message}`)
    }
    try {
      const wasm = require('@bokuweb/zstd-wasm')
      await wasm.init()
      for (const level of [1, 3]) list.push({ name: `zstd ${level} (wasm)`, compress: (b) => wasm.compress(b, level), decompress: (b) => wasm.decompress(b) })
    } catch (err) {
      console.error(`@bokuweb/zstd-wasm: ${err.message}`)
    }
  }
  return list
}

/**
 * MB of original bytes per second of CPU time (this process's user + system) through fn over the
 * whole set, repeated for about BUDGET_MS of wall time. CPU time rather than wall time: on a shared
 * machine a busy neighbour stretches wall time several-fold, while the CPU a codec needs per byte
 * is what it takes from the writer thread.
 */
function rate(items, originalBytes, fn) {
  for (const it of items) fn(it) // warm-up
  let rounds = 0
  const start = performance.now()
  const cpu0 = process.cpuUsage()
  do {
    for (const it of items) fn(it)
    rounds++
  } while (performance.now() - start < BUDGET_MS)
  const cpu = process.cpuUsage(cpu0)
  return (originalBytes * rounds) / MB / ((cpu.user + cpu.system) / 1e6)
}

/** @type {[string, Buffer[]][]} */
const sets = [
  ['bench 5 KB (lorem)', benchMessages()],
  ['5 KB varied words', variedMessages()],
]
const real = corpus()
if (real) sets.unshift(['corpus (real mail)', real])
else console.error('../shared/corpus not found: corpus row skipped')

const list = await codecs()
console.log(`node ${process.version}; best of ${ROUNDS} interleaved rounds of ${BUDGET_MS} ms per codec, set and direction; ratio = stored / original (lower is better); MB of original bytes per CPU second\n`)
console.log('| set | messages | MB | codec | ratio | compress MB/s | decompress MB/s |')
console.log('| --- | ---: | ---: | --- | ---: | ---: | ---: |')
for (const [name, msgs] of sets) {
  const original = msgs.reduce((n, m) => n + m.length, 0)
  const rows = list.map((c) => {
    const packed = msgs.map((m) => c.compress(m))
    packed.forEach((p, i) => {
      if (!Buffer.from(c.decompress(p)).equals(msgs[i])) throw new Error(`${c.name}: round trip differs on ${name} #${i}`)
    })
    return { c, packed, stored: packed.reduce((n, p) => n + p.length, 0), cBest: 0, dBest: 0 }
  })
  // Rounds go across every codec before the next round, so a burst of load elsewhere on the machine
  // hits one round of each rather than every round of one.
  for (let round = 0; round < ROUNDS; round++) {
    for (const r of rows) {
      r.cBest = Math.max(r.cBest, rate(msgs, original, r.c.compress))
      r.dBest = Math.max(r.dBest, rate(r.packed, original, r.c.decompress))
    }
  }
  for (const r of rows) {
    console.log(`| ${name} | ${msgs.length} | ${(original / MB).toFixed(2)} | ${r.c.name} | ${(r.stored / original).toFixed(3)} | ${r.cBest.toFixed(0)} | ${r.dBest.toFixed(0)} |`)
  }
}
