/** Where the client IP recorded for a message came from. */
export type IpSource = 'connection' | 'xclient' | 'xforward' | 'received'

export interface Recipient {
  address: string
  params: Record<string, string> // NOTIFY, ORCPT, ... as given
}

/** The SMTP envelope and connection facts of one message, recorded beside (never inside) the raw bytes. */
export interface Envelope {
  receivedAt: number // epoch ms
  listener: string // 'smtp', 'smtps', 'lmtp', 'cli'
  clientIp: string
  clientPort: number
  ipSource: IpSource
  relayIp: string | null // the trusted relay that handed the message over, when ipSource is not 'connection'
  relayPort: number | null
  helo: string
  clientHostname: string | null // XCLIENT NAME / XFORWARD NAME when given
  tls: { protocol: string; cipher: string } | null
  authUser: string | null
  mailFrom: string // '' for the null sender <>
  mailFromParams: Record<string, string> // SIZE, BODY, SMTPUTF8, RET, ENVID
  rcptTo: Recipient[]
  connectionId: string
  transaction: number // 1-based within the connection
  pregreet: boolean
  /** MAIL FROM or a RCPT TO argument that is not a valid path (RFC 5321 §4.1.2), kept as written. */
  malformed?: boolean
  tags: string[] // applied at ingest (listener tag, route rules)
}

export interface Address {
  Name: string
  Address: string
}

/** What the indexer derives from the raw bytes after commit. */
export interface MessageSummary {
  parseError: string | null
  subject: string
  from: Address | null
  to: Address[]
  cc: Address[]
  bcc: Address[]
  replyTo: Address[]
  date: number | null
  messageId: string
  returnPath: string
  snippet: string
  attachments: number
  inline?: number // parts shown inline in the HTML (has:inline)
  attachmentNames?: string[] // file names of the parts, for the substring index only
  bodyText: string // for the full-text index only, not stored in a column
  kind: string
  auth: unknown // analyser output, stored as JSON
  analysis: unknown
  tags: string[] // tags derived from the content (e.g. kind), merged with the ingest tags
}

export interface StoredMessage {
  id: string
  seq: number
  size: number
  sha256: string
  read: boolean
  tags: string[]
  envelope: Envelope
  indexed: boolean
  summary: Omit<MessageSummary, 'bodyText' | 'tags'> | null
  /** SpamAssassin's verdict (--spamd); absent until spamd has answered for this message. */
  spam?: SpamCheck
}

/** What spamd said about a message (src/mail/spamd.ts); `error` set when it could not check it. */
export interface SpamCheck {
  checkedAt: number // epoch ms
  error: string
  isSpam: boolean
  score: number
  threshold: number
  rules: { name: string; score: number; description: string }[]
}

export interface ListQuery {
  search?: string // Mailpit query syntax
  start?: number
  limit?: number
  tz?: string
}

export interface Page {
  total: number // messages in the store
  unread: number // unread in the store
  messagesCount: number // messages matching the search
  messagesUnread: number
  start: number
  messages: StoredMessage[]
}

/** Which messages an operation applies to: listed IDs, a search (date-only values read in `tz`, UTC when unset), or everything. */
export type Selection = { ids: string[] } | { search: string; tz?: string } | { all: true }
