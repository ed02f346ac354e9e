// Runs the shared development corpus (real bounces and feedback reports written by others) through
// the content analyser and compares with the facts recorded in its INDEX.tsv. The corpus lives
// outside the project (../shared/corpus) and is never copied in; without it these tests skip.
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { analyseContent, type ContentAnalysis } from '../../../src/mail/analysis/index.js'

const CORPUS = fileURLToPath(new URL('../../../../shared/corpus/', import.meta.url))
const present = existsSync(CORPUS + 'INDEX.tsv')
if (!present) console.log(`corpus tests skipped: ${CORPUS} is absent (it is a development-only folder)`)

interface Row {
  file: string
  category: string
  fields: Record<string, string>
}

function readIndex(): Row[] {
  const [head = '', ...lines] = readFileSync(CORPUS + 'INDEX.tsv', 'utf8').trimEnd().split('\n')
  const names = head.split('\t')
  return lines.map((line) => {
    const cells = line.split('\t')
    const fields = Object.fromEntries(names.map((n, i) => [n, cells[i] ?? '']))
    return { file: fields.file ?? '', category: fields.category ?? '', fields }
  })
}

/** Files whose INDEX facts we knowingly do not reproduce, with the reason. */
const KNOWN_GAPS: Record<string, string> = {
  'messages/sisimai--not-is-not-bounce-01.eml':
    'INDEX files it as autoreply, but it carries no RFC 3834 sign (no Auto-Submitted, Precedence or X-Autoreply, an ordinary subject); it is Sisimai\'s "this is not a bounce" sample and we classify it as a plain message',
}

const rows = present ? readIndex() : []
const expectedKind = (category: string): ContentAnalysis['Kind'] =>
  /^(dsn|bounce)$/.test(category) ? 'bounce' : /^arf/.test(category) ? 'arf' : category === 'autoreply' ? 'autoreply' : 'message'

/** INDEX joins several recipients' values with "|"; a single value may itself contain "|" (Remote-MTA). */
function column(row: Row, name: string, count: number): string[] {
  const v = row.fields[name] ?? ''
  if (v === '') return []
  return count > 1 ? v.split('|') : [v]
}

describe.skipIf(!present)('shared corpus', () => {
  const cases = rows.filter((r) => r.file.startsWith('messages/'))

  it.each(cases.filter((r) => !KNOWN_GAPS[r.file]).map((r) => [r.file, r] as const))('%s has the kind INDEX.tsv gives', (_, row) => {
    const result = analyseContent(readFileSync(CORPUS + row.file))
    expect(result.Kind).toBe(expectedKind(row.category))
  })

  const dsn = cases.filter((r) => r.category === 'dsn')
  it.each(dsn.map((r) => [r.file, r] as const))('%s yields the DSN facts INDEX.tsv gives', (_, row) => {
    const bounce = analyseContent(readFileSync(CORPUS + row.file)).Bounce
    expect(bounce).not.toBeNull()
    if (!bounce) return
    expect(bounce.Format).toBe('rfc3464')
    expect(bounce.ReportingMTA).toBe(row.fields.dsn_reporting_mta)
    const finals = column(row, 'dsn_final_recipient', 9)
    const count = Math.max(finals.length, column(row, 'dsn_status', 9).length, column(row, 'dsn_original_recipient', 9).length)
    if (count === 0) {
      // INDEX records no per-recipient facts (empty delivery-status blocks): nothing to compare but the MTA.
      return
    }
    const want = (name: string): string[] => column(row, name, count)
    const got = bounce.Recipients
    if (finals.length) expect(got.map((r) => r.FinalRecipient)).toEqual(finals)
    if (want('dsn_original_recipient').length) expect(got.map((r) => r.OriginalRecipient)).toEqual(want('dsn_original_recipient'))
    if (want('dsn_action').length) expect(got.map((r) => r.Action)).toEqual(want('dsn_action').map((a) => a.toLowerCase()))
    if (want('dsn_status').length) expect(got.map((r) => r.Status)).toEqual(want('dsn_status'))
    if (want('dsn_remote_mta').length) expect(got.map((r) => r.RemoteMTA)).toEqual(want('dsn_remote_mta'))
  })

  const arf = cases.filter((r) => r.category === 'arf')
  it.each(arf.map((r) => [r.file, r] as const))('%s yields the feedback facts INDEX.tsv gives', (_, row) => {
    const feedback = analyseContent(readFileSync(CORPUS + row.file)).Feedback
    expect(feedback).not.toBeNull()
    if (!feedback) return
    expect(feedback.FeedbackType).toBe(row.fields.arf_feedback_type)
    expect(feedback.UserAgent).toBe(row.fields.arf_user_agent)
    if (row.fields.arf_source_ip) expect(feedback.SourceIP).toBe(row.fields.arf_source_ip)
    // INDEX keeps one value (the last) of fields that RFC 5965 §3.2 lets repeat; we keep them all.
    if (row.fields.arf_reported_domain) expect(feedback.ReportedDomain.at(-1)).toBe(row.fields.arf_reported_domain)
    if (row.fields.arf_original_rcpt_to) expect(feedback.OriginalRcptTo.at(-1)).toBe(row.fields.arf_original_rcpt_to)
  })

  // Bounces without a message/delivery-status part (INDEX has no DSN columns for them): the recipient and status
  // as their text gives them.
  const TEXT_BOUNCES: [string, { Format: string; FinalRecipient: string; Status: string; RemoteMTA: string }][] = [
    ['messages/sisimai--dos-lhost-mailmarshalsmtp-01.eml', { Format: 'mailmarshal', FinalRecipient: 'dummyuser@blabla.xxxxxxxxxxxx.com', Status: '5.1.1', RemoteMTA: '10.0.0.1' }],
    ['messages/sisimai--lhost-dragonfly-01.eml', { Format: 'dma', FinalRecipient: 'pseudo-local-part@google.example.com', Status: '5.7.26', RemoteMTA: 'gmail-smtp-in.l.google.com' }],
    // Exim's delivery to a file: "save to xxxx / generated by xxxx / mailbox is full" (RFC 3463 X.2.2).
    ['messages/sisimai--lhost-exim-07.eml', { Format: 'exim', FinalRecipient: 'xxxx', Status: '5.2.2', RemoteMTA: '' }],
    ['messages/sisimai--lhost-mimecast-01.eml', { Format: 'mimecast', FinalRecipient: 'sabineko@neko.ef.example.org', Status: '5.4.1', RemoteMTA: '' }],
  ]
  it.each(TEXT_BOUNCES)('%s yields the recipient and status its text gives', (file, want) => {
    const bounce = analyseContent(readFileSync(CORPUS + file)).Bounce
    expect(bounce).toMatchObject({ Format: want.Format, Recipients: [expect.objectContaining({ FinalRecipient: want.FinalRecipient, Status: want.Status, Action: 'failed', RemoteMTA: want.RemoteMTA })] })
  })

  const textBounces = cases.filter((r) => r.category === 'bounce')
  it.each(textBounces.map((r) => [r.file, r] as const))('%s (a bounce without DSN facts in INDEX.tsv) yields a recipient', (file) => {
    const bounce = analyseContent(readFileSync(CORPUS + file)).Bounce
    expect(bounce?.Recipients.length).toBeGreaterThan(0)
    expect(bounce?.Recipients.every((r) => r.FinalRecipient !== '' && r.Action !== '')).toBe(true)
  })

  it('lists known gaps only for files that exist', () => {
    for (const file of Object.keys(KNOWN_GAPS)) expect(cases.some((r) => r.file === file)).toBe(true)
  })
})
