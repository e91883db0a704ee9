"""Operations for forgetting and retention: deleting an agent's messages and passages by id or by age."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from memgpt.storage.sql import Op, rows


def delete_messages(agent_id: str, ids: Sequence[str]) -> Op[list[int]]:
    """Delete the agent's messages by id; the deleted rows' ``seq`` (for the vector index)."""
    if not ids:
        return []
    found = yield from rows(
        "DELETE FROM messages WHERE agent_id = ? AND id = ANY(?) RETURNING seq", agent_id, list(ids)
    )
    return [int(r[0]) for r in found]


def ids_before(table: str, agent_id: str, before: datetime, keep: Sequence[str] = ()) -> Op[list[str]]:
    """Ids of the agent's messages or passages created before ``before`` (oldest first), but those in ``keep``."""
    assert table in ("messages", "passages")
    found = yield from rows(
        f"SELECT id FROM {table} WHERE agent_id = ? AND created_at < ? ORDER BY seq", agent_id, before
    )
    kept = set(keep)
    return [str(r[0]) for r in found if r[0] not in kept]


def oldest_passages_over(agent_id: str, cap: int) -> Op[list[str]]:
    """Ids of the agent's oldest passages beyond the newest ``cap`` (what an archival cap removes)."""
    found = yield from rows(
        "SELECT id FROM passages WHERE agent_id = ? AND seq < coalesce((SELECT min(seq) FROM (SELECT seq FROM"
        " passages WHERE agent_id = ? ORDER BY seq DESC LIMIT ?) newest), 0) ORDER BY seq",
        agent_id,
        agent_id,
        cap,
    )
    return [str(r[0]) for r in found]
