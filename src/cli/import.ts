import { createHash, randomBytes } from 'node:crypto'
import type { Writable } from 'node:stream'
import { loadConfig } from '../config/index.js'
import { AppError } from '../errors.js'
import { readHeaders } from '../mail/index.js'
import { findSources, readSource, type SourceMessage } from '../mail/mailbox-reader.js'
import { openDatabase } from '../store/database.js'
import { newMessageId, type InsertRequest } from '../store/index.js'
import type { Envelope } from '../store/index.js'
import { createThreadWriter } from '../store/writer.js'
import { createProgress, formatBytes } from './progress.js'

// `holdmail import PATH...`: existing archives (.eml, mbox, Maildir, folders of them) into the
// database a server uses, byte-exact, through a writer thread of its own, the one `serve` runs:
// this thread reads and splits the archives while the writer hashes, compresses and commits, each
// group of messages one transaction, so an interrupted import leaves whole messages only. SQLite's
// WAL and busy timeout let it run beside a server; the server's indexer finds the new rows by polling.

export const IMPORT_USAGE = `usage: holdmail import [--db PATH] [--tag TAG]... [--skip-duplicates] [--max-message-size BYTES] [--compression 0..3] PATH...
  PATH: .eml files, mbox files, Maildir folders, or folders of them`

// Messages handed to the writer and not yet committed: enough to keep it busy (it commits what has
// arrived each turn, as for SMTP), bounded so that a big archive is not read into memory at once.
const IN_FLIGHT_MESSAGES = 2000
const IN_FLIGHT_BYTES = 64 * 1024 * 1024

export interface ImportArgs {
  paths: string[]
  tags: string[]
  skipDuplicates: boolean
  configArgs: string[] // --db, --max-message-size and --compression, handed to loadConfig
}

export function parseImportArgs(argv: readonly string[]): ImportArgs {
  const out: ImportArgs = { paths: [], tags: [], skipDuplicates: false, configArgs: [] }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    const eq = arg.indexOf('=')
    const [flag, inline] = arg.startsWith('--') && eq > 0 ? [arg.slice(0, eq), arg.slice(eq + 1)] : [arg, undefined]
    const value = (): string => {
      const v = inline ?? argv[++i]
      if (v === undefined || v === '') throw new AppError('BAD_CONFIG', `${flag} needs a value\n${IMPORT_USAGE}`)
      return v
    }
    if (flag === '--db' || flag === '--max-message-size' || flag === '--compression') out.configArgs.push(flag, value())
    else if (flag === '--tag') out.tags.push(...value().split(',').map((t) => t.trim()).filter(Boolean))
    else if (flag === '--skip-duplicates') out.skipDuplicates = true
    else if (flag === '--') {
      out.paths.push(...argv.slice(i + 1))
      break
    }    else if (flag.startsWith('-') && flag !== '-') throw new AppError('BAD_CONFIG', `unknown option ${flag}\n${IMPORT_USAGE}`)
    else out.paths.push(arg)
  }
  if (out.paths.length === 0) throw new AppError('BAD_CONFIG', `nothing to import\n${IMPORT_USAGE}`)
  return out
}

/** `<addr>` or `addr` from a Return-Path or an address header; '' for the null path `<>`. */
function bareAddress(value: string): string {
  const angle = /<([^>]*)>/.exec(value)
  return (angle ? angle[1]! : value).trim()
}

/**
 * The envelope an archived message had, as far as the archive kept it: the sender from the mbox
 * "From " line, else Return-Path (which the final MTA writes from MAIL FROM, RFC 5321 §4.4); the
 * recipients from X-Original-To (Postfix's copy of RCPT TO), else Delivered-To. Missing parts stay
 * empty: holdmail never invents envelope data.
 */
export function archivedEnvelope(msg: SourceMessage): { mailFrom: string; rcptTo: string[] } {
  const headers = readHeaders(msg.raw)
  const values = (name: string): string[] => headers.filter((h) => h.name.toLowerCase() === name).map((h) => h.value)
  const fromLineSender = msg.fromLine?.split(/\s+/)[0] ?? ''
  let mailFrom: string
  if (fromLineSender) mailFrom = fromLineSender === 'MAILER-DAEMON' ? '' : fromLineSender
  else mailFrom = bareAddress(values('return-path')[0] ?? '')
  const listed = (name: string): string[] => values(name).flatMap((v) => v.split(',')).map(bareAddress).filter(Boolean)
  const original = listed('x-original-to')
  const rcptTo = [...new Set(original.length ? original : listed('delivered-to'))]
  return { mailFrom, rcptTo }
}

const duplicateKey = (sha256: string, mailFrom: string, rcptTo: readonly string[]): string => `${sha256}\n${mailFrom}\n${rcptTo.join('\n')}`

export interface ImportResult {
  stored: number
  bytes: number
  duplicates: number
  problems: { origin: string; error: string }[]
  sources: number
  ignored: string[]
}

