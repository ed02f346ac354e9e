import { describe, expect, it } from 'vitest'
import { isPublicIp, parseReceivedFrom } from '../../../src/mail/analysis/index.js'

describe('parseReceivedFrom', () => {
  it.each([
    ['Postfix', 'from mail.example.test (mail.example.test [192.0.2.1]) by mx.local (Postfix) with ESMTPS id 1; Tue, 14 Nov 2023 22:13:24 +0000', { ip: '192.0.2.1', helo: 'mail.example.test', host: 'mail.example.test' }],
    ['Postfix without reverse DNS', 'from helo.test (unknown [192.0.2.2]) by mx.local (Postfix) with SMTP id 2', { ip: '192.0.2.2', helo: 'helo.test', host: null }],
    ['Exim', 'from rdns.example.test ([192.0.2.3]:51234 helo=helo.example.test) by mx with esmtp (Exim 4.96)', { ip: '192.0.2.3', helo: 'helo.example.test', host: 'rdns.example.test' }],
    ['Exim literal', 'from [192.0.2.4] (port=1 helo=bot) by mx with esmtp', { ip: '192.0.2.4', helo: 'bot', host: null }],
    ['qmail', 'from unknown (HELO friendly.test) (192.0.2.5) by qmail.test with SMTP; 14 Nov 2023', { ip: '192.0.2.5', helo: 'friendly.test', host: null }],
    ['Exchange', 'from mail.fraud.test (192.0.2.6) by EX01.local with Microsoft SMTP Server id 15.20.1', { ip: '192.0.2.6', helo: 'mail.fraud.test', host: null }],
    ['IPv6 literal', 'from v6.test (v6.test [IPv6:2001:db8::7]) by mx.local with ESMTP', { ip: '2001:db8::7', helo: 'v6.test', host: 'v6.test' }],
    ['no from clause', 'by mx.local (Postfix, from userid 0) id 3', { ip: null, helo: null, host: null }],
  ])('%s', (_, value, want) => {
    expect(parseReceivedFrom(value)).toEqual(want)
  })
})

describe('isPublicIp', () => {
  it('treats private, loopback and link-local ranges as not public, documentation ranges as public', () => {
    expect(['10.1.1.1', '172.16.5.5', '192.168.0.1', '127.0.0.1', '169.254.1.1', '100.64.0.1', '::1', 'fe80::1', 'fd00::1'].filter(isPublicIp)).toEqual([])
    expect(['192.0.2.1', '198.51.100.1', '203.0.113.1', '8.8.8.8', '2001:db8::1'].every(isPublicIp)).toBe(true)
    expect(isPublicIp('not-an-ip')).toBe(false)
  })
})
