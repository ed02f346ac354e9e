import type { Logger } from 'pino'

// Mailpit's webhook (--webhook-url): each stored message's summary JSON is POSTed to the URL the
// user gave. This is the one outbound connection holdmail makes, and it carries only that JSON,
// never mail. It runs in the HTTP thread, fed by "indexed" events after commit, so nothing on the
// accept path waits for it: a slow or dead receiver only fills this queue, which is bounded (new
// payloads are dropped and counted when it is full). One request at a time, at most
// `ratePerSecond` starts a second, each with a timeout; a failure (network error, timeout, any
// status but 2xx) is retried with exponential backoff, then given up and logged.

export interface WebhookOptions {
  url: string
  logger: Logger
  /** Payloads waiting at most; past it new ones are dropped. */
  queueMax?: number
  /** Retries after the first attempt. */
  retries?: number
  /** Wait before the first retry; doubled for each next one. */
  backoffMs?: number
  ratePerSecond?: number
  /** One request's deadline (connect to response end). */
  timeoutMs?: number
}

export interface Webhook {
  /** Queues one message's summary; a message already posted (or queued) is not posted again. */
  push(id: string, payload: unknown): void
  /**
   * Whether push(id) would queue a summary now. When the queue is full the message counts as
   * dropped here, so that the caller does not read and serialise a message only to drop it.
   */
  wants(id: string): boolean
  /** Stops after the request in flight (pending payloads are dropped). */
  close(): Promise<void>
  stats(): { queued: number; sent: number; failed: number; dropped: number }
}

const DEFAULTS = { queueMax: 10_000, retries: 3, backoffMs: 1000, ratePerSecond: 5, timeoutMs: 10_000 }
// IDs remembered so that a message indexed twice (summary, then authentication results) is posted once.
const SEEN_IDS_MAX = 20_000

export function createWebhook(options: WebhookOptions): Webhook {
  const o = { ...DEFAULTS, ...options }
  const { logger } = o
  const queue: { id: string; body: string }[] = []
  const seen = new Set<string>()
  const counts = { sent: 0, failed: 0, dropped: 0 }
  let running: Promise<void> | null = null
  let closed = false
  let lastStart = 0
  const stop = new AbortController()

  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      if (ms <= 0 || stop.signal.aborted) return resolve()
      const t = setTimeout(resolve, ms)
      stop.signal.addEventListener('abort', () => {
        clearTimeout(t)
        resolve()
      }, { once: true })
    })

  async function post(body: string): Promise<string | null> {
    // Rate limit: starts at least 1000/ratePerSecond ms apart.
    await sleep(lastStart + 1000 / o.ratePerSecond - Date.now())
    lastStart = Date.now()
    try {
      const res = await fetch(o.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'holdmail-webhook' },
        body,
        redirect: 'manual', // only the URL the user gave
        signal: AbortSignal.any([stop.signal, AbortSignal.timeout(o.timeoutMs)]),
      })
      await res.body?.cancel()
      return res.status >= 200 && res.status < 300 ? null : `HTTP ${res.status}`
    } catch (err) {
      return (err as Error).message
    }
  }

  async function drain(): Promise<void> {
    for (let item; !closed && (item = queue.shift()); ) {
      let error: string | null = null
      for (let attempt = 0; attempt <= o.retries && !closed; attempt++) {
        if (attempt > 0) await sleep(o.backoffMs * 2 ** (attempt - 1))
        error = await post(item.body)
        if (error === null) break
      }
      if (error === null) counts.sent++
      else if (!closed) {
        counts.failed++
        logger.warn({ id: item.id, url: o.url, error }, 'webhook failed; this message is not posted again')
      }
    }
  }

  const remember = (id: string): void => {
    seen.add(id)
    if (seen.size > SEEN_IDS_MAX) seen.delete(seen.values().next().value!)
  }

  const wants = (id: string): boolean => {
    if (closed || seen.has(id)) return false
    if (queue.length < o.queueMax) return true
    remember(id)
    counts.dropped++
    if (counts.dropped === 1 || counts.dropped % 1000 === 0) logger.warn({ dropped: counts.dropped, url: o.url }, 'webhook queue full; summaries dropped')
    return false
  }

  return {
    wants,
    push(id, payload) {
      if (!wants(id)) return
      remember(id)
      queue.push({ id, body: JSON.stringify(payload) })
      const start = (): void => {
        running ??= drain().finally(() => {
          running = null
          if (queue.length > 0 && !closed) start()
        })
      }
      start()
    },
    async close() {
      closed = true
      stop.abort()
      queue.length = 0
      await running
    },
    stats: () => ({ queued: queue.length, ...counts }),
  }
}
