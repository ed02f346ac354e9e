import { startTestApp } from './test/helpers/test-app.ts'
import { makeEnvelope } from './test/helpers/fixtures.ts'
const app = await startTestApp()
let t0 = Date.now()
const ps = []
for (let i = 0; i < 5000; i++) ps.push(app.running.store.insert(Buffer.from(`Subject: m${i}\r\nFrom: a${i}@x.test\r\n\r\nbody ${i} lorem ipsum\r\n`), makeEnvelope({ clientIp: `10.${i % 200}.${i % 7}.${i % 250}` })))
await Promise.all(ps)
console.log('inserted', Date.now() - t0)
await app.running.indexer.idle()
console.log('indexed', Date.now() - t0)
const q = Array.from({ length: 100 }, (_, i) => `-ip:192.${i}.0.0/16`).join(' ')
for (const query of [q, q + ' lorem']) {
  t0 = Date.now()
  const r = await app.api(`/api/v1/search?query=${encodeURIComponent(query)}`)
  console.log('search', r.status, Date.now() - t0, JSON.stringify(r.body).slice(0, 120))
}
await app.stop()
