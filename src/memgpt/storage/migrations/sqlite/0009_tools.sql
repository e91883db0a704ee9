-- memgpt SQLite schema, version 9: custom tools (their Python source, run in a sandbox), MCP servers and the
-- tools taken from them, which tools each agent has, and each agent's tool variables (secrets).
CREATE TABLE mcp_servers (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL,
    name       TEXT NOT NULL,
    transport  TEXT NOT NULL CHECK (transport IN ('stdio', 'http')),
    command    TEXT,
    url        TEXT,
    env        TEXT,
    headers    TEXT,
    settings   TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    UNIQUE (user_id, name)
);

CREATE TABLE tools (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL,
    name          TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('python', 'mcp')),
    description   TEXT NOT NULL DEFAULT '',
    source        TEXT NOT NULL DEFAULT '',
    json_schema   TEXT NOT NULL,
    tags          TEXT,
    mcp_server_id TEXT REFERENCES mcp_servers (id) ON DELETE CASCADE,
    settings      TEXT NOT NULL,
    created_at    REAL NOT NULL,
    updated_at    REAL NOT NULL,
    UNIQUE (user_id, name)
);
CREATE INDEX tools_mcp_server ON tools (mcp_server_id);

CREATE TABLE agent_tools (
    agent_id    TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    tool_id     TEXT NOT NULL REFERENCES tools (id) ON DELETE CASCADE,
    attached_at REAL NOT NULL,
    PRIMARY KEY (agent_id, tool_id)
);
CREATE INDEX agent_tools_tool ON agent_tools (tool_id);

-- Passed to the agent's tools as environment variables; never shown (only their names are).
CREATE TABLE agent_secrets (
    agent_id   TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    value      TEXT NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (agent_id, name)
);
