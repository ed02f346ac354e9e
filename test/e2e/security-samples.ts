// Samples for the web-security tests: an HTML message with an inline (cid:) image, and a 1x1 GIF.

/** A 1x1 GIF: something real for the browser to draw (naturalWidth 1 once it loads). */
export const GIF_1X1 = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64')

/** multipart/related: an HTML part that shows `image` by its Content-ID, and the image part. */
export function relatedMessage(opts: { subject: string; html: string; cid: string; image?: Buffer; imageType?: string }): Buffer {
  const b = 'b9_related_boundary'
  const image = (opts.image ?? GIF_1X1).toString('base64').replace(/(.{76})/g, '$1\r\n')
  return Buffer.from(
    [
      'From: Inline Sender <inline@example.test>',
      'To: rcpt@example.test',
      `Subject: ${opts.subject}`,
      `Date: ${new Date().toUTCString()}`,
      `Message-ID: <${Math.random().toString(36).slice(2)}@example.test>`,
      'MIME-Version: 1.0',
      `Content-Type: multipart/related; boundary="${b}"; type="text/html"`,
      '',
      `--${b}`,
      'Content-Type: text/html; charset=utf-8',
      '',
      opts.html,
      `--${b}`,
      `Content-Type: ${opts.imageType ?? 'image/gif'}; name="logo.gif"`,
      'Content-Disposition: inline; filename="logo.gif"',
      `Content-ID: <${opts.cid}>`,
      'Content-Transfer-Encoding: base64',
      '',
      image,
      `--${b}--`,
      '',
    ].join('\r\n'),
  )
}
