-- Compressed storage (--compression, src/store/raw-codec.ts). message_raw.codec names the codec of
-- each blob; NULL means stored as received, which is what every existing row keeps: ADD COLUMN with
-- no default rewrites no rows, so this is instant on a large store and old rows read unchanged.
ALTER TABLE message_raw ADD COLUMN codec TEXT;
-- Bytes the blob takes in message_raw; NULL when stored as received (then it is `size`).
ALTER TABLE messages ADD COLUMN stored_size INTEGER;

-- Original and stored raw bytes of the whole store for /api/v1/info (RawBytes), kept like the
-- message counts: the writer adds its inserts once per transaction, the delete trigger subtracts.
ALTER TABLE message_counts ADD COLUMN raw_original INTEGER NOT NULL DEFAULT 0;
ALTER TABLE message_counts ADD COLUMN raw_stored INTEGER NOT NULL DEFAULT 0;
UPDATE message_counts SET raw_original = t.bytes, raw_stored = t.bytes
  FROM (SELECT coalesce(sum(size), 0) AS bytes FROM messages) AS t WHERE id = 1;

DROP TRIGGER message_counts_delete;
CREATE TRIGGER message_counts_delete AFTER DELETE ON messages
BEGIN
  UPDATE message_counts SET total = total - 1, unread = unread - (old.read = 0),
    raw_original = raw_original - old.size, raw_stored = raw_stored - coalesce(old.stored_size, old.size)
  WHERE id = 1;
END;
