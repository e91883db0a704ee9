"""``memgpt server`` benchmarks against the scripted LLM server; results appended to ``benchmarks/results/server.md``.

    python benchmarks/server.py latency --messages 200     # POST /messages p50/p95 against Client.send_message
    python benchmarks/server.py load --seconds 60          # 50 agents, 200 concurrent clients (SQLite, 1 worker)
    python benchmarks/server.py load --postgres --workers 4
    python benchmarks/server.py memory --messages 10000    # server RSS idle and after 10,000 messages
    python benchmarks/server.py stream                     # time to the first SSE byte and the first token

The LLM answers at once (one ``send_message`` call per message, so one LLM call per message) unless a
token rate is given; the server and the LLM are real processes on loopback. PostgreSQL runs use
``$MEMGPT_TEST_POSTGRES_URL`` (a database is created and dropped) or a throwaway pgserver.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.server.harness import ServerProcess, say

from memgpt.evals.bench import percentiles, write_results
from memgpt.testing import FakeLLMServer

RESULTS = Path("benchmarks/results/server.md")
REPLY = say("ok")


class LLMProcess:
    """The scripted LLM in a process of its own: in this one it would share the GIL with the in-process
    client it serves (and parse the server's growing requests in its time)."""

    def __init__(self, script: Any) -> None:
        self.script = script
        self.process: subprocess.Popen[str] | None = None
        self.base_url = ""

    def __enter__(self) -> LLMProcess:
        handle, path = tempfile.mkstemp(suffix=".json")
        with os.fdopen(handle, "w") as out:
            json.dump(self.script, out)
        command = [sys.executable, "-m", "memgpt.testing.fake_llm", "--script", path]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        self.base_url = self.process.stdout.readline().split()[-1] + "/v1"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.process is not None
        self.process.terminate()
        self.process.wait(10)


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


# --------------------------------------------------------------------------- latency
async def alternating_latency(server_url: str, llm_url: str, db_url: str, messages: int) -> dict[str, Any]:
    """POST /messages to the server and Client.send_message in this process, one after the other, so that
    whatever else the machine does weighs on both alike; both reach the same scripted LLM over HTTP."""
    from memgpt.client import Client
    from memgpt.llm.openai_compat import OpenAICompatibleClient

    llm = OpenAICompatibleClient("fake", base_url=llm_url, api_key="k", max_retries=0)
    client = await Client.open(db_url, embedder=None, llm=llm)
    over_http: list[float] = []
    direct: list[float] = []
    try:
        async with httpx.AsyncClient(base_url=server_url, timeout=60) as http:
            agent = (await http.post("/v1/agents/", json={"name": "timed", "context_window_limit": 128_000})).json()
            await client.create_agent("direct", model="openai-compatible/fake", context_window=128_000)
            await http.post(f"/v1/agents/{agent['id']}/messages", json={"input": "warm up"})
            await client.send_message("direct", "warm up")
            for i in range(messages):
                started = time.perf_counter()
                answer = await http.post(f"/v1/agents/{agent['id']}/messages", json={"input": f"message {i}"})
                over_http.append(time.perf_counter() - started)
                assert answer.status_code == 200, answer.text
                started = time.perf_counter()
                await client.send_message("direct", f"message {i}")
                direct.append(time.perf_counter() - started)
    finally:
        await client.close()
    return {"post_messages_over_http": percentiles(over_http), "client_send_message_in_process": percentiles(direct)}


def sdk_latency(llm_url: str, calls: int) -> dict[str, Any]:
    """The bare OpenAI SDK call to the scripted LLM: the floor any agent message sits on."""
    from openai import OpenAI

    sdk = OpenAI(base_url=llm_url, api_key="k", max_retries=0)
    tools = [{"type": "function", "function": {"name": "send_message", "parameters": {"type": "object"}}}]
    samples = []
    for _ in range(calls + 1):
        started = time.perf_counter()
        sdk.chat.completions.create(model="fake", messages=[{"role": "user", "content": "hi"}], tools=tools)
        samples.append(time.perf_counter() - started)
    return percentiles(samples[1:])


def bench_latency(messages: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, LLMProcess({"replies": [], "default": REPLY}) as llm:
        server = ServerProcess(Path(tmp) / "home", llm).start()  # type: ignore[arg-type]
        try:
            db_url = f"sqlite:///{Path(tmp) / 'direct.db'}"
            measured = asyncio.run(alternating_latency(server.url, llm.base_url, db_url, messages))
        finally:
            server.stop()
        sdk = sdk_latency(llm.base_url, messages)
    over_http, direct = measured["post_messages_over_http"], measured["client_send_message_in_process"]
    return {
        "messages": messages,
        **measured,
        "server_layer_p50_ms": round(over_http["p50_ms"] - direct["p50_ms"], 2),
        "bare_openai_sdk_call_to_the_scripted_llm": sdk,
        "anchor": "Letta 0.16.7 on this machine, same scripted LLM: p50 1,045 / p95 1,225 ms",
    }


# --------------------------------------------------------------------------- load
async def load_clients(url: str, agent_ids: list[str], clients: int, seconds: float) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    latencies: list[float] = []
    errors: dict[str, int] = {}
    details: list[str] = []
    sent: dict[str, list[str]] = {a: [] for a in agent_ids}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:

        async def one_client(number: int) -> None:
            agent = agent_ids[number % len(agent_ids)]
            count = 0
            while time.monotonic() < deadline:
                text = f"client {number} message {count}"
                count += 1
                started = time.perf_counter()
                try:
                    answer = await http.post(f"/v1/agents/{agent}/messages", json={"input": text})
                except httpx.HTTPError as exc:
                    errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                    if len(details) < 5:  # what a transport error looked like, and after how long
                        details.append(f"{type(exc).__name__} after {time.perf_counter() - started:.1f} s: {exc!r}")
                    continue
                latencies.append(time.perf_counter() - started)
                if answer.status_code == 200:
                    sent[agent].append(text)
                else:
                    errors[str(answer.status_code)] = errors.get(str(answer.status_code), 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(one_client(i) for i in range(clients)))
        wall = time.perf_counter() - started
    ordered = sorted(latencies)
    p99 = ordered[int(0.99 * (len(ordered) - 1))] * 1000 if ordered else 0.0
    return {
        "requests": len(latencies),
        "requests_per_s": round(len(latencies) / wall, 1),
        "latency": percentiles(latencies) | {"p99_ms": round(p99, 1)},
        "errors": errors,
        "error_details": details,
        "sent": sent,
    }


def stored_once(url: str, sent: dict[str, list[str]]) -> dict[str, Any]:
    async def check() -> dict[str, Any]:
        from memgpt.client import Client

        client = await Client.open(url, embedder=None)
        problems = 0
        try:
            for agent, texts in sent.items():
                users = [m.content for m in await client.list_messages(agent, limit=100_000) if m.role == "user"]
                users = [u for u in users if u and u.startswith("client ")]
                problems += sorted(users) != sorted(texts)
        finally:
            await client.close()
        return {"agents_checked": len(sent), "agents_with_problems": problems, "ok": problems == 0}

    return asyncio.run(check())


def bench_load(seconds: float, agents: int, clients: int, workers: int, postgres: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, FakeLLMServer({"replies": [], "default": REPLY}) as llm:
        url, cleanup = _database(Path(tmp), postgres)
        server = ServerProcess(Path(tmp) / "home", llm, database_url=url).start("--workers", str(workers))
        try:
            with httpx.Client(base_url=server.url, timeout=60) as http:
                ids = [
                    http.post("/v1/agents/", json={"name": f"load{i}", "context_window_limit": 128_000}).json()["id"]
                    for i in range(agents)
                ]
            result = asyncio.run(load_clients(server.url, ids, clients, seconds))
        finally:
            server.stop()
        check = stored_once(url, result.pop("sent"))
        cleanup()
    return {
        "database": "PostgreSQL" if postgres else "SQLite",
        "workers": workers,
        "agents": agents,
        "clients": clients,
        "seconds": seconds,
        **result,
        "every_message_stored_exactly_once": check,
    }


def _database(tmp: Path, postgres: bool) -> tuple[str, Callable[[], None]]:
    if not postgres:
        return f"sqlite:///{tmp / 'load.db'}", lambda: None
    from tests.storage.pgserver_fixture import create_database, drop_database, start_pgserver

    admin = os.environ.get("MEMGPT_TEST_POSTGRES_URL")
    stop: Callable[[], None] = lambda: None  # noqa: E731
    if not admin:
        admin, stop = start_pgserver()
    url = create_database(admin)

    def cleanup() -> None:
        drop_database(admin, url)
        stop()

    return url, cleanup


# --------------------------------------------------------------------------- memory
def bench_memory(messages: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, FakeLLMServer({"replies": [], "default": REPLY}) as llm:
        server = ServerProcess(Path(tmp) / "home", llm).start()
        assert server.process is not None
        pid = server.process.pid
        try:
            with httpx.Client(base_url=server.url, timeout=60) as http:
                agent = http.post("/v1/agents/", json={"name": "mem", "context_window_limit": 16_000}).json()["id"]
                http.post(f"/v1/agents/{agent}/messages", json={"input": "warm up"})
                idle = rss_mib(pid)
                samples = [(0, idle)]
                for i in range(1, messages + 1):
                    http.post(f"/v1/agents/{agent}/messages", json={"input": f"message {i} about the harbour"})
                    if i % max(1, messages // 10) == 0:
                        samples.append((i, rss_mib(pid)))
        finally:
            server.stop()
    return {
        "messages": messages,
        "context_window": 16_000,  # small, so the queue manager evicts and summarises along the way
        "rss_idle_mib": round(idle, 1),
        "rss_mib_by_messages": {str(n): round(r, 1) for n, r in samples},
        "growth_mib": round(samples[-1][1] - samples[1][1] if len(samples) > 1 else 0.0, 1),
        "target": "growth <= 10 MB over 10,000 messages (Letta leaked about 1.2 MB per message in one release)",
    }


# --------------------------------------------------------------------------- streaming
def bench_stream(requests: int, interval: float) -> dict[str, Any]:
    reply = say("This reply is streamed at a fixed rate, a few characters at a time, " * 2) | {"interval": interval}
    with tempfile.TemporaryDirectory() as tmp, FakeLLMServer({"replies": [], "default": reply}) as llm:
        server = ServerProcess(Path(tmp) / "home", llm).start()
        try:
            with httpx.Client(base_url=server.url, timeout=60) as http:
                agent = http.post("/v1/agents/", json={"name": "stream", "context_window_limit": 128_000}).json()["id"]
                first_byte, first_token, whole = [], [], []
                body = {"input": "tell me", "streaming": True, "stream_tokens": True}
                for _ in range(requests):
                    started = time.perf_counter()
                    byte_at = token_at = None
                    with http.stream("POST", f"/v1/agents/{agent}/messages", json=body) as answer:
                        for line in answer.iter_lines():
                            now = time.perf_counter()
                            byte_at = byte_at or now
                            if token_at is None and '"assistant_message"' in line:
                                token_at = now
                    whole.append(time.perf_counter() - started)
                    first_byte.append((byte_at or started) - started)
                    first_token.append((token_at or started) - started)
        finally:
            server.stop()
    return {
        "requests": requests,
        "llm_chunk_interval_s": interval,
        "to_first_sse_byte": percentiles(first_byte),
        "to_first_token": percentiles(first_token),
        "whole_reply": percentiles(whole),
        "llm_time_to_first_argument_chunk_ms": round(interval * 1000 * 2, 1),  # role chunk, then the call's name
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    latency = sub.add_parser("latency")
    latency.add_argument("--messages", type=int, default=200)
    load = sub.add_parser("load")
    load.add_argument("--seconds", type=float, default=60)
    load.add_argument("--agents", type=int, default=50)
    load.add_argument("--clients", type=int, default=200)
    load.add_argument("--workers", type=int, default=1)
    load.add_argument("--postgres", action="store_true")
    memory = sub.add_parser("memory")
    memory.add_argument("--messages", type=int, default=10_000)
    stream = sub.add_parser("stream")
    stream.add_argument("--requests", type=int, default=20)
    stream.add_argument("--interval", type=float, default=0.02)
    for command in (latency, load, memory, stream):
        command.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.what == "latency":
        result = bench_latency(args.messages)
    elif args.what == "load":
        result = bench_load(args.seconds, args.agents, args.clients, args.workers, args.postgres)
    elif args.what == "memory":
        result = bench_memory(args.messages)
    else:
        result = bench_stream(args.requests, args.interval)
    result["load_average_1_5_15_at_end"] = [round(x, 1) for x in os.getloadavg()]
    print(json.dumps(result, indent=2))
    write_results(args.output, f"server {args.what}", result)


if __name__ == "__main__":
    main()
