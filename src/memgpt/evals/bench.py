"""System speed benchmarks: store search and insert, agent step time, tokens per call, CLI start-up.

Timings are measured, never asserted: results go to ``benchmarks/results/*.md`` with the machine,
date and commit. Synthetic embeddings (clustered, 384-d, unit length, derived from a hash of the
text) stand in for the local model where a benchmark needs hundreds of thousands of vectors; the
real model's own cost is measured separately and reported beside them.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from memgpt.embeddings.base import Vectors
from memgpt.memory.agent_state import AgentState
from memgpt.memory.types import Message, Passage

DIM = 384
CLUSTERS = 512
_rng = np.random.default_rng(7)
_CENTERS = _rng.normal(size=(CLUSTERS, DIM)).astype(np.float32)
_VOCAB = [f"{a}{b}" for a in ("ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "xe", "zu") for b in range(2000)]


class SyntheticEmbedder:
    """Deterministic clustered vectors from a hash of the text: realistic for ANN, free to compute."""

    name = "synthetic/clustered-384"
    dim = DIM

    def encode(self, texts: Sequence[str]) -> Vectors:
        out = np.empty((len(texts), DIM), dtype=np.float32)
        for i, text in enumerate(texts):
            seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
            rng = np.random.default_rng(seed)
            out[i] = _CENTERS[seed % CLUSTERS] + rng.normal(scale=0.6, size=DIM)
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        return out

    async def embed(self, texts: Sequence[str]) -> Vectors:
        return await asyncio.to_thread(self.encode, texts)

    async def close(self) -> None:
        return None


def synthetic_text(i: int, words: int = 30) -> str:
    """A reproducible pseudo-sentence with Zipf-distributed words (so BM25 sees realistic frequencies)."""
    rng = np.random.default_rng(i)
    ranks = np.minimum(rng.zipf(1.3, size=words), len(_VOCAB)) - 1
    return " ".join(_VOCAB[r] for r in ranks)


def percentiles(samples: Sequence[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(1000 * statistics.median(ordered), 3),
        "p95_ms": round(1000 * ordered[int(0.95 * (len(ordered) - 1))], 3),
        "n": len(ordered),
    }


def machine() -> dict[str, Any]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "commit": commit or "unknown",
    }


async def _insert_passages(store: Any, agent_id: str, count: int, batch: int = 5000) -> float:
    started = time.perf_counter()
    for start in range(0, count, batch):
        await store.insert_passages(
            agent_id, [Passage(text=synthetic_text(i)) for i in range(start, min(count, start + batch))]
        )
    return time.perf_counter() - started


async def bench_archival(size: int, queries: int = 200, workdir: Path | None = None) -> dict[str, Any]:
    """Archival hybrid search latency and vector recall@10 at ``size`` passages; bulk insert rate."""
    from memgpt.storage.sqlite import SqliteStore

    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        embedder = SyntheticEmbedder()
        store = await SqliteStore.open(Path(tmp) / "bench.db", embedder=embedder)
        state = AgentState(name="bench", model="none", context_window=8000)
        await store.create_agent(state)
        insert_seconds = await _insert_passages(store, state.id, size)
        # Rate excluding embedding: the synthetic embedder's own time is measured and subtracted.
        sample = [synthetic_text(i) for i in range(5000)]
        t = time.perf_counter()
        embedder.encode(sample)
        embed_per_row = (time.perf_counter() - t) / len(sample)
        insert_rate = size / max(1e-9, insert_seconds - embed_per_row * size)
        t = time.perf_counter()
        await store.search_passages(state.id, "warm up", mode="hybrid")  # builds the vector index once
        index_build = time.perf_counter() - t
        texts = [synthetic_text(size + 10 + q, words=6) for q in range(queries)]
        latencies = []
        for text in texts:
            t = time.perf_counter()
            await store.search_passages(state.id, text, page_size=10, mode="hybrid")
            latencies.append(time.perf_counter() - t)
        recall = await _vector_recall(store, state.id, embedder.encode(texts[:100]))
        await store.close()
    return {
        "passages": size,
        "hybrid_search": percentiles(latencies),
        "vector_recall_at_10": recall,
        "bulk_insert_rows_per_s": round(insert_rate),
        "index_build_s": round(index_build, 1),
    }


async def _vector_recall(store: Any, agent_id: str, queries: Vectors) -> float:
    """Recall@10 of the store's vector index against exact search over the stored vectors."""
    entry = store._index_for("passages", agent_id)

    def load() -> tuple[np.ndarray, np.ndarray]:
        conn = store._all_conns[0]
        rows = conn.execute("SELECT rowid, embedding FROM passages WHERE agent_id = ?", (agent_id,)).fetchall()
        keys = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), DIM)
        return keys, matrix

    keys, matrix = await asyncio.to_thread(load)
    found = 0
    for query in queries:
        exact = set(keys[np.argpartition(-(matrix @ query), 10)[:10]].tolist())
        found += len(exact & {k for k, _ in entry.index.search(query, 10)})
    return round(found / (10 * len(queries)), 4)


