import type { AuthItem, SpamItem, SummaryItem, Writes } from './writes.js'
import type { Selection } from './types.js'

// The writes other threads ask the writer for, as data, and how the writer runs them. Long ones
// (delete, prune) commit in batches and yield between them, so new mail queued behind them is
// committed in between instead of waiting for the whole delete; they give the space back as they go.

export type WriteOp =
  | { op: 'summaries'; items: SummaryItem[] }
  | { op: 'auth'; items: AuthItem[] }
  | { op: 'spam'; items: SpamItem[] }
  | { op: 'setRead'; selection: Selection; read: boolean }
  | { op: 'delete'; selection: Selection }
  | { op: 'setTags'; ids: string[]; tags: string[] }
  | { op: 'addTags'; ids: string[]; tags: string[] }
  | { op: 'renameTag'; from: string; to: string }
  | { op: 'deleteTag'; tag: string }
  | { op: 'prune'; maxMessages: number; maxAgeMs: number; now: number }
  | { op: 'requeueMissingAuth'; window: number }
  /** The writer's last file check, as a StoreProblem code (0: writable); answered without writing. */
  | { op: 'health' }

/**
 * Why the writer refuses writes until restarted, by code (a count crosses threads like any other
 * write's answer). 0: none.
 */
export const STORE_PROBLEMS: Readonly<Record<number, string>> = {
  1: 'database file was deleted or replaced; restart holdmail',
}
export const STORE_GONE = 1
/** Why new mail is refused while the disk is nearly full (writer-worker.ts roomFor); SMTP answers 452 4.3.1. */
export const LOW_DISK_SPACE = 'not enough free disk space for new mail'

/** Whether the store can take writes, and why not, from a `health` answer. */
export function storeHealth(code: number): { writable: boolean; problem: string } {
  return code === 0 ? { writable: true, problem: '' } : { writable: false, problem: STORE_PROBLEMS[code] ?? `store problem ${code}` }
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r))

/** SQLite's "database or disk is full". */
export const isDiskFull = (err: unknown): boolean => (err as { code?: unknown }).code === 'SQLITE_FULL'

/**
 * After each batch of a delete or prune, or once when it removed nothing (it may follow one that
 * ran out of space after removing messages): free pages back to the file system, then the file
 * shrinks at the checkpoint. Batch by batch, the WAL a delete needs on a full disk is that of one
 * batch, not of the whole delete. Yields between steps. On a full disk the vacuum (it moves pages
 * through the WAL) can fail with SQLITE_FULL after its batch committed: the writer then frees its
 * reserve and runs the write again, which finds the messages gone and only reclaims.
 */
async function reclaim(writes: Writes): Promise<void> {
  await turn()
  while (writes.reclaimStep() > 0) await turn()
  writes.checkpoint()
}

/** Messages a delete or prune has removed so far, kept across the writer's retries on a full disk. */
export interface WriteProgress {
  removed: number
}

/**
 * Runs one write; resolves with its count where it has one (read flags set, messages deleted).
 * `deleteBatch` makes deletes and prune commit fewer messages at a time (on a full disk, where each
 * transaction must fit in what little room there is).
 */
export async function runWrite(
  writes: Writes,
  w: WriteOp,
  opts: { deleteBatch?: number; progress?: WriteProgress } = {},
): Promise<number> {
  const limit = opts.deleteBatch
  const progress = opts.progress ?? { removed: 0 }
  switch (w.op) {
    case 'summaries':
      writes.saveSummaries(w.items)
      return w.items.length
    case 'auth':
      writes.saveAuth(w.items)
      return w.items.length
    case 'spam':
      writes.saveSpam(w.items)
      return w.items.length
    case 'setRead':
      return writes.setRead(w.selection, w.read)
    case 'delete': {
      let removed = 0
      for (let n; (n = writes.deleteBatch(w.selection, limit)) > 0; await reclaim(writes)) {
        removed += n
        progress.removed += n
      }
      if (removed === 0) await reclaim(writes)
      return progress.removed
    }
    case 'setTags':
      writes.setTags(w.ids, w.tags)
      return 0
    case 'addTags':
      writes.addTags(w.ids, w.tags)
      return 0
    case 'renameTag':
      writes.renameTag(w.from, w.to)
      return 0
    case 'deleteTag':
      writes.deleteTag(w.tag)
      return 0
    case 'prune': {
      let removed = 0
      for (let sel; (sel = writes.pruneSelection(w)); await reclaim(writes)) {
        const n = writes.deleteBatch(sel, limit)
        if (n === 0) break
        removed += n
        progress.removed += n
      }
      if (removed === 0) await reclaim(writes)
      return progress.removed
    }
    case 'requeueMissingAuth':
      return writes.requeueMissingAuth(w.window)
    case 'health':
      // In-process (':memory:'): no file to lose. The writer thread answers from its file check.
      return 0
  }
}

/** The writes the UI and API make (read flags, deletes, tags), as methods over a writer. */
export interface UserWrites {
  setRead(selection: Selection, read: boolean): Promise<number>
  delete(selection: Selection): Promise<number>
  setTags(ids: string[], tags: string[]): Promise<void>
  addTags(ids: string[], tags: string[]): Promise<void>
  renameTag(from: string, to: string): Promise<void>
  deleteTag(tag: string): Promise<void>
}

export function userWrites(write: (op: WriteOp) => Promise<number>): UserWrites {
  return {
    setRead: (selection, read) => write({ op: 'setRead', selection, read }),
    delete: (selection) => write({ op: 'delete', selection }),
    setTags: async (ids, tags) => void (await write({ op: 'setTags', ids, tags })),
    addTags: async (ids, tags) => void (await write({ op: 'addTags', ids, tags })),
    renameTag: async (from, to) => void (await write({ op: 'renameTag', from, to })),
    deleteTag: async (tag) => void (await write({ op: 'deleteTag', tag })),
  }
}
