"""The MCP client against a real MCP server process (written with the ``mcp`` SDK): its tools join the agent's
function set, calls run with a timeout, and a server killed mid-call is a Failed result, not a hang."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from memgpt.client import Client
from memgpt.errors import MemgptError, NotFoundError
from memgpt.llm.openai_compat import OpenAICompatibleClient
from memgpt.testing import FakeLLMServer
from tests.tools.test_custom_tools import MODEL, call, say

SERVER = Path(__file__).with_name("mcp_fixture_server.py")
HANG_GUARD_S = 60  # no step may take this long: the test fails instead of hanging


def inherited(name: str) -> dict[str, str]:
    """``name`` from this process's environment if it is set (an empty value is refused as a variable)."""
    value = os.environ.get(name)
    return {name: value} if value else {}


class McpHarness:
    def __init__(self, tmp_path: Path) -> None:
        self.state = tmp_path / "mcp-state"
        self.db = f"sqlite:///{tmp_path / 'mcp.db'}"
        self.server: FakeLLMServer | None = None
        self.clients: list[Client] = []
        self.llms: list[OpenAICompatibleClient] = []

    async def client(self, script: list[dict[str, Any]], *, call_timeout: float = 30) -> Client:
        self.server = FakeLLMServer(script)
        llm = OpenAICompatibleClient("fake", base_url=self.server.start(), api_key="k", max_retries=0)
        self.llms.append(llm)
        client = await Client.open(self.db, embedder=None, llm=llm)
        self.clients.append(client)
        await client.create_agent("sam", model=MODEL, context_window=16000)
        await client.add_mcp_server(
            "weather",
            command=[sys.executable, str(SERVER)],
            env={"MCP_STATE": str(self.state)} | inherited("PYTHONPATH"),
            timeout=call_timeout,
        )
        return client

    @property
    def requests(self) -> list[dict[str, Any]]:
        assert self.server is not None
        return [r for r in self.server.requests if r.get("tools")]

    async def kill_when_waiting(self) -> None:
        waiting = self.state / "waiting"
        while not await asyncio.to_thread(waiting.exists):  # noqa: ASYNC110 - written by another process
            await asyncio.sleep(0.05)
        os.kill(int(await asyncio.to_thread((self.state / "pid").read_text)), signal.SIGKILL)


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[McpHarness]:
    made = McpHarness(tmp_path)
    yield made
    for client in made.clients:
        await client.close()
    for llm in made.llms:
        await llm.close()
    if made.server is not None:
        made.server.stop()


def results(events: list[Any]) -> list[tuple[str, str, str]]:
    return [(e.data["name"], e.data["status"], e.content) for e in events if e.type == "function_result"]


async def test_the_agent_calls_a_tool_of_a_real_mcp_server(harness: McpHarness) -> None:
    client = await harness.client([call("forecast", city="Oslo", days=2), say("Sunny in Oslo.")])
    assert sorted(t.name for t in await client.list_mcp_tools("weather")) == ["forecast", "wait"]
    await client.attach_tool("sam", "mcp:weather/forecast")
    events = await asyncio.wait_for(client.send_message("sam", "Weather in Oslo?"), HANG_GUARD_S)
    assert results(events)[0] == ("forecast", "OK", "Oslo: sunny for 2 day(s)")
    offered = {t["function"]["name"]: t["function"] for t in harness.requests[0]["tools"]}
    assert "wait" not in offered  # only the attached tool of the server
    assert offered["forecast"]["parameters"]["properties"]["city"] == {"type": "string"}
    assert offered["forecast"]["parameters"]["required"] == ["city", "request_heartbeat"]
    assert offered["forecast"]["description"].startswith("The weather forecast for a city.")
    tools = await client.list_agent_tools("sam")
    assert [(t.name, t.kind) for t in tools] == [("mcp:weather/forecast", "mcp")]


async def test_killing_the_server_mid_call_is_a_failed_result_and_the_next_call_restarts_it(
    harness: McpHarness,
) -> None:
    client = await harness.client(
        [call("wait", seconds=600), say("The station went down."), call("forecast", city="Bergen"), say("Rain?")]
    )
    await client.attach_tool("sam", "mcp:weather/wait")
    await client.attach_tool("sam", "mcp:weather/forecast")
    killer = asyncio.ensure_future(harness.kill_when_waiting())
    events = await asyncio.wait_for(client.send_message("sam", "Wait ten minutes."), HANG_GUARD_S)
    await killer
    name, status, message = results(events)[0]
    assert (name, status) == ("wait", "Failed")
    assert "The MCP server 'weather' stopped while running wait" in message
    assert "started again at the next call" in message
    after = await asyncio.wait_for(client.send_message("sam", "Forecast for Bergen?"), HANG_GUARD_S)
    assert results(after)[0] == ("forecast", "OK", "Bergen: sunny for 1 day(s)")


async def test_a_call_over_the_server_timeout_fails_with_the_timeout(harness: McpHarness) -> None:
    client = await harness.client([call("wait", seconds=600), say("Too slow.")], call_timeout=2)
    await client.attach_tool("sam", "mcp:weather/wait")
    events = await asyncio.wait_for(client.send_message("sam", "Wait."), HANG_GUARD_S)
    assert results(events)[0] == ("wait", "Failed", "The MCP server 'weather' did not answer wait within 2 s.")


async def test_mcp_argument_errors_and_missing_tools(harness: McpHarness) -> None:
    client = await harness.client([call("forecast", city=3), say("Oops.")])
    await client.attach_tool("sam", "mcp:weather/forecast")
    events = await asyncio.wait_for(client.send_message("sam", "Weather?"), HANG_GUARD_S)
    assert results(events)[0][1] == "Failed"
    assert "forecast: argument city: 3 is not of type 'string'" in results(events)[0][2]
    with pytest.raises(NotFoundError, match="has no tool 'rain'"):
        await client.attach_tool("sam", "mcp:weather/rain")


async def test_a_server_that_cannot_start_is_refused_when_added(harness: McpHarness, tmp_path: Path) -> None:
    client = await harness.client([])
    with pytest.raises(MemgptError, match="could not be started: command not found"):
        await client.add_mcp_server("broken", command=[str(tmp_path / "no-such-program")])
    failing = [sys.executable, "-c", "import sys; sys.stderr.write('missing API token\\n'); sys.exit(3)"]
    with pytest.raises(MemgptError, match="missing API token"):
        await client.add_mcp_server("failing", command=failing)
    assert [s.name for s in await client.list_mcp_servers()] == ["weather"]
    removed = await client.remove_mcp_server("weather")
    assert removed == []  # no tool of it was used yet


async def test_what_a_dying_server_says_reaches_the_model_without_its_credentials(harness: McpHarness) -> None:
    client = await harness.client([call("wait", seconds=1), say("It died.")])
    token = "mcp-t0ken-4f3e2d1c"
    await client.add_mcp_server(
        "weather",
        command=[sys.executable, str(SERVER)],
        env={"MCP_STATE": str(harness.state), "MCP_DIE_LOUDLY": "1", "MCP_TOKEN": token},
        replace=True,
    )
    await client.attach_tool("sam", "mcp:weather/wait")
    events = await asyncio.wait_for(client.send_message("sam", "Wait."), HANG_GUARD_S)
    name, status, message = results(events)[0]
    assert (name, status) == ("wait", "Failed")
    assert "it last wrote: fatal: token [secret MCP_TOKEN] rejected" in message
    assert all(token not in json.dumps(r) for r in harness.requests)
