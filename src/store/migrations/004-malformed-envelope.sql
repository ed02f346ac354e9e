-- 1 when MAIL FROM or a RCPT TO argument was not a valid path (RFC 5321 §4.1.2) and was kept as the
-- client wrote it (`<@example.net>`, `<user@.example>`, no angle brackets); found with is:malformed.
-- ADD COLUMN with a constant default rewrites no rows, so this is instant on a large store.
ALTER TABLE messages ADD COLUMN malformed INTEGER NOT NULL DEFAULT 0;
CREATE INDEX messages_malformed ON messages (seq) WHERE malformed = 1;
