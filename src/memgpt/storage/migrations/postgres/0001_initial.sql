-- memgpt PostgreSQL schema, version 1. Needs pgvector >= 0.5 (CREATE EXTENSION is checked before this runs).
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);

-- Punctuation becomes spaces before parsing, so documents split into words exactly as queries do
-- (memgpt.memory.search.query_terms): otherwise "0000-1f40" or "a@b.com" would become tokens no query matches.
CREATE FUNCTION memgpt_tsvector(body text) RETURNS tsvector
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN to_tsvector('english'::regconfig, translate(body, '!"#$%&''()*+,-./:;<=>?@[\]^`{|}~', '                               '));

CREATE TABLE agents (
    seq                   bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    id                    text PRIMARY KEY,
    user_id               text NOT NULL,
    name                  text NOT NULL,
    model                 text NOT NULL,
    context_window        integer NOT NULL,
    system_prompt_version text NOT NULL,
    blocks                jsonb NOT NULL,
    fifo_ids              jsonb NOT NULL,
    summary               text NOT NULL DEFAULT '',
    summary_updated_at    timestamptz,
    pressure_warned       boolean NOT NULL DEFAULT false,
    last_memory_edit      timestamptz,
    settings              jsonb NOT NULL,
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL,
    UNIQUE (user_id, name)
);

-- seq is the insertion order (never reused); embedding has no fixed dimension so that the HNSW index,
-- an expression index cast to the configured model's dimension, can be rebuilt for another model.
CREATE TABLE messages (
    seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id           text NOT NULL UNIQUE,
    agent_id     text NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    role         text NOT NULL,
    content      text,
    tool_calls   jsonb,
    tool_call_id text,
    name         text,
    metadata     jsonb,
    search_text  text NOT NULL DEFAULT '',
    tsv          tsvector GENERATED ALWAYS AS (memgpt_tsvector(search_text)) STORED,
    created_at   timestamptz NOT NULL,
    embedding    vector
);
CREATE INDEX messages_agent_seq ON messages (agent_id, seq);
CREATE INDEX messages_agent_time ON messages (agent_id, created_at);
CREATE INDEX messages_tsv ON messages USING gin (tsv) WHERE search_text <> '';
CREATE INDEX messages_unembedded ON messages (agent_id, seq) WHERE embedding IS NULL AND search_text <> '';

CREATE TABLE passages (
    seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id         text NOT NULL UNIQUE,
    agent_id   text NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    text       text NOT NULL,
    metadata   jsonb,
    tsv        tsvector GENERATED ALWAYS AS (memgpt_tsvector(text)) STORED,
    created_at timestamptz NOT NULL,
    embedding  vector
);
CREATE INDEX passages_agent_seq ON passages (agent_id, seq);
CREATE INDEX passages_tsv ON passages USING gin (tsv);
CREATE INDEX passages_unembedded ON passages (agent_id, seq) WHERE embedding IS NULL;
