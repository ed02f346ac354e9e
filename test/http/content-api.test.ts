import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { dotStuff, queuedId, rawSend, startTestApp, type TestApp } from '../helpers/test-app.js'
import { plainMessage } from '../e2e/samples.js'

// Issue 11, "Content": HTML-only mail through the whole app (SMTP in, indexer, API out), the HTML
// view of a message without HTML, the types parts are served with, ListUnsubscribe, and search
// terms through the HTTP API.

const crlf = (lines: string[]): Buffer => Buffer.from(lines.join('\r\n') + '\r\n')
const GIF = 'R0lGODlhAQABAAAAACw='

const htmlOnly = crlf([
  'From: News <news@example.test>',
  'To: reader@example.test',
  'Subject: weekly letter',
  'Date: Tue, 10 Mar 2026 12:00:00 +0000',
  'List-Unsubscribe: <mailto:leave@example.test>, <https://example.test/leave?u=1>',
  'List-Unsubscribe-Post: List-Unsubscribe=One-Click',
  'MIME-Version: 1.0',
  'Content-Type: multipart/related; boundary="rel"',
  '',
  '--rel',
  'Content-Type: text/html; charset=utf-8',
  '',
  '<html><body><p>The <b>okapizebra</b> issue, <a href="https://example.test/web">read online</a>.</p><img src="cid:logo@example.test"></body></html>',
  '--rel',
  'Content-Type: image/gif',
  'Content-ID: <logo@example.test>',
  'Content-Transfer-Encoding: base64',
  '',
  GIF,
  '--rel--',
])

const part = (type: string, name: string, body: string): string[] => [
  `Content-Type: ${type}; name="${name}"`,
  `Content-Disposition: attachment; filename="${name}"`,
  'Content-Transfer-Encoding: base64',
  '',
  Buffer.from(body).toString('base64'),
]
const FILES: [type: string, name: string, served: string, disposition: string][] = [
  ['application/pdf', 'report.pdf', 'application/pdf', 'inline'],
  ['image/png', 'chart.png', 'image/png', 'inline'],
  ['text/plain', 'notes.txt', 'text/plain', 'inline'],
  ['text/html', 'page.html', 'application/octet-stream', 'attachment'],
  ['image/svg+xml', 'logo.svg', 'application/octet-stream', 'attachment'],
  ['application/xml', 'data.xml', 'application/octet-stream', 'attachment'],
  ['text/javascript', 'run.js', 'application/octet-stream', 'attachment'],
  ['application/zip', 'files.zip', 'application/octet-stream', 'attachment'],
]
const withFiles = crlf([
  'From: a@example.test',
  'To: b@example.test',
  'Subject: files',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="mix"',
  '',
  '--mix',
  'Content-Type: text/plain',
  '',
  'see the files',
  ...FILES.flatMap(([type, name]) => ['--mix', ...part(type, name, `<svg onload="alert(1)">${name}</svg>`)]),
  '--mix',
  'Content-Type: image/gif; name="both.gif"',
  'Content-Disposition: attachment; filename="both.gif"',
  'Content-ID: <both@example.test>',
  'Content-Transfer-Encoding: base64',
  '',
  GIF,
  '--mix--',
])

interface Detail {
  ID: string
  Text: string
  HTML: string
  Attachments: { PartID: string; FileName: string }[]
  Inline: { PartID: string }[]
  ListUnsubscribe: { Header: string; Links: string[]; Errors: string; HeaderPost: string }
}
interface List {
  messages_count: number
  messages: { ID: string; Snippet: string; Attachments: number }[]
}

