// Owns the Fastify app: the Mailpit-compatible JSON API, exports, events and the static web UI.
// Uses store and mail through the interfaces in deps.ts; never imports smtp (cli passes callbacks in).
export { buildHttpApp } from './app.js'
export { DEFAULT_HTTP_LIMITS, type HttpLimits } from './security.js'
export { createEventHub, type EventHub, type StoreEvent } from './events.js'
export { listItemJson } from './message-json.js'
export type { HttpDeps, HttpStore, MessageParser, ParsedMessage, DetailPart, ChaosTriggersJson } from './deps.js'
