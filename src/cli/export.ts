import { createWriteStream, existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Writable } from 'node:stream'
import { ZipFile } from 'yazl'
import { loadConfig } from '../config/index.js'
import { AppError } from '../errors.js'
import { manifestEntry } from '../http/routes/export.js'
import { drained, mboxChunks, pumpZip, type MboxItem, type ZipEntry } from '../mail/export-formats.js'
import { compileSearch, createReader, openDatabase, type StoredMessage } from '../store/index.js'
import type { Database } from '../store/sqlite.js'

type Item = { message: StoredMessage; raw: Buffer }
import { createProgress, formatBytes } from './progress.js'

// `holdmail export --format mbox|maildir|eml|zip [--query Q] OUT`: the messages of a search, read
// through a read-only connection (safe beside a running server), written with the same formatting
// code as the HTTP export, so an mbox is byte for byte what GET /api/v1/export returns.

export const EXPORT_USAGE = `usage: holdmail export --format mbox|maildir|eml|zip [--query SEARCH] [--db PATH] OUT
  OUT: a file for mbox and zip ("-" writes to stdout), a folder for maildir and eml`

const FORMATS = ['mbox', 'maildir', 'eml', 'zip'] as const
type Format = (typeof FORMATS)[number]

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

/** A read-only connection: it never takes the write lock, so a running server is not disturbed. */
function openReadOnly(path: string): Database {
  if (path === ':memory:' || !existsSync(path)) throw new AppError('BAD_CONFIG', `--db ${path}: no such database`)
  return openDatabase(path, { migrate: false, readonly: true })
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
    const counted = function* <T>(rows: Iterable<Item>, map: (r: Item) => T): Generator<T> {
      for (const row of rows) {
        count++
        bytes += row.raw.length
        progress.update(count, bytes)
        yield map(row)
      }
    }
    // The store's own export iteration: seq order (the HTTP export's), pages of bounded bytes, the
    // original bytes of compressed rows.
    const rows = createReader(db, config.dbPath).iterate(args.query)

    if (args.format === 'mbox' || args.format === 'zip') {
      const toStdout = args.out === '-'
      const out: Writable = toStdout ? io.stdout : createWriteStream(args.out, { flags: 'wx' })
      const failed = new Promise<never>((_, reject) => out.once('error', reject))
      failed.catch(() => undefined) // observed below; keeps an early error from going unhandled
      const work = (async (): Promise<void> => {
        if (args.format === 'mbox') {
          await writeAll(out, mboxChunks(counted<MboxItem>(rows, (r) => ({ mailFrom: r.message.envelope.mailFrom, receivedAt: r.message.envelope.receivedAt, raw: r.raw }))))
        } else {
          const zip = new ZipFile()
          const zipOut = zip.outputStream
          zipOut.pipe(out, { end: false })
          const ended = new Promise<void>((resolve) => zipOut.once('end', () => resolve()))
          await pumpZip(
            zip,
            counted<ZipEntry>(rows, (r) => ({ id: r.message.id, raw: r.raw, receivedAt: r.message.envelope.receivedAt, manifest: manifestEntry(r.message) })),
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
          writeFileSync(join(args.out, `${r.message.id}.eml`), r.raw, { flag: 'wx' })
        } else {
          // Maildir delivery: write under tmp/, then rename into cur/ with the info suffix
          // (":2," plus S when the message was read in holdmail).
          const name = `${Math.floor(r.message.envelope.receivedAt / 1000)}.${r.message.id}.holdmail`
          writeFileSync(join(args.out, 'tmp', name), r.raw, { flag: 'wx' })
          renameSync(join(args.out, 'tmp', name), join(args.out, 'cur', `${name}:2,${r.message.read ? 'S' : ''}`))
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
