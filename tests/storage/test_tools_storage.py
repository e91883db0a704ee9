"""Tools, MCP servers, agents' tools and tool variables in both stores (the conformance suite for them),
and ``memgpt db copy`` carrying them between SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from memgpt.errors import AlreadyExistsError, NotFoundError, ValidationError
from memgpt.identity import User
from memgpt.memory.tools import McpServer, Tool, ToolSettings
from memgpt.storage import open_store
from memgpt.storage.copy import copy_store
from tests.storage.test_conformance import make_agent

Store = Any
SCHEMA = {"name": "lookup", "description": "Look up.", "parameters": {"type": "object", "properties": {}}}


def custom(name: str = "lookup", user_id: str = "user-local", source: str = "def lookup() -> str: ...") -> Tool:
    return Tool(
        name=name,
        user_id=user_id,
        kind="python",
        json_schema=SCHEMA | {"name": name},
        source=source,
        description="Look up.",
        tags=["shop"],
        settings=ToolSettings(timeout_s=5, memory_mb=256, coerce=True),
    )


def server(name: str = "files", user_id: str = "user-local") -> McpServer:
    return McpServer(name, user_id, "stdio", command=["npx", "server-files"], env={"TOKEN": "t0ken"}, timeout_s=9)


async def test_tools_round_trip_unique_per_user_and_scoped(store: Store) -> None:
    tool = custom()
    await store.create_tool(tool)
    for key in (tool.id, "lookup"):
        found = await store.get_tool("user-local", key)
        assert (found.id, found.source, found.tags, found.json_schema) == (
            tool.id,
            tool.source,
            ["shop"],
            tool.json_schema,
        )
        assert found.settings == ToolSettings(timeout_s=5, memory_mb=256, coerce=True)
    with pytest.raises(AlreadyExistsError):
        await store.create_tool(custom())
    theirs = custom(user_id="user-other")
    await store.create_tool(theirs)  # another user may have a tool of the same name
    with pytest.raises(NotFoundError):
        await store.get_tool("user-local", theirs.id)
    with pytest.raises(NotFoundError):
        await store.delete_tool("user-local", theirs.id)
    assert [t.id for t in await store.list_tools("user-other")] == [theirs.id]


async def test_updating_a_tool_keeps_its_id_and_attachments_and_changes_the_version(store: Store) -> None:
    agent = await make_agent(store)
    tool = custom()
    await store.create_tool(tool)
    assert await store.attach_tool(agent.id, tool.id) is True
    assert await store.attach_tool(agent.id, tool.id) is False
    before = await store.agent_tools_version(agent.id)
    tool.source = "def lookup() -> str:\n    return 'v2'"
    await store.update_tool(tool)
    [attached] = await store.list_agent_tools(agent.id)
    assert (attached.tool.id, attached.tool.source, attached.server) == (tool.id, tool.source, None)
    assert await store.agent_tools_version(agent.id) != before


async def test_a_tool_of_another_user_cannot_be_attached(store: Store) -> None:
    agent = await make_agent(store)
    theirs = custom(user_id="user-other")
    await store.create_tool(theirs)
    with pytest.raises(NotFoundError):
        await store.attach_tool(agent.id, theirs.id)
    assert await store.list_agent_tools(agent.id) == []


async def test_deleting_a_tool_or_an_agent_removes_the_attachment(store: Store) -> None:
    sam, eve = await make_agent(store), await make_agent(store, "eve")
    tool = custom()
    await store.create_tool(tool)
    for agent in (sam, eve):
        await store.attach_tool(agent.id, tool.id)
    assert await store.agents_with_tool(tool.id) == ["eve", "sam"]
    await store.delete_agent("user-local", eve.id)
    assert await store.agents_with_tool(tool.id) == ["sam"]
    await store.delete_tool("user-local", tool.id)
    assert await store.list_agent_tools(sam.id) == []
    assert await store.detach_tool(sam.id, tool.id) is False


async def test_mcp_servers_and_their_tools(store: Store) -> None:
    agent = await make_agent(store)
    files = server()
    await store.create_mcp_server(files)
    with pytest.raises(AlreadyExistsError):
        await store.create_mcp_server(server())
    found = await store.get_mcp_server("user-local", "files")
    assert (found.command, found.env, found.timeout_s, found.transport) == (
        ["npx", "server-files"],
        {"TOKEN": "t0ken"},
        9,
        "stdio",
    )
    read = Tool(
        name="mcp:files/read",
        user_id="user-local",
        kind="mcp",
        json_schema=SCHEMA | {"name": "read"},
        mcp_server_id=files.id,
    )
    await store.create_tool(read)
    await store.attach_tool(agent.id, read.id)
    [attached] = await store.list_agent_tools(agent.id)
    assert attached.server is not None and attached.server.id == files.id
    assert attached.tool.mcp_tool_name == "read"
    before = await store.agent_tools_version(agent.id)
    files.timeout_s = 30
    await store.update_mcp_server(files)
    assert await store.agent_tools_version(agent.id) != before  # an edited server reconnects its agents
    assert [t.name for t in await store.mcp_server_tools(files.id)] == ["mcp:files/read"]
    await store.delete_mcp_server("user-local", files.id)
    with pytest.raises(NotFoundError):
        await store.get_tool("user-local", read.id)
    assert await store.list_agent_tools(agent.id) == []


async def test_tool_variables_are_set_replaced_listed_by_name_and_deleted(store: Store) -> None:
    agent, other = await make_agent(store), await make_agent(store, "eve")
    await store.set_secret(agent.id, "SHOP_TOKEN", "first")
    await store.set_secret(agent.id, "SHOP_TOKEN", "second")
    await store.set_secret(agent.id, "A_KEY", "k")
    assert await store.secret_names(agent.id) == ["A_KEY", "SHOP_TOKEN"]
    assert await store.secrets(agent.id) == {"A_KEY": "k", "SHOP_TOKEN": "second"}
    assert await store.secrets(other.id) == {}
    assert await store.delete_secret(agent.id, "A_KEY") is True
    assert await store.delete_secret(agent.id, "A_KEY") is False
    with pytest.raises(ValidationError):
        await store.set_secret(agent.id, "BAD", "nul\x00inside")
    with pytest.raises(NotFoundError):
        await store.set_secret("agent-00000000-0000-4000-8000-000000000000", "X", "y")
    await store.delete_agent("user-local", agent.id)
    assert await store.secrets(agent.id) == {}


async def test_deleting_a_user_deletes_their_tools_and_servers_only(store: Store) -> None:
    await store.create_user(User("ada", id="user-ada"))
    for user in ("user-ada", "user-local"):
        await store.create_tool(custom(user_id=user))
        await store.create_mcp_server(server(user_id=user))
    await store.delete_user("user-ada")
    assert await store.list_tools("user-ada") == [] and await store.list_mcp_servers("user-ada") == []
    assert len(await store.list_tools("user-local")) == 1 and len(await store.list_mcp_servers("user-local")) == 1


# ------------------------------------------------------------------ db copy
async def fill(url: str) -> None:
    store: Any = await open_store(url, embedder=None)
    try:
        agent = await make_agent(store)
        tool, files = custom(), server()
        await store.create_tool(tool)
        await store.create_mcp_server(files)
        read = Tool(name="mcp:files/read", user_id="user-local", kind="mcp", json_schema=SCHEMA, mcp_server_id=files.id)
        await store.create_tool(read)
        for t in (tool, read):
            await store.attach_tool(agent.id, t.id)
        await store.set_secret(agent.id, "SHOP_TOKEN", "s3cret")
    finally:
        await store.close()


async def tools_snapshot(url: str) -> dict[str, Any]:
    store: Any = await open_store(url, embedder=None)
    try:
        agent = await store.get_agent("user-local", "sam")
        return {
            "tools": [
                (t.id, t.name, t.kind, t.source, t.json_schema, t.settings, t.tags)
                for t in await store.list_tools("user-local")
            ],
            "servers": [(s.id, s.command, s.env, s.timeout_s) for s in await store.list_mcp_servers("user-local")],
            "attached": [
                (a.tool.id, a.server.id if a.server else None) for a in await store.list_agent_tools(agent.id)
            ],
            "secrets": await store.secrets(agent.id),
        }
    finally:
        await store.close()


@pytest.mark.postgres
async def test_db_copy_carries_tools_servers_attachments_and_variables(tmp_path: Path, postgres_url: str) -> None:
    source = f"sqlite:///{tmp_path / 'source.db'}"
    await fill(source)
    await copy_store(source, postgres_url)
    original = await tools_snapshot(source)
    assert len(original["tools"]) == 2 and original["secrets"] == {"SHOP_TOKEN": "s3cret"}
    assert await tools_snapshot(postgres_url) == original
    back = f"sqlite:///{tmp_path / 'back.db'}"
    await copy_store(postgres_url, back)
    assert await tools_snapshot(back) == original


@pytest.mark.postgres
async def test_db_copy_refuses_a_tool_of_the_same_name_unless_overwrite(tmp_path: Path, postgres_url: str) -> None:
    source, other = f"sqlite:///{tmp_path / 'source.db'}", f"sqlite:///{tmp_path / 'other.db'}"
    await fill(source)
    await copy_store(source, postgres_url)
    await fill(other)  # the same names, other ids
    with pytest.raises(
        ValidationError, match=r"already holds agent sam, mcp_server files, tool lookup, tool mcp:files/read"
    ):
        await copy_store(other, postgres_url)
    await copy_store(other, postgres_url, overwrite=True)
    assert await tools_snapshot(postgres_url) == await tools_snapshot(other)


@pytest.mark.postgres
async def test_a_recopy_mirrors_detached_tools_and_deleted_variables(tmp_path: Path, postgres_url: str) -> None:
    source = f"sqlite:///{tmp_path / 'source.db'}"
    await fill(source)
    await copy_store(source, postgres_url)
    store: Any = await open_store(source, embedder=None)
    try:
        sam = await store.get_agent("user-local", "sam")
        lookup = await store.get_tool("user-local", "lookup")
        assert await store.detach_tool(sam.id, lookup.id)
        assert await store.delete_secret(sam.id, "SHOP_TOKEN")
        await store.set_secret(sam.id, "NEW_TOKEN", "n3w")
    finally:
        await store.close()
    await copy_store(source, postgres_url)
    copied = await tools_snapshot(postgres_url)
    assert copied == await tools_snapshot(source)
    assert copied["secrets"] == {"NEW_TOKEN": "n3w"} and len(copied["attached"]) == 1
