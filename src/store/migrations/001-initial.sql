-- Envelope and summary of each message. seq (the rowid) is the internal key and the insertion
-- order; id is the random public ID. Summary columns stay NULL until the indexer has run.
CREATE TABLE messages (
  seq             INTEGER PRIMARY KEY,
  id              TEXT NOT NULL UNIQUE,
  received_at     INTEGER NOT NULL,          -- epoch ms
  listener        TEXT NOT NULL,             -- smtp | smtps | lmtp | cli
  client_ip       TEXT NOT NULL,
  client_ip4      INTEGER,                   -- IPv4 as a number, for CIDR range search
  client_port     INTEGER NOT NULL,
  ip_source       TEXT NOT NULL,             -- connection | xclient | xforward | received
  relay_ip        TEXT,
  relay_port      INTEGER,
  helo            TEXT NOT NULL,
  client_hostname TEXT,
  tls_protocol    TEXT,
  tls_cipher      TEXT,
  auth_user       TEXT,
  mail_from       TEXT NOT NULL,             -- '' for the null sender <>
  mail_from_params TEXT NOT NULL,            -- JSON object
  rcpt_count      INTEGER NOT NULL,
  size            INTEGER NOT NULL,
  sha256          TEXT NOT NULL,
  connection_id   TEXT NOT NULL,
  transaction_no  INTEGER NOT NULL,
  pregreet        INTEGER NOT NULL DEFAULT 0,
  read            INTEGER NOT NULL DEFAULT 0,
  -- filled after commit by the indexer
  indexed_at      INTEGER,
  parse_error     TEXT,
  subject         TEXT,
  from_name       TEXT,
  from_addr       TEXT,
  from_search     TEXT,                      -- lower-case name + address, for from:
  to_search       TEXT,                      -- lower-case To + Cc, for to:
  addresses_json  TEXT,                      -- {To, Cc, Bcc, ReplyTo} as Mailpit address lists
  date_header     INTEGER,                   -- Date: as epoch ms, when it parses
  message_id      TEXT,
  return_path     TEXT,
  snippet         TEXT,
  attachments     INTEGER,
  kind            TEXT,                      -- message | bounce | arf | autoreply
  auth_json       TEXT,
  analysis_json   TEXT
);
CREATE INDEX messages_received ON messages (received_at);
CREATE INDEX messages_unindexed ON messages (seq) WHERE indexed_at IS NULL;
CREATE INDEX messages_unread ON messages (read) WHERE read = 0;
CREATE INDEX messages_client_ip4 ON messages (client_ip4);
CREATE INDEX messages_client_ip ON messages (client_ip);
CREATE INDEX messages_message_id ON messages (message_id);

-- Raw bytes in their own table so that list queries never read a blob page.
CREATE TABLE message_raw (
  seq INTEGER PRIMARY KEY REFERENCES messages (seq) ON DELETE CASCADE,
  raw BLOB NOT NULL
);

CREATE TABLE recipients (
  seq     INTEGER NOT NULL REFERENCES messages (seq) ON DELETE CASCADE,
  pos     INTEGER NOT NULL,
  address TEXT NOT NULL,
  params  TEXT NOT NULL,                     -- JSON object (NOTIFY, ORCPT)
  PRIMARY KEY (seq, pos)
) WITHOUT ROWID;
CREATE INDEX recipients_address ON recipients (address);

CREATE TABLE tags (
  tag_id INTEGER PRIMARY KEY,
  name   TEXT NOT NULL UNIQUE COLLATE NOCASE
);
CREATE TABLE message_tags (
  seq    INTEGER NOT NULL REFERENCES messages (seq) ON DELETE CASCADE,
  tag_id INTEGER NOT NULL REFERENCES tags (tag_id) ON DELETE CASCADE,
  PRIMARY KEY (seq, tag_id)
) WITHOUT ROWID;
CREATE INDEX message_tags_tag ON message_tags (tag_id, seq);

-- Full-text index over subject, addresses and body text; rowid = messages.seq.
CREATE VIRTUAL TABLE messages_fts USING fts5 (
  subject, addresses, body,
  content = '',
  contentless_delete = 1,
  tokenize = 'unicode61 remove_diacritics 2'
);
