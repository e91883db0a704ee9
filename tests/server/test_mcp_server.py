"""memgpt as an MCP server: the ``mcp`` SDK's own client over stdio (``memgpt mcp serve``) and over streamable
HTTP (``/mcp`` under ``memgpt server``): tools listed, a round trip of memory, and users kept apart."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import mcp
import pytest

from memgpt.testing import FakeLLMServer
from tests.server.harness import ServerProcess, say

MEMORY_TOOLS = {
    "list_agents",
    "send_message",
    "search_recall",
    "search_archival",
    "insert_archival",
    "delete_archival",
    "get_memory",
    "update_memory_block",
    "append_memory_block",
}


def text(result: Any) -> str:
    assert not result.is_error, result.content
    return "\n".join(block.text for block in result.content)


@pytest.fixture
def env(memgpt_home: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MEMGPT_", "OPENAI_", "ANTHROPIC_"))}
    return {**clean, "MEMGPT_HOME": str(memgpt_home), "MEMGPT_EMBEDDING": "none"}


def memgpt(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "memgpt.cli.main", *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@asynccontextmanager
async def stdio_session(env: dict[str, str], *args: str) -> AsyncIterator[mcp.Client]:
    params = mcp.StdioServerParameters(
        command=sys.executable, args=["-m", "memgpt.cli.main", "mcp", "serve", *args], env=env
    )
    async with mcp.Client(params, read_timeout_seconds=60) as session:
        yield session


async def test_stdio_lists_the_tools_and_round_trips_memory(env: dict[str, str], tmp_path: Path) -> None:
    with FakeLLMServer([say("Hello from Sam.")]) as llm:
        env = env | {"MEMGPT_MODEL": "openai-compatible/fake", "MEMGPT_LLM_BASE_URL": llm.base_url}
        memgpt("agents", "create", "sam", "--context-window", "16000", env=env)
        async with stdio_session(env) as session:
            listed = await session.list_tools()
            assert {t.name for t in listed.tools} == MEMORY_TOOLS
            schemas = {t.name: t.input_schema for t in listed.tools}
            assert schemas["search_archival"]["required"] == ["query", "agent"]
            assert json.loads(text(await session.call_tool("list_agents", {})))[0]["name"] == "sam"
            stored = text(
                await session.call_tool("insert_archival", {"text": "The boat is the Nautilus.", "agent": "sam"})
            )
            passage_id = stored.split()[-1].rstrip(".")
            found = text(await session.call_tool("search_archival", {"query": "boat", "agent": "sam"}))
            assert "The boat is the Nautilus." in found and passage_id in found
            text(
                await session.call_tool("update_memory_block", {"label": "human", "value": "Name: Ada", "agent": "sam"})
            )
            text(await session.call_tool("append_memory_block", {"label": "human", "text": "Sails.", "agent": "sam"}))
            reply = text(await session.call_tool("send_message", {"message": "Hi", "agent": "sam"}))
            assert reply == "Hello from Sam."
            recalled = text(await session.call_tool("search_recall", {"query": "Hi", "agent": "sam"}))
            assert "user: Hi" in recalled
            text(await session.call_tool("delete_archival", {"passage_id": passage_id, "agent": "sam"}))
            missing = await session.call_tool("get_memory", {"agent": "nobody"})
            assert missing.is_error and "No agent named 'nobody'" in missing.content[0].text
    shown = json.loads(memgpt("agents", "show", "sam", "--json", env=env))
    assert shown["memory"]["human"]["value"] == "Name: Ada\nSails."  # edited through MCP, seen by the CLI
    assert shown["archival_passages"] == 0


async def test_stdio_for_one_agent_takes_no_agent_argument(env: dict[str, str]) -> None:
    memgpt("agents", "create", "sam", "--model", "openai/gpt-4o-mini", env=env)
    async with stdio_session(env, "--agent", "sam") as session:
        listed = {t.name: t for t in (await session.list_tools()).tools}
        assert set(listed) == MEMORY_TOOLS - {"list_agents"}
        assert "agent" not in listed["get_memory"].input_schema.get("properties", {})
        assert "agent sam's core memory" in (listed["get_memory"].description or "")
        memory = json.loads(text(await session.call_tool("get_memory", {})))
        assert [b["label"] for b in memory] == ["persona", "human"]


# ------------------------------------------------------------------ streamable HTTP under memgpt server
@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    with FakeLLMServer([say("Hi.")] * 4) as llm:
        process = ServerProcess(tmp_path / "home", llm).start()
        yield process
        process.stop()


@asynccontextmanager
async def http_session(url: str, key: str | None) -> AsyncIterator[mcp.Client]:
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as http,
        mcp.Client(streamable_http_client(f"{url}/mcp", http_client=http)) as session,
    ):
        yield session


def make_user_with_agent(server: ServerProcess, user: str) -> tuple[str, str]:
    """A user with a key and an agent of their own (made through the REST API); (key, agent id)."""
    assert server.memgpt("users", "create", user).returncode == 0
    key = server.memgpt("keys", "create", "--user", user).stdout.strip()
    made = httpx.post(
        f"{server.url}/v1/agents/",
        json={"name": f"{user}-agent", "memory_blocks": [{"label": "human", "value": f"I am {user}."}]},
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    )
    assert made.status_code == 200, made.text
    return key, made.json()["id"]


async def test_http_round_trip_scoped_by_the_key_and_nothing_without_one(server: ServerProcess) -> None:
    ada_key, ada_agent = make_user_with_agent(server, "ada")
    bo_key, _ = make_user_with_agent(server, "bo")
    async with http_session(server.url, ada_key) as session:
        assert {t.name for t in (await session.list_tools()).tools} == MEMORY_TOOLS
        agents = json.loads(text(await session.call_tool("list_agents", {})))
        assert [a["name"] for a in agents] == ["ada-agent"]
        text(await session.call_tool("insert_archival", {"text": "Ada's boat is red.", "agent": ada_agent}))
        assert "Ada's boat is red." in text(
            await session.call_tool("search_archival", {"query": "boat", "agent": ada_agent})
        )
        text(
            await session.call_tool(
                "update_memory_block", {"label": "human", "value": "Ada, sailor.", "agent": ada_agent}
            )
        )
    async with http_session(server.url, bo_key) as session:
        assert [a["name"] for a in json.loads(text(await session.call_tool("list_agents", {})))] == ["bo-agent"]
        for tool, arguments in (
            ("search_archival", {"query": "boat", "agent": ada_agent}),
            ("get_memory", {"agent": ada_agent}),
            ("insert_archival", {"text": "mine now", "agent": ada_agent}),
        ):
            seen = await session.call_tool(tool, arguments)
            assert seen.is_error and "No agent named" in seen.content[0].text, tool
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        block = await http.get(
            f"/v1/agents/{ada_agent}/core-memory/blocks/human", headers={"Authorization": f"Bearer {ada_key}"}
        )
        assert block.json()["value"] == "Ada, sailor."
        anonymous = await http.post(
            "/mcp",
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            headers={"Accept": "application/json, text/event-stream"},
        )
        assert anonymous.status_code == 401
        wrong = await http.post("/mcp", json={}, headers={"Authorization": "Bearer memgpt-wrong"})
        assert wrong.status_code == 401


async def test_http_without_keys_serves_the_local_user_on_this_machine(server: ServerProcess) -> None:
    assert server.memgpt("agents", "create", "sam").returncode == 0
    async with http_session(server.url, None) as session:
        assert [a["name"] for a in json.loads(text(await session.call_tool("list_agents", {})))] == ["sam"]
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        rebound = await http.post("/mcp", json={}, headers={"Host": "evil.example:8283", "Accept": "application/json"})
    assert rebound.status_code == 401  # DNS rebinding: not a request to this machine
