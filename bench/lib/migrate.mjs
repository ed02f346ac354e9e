// Migration 006 (the substring search's trigram index) on a seeded store: how long a store that
// holdmail indexed before 006 takes to upgrade, since 006 backfills one trigram row per message.
//
// A copy of the seeded database is put back to its state before 006: the trigram table and its
// delete trigger dropped, the inline_parts column dropped (006 adds it again; DROP COLUMN rewrites
// the messages table, so this costs more than the ADD COLUMN it undoes), free pages given back to
// the file system (a store that never had the index has none to reuse) and user_version 4, the
// last migration before 006. Migrations 007 and 008 stay applied: they touch other columns and
// tables, and undoing 007 would rewrite every raw message (DROP COLUMN message_raw.codec).
//
// The upgrade itself runs holdmail's own code, openDatabase from dist with `migrate`, as the main
// thread does at start-up, from a copy of dist whose migrations directory stops at 006: so only
// 006 runs (database.ts finds the migrations next to itself). The timing covers opening, the
// migration's transaction (the backfill's pages go to the WAL, and the commit's automatic
// checkpoint copies them into the database) and closing.
import { Database } from '../../dist/store/sqlite.js'
import { copyFileSync, cpSync, readdirSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { pathToFileURL } from 'node:url'

const MIGRATION = 6
const VERSION_BEFORE = 4 // the highest migration below 006 (there is no 005)

const removeDb = (path) => {
  for (const s of ['', '-wal', '-shm', '-journal', '-reserve']) rmSync(path + s, { force: true })
}

/**
 * Copies `seedPath` into `workDir`, reverts 006 on the copy, then times holdmail's migration.
 * Returns { rows, seconds, rowsPerSec, setupSeconds, bytesBefore, bytesAfter }; deletes the copies.
 */
export async function benchMigration006({ seedPath, distDir, workDir, log }) {
  const dbPath = join(workDir, 'migrate-006.db')
  const dist = join(workDir, 'dist')
  try {
    const t0 = performance.now()
    removeDb(dbPath)
    // Whatever a server run left in the seed's WAL goes into the file first: only the file is copied.
    const seed = new Database(seedPath, { fileMustExist: true })
    seed.pragma('wal_checkpoint(TRUNCATE)')
    seed.close()
    copyFileSync(seedPath, dbPath)
    log(`migrate: copied ${(statSync(dbPath).size / 1e6).toFixed(0)} MB in ${((performance.now() - t0) / 1000).toFixed(1)} s`)

    const db = new Database(dbPath)
    db.pragma('journal_mode = WAL')
    const version = db.pragma('user_version', { simple: true })
    if (version < MIGRATION) throw new Error(`migrate: the seed is at user_version ${version}, before migration 006`)
    db.exec(`DROP TRIGGER messages_substring_fts_delete;
      DROP TABLE messages_substring_fts;
      ALTER TABLE messages DROP COLUMN inline_parts;`)
    db.pragma('incremental_vacuum') // auto_vacuum is INCREMENTAL in a holdmail store: frees every free page
    db.pragma(`user_version = ${VERSION_BEFORE}`)
    const rows = db.prepare('SELECT count(*) FROM messages WHERE indexed_at IS NOT NULL').pluck().get()
    db.pragma('wal_checkpoint(TRUNCATE)')
    db.close()
    const bytesBefore = statSync(dbPath).size
    const setupSeconds = (performance.now() - t0) / 1000
    log(`migrate: reverted to user_version ${VERSION_BEFORE} in ${setupSeconds.toFixed(1)} s total (${(bytesBefore / 1e6).toFixed(0)} MB, ${rows} indexed rows)`)

    // holdmail's dist with migrations up to 006 only
    cpSync(distDir, dist, { recursive: true })
    const migrations = join(dist, 'store', 'migrations')
    for (const f of readdirSync(migrations)) if (parseInt(f, 10) > MIGRATION) rmSync(join(migrations, f))
    const { openDatabase } = await import(pathToFileURL(join(dist, 'store', 'database.js')).href)

    const t1 = performance.now()
    const migrated = openDatabase(dbPath, { migrate: true })
    migrated.close()
    const seconds = (performance.now() - t1) / 1000

    const check = new Database(dbPath, { readonly: true })
    const after = check.pragma('user_version', { simple: true })
    const indexed = check.prepare('SELECT count(*) FROM messages_substring_fts').pluck().get()
    check.close()
    if (after !== MIGRATION) throw new Error(`migrate: user_version is ${after} after the migration, expected ${MIGRATION}`)
    // A contentless table counts its rows from its own index: every indexed message got one.
    if (indexed !== rows) throw new Error(`migrate: ${indexed} rows in messages_substring_fts, expected ${rows}`)
    const bytesAfter = statSync(dbPath).size
    log(`migrate: 006 on ${rows} rows in ${seconds.toFixed(2)} s = ${(rows / seconds).toFixed(0)} rows/s; file ${(bytesBefore / 1e6).toFixed(0)} -> ${(bytesAfter / 1e6).toFixed(0)} MB`)
    return { rows, seconds, rowsPerSec: rows / seconds, setupSeconds, bytesBefore, bytesAfter }
  } finally {
    removeDb(dbPath)
    rmSync(dist, { recursive: true, force: true })
  }
}
