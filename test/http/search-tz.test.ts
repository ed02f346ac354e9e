import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { dotStuff, queuedId, rawSend, startTestApp, type TestApp } from '../helpers/test-app.js'
import { bounceMessage, plainMessage } from '../e2e/samples.js'

// Mailpit's `tz` parameter (issue 11): date-only before:/after: values are days in that zone, on every
// route that evaluates a search string, not only GET /api/v1/search.
//
// DAY is the calendar day of the first message in Pacific/Kiritimati (UTC+14 all year): that day began
// there at or before every message. In Etc/GMT+12 (UTC-12) the same day begins 26 hours later, after
// every message (all are received within the test's first seconds). So after:DAY matches every
// message in Kiritimati and none in GMT+12, and before:DAY the other way round; read in UTC, DAY
// begins somewhere in between, and at least one of the two answers differs.

const EAST = 'Pacific/Kiritimati'
const WEST = 'Etc/GMT+12'
const HOUR_MS = 3_600_000

interface ListBody {
  messages_count: number
  messages: { ID: string; Created: string }[]
}

describe('the tz parameter wherever a search is evaluated', () => {
  let app: TestApp
  let ids: string[]
  let day: string

  beforeEach(async () => {
    app = await startTestApp()
    ids = []
    for (const n of [1, 2]) {
      const raw = plainMessage({ from: 'a@example.test', to: 'b@example.test', subject: `message ${n}`, body: 'hello' })
      ids.push(queuedId(await rawSend(app.smtpPort, { from: 'a@example.test', to: ['b@example.test'], data: dotStuff(raw) })))
    }
    const bounce = bounceMessage({ to: 'forged@our.example', failed: 'nobody@example.org', originIp: '198.51.100.23', subject: 'Cheap pills' })
    ids.push(queuedId(await rawSend(app.smtpPort, { from: '', to: ['forged@our.example'], data: dotStuff(bounce) })))
    await app.running.indexer.idle()
    const times = (await app.api<ListBody>('/api/v1/messages')).body.messages.map((m) => Date.parse(m.Created))
    const first = Math.min(...times)
    expect(Math.max(...times) - first).toBeLessThan(HOUR_MS)
    day = new Date(first + 14 * HOUR_MS).toISOString().slice(0, 10)
  })
  afterEach(() => app.stop())

  const q = (params: Record<string, string>): string => new URLSearchParams(params).toString()
  const remaining = async (): Promise<number> => (await app.api<ListBody>('/api/v1/messages')).body.messages_count

  it('DELETE /api/v1/search reads before:DATE in tz', async () => {
    let res = await app.api(`/api/v1/search?${q({ query: `before:${day}`, tz: EAST })}`, { method: 'DELETE' })
    expect(res.status).toBe(200)
    expect(await remaining()).toBe(3) // the day began before every message there
    res = await app.api(`/api/v1/search?${q({ query: `before:${day}`, tz: WEST })}`, { method: 'DELETE' })
    expect(res.status).toBe(200)
    expect(await remaining()).toBe(0)
  })

  it('DELETE /api/v1/search refuses an unknown tz and deletes nothing', async () => {
    const res = await app.api<{ error: { code: string; message: string } }>(`/api/v1/search?${q({ query: `before:${day}`, tz: 'Nowhere/Else' })}`, { method: 'DELETE' })
    expect(res.status).toBe(400)
    expect(res.body.error.code).toBe('BAD_QUERY')
    expect(res.body.error.message).toContain('Nowhere/Else')
    expect(await remaining()).toBe(3)
  })

  it('exports (mbox and zip) read after:DATE in tz', async () => {
    const mboxCount = async (tz: string): Promise<number> => {
      const res = await fetch(`${app.baseUrl}/api/v1/export?${q({ format: 'mbox', query: `after:${day}`, tz })}`)
      expect(res.status).toBe(200)
      return ((await res.text()).match(/^From /gm) ?? []).length
    }
    expect(await mboxCount(EAST)).toBe(3)
    expect(await mboxCount(WEST)).toBe(0)
    const zipSize = async (tz: string): Promise<number> => {
      const res = await fetch(`${app.baseUrl}/api/v1/export?${q({ format: 'zip', query: `after:${day}`, tz })}`)
      expect(res.status).toBe(200)
      const zip = Buffer.from(await res.arrayBuffer())
      // One local file header (PK\3\4) per entry: the .eml files plus manifest.json.
      let n = 0
      for (let i = zip.indexOf('PK\x03\x04'); i >= 0; i = zip.indexOf('PK\x03\x04', i + 4)) n++
      return n - 1
    }
    expect(await zipSize(EAST)).toBe(3)
    expect(await zipSize(WEST)).toBe(0)
  })

  it('neighbours within a search read after:DATE in tz', async () => {
    const middle = ids[1]!
    const near = async (tz: string): Promise<unknown> =>
      (await app.api(`/api/v1/message/${middle}/neighbours?${q({ query: `after:${day}`, tz })}`)).body
    expect(await near(EAST)).toEqual({ Previous: ids[2], Next: ids[0] })
    expect(await near(WEST)).toEqual({ Previous: null, Next: null })
  })

  it('marking read by search and the backscatter report read after:DATE in tz', async () => {
    const unread = async (): Promise<number> => (await app.api<{ unread: number }>('/api/v1/messages')).body.unread
    expect(await unread()).toBe(3)
    let res = await app.api(`/api/v1/messages?${q({ tz: WEST })}`, { method: 'PUT', body: { Search: `after:${day}`, Read: true } })
    expect(res.status).toBe(200)
    expect(await unread()).toBe(3)
    res = await app.api(`/api/v1/messages?${q({ tz: EAST })}`, { method: 'PUT', body: { Search: `after:${day}`, Read: true } })
    expect(res.status).toBe(200)
    expect(await unread()).toBe(0)

    const bounces = async (tz: string): Promise<number> =>
      (await app.api<{ Bounces: number }>(`/api/v1/backscatter?${q({ query: `after:${day}`, tz })}`)).body.Bounces
    expect(await bounces(EAST)).toBe(1)
    expect(await bounces(WEST)).toBe(0)
  })
})
