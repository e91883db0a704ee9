"""PostgreSQL backend benchmarks; results are appended to ``benchmarks/results/postgres.md``.

    python benchmarks/postgres.py archival --size 100000     # hybrid search p50/p95, vector recall@10, HNSW build
    python benchmarks/postgres.py steps --agents 50 --procs 4 --inputs 5
    python benchmarks/postgres.py copy --rows 100000         # db copy rows/s, SQLite -> PostgreSQL -> SQLite

The server is ``$MEMGPT_TEST_POSTGRES_URL`` (each run creates and drops its own database) or a throwaway
pgserver. Vectors are synthetic (clustered, 384-d) as in ``memgpt bench store``; query embeddings are
computed before timing, so latencies exclude them.
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
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from memgpt.evals.bench import SyntheticEmbedder, percentiles, synthetic_text, write_results
from memgpt.memory.agent_state import AgentState
from memgpt.memory.types import Message, Passage

RESULTS = Path("benchmarks/results/postgres.md")


class PrecomputedEmbedder(SyntheticEmbedder):
    """The synthetic embedder with query vectors computed ahead, so timed searches exclude embedding."""

    def __init__(self) -> None:
        self.cache: dict[str, np.ndarray] = {}

    def prepare(self, texts: Sequence[str]) -> None:
        for text, vector in zip(texts, self.encode(texts), strict=True):
            self.cache[text] = vector

    async def embed(self, texts: Sequence[str]) -> Any:
        if all(t in self.cache for t in texts):
            return np.stack([self.cache[t] for t in texts])
        return await super().embed(texts)


def server_url() -> tuple[str, Callable[[], None]]:
    from tests.storage.pgserver_fixture import start_pgserver

    given = os.environ.get("MEMGPT_TEST_POSTGRES_URL")
    if given:
        return given, lambda: None
    return start_pgserver()


async def load_passages(url: str, agent_id: str, size: int, batch: int = 10_000) -> float:
    """Write ``size`` synthetic passages with embeddings into the agent; returns seconds (embedding excluded)."""
    from memgpt.storage.postgres import PostgresStore

    embedder = SyntheticEmbedder()
    target = await PostgresStore.open(url)
    spent = 0.0
    try:
        for start in range(0, size, batch):
            texts = [synthetic_text(i) for i in range(start, min(size, start + batch))]
            vectors = embedder.encode(texts)
            now = datetime.now(UTC)
            rows = [
                {"id": f"passage-{start + i}", "agent_id": agent_id, "text": t, "metadata": None, "created_at": now}
                | {"embedding": vectors[i]}
                for i, t in enumerate(texts)
            ]
            t0 = time.perf_counter()
            await target.write_rows("passages", rows)
            spent += time.perf_counter() - t0
    finally:
        await target.close()
    return spent


async def bench_archival(
    url: str,
    size: int,
    queries: int,
    workers: int,
    memory: str,
    ef_sweep: tuple[int, ...] = (),
    text_caps: tuple[int, ...] = (),
) -> dict[str, Any]:
    from memgpt.storage.postgres import PostgresStore
    from memgpt.storage.postgres import migrations as pg_schema
    from memgpt.storage.postgres.connection import EF_SEARCH_MIN
    from memgpt.storage.postgres.vectors import ann_search, ensure_vector_indexes, exact_search

    setup = await PostgresStore.open(url)  # no embedder yet: no HNSW index while loading
    state = AgentState(name="bench", model="none", context_window=8000)
    await setup.create_agent(state)
    await setup.close()
    load_s = await load_passages(url, state.id, size)
    async with await pg_schema.connect(url) as conn:
        await conn.execute("VACUUM ANALYZE passages")
        t0 = time.perf_counter()
        await ensure_vector_indexes(conn, 384, build_workers=workers, build_memory=memory)
        build_s = time.perf_counter() - t0
    embedder = PrecomputedEmbedder()
    texts = [synthetic_text(size + 10 + q, words=6) for q in range(queries)]
    embedder.prepare(texts)
    store = await PostgresStore.open(url, embedder=embedder)
    try:
        for text in texts[:10]:  # warm the caches
            await store.search_passages(state.id, text, page_size=10)
        hybrid, semantic = [], []
        for text in texts:
            t0 = time.perf_counter()
            await store.search_passages(state.id, text, page_size=10, mode="hybrid")
            hybrid.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            await store.search_passages(state.id, text, page_size=10, mode="semantic")
            semantic.append(time.perf_counter() - t0)
        probes = texts[:100]
        truths = [
            {seq for seq, _ in await store.run(exact_search("passages", [state.id], embedder.cache[t], 10))}
            for t in probes
        ]
        sweep: dict[str, dict[str, float]] = {}
        for ef in sorted({EF_SEARCH_MIN, *ef_sweep}):
            found, times = 0, []
            for text, truth in zip(probes, truths, strict=True):
                t0 = time.perf_counter()
                ann = await store.run(ann_search("passages", [state.id], embedder.cache[text], 10, ef, 384))
                times.append(time.perf_counter() - t0)
                found += len(truth & {seq for seq, _ in ann})
            sweep[str(ef)] = {"recall_at_10": round(found / (10 * len(probes)), 4), **percentiles(times)}
        caps = await text_cap_sweep(store, state.id, texts, text_caps)
    finally:
        await store.close()
    return {
        "passages": size,
        "hybrid_search": percentiles(hybrid),
        "semantic_search": percentiles(semantic),
        "vector_recall_at_10_vs_exact": sweep[str(EF_SEARCH_MIN)]["recall_at_10"],
        "ann_by_ef_search": sweep,
        "hybrid_by_text_rank_cap": caps,
        "copy_load_rows_per_s": round(size / load_s),
        "hnsw_build_s": round(build_s, 1),
        "hnsw_build": {"workers": workers, "maintenance_work_mem": memory, "m": 16, "ef_construction": 64},
    }


async def text_cap_sweep(store: Any, agent_id: str, texts: Sequence[str], caps: Sequence[int]) -> dict[str, Any]:
    """Hybrid latency when terms matching more than ``cap`` rows are left unranked, and how much of the top 10
    stays the same as with the default cap (the cost in quality of a smaller cap)."""
    from memgpt.storage.postgres.text_search import TS_RANK_MAX_MATCHES, FullTextSearch

    default = store.full_text
    reference = [
        [h.id for h in (await store.search_passages(agent_id, t, page_size=10, mode="hybrid")).hits] for t in texts
    ]
    found: dict[str, Any] = {}
    try:
        for cap in caps:
            store.full_text = FullTextSearch(max_matches=cap)
            times, same = [], 0
            for text, expected in zip(texts, reference, strict=True):
                t0 = time.perf_counter()
                page = await store.search_passages(agent_id, text, page_size=10, mode="hybrid")
                times.append(time.perf_counter() - t0)
                same += len(set(expected) & {h.id for h in page.hits})
            found[str(cap)] = {
                "top10_same_as_default": round(same / (10 * len(texts)), 4),
                "default_cap": TS_RANK_MAX_MATCHES,
                **percentiles(times),
            }
    finally:
        store.full_text = default
    return found


STEP_WORKER = """
import asyncio, json, sys, time
from memgpt.client import Client
from memgpt.evals.bench import SyntheticEmbedder
from memgpt.testing.scripted import ScriptedLLM

