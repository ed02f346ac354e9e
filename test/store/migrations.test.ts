import { Database } from '../../src/store/sqlite.js'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createMessageStore } from '../../src/store/index.js'
import { makeEnvelope } from '../helpers/fixtures.js'

const MIGRATIONS = join(import.meta.dirname, '../../src/store/migrations')

// A database written by an older holdmail is upgraded in place when a newer one opens it.
describe('schema upgrades', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'holdmail-migrate-'))
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  it('keeps the message counts right across the move from an insert trigger to counting in the writer (003)', async () => {
    const path = join(dir, 'old.db')
    // Schema version 2, as holdmail before migration 003 left it, with three rows its trigger counted.
    const old = new Database(path)
    old.pragma('journal_mode = WAL')
    for (const file of ['001-initial.sql', '002-search-index.sql']) old.exec(readFileSync(join(MIGRATIONS, file), 'utf8'))
    old.pragma('user_version = 2')
    const ins = old.prepare(`INSERT INTO messages (id, received_at, listener, client_ip, client_port, ip_source, helo, mail_from,
      mail_from_params, rcpt_count, size, sha256, connection_id, transaction_no, read) VALUES (?, ?, 'smtp', '192.0.2.1', 25,
      'connection', 'h', 'a@example.test', '{}', 0, 1, 'x', 'c', 1, ?)`)
    ins.run('0000000aaaaaaaaaaaaa', 1, 0)
    ins.run('0000000bbbbbbbbbbbbb', 2, 1)
    ins.run('0000000ccccccccccccc', 3, 0)
    expect(old.prepare('SELECT total, unread FROM message_counts').get()).toEqual({ total: 3, unread: 2 })
    old.close()

    const store = createMessageStore(path) // file database: the writer thread inserts
    try {
      expect(store.counts()).toEqual({ total: 3, unread: 2 })
      await Promise.all([store.insert(Buffer.from('Subject: a\r\n\r\na\r\n'), makeEnvelope()), store.insert(Buffer.from('Subject: b\r\n\r\nb\r\n'), makeEnvelope())])
      expect(store.counts()).toEqual({ total: 5, unread: 4 })
      await store.delete({ ids: ['0000000bbbbbbbbbbbbb'] })
      expect(store.counts()).toEqual({ total: 4, unread: 4 })
      const triggers = new Database(path, { readonly: true })
      const names = triggers.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name").pluck().all()
      triggers.close()
      expect(names).not.toContain('message_counts_insert')
      expect(names).toContain('message_counts_delete')
    } finally {
      await store.close()
    }
  })
})
