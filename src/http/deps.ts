import type { Logger } from 'pino'
import type { Config } from '../config/index.js'
import type { MessageStore } from '../store/index.js'
import type { EventHub } from './events.js'

/** Everything the routes need, handed in by cli; routes never construct their own. */
export interface HttpDeps {
  config: Config
  store: MessageStore
  events: EventHub
  logger: Logger
  startedAt: number
  stats: { smtpAccepted: number; smtpAcceptedBytes: number; smtpRejected: number }
  /** Directory of the static web UI. */
  webRoot: string
  /** Waits (bounded) until messages committed before the call are indexed; API reads call it first. */
  settle?: () => Promise<void>
}
