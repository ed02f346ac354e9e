// Owns the plumbing every worker thread shares: spawning (TypeScript under the test runner, .js when
// built), request IDs, failing what is pending when a thread dies, and the close handshake that lets
// a thread close its statements and database before it exits. Knows nothing about what threads do.
export { spawnThread, portClient, type Thread, type SpawnOptions } from './spawn.js'
export { serveRequests, onCloseRequest, withTransfer, type Handler } from './serve.js'
export { ThreadError, type WireError } from './wire.js'
