import { existsSync } from 'node:fs'
import type { Writable } from 'node:stream'
import { loadConfig } from '../config/index.js'
import { AppError } from '../errors.js'
import { compactRaw, openDatabase } from '../store/index.js'
import type { Database } from '../store/sqlite.js'
import { createProgress, formatBytes } from './progress.js'

// `holdmail compact [--db PATH] [--compression 0..3]`: stores every raw message the way the given
// --compression level would (src/store/compact.ts), beside a running server or not, and shrinks the
// file afterwards. Rows already in that form are left alone, so a second run rewrites nothing.

export const COMPACT_USAGE = `usage: holdmail compact [--db PATH] [--compression 0..3]
  rewrites stored raw messages at the --compression level (default 1; 0 stores them as received), byte-exact`

export function parseCompactArgs(argv: readonly string[]): string[] {
  const configArgs: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    const eq = arg.indexOf('=')
    const [flag, inline] = arg.startsWith('--') && eq > 0 ? [arg.slice(0, eq), arg.slice(eq + 1)] : [arg, undefined]
    if (flag !== '--db' && flag !== '--compression') throw new AppError('BAD_CONFIG', `unknown argument ${arg}\n${COMPACT_USAGE}`)
    const v = inline ?? argv[++i]
    if (v === undefined || v === '') throw new AppError('BAD_CONFIG', `${flag} needs a value\n${COMPACT_USAGE}`)
    configArgs.push(flag, v)
  }
  return configArgs
}

/**
 * The database to compact: it must exist (compact never creates an empty one) and be holdmail's; it
 * is checked read-only first, so that another SQLite file is never given holdmail's tables.
 */
function openExisting(path: string): Database {
  if (path === ':memory:' || !existsSync(path)) throw new AppError('BAD_CONFIG', `--db ${path}: no such database`)
  try {
    const probe = openDatabase(path, { migrate: false, readonly: true })
    try {
      const found = probe.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'message_raw'").get()
      if (!found) throw new AppError('BAD_CONFIG', 'not a holdmail database (no message_raw table)')
    } finally {
      probe.close()
    }
    // Migrations as at a server's start: a database from before 007 gets its codec column here.
    return openDatabase(path, { migrate: true })
  } catch (err) {
    const why = err instanceof AppError ? err.message : `not a holdmail database (${(err as Error).message})`
    throw new AppError('BAD_CONFIG', `--db ${path}: ${why}`, { cause: err })
  }
}

export async function runCompact(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, io: { stdout: Writable; stderr: Writable & { isTTY?: boolean } }): Promise<number> {
  const config = loadConfig(parseCompactArgs(argv), env)
  const db = openExisting(config.dbPath)
  try {
    const total = db.prepare<[], { total: number }>('SELECT total FROM message_counts WHERE id = 1').get()?.total ?? 0
    const progress = createProgress(io.stderr, { verb: 'checked', total: { messages: total }, isTTY: io.stderr.isTTY === true })
    const result = await compactRaw(db, { compression: config.compression, onProgress: (p) => progress.update(p.checked, p.bytes) })
    progress.done()
    for (const d of result.damaged) io.stderr.write(`holdmail compact: message seq ${d.seq} left as stored: ${d.why}\n`)
    const file = result.shrinkable
      ? `database file ${formatBytes(result.fileBefore)} -> ${formatBytes(result.fileAfter)}`
      : 'the database file keeps its size (no incremental auto-vacuum: freed pages are reused by new mail)'
    io.stdout.write(
      `holdmail compact: ${result.rewritten} of ${result.checked} messages rewritten at --compression ${config.compression}; ` +
        `raw bytes stored ${formatBytes(result.storedBefore)} -> ${formatBytes(result.storedAfter)} (${formatBytes(result.original)} as received); ${file}\n`,
    )
    return result.damaged.length ? 1 : 0
  } finally {
    db.close()
  }
}