url = sys.argv[1]
proc, agents, inputs, concurrency = (int(a) for a in sys.argv[2:6])

def policy(body):
    if body["messages"][-1]["role"] == "user":
        args = {"label": "human", "content": "noted", "request_heartbeat": True}
        return {"tool_calls": [{"name": "core_memory_append", "arguments": args}]}
    return {"tool_calls": [{"name": "send_message", "arguments": {"message": "ok"}}]}

class Timed:
    def __init__(self, store):
        self.store, self.waits = store, {}
    def __getattr__(self, name):
        return getattr(self.store, name)
    def lock_agent(self, agent_id, *, timeout=60.0):
        store, waits = self.store, self.waits
        class Hold:
            async def __aenter__(self):
                t = time.perf_counter()
                self.cm = store.lock_agent(agent_id, timeout=timeout)
                await self.cm.__aenter__()
                waits[asyncio.current_task()] = time.perf_counter() - t
            async def __aexit__(self, *exc):
                return await self.cm.__aexit__(*exc)
        return Hold()

async def drive(client, timed, llm_time, name, samples, gate):
  async with gate:
    for i in range(inputs):
        t = time.perf_counter()
        llm_time[asyncio.current_task()] = 0.0
        events = await client.send_message(name, f"process {proc} input {i} for {name}")
        total = time.perf_counter() - t
        calls = sum(e.type == "usage" for e in events)
        task = asyncio.current_task()
        samples.append((total - timed.waits.pop(task, 0.0) - llm_time.pop(task, 0.0)) / max(1, calls))

