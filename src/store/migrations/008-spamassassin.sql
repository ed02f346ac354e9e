-- SpamAssassin results (--spamd, src/mail/spamd.ts), filled after commit by the spam checker:
-- the score, the verdict against spamd's threshold (1 spam, 0 not), and the whole result as JSON
-- (threshold, rule hits with scores and descriptions, or the error). NULL until checked.
ALTER TABLE messages ADD COLUMN spam_score REAL;
ALTER TABLE messages ADD COLUMN spam_flag INTEGER;
ALTER TABLE messages ADD COLUMN spam_json TEXT;
-- score:>5 reads a range of this index; is:spam the partial one.
CREATE INDEX messages_spam_score ON messages (spam_score) WHERE spam_score IS NOT NULL;
CREATE INDEX messages_spam ON messages (seq) WHERE spam_flag = 1;
-- Where the spam checker resumes after a restart: the newest message it has an answer for.
CREATE INDEX messages_spam_checked ON messages (seq) WHERE spam_json IS NOT NULL;
