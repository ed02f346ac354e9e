import { randomBytes } from 'node:crypto'
import libmime from 'libmime'
import { AppError } from '../../errors.js'
import type { Envelope } from '../../store/index.js'
import { headerValue, readHeaders } from '../headers.js'
import { decodeHeader } from './mime.js'

export interface ArfReportOptions {
  to: string // the abuse contact
  from?: string
  feedbackType?: string // RFC 5965 §7.3 registry; default "abuse"
  sourceIp?: string // when the caller knows better than envelope.clientIp (a trusted relay's Received hop)
  userAgent?: string
}

const DEFAULT_FROM = 'holdmail <holdmail@localhost>'
const DEFAULT_USER_AGENT = 'holdmail/0.1'
// RFC 5965 §7.3 plus auth-failure (RFC 6591 §6.1).
const FEEDBACK_TYPES = new Set(['abuse', 'fraud', 'other', 'virus', 'not-spam', 'auth-failure'])

function singleLine(name: string, value: string): string {
  // A CR or LF in a caller-given value would start a new header field (header injection).
  if (/[\r\n\0]/.test(value)) throw new AppError('BAD_REQUEST', `${name} must be a single line`)
  return value.trim()
}

/**
 * An unstructured header field with non-ASCII text as RFC 2047 encoded-words of at most 75 characters
 * (§2), folded between words (RFC 5322 §2.2.3); ASCII passes unchanged.
 */
function unstructuredField(name: string, text: string): string {
  return libmime.foldLines(`${name}: ${libmime.encodeWords(text, 'B', 75)}`, 76)
}

function rfc5322Date(ms: number): string {
  return new Date(ms).toUTCString().replace(/GMT$/, '+0000')
}

/**
 * A draft RFC 5965 feedback report about one stored sample, as .eml bytes for the user to send
 * themselves: human-readable part, machine-readable part, and the sample byte-for-byte as
 * message/rfc822 (RFC 5965 §2 (d)). holdmail never sends it.
 */
export function generateArfReport(raw: Buffer, envelope: Envelope, opts: ArfReportOptions): Buffer {
  const to = singleLine('to', opts.to)
  if (!/\S+@\S+/.test(to)) throw new AppError('BAD_REQUEST', `to: "${to}" is not an email address`)
  const from = singleLine('from', opts.from ?? DEFAULT_FROM)
  const feedbackType = singleLine('feedbackType', opts.feedbackType ?? 'abuse').toLowerCase()
  if (!FEEDBACK_TYPES.has(feedbackType)) {
    throw new AppError('BAD_REQUEST', `feedbackType "${feedbackType}" is not one of ${[...FEEDBACK_TYPES].join(', ')}`)
  }
  const sourceIp = singleLine('sourceIp', opts.sourceIp ?? envelope.clientIp)
  const userAgent = singleLine('userAgent', opts.userAgent ?? DEFAULT_USER_AGENT)

  const headers = readHeaders(raw)
  const subject = decodeHeader(headerValue(headers, 'subject')).replace(/[\r\n]+/g, ' ').slice(0, 200)
  const fromDomain = /@([A-Za-z0-9.-]+)/.exec(headerValue(headers, 'from'))?.[1]?.toLowerCase() ?? ''
  const arrival = rfc5322Date(envelope.receivedAt)
  // A boundary made of random hex cannot occur in the sample by chance (RFC 2046 §5.1.1).
  const boundary = `holdmail-arf-${randomBytes(12).toString('hex')}`
  const messageId = `<${randomBytes(12).toString('hex')}@holdmail.invalid>`
  const crlf = (lines: string[]): string => lines.join('\r\n') + '\r\n'

  const head = crlf([
    `From: ${from}`,
    `To: ${to}`,
    unstructuredField('Subject', `Abuse report: ${subject || '(no subject)'}`),
    `Date: ${rfc5322Date(Date.now())}`,
    `Message-ID: ${messageId}`,
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=feedback-report; boundary="${boundary}"`,
    '',
    'This is a multipart message in MIME format: an abuse report (RFC 5965).',
    '',
  ])
  const human = crlf([
    `--${boundary}`,
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    `This is an email abuse report for a message received from IP address ${sourceIp || 'unknown'} on ${arrival}.`,
    'The complete message is attached, unaltered, as received.',
    '',
  ])
  const machine = crlf([
    `--${boundary}`,
    'Content-Type: message/feedback-report',
    '',
    `Feedback-Type: ${feedbackType}`,
    `User-Agent: ${userAgent}`,
    'Version: 1',
    `Original-Mail-From: <${singleLine('mailFrom', envelope.mailFrom)}>`,
    ...envelope.rcptTo.map((r) => `Original-Rcpt-To: <${singleLine('rcptTo', r.address)}>`),
    `Arrival-Date: ${arrival}`,
    ...(sourceIp ? [`Source-IP: ${sourceIp}`] : []),
    ...(fromDomain ? [`Reported-Domain: ${fromDomain}`] : []),
    '',
  ])
  const sampleHead = crlf([`--${boundary}`, 'Content-Type: message/rfc822', 'Content-Disposition: inline', ''])
  // The CRLF before the closing delimiter belongs to the delimiter (RFC 2046 §5.1.1), so the sample's
  // own last line ending stays part of the sample.
  const tail = `\r\n--${boundary}--\r\n`
  return Buffer.concat([Buffer.from(head + human + machine + sampleHead, 'utf8'), raw, Buffer.from(tail)])
}
