import type { Envelope } from '../../store/index.js'
import type { HeaderLine } from '../headers.js'
import { htmlToText } from '../html-text.js'
import type { Analyser } from '../indexer.js'
import {
  bodyText,
  decodeBody,
  decodeHeader,
  headerValue,
  headerValues,
  parseMime,
  splitHeaders,
  toText,
  type MimePart,
} from './mime.js'
import {
  findEmbeddedHeaders,
  originalFrom,
  parseDeliveryStatus,
  parseTextBounce,
  returnedFromText,
  returnedMessage,
  statusCode,
  type BounceReport,
  type BounceRecipient,
  type OriginalMessage,
} from './dsn.js'

export type MessageKind = 'message' | 'bounce' | 'arf' | 'autoreply'

/** RFC 5965 §3.1 feedback report fields (the ones an abuse desk acts on). */
export interface FeedbackReport {
  FeedbackType: string
  UserAgent: string
  Version: string
  SourceIP: string
  OriginalMailFrom: string
  OriginalRcptTo: string[] // RFC 5965 §3.2: may repeat, once per recipient
  ArrivalDate: string
  ReportedDomain: string[] // may repeat too
  AuthenticationResults: string
  Original: OriginalMessage | null
}

export interface ContentAnalysis {
  Kind: MessageKind
  Bounce: BounceReport | null
  Feedback: FeedbackReport | null
}

export const contentAnalyser: Analyser = async (raw, envelope, summary) => {
  const result = analyseContent(raw, envelope)
  summary.kind = result.Kind
  summary.analysis = result
}

/** Classifies one message from its raw bytes. Never throws: anything unreadable is a plain message. */
export function analyseContent(raw: Buffer, envelope?: Pick<Envelope, 'mailFrom'>): ContentAnalysis {
  try {
    return classify(raw, envelope)
  } catch {
    return { Kind: 'message', Bounce: null, Feedback: null }
  }
}

const REPORT_TYPES = new Set(['message/delivery-status', 'message/global-delivery-status'])
const EMBEDDED = new Set(['message/rfc822', 'message/global', 'text/rfc822-headers', 'message/rfc822-headers'])

/** Parts of the message itself, not of messages embedded in it (a forwarded bounce is not a bounce). */
function* ownParts(part: MimePart): Generator<{ part: MimePart; parent: MimePart | null }> {
  const stack: { part: MimePart; parent: MimePart | null }[] = [{ part, parent: null }]
  while (stack.length) {
    const item = stack.shift()!
    yield item
    if (EMBEDDED.has(item.part.contentType)) continue
    for (const c of item.part.children) stack.push({ part: c, parent: item.part })
  }
}

function classify(raw: Buffer, envelope?: Pick<Envelope, 'mailFrom'>): ContentAnalysis {
  const root = parseMime(toText(raw))
  const own = [...ownParts(root)]

  const feedback = own.find((p) => p.part.contentType === 'message/feedback-report')
  if (feedback) return { Kind: 'arf', Bounce: null, Feedback: parseFeedback(feedback.part, feedback.parent) }

  const status = own.find((p) => REPORT_TYPES.has(p.part.contentType))
  if (status) return { Kind: 'bounce', Bounce: rfc3464Bounce(status.part, status.parent, own), Feedback: null }

  const nonStandardFeedback = jmrpFeedback(root, own)
  if (nonStandardFeedback) return { Kind: 'arf', Bounce: null, Feedback: nonStandardFeedback }

  const text = readableText(own)
  const sesBounce = amazonSesBounce(text)
  if (sesBounce) return { Kind: 'bounce', Bounce: sesBounce, Feedback: null }
  if (looksLikeBounce(root.headers, text, envelope)) return { Kind: 'bounce', Bounce: textBounce(root, own, text), Feedback: null }
  if (looksLikeAutoreply(root.headers, envelope)) return { Kind: 'autoreply', Bounce: null, Feedback: null }
  return { Kind: 'message', Bounce: null, Feedback: null }
}

