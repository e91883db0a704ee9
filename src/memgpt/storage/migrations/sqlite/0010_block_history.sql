-- memgpt SQLite schema, version 10: the edit history of core-memory blocks, with what made each change.
CREATE TABLE block_history (
    id           TEXT PRIMARY KEY,
    block_id     TEXT NOT NULL REFERENCES blocks (id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL,
    version      INTEGER NOT NULL,
    label        TEXT NOT NULL,
    old_value    TEXT NOT NULL,
    new_value    TEXT NOT NULL,
    cause        TEXT NOT NULL CHECK (cause IN ('agent', 'user', 'revert', 'forget', 'import', 'repair')),
    agent_id     TEXT,
    tool_call_id TEXT,
    message_id   TEXT,
    detail       TEXT,
    created_at   REAL NOT NULL,
    UNIQUE (block_id, version)
);
CREATE INDEX block_history_user ON block_history (user_id);
