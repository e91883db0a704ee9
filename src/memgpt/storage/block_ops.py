"""Operations on core-memory blocks, objects of their own that several agents can attach (see :mod:`.operations`).

A block row holds its text, limit and flags and a ``version`` that every save increments: a save names the
version it read and changes nothing if the stored one moved on (compare-and-set), so of two agents editing
one block at once the second re-reads and retries instead of overwriting the first
(:mod:`memgpt.memory.block_edits`). ``agent_blocks`` says which agent shows which block, in what order,
and repeats the label so that one agent never has two blocks of one label.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from memgpt.errors import AlreadyExistsError, BlockChangedError, NotFoundError
from memgpt.memory.blocks import Block
from memgpt.memory.history import BlockChange, EditCause
from memgpt.memory.protocols import BlockRecord
from memgpt.storage import history_ops, records
from memgpt.storage.sql import BEGIN_WRITE, ConstraintError, Op, Query, as_time, one, query, rows, run, scalar

_COLUMNS = ", ".join(f"b.{c}" for c in records.BLOCK_COLUMNS)
_ATTACHED = f"SELECT ab.agent_id, {_COLUMNS} FROM agent_blocks ab JOIN blocks b ON b.id = ab.block_id"


def blocks_of_agents(agent_ids: Sequence[str]) -> Op[dict[str, list[Block]]]:
    """The blocks each agent shows, in its order (an agent without blocks maps to an empty list)."""
    found: dict[str, list[Block]] = {agent_id: [] for agent_id in agent_ids}
    if not agent_ids:
        return found
    param: str | list[str] = agent_ids[0] if len(agent_ids) == 1 else list(agent_ids)
    where = "ab.agent_id = ?" if len(agent_ids) == 1 else "ab.agent_id = ANY(?)"
    for row in (yield from rows(f"{_ATTACHED} WHERE {where} ORDER BY ab.position, ab.attached_at", param)):
        found[row[0]].append(records.block_from(row[1:]))
    return found


def agent_blocks(agent_id: str) -> Op[list[Block]]:
    found = yield from blocks_of_agents([agent_id])
    return found[agent_id]


def insert_block(user_id: str, block: Block, *, standalone: bool, now: datetime) -> Op[None]:
    row = records.block_row(user_id, block, standalone=standalone, now=now)
    columns = records.BLOCK_COLUMNS
    try:
        yield query(
            f"INSERT INTO blocks ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            *(row[c] for c in columns),
        )
    except ConstraintError as exc:
        raise AlreadyExistsError(f"A block with id {block.id!r} already exists.") from exc


def attach_block(agent_id: str, block_id: str, now: datetime) -> Op[bool]:
    """Show the block last in the agent's core memory (both of one user); False if it already was."""
    # checked first: after a constraint violation PostgreSQL runs nothing more in the transaction
    clash = yield from scalar(
        "SELECT b.label FROM blocks b JOIN agent_blocks ab ON ab.agent_id = ? AND ab.label = b.label"
        " AND ab.block_id <> b.id WHERE b.id = ?",
        agent_id,
        block_id,
    )
    if clash is not None:
        raise AlreadyExistsError(f"The agent already has a block labelled {clash!r}: detach or rename one first.")
    try:
        result = yield query(
            "INSERT INTO agent_blocks (agent_id, block_id, label, position, attached_at)"
            " SELECT a.id, b.id, b.label,"
            " (SELECT coalesce(max(position), -1) + 1 FROM agent_blocks WHERE agent_id = a.id), ?"
            " FROM agents a JOIN blocks b ON b.user_id = a.user_id WHERE a.id = ? AND b.id = ?"
            " ON CONFLICT (agent_id, block_id) DO NOTHING",
            now,
            agent_id,
            block_id,
        )
    except ConstraintError as exc:  # a block of that label was attached meanwhile
        raise AlreadyExistsError("The agent already has a block of that label: detach or rename one first.") from exc
    if result.rowcount:
        return True
    attached = yield from one("SELECT 1 FROM agent_blocks WHERE agent_id = ? AND block_id = ?", agent_id, block_id)
    if attached is None:
        raise NotFoundError(f"No agent {agent_id!r} and block {block_id!r} of the same user.")
    return False


def detach_block(agent_id: str, block_id: str) -> Op[bool]:
    """Stop showing the block to the agent; a block no agent shows any more is kept as a block of its own."""
    result = yield from run("DELETE FROM agent_blocks WHERE agent_id = ? AND block_id = ?", agent_id, block_id)
    if result.rowcount:
        yield from run(
            "UPDATE blocks SET standalone = true WHERE id = ?"
            " AND NOT EXISTS (SELECT 1 FROM agent_blocks WHERE block_id = blocks.id)",
            block_id,
        )
    return result.rowcount > 0