const READABLE_TEXT_CHARS = 200_000

function readableText(own: { part: MimePart }[]): string {
  const texts: string[] = []
  for (const { part } of own) {
    if (part.children.length || !/^text\/(plain|html)$/.test(part.contentType)) continue
    if (/^attachment/i.test(headerValue(part.headers, 'content-disposition')) && part.contentType !== 'text/plain') continue
    const t = bodyText(part)
    // The bounce patterns look at the start of the text: converting more HTML than that is wasted CPU.
    texts.push(part.contentType === 'text/html' ? htmlToText(t.slice(0, READABLE_TEXT_CHARS)) : t)
    if (texts.join('\n').length > READABLE_TEXT_CHARS) break
  }
  return texts.join('\n')
}

// ---------------------------------------------------------------------------------------------
// RFC 3464 reports

function rfc3464Bounce(statusPart: MimePart, report: MimePart | null, own: { part: MimePart }[]): BounceReport {
  const ds = parseDeliveryStatus(decodeBody(statusPart))
  let recipients = ds.recipients
  let original = report ? returnedMessage(report) : null
  const text = readableText(own.filter((p) => p.part !== statusPart))
  // Some generators send an empty delivery-status part and put everything in the text (Google Workspace).
  if (!recipients.length) recipients = parseTextBounce(text).recipients
  original ??= returnedFromText(text)
  return { Format: 'rfc3464', ReportingMTA: ds.reportingMta, ArrivalDate: ds.arrivalDate, Recipients: recipients, Original: original }
}

// ---------------------------------------------------------------------------------------------
// Bounces in free text

const BOUNCE_SENDER = /^(?:mailer-daemon|mail-daemon|postmaster|mailerdaemon|mail\.delivery|maildelivery|bounces?|mdaemon|returned)(?:[@+]|$)/i
const BOUNCE_SUBJECT =
  /undeliver|delivery (?:status notification|fail|problem|report|notification)|deliver(?:y|ed)? failure|mail delivery (?:failed|failure|system|subsystem)|returned mail|returning message|failure notice|non[- ]?deliver|could not be delivered|delivery has failed|message not delivered|not delivered|mail error|mail failure|delivery failure|メールエラー|配信できません|不能送達|не доставлено/i
const BOUNCE_BODY =
  /This is the qmail-send program|This is the mail system at host|could not be delivered to one or more of its\s+recipients|The following address(?:\(es\))? failed|Delivery to the following recipients? failed|Delivery has failed to these recipients|did not reach some or all of the intended recipients|Your message wasn't delivered|Your message couldn't be delivered|could not be delivered to|I'm sorry to have to inform you that your message could not|message (?:could not|cannot) be delivered|unable to deliver|permanent fatal errors|delivery (?:failed|problems)|Undeliverable|user unknown|mailbox (?:is )?full|does not exist|Delivery Failure|failed permanently|DELIVERY FAILURE|not listed in|Delivery status notification/i

function fromAddress(headers: readonly HeaderLine[]): string {
  const from = headerValue(headers, 'from')
  return (/<([^>]*)>/.exec(from)?.[1] ?? from).trim()
}

function looksLikeBounce(headers: readonly HeaderLine[], text: string, envelope?: Pick<Envelope, 'mailFrom'>): boolean {
  const from = fromAddress(headers)
  const nullSender = envelope?.mailFrom === '' || /^\s*<\s*>\s*$/.test(headerValue(headers, 'return-path'))
  // RFC 3834 §5: auto-replies also come from the null sender, so the sender alone proves nothing.
  const senderSignal = BOUNCE_SENDER.test(from) || /mailer-daemon|mail delivery (?:system|subsystem)/i.test(headerValue(headers, 'from')) || (nullSender && from === '')
  const subjectSignal = BOUNCE_SUBJECT.test(decodeHeader(headerValue(headers, 'subject')))
  const bodySignal = BOUNCE_BODY.test(text.slice(0, 20_000))
  return [senderSignal, subjectSignal, bodySignal].filter(Boolean).length >= 2
}

