-- memgpt SQLite schema, version 8: core-memory blocks become objects of their own that several agents can
-- attach (shared blocks, Letta's blocks_agents). Every agent's blocks move out of agents.blocks into them, in
-- order, each with a new block-<uuid4> id, and agents.blocks goes.
CREATE TABLE blocks (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL,
    label       TEXT NOT NULL,
    value       TEXT NOT NULL DEFAULT '',
    char_limit  INTEGER NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    read_only   INTEGER NOT NULL DEFAULT 0,
    standalone  INTEGER NOT NULL DEFAULT 0,
    version     INTEGER NOT NULL DEFAULT 1,
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL
);
CREATE INDEX blocks_user ON blocks (user_id);

CREATE TABLE agent_blocks (
    agent_id    TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    block_id    TEXT NOT NULL REFERENCES blocks (id) ON DELETE CASCADE,
    label       TEXT NOT NULL,
    position    INTEGER NOT NULL,
    attached_at REAL NOT NULL,
    PRIMARY KEY (agent_id, block_id),
    UNIQUE (agent_id, label)
);
CREATE INDEX agent_blocks_block ON agent_blocks (block_id);

-- One row per stored block, with its new id (a random UUID version 4, as memgpt makes them). Text is decoded by
-- memgpt_json_text (the migration runner's): json_extract would turn what older versions stored as an escaped
-- lone surrogate into invalid UTF-8 and cut a string at an escaped NUL.
CREATE TEMP TABLE moved_blocks AS
SELECT 'block-' || lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4'
           || substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1)
           || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6))) AS id,
       a.id AS agent_id, a.user_id AS user_id, b.key AS position, b.value AS block,
       a.created_at AS created_at, a.updated_at AS updated_at
FROM agents a, json_each(a.blocks) b;

INSERT INTO blocks (id, user_id, label, value, char_limit, description, read_only, standalone, version,
                    created_at, updated_at)
SELECT id, user_id, json_extract(block, '$.label'), coalesce(memgpt_json_text(block -> '$.value'), ''),
       coalesce(json_extract(block, '$.limit'), 5000), coalesce(memgpt_json_text(block -> '$.description'), ''),
       coalesce(json_extract(block, '$.read_only'), 0), 0, 1, created_at, updated_at
FROM moved_blocks;

INSERT INTO agent_blocks (agent_id, block_id, label, position, attached_at)
SELECT agent_id, id, json_extract(block, '$.label'), position, created_at FROM moved_blocks;

DROP TABLE moved_blocks;
ALTER TABLE agents DROP COLUMN blocks;
