import { Database } from '../store/sqlite.js'
import { createWriteStream, existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Writable } from 'node:stream'
import { ZipFile } from 'yazl'
import { cidrContains, loadConfig, parseCidr } from '../config/index.js'
import { AppError } from '../errors.js'
import { manifestEntry } from '../http/routes/export.js'
import { drained, mboxChunks, pumpZip, type MboxItem, type ZipEntry } from '../mail/export-formats.js'
import { decodeRaw } from '../store/raw-codec.js'
import { compileSearch } from '../store/search-query.js'
import type { Envelope, StoredMessage } from '../store/index.js'
import { createProgress, formatBytes } from './progress.js'

// `holdmail export --format mbox|maildir|eml|zip [--query Q] OUT`: the messages of a search, read
// through a read-only connection (safe beside a running server), written with the same formatting
// code as the HTTP export, so an mbox is byte for byte what GET /api/v1/export returns.

export const EXPORT_USAGE = `usage: holdmail export --format mbox|maildir|eml|zip [--query SEARCH] [--db PATH] OUT
  OUT: a file for mbox and zip ("-" writes to stdout), a folder for maildir and eml`

const FORMATS = ['mbox', 'maildir', 'eml', 'zip'] as const
type Format = (typeof FORMATS)[number]

// Rows are found 1000 at a time (ids and sizes only), then read with their bytes in groups of at
// most 32 MiB, so a search over 50 MiB samples never holds more than a group in memory.
const PAGE_ROWS = 1000
const GROUP_BYTES = 32 * 1024 * 1024

export interface ExportArgs {
  format: Format
  query: string
  out: string
  configArgs: string[]
}

export function parseExportArgs(argv: readonly string[]): ExportArgs {
  let format: string | null = null
  let query = ''
  const rest: string[] = []
  const configArgs: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    const eq = arg.indexOf('=')
    const [flag, inline] = arg.startsWith('--') && eq > 0 ? [arg.slice(0, eq), arg.slice(eq + 1)] : [arg, undefined]
    const value = (): string => {
      const v = inline ?? argv[++i]
      if (v === undefined) throw new AppError('BAD_CONFIG', `${flag} needs a value\n${EXPORT_USAGE}`)
      return v
    }
    if (flag === '--format') format = value()
    else if (flag === '--query') query = value()
    else if (flag === '--db') configArgs.push('--db', value())
    else if (flag.startsWith('-') && flag !== '-') throw new AppError('BAD_CONFIG', `unknown option ${flag}\n${EXPORT_USAGE}`)
    else rest.push(arg)
  }
  if (!format || !(FORMATS as readonly string[]).includes(format)) throw new AppError('BAD_CONFIG', `--format must be one of ${FORMATS.join(', ')}\n${EXPORT_USAGE}`)
  if (rest.length !== 1) throw new AppError('BAD_CONFIG', `give exactly one OUT\n${EXPORT_USAGE}`)
  return { format: format as Format, query, out: rest[0]!, configArgs }
}

interface Row {
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
  size: number
  sha256: string
  connection_id: string
  transaction_no: number
  pregreet: number
  read: number
  indexed_at: number | null
  parse_error: string | null
  subject: string | null
  from_name: string | null
  from_addr: string | null
  date_header: number | null
  message_id: string | null
  return_path: string | null
  snippet: string | null
  attachments: number | null
  kind: string | null
  tags: string | null
  rcpts: string
  raw: Buffer
  raw_codec: string | null
}

const COLUMNS = `m.*,
  (SELECT group_concat(t.name, char(31)) FROM message_tags mt JOIN tags t ON t.tag_id = mt.tag_id WHERE mt.seq = m.seq) AS tags,
  (SELECT json_group_array(json_array(rc.address, json(rc.params)) ORDER BY rc.pos) FROM recipients rc WHERE rc.seq = m.seq) AS rcpts,
  r.raw, r.codec AS raw_codec`

/** The fields of a row that the zip manifest shows, as the store's StoredMessage. */
function toStoredMessage(row: Row): StoredMessage {
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
    rcptTo: (JSON.parse(row.rcpts) as [string, Record<string, string>][]).map(([address, params]) => ({ address, params })),
    connectionId: row.connection_id,
    transaction: row.transaction_no,
    pregreet: row.pregreet === 1,
    tags: [],
  }
  return {
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
            to: [],
            cc: [],
            bcc: [],
            replyTo: [],
            date: row.date_header,
            messageId: row.message_id ?? '',
            returnPath: row.return_path ?? '',
            snippet: row.snippet ?? '',
            attachments: row.attachments ?? 0,
            kind: row.kind ?? 'message',
            auth: null,
            analysis: null,
          },
  }
}

/** A read-only connection: it never takes the write lock, so a running server is not disturbed. */
function openReadOnly(path: string): Database {
  if (path === ':memory:' || !existsSync(path)) throw new AppError('BAD_CONFIG', `--db ${path}: no such database`)
  const db = new Database(path, { readonly: true, fileMustExist: true })
  db.pragma('busy_timeout = 5000')
  // The search compiler's ip:/origin: terms call this function (src/store/database.ts registers it too).
  db.function('ip_in_cidr', { deterministic: true }, (ip: unknown, cidr: unknown) => {
    const c = typeof cidr === 'string' ? parseCidr(cidr) : null
    return c && typeof ip === 'string' && cidrContains(c, ip) ? 1 : 0
  })
  return db
}

