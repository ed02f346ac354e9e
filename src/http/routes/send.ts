import type {} from '@fastify/swagger' // route schemas carry OpenAPI summary/tags
import type { FastifyInstance } from 'fastify'
import { randomUUID } from 'node:crypto'
import MailComposer from 'nodemailer/lib/mail-composer'
import { AppError } from '../../errors.js'
import type { Envelope } from '../../store/index.js'
import type { HttpDeps } from '../deps.js'
import { listItemJson } from '../message-json.js'
import { errorSchema } from '../schemas.js'

// Mailpit's POST /api/v1/send: a message described as JSON is built into MIME and STORED, as if it
// had arrived on a listener named "api". Nothing is sent anywhere: holdmail never delivers. The
// MIME is built by nodemailer's MailComposer (the library the tests already send with) rather than
// by hand: headers, encodings and multipart structure are its job.

// A JSON body carries base64 attachments, about the size of the MIME message they become, so the
// body limit follows --max-message-size (with room for a small message when that limit is tiny).
const MIN_BODY_LIMIT_BYTES = 1024 * 1024

interface AddressJson {
  Email: string
  Name?: string
}
interface SendBody {
  From: AddressJson
  To?: AddressJson[]
  Cc?: AddressJson[]
  Bcc?: string[]
  ReplyTo?: AddressJson[]
  Subject?: string
  Text?: string
  HTML?: string
  Attachments?: { Content: string; Filename: string; ContentType?: string; ContentID?: string }[]
  Headers?: Record<string, string>
  Tags?: string[]
}

const addressSchema = {
  type: 'object',
  required: ['Email'],
  properties: { Email: { type: 'string', minLength: 3, maxLength: 320 }, Name: { type: 'string', maxLength: 1000 } },
} as const
const addressList = { type: 'array', items: addressSchema, default: [] } as const
const tagName = { type: 'string', minLength: 1, maxLength: 100, pattern: '^[^\\x00-\\x1f]+$' } as const

const BASE64 = /^[A-Za-z0-9+/\s]*={0,2}\s*$/
// Headers the composer derives from the fields above; a Headers entry may not replace them.
const RESERVED_HEADERS = new Set(['from', 'to', 'cc', 'bcc', 'reply-to', 'subject', 'content-type', 'content-transfer-encoding', 'mime-version'])

const mailbox = (a: AddressJson): { name: string; address: string } => ({ name: a.Name ?? '', address: a.Email })

export async function sendRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  const { config, store } = deps
  app.post<{ Body: SendBody }>(
    '/api/v1/send',
    {
      bodyLimit: Math.max(MIN_BODY_LIMIT_BYTES, config.maxMessageBytes),
      schema: {
        summary: 'Store a message described as JSON (Mailpit send); it is never delivered anywhere',
        tags: ['message'],
        body: {
          type: 'object',
          required: ['From'],
          properties: {
            From: addressSchema,
            To: addressList,
            Cc: addressList,
            Bcc: { type: 'array', items: { type: 'string', minLength: 3, maxLength: 320 }, default: [] },
            ReplyTo: addressList,
            Subject: { type: 'string', default: '' },
            Text: { type: 'string', default: '' },
            HTML: { type: 'string', default: '' },
            Attachments: {
              type: 'array',
              default: [],
              items: {
                type: 'object',
                required: ['Content', 'Filename'],
                properties: {
                  Content: { type: 'string' },
                  Filename: { type: 'string', minLength: 1, maxLength: 255 },
                  ContentType: { type: 'string', maxLength: 255 },
                  ContentID: { type: 'string', maxLength: 255 },
                },
              },
            },
            Headers: { type: 'object', additionalProperties: { type: 'string' }, default: {} },
            Tags: { type: 'array', items: tagName, default: [] },
          },
        },
        response: { 200: { type: 'object', properties: { ID: { type: 'string' } } }, 400: errorSchema },
      },
    },
    async (req) => {
      const b = req.body
      const to = b.To ?? []
      const cc = b.Cc ?? []
      const bcc = b.Bcc ?? []
      if (to.length + cc.length + bcc.length === 0) throw new AppError('BAD_REQUEST', 'no recipients: give at least one of To, Cc or Bcc')
      if (to.length + cc.length + bcc.length > config.maxRecipients) {
        throw new AppError('BAD_REQUEST', `too many recipients: at most ${config.maxRecipients} (--max-recipients)`)
      }
      for (const [name, value] of Object.entries(b.Headers ?? {})) {
        if (!/^[\x21-\x39\x3b-\x7e]+$/.test(name)) throw new AppError('BAD_REQUEST', `Headers: "${name}" is not a header name`)
        if (RESERVED_HEADERS.has(name.toLowerCase())) throw new AppError('BAD_REQUEST', `Headers: set ${name} with its own field, not in Headers`)
        if (/[\r\n]/.test(value)) throw new AppError('BAD_REQUEST', `Headers: the value of ${name} has a line break`)
      }
      const attachments = (b.Attachments ?? []).map((a, i) => {
        if (!BASE64.test(a.Content)) throw new AppError('BAD_REQUEST', `Attachments[${i}].Content is not base64`)
        return {
          filename: a.Filename,
          content: Buffer.from(a.Content, 'base64'),
          ...(a.ContentType ? { contentType: a.ContentType } : {}),
          // A Content-ID makes the part inline (an image the HTML shows with cid:), as in Mailpit.
          ...(a.ContentID ? { cid: a.ContentID, contentDisposition: 'inline' as const } : {}),
        }
      })
      const composer = new MailComposer({
        from: mailbox(b.From),
        ...(to.length ? { to: to.map(mailbox) } : {}),
        ...(cc.length ? { cc: cc.map(mailbox) } : {}),
        ...(b.ReplyTo?.length ? { replyTo: b.ReplyTo.map(mailbox) } : {}),
        subject: b.Subject ?? '',
        ...(b.Text ? { text: b.Text } : {}),
        ...(b.HTML ? { html: b.HTML } : {}),
        attachments,
        headers: b.Headers ?? {},
        // Bcc recipients are in the envelope only, as a real submission leaves them.
      })
      const raw = await new Promise<Buffer>((resolve, reject) => composer.compile().build((err, out) => (err ? reject(err) : resolve(out))))
      if (raw.length > config.maxMessageBytes) {
        throw new AppError('BAD_REQUEST', `the message is ${raw.length} bytes; the limit is ${config.maxMessageBytes} (--max-message-size)`)
      }
      const envelope: Envelope = {
        receivedAt: Date.now(),
        listener: 'api',
        clientIp: req.ip,
        clientPort: req.socket.remotePort ?? 0,
        ipSource: 'connection',
        relayIp: null,
        relayPort: null,
        helo: '',
        clientHostname: null,
        tls: null,
        authUser: null,
        mailFrom: b.From.Email,
        mailFromParams: {},
        rcptTo: [...to.map((a) => a.Email), ...cc.map((a) => a.Email), ...bcc].map((address) => ({ address, params: {} })),
        connectionId: randomUUID(),
        transaction: 1,
        pregreet: false,
        tags: [],
      }
      // The tags the SMTP listeners would give this envelope (listener tag, --routes,
      // plus-addresses), then the request's own.
      const derived = deps.tagsFor ? await deps.tagsFor(envelope) : []
      envelope.tags = [...new Set([...derived, ...(b.Tags ?? []).map((t) => t.trim()).filter(Boolean)])]
      const message = await store.insert(raw, envelope)
      if (deps.stored) await deps.stored(message)
      deps.events.emit({ type: 'new', message: listItemJson(message) })
      return { ID: message.id }
    },
  )
}