async def bench_recall_text(size: int, queries: int = 200) -> dict[str, Any]:
    """Recall-store full-text search latency at ``size`` messages."""
    from memgpt.storage.sqlite import SqliteStore

    with tempfile.TemporaryDirectory() as tmp:
        store = await SqliteStore.open(Path(tmp) / "bench.db", embedder=None)
        state = AgentState(name="bench", model="none", context_window=8000)
        await store.create_agent(state)
        for start in range(0, size, 5000):
            batch = [Message(role="user", content=synthetic_text(i)) for i in range(start, min(size, start + 5000))]
            await store.append_messages(state.id, batch)
        latencies = []
        for q in range(queries):
            text = synthetic_text(size + q, words=3)
            t = time.perf_counter()
            await store.search_messages(state.id, text, page_size=5, mode="text")
            latencies.append(time.perf_counter() - t)
        await store.close()
    return {"messages": size, "text_search": percentiles(latencies)}


async def bench_local_embedding(texts: Sequence[str]) -> dict[str, Any]:
    """Throughput of the local model on ``texts`` and its single-query latency."""
    from memgpt.embeddings.local import LocalEmbedder

    model = LocalEmbedder()
    t = time.perf_counter()
    model.encode(["load"])
    load = time.perf_counter() - t
    t = time.perf_counter()
    model.encode(list(texts))
    rate = len(texts) / (time.perf_counter() - t)
    latencies = []
    for i in range(50):
        t = time.perf_counter()
        model.encode([f"what did we say about topic {i} last week?"])
        latencies.append(time.perf_counter() - t)
    return {"load_s": round(load, 2), "passages_per_s": round(rate, 1), "query": percentiles(latencies)}


