import type { Envelope, StoredMessage } from '../store/index.js'

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
    Auth: (s?.auth as Record<string, unknown> | null) ?? null,
  }
}
