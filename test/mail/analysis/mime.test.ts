import { describe, expect, it } from 'vitest'
import { headerEnd, readHeaderBlock, readHeaders } from '../../../src/mail/headers.js'
import { analyseContent } from '../../../src/mail/analysis/index.js'
import { bodyText, decodeBody, decodeHeader, parseContentType, parseMime, toText, walk } from '../../../src/mail/analysis/mime.js'

const crlf = (lines: string[]): string => lines.join('\r\n')

describe('the one header reader (src/mail/headers.ts)', () => {
  // An mbox "From " line, bare LF, a folded field, a CRLF line in the middle and a repeated name.
  const RAW = Buffer.from(
    'From MAILER-DAEMON Tue Nov 14 22:13:24 2023\nReceived: from a\n\tby b; Tue, 14 Nov 2023 22:13:24 +0000\r\nReceived: from c\nSubject: two\n  lines\n\nbody: not a header\n',
    'latin1',
  )

  it('reads a stored message: skips the mbox line, unfolds, keeps order and repeats, stops at the blank line', () => {
    expect(readHeaders(RAW)).toEqual([
      { name: 'Received', value: 'from a by b; Tue, 14 Nov 2023 22:13:24 +0000' },
      { name: 'Received', value: 'from c' },
      { name: 'Subject', value: 'two lines' },
    ])
    const text = RAW.toString('latin1')
    const block = readHeaderBlock(text, 'message')
    expect(text.slice(block.bodyStart)).toBe('body: not a header\n')
    expect(block.bodyStart).toBe(headerEnd(RAW))
  })

  it("in 'part' mode ends the block at the first line that is not a field (a forgotten blank line)", () => {
    const text = 'From x@y Tue Nov 14 22:13:24 2023\nContent-Type: message/delivery-status\nReporting-MTA: dns; mx.test\nThis line starts the body\nX-Later: not a field of the part\n'
    const { headers, bodyStart } = readHeaderBlock(text, 'part')
    expect(headers.map((h) => h.name)).toEqual(['Content-Type', 'Reporting-MTA'])
    expect(text.slice(bodyStart)).toBe('This line starts the body\nX-Later: not a field of the part\n')
    // the same garbage line inside a whole message's header block is skipped instead
    expect(readHeaderBlock(text, 'message').headers.map((h) => h.name)).toEqual(['Content-Type', 'Reporting-MTA', 'X-Later'])
  })

  it('keeps 8-bit header bytes as latin1 in the MIME walker, for decodeHeader to read later', () => {
    const raw = Buffer.concat([Buffer.from('Subject: Gr'), Buffer.from([0xc3, 0xbc, 0xc3, 0x9f, 0x65]), Buffer.from('\n\nx')])
    const subject = parseMime(toText(raw)).headers[0]?.value ?? ''
    expect(subject).toBe('Gr\u00c3\u00bc\u00c3\u009fe')
    expect(decodeHeader(subject)).toBe('Grüße')
  })
})

describe('MIME decoding through libmime and libqp', () => {
  it('decodes a subject that mixes charsets and encodings in adjacent encoded-words (RFC 2047 §6.2)', () => {
    // ISO-8859-1 Q, then UTF-8 B split inside a multi-byte character (✓ is E2 9C 93), then KOI8-R.
    const subject = '=?ISO-8859-1?Q?Caf=E9?= =?UTF-8?B?IOKc?=\r\n =?UTF-8?B?kyA=?= =?KOI8-R?B?8NLJ18XU?= plain'
    expect(decodeHeader(subject)).toBe('Café ✓ Привет plain')
  })

  it('reads an RFC 2231 filename split into continuations with a charset and percent-escapes', () => {
    const { type, params } = parseContentType(
      "application/octet-stream; name*0*=iso-8859-1'fr'R%E9sum%E9%20de; name*1*=%20l%27ann%E9e; name*2=.pdf (comment); boundary=\"a;b\"",
    )
    expect(type).toBe('application/octet-stream')
    expect(params.name).toBe("Résumé de l'année.pdf")
    expect(params.boundary).toBe('a;b')
  })

  it('falls back to text/plain for a Content-Type that is not type/subtype (RFC 2045 §5.2)', () => {
    expect(parseContentType('garbage').type).toBe('text/plain')
    expect(parseContentType('').type).toBe('text/plain')
  })

  it('undoes quoted-printable and base64 and reads the declared charset', () => {
    const raw = Buffer.from(
      crlf([
        'Content-Type: multipart/mixed; boundary=b',
        '',
        '--b',
        'Content-Type: text/plain; charset=windows-1252',
        'Content-Transfer-Encoding: quoted-printable',
        '',
        'Soft=',
        ' break, =80 and trailing space   ',
        '--b',
        'Content-Type: text/plain; charset=utf-8',
        'Content-Transfer-Encoding: base64',
        '',
        Buffer.from('Grüße\r\nzwei').toString('base64').replace(/(.{8})/g, '$1\r\n'),
        '--b--',
        '',
      ]),
    )
    const [qp, b64] = parseMime(toText(raw)).children
    expect(qp && decodeBody(qp)).toBe('Soft break, \x80 and trailing space')
    expect(qp && bodyText(qp)).toBe('Soft break, € and trailing space')
    expect(b64 && bodyText(b64)).toBe('Grüße\nzwei')
  })

  it('finds a bounce report behind an mbox From line and bare LF, and decodes the returned subject', () => {
    const raw = Buffer.from(
      [
        'From MAILER-DAEMON Tue Nov 14 22:13:24 2023',
        'From: Mail Delivery System <MAILER-DAEMON@mx.bounce.test>',
        'Subject: Undelivered Mail Returned to Sender',
        'Content-Type: multipart/report; report-type=delivery-status;',
        '  boundary="rep"',
        '',
        '--rep',
        'Content-Type: message/delivery-status',
        '',
        'Reporting-MTA: dns; mx.bounce.test',
        '',
        'Final-Recipient: rfc822; nobody@bounce.test',
        'Action: failed',
        'Status: 5.1.1',
        '',
        '--rep',
        'Content-Type: text/rfc822-headers',
        '',
        'From: victim@forged.test',
        'Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= =?ISO-8859-1?Q?_und_Caf=E9?=',
        '',
        '--rep--',
        '',
      ].join('\n'),
    )
    expect([...walk(parseMime(toText(raw)))].map((p) => p.contentType)).toEqual([
      'multipart/report',
      'message/delivery-status',
      'text/rfc822-headers',
      'text/plain',
    ])
    const a = analyseContent(raw)
    expect(a.Kind).toBe('bounce')
    expect(a.Bounce).toMatchObject({ Format: 'rfc3464', ReportingMTA: 'mx.bounce.test' })
    expect(a.Bounce?.Recipients.map((r) => [r.FinalRecipient, r.Status])).toEqual([['nobody@bounce.test', '5.1.1']])
    expect(a.Bounce?.Original).toMatchObject({ From: 'victim@forged.test', Subject: 'Grüße und Café' })
  })
})
