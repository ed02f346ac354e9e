import { describe, expect, it } from 'vitest'
import { parseDetail } from '../../src/mail/message-detail.js'
import { summarize } from '../../src/mail/summary.js'
import { analyseContent } from '../../src/mail/analysis/content.js'
import { listUnsubscribeOf, parseListUnsubscribe } from '../../src/mail/list-unsubscribe.js'
import { readHeaders } from '../../src/mail/headers.js'
import { makeEnvelope } from '../helpers/fixtures.js'

const crlf = (lines: string[]): Buffer => Buffer.from(lines.join('\r\n') + '\r\n')

const HTML =
  '<html><head><style>p { color: red }</style></head><body><h1>Quarterly zebra report</h1>' +
  '<p>Read it <a href="https://example.test/r?id=7">on the web</a> &amp; reply.</p>' +
  '<img src="cid:logo@example.test" alt="Logo"><script>document.title = "scripted"</script></body></html>'

// multipart/related with an HTML part and an inline image, no text/plain anywhere
const htmlOnly = (extraHeaders: string[] = []): Buffer =>
  crlf([
    'From: News <news@example.test>',
    'To: reader@example.test',
    'Subject: html only',
    ...extraHeaders,
    'MIME-Version: 1.0',
    'Content-Type: multipart/related; boundary="rel"',
    '',
    '--rel',
    'Content-Type: text/html; charset=utf-8',
    '',
    HTML,
    '--rel',
    'Content-Type: image/gif',
    'Content-ID: <logo@example.test>',
    'Content-Transfer-Encoding: base64',
    '',
    'R0lGODlhAQABAAAAACw=',
    '--rel--',
  ])

describe('HTML-only mail', () => {
  it('derives Text, the snippet and the indexed text from the HTML, links kept as text', async () => {
    const raw = htmlOnly()
    const s = await summarize(raw, makeEnvelope())
    expect(s.snippet).toBe('Quarterly zebra report Read it on the web [https://example.test/r?id=7] & reply.')
    expect(s.bodyText).toContain('zebra')
    expect(s.bodyText).not.toContain('color: red') // style and script are not text
    expect(s.bodyText).not.toContain('scripted')
    expect(s.bodyText).not.toContain('<')
    const d = await parseDetail(raw)
    expect(d.text).toContain('Quarterly zebra report')
    expect(d.text).toContain('on the web [https://example.test/r?id=7]')
    expect(d.html).toBe(HTML) // the HTML itself is untouched
  })

  it('converts a single-part HTML message the same way', async () => {
    const raw = crlf(['Subject: one part', 'Content-Type: text/html', '', '<p>Hello <b>there</b></p><p>second</p>'])
    const s = await summarize(raw, makeEnvelope())
    expect(s.snippet).toBe('Hello there second')
    expect((await parseDetail(raw)).text).toBe('Hello there\n\nsecond')
  })

  it('keeps the text part when there is one', async () => {
    const raw = crlf([
      'Subject: both',
      'Content-Type: multipart/alternative; boundary="alt"',
      '',
      '--alt',
      'Content-Type: text/plain',
      '',
      'plain words',
      '--alt',
      'Content-Type: text/html',
      '',
      '<p>html words</p>',
      '--alt--',
    ])
    expect((await summarize(raw, makeEnvelope())).snippet).toBe('plain words')
    expect((await parseDetail(raw)).text.trim()).toBe('plain words')
  })

  it('content analysis reads a bounce written only in HTML', () => {
    const raw = crlf([
      'From: MAILER-DAEMON@mx.example.test',
      'Subject: Undelivered Mail Returned to Sender',
      'Content-Type: text/html',
      '',
      '<p>This is the mail system at host <b>mx.example.test</b>.</p><p>I&#39;m sorry to have to inform you that your message could not be delivered</p>',
    ])
    expect(analyseContent(raw, { mailFrom: '' }).Kind).toBe('bounce')
  })
})

