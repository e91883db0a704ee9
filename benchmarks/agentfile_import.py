"""Import (and export) time of Letta agent files: every file of ../shared/data/agent_files, and a large one.

Each import runs into a fresh SQLite store through ``Client.import_agent_file`` (parse, validate, map, one
transaction, then embedding the new messages): once without an embedding model (what the import itself
costs) and once with memgpt's local MiniLM (what a user waits for by default). The large file is the 0.6
conversation repeated until it holds ``--messages`` messages, to show how the cost grows with history.

    python benchmarks/agentfile_import.py --runs 5 --output benchmarks/results/agentfile_import.md
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from memgpt.client import Client
from memgpt.embeddings.base import Embedder
from memgpt.evals.bench import percentiles, write_results

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "agent_files"


async def time_import(data: bytes, embedder: Embedder | None, runs: int) -> dict[str, Any]:
    seconds, exports = [], []
    report: Any = None
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            client = await Client.open(f"sqlite:///{Path(tmp) / 'bench.db'}", embedder=embedder)
            try:
                started = time.perf_counter()
                report = await client.import_agent_file(data)
                seconds.append(time.perf_counter() - started)
                started = time.perf_counter()
                await client.export_agent_file(report.agent_ids)
                exports.append(time.perf_counter() - started)
            finally:
                await client.close()
    return {
        "import": percentiles(seconds),
        "export": percentiles(exports),
        "agents": len(report.agents),
        "messages": sum(a.messages for a in report.agents),
        "blocks": len({b for a in report.agents for b in a.blocks}),
    }


def large_file(messages: int) -> bytes:
    """The 0.6 conversation (91 messages) repeated, each copy a day later, until it holds ``messages``."""
    from datetime import datetime

    document = json.loads((DATA / "memgpt_agent_with_convo.v1.af").read_text(encoding="utf-8"))
    original = document["messages"]
    grown: list[dict[str, Any]] = []
    day = 0
    while len(grown) < messages:
        for message in original:
            moved = copy.deepcopy(message)
            when = datetime.fromisoformat(message["created_at"]) + timedelta(days=day)
            moved["created_at"] = when.isoformat()
            grown.append(moved)
        day += 1
    grown = grown[:messages]
    document["messages"] = grown
    document["in_context_message_indices"] = [len(grown) - 1 - i for i in range(10)][::-1]
    return json.dumps(document).encode()


async def main(runs: int, messages: int, output: Path) -> None:
    from memgpt.embeddings import local_model_available, open_embedder

    local = open_embedder("local") if local_model_available() else None
    files = sorted(DATA.glob("*.af"))
    await time_import(files[0].read_bytes(), None, 1)  # warm up: the first import also loads the modules
    largest = max(files, key=lambda p: p.stat().st_size)
    results: dict[str, Any] = {"largest_file": largest.name, "files": {}}
    for path in files:
        data = path.read_bytes()
        entry = {"bytes": len(data), "no_embedding": await time_import(data, None, runs)}
        if local is not None:
            entry["local_embedding"] = await time_import(data, local, runs)
        results["files"][path.name] = entry
        print(path.name, json.dumps(entry))
    big = large_file(messages)
    results["large"] = {"bytes": len(big), "no_embedding": await time_import(big, None, max(1, runs // 2))}
    large = results["large"]["no_embedding"]
    large["messages_per_second"] = round(large["messages"] / (large["import"]["p50_ms"] / 1000))
    print("large", json.dumps(results["large"]))
    if local is not None:
        await local.close()
    write_results(output, "agent file import (benchmarks/agentfile_import.py)", results)
    print(f"Appended to {output}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/agentfile_import.md"))
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.messages, args.output))