def update_block(
    user_id: str, block: Block, agent_id: str | None, now: datetime, cause: EditCause | None = None
) -> Op[Block]:
    """Save ``block`` if the stored one is still the version it was read as; the saved block (next version).

    With ``agent_id`` the block must still be attached to that agent (an agent's edit). BlockChangedError
    when someone saved it meanwhile, NotFoundError when it is gone, AlreadyExistsError when a new label
    clashes with another block of an agent it is attached to. The change is recorded in the block's history
    with ``cause`` (a user's edit through Python when none is given).
    """
    row = records.block_row(user_id, block, standalone=False, now=now)
    clash = yield from one(
        "SELECT 1 FROM agent_blocks mine JOIN agent_blocks other ON other.agent_id = mine.agent_id"
        " AND other.label = ? AND other.block_id <> mine.block_id WHERE mine.block_id = ?",
        block.label,
        block.id,
    )
    if clash is not None:  # checked first: after a constraint violation PostgreSQL runs nothing more
        raise AlreadyExistsError(
            f"An agent with this block already has another block labelled {block.label!r}; choose another label."
        )
    attached = " AND EXISTS (SELECT 1 FROM agent_blocks WHERE block_id = blocks.id AND agent_id = ?)"
    old_value = yield from history_ops.value_before(block.id, user_id, block.version)
    result = yield query(
        "UPDATE blocks SET label = ?, value = ?, char_limit = ?, description = ?, read_only = ?,"
        " version = version + 1, updated_at = ? WHERE id = ? AND user_id = ? AND version = ?"
        + (attached if agent_id is not None else "")
        + " RETURNING version",
        row["label"],
        row["value"],
        row["char_limit"],
        row["description"],
        row["read_only"],
        now,
        block.id,
        user_id,
        block.version,
        *([agent_id] if agent_id is not None else []),
    )
    saved = result.scalar()
    if saved is None:
        yield from _refusal(user_id, block, agent_id)
    try:
        yield query(
            "UPDATE agent_blocks SET label = ? WHERE block_id = ? AND label <> ?",
            block.label,
            block.id,
            block.label,
        )
    except ConstraintError as exc:  # such a block was attached meanwhile
        raise AlreadyExistsError(f"An agent with this block now has another block labelled {block.label!r}.") from exc
    change = BlockChange(
        block_id=block.id,
        version=int(saved),
        label=block.label,
        old_value=old_value or "",
        new_value=block.value,
        cause=cause or EditCause.user(agent_id=agent_id),
        created_at=now,
    )
    yield from history_ops.record_change(user_id, change)
    return Block(block.label, block.value, block.limit, block.read_only, block.description, block.id, int(saved))


def _refusal(user_id: str, block: Block, agent_id: str | None) -> Op[None]:
    stored = yield from one("SELECT version FROM blocks WHERE id = ? AND user_id = ?", block.id, user_id)
    if stored is None:
        raise NotFoundError(f"Block {block.label!r} ({block.id}) no longer exists.")
    if agent_id is not None:
        attached = yield from one("SELECT 1 FROM agent_blocks WHERE agent_id = ? AND block_id = ?", agent_id, block.id)
        if attached is None:
            raise NotFoundError(f"Block {block.label!r} is no longer in this agent's core memory.")
    raise BlockChangedError(block.label)


def get_block(user_id: str, block_id: str) -> Op[BlockRecord]:
    found = yield from list_blocks(user_id, block_id=block_id)
    if not found:
        raise NotFoundError(f"No block with id {block_id!r}. List blocks with `memgpt blocks list`.")
    return found[0]


def list_blocks(user_id: str, *, label: str | None = None, block_id: str | None = None) -> Op[list[BlockRecord]]:
    """The user's blocks (of one label, or the one of an id), oldest first, with the agents showing each."""
    where, params = "user_id = ?", [user_id]
    if label is not None:
        where, params = where + " AND label = ?", [*params, label]
    if block_id is not None:
        where, params = where + " AND id = ?", [*params, block_id]
    found = yield from rows(
        f"SELECT {', '.join(records.BLOCK_COLUMNS)} FROM blocks WHERE {where} ORDER BY created_at,"
        " (SELECT min(position) FROM agent_blocks WHERE block_id = blocks.id), id",  # made together: as shown
        *params,
    )
    if not found:
        return []
    ids = [r[0] for r in found]
    attachments: dict[str, list[str]] = {block_id: [] for block_id in ids}
    for block, agent in (
        yield from rows(
            "SELECT block_id, agent_id FROM agent_blocks WHERE block_id = ANY(?) ORDER BY attached_at, agent_id", ids
        )
    ):
        attachments[block].append(agent)
    return [_record(r, attachments[r[0]]) for r in found]


def _record(values: Sequence[Any], agent_ids: list[str]) -> BlockRecord:
    row = dict(zip(records.BLOCK_COLUMNS, values, strict=True))
    created, updated = as_time(row["created_at"]), as_time(row["updated_at"])
    assert created is not None and updated is not None
    return BlockRecord(
        block=records.block_from(values),
        user_id=row["user_id"],
        standalone=bool(row["standalone"]),
        agent_ids=agent_ids,
        created_at=created,
        updated_at=updated,
    )


def delete_block(user_id: str, block_id: str) -> Op[list[str]]:
    """Delete a block, detaching it from every agent; the agents it was attached to."""
    yield Query(BEGIN_WRITE)
    agents = yield from rows("SELECT agent_id FROM agent_blocks WHERE block_id = ?", block_id)
    result = yield from run("DELETE FROM blocks WHERE id = ? AND user_id = ?", block_id, user_id)
    if result.rowcount == 0:
        raise NotFoundError(f"No block with id {block_id!r}.")
    return [str(r[0]) for r in agents]


def drop_unused(block_ids: Sequence[str]) -> Op[None]:
    """Delete those of the blocks that no agent shows any more and that were not made on their own."""
    if block_ids:
        yield from run(
            "DELETE FROM blocks WHERE id = ANY(?) AND standalone = false"
            " AND NOT EXISTS (SELECT 1 FROM agent_blocks WHERE block_id = blocks.id)",
            list(block_ids),
        )