function textBounce(root: MimePart, own: { part: MimePart }[], text: string): BounceReport {
  const found = parseTextBounce(text)
  let original: OriginalMessage | null = null
  for (const { part } of own) {
    if (EMBEDDED.has(part.contentType) && part.children[0]) {
      original = originalFrom(part.children[0].headers)
      if (original) break
    }
  }
  // Text bounces (qmail, Exim, Gmail) quote the original below a marker line inside the same body.
  original ??= returnedFromText(text) ?? returnedFromText(decodeBody(root))
  return { Format: found.format, ReportingMTA: found.reportingMta, ArrivalDate: '', Recipients: found.recipients, Original: original }
}

/** Amazon SES sends bounce notifications as JSON through SNS, not as DSNs. */
function amazonSesBounce(text: string): BounceReport | null {
  const start = text.indexOf('{"notificationType"')
  if (start < 0) return null
  let depth = 0
  let end = -1
  for (let i = start; i < text.length; i++) {
    const c = text[i]
    if (c === '{') depth++
    else if (c === '}' && --depth === 0) {
      end = i + 1
      break
    }
  }
  if (end < 0) return null
  let doc: unknown
  try {
    doc = JSON.parse(text.slice(start, end).replace(/\n\s?/g, ''))
  } catch {
    return null
  }
  const n = doc as {
    notificationType?: string
    bounce?: { reportingMTA?: string; timestamp?: string; bouncedRecipients?: { emailAddress?: string; action?: string; status?: string; diagnosticCode?: string }[] }
    mail?: { source?: string; messageId?: string; commonHeaders?: { from?: string[]; to?: string[]; subject?: string; messageId?: string } }
  }
  if (n.notificationType !== 'Bounce' || !n.bounce) return null
  const recipients: BounceRecipient[] = (n.bounce.bouncedRecipients ?? []).map((r) => ({
    FinalRecipient: r.emailAddress ?? '',
    OriginalRecipient: '',
    Action: (r.action ?? 'failed').toLowerCase(),
    Status: statusCode(r.status ?? '') || (r.status ?? ''),
    DiagnosticCode: (r.diagnosticCode ?? '').replace(/^\s*[A-Za-z0-9-]+;\s*/, ''),
    RemoteMTA: '',
  }))
  const ch = n.mail?.commonHeaders
  return {
    Format: 'amazonses',
    ReportingMTA: (n.bounce.reportingMTA ?? '').replace(/^\s*[A-Za-z0-9-]+;\s*/, ''),
    ArrivalDate: n.bounce.timestamp ?? '',
    Recipients: recipients,
    Original: n.mail
      ? {
          From: ch?.from?.join(', ') ?? '',
          MailFrom: n.mail.source ?? '',
          To: ch?.to?.join(', ') ?? '',
          Subject: ch?.subject ?? '',
          MessageID: (ch?.messageId ?? '').replace(/^<|>$/g, ''),
          OriginIP: '',
          OriginHost: '',
        }
      : null,
  }
}

// ---------------------------------------------------------------------------------------------
// Feedback reports

function parseFeedback(part: MimePart, report: MimePart | null): FeedbackReport {
  // The report body is a header block (RFC 5965 §3.1); reuse the header reader on it.
  const fields = splitHeaders(decodeBody(part).replace(/^\s*\n/, '') + '\n\n').headers
  const all = (name: string): string[] => headerValues(fields, name).filter(Boolean)
  let original = report ? returnedMessage(report, part) : null
  if (!original && report) {
    // A missing separator can leave the sample's headers in a text part; look for them.
    for (const c of report.children) {
      if (c === part || c.contentType.startsWith('multipart/')) continue
      const h = findEmbeddedHeaders(decodeBody(c))
      if (h && c.contentType !== 'text/plain') original = originalFrom(h)
      if (original) break
    }
  }
  return {
    FeedbackType: headerValue(fields, 'feedback-type').toLowerCase(),
    UserAgent: headerValue(fields, 'user-agent'),
    Version: headerValue(fields, 'version'),
    SourceIP: headerValue(fields, 'source-ip'),
    OriginalMailFrom: headerValue(fields, 'original-mail-from'),
    OriginalRcptTo: all('original-rcpt-to'),
    ArrivalDate: headerValue(fields, 'arrival-date') || headerValue(fields, 'received-date'),
    ReportedDomain: all('reported-domain'),
    AuthenticationResults: headerValue(fields, 'authentication-results'),
    Original: original,
  }
}

