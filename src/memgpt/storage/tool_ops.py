"""Operations on custom tools, MCP servers, the tools attached to each agent and agents' tool variables.

Written once for both engines like :mod:`.operations`. Rows are mapped with the shared schema
(:data:`memgpt.storage.schema.TABLES`): every written value passes :func:`memgpt.storage.records.check_row`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from memgpt.errors import AlreadyExistsError, NotFoundError
from memgpt.memory.tools import AttachedTool, McpServer, Tool, ToolSettings, ToolsVersion
from memgpt.storage import records
from memgpt.storage.records import Row, looks_like_id
from memgpt.storage.schema import TABLES, Table
from memgpt.storage.sql import ConstraintError, Op, as_time, one, query, rows, run

_TOOLS = TABLES["tools"]
_SERVERS = TABLES["mcp_servers"]


def _columns(table: Table, alias: str = "") -> str:
    prefix = f"{alias}." if alias else ""
    return ", ".join(prefix + c.name for c in table.data_columns)


def _insert(table: Table, row: Row, what: str, name: str) -> Op[None]:
    names = [c.name for c in table.data_columns]
    try:
        yield query(
            f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
            *records.encode(table, records.check_row(row, what)),
        )
    except ConstraintError as exc:
        raise AlreadyExistsError(f"{what} named {name!r} already exists.") from exc


def _update(table: Table, row: Row, what: str, name: str) -> Op[None]:
    """Overwrite the row of ``row['id']`` of ``row['user_id']`` (all but id, user_id and created_at)."""
    keep = ("id", "user_id", "created_at")
    changed = [c for c in table.data_columns if c.name not in keep]
    values = records.encode(table, records.check_row(row, what))
    by_name = dict(zip([c.name for c in table.data_columns], values, strict=True))
    try:
        result = yield query(
            f"UPDATE {table.name} SET {', '.join(f'{c.name} = ?' for c in changed)} WHERE id = ? AND user_id = ?",
            *[by_name[c.name] for c in changed],
            row["id"],
            row["user_id"],
        )
    except ConstraintError as exc:
        raise AlreadyExistsError(f"{what} named {name!r} already exists.") from exc
    if result.rowcount == 0:
        raise NotFoundError(f"{what} {name!r} no longer exists.")


# ----------------------------------------------------------------------------- tools
def tool_row(tool: Tool) -> Row:
    return {
        "id": tool.id,
        "user_id": tool.user_id,
        "name": tool.name,
        "kind": tool.kind,
        "description": tool.description,
        "source": tool.source,
        "json_schema": tool.json_schema,
        "tags": list(tool.tags) or None,
        "mcp_server_id": tool.mcp_server_id,
        "settings": tool.settings.to_dict(),
        "created_at": tool.created_at,
        "updated_at": tool.updated_at,
    }


def tool_from(values: Sequence[Any]) -> Tool:
    row = records.decode(_TOOLS, values)
    return Tool(
        id=row["id"],
        user_id=row["user_id"],
        name=row["name"],
        kind=row["kind"],
        description=row["description"],
        source=row["source"],
        json_schema=row["json_schema"],
        tags=list(row["tags"] or []),
        mcp_server_id=row["mcp_server_id"],
        settings=ToolSettings.from_dict(row["settings"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def insert_tool(tool: Tool) -> Op[None]:
    records.check_name(tool.name, "tool")
    yield from _insert(_TOOLS, tool_row(tool), "A tool", tool.name)


def update_tool(tool: Tool) -> Op[None]:
    yield from _update(_TOOLS, tool_row(tool), "A tool", tool.name)


def get_tool(user_id: str, key: str) -> Op[Tool]:
    """By id when ``key`` has an id's shape, else by name."""
    column = "id" if looks_like_id(key) else "name"
    found = yield from one(f"SELECT {_columns(_TOOLS)} FROM tools WHERE user_id = ? AND {column} = ?", user_id, key)
    if found is None:
        raise NotFoundError(f"No tool named {key!r}. List tools with `memgpt tools list`.")
    return tool_from(found)


def list_tools(user_id: str) -> Op[list[Tool]]:
    found = yield from rows(f"SELECT {_columns(_TOOLS)} FROM tools WHERE user_id = ? ORDER BY created_at, id", user_id)
    return [tool_from(r) for r in found]


def delete_tool(user_id: str, tool_id: str) -> Op[None]:
    result = yield from run("DELETE FROM tools WHERE id = ? AND user_id = ?", tool_id, user_id)
    if result.rowcount == 0:
        raise NotFoundError(f"No tool with id {tool_id!r}.")


def agents_with_tool(tool_id: str) -> Op[list[str]]:
    found = yield from rows(
        "SELECT a.name FROM agent_tools t JOIN agents a ON a.id = t.agent_id WHERE t.tool_id = ? ORDER BY a.name",
        tool_id,
    )
    return [str(r[0]) for r in found]


# ----------------------------------------------------------------------------- tools of an agent
def attach_tool(agent_id: str, tool_id: str, now: datetime) -> Op[bool]:
    """Attach a tool of the agent's own user; False if it already was, NotFoundError if either is unknown."""
    result = yield from run(
        "INSERT INTO agent_tools (agent_id, tool_id, attached_at)"
        " SELECT a.id, t.id, ? FROM agents a JOIN tools t ON t.user_id = a.user_id"
        " WHERE a.id = ? AND t.id = ? ON CONFLICT DO NOTHING",
        now,
        agent_id,
        tool_id,
    )
    if result.rowcount:
        return True
    attached = yield from one("SELECT 1 FROM agent_tools WHERE agent_id = ? AND tool_id = ?", agent_id, tool_id)
    if attached is None:
        raise NotFoundError(f"No agent {agent_id!r} and tool {tool_id!r} of the same user.")
    return False


