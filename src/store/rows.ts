import type { Envelope, MessageSummary, SpamCheck, StoredMessage } from './types.js'

// The messages row as SQLite returns it, and its mapping to the domain object. One place for the
// column list, so that every reader returns the same StoredMessage.

export interface MessageRow {
  seq: number
  id: string
  received_at: number
  listener: string
  client_ip: string
  client_port: number
  ip_source: Envelope['ipSource']
  relay_ip: string | null
  relay_port: number | null
  helo: string
  client_hostname: string | null
  tls_protocol: string | null
  tls_cipher: string | null
  auth_user: string | null
  mail_from: string
  mail_from_params: string
  rcpt_count: number
  size: number
  sha256: string
  connection_id: string
  transaction_no: number
  pregreet: number
  malformed: number | null
  read: number
  indexed_at: number | null
  parse_error: string | null
  subject: string | null
  from_name: string | null
  from_addr: string | null
  addresses_json: string | null
  date_header: number | null
  message_id: string | null
  return_path: string | null
  snippet: string | null
  attachments: number | null
  kind: string | null
  auth_json: string | null
  analysis_json: string | null
  spam_json?: string | null // migration 008
  tags: string | null // group_concat of tag names, \x1f separated
  rcpts: string // JSON array of [address, params]
}

/** Every column of `messages m` plus its tags and recipients, for StoredMessage. */
export const ROW_COLUMNS = `m.*,
  (SELECT group_concat(t.name, char(31)) FROM message_tags mt JOIN tags t ON t.tag_id = mt.tag_id WHERE mt.seq = m.seq) AS tags,
  (SELECT json_group_array(json_array(rc.address, json(rc.params)) ORDER BY rc.pos) FROM recipients rc WHERE rc.seq = m.seq) AS rcpts`

export function toStored(row: MessageRow): StoredMessage {
  const rcpts = (JSON.parse(row.rcpts) as [string, Record<string, string>][]).map(([address, params]) => ({ address, params }))
  const envelope: Envelope = {
    receivedAt: row.received_at,
    listener: row.listener,
    clientIp: row.client_ip,
    clientPort: row.client_port,
    ipSource: row.ip_source,
    relayIp: row.relay_ip,
    relayPort: row.relay_port,
    helo: row.helo,
    clientHostname: row.client_hostname,
    tls: row.tls_protocol ? { protocol: row.tls_protocol, cipher: row.tls_cipher ?? '' } : null,
    authUser: row.auth_user,
    mailFrom: row.mail_from,
    mailFromParams: JSON.parse(row.mail_from_params) as Record<string, string>,
    rcptTo: rcpts,
    connectionId: row.connection_id,
    transaction: row.transaction_no,
    pregreet: row.pregreet === 1,
    malformed: row.malformed === 1,
    tags: [],
  }
  const addresses = row.addresses_json ? (JSON.parse(row.addresses_json) as Record<string, MessageSummary['to']>) : {}
  return {
    ...(row.spam_json ? { spam: JSON.parse(row.spam_json) as SpamCheck } : {}),
    id: row.id,
    seq: row.seq,
    size: row.size,
    sha256: row.sha256,
    read: row.read === 1,
    tags: row.tags ? row.tags.split('\x1f').sort((a, b) => a.localeCompare(b)) : [],
    envelope,
    indexed: row.indexed_at !== null,
    summary:
      row.indexed_at === null
        ? null
        : {
            parseError: row.parse_error,
            subject: row.subject ?? '',
            from: row.from_addr !== null || row.from_name !== null ? { Name: row.from_name ?? '', Address: row.from_addr ?? '' } : null,
            to: addresses.To ?? [],
            cc: addresses.Cc ?? [],
            bcc: addresses.Bcc ?? [],
            replyTo: addresses.ReplyTo ?? [],
            date: row.date_header,
            messageId: row.message_id ?? '',
            returnPath: row.return_path ?? '',
            snippet: row.snippet ?? '',
            attachments: row.attachments ?? 0,
            kind: row.kind ?? 'message',
            auth: row.auth_json ? (JSON.parse(row.auth_json) as unknown) : null,
            analysis: row.analysis_json ? (JSON.parse(row.analysis_json) as unknown) : null,
          },
  }
}
