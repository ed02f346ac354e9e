// JSON schemas shared by the routes. They validate input, trim output and feed the OpenAPI
// document. Field names follow Mailpit's API v1 so that its clients work unchanged.

import { AppError } from '../errors.js'
import type { SearchOptions } from '../store/index.js'

export const addressSchema = {
  type: 'object',
  properties: { Name: { type: 'string' }, Address: { type: 'string' } },
} as const

const addressList = { type: 'array', items: addressSchema } as const

// Paging numbers. A start past 2^53 reached SQLite as a float ("datatype mismatch", a 500). ajv
// skips `maximum` for a non-finite number, so "1e400" passes it as Infinity: routes that page also
// run checkPageNumbers as a preHandler.
export const pageStartSchema = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER, default: 0 } as const
export const pageLimitSchema = { type: 'integer', minimum: 1, maximum: 1000, default: 50 } as const

// Mailpit's `tz` parameter: date-only before:/after: values in a search are days in this IANA zone
// (UTC when absent). Every route that evaluates a search string takes it.
export const tzSchema = { type: 'string', maxLength: 64, description: 'IANA time zone for date-only before:/after: values (default UTC)' } as const

/** The search options of a request's `tz` (an empty value is no zone). */
export const searchOptions = (tz: string | undefined): SearchOptions => (tz ? { tz } : {})

/** Route preHandler: a `start` or `limit` that is not a whole number below 2^53 is a 400. */
export async function checkPageNumbers(req: { query: unknown }): Promise<void> {
  const q = (req.query ?? {}) as Record<string, unknown>
  for (const name of ['start', 'limit']) {
    const v = q[name]
    if (v !== undefined && !Number.isSafeInteger(v)) {
      throw new AppError('BAD_QUERY', `querystring/${name} must be a whole number below 2^53`)
    }
  }
}

export const errorSchema = {
  type: 'object',
  properties: {
    error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } },
  },
} as const

const nullableString = { type: ['string', 'null'] } as const

export const envelopeSchema = {
  type: 'object',
  description: 'SMTP envelope and connection facts, recorded beside the raw message',
  properties: {
    MailFrom: { type: 'string', description: "envelope sender; '' for the null sender <>" },
    MailFromParams: { type: 'object', additionalProperties: { type: 'string' } },
    RcptTo: { type: 'array', items: { type: 'string' } },
    RcptParams: { type: 'array', items: { type: 'object', additionalProperties: { type: 'string' } } },
    ClientIP: { type: 'string' },
    ClientPort: { type: 'integer' },
    IPSource: { type: 'string', enum: ['connection', 'xclient', 'xforward', 'received'] },
    ClientHostname: nullableString,
    Helo: { type: 'string' },
    TLS: {
      type: ['object', 'null'],
      properties: { Protocol: { type: 'string' }, Cipher: { type: 'string' } },
    },
    AuthUser: nullableString,
    Relay: {
      type: ['object', 'null'],
      properties: { IP: { type: 'string' }, Port: { type: 'integer' } },
    },
    Listener: { type: 'string' },
    Received: { type: 'string', format: 'date-time' },
    ConnectionID: { type: 'string' },
    Transaction: { type: 'integer' },
    Pregreet: { type: 'boolean' },
    Malformed: { type: 'boolean', description: 'MAIL FROM or a RCPT TO was not a valid address; kept as sent' },
    SHA256: { type: 'string' },
  },
} as const

// Fields a list row and a full message share, as Mailpit names them.
const headerFields = {
  ID: { type: 'string' },
  MessageID: { type: 'string' },
  Read: { type: 'boolean' },
  From: addressSchema,
  To: addressList,
  Cc: addressList,
  Bcc: addressList,
  ReplyTo: addressList,
} as const

export const listItemSchema = {
  type: 'object',
  properties: {
    ...headerFields,
    Subject: { type: 'string' },
    Created: { type: 'string', format: 'date-time' },
    Username: { type: 'string' },
    Tags: { type: 'array', items: { type: 'string' } },
    Size: { type: 'integer' },
    Attachments: { type: 'integer' },
    Snippet: { type: 'string' },
    Kind: { type: 'string' },
    Indexed: { type: 'boolean' },
    MailFrom: { type: 'string' },
    ClientIP: { type: 'string' },
    Helo: { type: 'string' },
    Auth: { type: ['object', 'null'], additionalProperties: true },
  },
} as const

export const messagesSummarySchema = {
  type: 'object',
  properties: {
    total: { type: 'integer' },
    unread: { type: 'integer' },
    count: { type: 'integer' },
    messages_count: { type: 'integer' },
    messages_unread: { type: 'integer' },
    start: { type: 'integer' },
    tags: { type: 'array', items: { type: 'string' } },
    messages: { type: 'array', items: listItemSchema },
  },
} as const

export const attachmentSchema = {
  type: 'object',
  properties: {
    PartID: { type: 'string' },
    FileName: { type: 'string' },
    ContentType: { type: 'string' },
    ContentID: { type: 'string' },
    Size: { type: 'integer' },
    Checksums: {
      type: 'object',
      properties: { MD5: { type: 'string' }, SHA1: { type: 'string' }, SHA256: { type: 'string' } },
    },
  },
} as const

export const messageSchema = {
  type: 'object',
  properties: {
    ...headerFields,
    ReturnPath: { type: 'string' },
    Subject: { type: 'string' },
    ListUnsubscribe: {
      type: 'object',
      properties: {
        Header: { type: 'string' },
        Links: { type: 'array', items: { type: 'string' } },
        Errors: { type: 'string' },
        HeaderPost: { type: 'string' },
      },
    },
    Date: { type: 'string', format: 'date-time' },
    Created: { type: 'string', format: 'date-time' },
    Tags: { type: 'array', items: { type: 'string' } },
    Username: { type: 'string' },
    Text: { type: 'string' },
    HTML: { type: 'string' },
    Size: { type: 'integer' },
    Inline: { type: 'array', items: attachmentSchema },
    Attachments: { type: 'array', items: attachmentSchema },
    Envelope: envelopeSchema,
    Kind: { type: 'string' },
    ParseError: nullableString,
    Auth: { type: ['object', 'null'], additionalProperties: true },
    Analysis: { type: ['object', 'null'], additionalProperties: true },
  },
} as const

export const idParams = {
  type: 'object',
  required: ['ID'],
  properties: { ID: { type: 'string', minLength: 1, maxLength: 64, description: 'message ID, or "latest"' } },
} as const

export const idsBody = {
  type: ['object', 'null'],
  properties: { IDs: { type: 'array', items: { type: 'string', maxLength: 64 }, maxItems: 100000 } },
} as const

export const okText = { type: 'string', description: '"ok"' } as const
