"""NQ-Open oracle passages as a document corpus: recall@1/5/10 and MRR of archival search.

All gold passages (one per question, duplicates stored once) go into one agent's archival memory;
each question is searched and the rank of its gold passage recorded. No LLM is involved.
"""

from __future__ import annotations

import gzip
import json
import tempfile
from pathlib import Path
from typing import Any

from memgpt.evals.data import shared_data_dir
from memgpt.memory.agent_state import AgentState
from memgpt.memory.protocols import SearchMode
from memgpt.memory.types import Passage

KS = (1, 5, 10)
BATCH = 256


def load_questions(path: Path) -> list[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def gold_passage(row: dict[str, Any]) -> tuple[str, str]:
    gold = next(c for c in row["ctxs"] if c.get("isgold"))
    return gold["title"], gold["text"]


async def run_nq_retrieval(
    data: Path | None = None, *, limit: int | None = None, mode: SearchMode = "hybrid"
) -> dict[str, Any]:
    """Load the gold passages, search every question, and score the rank of its gold passage."""
    from rich.progress import Progress

    from memgpt.embeddings import open_embedder
    from memgpt.storage.sqlite import SqliteStore

    path = data or shared_data_dir("nq_open_oracle") / "nq-open-oracle.jsonl.gz"
    rows = load_questions(path)
    questions = rows[:limit] if limit else rows
    passages: dict[tuple[str, str], Passage] = {}
    for row in rows:
        title, text = gold_passage(row)
        passages.setdefault((title, text), Passage(text=f"{title}\n{text}", metadata={"source": title}))
    embedder = open_embedder(None) if mode != "text" else None
    ranks: list[int | None] = []
    with tempfile.TemporaryDirectory(prefix="memgpt-nq-") as tmp, Progress(transient=True) as progress:
        store = await SqliteStore.open(Path(tmp) / "nq.db", embedder=embedder)
        try:
            state = AgentState(name="nq", model="none", context_window=8000)
            await store.create_agent(state)
            loading = progress.add_task("loading passages", total=len(passages))
            items = list(passages.values())
            for start in range(0, len(items), BATCH):
                await store.insert_passages(state.id, items[start : start + BATCH])
                progress.advance(loading, len(items[start : start + BATCH]))
            asking = progress.add_task("searching", total=len(questions))
            for row in questions:
                gold_id = passages[gold_passage(row)].id
                page = await store.search_passages(state.id, row["question"], page_size=max(KS), mode=mode)
                ids = [h.id for h in page.hits]
                ranks.append(ids.index(gold_id) + 1 if gold_id in ids else None)
                progress.advance(asking)
        finally:
            await store.close()
    result: dict[str, Any] = {"task": "nq-retrieval", "n": len(ranks), "passages": len(passages), "mode": mode}
    result["recall"] = {str(k): round(sum(1 for r in ranks if r and r <= k) / len(ranks), 4) for k in KS}
    result["mrr@10"] = round(sum(1 / r for r in ranks if r) / len(ranks), 4)
    result["embedding"] = embedder.name if embedder else None
    return result