describe('attachments and inline parts', () => {
  it('counts a part with Content-Disposition: attachment and a Content-ID as an attachment in the summary and the detail', async () => {
    const raw = crlf([
      'Subject: parts',
      'Content-Type: multipart/mixed; boundary="mix"',
      '',
      '--mix',
      'Content-Type: multipart/related; boundary="rel"',
      '',
      '--rel',
      'Content-Type: text/html',
      '',
      '<img src="cid:inline@example.test">',
      '--rel',
      'Content-Type: image/gif',
      'Content-ID: <inline@example.test>',
      'Content-Transfer-Encoding: base64',
      '',
      'R0lGODlhAQABAAAAACw=',
      '--rel',
      'Content-Type: image/gif; name="both.gif"',
      'Content-Disposition: attachment; filename="both.gif"',
      'Content-ID: <both@example.test>',
      'Content-Transfer-Encoding: base64',
      '',
      'R0lGODlhAQABAAAAACw=',
      '--rel--',
      '--mix',
      'Content-Type: application/pdf; name="report.pdf"',
      'Content-Disposition: attachment; filename="report.pdf"',
      'Content-Transfer-Encoding: base64',
      '',
      'JVBERi0xLjQK',
      '--mix--',
    ])
    const s = await summarize(raw, makeEnvelope())
    const d = await parseDetail(raw)
    expect(d.attachments.map((a) => a.FileName).sort()).toEqual(['both.gif', 'report.pdf'])
    expect(d.inline.map((a) => a.ContentID)).toEqual(['inline@example.test'])
    expect(s.attachments).toBe(d.attachments.length)
    expect(s.inline).toBe(d.inline.length)
    expect(s.attachmentNames?.sort()).toEqual(['both.gif', 'report.pdf'])
  })
})

describe('ListUnsubscribe', () => {
  it('fills Header, Links and HeaderPost from the raw headers', async () => {
    const raw = htmlOnly([
      'List-Unsubscribe: <mailto:unsub@example.test?subject=stop>,',
      ' <https://example.test/unsub/abc>',
      'List-Unsubscribe-Post: List-Unsubscribe=One-Click',
      'List-Id: News <news.example.test>',
    ])
    const d = await parseDetail(raw)
    expect(d.listUnsubscribe).toEqual({
      Header: '<mailto:unsub@example.test?subject=stop>, <https://example.test/unsub/abc>',
      Links: ['mailto:unsub@example.test?subject=stop', 'https://example.test/unsub/abc'],
      Errors: '',
      HeaderPost: 'List-Unsubscribe=One-Click',
    })
  })

  it('is empty, with an empty Links list, when there is no List-Unsubscribe header', async () => {
    const d = await parseDetail(htmlOnly(['List-Unsubscribe-Post: List-Unsubscribe=One-Click']))
    expect(d.listUnsubscribe).toEqual({ Header: '', Links: [], Errors: '', HeaderPost: '' })
  })

  it.each([
    ['<https://example.test/u>', ['https://example.test/u'], ''],
    ['<HTTPS://EXAMPLE.TEST/U> (comment)', ['HTTPS://EXAMPLE.TEST/U'], ''],
    ['https://example.test/u', [], 'no valid unsubscribe links found'],
    ['x <https://example.test/u>', [], 'should be enclosed in <>'],
    ['<https://example.test/u> <mailto:a@example.test>', [], 'should be split with a comma'],
    ['<mailto:a@example.test>, <mailto:b@example.test>', ['mailto:a@example.test'], 'should only contain one mailto:'],
    ['<https://a.example.test>, <http://b.example.test>', ['https://a.example.test'], 'should only contain one HTTP link'],
    ['<ftp://example.test/u>', [], 'should start with either http(s):// or mailto:'],
    ['<https://example.test/a b>', [], 'should not contain spaces'],
    ['<https://a.test>, <https://b.test>, <mailto:c@example.test>', [], 'should include a maximum of one email and one HTTP link'],
  ])('checks %s', (header, links, error) => {
    const r = parseListUnsubscribe(header)
    expect(r.links).toEqual(links)
    if (error) expect(r.errors.join(', ')).toContain(error)
    else expect(r.errors).toEqual([])
    const obj = listUnsubscribeOf(readHeaders(crlf([`List-Unsubscribe: ${header}`, '', 'x'])))
    expect(obj.Header).toBe(header)
    expect(obj.Errors === '').toBe(error === '')
  })
})
