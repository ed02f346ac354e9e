// Owns the SMTP, SMTPS and LMTP listeners: accept every envelope, turn DATA into bytes plus an
// Envelope, and answer 250 only after the store has committed. Never relays, never opens an
// outbound connection, never parses MIME before the reply.
export {
  createSmtpListener,
  envelopeFromSession,
  DEFAULT_DATA_TIMEOUT_MS,
  DEFAULT_IDLE_TIMEOUT_MS,
  type SmtpListener,
  type ListenerKind,
} from './smtp-listener.js'
export type { RejectReason } from './capture-server.js'
export {
  createSmtpLimits,
  readFdLimit,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_CONNECTIONS_PER_IP,
  DEFAULT_MAX_DATA_MEMORY_BYTES,
  type SmtpLimits,
} from './smtp-limits.js'
export { createSmtpChaos, type SmtpChaos, type ChaosTrigger, type ChaosTriggers } from './smtp-chaos.js'
export { sharedListenerOptions, type SharedListenerOptions } from './shared-options.js'
export { loadTlsMaterial, type TlsMaterial } from './tls-certificate.js'
