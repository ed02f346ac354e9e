-- Substring search for free words (Mailpit matches "ebra" in "zebra" and "report.pdf" in an
-- attachment's name): a trigram index over the subject, every address (From, To, Cc, Bcc,
-- Reply-To), the attachments' file names and the first 64 KiB of the text, as the word index
-- keeps. rowid = messages.seq. Filled by the writer with each summary (writes.ts saveSummaries).
-- case_sensitive 0 folds case and remove_diacritics 1 folds accents ("resume" finds "Résumé"),
-- as the word index does; a MATCH of a 3+ character string is an exact
-- substring match of the indexed text (consecutive trigrams), so no recheck is needed.
CREATE VIRTUAL TABLE messages_substring_fts USING fts5 (
  subject, addresses, names, body,
  content = '',
  contentless_delete = 1,
  tokenize = 'trigram case_sensitive 0 remove_diacritics 1'
);

-- Messages indexed before this migration: their text is not stored, so they get what the row
-- keeps (subject, From/To/Cc and the snippet); a new summary for them replaces this row.
INSERT INTO messages_substring_fts (rowid, subject, addresses, names, body)
  SELECT seq, subject, trim(coalesce(from_search, '') || ' ' || coalesce(to_search, '')), '', coalesce(snippet, '')
  FROM messages WHERE indexed_at IS NOT NULL;

CREATE TRIGGER messages_substring_fts_delete AFTER DELETE ON messages
BEGIN
  DELETE FROM messages_substring_fts WHERE rowid = old.seq;
END;

-- Parts shown inline in the HTML (a Content-ID in multipart/related, or disposition inline), for
-- has:inline. A constant default rewrites no rows.
ALTER TABLE messages ADD COLUMN inline_parts INTEGER NOT NULL DEFAULT 0;
