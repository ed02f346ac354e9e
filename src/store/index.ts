// Owns the SQLite database: migrations, the message store and the search compiler; the only place
// with SQL. Must not import smtp-server, Fastify or mailparser: callers hand it bytes and summaries.
export { createMessageStore, newMessageId, type MessageStore, type RawMessage, type StoreStats, type Backscatter, type BackscatterGroup, type Counted } from './message-store.js'
export { compileSearch, tokenize } from './search-query.js'
export type * from './types.js'