/**
 * Feedback loops that predate ARF: Microsoft's JMRP forwards the complained-about message with
 * X-HmXmrOriginalRecipient; Apple Mail's unsubscribe sends X-Apple-Unsubscribe. Both are complaints
 * (or opt-outs) about our mail, so they are filed with ARF reports.
 */
function jmrpFeedback(root: MimePart, own: { part: MimePart }[]): FeedbackReport | null {
  const subject = headerValue(root.headers, 'subject')
  for (const { part } of own) {
    if (part.contentType !== 'message/rfc822' || !part.children[0]) continue
    const inner = part.children[0].headers
    const rcpt = headerValue(inner, 'x-hmxmroriginalrecipient')
    if (!rcpt) continue
    const sourceIp = /complaint about message from\s+([0-9a-fA-F.:]+)/i.exec(subject)?.[1] ?? ''
    return {
      FeedbackType: 'abuse',
      UserAgent: '',
      Version: '',
      SourceIP: sourceIp,
      OriginalMailFrom: headerValue(inner, 'return-path').replace(/^<|>$/g, ''),
      OriginalRcptTo: [rcpt],
      ArrivalDate: headerValue(root.headers, 'date'),
      ReportedDomain: [],
      AuthenticationResults: headerValue(inner, 'authentication-results'),
      Original: originalFrom(inner),
    }
  }
  if (/^\s*true\s*$/i.test(headerValue(root.headers, 'x-apple-unsubscribe'))) {
    return {
      FeedbackType: 'opt-out',
      UserAgent: '',
      Version: '',
      SourceIP: '',
      OriginalMailFrom: '',
      OriginalRcptTo: [headerValue(root.headers, 'to')].filter(Boolean),
      ArrivalDate: headerValue(root.headers, 'date'),
      ReportedDomain: [],
      AuthenticationResults: '',
      Original: null,
    }
  }
  return null
}

// ---------------------------------------------------------------------------------------------
// Auto-replies (RFC 3834)

const AUTOREPLY_SUBJECT =
  /^\s*(?:out of (?:the )?office|automatic reply|auto(?:matic)?[- ]?(?:reply|response|antwort)|autoreply|abwesenheit|absence|vacation(?: reply)?|r[ée]ponse automatique|respuesta autom[áa]tica|risposta automatica|i am (?:currently )?(?:out|away)|away from (?:the )?office)/i

function looksLikeAutoreply(headers: readonly HeaderLine[], envelope?: Pick<Envelope, 'mailFrom'>): boolean {
  const autoSubmitted = headerValue(headers, 'auto-submitted').toLowerCase()
  if (autoSubmitted.startsWith('auto-replied')) return true
  if (headerValue(headers, 'x-autoreply') || headerValue(headers, 'x-autorespond') || headerValue(headers, 'x-autoresponder')) return true
  const precedence = headerValue(headers, 'precedence').toLowerCase()
  if (precedence === 'auto_reply' || precedence === 'auto-reply') return true
  // A subject alone is weak (spam borrows it); require some other sign of machine-sent mail.
  const machine =
    (autoSubmitted !== '' && autoSubmitted !== 'no') ||
    ['bulk', 'junk', 'list'].includes(precedence) ||
    headerValue(headers, 'x-auto-response-suppress') !== '' ||
    envelope?.mailFrom === ''
  return machine && AUTOREPLY_SUBJECT.test(decodeHeader(headerValue(headers, 'subject')))
}