export async function runImport(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, io: { stdout: Writable; stderr: Writable & { isTTY?: boolean } }): Promise<number> {
  const args = parseImportArgs(argv)
  const config = loadConfig(args.configArgs, env)
  if (config.dbPath === ':memory:') throw new AppError('BAD_CONFIG', 'import needs a database file (--db PATH)')

  const found = await findSources(args.paths)
  if (found.problems.length) {
    // Unreadable input is most likely a typo in a path: report every one and import nothing.
    for (const p of found.problems) io.stderr.write(`holdmail import: cannot read ${p.origin}: ${p.error}\n`)
    io.stderr.write(`holdmail import: nothing imported\n`)
    return 1
  }
  if (found.sources.length === 0) {
    io.stderr.write(`holdmail import: no .eml, mbox or Maildir messages under ${args.paths.join(', ')}\n`)
    return 1
  }

  const db = openDatabase(config.dbPath, { migrate: true })
  const writer = createThreadWriter(config.dbPath, { compression: config.compression })
  const result: ImportResult = { stored: 0, bytes: 0, duplicates: 0, problems: [], sources: found.sources.length, ignored: found.ignored }
  try {
    const seen = new Set<string>()
    if (args.skipDuplicates) {
      const existing = db.prepare<[], { sha256: string; mail_from: string; rcpts: string | null }>(
        `SELECT m.sha256, m.mail_from,
          (SELECT group_concat(address, char(10)) FROM (SELECT address FROM recipients r WHERE r.seq = m.seq ORDER BY r.pos)) AS rcpts
         FROM messages m`,
      )
      for (const row of existing.iterate()) seen.add(duplicateKey(row.sha256, row.mail_from, row.rcpts ? row.rcpts.split('\n') : []))
    }

    const totalBytes = found.sources.reduce((n, s) => n + s.bytes, 0)
    const progress = createProgress(io.stderr, { verb: 'imported', total: { bytes: totalBytes }, isTTY: io.stderr.isTTY === true })
    const connectionId = randomBytes(8).toString('hex')
    let transaction = 0
    let readBytes = 0
    // Commits come back in the order the messages were handed over; the oldest is awaited when the
    // bound is reached.
    const inFlight: { done: Promise<void>; bytes: number }[] = []
    let inFlightBytes = 0
    const settleOldest = async (): Promise<void> => {
      const oldest = inFlight.shift()!
      await oldest.done
      inFlightBytes -= oldest.bytes
    }
    const store = (req: InsertRequest, origin: string): void => {
      const bytes = req.raw.length // the buffer moves to the writer thread
      const done = writer.insert(req, true).then(
        () => {
          result.stored++
          result.bytes += bytes
          progress.update(result.stored, readBytes)
        },
        (err: unknown) => {
          const why = err instanceof Error && typeof err.cause === 'string' ? err.cause : String(err)
          result.problems.push({ origin, error: `not stored: ${why}` })
        },
      )
      inFlight.push({ done, bytes })
      inFlightBytes += bytes
    }

    for (const source of found.sources) {
      for await (const item of readSource(source, config.maxMessageBytes)) {
        if ('error' in item) {
          result.problems.push(item)
          continue
        }
        readBytes += item.raw.length
        const { mailFrom, rcptTo } = archivedEnvelope(item)
        if (args.skipDuplicates) {
          const key = duplicateKey(createHash('sha256').update(item.raw).digest('hex'), mailFrom, rcptTo)
          if (seen.has(key)) {
            result.duplicates++
            continue
          }
          seen.add(key)
        }
        const envelope: Envelope = {
          receivedAt: Date.now(),
          listener: 'import',
          clientIp: '',
          clientPort: 0,
          ipSource: 'connection',
          relayIp: null,
          relayPort: null,
          helo: '',
          clientHostname: null,
          tls: null,
          authUser: null,
          mailFrom,
          mailFromParams: {},
          rcptTo: rcptTo.map((address) => ({ address, params: {} })),
          connectionId,
          transaction: ++transaction,
          pregreet: false,
          tags: args.tags,
        }
        store({ id: newMessageId(envelope.receivedAt), raw: item.raw, env: envelope }, item.origin)
        while (inFlight.length >= IN_FLIGHT_MESSAGES || inFlightBytes >= IN_FLIGHT_BYTES) await settleOldest()
      }
    }
    while (inFlight.length) await settleOldest()
    progress.done()
  } finally {
    await writer.close()
    db.close()
  }

  for (const p of result.problems) io.stderr.write(`holdmail import: ${p.origin}: ${p.error}\n`)
  const parts = [`${result.stored} messages (${formatBytes(result.bytes)}) imported from ${result.sources} files into ${config.dbPath}`]
  if (result.duplicates) parts.push(`${result.duplicates} duplicates skipped`)
  if (result.problems.length) parts.push(`${result.problems.length} not imported (see above)`)
  if (result.ignored.length) parts.push(`${result.ignored.length} other files left alone (not .eml, mbox or Maildir)`)
  io.stdout.write(`holdmail import: ${parts.join('; ')}\n`)
  return result.problems.length ? 1 : 0
}