class _TimedLLM:
    """Wraps an LLM client and accumulates the time spent inside ``chat``."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.model = inner.model
        self.seconds = 0.0

    async def chat(self, request: Any, on_delta: Any = None) -> Any:
        t = time.perf_counter()
        try:
            return await self.inner.chat(request, on_delta)
        finally:
            self.seconds += time.perf_counter() - t

    async def close(self) -> None:
        await self.inner.close()


def _reply_policy(search_every: int) -> Callable[[dict[str, Any]], dict[str, Any]]:
    counter = {"n": 0}

    def policy(body: dict[str, Any]) -> dict[str, Any]:
        counter["n"] += 1
        last = body["messages"][-1]
        if last["role"] == "user" and search_every and counter["n"] % search_every == 0:
            args = {"query": "ka1 lo7 notes", "request_heartbeat": True}
            return {"tool_calls": [{"name": "archival_memory_search", "arguments": args}]}
        return {"tool_calls": [{"name": "send_message", "arguments": {"message": "Noted, thank you."}}]}

    return policy


async def bench_step(recall: int, archival: int, steps: int = 200) -> dict[str, Any]:
    """Time per step outside the LLM call, with a zero-latency in-process scripted LLM."""
    from memgpt.client import Client
    from memgpt.storage.sqlite import SqliteStore
    from memgpt.testing.scripted import ScriptedLLM

    with tempfile.TemporaryDirectory() as tmp:
        embedder = SyntheticEmbedder()
        store = await SqliteStore.open(Path(tmp) / "bench.db", embedder=embedder)
        llm = _TimedLLM(ScriptedLLM(_reply_policy(search_every=4)))
        client = Client(store, llm=llm)
        state = await client.create_agent("bench", model="openai/gpt-4o-mini", context_window=128_000)
        for start in range(0, recall, 5000):
            batch = [Message(role="user", content=synthetic_text(i)) for i in range(start, min(recall, start + 5000))]
            await store.append_messages(state.id, batch)
        await store.embed_pending_messages(state.id, limit=recall)
        await _insert_passages(store, state.id, archival)
        await store.search_passages(state.id, "warm up")
        outside: list[float] = []
        for i in range(steps):
            llm.seconds = 0.0
            t = time.perf_counter()
            events = await client.send_message("bench", f"Step {i}: here is another fact about item {i}.")
            total = time.perf_counter() - t
            llm_calls = sum(e.type == "usage" for e in events)
            outside.append((total - llm.seconds) / max(1, llm_calls))
        await client.close()
    return {"recall_messages": recall, "archival_passages": archival, "step_outside_llm": percentiles(outside)}


async def bench_http_round_trip(messages: int = 50) -> dict[str, Any]:
    """Whole message time through the public Client with the scripted LLM over real HTTP."""
    from memgpt.client import Client
    from memgpt.llm.openai_compat import OpenAICompatibleClient
    from memgpt.testing.fake_llm import FakeLLMServer

    reply = {"tool_calls": [{"name": "send_message", "arguments": {"message": "Noted, thank you."}}]}
    with tempfile.TemporaryDirectory() as tmp, FakeLLMServer({"replies": [], "default": reply}) as server:
        llm = OpenAICompatibleClient("scripted", base_url=server.base_url, max_retries=0)
        client = await Client.open(f"sqlite:///{Path(tmp) / 'bench.db'}", embedder=None, llm=llm)
        await client.create_agent("bench", model="openai/gpt-4o-mini")
        await client.send_message("bench", "warm up")
        latencies = []
        for i in range(messages):
            t = time.perf_counter()
            await client.send_message("bench", f"Message {i}")
            latencies.append(time.perf_counter() - t)
        await client.close()
    return {"message_end_to_end": percentiles(latencies)}


async def fresh_context_tokens() -> dict[str, Any]:
    """Tokens (characters/4 of the request's messages and tools JSON) of a fresh agent's first call."""
    from memgpt.client import Client
    from memgpt.storage.sqlite import SqliteStore
    from memgpt.testing.scripted import ScriptedLLM

    llm = ScriptedLLM([{"tool_calls": [{"name": "send_message", "arguments": {"message": "hi"}}]}])
    with tempfile.TemporaryDirectory() as tmp:
        store = await SqliteStore.open(Path(tmp) / "bench.db", embedder=None)
        client = Client(store, llm=llm)
        await client.create_agent("fresh", model="openai/gpt-4o-mini", persona="", human="")
        await client.send_message("fresh", "hi")
        await client.close()
    body = llm.requests[0]
    messages = json.dumps(body["messages"][:1])  # system message only: the fixed cost before any conversation
    tools = json.dumps(body["tools"])
    return {
        "system_chars": len(messages),
        "tools_chars": len(tools),
        "tokens_chars_over_4": round((len(messages) + len(tools)) / 4),
        "functions": len(body["tools"]),
    }


def bench_cli_startup(runs: int = 15) -> dict[str, Any]:
    """Median wall time of ``memgpt --help`` in a fresh interpreter."""
    command = [sys.executable, "-m", "memgpt.cli.main", "--help"]
    subprocess.run(command, capture_output=True, check=True)
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True)
        samples.append(time.perf_counter() - t)
    return {"memgpt_help": percentiles(samples)}


def write_results(path: Path, title: str, results: dict[str, Any]) -> None:
    """Append one run (machine, date, commit, figures) to a Markdown results file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    info = machine()
    lines = [
        f"## {title} — {info['date']}",
        "",
        f"- machine: {info['cpu']}, {info['cores']} cores, Python {info['python']}, {info['platform']}",
        f"- commit: {info['commit']}",
        "",
        "```json",
        json.dumps(results, indent=2),
        "```",
        "",
    ]
    with path.open("a", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
