-- memgpt SQLite schema, version 3: document sources, stored once and attachable to several agents.
CREATE TABLE sources (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL,
    name          TEXT NOT NULL,
    description   TEXT NOT NULL DEFAULT '',
    metadata_json TEXT,
    created_at    REAL NOT NULL,
    UNIQUE (user_id, name)
);

CREATE TABLE agent_sources (
    agent_id    TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    source_id   TEXT NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    attached_at REAL NOT NULL,
    PRIMARY KEY (agent_id, source_id)
);
CREATE INDEX agent_sources_source ON agent_sources (source_id);

-- One row per version of a file being loaded ('loading') or loaded ('done'); a changed file has both
-- until its new version commits, which deletes the old one.
CREATE TABLE source_files (
    id            TEXT PRIMARY KEY,
    source_id     TEXT NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    path          TEXT NOT NULL,
    content_hash  TEXT NOT NULL,
    size          INTEGER NOT NULL,
    passage_count INTEGER NOT NULL DEFAULT 0,
    state         TEXT NOT NULL CHECK (state IN ('loading', 'done')),
    metadata_json TEXT,
    updated_at    REAL NOT NULL,
    UNIQUE (source_id, path, content_hash)
);

-- AUTOINCREMENT for the same reason as passages: vector-index keys are never reused.
CREATE TABLE source_passages (
    rowid         INTEGER PRIMARY KEY AUTOINCREMENT,
    id            TEXT NOT NULL UNIQUE,
    source_id     TEXT NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    file_id       TEXT NOT NULL REFERENCES source_files (id) ON DELETE CASCADE,
    chunk_index   INTEGER NOT NULL,
    committed     INTEGER NOT NULL DEFAULT 0,
    text          TEXT NOT NULL,
    metadata_json TEXT,
    created_at    REAL NOT NULL,
    embedding     BLOB,
    embed_seq     INTEGER,
    UNIQUE (file_id, chunk_index)
);
CREATE INDEX source_passages_source_rowid ON source_passages (source_id, rowid);
CREATE INDEX source_passages_source_embed ON source_passages (source_id, embed_seq);
CREATE INDEX source_passages_unembedded ON source_passages (source_id, rowid) WHERE embedding IS NULL;

CREATE VIRTUAL TABLE source_passages_fts USING fts5 (
    text, content = 'source_passages', content_rowid = 'rowid', tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER source_passages_ai AFTER INSERT ON source_passages BEGIN
    INSERT INTO source_passages_fts (rowid, text) VALUES (new.rowid, new.text);
END;
CREATE TRIGGER source_passages_ad AFTER DELETE ON source_passages BEGIN
    INSERT INTO source_passages_fts (source_passages_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
END;
