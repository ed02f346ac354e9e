import type { AuthItem, SpamItem, SummaryItem, Writes } from './writes.js'
import type { Selection } from './types.js'

// The writes other threads ask the writer for, as data, and how the writer runs them. Long ones
// (delete, prune) commit in batches and yield between them, so new mail queued behind them is
// committed in between instead of waiting for the whole delete.

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

const turn = (): Promise<void> => new Promise((r) => setImmediate(r))

/** Runs one write; resolves with its count where it has one (read flags set, messages deleted). */
export async function runWrite(writes: Writes, w: WriteOp): Promise<number> {
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
      for (let n; (n = writes.deleteBatch(w.selection)) > 0; await turn()) removed += n
      return removed
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
      for (let sel; (sel = writes.pruneSelection(w)); await turn()) {
        const n = writes.deleteBatch(sel)
        if (n === 0) break
        removed += n
      }
      return removed
    }
    case 'requeueMissingAuth':
      return writes.requeueMissingAuth(w.window)
  }
}
