import { describe, expect, it } from 'vitest'
import { analyseContent, contentAnalyser, type ContentAnalysis } from '../../../src/mail/analysis/index.js'
import { blankSummary, makeEnvelope, readFixture } from './helpers.js'

async function analyse(name: string, mailFrom = ''): Promise<ContentAnalysis> {
  const summary = blankSummary()
  await contentAnalyser(await readFixture(name), makeEnvelope({ mailFrom }), summary)
  const result = summary.analysis as ContentAnalysis
  expect(summary.kind).toBe(result.Kind)
  return result
}

describe('RFC 3464 delivery status notifications', () => {
  it('reads every recipient of a Postfix DSN and the returned message', async () => {
    const a = await analyse('postfix-dsn.eml')
    expect(a.Kind).toBe('bounce')
    expect(a.Bounce).toMatchObject({ Format: 'rfc3464', ReportingMTA: 'mx.bounce.test', ArrivalDate: 'Tue, 14 Nov 2023 22:13:24 +0000 (UTC)' })
    expect(a.Bounce?.Recipients).toEqual([
      {
        FinalRecipient: 'nobody@bounce.test',
        OriginalRecipient: 'nobody@bounce.test',
        Action: 'failed',
        Status: '5.1.1',
        DiagnosticCode: '550 5.1.1 <nobody@bounce.test>: Recipient address rejected: User unknown in virtual mailbox table',
        RemoteMTA: 'mail.bounce.test',
      },
      { FinalRecipient: 'full@bounce.test', OriginalRecipient: 'full@bounce.test', Action: 'delayed', Status: '4.2.2', DiagnosticCode: '452 4.2.2 Mailbox full', RemoteMTA: 'mail.bounce.test' },
    ])
    // The backscatter case: who really sent the mail in the victim's name is the first public hop.
    expect(a.Bounce?.Original).toEqual({
      From: '"Victim" <victim@forged.test>',
      MailFrom: 'victim@forged.test',
      To: 'nobody@bounce.test, full@bounce.test',
      Subject: 'Cheap watches ⏰',
      MessageID: 'spam-123@spambot.example',
      OriginIP: '203.0.113.77',
      OriginHost: 'dsl-203-0-113-77.isp.test',
    })
    expect(a.Feedback).toBeNull()
  })

  it('survives bare LF, 8-bit junk, a base64 status part with a NUL and no closing boundary', async () => {
    const a = await analyse('broken-mime-bare-lf.eml')
    expect(a.Kind).toBe('bounce')
    expect(a.Bounce?.ReportingMTA).toBe('broken.test')
    expect(a.Bounce?.Recipients).toEqual([{ FinalRecipient: 'xy@broken.test', OriginalRecipient: '', Action: 'failed', Status: '5.7.1', DiagnosticCode: '', RemoteMTA: '' }])
  })

  it('does not call a message that forwards a bounce a bounce', async () => {
    const a = await analyse('forwarded-bounce.eml', 'alice@sender.test')
    expect(a).toEqual({ Kind: 'message', Bounce: null, Feedback: null })
  })
})

