"""Search paging: latency of page 0 and page 10 at 100k rows, and whether the pages add up.

    python benchmarks/paging.py --size 100000                         # this checkout's pipeline
    python benchmarks/paging.py --size 100000 --variant fixed-pool    # what-if: one pool of 1,000 for any page
    PYTHONPATH=<older checkout>/src python benchmarks/paging.py --label "per-page pools"   # an older pipeline

SQLite store, synthetic clustered 384-d embeddings (as in ``memgpt bench store``), query embeddings
computed before timing. Recall: ``size`` messages in sessions (turns 30 s apart, an hour's pause after every
40, one turn in seven a question); archival: ``size`` passages. Page size 5, as the agent's tools use.
"Pages add up" compares pages 0-14 with one page of 75 for 20 queries: hits shown twice and top-75 hits
never shown. Results are appended to ``benchmarks/results/paging.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

import memgpt
from memgpt.evals.bench import SyntheticEmbedder, percentiles, synthetic_text, write_results
from memgpt.memory.agent_state import AgentState
from memgpt.memory.types import Message, Passage, SearchPage

RESULTS = Path("benchmarks/results/paging.md")
PAGE_SIZE = 5
Search = Callable[..., Awaitable[SearchPage]]


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


def conversation(size: int) -> list[Message]:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    return [
        Message(
            role="user" if i % 2 == 0 else "assistant",
            content=synthetic_text(i) + ("?" if i % 7 == 0 else "."),
            created_at=start + timedelta(seconds=30 * i, hours=i // 40),
        )
        for i in range(size)
    ]


async def timed(search: Search, queries: Sequence[str], page: int) -> dict[str, float]:
    latencies = []
    for query in queries:
        started = time.perf_counter()
        await search(query, page=page, page_size=PAGE_SIZE)
        latencies.append(time.perf_counter() - started)
    return percentiles(latencies)


async def pages_add_up(search: Search, queries: Sequence[str], pages: int = 15) -> dict[str, int]:
    repeated = missing = 0
    for query in queries:
        shown = [h.id for p in range(pages) for h in (await search(query, page=p, page_size=PAGE_SIZE)).hits]
        whole = [h.id for h in (await search(query, page=0, page_size=pages * PAGE_SIZE)).hits]
        repeated += len(shown) - len(set(shown))
        missing += len(set(whole) - set(shown))
    return {"queries": len(queries), "hits_shown_twice": repeated, "top_hits_never_shown": missing}


async def measure(search: Search, queries: Sequence[str]) -> dict[str, Any]:
    await search("warm up", page=0, page_size=PAGE_SIZE)  # embeds pending rows and builds the vector index
    return {
        "page_0": await timed(search, queries, 0),
        "page_10": await timed(search, queries, 10),
        "pages_add_up": await pages_add_up(search, queries[:20]),
    }


async def run(size: int, queries: int, workdir: Path | None) -> dict[str, Any]:
    from memgpt.storage.sqlite import SqliteStore

    texts = [synthetic_text(size + 10 + q, words=6) for q in range(queries)]
    embedder = PrecomputedEmbedder()
    embedder.prepare([*texts, "warm up"])
    results: dict[str, Any] = {"rows": size, "page_size": PAGE_SIZE}
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        store = await SqliteStore.open(Path(tmp) / "paging.db", embedder=embedder)
        try:
            recall = AgentState(name="recall", model="none", context_window=8000)
            await store.create_agent(recall)
            messages = conversation(size)
            for start in range(0, size, 5000):
                await store.append_messages(recall.id, messages[start : start + 5000])

            async def recall_search(query: str, *, page: int, page_size: int) -> SearchPage:
                return await store.search_messages(recall.id, query, page=page, page_size=page_size, mode="hybrid")

            results["recall_hybrid"] = await measure(recall_search, texts)
            archival = AgentState(name="archival", model="none", context_window=8000)
            await store.create_agent(archival)
            for start in range(0, size, 5000):
                batch = [Passage(text=synthetic_text(i)) for i in range(start, min(size, start + 5000))]
                await store.insert_passages(archival.id, batch)

            async def archival_search(query: str, *, page: int, page_size: int) -> SearchPage:
                return await store.search_passages(archival.id, query, page=page, page_size=page_size, mode="hybrid")

            results["archival_hybrid"] = await measure(archival_search, texts)
        finally:
            await store.close()
    return results


def use_fixed_pool() -> None:
    """What-if: rank one pool of 1,000 candidates per list for every page (no tiers)."""
    from memgpt.storage import hybrid_search

    hybrid_search.tier_depths = lambda depth: [500]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--variant", choices=["tiers", "fixed-pool"], default="tiers")
    parser.add_argument("--label", default="", help="names the pipeline measured (e.g. an older checkout)")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    if args.variant == "fixed-pool":
        use_fixed_pool()
    results = asyncio.run(run(args.size, args.queries, args.workdir))
    results["pipeline"] = {"variant": args.variant, "label": args.label, "memgpt": str(Path(memgpt.__file__).parent)}
    write_results(RESULTS, "paging", results)
    print(RESULTS.read_text().rsplit("## ", 1)[-1])


if __name__ == "__main__":
    main()
