import { headerValue, headerValues, readHeaderBlock, type HeaderLine } from '../headers.js'
import { decodeHeader, type MimePart } from './mime.js'
import { isPublicIp, parseReceivedFrom } from './received.js'

export interface BounceRecipient {
  FinalRecipient: string
  OriginalRecipient: string
  Action: string // RFC 3464 §2.3.3, lowercased: failed, delayed, delivered, relayed, expanded
  Status: string // RFC 3463 class.subject.detail, e.g. 5.1.1
  DiagnosticCode: string
  RemoteMTA: string
}

/** Facts about the message that bounced, from its returned copy (full or headers only). */
export interface OriginalMessage {
  From: string
  MailFrom: string // its Return-Path
  To: string
  Subject: string
  MessageID: string
  OriginIP: string // the bottom-most Received hop from a public address: who really injected it
  OriginHost: string
}

export interface BounceReport {
  Format: string // which recogniser matched: rfc3464, postfix, exim, qmail, exchange, gmail, generic
  ReportingMTA: string
  ArrivalDate: string
  Recipients: BounceRecipient[]
  Original: OriginalMessage | null
}

/** RFC 3464 §2.1.2: "type; value" fields (dns; host, rfc822; addr, smtp; text); the type is dropped. */
function typedValue(value: string): string {
  const m = /^\s*([A-Za-z0-9-]+)\s*;\s*(.*)$/s.exec(value)
  return (m ? (m[2] ?? '') : value).trim()
}

export function statusCode(value: string): string {
  return /\b([245]\.\d{1,3}\.\d{1,3})\b/.exec(value)?.[1] ?? ''
}

const PER_RECIPIENT: Record<string, keyof BounceRecipient> = {
  'final-recipient': 'FinalRecipient',
  'original-recipient': 'OriginalRecipient',
  action: 'Action',
  status: 'Status',
  'diagnostic-code': 'DiagnosticCode',
  'remote-mta': 'RemoteMTA',
}

function emptyRecipient(): BounceRecipient {
  return { FinalRecipient: '', OriginalRecipient: '', Action: '', Status: '', DiagnosticCode: '', RemoteMTA: '' }
}

/**
 * The body of a message/delivery-status part (RFC 3464 §2.1): a per-message block, then one block
 * per recipient. Generators leave out or double the blank lines between blocks, so a recipient also
 * starts when a field it already has appears again. Hand-written, not the header reader: a line that
 * is not a field must not end a recipient's group, and only a recipient's own fields take folds.
 */
export function parseDeliveryStatus(body: string): { reportingMta: string; arrivalDate: string; recipients: BounceRecipient[] } {
  let reportingMta = ''
  let arrivalDate = ''
  const recipients: BounceRecipient[] = []
  let current: BounceRecipient | null = null
  let seen = new Set<string>()
  let last: { rcpt: BounceRecipient; key: keyof BounceRecipient } | null = null
  const close = (): void => {
    if (current && seen.size) recipients.push(current)
    current = null
    seen = new Set()
  }
  for (const line of body.split('\n')) {
    if (line.trim() === '') {
      if (seen.size) close()
      last = null
      continue
    }
    if ((line[0] === ' ' || line[0] === '\t') && last) {
      last.rcpt[last.key] += ' ' + line.trim()
      continue
    }
    const colon = line.indexOf(':')
    if (colon <= 0) continue
    const name = line.slice(0, colon).trim().toLowerCase()
    const value = line.slice(colon + 1).trim()
    const key = PER_RECIPIENT[name]
    if (key) {
      if (seen.has(key)) close()
      current ??= emptyRecipient()
      current[key] = typedValueFor(key, value)
      seen.add(key)
      last = { rcpt: current, key }
    } else {
      last = null
      if (name === 'reporting-mta' && !reportingMta) reportingMta = typedValue(value)
      else if (name === 'arrival-date' && !arrivalDate) arrivalDate = value
    }
  }
  close()
  for (const r of recipients) {
    // NUL and other C0 controls in hostile reports would only confuse search and display.
    // eslint-disable-next-line no-control-regex -- matching control characters is this regex's purpose
    for (const k of Object.keys(r) as (keyof BounceRecipient)[]) r[k] = r[k].replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '')
    r.Status = statusCode(r.Status) || r.Status
    r.Action = r.Action.toLowerCase()
    r.DiagnosticCode = r.DiagnosticCode.replace(/\s+/g, ' ').trim()
  }
  return { reportingMta, arrivalDate, recipients }
}

