import { Database } from './sqlite.js'
import { mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { AppError } from '../errors.js'
import { cidrContains, parseCidr } from '../config/index.js'

const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'migrations')
// 16 MiB per connection: more raised RSS with no gain on the list page, which reads an index, not
// the cache (docs/performance.md).
const CACHE_KIB = 16 * 1024
// A search has at most 100 terms; a few searches' worth of ranges stay parsed.
const MAX_CACHED_RANGES = 1000

function applyMigrations(db: Database): void {
  const files = readdirSync(MIGRATIONS_DIR)
    .filter((f) => /^\d+-.*\.sql$/.test(f))
    .sort()
  const current = db.pragma('user_version', { simple: true }) as number
  for (const file of files) {
    const version = parseInt(file, 10)
    if (version <= current) continue
    const sql = readFileSync(join(MIGRATIONS_DIR, file), 'utf8')
    db.transaction(() => {
      db.exec(sql)
      db.pragma(`user_version = ${version}`)
    })()
  }
}

// A database made before incremental auto-vacuum switches at start-up when it is at most this big:
// VACUUM rewrites the whole file (and needs that much free space again), which for a few MiB is
// quick. A bigger one keeps reusing its free pages without giving them back to the file system.
const CONVERT_MAX_BYTES = 64 * 1024 * 1024

function convertToIncremental(db: Database): void {
  if ((db.pragma('auto_vacuum', { simple: true }) as number) !== 0) return
  const bytes = (db.pragma('page_count', { simple: true }) as number) * (db.pragma('page_size', { simple: true }) as number)
  if (bytes > CONVERT_MAX_BYTES) return
  // Without waiting: another process using the database (holdmail serve while `holdmail sendmail`
  // opens it) makes VACUUM busy, and the next start tries again.
  const busy = db.pragma('busy_timeout', { simple: true }) as number
  db.pragma('busy_timeout = 0')
  try {
    db.pragma('auto_vacuum = INCREMENTAL')
    db.exec('VACUUM')
  } catch {
    // busy, or no room for the copy VACUUM writes: the database works as it is
  } finally {
    db.pragma(`busy_timeout = ${busy}`)
  }
}

/**
 * One connection with holdmail's settings; only the first opener (the main thread) migrates.
 * `cacheKiB` overrides the page cache size (the writer thread, which only appends, needs little).
 * `readonly` connections (the HTTP thread, the reader pool, the indexer) cannot write at all, so
 * the writer thread stays the only writer by construction.
 */
export function openDatabase(path: string, opts: { migrate: boolean; cacheKiB?: number; readonly?: boolean }): Database {
  if (path !== ':memory:' && !opts.readonly) mkdirSync(dirname(path), { recursive: true })
  let db: Database
  try {
    db = new Database(path, { readonly: opts.readonly === true, fileMustExist: opts.readonly === true })
  } catch (err) {
    throw new AppError('BAD_CONFIG', `cannot open database ${path}: ${(err as Error).message}`, { cause: err })
  }
  // Incremental auto-vacuum: deletes and prune give their pages back to the file system
  // (writes.ts reclaims after them), which a full disk needs. It must be chosen before the first
  // table exists; an existing database switches with one VACUUM (convertToIncremental).
  const fresh = path === ':memory:' || (db.pragma('page_count', { simple: true }) as number) === 0
  if (!opts.readonly && fresh) db.pragma('auto_vacuum = INCREMENTAL')
  if (!opts.readonly) db.pragma('journal_mode = WAL')
  // FULL: the WAL is fsynced at each commit, so a 250 survives power loss as well as a crash.
  // Group commit pays that fsync once per batch, not once per message.
  db.pragma('synchronous = FULL')
  db.pragma('foreign_keys = ON')
  db.pragma('busy_timeout = 5000')
  db.pragma(`cache_size = -${opts.cacheKiB ?? CACHE_KIB}`)
  // An ip: search calls this once per row and term with the same few ranges: parse each range once.
  const ranges = new Map<string, ReturnType<typeof parseCidr>>()
  db.function('ip_in_cidr', { deterministic: true }, (ip: unknown, cidr: unknown) => {
    if (typeof cidr !== 'string' || typeof ip !== 'string') return 0
    let c = ranges.get(cidr)
    if (c === undefined) {
      c = parseCidr(cidr)
      if (ranges.size >= MAX_CACHED_RANGES) ranges.clear()
      ranges.set(cidr, c)
    }
    return c && cidrContains(c, ip) ? 1 : 0
  })
  if (opts.migrate && !opts.readonly) {
    applyMigrations(db)
    if (!fresh) convertToIncremental(db)
  }
  return db
}
