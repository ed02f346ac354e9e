// A slow webhook receiver for the ingest benchmark (issue 11: "a slow or dead receiver costs
// nothing to ingest"): a loopback HTTP server that reads each request's body, then answers 204
// only after `delayMs`, never sooner. It counts requests and the most it held at once.
import { createServer } from 'node:http'

export async function startSlowReceiver({ delayMs = 5000 } = {}) {
  const timers = new Set()
  const stats = { requests: 0, answered: 0, bodyBytes: 0, maxBodyBytes: 0, inFlight: 0, maxInFlight: 0 }
  const server = createServer((req, res) => {
    stats.requests++
    stats.inFlight++
    stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight)
    let bytes = 0
    req.on('data', (chunk) => {
      bytes += chunk.length
    })
    req.on('end', () => {
      stats.bodyBytes += bytes
      stats.maxBodyBytes = Math.max(stats.maxBodyBytes, bytes)
      // The delay counts from the end of the body, so no answer comes sooner than delayMs.
      const t = setTimeout(() => {
        timers.delete(t)
        stats.answered++
        res.writeHead(204).end()
      }, delayMs)
      timers.add(t)
    })
    res.on('close', () => stats.inFlight--)
  })
  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  const { port } = server.address()
  return {
    url: `http://127.0.0.1:${port}/hook`,
    stats: () => ({ ...stats }),
    async close() {
      for (const t of timers) clearTimeout(t)
      timers.clear()
      server.closeAllConnections()
      await new Promise((resolve) => server.close(() => resolve()))
    },
  }
}
