-- The accept path's writer adds its own inserts to message_counts, once per transaction
-- (writes.ts), instead of a trigger firing per row; deletes and read changes keep their triggers.
-- messages_search_fts_insert only fired for rows inserted with from_search/to_search set, and no
-- insert sets them: the indexer fills them through an UPDATE, which its own trigger covers.
DROP TRIGGER message_counts_insert;
DROP TRIGGER messages_search_fts_insert;