function typedValueFor(key: keyof BounceRecipient, value: string): string {
  if (key === 'Action' || key === 'Status') return value.trim()
  return typedValue(value)
}

// ---------------------------------------------------------------------------------------------
// The returned message

/** Finds where a copy of the original message's header block starts inside free text. */
export function findEmbeddedHeaders(text: string): HeaderLine[] | null {
  const lines = text.split('\n')
  const known = /^(return-path|received|from|to|subject|message-id|date|dkim-signature|mime-version|x-[a-z0-9-]+|content-type|reply-to|delivered-to|authentication-results|sender|cc):/i
  for (let i = 0; i < lines.length; i++) {
    const strip = (l: string): string => l.replace(/^(?:> ?|\s{1,8})(?=[A-Za-z-]+:)/, '')
    const line = strip(lines[i] ?? '')
    if (!known.test(line)) continue
    // A real header block has several fields in a row and names at least one message field.
    let j = i
    let fields = 0
    let core = 0
    while (j < lines.length) {
      const l = lines[j] ?? ''
      const s = strip(l)
      if (/^[A-Za-z0-9-]+:/.test(s)) {
        fields++
        if (/^(from|subject|message-id|to|received|return-path):/i.test(s)) core++
      } else if (!/^\s+\S/.test(l)) break
      j++
    }
    if (fields >= 2 && core >= 1) {
      const indent = /^(> ?|\s{1,8})(?=[A-Za-z-]+:)/.exec(lines[i] ?? '')?.[1] ?? ''
      const block = lines
        .slice(i, j)
        .map((l) => (indent && l.startsWith(indent) && /^[A-Za-z0-9-]+:/.test(l.slice(indent.length)) ? l.slice(indent.length) : l))
        .join('\n')
      return readHeaderBlock(block, 'part').headers
    }
  }
  return null
}

const ADDRESS = /<?([^\s<>"(),;:]+@[^\s<>"(),;:]+?)>?(?=[\s>),;:]|$)/

function addressIn(value: string): string {
  return ADDRESS.exec(value)?.[1] ?? value.trim()
}

export function originalFrom(headers: readonly HeaderLine[]): OriginalMessage | null {
  if (!headers.length) return null
  let originIp = ''
  let originHost = ''
  // Received fields are prepended, so the bottom-most one with a public client is the first hop
  // that came from outside: the server that injected the message.
  const received = headerValues(headers, 'received')
  for (let i = received.length - 1; i >= 0; i--) {
    const hop = parseReceivedFrom(received[i] ?? '')
    if (hop.ip && isPublicIp(hop.ip)) {
      originIp = hop.ip
      originHost = hop.host ?? hop.helo ?? ''
      break
    }
  }
  const returnPath = headerValue(headers, 'return-path')
  const message: OriginalMessage = {
    From: decodeHeader(headerValue(headers, 'from')),
    MailFrom: returnPath ? (/<\s*>/.test(returnPath) ? '' : addressIn(returnPath)) : '',
    To: decodeHeader(headerValue(headers, 'to')),
    Subject: decodeHeader(headerValue(headers, 'subject')),
    MessageID: headerValue(headers, 'message-id').replace(/^\s*<|>\s*$/g, ''),
    OriginIP: originIp,
    OriginHost: originHost,
  }
  return Object.values(message).some(Boolean) ? message : null
}

/** The returned copy in a report: message/rfc822 (RFC 3464 §2) or text/rfc822-headers (RFC 6522 §3). */
export function returnedMessage(report: MimePart, skip: MimePart | null = null): OriginalMessage | null {
  for (const child of report.children) {
    if (child === skip) continue
    if (['message/rfc822', 'message/global', 'text/rfc822-headers', 'message/rfc822-headers'].includes(child.contentType)) {
      const inner = child.children[0]
      if (inner) return originalFrom(inner.headers)
    }
  }
  return null
}

// ---------------------------------------------------------------------------------------------
// Bounces that are not RFC 3464 reports

interface TextBounce {
  format: string
  reportingMta: string
  recipients: BounceRecipient[]
}

