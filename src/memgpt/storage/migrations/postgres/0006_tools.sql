-- memgpt PostgreSQL schema, version 6: custom tools (their Python source, run in a sandbox), MCP servers and
-- the tools taken from them, which tools each agent has, and each agent's tool variables (secrets).
CREATE TABLE mcp_servers (
    seq        bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    id         text PRIMARY KEY,
    user_id    text NOT NULL,
    name       text NOT NULL,
    transport  text NOT NULL CHECK (transport IN ('stdio', 'http')),
    command    jsonb,
    url        text,
    env        jsonb,
    headers    jsonb,
    settings   jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    UNIQUE (user_id, name)
);

CREATE TABLE tools (
    seq           bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    id            text PRIMARY KEY,
    user_id       text NOT NULL,
    name          text NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('python', 'mcp')),
    description   text NOT NULL DEFAULT '',
    source        text NOT NULL DEFAULT '',
    json_schema   jsonb NOT NULL,
    tags          jsonb,
    mcp_server_id text REFERENCES mcp_servers (id) ON DELETE CASCADE,
    settings      jsonb NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    UNIQUE (user_id, name)
);
CREATE INDEX tools_mcp_server ON tools (mcp_server_id);

CREATE TABLE agent_tools (
    seq         bigint GENERATED ALWAYS AS IDENTITY,
    agent_id    text NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    tool_id     text NOT NULL REFERENCES tools (id) ON DELETE CASCADE,
    attached_at timestamptz NOT NULL,
    PRIMARY KEY (agent_id, tool_id)
);
CREATE INDEX agent_tools_tool ON agent_tools (tool_id);

-- Passed to the agent's tools as environment variables; never shown (only their names are).
CREATE TABLE agent_secrets (
    seq        bigint GENERATED ALWAYS AS IDENTITY,
    agent_id   text NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    name       text NOT NULL,
    value      text NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (agent_id, name)
);
