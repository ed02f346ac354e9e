import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

// After a burst, V8 keeps the heap it grew to: with a multi-GiB heap limit it lets garbage pile up
// to well over 100 MiB before a full collection, and that stays in RSS while the server idles. A
// full collection once a backlog of mail has been indexed gives it back. The collector is exposed
// at run time (V8's --expose-gc, read when a new context is created), so no start-up flag is needed.

const BACKLOG_MESSAGES = 1000
let collect: (() => void) | null | undefined

function collector(): (() => void) | null {
  if (collect === undefined) {
    try {
      setFlagsFromString('--expose-gc')
      collect = runInNewContext('gc') as () => void
    } catch {
      collect = null
    }
  }
  return collect
}

/** Counts indexed messages; once a drained backlog held at least 1000 of them, collects garbage. */
export function createMemoryReleaser(): { indexed(n: number): void; drained(): boolean } {
  let since = 0
  return {
    indexed(n) {
      since += n
    },
    drained() {
      if (since < BACKLOG_MESSAGES) return false
      since = 0
      const gc = collector()
      gc?.()
      return gc !== null
    },
  }
}