async def main():
    from memgpt.storage.postgres import PostgresStore
    store = await PostgresStore.open(url, embedder=SyntheticEmbedder(), pool_size=8)
    timed = Timed(store)
    llm_time = {}
    inner = ScriptedLLM(policy)
    class LLM:
        model = "scripted"
        async def chat(self, request, on_delta=None):
            t = time.perf_counter()
            try:
                return await inner.chat(request, on_delta)
            finally:
                llm_time[asyncio.current_task()] = llm_time.get(asyncio.current_task(), 0.0) + time.perf_counter() - t
        async def close(self):
            pass
    client = Client(timed, llm=LLM())
    samples = []
    print("ready", flush=True)
    sys.stdin.readline()
    t = time.perf_counter()
    gate = asyncio.Semaphore(concurrency)
    await asyncio.gather(*(drive(client, timed, llm_time, f"agent{a}", samples, gate) for a in range(agents)))
    wall = time.perf_counter() - t
    await client.close()
    print(json.dumps({"wall": wall, "samples": samples, "calls": 2 * agents * inputs}), flush=True)

asyncio.run(main())
"""


def run_step_workers(
    url: str, agents: int, procs: int, inputs: int, concurrency: int
) -> tuple[list[dict[str, Any]], float]:
    """Start the worker processes, release them together, and collect their timings and wall time."""
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", STEP_WORKER, url, str(p), str(agents), str(inputs), str(concurrency)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for p in range(procs)
    ]
    for w in workers:
        assert w.stdout is not None and w.stdout.readline().strip() == "ready"
    t0 = time.perf_counter()
    for w in workers:
        assert w.stdin is not None
        w.stdin.write("go\n")
        w.stdin.flush()
    outputs = [json.loads(w.communicate(timeout=3600)[0].strip().splitlines()[-1]) for w in workers]
    return outputs, time.perf_counter() - t0


async def bench_steps(url: str, agents: int, procs: int, inputs: int, concurrency: int) -> dict[str, Any]:
    from memgpt.client import Client

    setup = await Client.open(url, embedder=SyntheticEmbedder())
    for a in range(agents):
        await setup.create_agent(f"agent{a}", model="openai/gpt-4o-mini", context_window=128_000, human="")
    await setup.close()
    outputs, wall = await asyncio.to_thread(run_step_workers, url, agents, procs, inputs, concurrency)
    samples = [s for out in outputs for s in out["samples"]]
    calls = sum(out["calls"] for out in outputs)
    check = await exactly_once(url, agents, procs, inputs)
    return {
        "agents": agents,
        "processes": procs,
        "inputs_per_agent_per_process": inputs,
        "agents_in_flight_per_process": concurrency,
        "llm_calls": calls,
        "steps_per_s": round(calls / wall, 1),
        # per LLM call, wall time outside the LLM and the lock wait (includes queueing for the event loop and
        # the connection pool when many agents run in one process)
        "step_outside_llm_and_lock_wait": percentiles(samples),
        "wall_s": round(wall, 1),
        "exactly_once": check,
    }


async def exactly_once(url: str, agents: int, procs: int, inputs: int) -> dict[str, Any]:
    """Every input stored once, with its reply chain, and each agent's memory edited once per input."""
    from memgpt.client import Client

    client = await Client.open(url, embedder=None)
    problems = 0
    try:
        for a in range(agents):
            name = f"agent{a}"
            messages = await client.list_messages(name, limit=1_000_000)
            users = [m.content for m in messages if m.role == "user"]
            expected = {f"process {p} input {i} for {name}" for p in range(procs) for i in range(inputs)}
            human = {b.label: b.value for b in await client.get_memory(name)}["human"]
            ok = (
                len(users) == len(expected) == len(set(users))
                and set(users) == expected
                and len(messages) == 5 * len(expected)
                and len({m.id for m in messages}) == len(messages)
                and human.count("noted") == len(expected)
            )
            problems += not ok
    finally:
        await client.close()
    return {"agents_checked": agents, "agents_with_problems": problems, "ok": problems == 0}