const DIAG_STATUS = /\b([245]\d\d)[ -]+(?:#?([245]\.\d{1,3}\.\d{1,3}))?/

function recipientFrom(address: string, text: string, remote = ''): BounceRecipient {
  const diag = text.replace(/\s+/g, ' ').trim()
  // Without a code, RFC 3463's X.2.2 (mailbox full) is the one condition bounce texts name plainly enough.
  const status =
    statusCode(diag) || (/\b5\d\d\b/.test(diag) ? '5.0.0' : /\b4\d\d\b/.test(diag) ? '4.0.0' : /mailbox (?:is )?full|over ?quota/i.test(diag) ? '5.2.2' : '')
  const delayed = /\b(delayed|will (?:be )?retry|still trying|temporar)/i.test(diag) || status.startsWith('4.')
  return {
    FinalRecipient: address,
    OriginalRecipient: '',
    Action: delayed ? 'delayed' : 'failed',
    Status: status,
    DiagnosticCode: diag.slice(0, 1000),
    RemoteMTA: remote,
  }
}

function remoteIn(text: string): string {
  // "host mx.example.com[192.0.2.1] said:", "host mx.example.com [192.0.2.1]", "Remote host said:"
  return /\bhost\s+([A-Za-z0-9.-]+\.[A-Za-z]{2,})\s*\[?/i.exec(text)?.[1] ?? /\bRemote Server at\s+([A-Za-z0-9.-]+)/i.exec(text)?.[1] ?? ''
}

/** Postfix bounce(8) text: "<user@domain>: host mx[ip] said: 550 ... (in reply to RCPT TO command)". */
function postfixText(text: string): TextBounce | null {
  const mta = /This is the mail system at host ([^\s.][^\s]*?)\.?\s*$/m.exec(text)
  if (!mta) return null
  const recipients: BounceRecipient[] = []
  for (const m of text.matchAll(/^<([^>\s]+@[^>\s]+)>(?: \(expanded from <[^>]*>\))?:\s*((?:.+\n?)(?:[ \t]+.+\n?)*)/gm)) {
    recipients.push(recipientFrom(m[1] ?? '', m[2] ?? '', remoteIn(m[2] ?? '')))
  }
  return { format: 'postfix', reportingMta: mta[1] ?? '', recipients }
}

/** qmail-send / netqmail: "<user@domain>:\nip does not like recipient.\nRemote host said: ..." */
function qmailText(text: string): TextBounce | null {
  const mta = /This is the qmail-send program at ([^\s]+?)\.?\s*$/m.exec(text)
  if (!mta && !/^--- Below this line is a copy of the message\./m.test(text)) return null
  const head = text.split(/^--- Below this line is a copy of the message\./m)[0] ?? text
  const recipients: BounceRecipient[] = []
  const blocks = head.split(/^(?=<[^>\s]+@[^>\s]+>:?\s*$)/m).slice(1)
  for (const block of blocks) {
    const m = /^<([^>\s]+@[^>\s]+)>:?\s*\n([\s\S]*)$/.exec(block)
    if (!m) continue
    const body = (m[2] ?? '').trim()
    const ip = /^(\d+\.\d+\.\d+\.\d+) (?:does not like|failed after)/m.exec(body)?.[1] ?? ''
    recipients.push(recipientFrom(m[1] ?? '', body, ip))
  }
  return { format: 'qmail', reportingMta: mta?.[1] ?? '', recipients }
}

/** Exim: "The following address(es) failed:\n\n  user@domain\n    host ... SMTP error from remote mail server ..." */
function eximText(text: string): TextBounce | null {
  if (!/This message was created automatically by mail delivery software/i.test(text) && !/address(?:\(es\))? failed:/i.test(text)) return null
  const start = /(?:following address(?:\(es\))? failed|could not be delivered to one or more of its\s+recipients)[^\n]*\n/i.exec(text)
  if (!start) return { format: 'exim', reportingMta: '', recipients: [] }
  const rest = text.slice(start.index + start[0].length)
  const end = rest.search(/^-{3,} ?This is a copy of|^-{3,} The header of the original|^Reporting-MTA:|^\S.*(?:original message|returned message)/im)
  const section = end >= 0 ? rest.slice(0, end) : rest
  const recipients: BounceRecipient[] = []
  const lines = section.split('\n')
  for (let i = 0; i < lines.length; i++) {
    // A delivery to a file or pipe reads "  save to FILE\n    generated by ADDRESS": the address is the recipient.
    const saved = /^ {1,4}(?:save to|pipe to) .*\n\s+generated by (\S+)\s*$/.exec(`${lines[i] ?? ''}\n${lines[i + 1] ?? ''}`)
    if (saved) {
      i++
      const detail: string[] = []
      while (i + 1 < lines.length && /^\s{4,}\S/.test(lines[i + 1] ?? '')) detail.push(lines[++i] ?? '')
      recipients.push(recipientFrom(saved[1] ?? '', detail.join(' ')))
      continue
    }
    const m = /^ {1,4}<?([^\s<>@]+@[^\s<>:]+?)>?:?\s*(?:$|\s)/.exec(lines[i] ?? '')
    if (!m) continue
    const detail: string[] = [(lines[i] ?? '').slice(m[0].length)]
    while (i + 1 < lines.length && /^\s{4,}\S/.test(lines[i + 1] ?? '')) detail.push(lines[++i] ?? '')
    const joined = detail.join(' ')
    recipients.push(recipientFrom(m[1] ?? '', joined, remoteIn(joined)))
  }
  return { format: 'exim', reportingMta: '', recipients }
}

/** Exchange/Office 365 NDR text: "Delivery has failed to these recipients or groups:" and "Remote Server returned '550 ...'". */
function exchangeText(text: string): TextBounce | null {
  if (!/Delivery has failed to these recipients or groups|did not reach (?:some or all of )?the (?:following|intended) recipient|Your message (?:to .+ )?couldn't be delivered|Diagnostic information for administrators/i.test(text)) return null
  const reportingMta = /^Generating server:\s*(\S+)/im.exec(text)?.[1] ?? ''
  const recipients: BounceRecipient[] = []
  // Diagnostic block: address line followed by "Remote Server returned '...'" (Exchange 2007+).
  for (const m of text.matchAll(/^\s*<?([^\s<>@]+@[^\s<>]+?)>?\s*\n(?:\s*\n)?\s*(?:#?\s*)?Remote Server returned '([^']*)'/gim)) {
    recipients.push(recipientFrom(m[1] ?? '', m[2] ?? ''))
  }
  if (!recipients.length) {
    // Exchange 2000/2003: "did not reach the following recipient(s):" then "user@domain on <date>" with
    // indented detail lines, sometimes ending in "<mta #5.1.1>".
    const lines = text.split('\n')
    for (let i = 0; i < lines.length; i++) {
      const m = /^\s{0,4}'?([^\s<>'@]+@[^\s<>']+?)'?\s+on\s+\S.*$/.exec(lines[i] ?? '')
      if (!m) continue
      const detail: string[] = []
      while (i + 1 < lines.length && /^(?:\s+\S|;)/.test(lines[i + 1] ?? '')) detail.push((lines[++i] ?? '').trim())
      const joined = detail.join(' ')
      const tagged = /<([^\s#>]+)\s*#([245]\.\d+\.\d+)/.exec(joined)
      const r = recipientFrom(m[1] ?? '', joined, tagged?.[1] ?? '')
      if (tagged?.[2]) r.Status = tagged[2]
      recipients.push(r)
    }
  }
  if (!recipients.length) {
    const sec = /Delivery has failed to these recipients or groups:\s*\n([\s\S]*?)(?:\n\s*\n[^\n]*\n\s*\n|$)/i.exec(text)?.[1] ?? ''
    const addr = /([^\s<>()'"]+@[^\s<>()'"]+)/.exec(sec)?.[1]
    if (addr) recipients.push(recipientFrom(addr.replace(/[.;]+$/, ''), sec.replace(addr, '')))
  }
  return { format: 'exchange', reportingMta, recipients }
}

/** Gmail: "Delivery to the following recipient failed permanently:" or "Your message wasn't delivered to x because ..." */
function gmailText(text: string): TextBounce | null {
  const classic = /Delivery to the following recipients? (?:failed permanently|has been delayed)[^\n]*:\s*\n\s*\n?\s*(\S+@\S+)/i.exec(text)
  const modern = /(?:Your message wasn't delivered to|There was a temporary problem delivering your message to)\s+(\S+@[^\s,]+?)[.,]?\s/i.exec(text)
  const m = classic ?? modern
  if (!m) return null
  const details =
    /Technical details of (?:permanent|temporary) failure:\s*\n([\s\S]*?)(?:^-{3,}|$(?![\s\S]))/im.exec(text)?.[1] ??
    /The response (?:from the remote server )?was:\s*\n([\s\S]*?)(?:\n\s*\n|-{3,})/i.exec(text)?.[1] ??
    ''
  const remote = /rejected by the server for the recipient domain \S+ by ([A-Za-z0-9.-]+?)\.?[\s[]/i.exec(details)?.[1] ?? remoteIn(details)
  const r = recipientFrom((m[1] ?? '').replace(/[.,]+$/, ''), details.slice(0, 2000), remote)
  if (/has been delayed|temporary problem/i.test(m[0])) r.Action = 'delayed'
  return { format: 'gmail', reportingMta: '', recipients: [r] }
}

/** Trustwave MailMarshal: "Could not be delivered because of\n550 ...\nThe following recipients were affected:\n    user@domain". */
function mailMarshalText(text: string): TextBounce | null {
  const affected = /The following recipients were affected:\s*\n((?:[ \t]+\S+@\S+[ \t]*\n?)+)/i.exec(text)
  if (!affected) return null
  const reason = /Could not be delivered because of\s*\n([^\n]+)/i.exec(text)?.[1] ?? ''
  const remote = /^Remote-MTA:\s*<([^>]*)>/im.exec(text)?.[1] ?? ''
  const reportingMta = /^Reporting-MTA:\s*<([^>]*)>/im.exec(text)?.[1] ?? ''
  const addresses = (affected[1] ?? '').split('\n').map((l) => l.trim()).filter(Boolean)
  return { format: 'mailmarshal', reportingMta, recipients: addresses.map((a) => recipientFrom(a, reason, remote)) }
}

/** DragonFly Mail Agent (dma): "There was an error delivering your mail to <user@domain>.\nHOST [ip] did not like ...". */
function dmaText(text: string): TextBounce | null {
  const to = /There was an error delivering your mail to <([^>\s]+)>\.?\s*\n([\s\S]*?)(?:\n\s*\n|Message headers follow)/i.exec(text)
  if (!to) return null
  const reportingMta = /This is the DragonFly Mail Agent \S+ at ([^\s]+?)\.?\s*$/im.exec(text)?.[1] ?? ''
  const detail = to[2] ?? ''
  const remote = /^([A-Za-z0-9.-]+\.[A-Za-z]{2,}) \[/.exec(detail.trim())?.[1] ?? ''
  return { format: 'dma', reportingMta, recipients: [recipientFrom(to[1] ?? '', detail, remote)] }
}

/** Mimecast: "could not be delivered:\n-- user@domain\n...Additional information follows :\n-- 5.4.1 ...". */
function mimecastText(text: string): TextBounce | null {
  const to = /attempted to send to the following address could not be\s*delivered:\s*\n\s*--\s*(\S+@\S+)/i.exec(text)
  if (!to) return null
  const reason = /The problem appears to be\s*:\s*\n\s*--\s*([^\n]+)/i.exec(text)?.[1] ?? ''
  const info = /Additional information follows\s*:\s*\n\s*--\s*([\s\S]*?)(?:\n\s*\n|$)/i.exec(text)?.[1] ?? ''
  return { format: 'mimecast', reportingMta: '', recipients: [recipientFrom(to[1] ?? '', `${info} ${reason}`)] }
}

/** Anything else that reads like a bounce: collect "address: reason" and "<address>" lines near status codes. */
function genericText(text: string): TextBounce {
  const recipients: BounceRecipient[] = []
  const seen = new Set<string>()
  const head = text.slice(0, 20_000)
  for (const m of head.matchAll(/<?([A-Za-z0-9._%+=-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,})>?[^\n]*\n?([^\n]*)/g)) {
    const context = (m[0] ?? '').replace(/\s+/g, ' ')
    const addr = (m[1] ?? '').toLowerCase()
    if (seen.has(addr) || !DIAG_STATUS.test(context) && !/user unknown|not found|does not exist|mailbox (?:is )?(?:full|unavailable)|over ?quota|cannot be delivered|rejected|unknown user|no such user|not listed/i.test(context)) continue
    seen.add(addr)
    recipients.push(recipientFrom(m[1] ?? '', context.replace(m[1] ?? '', '').replace(/^[>:\s]+/, '')))
    if (recipients.length >= 50) break
  }
  return { format: 'generic', reportingMta: '', recipients }
}

export function parseTextBounce(text: string): TextBounce {
  for (const recogniser of [qmailText, postfixText, eximText, exchangeText, gmailText, mailMarshalText, dmaText, mimecastText]) {
    const found = recogniser(text)
    if (found && found.recipients.length) return found
  }
  return genericText(text)
}

/** Where a text bounce puts the returned message: after a marker line, or wherever a header block starts. */
export function returnedFromText(text: string): OriginalMessage | null {
  const marker = /^(?:-{2,}.*(?:copy of the message|original message|returned message|message headers|below this line).*|.*Original message (?:headers|follows).*:?|Original message headers:)\s*$/im.exec(text)
  const tail = marker ? text.slice(marker.index + marker[0].length) : text
  const headers = findEmbeddedHeaders(tail) ?? (marker ? null : null)
  return headers ? originalFrom(headers) : null
}
