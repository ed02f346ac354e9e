import { isIP } from 'node:net'
import { authenticate } from 'mailauth'
import { inAnyCidr, normalizeIp, type Cidr } from '../../config/index.js'
import type { Envelope, IpSource } from '../../store/index.js'
import type { Analyser } from '../indexer.js'
import { createDnsResolver, type DnsResolve } from './dns-resolver.js'
import { clientFromReceived } from './received.js'

/** RFC 8601 §2.7 result words, plus our marker for "checks switched off". */
export type AuthResultWord =
  | 'pass' | 'fail' | 'softfail' | 'neutral' | 'none' | 'temperror' | 'permerror' | 'policy' | 'not-evaluated'

export interface AuthResults {
  SPF: { Result: AuthResultWord; Domain: string; IP: string; IPSource: IpSource; Helo: string; Explanation: string }
  DKIM: { Result: AuthResultWord; Domain: string; Selector: string; Algorithm: string; Aligned: boolean }[]
  DMARC: { Result: AuthResultWord; Domain: string; Policy: string; Aligned: boolean }
  ARC: { Result: AuthResultWord }
}

export interface AuthAnalyserOptions {
  enabled: boolean
  dnsServer: { host: string; port: number } | null
  trustedRelays: readonly Cidr[]
  timeoutMs?: number
}

// mailauth writes this name into its Received-SPF comments; the stored message never sees it.
const MTA_NAME = 'holdmail'

/**
 * The original client: who handed the message to the first trusted host (RFC 7208 §2.4 "the SMTP client").
 * The SMTP listener stores it in the envelope (ipSource 'xclient', 'xforward' or 'received'); a message
 * stored before the listener read Received fields still has the relay there, and its chain is read here.
 */
export function originalClient(raw: Buffer, envelope: Envelope, trustedRelays: readonly Cidr[]): { ip: string; helo: string; source: IpSource } {
  const connIp = normalizeIp(envelope.clientIp)
  if (envelope.ipSource !== 'connection' || !inAnyCidr(trustedRelays, connIp)) {
    return { ip: connIp, helo: envelope.helo, source: envelope.ipSource }
  }
  const hop = clientFromReceived(raw, trustedRelays)
  if (hop) return { ip: hop.ip, helo: hop.helo ?? '', source: 'received' }
  return { ip: connIp, helo: envelope.helo, source: 'connection' }
}

export function notEvaluated(ip: string, source: IpSource, helo: string, domain: string): AuthResults {
  return {
    SPF: { Result: 'not-evaluated', Domain: domain, IP: ip, IPSource: source, Helo: helo, Explanation: 'authentication checks are disabled' },
    DKIM: [],
    DMARC: { Result: 'not-evaluated', Domain: '', Policy: '', Aligned: false },
    ARC: { Result: 'not-evaluated' },
  }
}

const WORDS = new Set<string>(['pass', 'fail', 'softfail', 'neutral', 'none', 'temperror', 'permerror', 'policy'])

function word(result: string | undefined): AuthResultWord {
  if (!result) return 'none'
  const r = result.toLowerCase()
  if (r === 'temperr') return 'temperror' // older mailauth spelling
  if (r === 'skipped') return 'none'
  return WORDS.has(r) ? (r as AuthResultWord) : 'none'
}

/**
 * RFC 6376 §6.1.3: a body hash mismatch is PERMFAIL, which RFC 8601 §2.7.1 reports as "fail"; mailauth
 * says "neutral" there, which would hide a message altered after signing.
 */
function dkimWord(result: string | undefined, comment: unknown, algorithm: string): AuthResultWord {
  const w = word(result)
  if (w === 'neutral' && typeof comment === 'string' && /body hash did not verify/i.test(comment)) return 'fail'
  // RFC 6376 §6.1.2: a missing, revoked or unusable key is PERMFAIL (RFC 8601 "permerror"); mailauth says "neutral".
  if (w === 'neutral' && typeof comment === 'string' && /^(no key|invalid public key|unknown key (version|type))$/i.test(comment)) return 'permerror'
  // RFC 8301 §3.1: rsa-sha1 MUST NOT be used for verifying; mailauth still passes it.
  if (w === 'pass' && algorithm.toLowerCase() === 'rsa-sha1') return 'permerror'
  return w
}

/**
 * The MAIL FROM identity as SPF checks it, from the argument as the client sent it (a capture MTA keeps
 * malformed ones): without enclosing angle brackets, and without a source route ("@relay,@relay2:"), which
 * RFC 5321 §C says receivers ignore. A missing local part ("@example.net") stays as it is: RFC 7208 §4.3
 * has it checked as postmaster@example.net, which mailauth does.
 */
