"""A user's data, exported: every agent as a Letta agent file, with what memgpt adds to it.

``export_user`` writes into an empty (or new) folder:

- ``agents/<name>.af``: each agent's file (:func:`memgpt.agentfile.export_agents`, archival passages included),
  plus the edit history of its blocks (``agents[0].memgpt.history``) and the sources attached to it (Letta's
  ``sources`` and ``files``, each file with its stored chunks in ``memgpt.chunks``: memgpt keeps chunks, not
  the original bytes);
- ``user.json``: the user, the file of each agent, their blocks shown by no agent, and their API keys (id,
  name, prefix and dates: a key's secret was never stored, its hash is left out).
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memgpt.agentfile import export_agents
from memgpt.errors import ValidationError
from memgpt.identity import User
from memgpt.memory.agent_state import AgentState
from memgpt.memory.protocols import Source, Store

ROWS_BATCH = 1000


@dataclass(frozen=True, slots=True)
class UserExport:
    folder: Path
    agent_files: list[Path]
    sources: int
    blocks: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "folder": str(self.folder),
            "agent_files": [str(p) for p in self.agent_files],
            "sources": self.sources,
            "blocks": self.blocks,
        }


def check_folder(folder: Path) -> None:
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ValidationError(f"{folder} exists and is not an empty folder: export into a new or empty one.")


async def agent_document(store: Store, state: AgentState) -> dict[str, Any]:
    """The agent's file with its blocks' history and its sources."""
    doc = await export_agents(store, [state], with_archival=True)
    changes = await store.list_block_changes(state.user_id, [b.id for b in state.blocks])
    agent = doc["agents"][0]
    agent.setdefault("memgpt", {})["history"] = [c.to_dict() for c in changes]
    for n, source in enumerate(await store.list_agent_sources(state.id)):
        file_id = f"source-{n}"
        doc["sources"].append({"id": file_id, "name": source.name, "description": source.description})
        agent.setdefault("source_ids", []).append(file_id)
        doc["files"] += await _source_files(store, source, file_id, len(doc["files"]))
    return doc


async def _source_files(store: Store, source: Source, source_file_id: str, first: int) -> list[dict[str, Any]]:
    chunks: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    after = 0
    while batch := await store.read_rows("source_passages", owner=source.id, after=after, limit=ROWS_BATCH):
        after = batch[-1][0]
        for _, row in batch:
            if row["committed"]:
                item = {"text": row["text"], "metadata": row["metadata"] or {}}
                chunks.setdefault(row["file_id"], []).append((int(row["chunk_index"]), item))
    files = []
    for i, file in enumerate(await store.list_source_files(source.id)):
        if file.id not in chunks:
            continue
        ordered = [item for _, item in sorted(chunks[file.id], key=lambda c: c[0])]
        files.append(
            {
                "id": f"file-{first + i}",
                "source_id": source_file_id,
                "file_name": file.path,
                "content": None,
                "memgpt": {"content_hash": file.content_hash, "size": file.size, "chunks": ordered},
            }
        )
    return files


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")


def _file_name(name: str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "agent"
    candidate, n = base, 1
    while candidate.lower() in taken:
        n += 1
        candidate = f"{base}-{n}"
    taken.add(candidate.lower())
    return f"{candidate}.af"


async def export_user(store: Store, user: User, folder: Path) -> UserExport:
    """Write ``user``'s data into ``folder`` (new or empty); see the module docstring."""
    check_folder(folder)
    (folder / "agents").mkdir(parents=True, exist_ok=True)
    taken: set[str] = set()
    files: list[Path] = []
    index: list[dict[str, str]] = []
    for state in await store.list_agents(user.id):
        path = folder / "agents" / _file_name(state.name, taken)
        doc = await agent_document(store, state)
        await asyncio.to_thread(_write_json, path, doc)
        files.append(path)
        index.append({"id": state.id, "name": state.name, "file": str(path.relative_to(folder))})
    unattached = [r for r in await store.list_blocks(user.id) if not r.agent_ids]
    changes = await store.list_block_changes(user.id, [r.block.id for r in unattached])
    blocks = [
        {
            "id": r.block.id,
            "label": r.block.label,
            "value": r.block.value,
            "limit": r.block.limit,
            "description": r.block.description,
            "read_only": r.block.read_only,
            "version": r.block.version,
            "history": [c.to_dict() for c in changes if c.block_id == r.block.id],
        }
        for r in unattached
    ]
    keys = [
        {
            "id": k.id,
            "name": k.name,
            "prefix": k.prefix,
            "created_at": k.created_at.isoformat(),
            "last_used_at": k.last_used_at.isoformat() if k.last_used_at else None,
            "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
        }
        for k in await store.list_api_keys(user.id)
    ]
    sources = await store.list_sources(user.id)
    summary = {
        "user": {"id": user.id, "name": user.name, "created_at": user.created_at.isoformat()},
        "agents": index,
        "sources": [{"id": s.id, "name": s.name, "description": s.description} for s in sources],
        "blocks_shown_by_no_agent": blocks,
        "api_keys": keys,
    }
    await asyncio.to_thread(_write_json, folder / "user.json", summary)
    return UserExport(folder, files, len(sources), len(blocks))
