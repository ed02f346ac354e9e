// Owns the SMTP, SMTPS and LMTP listeners: accept every envelope, turn DATA into bytes plus an
// Envelope, and answer 250 only after the store has committed. Never relays, never opens an
// outbound connection, never parses MIME before the reply.
export { createSmtpListener, envelopeFromSession, type SmtpListener, type ListenerKind } from './smtp-listener.js'
export { loadTlsMaterial, type TlsMaterial } from './tls-certificate.js'
