"""LoCoMo retrieval: how well ``conversation_search`` ranks the evidence turns of each question.

Each conversation of the LoCoMo release is loaded into a fresh agent's recall store, one message per
dialogue turn, timestamped with its session's date. Every question is run through the recall store's
hybrid ranking (exactly what ``conversation_search`` uses), and we report evidence recall@k: the share
of questions whose evidence turns are *all* in the top k (``recall_all``), the mean share of each
question's evidence turns in the top k (``recall``: the "recall accuracy" of the LoCoMo paper and of its
``task_eval/evaluation.py``, which the published R@k figures use), and the share whose evidence has
*any* turn in the top k (``recall_any``), per category and overall. No LLM is involved.

Each conversation gets a store of its own, so that its figures do not depend on which conversations
were loaded before it (full-text statistics are per table, across agents).
"""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from memgpt.evals.data import shared_data_dir
from memgpt.memory.agent_state import AgentState
from memgpt.memory.protocols import SearchMode, Store
from memgpt.memory.types import Message

KS = (5, 10, 25)
CATEGORIES = ("1", "2", "3", "4", "5")
CATEGORY_NAMES = {"1": "multi-hop", "2": "temporal", "3": "open-dom.", "4": "single-hop", "5": "advers."}
_EVIDENCE = re.compile(r"D:?(\d+):(\d+)")


def evidence_ids(raw: list[str]) -> set[str]:
    """Normalised dialogue ids of a question's evidence (the release has a few malformed entries)."""
    return {f"D{s}:{t}" for item in raw for s, t in _EVIDENCE.findall(item)}


def session_time(text: str) -> datetime:
    """Parse LoCoMo's ``"1:56 pm on 8 May, 2023"``."""
    return datetime.strptime(text.strip(), "%I:%M %p on %d %B, %Y").replace(tzinfo=UTC)


def conversation_messages(conversation: dict[str, Any]) -> list[Message]:
    """One message per turn from its speaker (the sender name), with the shared photo's caption, at its
    session's time. Search sees ``"Speaker: text"``, as the model would."""
    messages = []
    session = 1
    while f"session_{session}" in conversation:
        start = session_time(conversation[f"session_{session}_date_time"])
        for i, turn in enumerate(conversation[f"session_{session}"]):
            text = turn["text"]
            if turn.get("blip_caption"):
                text += f" [shares a photo: {turn['blip_caption']}]"
            messages.append(
                Message(
                    role="user",
                    content=text,
                    created_at=start + timedelta(seconds=30 * i),
                    name=turn["speaker"],
                    metadata={"dia_id": turn["dia_id"]},
                )
            )
        session += 1
    return messages


async def evaluate_conversation(store: Store, path: Path, mode: SearchMode) -> list[dict[str, Any]]:
    """Load one conversation into a new agent of ``store`` and rank every question; per-question records."""
    conversation = json.loads(await asyncio.to_thread(path.read_text, encoding="utf-8"))
    state = AgentState(name=f"locomo-{path.stem}", model="none", context_window=8000)
    await store.create_agent(state)
    messages = conversation_messages(conversation.get("conversation", conversation))
    await store.append_messages(state.id, messages)
    await store.embed_pending_messages(state.id, limit=len(messages))
    dia_of = {m.id: m.metadata["dia_id"] for m in messages}
    records = []
    for qa in conversation["qa"]:
        page = await store.search_messages(state.id, qa["question"], page_size=max(KS), mode=mode)
        ranked = [dia_of[hit.id] for hit in page.hits]
        records.append(
            {
                "conversation": path.stem,
                "category": str(qa["category"]),
                "question": qa["question"],
                "evidence": sorted(evidence_ids(qa.get("evidence", []))),
                "ranked": ranked,
            }
        )
    return records


def score(records: list[dict[str, Any]]) -> dict[str, Any]:
    """recall_all / recall / recall_any at each k, overall and per category (questions without evidence
    excluded)."""
    scored = [r for r in records if r["evidence"]]
    result: dict[str, Any] = {"task": "locomo-retrieval", "n": len(records), "n_scored": len(scored)}
    for name, measure in MEASURES.items():
        table: dict[str, dict[str, float]] = {}
        for k in KS:
            values = {id(r): measure([e in r["ranked"][:k] for e in r["evidence"]]) for r in scored}
            row = {"overall": _mean([values[id(r)] for r in scored])}
            for category in CATEGORIES:
                row[category] = _mean([values[id(r)] for r in scored if r["category"] == category])
            table[str(k)] = row
        result[name] = table
    return result


def _share(found: list[bool]) -> float:
    return sum(found) / len(found)


MEASURES: dict[str, Callable[[list[bool]], float]] = {"recall_all": all, "recall": _share, "recall_any": any}


def _mean(values: list[float]) -> float:
    return round(sum(values) / len(values), 4) if values else 0.0


async def run_locomo_retrieval(
    data: Path | None = None, *, limit: int | None = None, mode: SearchMode = "hybrid"
) -> dict[str, Any]:
    """Run the retrieval evaluation over every conversation file in ``data`` (default the shared set)."""
    from rich.progress import Progress

    from memgpt.embeddings import open_embedder
    from memgpt.storage.sqlite import SqliteStore

    folder = data or shared_data_dir("locomo")
    files = sorted(folder.glob("*.json"))[:limit]
    embedder = open_embedder(None) if mode != "text" else None
    records: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="memgpt-locomo-") as tmp, Progress(transient=True) as progress:
        task = progress.add_task("LoCoMo conversations", total=len(files))
        for path in files:
            store = await SqliteStore.open(Path(tmp) / f"{path.stem}.db", embedder=embedder)
            try:
                records += await evaluate_conversation(store, path, mode)
            finally:
                await store.close()
            progress.advance(task)
    result = score(records)
    result["mode"] = mode
    result["embedding"] = embedder.name if embedder else None
    return result