def detach_tool(agent_id: str, tool_id: str) -> Op[bool]:
    result = yield from run("DELETE FROM agent_tools WHERE agent_id = ? AND tool_id = ?", agent_id, tool_id)
    return result.rowcount > 0


def list_agent_tools(agent_id: str) -> Op[list[AttachedTool]]:
    """The agent's tools in the order they were attached, each with its MCP server (if it has one)."""
    found = yield from rows(
        f"SELECT {_columns(_TOOLS, 't')}, a.attached_at, {_columns(_SERVERS, 's')} FROM agent_tools a"
        " JOIN tools t ON t.id = a.tool_id LEFT JOIN mcp_servers s ON s.id = t.mcp_server_id"
        " WHERE a.agent_id = ? ORDER BY a.attached_at, t.id",
        agent_id,
    )
    width = len(_TOOLS.data_columns)
    attached = []
    for r in found:
        server = server_from(r[width + 1 :]) if r[width + 1] is not None else None
        when = as_time(r[width])
        assert when is not None
        attached.append(AttachedTool(tool_from(r[:width]), server, when))
    return attached


def agent_tools_version(agent_id: str) -> Op[ToolsVersion]:
    """What changes whenever the agent's function set may have changed: a tool attached, detached or edited,
    or its MCP server edited (one small read per input, instead of reloading every tool's source)."""
    found = yield from rows(
        "SELECT t.id, t.updated_at, s.updated_at FROM agent_tools a JOIN tools t ON t.id = a.tool_id"
        " LEFT JOIN mcp_servers s ON s.id = t.mcp_server_id WHERE a.agent_id = ? ORDER BY t.id",
        agent_id,
    )
    return tuple((str(r[0]), str(as_time(r[1])), str(as_time(r[2]))) for r in found)


# ----------------------------------------------------------------------------- tool variables
def set_secret(agent_id: str, name: str, value: str, now: datetime) -> Op[None]:
    records.check_row({"name": name, "value": value}, "A tool variable")
    try:
        yield query(
            "INSERT INTO agent_secrets (agent_id, name, value, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (agent_id, name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            agent_id,
            name,
            value,
            now,
        )
    except ConstraintError as exc:
        raise NotFoundError(f"No agent with id {agent_id!r}.") from exc


def delete_secret(agent_id: str, name: str) -> Op[bool]:
    result = yield from run("DELETE FROM agent_secrets WHERE agent_id = ? AND name = ?", agent_id, name)
    return result.rowcount > 0


def secret_names(agent_id: str) -> Op[list[str]]:
    found = yield from rows("SELECT name FROM agent_secrets WHERE agent_id = ? ORDER BY name", agent_id)
    return [str(r[0]) for r in found]


def secrets(agent_id: str) -> Op[dict[str, str]]:
    found = yield from rows("SELECT name, value FROM agent_secrets WHERE agent_id = ? ORDER BY name", agent_id)
    return {str(name): str(value) for name, value in found}


# ----------------------------------------------------------------------------- MCP servers
def server_row(server: McpServer) -> Row:
    return {
        "id": server.id,
        "user_id": server.user_id,
        "name": server.name,
        "transport": server.transport,
        "command": list(server.command) or None,
        "url": server.url,
        "env": dict(server.env) or None,
        "headers": dict(server.headers) or None,
        "settings": {"timeout_s": server.timeout_s},
        "created_at": server.created_at,
        "updated_at": server.updated_at,
    }


def server_from(values: Sequence[Any]) -> McpServer:
    row = records.decode(_SERVERS, values)
    return McpServer(
        id=row["id"],
        user_id=row["user_id"],
        name=row["name"],
        transport=row["transport"],
        command=list(row["command"] or []),
        url=row["url"],
        env=dict(row["env"] or {}),
        headers=dict(row["headers"] or {}),
        timeout_s=float(row["settings"].get("timeout_s", 60.0)),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def insert_server(server: McpServer) -> Op[None]:
    records.check_name(server.name, "MCP server")
    yield from _insert(_SERVERS, server_row(server), "An MCP server", server.name)


def update_server(server: McpServer) -> Op[None]:
    yield from _update(_SERVERS, server_row(server), "An MCP server", server.name)


def get_server(user_id: str, key: str) -> Op[McpServer]:
    column = "id" if looks_like_id(key) else "name"
    found = yield from one(
        f"SELECT {_columns(_SERVERS)} FROM mcp_servers WHERE user_id = ? AND {column} = ?", user_id, key
    )
    if found is None:
        raise NotFoundError(f"No MCP server named {key!r}. List them with `memgpt mcp list`.")
    return server_from(found)


def list_servers(user_id: str) -> Op[list[McpServer]]:
    found = yield from rows(
        f"SELECT {_columns(_SERVERS)} FROM mcp_servers WHERE user_id = ? ORDER BY created_at, id", user_id
    )
    return [server_from(r) for r in found]


def delete_server(user_id: str, server_id: str) -> Op[None]:
    """Delete a server with its tools (and so their attachments)."""
    result = yield from run("DELETE FROM mcp_servers WHERE id = ? AND user_id = ?", server_id, user_id)
    if result.rowcount == 0:
        raise NotFoundError(f"No MCP server with id {server_id!r}.")


def server_tools(server_id: str) -> Op[list[Tool]]:
    found = yield from rows(
        f"SELECT {_columns(_TOOLS)} FROM tools WHERE mcp_server_id = ? ORDER BY created_at, id", server_id
    )
    return [tool_from(r) for r in found]
