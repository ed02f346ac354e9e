import { describe, expect, it } from 'vitest'
import { AppError } from '../../../src/errors.js'
import { analyseContent, generateArfReport } from '../../../src/mail/analysis/index.js'
import { decodeHeader, parseMime, toText } from '../../../src/mail/analysis/mime.js'
import { readHeaders } from '../../../src/mail/headers.js'
import { makeEnvelope } from './helpers.js'

// A sample with bare LF, an 8-bit subject and no final newline: it must come back exactly.
const SAMPLE = Buffer.concat([
  Buffer.from('Received: from bot (bot [203.0.113.9]) by mx; Tue, 14 Nov 2023 22:13:24 +0000\nFrom: Spammer <s@spam.test>\nSubject: Gr'),
  Buffer.from([0xfc, 0xdf, 0x65]),
  Buffer.from('\nTo: trap@holdmail.test\n\nbody without final newline'),
])

describe('generateArfReport', () => {
  const envelope = makeEnvelope({ clientIp: '203.0.113.9', mailFrom: 's@spam.test', rcptTo: [{ address: 'trap@holdmail.test', params: {} }, { address: 'trap2@holdmail.test', params: {} }] })

  it('attaches the sample byte for byte as message/rfc822', () => {
    const report = generateArfReport(SAMPLE, envelope, { to: 'abuse@isp.test' })
    const start = report.indexOf('Content-Type: message/rfc822\r\nContent-Disposition: inline\r\n\r\n')
    expect(start).toBeGreaterThan(0)
    const bodyStart = report.indexOf('\r\n\r\n', start) + 4
    const close = report.lastIndexOf('\r\n--holdmail-arf-')
    expect(report.subarray(bodyStart, close).equals(SAMPLE)).toBe(true)
  })

  it('is a feedback report that our own analyser reads back', () => {
    const report = generateArfReport(SAMPLE, envelope, { to: 'abuse@isp.test', from: 'Trap <trap@holdmail.test>' })
    const head = report.subarray(0, report.indexOf('\r\n\r\n')).toString()
    expect(head).toMatch(/^From: Trap <trap@holdmail.test>\r\nTo: abuse@isp.test\r\n/)
    expect(head).toContain('Content-Type: multipart/report; report-type=feedback-report; boundary="holdmail-arf-')
    expect(head).toContain('MIME-Version: 1.0')
    const a = analyseContent(report)
    expect(a.Kind).toBe('arf')
    expect(a.Feedback).toMatchObject({
      FeedbackType: 'abuse',
      Version: '1',
      SourceIP: '203.0.113.9',
      OriginalMailFrom: '<s@spam.test>',
      OriginalRcptTo: ['<trap@holdmail.test>', '<trap2@holdmail.test>'],
      ReportedDomain: ['spam.test'],
      ArrivalDate: 'Tue, 14 Nov 2023 22:13:20 +0000',
    })
    expect(a.Feedback?.Original).toMatchObject({ OriginIP: '203.0.113.9', From: 'Spammer <s@spam.test>' })
    // three parts, in the order RFC 5965 §2 requires
    expect(parseMime(toText(report)).children.map((c) => c.contentType)).toEqual(['text/plain', 'message/feedback-report', 'message/rfc822'])
  })

  it('takes the feedback type and source IP the caller gives', () => {
    const report = generateArfReport(SAMPLE, envelope, { to: 'abuse@isp.test', feedbackType: 'fraud', sourceIp: '198.51.100.1' })
    expect(analyseContent(report).Feedback).toMatchObject({ FeedbackType: 'fraud', SourceIP: '198.51.100.1' })
  })

  it('encodes a long non-ASCII subject as encoded-words of at most 75 characters on folded lines', () => {
    const long = Buffer.from(`Subject: ${'Grüße aus Köln '.repeat(12)}\nFrom: s@spam.test\n\nx`)
    const report = generateArfReport(long, envelope, { to: 'abuse@isp.test' })
    const head = report.subarray(0, report.indexOf('\r\n\r\n')).toString('latin1')
    const subjectLines = /^Subject: .*(?:\r\n[ \t].*)*/m.exec(head)?.[0] ?? ''
    expect(subjectLines.split('\r\n').length).toBeGreaterThan(3)
    for (const line of subjectLines.split('\r\n')) expect(line.length).toBeLessThanOrEqual(78)
    for (const word of subjectLines.match(/=\?[^?]+\?[BbQq]\?[^?]*\?=/g) ?? []) expect(word.length).toBeLessThanOrEqual(75)
    // eslint-disable-next-line no-control-regex
    expect(subjectLines).toMatch(/^[\x00-\x7f]*$/)
    const subject = readHeaders(report).find((h) => h.name === 'Subject')?.value ?? ''
    expect(decodeHeader(subject)).toBe(`Abuse report: ${'Grüße aus Köln '.repeat(12).trim()}`)
  })

  it('refuses header injection and unknown feedback types with BAD_REQUEST', () => {
    const bad = [
      { to: 'abuse@isp.test\r\nBcc: everyone@example.test' },
      { to: 'not an address' },
      { to: 'abuse@isp.test', feedbackType: 'spammy' },
      { to: 'abuse@isp.test', from: 'x@y\nX-Evil: 1' },
    ]
    for (const opts of bad) {
      let caught: unknown
      try {
        generateArfReport(SAMPLE, envelope, opts)
      } catch (err) {
        caught = err
      }
      expect(caught).toBeInstanceOf(AppError)
      expect((caught as AppError).code).toBe('BAD_REQUEST')
    }
  })
})