describe('bounces in MTA text forms', () => {
  it('Exim', async () => {
    const a = await analyse('exim-bounce.eml')
    expect(a.Bounce).toMatchObject({ Format: 'exim' })
    expect(a.Bounce?.Recipients).toHaveLength(1)
    expect(a.Bounce?.Recipients[0]).toMatchObject({ FinalRecipient: 'ghost@exim.test', Action: 'failed', Status: '5.1.1', RemoteMTA: 'mx.exim.test' })
    expect(a.Bounce?.Original).toMatchObject({ MailFrom: 'victim@forged.test', Subject: 'Invoice 4471', OriginIP: '203.0.113.88', OriginHost: 'bulk.sender.test' })
  })

  it('qmail, with bare LF line endings', async () => {
    const a = await analyse('qmail-bounce.eml')
    expect(a.Bounce).toMatchObject({ Format: 'qmail', ReportingMTA: 'qmail.test' })
    expect(a.Bounce?.Recipients[0]).toMatchObject({ FinalRecipient: 'nouser@qmail.test', Status: '5.1.1', RemoteMTA: '198.51.100.9' })
    expect(a.Bounce?.Original).toMatchObject({ MessageID: 'q1@friendly.test', OriginIP: '203.0.113.5', OriginHost: 'friendly.test' })
  })

  it('Exchange / Office 365 NDR with quoted-printable text', async () => {
    const a = await analyse('exchange-ndr.eml')
    expect(a.Bounce).toMatchObject({ Format: 'exchange', ReportingMTA: 'AM0PR01MB1234.eurprd01.prod.outlook.com' })
    expect(a.Bounce?.Recipients[0]).toMatchObject({ FinalRecipient: 'missing@contoso.test', Status: '5.1.10', Action: 'failed' })
    expect(a.Bounce?.Recipients[0]?.DiagnosticCode).toContain('RESOLVER.ADR.RecipientNotFound')
    expect(a.Bounce?.Original).toMatchObject({ Subject: 'Quarterly figures', OriginIP: '203.0.113.200', OriginHost: 'mail.fraud.test' })
  })

  it('Gmail', async () => {
    const a = await analyse('gmail-bounce.eml')
    expect(a.Bounce).toMatchObject({ Format: 'gmail' })
    expect(a.Bounce?.Recipients[0]).toMatchObject({ FinalRecipient: 'gone@gmail.test', Status: '5.1.1', RemoteMTA: 'gmail-smtp-in.l.google.com' })
    expect(a.Bounce?.Original).toMatchObject({ MessageID: 'acct-9@phish.test', OriginIP: '198.51.100.66', OriginHost: 'phish.test' })
  })
})

describe('ARF feedback reports', () => {
  it('reads the machine-readable part and the reported message', async () => {
    const a = await analyse('arf-abuse.eml', 'abuse@isp.test')
    expect(a.Kind).toBe('arf')
    expect(a.Bounce).toBeNull()
    expect(a.Feedback).toEqual({
      FeedbackType: 'abuse',
      UserAgent: 'SomeGenerator/1.0',
      Version: '1',
      SourceIP: '203.0.113.99',
      OriginalMailFrom: '<spammer@sender.test>',
      OriginalRcptTo: ['<user1@isp.test>', '<user2@isp.test>'],
      ArrivalDate: 'Tue, 14 Nov 2023 22:13:24 +0000',
      ReportedDomain: ['sender.test'],
      AuthenticationResults: 'mx.isp.test; spf=fail smtp.mailfrom=sender.test',
      Original: {
        From: '<spammer@sender.test>',
        MailFrom: '',
        To: '<user1@isp.test>',
        Subject: 'Earn money',
        MessageID: 'em-1@sender.test',
        OriginIP: '203.0.113.99',
        OriginHost: 'bulk.sender.test',
      },
    })
  })
})

describe('auto-replies (RFC 3834)', () => {
  it('Auto-Submitted: auto-replied', async () => {
    expect((await analyse('autoreply.eml')).Kind).toBe('autoreply')
  })

  it('Precedence: auto_reply', async () => {
    expect((await analyse('vacation-precedence.eml', 'carol@company.test')).Kind).toBe('autoreply')
  })

  it('an "Out of office" subject alone, from an ordinary sender, stays a message', () => {
    const raw = Buffer.from('From: x@y.test\r\nSubject: Out of office party photos\r\n\r\nsee attached\r\n')
    expect(analyseContent(raw, { mailFrom: 'x@y.test' }).Kind).toBe('message')
  })
})

describe('hostile input', () => {
  const cases: [string, Buffer][] = [
    ['empty', Buffer.alloc(0)],
    ['headers only, no newline', Buffer.from('Subject: x')],
    ['NUL bytes everywhere', Buffer.from('From: \0\0\r\nContent-Type: multipart/report; boundary=\0\r\n\r\n--\0\r\n\0')],
    ['deeply nested multiparts', Buffer.from('Content-Type: multipart/mixed; boundary=b\r\n\r\n' + '--b\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n'.repeat(2000))],
    ['a 1 MB header line', Buffer.from('Subject: ' + 'A'.repeat(1024 * 1024) + '\r\n\r\nbody')],
    ['invalid base64 delivery-status', Buffer.from('Content-Type: multipart/report; report-type=delivery-status; boundary=z\r\n\r\n--z\r\nContent-Type: message/delivery-status\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!!\r\n--z--\r\n')],
  ]
  it.each(cases)('%s gives a result without throwing', (_, raw) => {
    const a = analyseContent(raw, { mailFrom: '' })
    expect(['message', 'bounce', 'arf', 'autoreply']).toContain(a.Kind)
  })
})
