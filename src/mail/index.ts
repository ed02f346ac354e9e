// Owns everything derived from message bytes: header reading, mailparser summaries and full parses,
// and the indexer that runs them after commit. Must not import smtp-server or Fastify, and never
// changes the stored bytes.
export { summarize, parseMail, toAddresses, snippetOf, emptySummary } from './summary.js'
export { readHeaders, headerEnd, type HeaderLine } from './headers.js'
export { clientFromReceived } from './analysis/received.js'
export { createIndexer, type Indexer, type Analyser } from './indexer.js'
export { createThreadIndexer, type ThreadIndexerOptions } from './index-thread.js'
export { parseDetail, type MessageDetail, type PartInfo } from './message-detail.js'
