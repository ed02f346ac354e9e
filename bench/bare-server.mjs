// The baseline for the ingest benchmark: the same smtp-server package through holdmail's
// CaptureServer subclass (so the 100 ms greeting delay is bypassed the same way), with an onData
// that drains the stream and discards it. Runs in its own process, like holdmail, for fairness.
// Otherwise it is smtp-server as shipped: its own MAIL/RCPT/connect handlers (which answer on the
// next event-loop turn) and one write per reply. holdmail's listener answers those at once and
// corks the replies of a tick into one write; that is part of what holdmail is, not of the baseline.
// Prints "bare SMTP listening on HOST:PORT".
import { CaptureServer } from '../dist/smtp/capture-server.js'

const server = new CaptureServer({
  greetDelayMs: 0,
  trustedRelays: [],
  name: 'bare.localhost',
  banner: 'bare baseline',
  size: 50 * 1024 * 1024,
  disableReverseLookup: true,
  logger: false,
  authOptional: true,
  hidePIPELINING: false,
  hide8BITMIME: false,
  hideSMTPUTF8: false,
  hideENHANCEDSTATUSCODES: false,
  onData(stream, _session, callback) {
    stream.on('data', () => {})
    stream.on('end', () => callback(null, 'Ok: discarded'))
  },
})
server.on('error', () => {})
server.listen(0, '127.0.0.1', () => {
  const a = server.server.address()
  process.stdout.write(`bare SMTP listening on ${a.address}:${a.port}\n`)
})
process.on('SIGTERM', () => server.close(() => process.exit(0)))