/** Matching rows with their bytes in seq order, the order of the HTTP export. */
function* matching(db: Database, search: string): Generator<Row> {
  const f = compileSearch(search)
  const page = db.prepare<(string | number)[], { seq: number; size: number }>(
    `SELECT m.seq, m.size FROM messages m WHERE m.seq > ? AND (${f.where}) ORDER BY m.seq LIMIT ${PAGE_ROWS}`,
  )
  const read = db.prepare<[string], Row>(
    `SELECT ${COLUMNS} FROM messages m JOIN message_raw r ON r.seq = m.seq WHERE m.seq IN (SELECT value FROM json_each(?)) ORDER BY m.seq`,
  )
  // The original bytes (sizes above are of those too); the row may hold them compressed.
  const readGroup = function* (group: number[]): Generator<Row> {
    for (const row of read.all(JSON.stringify(group))) yield { ...row, raw: decodeRaw(row.raw, row.raw_codec), raw_codec: null }
  }
  let after = 0
  for (;;) {
    const seqs = page.all(after, ...f.params)
    if (seqs.length === 0) return
    let group: number[] = []
    let bytes = 0
    for (const { seq, size } of seqs) {
      if (group.length && bytes + size > GROUP_BYTES) {
        yield* readGroup(group)
        group = []
        bytes = 0
      }
      group.push(seq)
      bytes += size
    }
    yield* readGroup(group)
    after = seqs[seqs.length - 1]!.seq
  }
}

async function writeAll(stream: Writable, chunks: AsyncIterable<Buffer>): Promise<void> {
  for await (const chunk of chunks) {
    if (!stream.write(chunk) && !(await drained(stream))) throw new Error('the output closed before the export finished')
  }
}

function finished(stream: Writable, close: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.once('error', reject)
    if (close) stream.end(() => resolve())
    else resolve()
  })
}

export async function runExport(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, io: { stdout: Writable; stderr: Writable & { isTTY?: boolean } }): Promise<number> {
  const args = parseExportArgs(argv)
  const config = loadConfig(args.configArgs, env)
  const db = openReadOnly(config.dbPath)
  try {
    const f = compileSearch(args.query) // a bad search fails here, before any file is created
    const total = db.prepare<(string | number)[], number>(`SELECT count(*) FROM messages m WHERE ${f.where}`).pluck().get(...f.params) ?? 0
    const progress = createProgress(io.stderr, { verb: 'exported', total: { messages: total }, isTTY: io.stderr.isTTY === true })
    let count = 0
    let bytes = 0
    const counted = function* <T>(rows: Iterable<Row>, map: (r: Row) => T): Generator<T> {
      for (const row of rows) {
        count++
        bytes += row.raw.length
        progress.update(count, bytes)
        yield map(row)
      }
    }
    const rows = matching(db, args.query)

    if (args.format === 'mbox' || args.format === 'zip') {
      const toStdout = args.out === '-'
      const out: Writable = toStdout ? io.stdout : createWriteStream(args.out, { flags: 'wx' })
      const failed = new Promise<never>((_, reject) => out.once('error', reject))
      failed.catch(() => undefined) // observed below; keeps an early error from going unhandled
      const work = (async (): Promise<void> => {
        if (args.format === 'mbox') {
          await writeAll(out, mboxChunks(counted<MboxItem>(rows, (r) => ({ mailFrom: r.mail_from, receivedAt: r.received_at, raw: r.raw }))))
        } else {
          const zip = new ZipFile()
          const zipOut = zip.outputStream
          zipOut.pipe(out, { end: false })
          const ended = new Promise<void>((resolve) => zipOut.once('end', () => resolve()))
          await pumpZip(
            zip,
            counted<ZipEntry>(rows, (r) => ({ id: r.id, raw: r.raw, receivedAt: r.received_at, manifest: manifestEntry(toStoredMessage(r)) })),
          )
          await ended
        }
        await finished(out, !toStdout)
      })()
      await Promise.race([work, failed])
    } else {
      mkdirSync(args.out, { recursive: true })
      if (args.format === 'maildir') for (const d of ['tmp', 'new', 'cur']) mkdirSync(join(args.out, d), { recursive: true })
      for (const r of counted(rows, (x) => x)) {
        if (args.format === 'eml') {
          writeFileSync(join(args.out, `${r.id}.eml`), r.raw, { flag: 'wx' })
        } else {
          // Maildir delivery: write under tmp/, then rename into cur/ with the info suffix
          // (":2," plus S when the message was read in holdmail).
          const name = `${Math.floor(r.received_at / 1000)}.${r.id}.holdmail`
          writeFileSync(join(args.out, 'tmp', name), r.raw, { flag: 'wx' })
          renameSync(join(args.out, 'tmp', name), join(args.out, 'cur', `${name}:2,${r.read ? 'S' : ''}`))
        }
      }
    }
    progress.done()
    io.stderr.write(`holdmail export: ${count} messages (${formatBytes(bytes)}) written to ${args.out === '-' ? 'stdout' : args.out} as ${args.format}\n`)
    return 0
  } finally {
    db.close()
  }
}