describe('content through the API', () => {
  let app: TestApp
  const ids: Record<string, string> = {}
  beforeAll(async () => {
    app = await startTestApp()
    const send = async (name: string, raw: Buffer): Promise<void> => {
      ids[name] = queuedId(await rawSend(app.smtpPort, { from: 's@example.test', to: ['r@example.test'], data: dotStuff(raw) }))
    }
    await send('html', htmlOnly)
    await send('files', withFiles)
    await send('plain', plainMessage({ from: 'a@example.test', to: 'b@example.test', subject: 'plain only', body: 'just text' }))
    await app.running.indexer.idle()
  })
  afterAll(async () => app.stop())

  it('gives HTML-only mail a Text and a Snippet and finds its words, whole or in part', async () => {
    const d = (await app.api<Detail>(`/api/v1/message/${ids.html}`)).body
    expect(d.Text).toContain('The okapizebra issue, read online [https://example.test/web].')
    expect(d.HTML).toContain('<b>okapizebra</b>')
    for (const q of ['okapizebra', 'zebra', 'ebra', '"read online"']) {
      const list = (await app.api<List>(`/api/v1/search?query=${encodeURIComponent(q)}`)).body
      expect(list.messages.map((m) => m.ID), q).toEqual([ids.html])
      expect(list.messages[0]!.Snippet).toContain('okapizebra')
    }
    expect((await app.api<List>('/api/v1/search?query=report.pdf')).body.messages.map((m) => m.ID)).toEqual([ids.files])
    expect(Buffer.compare(await app.raw(ids.html!), htmlOnly)).toBe(0) // the stored bytes are the bytes sent
  })

  it('fills ListUnsubscribe from the headers', async () => {
    const d = (await app.api<Detail>(`/api/v1/message/${ids.html}`)).body
    expect(d.ListUnsubscribe).toEqual({
      Header: '<mailto:leave@example.test>, <https://example.test/leave?u=1>',
      Links: ['mailto:leave@example.test', 'https://example.test/leave?u=1'],
      Errors: '',
      HeaderPost: 'List-Unsubscribe=One-Click',
    })
  })

  it('counts the same attachments in the list and in the message', async () => {
    const d = (await app.api<Detail>(`/api/v1/message/${ids.files}`)).body
    expect(d.Attachments.map((a) => a.FileName)).toContain('both.gif')
    const item = (await app.api<List>('/api/v1/messages')).body.messages.find((m) => m.ID === ids.files)!
    expect(item.Attachments).toBe(d.Attachments.length)
    expect(item.Attachments).toBe(FILES.length + 1)
    const html = (await app.api<List>('/api/v1/messages')).body.messages.find((m) => m.ID === ids.html)!
    expect(html.Attachments).toBe(0)
    expect((await app.api<List>('/api/v1/search?query=has:inline')).body.messages.map((m) => m.ID)).toEqual([ids.html])
  })

  it('answers 404 JSON for the HTML view of a message without HTML, and accepts embed=1', async () => {
    for (const q of ['', '?embed=1']) {
      const none = await fetch(`${app.baseUrl}/view/${ids.plain}.html${q}`)
      expect(none.status).toBe(404)
      expect(((await none.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND')
      const view = await fetch(`${app.baseUrl}/view/${ids.html}.html${q}`)
      expect(view.status).toBe(200)
      expect(await view.text()).toContain('okapizebra')
    }
  })

  it('serves PDF, raster images and plain text with their type, and active types as downloads, all sandboxed', async () => {
    const d = (await app.api<Detail>(`/api/v1/message/${ids.files}`)).body
    for (const [, name, served, disposition] of FILES) {
      const a = d.Attachments.find((x) => x.FileName === name)!
      const res = await fetch(`${app.baseUrl}/api/v1/message/${ids.files}/part/${a.PartID}`)
      expect(res.status, name).toBe(200)
      expect(res.headers.get('content-type')?.split(';')[0], name).toBe(served)
      expect(res.headers.get('content-disposition'), name).toMatch(new RegExp(`^${disposition}; filename="${name.replace('.', '\\.')}"`))
      expect(res.headers.get('content-security-policy'), name).toContain('sandbox')
      expect(res.headers.get('x-content-type-options'), name).toBe('nosniff')
      expect(await res.text(), name).toContain(name)
    }
  })

  it('takes date-only search values in the tz zone', async () => {
    const list = (await app.api<{ messages: { Created: string }[] }>('/api/v1/messages')).body
    const times = list.messages.map((m) => Date.parse(m.Created))
    const first = Math.min(...times)
    // D: the calendar day of the first message in Pacific/Kiritimati (UTC+14 all year). That day
    // began there at or before every message; in Etc/GMT+12 (UTC-12) it begins 26 hours later,
    // after every message (they were all received within the test's first seconds).
    const day = new Date(first + 14 * 3_600_000).toISOString().slice(0, 10)
    const count = async (q: string, tz: string): Promise<{ status: number; n: number }> => {
      const r = await app.api<{ messages_count: number }>(`/api/v1/search?query=${encodeURIComponent(q)}&tz=${encodeURIComponent(tz)}`)
      return { status: r.status, n: r.body.messages_count }
    }
    expect(Math.max(...times) - first).toBeLessThan(3_600_000)
    expect(await count(`after:${day}`, 'Pacific/Kiritimati')).toEqual({ status: 200, n: 3 })
    expect(await count(`after:${day}`, 'Etc/GMT+12')).toEqual({ status: 200, n: 0 })
    expect(await count(`before:${day}`, 'Etc/GMT+12')).toEqual({ status: 200, n: 3 })
    const bad = await app.api<{ error: { code: string } }>(`/api/v1/search?query=after:${day}&tz=Nowhere/Else`)
    expect(bad.status).toBe(400)
    expect(bad.body.error.code).toBe('BAD_QUERY')
  })
})
