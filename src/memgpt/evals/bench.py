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
    changed = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True)
    if commit and changed.stdout.strip():
        commit += "+uncommitted"
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "commit": commit or "unknown",
        "load_average_1m": round(os.getloadavg()[0], 2),  # timings taken on a busy machine say so
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
    exact = await store.vector_ranking_exact("passages", agent_id, np.asarray(queries), 10)
    found = 0
    for query, truth in zip(queries, exact, strict=True):
        approximate = {seq for seq, _ in await store.vector_ranking("passages", [agent_id], query, 10)}
        found += len(set(truth) & approximate)
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
    """Answer every message; every ``search_every``-th input first searches, alternating archival and recall."""
    counter = {"n": 0}

    def policy(body: dict[str, Any]) -> dict[str, Any]:
        counter["n"] += 1
        last = body["messages"][-1]
        if last["role"] == "user" and search_every and counter["n"] % search_every == 0:
            searches = counter["n"] // search_every
            name = "archival_memory_search" if searches % 2 else "conversation_search"
            args = {"query": "ka1 lo7 notes", "request_heartbeat": True}
            return {"tool_calls": [{"name": name, "arguments": args}]}
        return {"tool_calls": [{"name": "send_message", "arguments": {"message": "Noted, thank you."}}]}

    return policy


async def bench_step(recall: int, archival: int, steps: int = 200) -> dict[str, Any]:
    """Time per LLM call spent outside the LLM (zero-latency in-process scripted LLM).

    Every fourth input searches first (archival and recall alternately), so the figure includes search.
    """
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


async def bench_ingest(passages: int = 20_000, messages: int = 20_000, local_sample: int = 64) -> dict[str, Any]:
    """Rows/s through the public Client: archival inserts and message imports with synthetic embeddings
    (their cost included), and archival inserts embedded by the local model on a small sample."""
    from memgpt.embeddings import local_model_available

    results: dict[str, Any] = {
        "passages_synthetic_per_s": await _ingest_rate(SyntheticEmbedder(), passages, 1000, archival=True),
        "messages_synthetic_per_s": await _ingest_rate(SyntheticEmbedder(), messages, 1000, archival=False),
        "sizes": {"passages": passages, "messages": messages, "words_per_text": 60},
    }
    if local_model_available():
        from memgpt.embeddings.local import LocalEmbedder

        results["passages_local_model_per_s"] = await _ingest_rate(LocalEmbedder(), local_sample, 32, archival=True)
        results["sizes"]["local_model_sample"] = local_sample
    return results


async def _ingest_rate(embedder: Any, count: int, batch: int, *, archival: bool) -> float:
    from memgpt.client import Client
    from memgpt.storage.sqlite import SqliteStore

    with tempfile.TemporaryDirectory() as tmp:
        client = Client(await SqliteStore.open(Path(tmp) / "bench.db", embedder=embedder))
        await client.create_agent("ingest", model="openai/gpt-4o-mini")
        started = time.perf_counter()
        for start in range(0, count, batch):
            texts = [synthetic_text(i, words=60) for i in range(start, min(count, start + batch))]
            if archival:
                await client.insert_passages("ingest", texts)
            else:
                await client.import_messages("ingest", [Message(role="user", content=t) for t in texts])
        elapsed = time.perf_counter() - started
        await client.close()
    return round(count / elapsed, 1)


def _rss_kib() -> dict[str, int]:
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(("VmRSS", "VmHWM")):
            name, value = line.split(":", 1)
            fields[name] = int(value.split()[0])
    return {"rss_kib": fields.get("VmRSS", 0), "peak_kib": fields.get("VmHWM", 0)}


async def agent_rss_child(recall: int, archival: int, local_model: bool, steps: int) -> dict[str, Any]:
    """Run in a fresh interpreter by :func:`bench_agent_rss`: load an agent, run ``steps`` inputs, read RSS."""
    from memgpt.client import Client
    from memgpt.storage.sqlite import SqliteStore
    from memgpt.testing.scripted import ScriptedLLM

    baseline = _rss_kib()
    embedder: Any = SyntheticEmbedder()
    if local_model:
        from memgpt.embeddings.local import LocalEmbedder

        embedder = LocalEmbedder()
    with tempfile.TemporaryDirectory() as tmp:
        store = await SqliteStore.open(Path(tmp) / "bench.db", embedder=embedder)
        client = Client(store, llm=ScriptedLLM(_reply_policy(search_every=2)))
        state = await client.create_agent("rss", model="openai/gpt-4o-mini", context_window=128_000)
        for start in range(0, recall, 5000):
            batch = [Message(role="user", content=synthetic_text(i)) for i in range(start, min(recall, start + 5000))]
            await store.append_messages(state.id, batch)
        await store.embed_pending_messages(state.id, limit=recall)
        await _insert_passages(store, state.id, archival)
        for i in range(steps):
            await client.send_message("rss", f"Message {i} about item {i}.")
        after = _rss_kib()
        await client.close()
    return {
        "recall_messages": recall,
        "archival_passages": archival,
        "embedder": embedder.name,
        "rss_at_start_mib": round(baseline["rss_kib"] / 1024, 1),
        "rss_running_mib": round(after["rss_kib"] / 1024, 1),
        "peak_mib": round(after["peak_kib"] / 1024, 1),
    }


