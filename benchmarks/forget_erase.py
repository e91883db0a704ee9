"""What a forget costs on SQLite as the store grows: one message of one agent forgotten, with the erase.

The erase merges the full-text index of the messages and passages tables (all agents': FTS5 has one index
per table) and checkpoints the WAL, so it grows with the whole store, not with what is forgotten. Each
size runs in a fresh store: ``--agents`` agents with ``--messages`` messages each (no embeddings: the
erase does not touch them), then ``--runs`` forgets of one message by id, timed whole and erase alone.

    python benchmarks/forget_erase.py --sizes 10000 100000 --runs 5 --output benchmarks/results/forget_erase.md
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from memgpt.client import Client
from memgpt.memory.types import Message


async def measure(total: int, agents: int, runs: int) -> tuple[float, float, float]:
    """(median forget seconds, median erase seconds, database MB)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        client = await Client.open(f"sqlite:///{path}", embedder=None)
        try:
            per_agent = total // agents
            for a in range(agents):
                await client.create_agent(f"agent{a}", model="openai/gpt-4o-mini")
                batch = [
                    Message(role="user", content=f"agent {a} message {i}: a sentence about topic {i % 97} and more")
                    for i in range(per_agent)
                ]
                await client.import_messages(f"agent{a}", batch, embed=False)
            forgets, erases = [], []
            for _ in range(runs):
                [first] = await client.list_messages("agent0", limit=1)
                started = time.perf_counter()
                await client.forget("agent0", message_ids=[first.id], apply=True)
                forgets.append(time.perf_counter() - started)
                [second] = await client.list_messages("agent0", limit=1)
                await client.store.forget_rows(second.agent_id, [second.id], [])  # deleted, not erased yet
                started = time.perf_counter()
                await client.store.erase_deleted()
                erases.append(time.perf_counter() - started)
            size = path.stat().st_size / 1e6
        finally:
            await client.close()
    return sorted(forgets)[len(forgets) // 2], sorted(erases)[len(erases) // 2], size


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--agents", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    lines = [
        "# Forget on SQLite: one message forgotten, with the erase (FTS merge + WAL truncate)",
        "",
        f"{datetime.now(UTC):%Y-%m-%d}, {platform.machine()}, {platform.python_version()}, "
        f"{args.agents} agents, median of {args.runs} runs; `python benchmarks/forget_erase.py "
        f"--sizes {' '.join(map(str, args.sizes))} --runs {args.runs}`",
        "",
        "| messages in the store | database MB | forget (whole) s | erase alone (after one delete) s |",
        "|---|---|---|---|",
    ]
    for size in args.sizes:
        forget, erase, mb = await measure(size, args.agents, args.runs)
        lines.append(f"| {size:,} | {mb:.1f} | {forget:.3f} | {erase:.3f} |")
        print(lines[-1], flush=True)
    if args.output:
        args.output.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
