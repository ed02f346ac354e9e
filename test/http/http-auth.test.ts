import { afterEach, describe, expect, it } from 'vitest'
import { startTestApp, type TestApp } from '../helpers/test-app.js'

describe('HTTP authentication', () => {
  let app: TestApp
  afterEach(() => app.stop())

  it('requires basic auth when --http-auth is set', async () => {
    app = await startTestApp(['--http-auth', 'admin:pa:ss'])
    const none = await fetch(`${app.baseUrl}/api/v1/info`)
    expect(none.status).toBe(401)
    expect(none.headers.get('www-authenticate')).toContain('Basic')
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe('UNAUTHORIZED')
    const wrong = await fetch(`${app.baseUrl}/api/v1/info`, { headers: { authorization: 'Basic ' + Buffer.from('admin:nope').toString('base64') } })
    expect(wrong.status).toBe(401)
    const right = await fetch(`${app.baseUrl}/api/v1/info`, { headers: { authorization: 'Basic ' + Buffer.from('admin:pa:ss').toString('base64') } })
    expect(right.status).toBe(200)
  })

  it('accepts a bearer token when --http-token is set, for the UI too', async () => {
    app = await startTestApp(['--http-token', 's3cret'])
    expect((await fetch(`${app.baseUrl}/`)).status).toBe(401)
    expect((await fetch(`${app.baseUrl}/api/v1/messages`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401)
    expect((await fetch(`${app.baseUrl}/api/v1/messages`, { headers: { authorization: 'Bearer s3cret' } })).status).toBe(200)
  })

  it('is open on loopback by default', async () => {
    app = await startTestApp()
    expect((await fetch(`${app.baseUrl}/api/v1/info`)).status).toBe(200)
  })
})