function spfSender(mailFrom: string): string {
  let s = mailFrom.trim()
  if (s.startsWith('<') && s.endsWith('>')) s = s.slice(1, -1).trim()
  return s.replace(/^@[^:]*:/, '')
}

function senderDomain(mailFrom: string, helo: string): string {
  const at = mailFrom.lastIndexOf('@')
  if (at >= 0) return mailFrom.slice(at + 1).toLowerCase()
  // RFC 7208 §2.4: with a null reverse-path the HELO identity is checked, as postmaster@HELO.
  return helo.replace(/^\[|\]$/g, '').toLowerCase()
}

export function createAuthAnalyser(opts: AuthAnalyserOptions): Analyser {
  const resolve: DnsResolve | null = opts.enabled
    ? createDnsResolver({ server: opts.dnsServer, ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}) })
    : null

  return async (raw, envelope, summary) => {
    const client = originalClient(raw, envelope, opts.trustedRelays)
    const sender = spfSender(envelope.mailFrom)
    const domain = senderDomain(sender, client.helo)
    if (!resolve) {
      summary.auth = notEvaluated(client.ip, client.source, client.helo, domain)
      return
    }
    try {
      summary.auth = await evaluate(raw, sender, client, domain, resolve)
    } catch (err) {
      // mailauth threw on input it could not handle: record a temporary error, never a false fail.
      const failed = notEvaluated(client.ip, client.source, client.helo, domain)
      const reason = `authentication checks failed: ${(err as Error).message || 'unknown error'}`
      failed.SPF.Result = 'temperror'
      failed.SPF.Explanation = reason
      failed.DMARC.Result = 'temperror'
      failed.ARC.Result = 'temperror'
      summary.auth = failed
    }
  }
}

/**
 * RFC 5322 §2.1: the empty line is there only to separate a body, so a message may end in its header block.
 * mailauth finds no header fields (and so no signatures) without that empty line: give it one, on the copy
 * that is analysed; the stored bytes stay as received.
 */
function withHeaderEnd(raw: Buffer): Buffer {
  if (raw.includes('\r\n\r\n') || raw.includes('\n\n') || raw.length === 0) return raw
  return Buffer.concat([raw, Buffer.from(raw.at(-1) === 0x0a ? '\r\n' : '\r\n\r\n')])
}

async function evaluate(
  raw: Buffer,
  mailFrom: string,
  client: { ip: string; helo: string; source: IpSource },
  domain: string,
  resolve: DnsResolve,
): Promise<AuthResults> {
  const hasIp = isIP(client.ip) !== 0
  const res = await authenticate(withHeaderEnd(raw), {
    ...(hasIp ? { ip: client.ip } : {}),
    helo: client.helo || client.ip,
    sender: mailFrom,
    mta: MTA_NAME,
    resolver: resolve as never, // node:dns shapes; mailauth's declared type only lists TXT's
    disableBimi: true,
    trustReceived: false,
  })

  const spf = res.spf || null
  const spfWord: AuthResultWord = hasIp && spf ? word(spf.status.result) : 'none'
  // RFC 7208 §6.2: a "fail" may carry the domain's own explanation (exp=); otherwise mailauth's comment.
  const domainExplanation = (spf as { explanation?: unknown } | null)?.explanation
  const spfExplanation = !hasIp
    ? 'no client IP address to check'
    : typeof domainExplanation === 'string'
      ? domainExplanation
      : String(spf?.status.comment || (spf as { text?: string } | null)?.text || '')
  const dkim = (res.dkim?.results ?? [])
    // mailauth reports an unsigned message as one result without a domain; we list signatures only.
    .filter((r) => r.signingDomain)
    .map((r) => {
      const header = (r.status.header ?? {}) as { a?: unknown }
      const algorithm = r.algorithm || (typeof header.a === 'string' ? header.a : '')
      const result = dkimWord(r.status.result, r.status.comment, algorithm)
      return {
        Result: result,
        Domain: r.signingDomain ?? '',
        Selector: r.selector ?? '',
        Algorithm: algorithm,
        Aligned: Boolean(r.status.aligned) && result === 'pass',
      }
    })
  const dmarc = res.dmarc || null
  const dmarcAligned = Boolean(dmarc && (dmarc.alignment?.spf?.result || dmarc.alignment?.dkim?.result))
  return {
    SPF: {
      Result: spfWord,
      Domain: spf?.domain ?? domain,
      IP: client.ip,
      IPSource: client.source,
      Helo: client.helo,
      Explanation: spfExplanation,
    },
    DKIM: dkim,
    DMARC: {
      Result: dmarc ? word(dmarc.status.result) : 'none',
      Domain: dmarc?.domain ?? '',
      Policy: dmarc?.policy ?? '',
      Aligned: dmarcAligned,
    },
    ARC: { Result: res.arc ? word(res.arc.status.result) : 'none' },
  }
}
