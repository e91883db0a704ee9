-- memgpt PostgreSQL schema, version 2: document sources, stored once and attachable to several agents.
CREATE TABLE sources (
    seq         bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    id          text PRIMARY KEY,
    user_id     text NOT NULL,
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    metadata    jsonb,
    created_at  timestamptz NOT NULL,
    UNIQUE (user_id, name)
);

CREATE TABLE agent_sources (
    seq         bigint GENERATED ALWAYS AS IDENTITY,
    agent_id    text NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    source_id   text NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    attached_at timestamptz NOT NULL,
    PRIMARY KEY (agent_id, source_id)
);
CREATE INDEX agent_sources_source ON agent_sources (source_id);

-- One row per version of a file being loaded ('loading') or loaded ('done'); a changed file has both
-- until its new version commits, which deletes the old one.
CREATE TABLE source_files (
    seq           bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    id            text PRIMARY KEY,
    source_id     text NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    path          text NOT NULL,
    content_hash  text NOT NULL,
    size          bigint NOT NULL,
    passage_count integer NOT NULL DEFAULT 0,
    state         text NOT NULL CHECK (state IN ('loading', 'done')),
    metadata      jsonb,
    updated_at    timestamptz NOT NULL,
    UNIQUE (source_id, path, content_hash)
);

CREATE TABLE source_passages (
    seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          text NOT NULL UNIQUE,
    source_id   text NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    file_id     text NOT NULL REFERENCES source_files (id) ON DELETE CASCADE,
    chunk_index integer NOT NULL,
    committed   boolean NOT NULL DEFAULT false,
    text        text NOT NULL,
    metadata    jsonb,
    tsv         tsvector GENERATED ALWAYS AS (memgpt_tsvector(text)) STORED,
    created_at  timestamptz NOT NULL,
    embedding   vector,
    UNIQUE (file_id, chunk_index)
);
CREATE INDEX source_passages_source_seq ON source_passages (source_id, seq);
CREATE INDEX source_passages_tsv ON source_passages USING gin (tsv);
CREATE INDEX source_passages_unembedded ON source_passages (source_id, seq) WHERE embedding IS NULL;