async def fill_sqlite(path: Path, rows: int) -> None:
    from memgpt.storage.sqlite import SqliteStore

    embedder = SyntheticEmbedder()
    store = await SqliteStore.open(path, embedder=embedder)
    state = AgentState(name="bench", model="none", context_window=8000)
    await store.create_agent(state)
    for start in range(0, rows, 10_000):
        texts = [synthetic_text(i, words=40) for i in range(start, min(rows, start + 10_000))]
        await store.append_messages(state.id, [Message(role="user", content=t) for t in texts])
        await store.embed_pending_messages(state.id, limit=10_000)
        await store.insert_passages(state.id, [Passage(text=t) for t in texts])
    await store.close()


async def bench_copy(url: str, rows: int) -> dict[str, Any]:
    from memgpt.storage.copy import copy_store

    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "source.db"
        await fill_sqlite(source, rows)
        to_pg = await copy_store(f"sqlite:///{source}", url)
        back = await copy_store(url, f"sqlite:///{Path(tmp) / 'back.db'}")
    return {
        "messages": rows,
        "passages": rows,
        "embeddings": "384-d float32 on every row",
        "sqlite_to_postgres_rows_per_s": round(to_pg.rows_per_second),
        "sqlite_to_postgres_s": round(to_pg.seconds, 1),
        "of_which_hnsw_index_build_s": round(to_pg.index_seconds, 1),
        "sqlite_to_postgres_rows_per_s_before_index_build": round(
            (to_pg.messages + to_pg.passages) / (to_pg.seconds - to_pg.index_seconds)
        ),
        "postgres_to_sqlite_rows_per_s": round(back.rows_per_second),
        "postgres_to_sqlite_s": round(back.seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    archival = sub.add_parser("archival")
    archival.add_argument("--size", type=int, default=100_000)
    archival.add_argument("--queries", type=int, default=200)
    archival.add_argument("--workers", type=int, default=2)
    archival.add_argument("--memory", default="2GB")
    archival.add_argument(
        "--ef-sweep",
        type=lambda v: [int(x) for x in v.split(",")],
        default=[],
        help="also measure these hnsw.ef_search",
    )
    archival.add_argument(
        "--text-caps",
        type=lambda v: [int(x) for x in v.split(",")],
        default=[],
        help="also measure hybrid search with these caps on the matches a term may have to be ranked",
    )
    steps = sub.add_parser("steps")
    steps.add_argument("--agents", type=int, default=50)
    steps.add_argument("--procs", type=int, default=4)
    steps.add_argument("--inputs", type=int, default=5)
    steps.add_argument("--concurrency", type=int, default=50, help="agents each process drives at once")
    copy = sub.add_parser("copy")
    copy.add_argument("--rows", type=int, default=100_000)
    for command in (archival, steps, copy):
        command.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()

    from tests.storage.pgserver_fixture import create_database, drop_database

    admin, stop = server_url()
    url = create_database(admin)
    try:
        if args.what == "archival":
            result = asyncio.run(
                bench_archival(
                    url, args.size, args.queries, args.workers, args.memory, tuple(args.ef_sweep), tuple(args.text_caps)
                )
            )
        elif args.what == "steps":
            result = asyncio.run(bench_steps(url, args.agents, args.procs, args.inputs, args.concurrency))
        else:
            result = asyncio.run(bench_copy(url, args.rows))
    finally:
        drop_database(admin, url)
        stop()
    result["server"] = "PostgreSQL 16.2 + pgvector 0.6.2 (pgserver 0.1.4), Unix socket, default settings"
    result["load_average_1_5_15_at_end"] = [round(x, 1) for x in os.getloadavg()]  # other work on the machine
    print(json.dumps(result, indent=2))
    write_results(args.output, f"postgres {args.what}", result)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
