import { connect } from 'node:net'
import type { SpamCheck } from '../store/index.js'

// A client for SpamAssassin's spamd, written here: the protocol is a few text lines (spamd's
// PROTOCOL file, "SPAMC/1.5"); the npm `spamc` package (0.0.x) is a callback API without types
// and without the rule descriptions Mailpit's sa-check shows. One REPORT request per connection
// (spamd answers and closes):
//
//   REPORT SPAMC/1.5\r\n  Content-length: <bytes>\r\n  \r\n  <message>
//   SPAMD/1.1 0 EX_OK\r\n  Content-length: <n>\r\n  Spam: True ; 15.3 / 5.0\r\n  \r\n  <report>
//
// The report's table ("pts rule name description") gives each rule hit with its score and
// description, which is what Mailpit's sa-check shows.

export interface SpamdAddress {
  host: string
  port: number
}

// spamc's default: larger messages are not sent (spam is small; scanning 50 MiB takes spamd minutes).
export const SPAMD_MAX_BYTES = 500 * 1024
// spamd with network tests off answers in well under a second; a scan can take longer on a busy host.
const SPAMD_TIMEOUT_MS = 60_000
// A report is a few KB; more means this is not spamd talking.
const MAX_REPLY_BYTES = 1024 * 1024

/** A failure to talk to spamd at all (refused, timed out, closed early): worth retrying later. */
export class SpamdUnavailable extends Error {}

/** Sends one message to spamd and returns its verdict. Rejects with SpamdUnavailable when spamd cannot be reached. */
export function checkWithSpamd(addr: SpamdAddress, raw: Buffer, opts: { timeoutMs?: number } = {}): Promise<SpamCheck> {
  if (raw.length > SPAMD_MAX_BYTES) {
    return Promise.resolve(failed(`not checked: the message is over ${SPAMD_MAX_BYTES / 1024} KB, spamc's limit`))
  }
  return new Promise((resolve, reject) => {
    const socket = connect({ host: addr.host, port: addr.port })
    const chunks: Buffer[] = []
    let bytes = 0
    const fail = (err: Error): void => {
      socket.destroy()
      reject(err instanceof SpamdUnavailable ? err : new SpamdUnavailable(`spamd at ${addr.host}:${addr.port}: ${err.message}`))
    }
    socket.setTimeout(opts.timeoutMs ?? SPAMD_TIMEOUT_MS, () => fail(new Error('no answer in time')))
    socket.on('error', fail)
    socket.on('connect', () => {
      socket.write(`REPORT SPAMC/1.5\r\nContent-length: ${raw.length}\r\n\r\n`)
      socket.end(raw)
    })
    socket.on('data', (d: Buffer) => {
      bytes += d.length
      if (bytes > MAX_REPLY_BYTES) return fail(new Error('answer too long'))
      chunks.push(d)
    })
    socket.on('end', () => {
      socket.destroy()
      const reply = Buffer.concat(chunks).toString('utf8')
      if (!reply) return reject(new SpamdUnavailable(`spamd at ${addr.host}:${addr.port} closed without an answer`))
      resolve(parseSpamdReply(reply))
    })
  })
}

const failed = (error: string): SpamCheck => ({ checkedAt: Date.now(), error, isSpam: false, score: 0, threshold: 0, rules: [] })

/** Parses spamd's answer to REPORT: the status line, the Spam header and the report's rule table. */
export function parseSpamdReply(reply: string): SpamCheck {
  const headEnd = reply.indexOf('\r\n\r\n')
  const head = headEnd === -1 ? reply : reply.slice(0, headEnd)
  const body = headEnd === -1 ? '' : reply.slice(headEnd + 4)
  const lines = head.split('\r\n')
  const status = /^SPAMD\/[\d.]+\s+(\d+)\s*(.*)$/.exec(lines[0] ?? '')
  if (!status) return failed(`spamd answered something else: ${(lines[0] ?? '').slice(0, 100)}`)
  if (status[1] !== '0') return failed(`spamd: ${status[2] || 'error ' + status[1]}`)
  // Spam: True ; 15.3 / 5.0
  const verdict = lines.map((l) => /^Spam:\s*(True|False|Yes|No)\s*;\s*(-?[\d.]+)\s*\/\s*(-?[\d.]+)/i.exec(l)).find(Boolean)
  if (!verdict) return failed('spamd answered without a Spam: header')
  return {
    checkedAt: Date.now(),
    error: '',
    isSpam: /^(true|yes)$/i.test(verdict[1]!),
    score: Number(verdict[2]),
    threshold: Number(verdict[3]),
    rules: parseReportRules(body),
  }
}

/**
 * The rule table at the end of a SpamAssassin report:
 *    pts rule name              description
 *   ---- ---------------------- --------------------------------------------------
 *    2.5 MISSING_DATE           Missing Date: header
 *   -0.0 NO_RELAYS              Informational: message was not relayed via SMTP
 *    1.0 SOME_LONG_RULE         a description that goes on and is
 *                               continued on the next line
 */
export function parseReportRules(report: string): SpamCheck['rules'] {
  const rules: SpamCheck['rules'] = []
  const lines = report.split(/\r?\n/)
  const start = lines.findIndex((l) => /^\s*-{3,}\s+-{3,}/.test(l))
  if (start === -1) return rules
  for (const line of lines.slice(start + 1)) {
    const hit = /^\s*(-?\d+(?:\.\d+)?)\s+([A-Z0-9_]+)\s*(.*)$/.exec(line)
    if (hit) {
      rules.push({ score: Number(hit[1]), name: hit[2]!, description: hit[3]!.trim() })
      continue
    }
    const more = /^\s{5,}(\S.*)$/.exec(line)
    if (more && rules.length) {
      const last = rules[rules.length - 1]!
      last.description = `${last.description} ${more[1]!.trim()}`.trim()
      continue
    }
    if (line.trim() === '') continue
    break
  }
  return rules
}
