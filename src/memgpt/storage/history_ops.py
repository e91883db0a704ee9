"""Operations on the edit history of core-memory blocks (see :mod:`memgpt.memory.history`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from memgpt.memory.history import BlockChange, EditCause, scrub
from memgpt.storage import records
from memgpt.storage.schema import TABLES
from memgpt.storage.sql import Json, Op, as_json, as_time, query, rows, run

_COLUMNS = tuple(c.name for c in TABLES["block_history"].data_columns)
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM block_history"


def record_change(user_id: str, change: BlockChange) -> Op[None]:
    """Write one change (in the transaction of the save that made it)."""
    cause = change.cause
    row = {
        "id": change.id,
        "block_id": change.block_id,
        "user_id": user_id,
        "version": change.version,
        "label": change.label,
        "old_value": change.old_value,
        "new_value": change.new_value,
        "cause": cause.kind,
        "agent_id": cause.agent_id,
        "tool_call_id": cause.tool_call_id,
        "message_id": cause.message_id,
        "detail": cause.detail,
        "created_at": change.created_at,
    }
    records.check_row(row, "A block change")
    yield query(
        f"INSERT INTO block_history ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
        *(Json(v) if k == "detail" else v for k, v in row.items()),
    )


def _change_from(values: Sequence[Any]) -> BlockChange:
    row = dict(zip(_COLUMNS, values, strict=True))
    created = as_time(row["created_at"])
    assert created is not None
    cause = EditCause(
        row["cause"],
        agent_id=row["agent_id"],
        tool_call_id=row["tool_call_id"],
        message_id=row["message_id"],
        detail=as_json(row["detail"]) or {},
    )
    return BlockChange(
        block_id=row["block_id"],
        version=int(row["version"]),
        label=row["label"],
        old_value=row["old_value"],
        new_value=row["new_value"],
        cause=cause,
        created_at=created,
        id=row["id"],
    )


def list_changes(user_id: str, block_ids: Sequence[str]) -> Op[list[BlockChange]]:
    """The changes of the user's blocks, per block oldest first (blocks in the order given)."""
    if not block_ids:
        return []
    found = yield from rows(
        f"{_SELECT} WHERE user_id = ? AND block_id = ANY(?) ORDER BY version", user_id, list(block_ids)
    )
    order = {block_id: i for i, block_id in enumerate(block_ids)}
    changes = [_change_from(r) for r in found]
    return sorted(changes, key=lambda c: (order[c.block_id], c.version))


def scrub_changes(user_id: str, block_ids: Sequence[str], needles: Sequence[str]) -> Op[int]:
    """Replace forgotten text in the history of the blocks (see :func:`memgpt.memory.history.scrub`); how
    many changes were rewritten."""
    changes = yield from list_changes(user_id, block_ids)
    rewritten = 0
    for change in changes:
        old, new = scrub(change.old_value, needles), scrub(change.new_value, needles)
        if (old, new) != (change.old_value, change.new_value):
            yield from run("UPDATE block_history SET old_value = ?, new_value = ? WHERE id = ?", old, new, change.id)
            rewritten += 1
    return rewritten


def value_before(block_id: str, user_id: str, version: int) -> Op[str | None]:
    """The stored value of the block if it is still at ``version`` (what a save of that version replaces)."""
    found = yield from rows(
        "SELECT value FROM blocks WHERE id = ? AND user_id = ? AND version = ?", block_id, user_id, version
    )
    return str(found[0][0]) if found else None