def bench_agent_rss(recall: int, archival: int, *, local_model: bool = False, steps: int = 20) -> dict[str, Any]:
    """Resident memory of a process running one agent, measured in a fresh interpreter."""
    code = (
        "import asyncio, json, sys; from memgpt.evals.bench import agent_rss_child; "
        "print(json.dumps(asyncio.run(agent_rss_child(*json.loads(sys.argv[1])))))"
    )
    args = json.dumps([recall, archival, local_model, steps])
    done = subprocess.run([sys.executable, "-c", code, args], capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


SERVER_NOTE = "not measured: memgpt has no server yet (`memgpt server` is a later issue)"


async def bench_scale(
    recall_sizes: Sequence[int],
    archival_sizes: Sequence[int],
    *,
    steps: int = 100,
    queries: int = 100,
    ingest_rows: int = 20_000,
) -> dict[str, Any]:
    """Step time outside the LLM and search latency against store size, ingest rate, start-up and memory."""
    results: dict[str, Any] = {
        "step_vs_recall": [await bench_step(n, 0, steps) for n in recall_sizes],
        "step_vs_archival": [await bench_step(0, n, steps) for n in archival_sizes],
        "recall_text_search": [await bench_recall_text(n, queries) for n in recall_sizes],
        "archival_hybrid_search": [await bench_archival(n, queries) for n in archival_sizes],
        "ingest": await bench_ingest(ingest_rows, ingest_rows),
        "cli_startup": bench_cli_startup(),
    }
    from memgpt.embeddings import local_model_available

    memory = [bench_agent_rss(max(recall_sizes), max(archival_sizes))]
    if local_model_available():
        memory.append(bench_agent_rss(0, 0, local_model=True))
    results["agent_memory"] = memory
    results["server_memory"] = SERVER_NOTE
    return results


def plot_scale(results: dict[str, Any], output: Path) -> list[str]:
    """PNG curves of :func:`bench_scale` results beside ``output``: ``<stem>_step.png``, ``<stem>_search.png``."""
    from memgpt.evals.report import PLOTS_HINT, plot_curves

    def points(rows: list[dict[str, Any]], size: str, measure: str, stat: str) -> list[tuple[float, float]]:
        return [(row[size], row[measure][stat]) for row in rows]

    step = {
        f"{stat} vs recall messages": points(results["step_vs_recall"], "recall_messages", "step_outside_llm", stat)
        for stat in ("p50_ms", "p95_ms")
    } | {
        f"{stat} vs archival passages": points(
            results["step_vs_archival"], "archival_passages", "step_outside_llm", stat
        )
        for stat in ("p50_ms", "p95_ms")
    }
    search = {
        f"recall full-text {stat}": points(results["recall_text_search"], "messages", "text_search", stat)
        for stat in ("p50_ms", "p95_ms")
    } | {
        f"archival hybrid {stat}": points(results["archival_hybrid_search"], "passages", "hybrid_search", stat)
        for stat in ("p50_ms", "p95_ms")
    }
    written = [
        plot_curves(
            output.with_name(f"{output.stem}_step.png"),
            "Step time outside the LLM",
            "rows in the store",
            "ms per call",
            step,
            logy=True,
        ),
        plot_curves(
            output.with_name(f"{output.stem}_search.png"),
            "Search latency",
            "rows in the store",
            "ms per search",
            search,
            logy=True,
        ),
    ]
    return [w or PLOTS_HINT for w in written]


def write_results(path: Path, title: str, results: dict[str, Any]) -> None:
    """Append one run (machine, date, commit, figures) to a Markdown results file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    info = machine()
    lines = [
        f"## {title} — {info['date']}",
        "",
        f"- machine: {info['cpu']}, {info['cores']} cores, Python {info['python']}, {info['platform']}",
        f"- commit: {info['commit']}, load average (1 min) {info['load_average_1m']}",
        "",
        "```json",
        json.dumps(results, indent=2),
        "```",
        "",
    ]
    with path.open("a", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
