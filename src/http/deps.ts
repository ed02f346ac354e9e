import type { Logger } from 'pino'
import type { Config } from '../config/index.js'
import type { UserWrites, MessageSummary, Page, RawMessage, StoredMessage, StoreStats, Backscatter, ListQuery, Envelope, SearchOptions } from '../store/index.js'
import type { MessageDetail } from '../mail/index.js'
import type { EventHub } from './events.js'

/**
 * The store as the HTTP thread sees it: every call is asynchronous because reads run on this
 * thread's read-only connection or in the reader pool (with a time budget), and writes go to the
 * writer thread and resolve once committed.
 */
export interface HttpStore extends UserWrites {
  readonly path: string
  get(id: string): Promise<StoredMessage | undefined>
  getRaw(id: string): Promise<Buffer | undefined>
  latestId(search?: string, opts?: SearchOptions): Promise<string | undefined>
  list(query: ListQuery): Promise<Page>
  neighbours(id: string, search?: string, opts?: SearchOptions): Promise<{ previous: string | null; next: string | null }>
  counts(): Promise<{ total: number; unread: number }>
  /** Raw bytes of all messages as received and as stored (compressed). */
  rawBytes(): Promise<{ original: number; stored: number }>
  listTags(): Promise<string[]>
  tagCounts(): Promise<Record<string, number>>
  stats(): Promise<StoreStats>
  backscatter(search: string, limit?: number, opts?: SearchOptions): Promise<Backscatter>
  dbSizeBytes(): Promise<number>
  /** Matching messages oldest first, a page at a time from the reader pool. */
  iterate(search: string, opts?: SearchOptions): AsyncGenerator<{ message: StoredMessage; raw: Buffer }>
  iterateRaw(search: string, opts?: SearchOptions): AsyncGenerator<RawMessage>
  /** Whether writes work, and why not (the database file deleted under the running process). */
  health(): Promise<{ writable: boolean; problem: string }>
  /** Stores a message (POST /api/v1/send) through the writer; resolves once committed. */
  insert(raw: Buffer, envelope: Envelope): Promise<StoredMessage>
}

/** A decoded part of a parsed message. */
export interface DetailPart {
  partId: string
  contentType: string
  filename: string | null
  content: Buffer
}

/** A message parsed for display: bodies, part lists and the decoded parts themselves. */
export type ParsedMessage = MessageDetail & { parts: Map<string, DetailPart> }

/** Parsing of stored messages for display, off the SMTP thread, cached per message. */
export interface MessageParser {
  detail(id: string): Promise<ParsedMessage>
  /** The summary of a message not indexed yet (parsed for this answer, not saved). */
  summarize(id: string): Promise<MessageSummary>
}

/** Everything the routes need, handed in by cli; routes never construct their own. */
export interface HttpDeps {
  config: Config
  store: HttpStore
  parser: MessageParser
  events: EventHub
  logger: Logger
  startedAt: number
  stats: () => { smtpAccepted: number; smtpAcceptedBytes: number; smtpRejected: number }
  /** Directory of the static web UI. */
  webRoot: string
  /** Reader-pool threads busy with a request now. */
  readersBusy?: () => number
  /** Waits (bounded) until messages committed before the call are indexed; API reads call it first. */
  settle?: () => Promise<void>
  /** Tells the SMTP thread a message was stored here (so the indexer takes it now, and the tags of its envelope are derived there). */
  stored?: (message: StoredMessage) => Promise<void>
  /** Tags the SMTP thread would give this envelope (listener tag, --routes, plus-addresses, AUTH user). */
  tagsFor?: (envelope: Envelope) => Promise<string[]>
  /** Mailpit's chaos triggers, kept by the SMTP thread; absent when chaos cannot be reached. */
  chaos?: {
    enabled: boolean
    get(): Promise<ChaosTriggersJson>
    set(triggers: Partial<ChaosTriggersJson>): Promise<ChaosTriggersJson>
  }
  /** A small JPEG of an image attachment, or null when it is not an image that can be decoded. */
  thumbnail?: (content: Buffer) => Promise<Buffer | null>
  /** Whether every listener is bound and holdmail is not stopping (GET /readyz also asks store.health()). */
  ready?: () => Promise<{ ok: boolean; reason?: string }>
}

export interface ChaosTriggerJson {
  ErrorCode: number
  Probability: number
}
export interface ChaosTriggersJson {
  Sender: ChaosTriggerJson
  Recipient: ChaosTriggerJson
  Authentication: ChaosTriggerJson
}
