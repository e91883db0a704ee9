-- memgpt PostgreSQL schema, version 7: the edit history of core-memory blocks, with what made each change.
CREATE TABLE block_history (
    seq          bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    id           text PRIMARY KEY,
    block_id     text NOT NULL REFERENCES blocks (id) ON DELETE CASCADE,
    user_id      text NOT NULL,
    version      integer NOT NULL,
    label        text NOT NULL,
    old_value    text NOT NULL,
    new_value    text NOT NULL,
    cause        text NOT NULL CHECK (cause IN ('agent', 'user', 'revert', 'forget', 'import', 'repair')),
    agent_id     text,
    tool_call_id text,
    message_id   text,
    detail       jsonb,
    created_at   timestamptz NOT NULL,
    UNIQUE (block_id, version)
);
CREATE INDEX block_history_user ON block_history (user_id);
