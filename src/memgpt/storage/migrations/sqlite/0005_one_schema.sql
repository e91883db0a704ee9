-- memgpt SQLite schema, version 5: the same column names as PostgreSQL's (memgpt.storage.schema), so that
-- both engines run the same statements; embed_seq numbered from a counter instead of max(embed_seq).
ALTER TABLE agents RENAME COLUMN blocks_json TO blocks;
ALTER TABLE agents RENAME COLUMN fifo_json TO fifo_ids;
ALTER TABLE agents RENAME COLUMN settings_json TO settings;
ALTER TABLE messages RENAME COLUMN rowid TO seq;
ALTER TABLE messages RENAME COLUMN tool_calls_json TO tool_calls;
ALTER TABLE messages RENAME COLUMN metadata_json TO metadata;
ALTER TABLE passages RENAME COLUMN rowid TO seq;
ALTER TABLE passages RENAME COLUMN metadata_json TO metadata;
ALTER TABLE sources RENAME COLUMN metadata_json TO metadata;
ALTER TABLE source_files RENAME COLUMN metadata_json TO metadata;
ALTER TABLE source_passages RENAME COLUMN rowid TO seq;
ALTER TABLE source_passages RENAME COLUMN metadata_json TO metadata;

-- The last embed_seq handed out per table: a written embedding takes the next number (one indexed update,
-- where max(embed_seq) read a whole index at every write).
CREATE TABLE embed_counter (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO embed_counter (name, value) SELECT 'messages', coalesce(max(embed_seq), 0) FROM messages;
INSERT INTO embed_counter (name, value) SELECT 'passages', coalesce(max(embed_seq), 0) FROM passages;
INSERT INTO embed_counter (name, value) SELECT 'source_passages', coalesce(max(embed_seq), 0) FROM source_passages;
