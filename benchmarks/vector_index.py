"""Approximate nearest-neighbour indexes against exact search, on synthetic clustered 384-d vectors.

Measures, per index configuration and size: build time, memory, single-query top-10 latency (p50/p95)
and recall@10 against exact inner-product search, over a sweep of search expansions (``ef``). The
project's own :class:`memgpt.storage.sqlite.vector_index.VectorIndex` (with its size-scaled ``ef``) is
measured beside the raw libraries. hnswlib is optional: a configuration whose library is missing is
skipped.

The vectors follow ``memgpt bench store``: 512 Gaussian cluster centres plus noise, unit length,
which is harder for a graph index than real sentence embeddings (see the results file)::

    python benchmarks/vector_index.py --sizes 100000 \\
        --configs usearch:f32:16:128,usearch:f32:16:64,usearch:f16:16:128,hnswlib:16:128,project
    python benchmarks/vector_index.py --sizes 1000000 --configs project --ef 128,256,512

Results are appended to ``benchmarks/results/vector_index.md`` (machine, date, commit).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

DIM = 384
CLUSTERS = 512
QUERIES = 200
K = 10

Search = Callable[[np.ndarray], np.ndarray]


def clustered(count: int, seed: int) -> np.ndarray:
    """Unit vectors around 512 fixed centres (noise 0.6 per dimension), as in ``memgpt bench store``."""
    centres = np.random.default_rng(7).normal(size=(CLUSTERS, DIM)).astype(np.float32)
    rng = np.random.default_rng(seed)
    out = np.empty((count, DIM), dtype=np.float32)
    for start in range(0, count, 100_000):
        n = min(100_000, count - start)
        block = centres[rng.integers(0, CLUSTERS, size=n)] + rng.normal(scale=0.6, size=(n, DIM)).astype(np.float32)
        out[start : start + n] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def exact_top(data: np.ndarray, queries: np.ndarray, k: int = K) -> np.ndarray:
    scores = queries @ data.T
    top = np.argpartition(-scores, k, axis=1)[:, :k]
    return np.take_along_axis(top, np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1), axis=1)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(search: Search, queries: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    latencies, found = [], 0
    for query, expected in zip(queries, truth, strict=True):
        t = time.perf_counter()
        keys = search(query)
        latencies.append(time.perf_counter() - t)
        found += len(set(expected.tolist()) & set(np.asarray(keys).tolist()))
    ordered = sorted(latencies)
    return {
        "p50_ms": round(1000 * statistics.median(ordered), 3),
        "p95_ms": round(1000 * ordered[int(0.95 * (len(ordered) - 1))], 3),
        "recall_at_10": round(found / truth.size, 4),
    }


def build_usearch(data: np.ndarray, dtype: str, m: int, efc: int) -> tuple[Any, Callable[[int], Search]]:
    from usearch.index import Index

    index: Any = Index(ndim=DIM, metric="ip", dtype=dtype, connectivity=m, expansion_add=efc)
    index.add(np.arange(len(data), dtype=np.uint64), data, threads=0)

    def searcher(ef: int) -> Search:
        index.expansion_search = ef
        return lambda q: index.search(q, K).keys

    return index, searcher


def build_hnswlib(data: np.ndarray, m: int, efc: int) -> tuple[Any, Callable[[int], Search]]:
    import hnswlib

    index = hnswlib.Index(space="ip", dim=DIM)
    index.init_index(max_elements=len(data), M=m, ef_construction=efc)
    index.add_items(data, np.arange(len(data)), num_threads=os.cpu_count() or 1)

    def searcher(ef: int) -> Search:
        index.set_ef(max(ef, K))
        return lambda q: index.knn_query(q, k=K)[0][0]

    return index, searcher


def build_project(data: np.ndarray) -> tuple[Any, Callable[[int], Search]]:
    from memgpt.storage.sqlite.vector_index import VectorIndex

    index = VectorIndex(DIM)
    for start in range(0, len(data), 10_000):  # as the SQLite store catches up: 10k rows at a time
        index.add(np.arange(start, min(len(data), start + 10_000)), data[start : start + 10_000])

    def searcher(_ef: int) -> Search:
        return lambda q: np.array([key for key, _ in index.search(q, K)])

    return index, searcher


def run_config(config: str, data: np.ndarray, queries: np.ndarray, truth: np.ndarray, efs: list[int]) -> dict[str, Any]:
    parts = config.split(":")
    gc.collect()
    before = rss_mb()
    t = time.perf_counter()
    if parts[0] == "usearch":
        index, searcher = build_usearch(data, parts[1], int(parts[2]), int(parts[3]))
    elif parts[0] == "hnswlib":
        index, searcher = build_hnswlib(data, int(parts[1]), int(parts[2]))
    elif parts[0] == "project":
        index, searcher = build_project(data)
        efs = [0]  # the project's index picks its own ef
    else:
        raise SystemExit(f"unknown configuration {config!r}")
    build_s = time.perf_counter() - t
    result: dict[str, Any] = {
        "config": config,
        "build_s": round(build_s, 1),
        "memory_mb": round(rss_mb() - before),
        "search": {},
    }
    if parts[0] == "project":
        result["ef_used"] = index.expansion_search
    for ef in efs:
        result["search"][str(ef)] = measure(searcher(ef), queries, truth)
    del index
    return result


def exact_row(data: np.ndarray, queries: np.ndarray, truth: np.ndarray) -> dict[str, Any]:
    def search(q: np.ndarray) -> np.ndarray:
        scores = data @ q
        top = np.argpartition(-scores, K)[:K]
        return top[np.argsort(-scores[top])]

    return {"config": "exact numpy", "build_s": 0.0, "memory_mb": 0, "search": {"-": measure(search, queries, truth)}}


def markdown(size: int, rows: list[dict[str, Any]]) -> str:
    lines = [
        f"### {size:,} vectors\n",
        "| index | build s | memory MB | ef | p50 ms | p95 ms | recall@10 |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        for ef, s in row["search"].items():
            shown = f"auto ({row['ef_used']})" if "ef_used" in row else ef
            lines.append(
                f"| {row['config']} | {row['build_s']} | {row['memory_mb']} | {shown} | {s['p50_ms']} "
                f"| {s['p95_ms']} | {s['recall_at_10']} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000")
    parser.add_argument("--configs", default="usearch:f32:16:128,hnswlib:16:128,project")
    parser.add_argument("--ef", default="64,128,256", help="search expansions swept for the raw libraries")
    parser.add_argument("--no-exact", action="store_true", help="skip timing exact search")
    parser.add_argument("--output", default=str(Path(__file__).parent / "results" / "vector_index.md"))
    args = parser.parse_args()
    efs = [int(e) for e in args.ef.split(",")]
    from memgpt.evals.bench import machine

    info = machine()
    text = [
        f"## vector index — {info['date']}\n",
        f"- machine: {info['cpu']}, {info['cores']} cores (shared with other work), Python {info['python']}, "
        f"commit {info['commit']}",
        f"- {QUERIES} held-out queries from the same distribution; recall@10 against exact inner-product search\n",
    ]
    for size in (int(s) for s in args.sizes.split(",")):
        data = clustered(size, seed=1)
        queries = clustered(QUERIES, seed=2)
        truth = exact_top(data, queries)
        rows = [] if args.no_exact else [exact_row(data, queries, truth)]
        for config in args.configs.split(","):
            try:
                rows.append(run_config(config, data, queries, truth, efs))
            except ImportError as exc:
                print(f"skip {config}: {exc}")
                continue
            print(json.dumps(rows[-1]), flush=True)
        text.append(markdown(size, rows))
        text.append(f"load average after {size:,}: {os.getloadavg()[0]:.1f}\n")
    with open(args.output, "a") as handle:
        handle.write("\n".join(text) + "\n")
    print("\n".join(text))


if __name__ == "__main__":
    main()
