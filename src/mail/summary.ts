import { simpleParser, type AddressObject, type Attachment, type ParsedMail } from 'mailparser'
import type { Address, Envelope, MessageSummary } from '../store/index.js'
import { readHeaders } from './headers.js'
import { htmlToText, MAX_HTML_TO_TEXT_CHARS } from './html-text.js'
import { tagsFromXTags } from './tags.js'

const SNIPPET_CHARS = 250
// Text beyond this is left out of the full-text index: spam bodies can be megabytes of filler.
const INDEX_TEXT_CHARS = 64 * 1024
// Addresses kept per header (To, Cc, Bcc, Reply-To) in the summary. Spam carries Bcc lists of tens
// of thousands; the summary row, the list JSON and the full-text index need the first ones, and
// the raw message keeps every one of them.
export const MAX_SUMMARY_ADDRESSES = 1000

// skipHtmlToText: text is derived from the HTML by textOf() below, the same way for every message
// that has no text part, single-part or not.
export const PARSER_OPTIONS = {
  skipHtmlToText: true,
  skipTextToHtml: true,
  skipTextLinks: true,
  keepCidLinks: true,
  maxHtmlLengthToParse: MAX_HTML_TO_TEXT_CHARS,
} as const

export function parseMail(raw: Buffer): Promise<ParsedMail> {
  return simpleParser(raw, PARSER_OPTIONS)
}

export function toAddresses(value: AddressObject | AddressObject[] | undefined, max = Infinity): Address[] {
  if (!value) return []
  const out: Address[] = []
  const walk = (list: AddressObject['value']): void => {
    for (const a of list) {
      if (out.length >= max) return
      if (a.group) walk(a.group)
      else out.push({ Name: a.name ?? '', Address: a.address ?? '' })
    }
  }
  for (const obj of Array.isArray(value) ? value : [value]) walk(obj.value)
  return out
}

/**
 * The addresses of `lists` in order, each address once (compared case-insensitively), at most
 * `max` of them. One pass with a Set: a 40 000-address Bcc took seconds with a search per entry.
 */
export function uniqueAddresses(lists: Iterable<Address>[], max = MAX_SUMMARY_ADDRESSES): Address[] {
  const seen = new Set<string>()
  const out: Address[] = []
  for (const list of lists) {
    for (const a of list) {
      if (out.length >= max) return out
      const key = a.Address.toLowerCase()
      if (seen.has(key)) continue
      seen.add(key)
      out.push(a)
    }
  }
  return out
}

/**
 * The message's text: its text/plain parts, or, when it has none, the text of its HTML (mailparser
 * converts only a single-part HTML message; an HTML part inside multipart/alternative or
 * multipart/related with no text sibling leaves `text` empty).
 */
export function textOf(parsed: Pick<ParsedMail, 'text' | 'html'>): string {
  if (parsed.text && parsed.text.trim() !== '') return parsed.text
  return typeof parsed.html === 'string' ? htmlToText(parsed.html) : (parsed.text ?? '')
}

/**
 * A part shown inline in the HTML rather than listed as an attachment: it has a Content-ID and is
 * part of a multipart/related body or marked inline, and is not marked as an attachment
 * (RFC 2183 §2.2: the sender asked for it to be offered as a file). The summary's count and the
 * detail's lists both use this, so they agree.
 */
export function isInlinePart(a: Pick<Attachment, 'contentId' | 'related' | 'contentDisposition'>): boolean {
  if (a.contentDisposition === 'attachment') return false
  return Boolean(a.contentId) && (a.related || a.contentDisposition === 'inline')
}

export function snippetOf(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim()
  return flat.length > SNIPPET_CHARS ? flat.slice(0, SNIPPET_CHARS).trimEnd() + '…' : flat
}

/** The summary the list and search need. Never throws: unparsable mail gets parseError and header-level facts. */
export async function summarize(raw: Buffer, envelope: Envelope): Promise<MessageSummary> {
  let parsed: ParsedMail
  try {
    parsed = await parseMail(raw)
  } catch (err) {
    return fallbackSummary(raw, envelope, (err as Error).message || 'parse failed')
  }
  const to = toAddresses(parsed.to, MAX_SUMMARY_ADDRESSES)
  const cc = toAddresses(parsed.cc, MAX_SUMMARY_ADDRESSES)
  // Envelope recipients that no header names were blind copies (as Mailpit shows them).
  const named = new Set<string>()
  for (const a of toAddresses(parsed.to)) named.add(a.Address.toLowerCase())
  for (const a of toAddresses(parsed.cc)) named.add(a.Address.toLowerCase())
  const blind = function* (): Iterable<Address> {
    for (const r of envelope.rcptTo) if (!named.has(r.address.toLowerCase())) yield { Name: '', Address: r.address }
  }
  const bcc = uniqueAddresses([toAddresses(parsed.bcc), blind()])
  const from = toAddresses(parsed.from)[0] ?? null
  const text = textOf(parsed)
  const date = parsed.date && !Number.isNaN(parsed.date.getTime()) && parsed.headers.has('date') ? parsed.date.getTime() : null
  const returnPath = toAddresses(parsed.headers.get('return-path') as AddressObject | undefined)[0]?.Address ?? ''
  return {
    parseError: null,
    subject: parsed.subject ?? '',
    from,
    to,
    cc,
    bcc,
    replyTo: toAddresses(parsed.replyTo, MAX_SUMMARY_ADDRESSES),
    date,
    messageId: (parsed.messageId ?? '').replace(/^<|>$/g, ''),
    returnPath,
    snippet: snippetOf(text),
    attachments: parsed.attachments.filter((a) => !isInlinePart(a)).length,
    inline: parsed.attachments.filter(isInlinePart).length,
    attachmentNames: parsed.attachments.flatMap((a) => (a.filename ? [a.filename] : [])).slice(0, MAX_SUMMARY_ADDRESSES),
    bodyText: text.slice(0, INDEX_TEXT_CHARS),
    kind: 'message',
    auth: null,
    analysis: null,
    // Mailpit's X-Tags header; the indexer links these tags when it saves the summary.
    tags: tagsFromXTags(headerValues(parsed.headers.get('x-tags'))),
  }
}

const headerValues = (v: unknown): string[] => (typeof v === 'string' ? [v] : Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [])

/** A summary with nothing in it: the base of the fallbacks below and of a message nothing could index. */
export function emptySummary(parseError: string | null): MessageSummary {
  return {
    parseError,
    subject: '',
    from: null,
    to: [],
    cc: [],
    bcc: [],
    replyTo: [],
    date: null,
    messageId: '',
    returnPath: '',
    snippet: '',
    attachments: 0,
    bodyText: '',
    kind: 'message',
    auth: null,
    analysis: null,
    tags: [],
  }
}

function fallbackSummary(raw: Buffer, envelope: Envelope, error: string): MessageSummary {
  const headers = readHeaders(raw)
  const first = (name: string): string => headers.find((h) => h.name.toLowerCase() === name)?.value ?? ''
  return {
    ...emptySummary(error),
    subject: first('subject'),
    from: first('from') ? { Name: '', Address: first('from') } : null,
    bcc: uniqueAddresses([envelope.rcptTo.map((r) => ({ Name: '', Address: r.address }))]),
    messageId: first('message-id').replace(/^<|>$/g, ''),
    tags: tagsFromXTags(headers.filter((h) => h.name.toLowerCase() === 'x-tags').map((h) => h.value)),
  }
}
