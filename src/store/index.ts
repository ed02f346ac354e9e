// Owns the SQLite database: migrations, the writer (the only connection that writes), readers, the
// index queue, reports and the search compiler; the only place with SQL. Must not import
// smtp-server, Fastify or mailparser: callers hand it bytes and summaries.
export { createMessageStore, type MessageStore } from './message-store.js'
export { openDatabase } from './database.js'
export { newMessageId } from './ids.js'
export { createReader, type Reader, type RawMessage } from './reader.js'
export { createReports, type Reports, type StoreStats, type Backscatter, type BackscatterGroup, type Counted } from './reports.js'
export { createIndexQueue, type IndexQueue, type QueuedMessage } from './index-queue.js'
export { createPortWriter, type Writer } from './writer.js'
export { LOW_DISK_SPACE, storeHealth, userWrites, type WriteOp, type UserWrites } from './write-ops.js'
export type { SummaryItem, AuthItem, SpamItem, InsertRequest } from './writes.js'
export { compactRaw, type CompactProgress, type CompactResult } from './compact.js'
export { compileSearch, tokenize, type SearchOptions } from './search-query.js'
export type * from './types.js'
