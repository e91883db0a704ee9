-- memgpt PostgreSQL schema, version 5: core-memory blocks become objects of their own that several agents can
-- attach (shared blocks, Letta's blocks_agents). Every agent's blocks move out of agents.blocks into them, in
-- order, each with a new block-<uuid4> id, and agents.blocks goes.
CREATE TABLE blocks (
    seq         bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    id          text PRIMARY KEY,
    user_id     text NOT NULL,
    label       text NOT NULL,
    value       text NOT NULL DEFAULT '',
    char_limit  integer NOT NULL,
    description text NOT NULL DEFAULT '',
    read_only   boolean NOT NULL DEFAULT false,
    standalone  boolean NOT NULL DEFAULT false,
    version     integer NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX blocks_user ON blocks (user_id);

CREATE TABLE agent_blocks (
    seq         bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    agent_id    text NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    block_id    text NOT NULL REFERENCES blocks (id) ON DELETE CASCADE,
    label       text NOT NULL,
    position    integer NOT NULL,
    attached_at timestamptz NOT NULL,
    PRIMARY KEY (agent_id, block_id),
    UNIQUE (agent_id, label)
);
CREATE INDEX agent_blocks_block ON agent_blocks (block_id);

CREATE TEMP TABLE moved_blocks AS
SELECT 'block-' || gen_random_uuid() AS id, a.id AS agent_id, a.user_id AS user_id,
       b.position - 1 AS position, b.block AS block, a.created_at AS created_at, a.updated_at AS updated_at
FROM agents a, jsonb_array_elements(a.blocks) WITH ORDINALITY AS b (block, position);

INSERT INTO blocks (id, user_id, label, value, char_limit, description, read_only, standalone, version,
                    created_at, updated_at)
SELECT id, user_id, block ->> 'label', coalesce(block ->> 'value', ''), coalesce((block ->> 'limit')::integer, 5000),
       coalesce(block ->> 'description', ''), coalesce((block ->> 'read_only')::boolean, false), false, 1,
       created_at, updated_at
FROM moved_blocks;

INSERT INTO agent_blocks (agent_id, block_id, label, position, attached_at)
SELECT agent_id, id, block ->> 'label', position, created_at FROM moved_blocks;

DROP TABLE moved_blocks;
ALTER TABLE agents DROP COLUMN blocks;
