// Sample messages for the browser tests and the screenshots: small, hand-written, each showing one
// thing (remote images, hostile markup, a bounce, an attachment).

const crlf = (lines: string[]): Buffer => Buffer.from(lines.join('\r\n') + '\r\n', 'utf8')

export function plainMessage(opts: { from: string; to: string; subject: string; body: string; date?: string; messageId?: string }): Buffer {
  return crlf([
    `From: ${opts.from}`,
    `To: ${opts.to}`,
    `Subject: ${opts.subject}`,
    `Date: ${opts.date ?? new Date().toUTCString()}`,
    `Message-ID: <${opts.messageId ?? Math.random().toString(36).slice(2)}@example.test>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    opts.body,
  ])
}

/** multipart/alternative with a text part and an HTML part that references remote resources. */
export function htmlMessage(opts: { from: string; to: string; subject: string; html: string; text: string }): Buffer {
  const b = 'b1_alt_boundary'
  return crlf([
    `From: ${opts.from}`,
    `To: ${opts.to}`,
    `Subject: ${opts.subject}`,
    `Date: ${new Date().toUTCString()}`,
    `Message-ID: <${Math.random().toString(36).slice(2)}@example.test>`,
    'MIME-Version: 1.0',
    `Content-Type: multipart/alternative; boundary="${b}"`,
    '',
    `--${b}`,
    'Content-Type: text/plain; charset=utf-8',
    '',
    opts.text,
    `--${b}`,
    'Content-Type: text/html; charset=utf-8',
    '',
    opts.html,
    `--${b}--`,
  ])
}

export function withAttachment(opts: { from: string; to: string; subject: string; text: string; filename: string; content: Buffer; type: string }): Buffer {
  const b = 'b2_mixed_boundary'
  const b64 = opts.content.toString('base64').replace(/(.{76})/g, '$1\r\n')
  return crlf([
    `From: ${opts.from}`,
    `To: ${opts.to}`,
    `Subject: ${opts.subject}`,
    `Date: ${new Date().toUTCString()}`,
    `Message-ID: <${Math.random().toString(36).slice(2)}@example.test>`,
    'MIME-Version: 1.0',
    `Content-Type: multipart/mixed; boundary="${b}"`,
    '',
    `--${b}`,
    'Content-Type: text/plain; charset=utf-8',
    '',
    opts.text,
    `--${b}`,
    `Content-Type: ${opts.type}; name="${opts.filename}"`,
    `Content-Disposition: attachment; filename="${opts.filename}"`,
    'Content-Transfer-Encoding: base64',
    '',
    b64,
    `--${b}--`,
  ])
}

/** An RFC 3464 delivery status notification (backscatter), sent with the null sender. */
export function bounceMessage(opts: { to: string; failed: string; originIp?: string; subject?: string }): Buffer {
  const b = 'b3_report_boundary'
  return crlf([
    'From: Mail Delivery System <MAILER-DAEMON@mx.example.net>',
    `To: ${opts.to}`,
    'Subject: Undelivered Mail Returned to Sender',
    `Date: ${new Date().toUTCString()}`,
    `Message-ID: <bounce.${Math.random().toString(36).slice(2)}@mx.example.net>`,
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${b}"`,
    '',
    `--${b}`,
    'Content-Type: text/plain; charset=us-ascii',
    '',
    'This is the mail system at host mx.example.net.',
    '',
    "I'm sorry to have to inform you that your message could not be delivered.",
    `--${b}`,
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mx.example.net',
    `Arrival-Date: ${new Date().toUTCString()}`,
    '',
    `Final-Recipient: rfc822; ${opts.failed}`,
    'Action: failed',
    'Status: 5.1.1',
    'Remote-MTA: dns; mail.example.org',
    'Diagnostic-Code: smtp; 550 5.1.1 <' + opts.failed + '>: Recipient address rejected: User unknown',
    '',
    `--${b}`,
    'Content-Type: text/rfc822-headers',
    '',
    `From: ${opts.to}`,
    `To: ${opts.failed}`,
    `Subject: ${opts.subject ?? 'Cheap meds, no prescription'}`,
    `Received: from spammer.example.com (spammer.example.com [${opts.originIp ?? '198.51.100.23'}]) by relay.example.org`,
    '',
    `--${b}--`,
  ])
}
