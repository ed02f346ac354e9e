import type { Backscatter, BackscatterGroup, Counted, Envelope, StoredMessage, StoreStats } from '../store/index.js'

// Store records → Mailpit-shaped JSON (PascalCase), plus holdmail's envelope fields.

const iso = (ms: number): string => new Date(ms).toISOString()

export function envelopeJson(env: Envelope, sha256: string): Record<string, unknown> {
  return {
    MailFrom: env.mailFrom,
    MailFromParams: env.mailFromParams,
    RcptTo: env.rcptTo.map((r) => r.address),
    RcptParams: env.rcptTo.map((r) => r.params),
    ClientIP: env.clientIp,
    ClientPort: env.clientPort,
    IPSource: env.ipSource,
    ClientHostname: env.clientHostname,
    Helo: env.helo,
    TLS: env.tls ? { Protocol: env.tls.protocol, Cipher: env.tls.cipher } : null,
    AuthUser: env.authUser,
    Relay: env.relayIp ? { IP: env.relayIp, Port: env.relayPort ?? 0 } : null,
    Listener: env.listener,
    Received: iso(env.receivedAt),
    ConnectionID: env.connectionId,
    Transaction: env.transaction,
    Pregreet: env.pregreet,
    Malformed: env.malformed === true,
    SHA256: sha256,
  }
}

/** One row of a message list (Mailpit's MessageSummary). Unindexed messages show envelope facts. */
export function listItemJson(m: StoredMessage): Record<string, unknown> {
  const s = m.summary
  const env = m.envelope
  return {
    ID: m.id,
    MessageID: s?.messageId ?? '',
    Read: m.read,
    From: s?.from ?? { Name: '', Address: env.mailFrom },
    To: s?.to ?? env.rcptTo.map((r) => ({ Name: '', Address: r.address })),
    Cc: s?.cc ?? [],
    Bcc: s?.bcc ?? [],
    ReplyTo: s?.replyTo ?? [],
    Subject: s?.subject ?? '',
    Created: iso(env.receivedAt),
    Username: env.authUser ?? '',
    Tags: m.tags,
    Size: m.size,
    Attachments: s?.attachments ?? 0,
    Snippet: s?.snippet ?? '',
    Kind: s?.kind ?? 'message',
    Indexed: m.indexed,
    MailFrom: env.mailFrom,
    ClientIP: env.clientIp,
    Helo: env.helo,
    Auth: s?.auth ?? null,
  }
}

const counted = (list: Counted[]): { Key: string; Count: number }[] => list.map((c) => ({ Key: c.key, Count: c.count }))

/** Store statistics → the /api/v1/stats shape. */
export function statsJson(s: StoreStats): Record<string, unknown> {
  return {
    PerHour: s.perHour.map((h) => ({ Hour: iso(h.hourMs), Count: h.count })),
    PerDay: s.perDay.map((d) => ({ Day: iso(d.dayMs).slice(0, 10), Count: d.count })),
    TopSenderDomains: counted(s.topSenderDomains),
    TopClientIPs: counted(s.topClientIps),
    TopNets24: counted(s.topNets24),
    Auth: { SPF: s.auth.spf, DKIM: s.auth.dkim, DMARC: s.auth.dmarc },
    Kinds: s.kinds,
  }
}

const groupJson = (g: BackscatterGroup): Record<string, unknown> => ({
  Key: g.key,
  Host: g.host,
  Count: g.count,
  FirstSeen: iso(g.firstSeen),
  LastSeen: iso(g.lastSeen),
  Subjects: g.subjects,
})

/** Backscatter groups → the /api/v1/backscatter shape. */
export function backscatterJson(b: Backscatter): { Bounces: number; ByOrigin: Record<string, unknown>[]; BySender: Record<string, unknown>[] } {
  return { Bounces: b.bounces, ByOrigin: b.byOrigin.map(groupJson), BySender: b.bySender.map(groupJson) }
}
