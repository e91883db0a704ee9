"""Custom tools and MCP: sandbox overhead, MCP round trips, and what tools cost in tokens.

    python benchmarks/tools.py                 # everything; appends to benchmarks/results/tools.md
    python benchmarks/tools.py --calls 100

- ``sandbox``: a tool that returns at once (``def ping() -> str: return "pong"``), called through the
  agent's executor as a step calls it (tool variables read from SQLite, arguments checked against the
  schema, the sandboxed process started, its reply read, the process reaped and its directory removed):
  cold (``MEMGPT_TOOL_WARM_WORKERS=0``: a new interpreter per call) and warm (a worker started ahead,
  given time to start between calls as between the steps of a conversation), in both sandbox modes.
  ``back_to_back`` is warm workers called with no pause (the worker started for the next call is still
  starting: the cost under a burst of calls).
- ``mcp_stdio``: a tool of a real stdio MCP server (``tests/tools/mcp_fixture_server.py``, the ``mcp``
  SDK) called through memgpt's MCP client: the first call (start + handshake) and then each round trip.
- ``tokens``: a fresh agent's first request as ``memgpt bench`` measures it (characters/4 of the system
  message and the tools JSON) and memgpt's own estimate, with the base functions only, with a custom tool
  registered but not attached, and with it attached.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from memgpt.client import Client
from memgpt.evals.bench import percentiles, write_results
from memgpt.llm.tokens import estimate_message_tokens, estimate_tools_tokens
from memgpt.memory.blocks import CoreMemory
from memgpt.memory.tools import McpServer
from memgpt.memory.types import ToolCall
from memgpt.testing.scripted import ScriptedLLM
from memgpt.tools.context import ToolContext
from memgpt.tools.mcp_client import McpConnections
from memgpt.tools.runtime import ToolRuntime
from memgpt.tools.sandbox import Sandbox, strict_problem

RESULTS = Path("benchmarks/results/tools.md")
PING = '''
def ping(note: str = "") -> str:
    """Answer at once."""
    return "pong"
'''
LOOKUP = Path(__file__).resolve().parents[1] / "tests" / "tools" / "tool_sources.py"
MCP_SERVER = Path(__file__).resolve().parents[1] / "tests" / "tools" / "mcp_fixture_server.py"
PAUSE_S = 0.25  # between warm calls: a worker started for the next call has time to be ready


async def sandbox_overhead(calls: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    modes = ["process"] + ([] if strict_problem() else ["strict"])
    with tempfile.TemporaryDirectory() as tmp:
        for mode in modes:
            for warm, pause, label in ((0, 0.0, "cold"), (1, PAUSE_S, "warm"), (1, 0.0, "back_to_back")):
                client = await Client.open(f"sqlite:///{tmp}/{mode}-{label}.db", embedder=None, llm=ScriptedLLM([]))
                runtime = ToolRuntime(sandbox=Sandbox(warm=warm))
                try:
                    state = await client.create_agent("bench", model="openai/gpt-4o-mini")
                    tool = await client.add_tool(None, PING, sandbox=mode)  # type: ignore[arg-type]
                    await client.attach_tool("bench", tool.id)
                    await client.set_secret("bench", "API_TOKEN", "t0ken-for-the-benchmark")
                    attached = await client.store.list_agent_tools(state.id)
                    executor = runtime.executor(attached)
                    ctx = ToolContext(agent=state, memory=CoreMemory(state.blocks), store=client.store)
                    call = ToolCall(id="c", name="ping", arguments='{"note": "x", "request_heartbeat": false}')
                    await executor.execute(call, ctx)  # the first call starts the pool
                    samples = []
                    for _ in range(calls):
                        if pause:
                            await asyncio.sleep(pause)
                        started = time.perf_counter()
                        result = await executor.execute(call, ctx)
                        samples.append(time.perf_counter() - started)
                        assert result.status == "OK" and result.message == "pong", result.message
                    results[f"{mode}_{label}"] = percentiles(samples)
                finally:
                    await runtime.close()
                    await client.close()
    return results


async def mcp_round_trip(calls: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        server = McpServer(
            "bench",
            "user-local",
            "stdio",
            command=[sys.executable, str(MCP_SERVER)],
            env={"MCP_STATE": tmp, "PYTHONPATH": os.environ.get("PYTHONPATH", "")},
            timeout_s=30,
        )
        connections = McpConnections()
        try:
            started = time.perf_counter()
            await connections.call(server, "forecast", {"city": "Oslo"})
            first = time.perf_counter() - started
            samples = []
            for _ in range(calls):
                started = time.perf_counter()
                await connections.call(server, "forecast", {"city": "Oslo"})
                samples.append(time.perf_counter() - started)
        finally:
            await connections.close()
    return {"first_call_ms": round(1000 * first, 1), "round_trip": percentiles(samples)}


async def token_cost() -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    exec(LOOKUP.read_text(), namespace)  # the test sources module: plain strings
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for case in ("base_only", "tool_registered", "tool_attached"):
            llm = ScriptedLLM([{"tool_calls": [{"name": "send_message", "arguments": {"message": "hi"}}]}])
            client = await Client.open(f"sqlite:///{tmp}/{case}.db", embedder=None, llm=llm)
            try:
                await client.create_agent("fresh", model="openai/gpt-4o-mini", persona="", human="")
                if case != "base_only":
                    await client.add_tool(None, namespace["LOOKUP"])
                if case == "tool_attached":
                    await client.attach_tool("fresh", "lookup_order")
                await client.send_message("fresh", "hi")
            finally:
                await client.close()
            body = llm.requests[0]
            system, tools = json.dumps(body["messages"][:1]), json.dumps(body["tools"])
            rows[case] = {
                "functions": len(body["tools"]),
                "tokens_chars_over_4": round((len(system) + len(tools)) / 4),
                "memgpt_estimate": estimate_message_tokens(body["messages"][:1]) + estimate_tools_tokens(body["tools"]),
            }
    return rows


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=60)
    args = parser.parse_args()
    results = {
        "sandbox": await sandbox_overhead(args.calls),
        "mcp_stdio": await mcp_round_trip(args.calls * 2),
        "tokens": await token_cost(),
        "strict_mode": strict_problem() or "available (bubblewrap)",
    }
    print(json.dumps(results, indent=2))
    write_results(RESULTS, "tools", results)


if __name__ == "__main__":
    asyncio.run(main())
