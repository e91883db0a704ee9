"""The ``memgpt tools|mcp`` and ``memgpt agents tools|rules`` commands as a user runs them (real processes, a
real SQLite file, a real MCP server written with the ``mcp`` SDK), and the MCP client over streamable HTTP:
a server added with ``--url`` and ``--header`` serves an agent's call, and its header never leaves memgpt."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from memgpt.client import Client
from memgpt.llm.openai_compat import OpenAICompatibleClient
from memgpt.testing import FakeLLMServer
from tests.tools.test_custom_tools import MODEL, call, say
from tests.tools.test_mcp_client import HANG_GUARD_S, SERVER, results
from tests.tools.tool_sources import LOOKUP

TOKEN = "http-mcp-t0ken-77aa11"


def memgpt(*args: str, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "memgpt.cli.main", *args], env=env, capture_output=True, text=True, timeout=120
    )
    if check:
        assert done.returncode == 0, f"memgpt {' '.join(args)}: {done.stderr}"
    return done


def as_json(*args: str, env: dict[str, str]) -> Any:
    return json.loads(memgpt(*args, "--json", env=env).stdout)


@pytest.fixture
def env(memgpt_home: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MEMGPT_", "OPENAI_", "ANTHROPIC_"))}
    return {**clean, "MEMGPT_HOME": str(memgpt_home), "MEMGPT_EMBEDDING": "none"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[str]:
    """The test MCP server over streamable HTTP, answering only with ``Authorization: Bearer TOKEN``."""
    port = free_port()
    env = {**os.environ, "MCP_STATE": str(tmp_path / "http-state"), "MCP_HTTP_PORT": str(port)}
    process = subprocess.Popen([sys.executable, str(SERVER)], env=env | {"MCP_HTTP_TOKEN": TOKEN})
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, "the MCP HTTP server did not start"
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        process.wait(10)


def test_managing_mcp_servers_tools_and_rules_from_the_command_line(env: dict[str, str], tmp_path: Path) -> None:
    memgpt("agents", "create", "sam", "--model", MODEL, "--context-window", "16000", env=env)
    state = f"MCP_STATE={tmp_path / 'state'}"
    added = memgpt("mcp", "add", "weather", "--env", state, "--", sys.executable, str(SERVER), env=env)
    assert "Added MCP server weather (2 tools: forecast, wait)." in added.stdout
    [listed] = as_json("mcp", "list", env=env)
    assert (listed["name"], listed["transport"], listed["env"]) == ("weather", "stdio", ["MCP_STATE"])
    assert str(tmp_path / "state") not in json.dumps(listed)  # env values are shown by name only
    offered = as_json("mcp", "tools", "weather", env=env)
    assert [t["name"] for t in offered] == ["forecast", "wait"]
    assert offered[0]["input_schema"]["required"] == ["city"]

    attached = memgpt("agents", "tools", "attach", "sam", "mcp:weather/*", env=env)
    assert "Agent sam can now call forecast, wait." in attached.stdout
    source = tmp_path / "shop.py"
    source.write_text(LOOKUP)
    memgpt("tools", "add", str(source), "--tag", "shop", env=env)
    memgpt("agents", "tools", "attach", "sam", "lookup_order", env=env)
    names = [t["name"] for t in as_json("agents", "tools", "list", "sam", env=env)]
    assert names == ["mcp:weather/forecast", "mcp:weather/wait", "lookup_order"]
    memgpt("agents", "tools", "detach", "sam", "mcp:weather/wait", env=env)
    assert [t["name"] for t in as_json("agents", "tools", "list", "sam", env=env)] == [
        "mcp:weather/forecast",
        "lookup_order",
    ]

    no_limit = memgpt("agents", "rules", "add", "sam", "max_count_per_step", "forecast", env=env, check=False)
    assert no_limit.returncode == 2 and "--max goes with max_count_per_step" in no_limit.stderr
    memgpt("agents", "rules", "add", "sam", "max_count_per_step", "forecast", "--max", "2", env=env)
    memgpt("agents", "rules", "add", "sam", "run_first", "lookup_order", env=env)
    assert as_json("agents", "rules", "list", "sam", env=env) == [
        {"type": "max_count_per_step", "tool_name": "forecast", "max_count_limit": 2},
        {"type": "run_first", "tool_name": "lookup_order"},
    ]
    removed = memgpt("agents", "rules", "remove", "sam", "run_first", "lookup_order", env=env)
    assert "Removed run_first lookup_order from sam." in removed.stdout
    assert [r["type"] for r in as_json("agents", "rules", "list", "sam", env=env)] == ["max_count_per_step"]

    tools = {t["name"]: t for t in as_json("tools", "list", env=env)}
    assert set(tools) == {"lookup_order", "mcp:weather/forecast", "mcp:weather/wait"}
    assert tools["lookup_order"]["tags"] == ["shop"] and tools["lookup_order"]["kind"] == "python"
    deleted = memgpt("tools", "delete", "lookup_order", "--yes", env=env)
    assert "Deleted tool lookup_order (detached from sam)." in deleted.stdout
    gone = memgpt("mcp", "remove", "weather", "--yes", env=env)
    assert "Removed MCP server weather and 2 tool(s)." in gone.stdout
    assert as_json("agents", "tools", "list", "sam", env=env) == []
    assert as_json("tools", "list", env=env) == [] and as_json("mcp", "list", env=env) == []


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("mcp", "add", "weather"), "Give the server's command after -- , or --url URL"),
        (("mcp", "add", "weather", "--url", "http://x/mcp", "--", "cmd"), "Give the server's command after --"),
        (("mcp", "tools", "nothing"), "nothing"),
        (("agents", "tools", "attach", "sam", "mcp:nothing/read"), "nothing"),
        (("tools", "add", "no_such_file.py"), "no_such_file.py does not exist"),
    ],
)
def test_mistakes_are_one_clear_line(env: dict[str, str], args: tuple[str, ...], expected: str) -> None:
    memgpt("agents", "create", "sam", "--model", MODEL, env=env)
    done = memgpt(*args, env=env, check=False)
    assert done.returncode != 0
    assert expected in done.stderr and "Traceback" not in done.stderr


async def test_an_http_mcp_server_with_a_header_serves_the_agent(
    env: dict[str, str], http_server: str, tmp_path: Path
) -> None:
    refused = memgpt("mcp", "add", "web", "--url", http_server, env=env, check=False)
    assert refused.returncode != 0 and "The MCP server 'web' could not be started" in refused.stderr
    assert "it answered: HTTP 401 Unauthorized (check the URL and the --header values)" in refused.stderr
    assert "Traceback" not in refused.stderr
    added = memgpt("mcp", "add", "web", "--url", http_server, "--header", f"Authorization: Bearer {TOKEN}", env=env)
    assert "Added MCP server web (2 tools: forecast, wait)." in added.stdout
    [listed] = as_json("mcp", "list", env=env)
    assert (listed["transport"], listed["url"], listed["headers"]) == ("http", http_server, ["Authorization"])
    assert TOKEN not in memgpt("mcp", "list", env=env).stdout
    memgpt("agents", "create", "sam", "--model", MODEL, "--context-window", "16000", env=env)
    memgpt("agents", "tools", "attach", "sam", "mcp:web/forecast", env=env)

    llm_server = FakeLLMServer([call("forecast", city="Oslo", days=2), say("Sunny in Oslo.")])
    llm = OpenAICompatibleClient("fake", base_url=llm_server.start(), api_key="k", max_retries=0)
    client = await Client.open(None, embedder=None, llm=llm)
    try:
        events = await asyncio.wait_for(client.send_message("sam", "Weather in Oslo?"), HANG_GUARD_S)
        assert results(events)[0] == ("forecast", "OK", "Oslo: sunny for 2 day(s)")
        assert [e.content for e in events if e.type == "assistant_message"] == ["Sunny in Oslo."]
        assert all(TOKEN not in json.dumps(r) for r in llm_server.requests)
        assert TOKEN not in json.dumps(await client.agent_info("sam"))
    finally:
        await client.close()
        await llm.close()
        llm_server.stop()
