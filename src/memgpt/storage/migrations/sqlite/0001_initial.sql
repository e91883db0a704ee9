-- memgpt SQLite schema, version 1.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE agents (
    id                    TEXT PRIMARY KEY,
    user_id               TEXT NOT NULL,
    name                  TEXT NOT NULL,
    model                 TEXT NOT NULL,
    context_window        INTEGER NOT NULL,
    system_prompt_version TEXT NOT NULL,
    blocks_json           TEXT NOT NULL,
    fifo_json             TEXT NOT NULL,
    summary               TEXT NOT NULL DEFAULT '',
    summary_updated_at    REAL,
    pressure_warned       INTEGER NOT NULL DEFAULT 0,
    last_memory_edit      REAL,
    settings_json         TEXT NOT NULL,
    created_at            REAL NOT NULL,
    updated_at            REAL NOT NULL,
    UNIQUE (user_id, name)
);

-- AUTOINCREMENT: rowids are never reused, so a stale vector-index key can never point at a newer row.
CREATE TABLE messages (
    rowid           INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT NOT NULL UNIQUE,
    agent_id        TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    role            TEXT NOT NULL,
    content         TEXT,
    tool_calls_json TEXT,
    tool_call_id    TEXT,
    name            TEXT,
    metadata_json   TEXT,
    search_text     TEXT NOT NULL DEFAULT '',
    created_at      REAL NOT NULL,
    embedding       BLOB,
    embed_seq       INTEGER
);
CREATE INDEX messages_agent_rowid ON messages (agent_id, rowid);
CREATE INDEX messages_agent_time ON messages (agent_id, created_at);
CREATE INDEX messages_agent_embed ON messages (agent_id, embed_seq);

CREATE VIRTUAL TABLE messages_fts USING fts5 (
    search_text, content = 'messages', content_rowid = 'rowid', tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER messages_ai AFTER INSERT ON messages WHEN new.search_text != '' BEGIN
    INSERT INTO messages_fts (rowid, search_text) VALUES (new.rowid, new.search_text);
END;
CREATE TRIGGER messages_ad AFTER DELETE ON messages WHEN old.search_text != '' BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, search_text) VALUES ('delete', old.rowid, old.search_text);
END;

CREATE TABLE passages (
    rowid         INTEGER PRIMARY KEY AUTOINCREMENT,
    id            TEXT NOT NULL UNIQUE,
    agent_id      TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    text          TEXT NOT NULL,
    metadata_json TEXT,
    created_at    REAL NOT NULL,
    embedding     BLOB,
    embed_seq     INTEGER
);
CREATE INDEX passages_agent_rowid ON passages (agent_id, rowid);
CREATE INDEX passages_agent_embed ON passages (agent_id, embed_seq);

CREATE VIRTUAL TABLE passages_fts USING fts5 (
    text, content = 'passages', content_rowid = 'rowid', tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER passages_ai AFTER INSERT ON passages BEGIN
    INSERT INTO passages_fts (rowid, text) VALUES (new.rowid, new.text);
END;
CREATE TRIGGER passages_ad AFTER DELETE ON passages BEGIN
    INSERT INTO passages_fts (passages_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
END;
