"""Memory of one long-running process that touches many agents (a server meets thousands).

Each agent gets a few messages and passages, one recall and one archival search (which loads its vector
indexes) under its lock. RSS is sampled as the agents go by; a process whose per-agent caches are bounded
levels off, one that keeps every agent's index and lock grows with the number of agents. Embeddings are
synthetic (384-d) so the figures measure the store, not the model.

    python benchmarks/many_agents.py --agents 2000 --output benchmarks/results/many_agents.md
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import resource
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from memgpt.evals.bench import SyntheticEmbedder, synthetic_text
from memgpt.memory.agent_state import AgentState
from memgpt.memory.types import Message, Passage


def rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def run(agents: int, every: int) -> list[tuple[int, float]]:
    from memgpt.storage.sqlite import SqliteStore

    samples = []
    with tempfile.TemporaryDirectory() as tmp:
        store = await SqliteStore.open(Path(tmp) / "many.db", embedder=SyntheticEmbedder())
        try:
            for i in range(agents):
                state = AgentState(name=f"agent{i}", model="none", context_window=8000)
                await store.create_agent(state)
                async with store.lock_agent(state.id):
                    texts = [synthetic_text(i * 20 + j) for j in range(20)]
                    await store.append_messages(state.id, [Message(role="user", content=t) for t in texts])
                    await store.insert_passages(state.id, [Passage(text=t) for t in texts])
                    await store.search_messages(state.id, texts[3][:40])
                    await store.search_passages(state.id, texts[7][:40])
                if (i + 1) % every == 0:
                    samples.append((i + 1, rss_mib()))
        finally:
            await store.close()
    return samples


def commit() -> str:
    found = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    return found.stdout.strip() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=2000)
    parser.add_argument("--every", type=int, default=250)
    parser.add_argument("--label", default="", help="what code this is (e.g. a commit measured for comparison)")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    samples = asyncio.run(run(args.agents, args.every))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [
        f"## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()} ({os.cpu_count()} cores, load {load}),"
        f" commit {commit()} {args.label}".rstrip(),
        "",
        "| agents touched | RSS MiB |",
        "|---|---|",
        *[f"| {n} | {rss:.0f} |" for n, rss in samples],
        f"| growth from {samples[0][0]} to {samples[-1][0]} | {samples[-1][1] - samples[0][1]:+.0f} |",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.output:
        with args.output.open("a", encoding="utf-8") as out:
            out.write(text + "\n")


if __name__ == "__main__":
    main()
