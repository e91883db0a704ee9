"""Every read and write of the shared schema, written once as operations (see :mod:`.sql`) for both engines.

Each function returns an :data:`~memgpt.storage.sql.Op`: a generator the engine drives. The few places
where the engines' schemas differ on purpose are named by :class:`Dialect`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from memgpt.errors import AgentChangedError, AlreadyExistsError, NotFoundError, ValidationError
from memgpt.identity import ApiKey, User
from memgpt.memory.agent_state import AgentState
from memgpt.memory.protocols import Source, SourceChunks, SourceFile
from memgpt.memory.types import Message, Passage, SearchHit, SearchPage
from memgpt.storage import block_ops, records
from memgpt.storage.records import Row, looks_like_id
from memgpt.storage.schema import TABLES, Table
from memgpt.storage.sql import (
    BEGIN_WRITE,
    ConstraintError,
    Op,
    Query,
    Vector,
    as_json,
    as_time,
    one,
    query,
    rows,
    run,
    scalar,
)

OWNER = {"messages": "agent_id", "passages": "agent_id", "source_passages": "source_id"}


@dataclass(frozen=True, slots=True)
class Dialect:
    """What an engine's schema adds to the shared one, as far as the shared statements must know.

    ``numbered_embeddings``: each written embedding also gets the next ``embed_seq`` (SQLite's vector index
    catches up from it). ``row_locks``: ``SELECT ... FOR UPDATE`` exists (PostgreSQL); without it the
    write transaction's own lock serialises writers (SQLite).
    """

    numbered_embeddings: bool
    row_locks: bool

    def for_update(self) -> str:
        return " FOR UPDATE" if self.row_locks else ""


def begin_write() -> Op[None]:
    """Open the write transaction before the next statement, so that what it reads is locked for the write."""
    yield Query(BEGIN_WRITE)


# ----------------------------------------------------------------------------- meta
def get_meta() -> Op[dict[str, str]]:
    found = yield from rows("SELECT key, value FROM meta")
    return {str(k): str(v) for k, v in found}


def set_meta(key: str, value: str | None) -> Op[None]:
    if value is None:
        yield from run("DELETE FROM meta WHERE key = ?", key)
    else:
        yield from run(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            key,
            value,
        )


def has_vectors() -> Op[bool]:
    found = yield from scalar(
        "SELECT EXISTS (SELECT 1 FROM passages WHERE embedding IS NOT NULL)"
        " OR EXISTS (SELECT 1 FROM messages WHERE embedding IS NOT NULL)"
        " OR EXISTS (SELECT 1 FROM source_passages WHERE embedding IS NOT NULL)"
    )
    return bool(found)


def drop_embeddings(d: Dialect) -> Op[None]:
    numbered = ", embed_seq = NULL" if d.numbered_embeddings else ""
    for table in ("messages", "passages", "source_passages"):
        yield from run(f"UPDATE {table} SET embedding = NULL{numbered} WHERE embedding IS NOT NULL")
    yield from run("DELETE FROM meta WHERE key LIKE 'embedding_%'")


# ----------------------------------------------------------------------------- agents
_AGENT_SELECT = f"SELECT {', '.join(records.AGENT_COLUMNS)} FROM agents"
_AGENT_UPDATE = ", ".join(f"{c} = ?" for c in records.AGENT_COLUMNS[2:])  # all but id and user_id


def insert_agent(state: AgentState) -> Op[None]:
    """The agent, and its ``blocks`` as new blocks of its own shown in that order."""
    records.check_name(state.name, "agent")
    row = records.agent_row(state)
    for block in state.blocks:
        block.check()
    columns = records.AGENT_COLUMNS
    try:
        yield query(
            f"INSERT INTO agents ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            *records.encode(TABLES["agents"], row),
        )
    except ConstraintError as exc:
        raise AlreadyExistsError(f"An agent named {state.name!r} already exists.") from exc
    for block in state.blocks:
        yield from block_ops.insert_block(state.user_id, block, standalone=False, now=state.created_at)
        yield from block_ops.attach_block(state.id, block.id, state.created_at)


def get_agent(user_id: str, key: str) -> Op[AgentState]:
    """By id when ``key`` has an id's shape, else by name (names never have an id's shape)."""
    column = "id" if looks_like_id(key) else "name"
    found = yield from one(f"{_AGENT_SELECT} WHERE user_id = ? AND {column} = ?", user_id, key)
    if found is None:
        raise NotFoundError(f"No agent named {key!r}. List agents with `memgpt agents list`.")
    return records.agent_from(found, (yield from block_ops.agent_blocks(found[0])))


def list_agents(user_id: str) -> Op[list[AgentState]]:
    found = yield from rows(f"{_AGENT_SELECT} WHERE user_id = ? ORDER BY created_at, id", user_id)
    blocks = yield from block_ops.blocks_of_agents([r[0] for r in found])
    return [records.agent_from(r, blocks[r[0]]) for r in found]


def save_agent(state: AgentState, written_at: datetime) -> Op[None]:
    """Write ``state`` if the stored agent is still the version it was read as (compare-and-set on
    ``updated_at``); on success ``state.updated_at`` becomes ``written_at``. Blocks are saved on their own
    (:func:`memgpt.storage.block_ops.update_block`)."""
    read_at = state.updated_at
    records.check_name(state.name, "agent")
    values = records.encode(TABLES["agents"], records.agent_row(state) | {"updated_at": written_at})[2:]
    try:
        result = yield query(
            f"UPDATE agents SET {_AGENT_UPDATE} WHERE id = ? AND user_id = ? AND updated_at = ?",
            *values,
            state.id,
            state.user_id,
            read_at,
        )
    except ConstraintError as exc:
        raise AlreadyExistsError(f"An agent named {state.name!r} already exists.") from exc
    if result.rowcount == 0:
        exists = yield from one("SELECT 1 FROM agents WHERE id = ?", state.id)
        if exists is None:
            raise NotFoundError(f"Agent {state.name!r} no longer exists.")
        raise AgentChangedError(state.name)
    state.updated_at = written_at


def delete_agent(user_id: str, agent_id: str) -> Op[None]:
    """Delete the agent, and those of its blocks no other agent shows that were not made on their own."""
    yield from begin_write()
    blocks = yield from rows("SELECT block_id FROM agent_blocks WHERE agent_id = ?", agent_id)
    result = yield from run("DELETE FROM agents WHERE id = ? AND user_id = ?", agent_id, user_id)
    if result.rowcount == 0:
        raise NotFoundError(f"No agent with id {agent_id!r}.")
    yield from block_ops.drop_unused([str(r[0]) for r in blocks])


# ----------------------------------------------------------------------------- messages
_MESSAGE_SELECT = f"SELECT {', '.join(records.MESSAGE_COLUMNS)} FROM messages"


def insert_messages(d: Dialect, rows_: Sequence[Row]) -> Op[None]:
    """Insert checked message rows (:func:`memgpt.storage.records.message_row`); embeddings come later."""
    yield from insert_rows(d, TABLES["messages"], [r | {"embedding": None} for r in rows_])


def get_messages(agent_id: str, ids: Sequence[str]) -> Op[list[Message]]:
    wanted = list(ids)
    found = (yield from rows(f"{_MESSAGE_SELECT} WHERE agent_id = ? AND id = ANY(?)", agent_id, wanted)) if ids else []
    by_id = {r[0]: records.message_from(r) for r in found}
    missing = [i for i in wanted if i not in by_id]
    if missing:
        raise NotFoundError(f"{len(missing)} message(s) not found for agent {agent_id}, e.g. {missing[0]}.")
    return [by_id[i] for i in wanted]


def list_messages(agent_id: str, offset: int, limit: int, newest_first: bool) -> Op[list[Message]]:
    order = "DESC" if newest_first else "ASC"
    found = yield from rows(
        f"{_MESSAGE_SELECT} WHERE agent_id = ? ORDER BY seq {order} LIMIT ? OFFSET ?", agent_id, limit, offset
    )
    return [records.message_from(r) for r in found]


def window(
    table: str, agent_id: str, after: str | None, before: str | None, limit: int, newest: bool
) -> Op[list[tuple[Any, ...]]]:
    """Rows of the agent strictly after ``after`` and before ``before`` (ids, in insertion order): the oldest
    ``limit`` of them, or the newest (``newest``); always returned oldest first. NotFoundError for an unknown id."""
    bounds = []
    for key, op in ((after, ">"), (before, "<")):
        if key is not None:
            seq = yield from scalar(f"SELECT seq FROM {table} WHERE agent_id = ? AND id = ?", agent_id, key)
            if seq is None:
                raise NotFoundError(f"No {table[:-1]} {key!r} of this agent (a cursor must be an id it returned).")
            bounds.append((op, int(seq)))
    where = "".join(f" AND seq {op} ?" for op, _ in bounds)
    select = _MESSAGE_SELECT if table == "messages" else _PASSAGE_SELECT
    found = yield from rows(
        f"{select} WHERE agent_id = ?{where} ORDER BY seq {'DESC' if newest else 'ASC'} LIMIT ?",
        agent_id,
        *(seq for _, seq in bounds),
        limit,
    )
    return found[::-1] if newest else found


def message_window(agent_id: str, after: str | None, before: str | None, limit: int, newest: bool) -> Op[list[Message]]:
    found = yield from window("messages", agent_id, after, before, limit, newest)
    return [records.message_from(r) for r in found]


def passage_window(agent_id: str, after: str | None, before: str | None, limit: int, newest: bool) -> Op[list[Passage]]:
    found = yield from window("passages", agent_id, after, before, limit, newest)
    return [records.passage_from(r) for r in found]


def count_rows(table: str, agent_id: str) -> Op[int]:
    return int((yield from scalar(f"SELECT count(*) FROM {table} WHERE agent_id = ?", agent_id)))


_HIT_COLUMNS = {
    "messages": "seq, id, role, search_text, created_at, metadata, name",
    "passages": "seq, id, NULL, text, created_at, metadata, NULL",
    "source_passages": "seq, id, NULL, text, created_at, metadata, NULL",
}
_VISIBLE = {"messages": " AND search_text <> ''", "passages": "", "source_passages": " AND committed = true"}


def hit_from(values: Sequence[Any], score: float = 0.0) -> SearchHit:
    created = as_time(values[4])
    assert created is not None
    return SearchHit(
        id=values[1],
        role=values[2],
        text=values[3],
        created_at=created,
        score=score,
        metadata=as_json(values[5]) or {},
        name=values[6],
    )


def messages_by_date(agent_id: str, start: datetime, end: datetime, page: int, page_size: int) -> Op[SearchPage]:
    where = "agent_id = ? AND created_at >= ? AND created_at < ? AND search_text <> ''"
    total = yield from scalar(f"SELECT count(*) FROM messages WHERE {where}", agent_id, start, end)
    found = yield from rows(
        f"SELECT {_HIT_COLUMNS['messages']} FROM messages WHERE {where} ORDER BY created_at, seq LIMIT ? OFFSET ?",
        agent_id,
        start,
        end,
        page_size,
        page * page_size,
    )
    return SearchPage(hits=[hit_from(r) for r in found], page=page, page_size=page_size, total=int(total))


# ----------------------------------------------------------------------------- search primitives shared by both
def hit_rows(table: str, owners: Sequence[str], seqs: Sequence[int]) -> Op[dict[int, SearchHit]]:
    """The rows of ``seqs`` still visible in the owners' scope, as unscored hits."""
    if not seqs or not owners:
        return {}
    found = yield from rows(
        f"SELECT {_HIT_COLUMNS[table]} FROM {table} WHERE {OWNER[table]} = ANY(?){_VISIBLE[table]} AND seq = ANY(?)",
        list(owners),
        list(seqs),
    )
    return {int(r[0]): hit_from(r) for r in found}


def searchable_count(table: str, owners: Sequence[str], exclude_ids: Collection[str], cap: int) -> Op[int]:
    """How many of the owners' rows a search can return (leaving ``exclude_ids`` out), counted up to ``cap``."""
    if not owners:
        return 0
    excluded = " AND NOT (id = ANY(?))" if exclude_ids else ""
    found = yield from scalar(
        f"SELECT count(*) FROM (SELECT 1 FROM {table} WHERE {OWNER[table]} = ANY(?){_VISIBLE[table]}{excluded}"
        " LIMIT ?) t",
        list(owners),
        *([list(exclude_ids)] if exclude_ids else []),
        cap,
    )
    return int(found)


def next_messages(seqs: Sequence[int]) -> Op[dict[int, int]]:
    """The next searchable message of the same agent after each of ``seqs``."""
    if not seqs:
        return {}
    found = yield from rows(
        "SELECT m.seq, (SELECT min(n.seq) FROM messages n WHERE n.agent_id = m.agent_id AND n.seq > m.seq"
        " AND n.search_text <> '') FROM messages m WHERE m.seq = ANY(?)",
        list(seqs),
    )
    return {int(q): int(r) for q, r in found if r is not None}


# ----------------------------------------------------------------------------- embeddings
_TEXT_COLUMN = {"messages": "search_text", "passages": "text", "source_passages": "text"}


def unembedded(table: str, owner: str | None, limit: int) -> Op[list[tuple[int, str]]]:
    """Rows of the owner (every owner: None) that wait for an embedding, oldest first."""
    text = _TEXT_COLUMN[table]
    where = f"embedding IS NULL AND {text} <> ''" + (f" AND {OWNER[table]} = ?" if owner else "")
    found = yield from rows(
        f"SELECT seq, {text} FROM {table} WHERE {where} ORDER BY seq LIMIT ?", *([owner] if owner else []), limit
    )
    return [(int(seq), str(body)) for seq, body in found]


def set_embeddings(d: Dialect, table: str, seqs: Sequence[int], vectors: np.ndarray) -> Op[None]:
    """Store embeddings of rows that still have none (a row embedded meanwhile is left as it is)."""
    if not seqs:
        return
    numbers = yield from embed_numbers(d, table, len(seqs))
    # One statement joining a VALUES list (both engines name its columns column1, column2, ...).
    if numbers is None:
        values = [[seq, Vector(vectors[i])] for i, seq in enumerate(seqs)]
        assignments = "embedding = v.column2"
    else:
        values = [[seq, Vector(vectors[i]), numbers + i] for i, seq in enumerate(seqs)]
        assignments = "embedding = v.column2, embed_seq = v.column3"
    marks = ", ".join("(" + ", ".join("?" * len(values[0])) + ")" for _ in values)
    yield from run(
        f"UPDATE {table} SET {assignments} FROM (VALUES {marks}) AS v"
        f" WHERE {table}.seq = v.column1 AND {table}.embedding IS NULL",
        *[value for row in values for value in row],
    )


def embed_numbers(d: Dialect, table: str, count: int) -> Op[int | None]:
    """The first of ``count`` new ``embed_seq`` numbers (None where the engine keeps none)."""
    if not d.numbered_embeddings or count == 0:
        return None
    last = yield from scalar("UPDATE embed_counter SET value = value + ? WHERE name = ? RETURNING value", count, table)
    return int(last) - count + 1


def count_unembedded() -> Op[int]:
    found = yield from scalar(
        "SELECT (SELECT count(*) FROM messages WHERE embedding IS NULL AND search_text <> '')"
        " + (SELECT count(*) FROM passages WHERE embedding IS NULL)"
        " + (SELECT count(*) FROM source_passages WHERE embedding IS NULL)"
    )
    return int(found)


def owner_ids(table: str) -> Op[list[str]]:
    found = yield from rows(f"SELECT id FROM {table} ORDER BY id")
    return [str(r[0]) for r in found]


# ----------------------------------------------------------------------------- archival passages
_PASSAGE_SELECT = f"SELECT {', '.join(records.PASSAGE_COLUMNS)} FROM passages"


def insert_passages(d: Dialect, rows_: Sequence[Row], vectors: np.ndarray | None) -> Op[None]:
    """Insert checked passage rows (with their embeddings, if computed)."""
    yield from insert_rows(d, TABLES["passages"], [r | {"embedding": _nth(vectors, i)} for i, r in enumerate(rows_)])


def _nth(vectors: np.ndarray | None, i: int) -> np.ndarray | None:
    return None if vectors is None else vectors[i]


def insert_rows(d: Dialect, table: Table, rows_: Sequence[Row], *, on_conflict: str = "") -> Op[int]:
    """INSERT rows of ``table`` (data columns, plus ``embed_seq`` where the engine numbers embeddings)."""
    if not rows_:
        return 0
    columns = [c.name for c in table.data_columns]
    params = [records.encode(table, r) for r in rows_]
    if "embedding" in columns and d.numbered_embeddings:
        embedded = [i for i, r in enumerate(rows_) if r.get("embedding") is not None]
        first = yield from embed_numbers(d, table.name, len(embedded))
        numbers = {i: (first or 0) + n for n, i in enumerate(embedded)}
        params = [[*p, numbers.get(i)] for i, p in enumerate(params)]
        columns.append("embed_seq")
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}){on_conflict}"
    try:
        result = yield Query(sql, params, many=True)
    except ConstraintError as exc:
        raise ValidationError(f"Cannot store {table.name}: {exc}") from exc
    return result.rowcount


def get_passages(agent_id: str, ids: Sequence[str]) -> Op[list[Passage]]:
    wanted = list(ids)
    found = (yield from rows(f"{_PASSAGE_SELECT} WHERE agent_id = ? AND id = ANY(?)", agent_id, wanted)) if ids else []
    by_id = {r[0]: records.passage_from(r) for r in found}
    missing = [i for i in wanted if i not in by_id]
    if missing:
        raise NotFoundError(f"{len(missing)} passage(s) not found for agent {agent_id}, e.g. {missing[0]}.")
    return [by_id[i] for i in wanted]


def list_passages(agent_id: str, offset: int, limit: int) -> Op[list[Passage]]:
    found = yield from rows(
        f"{_PASSAGE_SELECT} WHERE agent_id = ? ORDER BY seq LIMIT ? OFFSET ?", agent_id, limit, offset
    )
    return [records.passage_from(r) for r in found]


def count_passages(agent_id: str) -> Op[int]:
    found = yield from scalar(
        "SELECT (SELECT count(*) FROM passages WHERE agent_id = ?)"
        " + (SELECT coalesce(sum(f.passage_count), 0) FROM agent_sources a"
        " JOIN source_files f ON f.source_id = a.source_id WHERE a.agent_id = ? AND f.state = 'done')",
        agent_id,
        agent_id,
    )
    return int(found)


def delete_passages(agent_id: str, ids: Sequence[str]) -> Op[list[int]]:
    """Delete the agent's passages by id; returns the deleted rows' ``seq`` (for the vector index)."""
    if not ids:
        return []
    found = yield from rows(
        "DELETE FROM passages WHERE agent_id = ? AND id = ANY(?) RETURNING seq", agent_id, list(ids)
    )
    return [int(r[0]) for r in found]


def read_passage_context(agent_id: str, passage_id: str, before: int, after: int) -> Op[list[Passage]]:
    own = yield from rows(f"{_PASSAGE_SELECT} WHERE agent_id = ? AND id = ?", agent_id, passage_id)
    if own:
        return [records.passage_from(r) for r in own]
    hit = yield from one(
        "SELECT p.file_id, p.chunk_index FROM source_passages p"
        " JOIN agent_sources a ON a.source_id = p.source_id AND a.agent_id = ?"
        " WHERE p.id = ? AND p.committed = true",
        agent_id,
        passage_id,
    )
    if hit is None:
        raise NotFoundError(f"No passage {passage_id!r} in this agent's archival memory or attached sources.")
    found = yield from rows(
        "SELECT id, '', text, metadata, created_at FROM source_passages"
        " WHERE file_id = ? AND chunk_index BETWEEN ? AND ? ORDER BY chunk_index",
        hit[0],
        int(hit[1]) - before,
        int(hit[1]) + after,
    )
    return [records.passage_from(r) for r in found]


# ----------------------------------------------------------------------------- sources
_SOURCE_SELECT = (
    "SELECT s.id, s.user_id, s.name, s.description, s.metadata, s.created_at,"
    " (SELECT count(*) FROM source_files f WHERE f.source_id = s.id AND f.state = 'done'),"
    " (SELECT coalesce(sum(f.passage_count), 0) FROM source_files f WHERE f.source_id = s.id AND f.state = 'done')"
    " FROM sources s"
)


def insert_source(source: Source) -> Op[None]:
    records.check_name(source.name, "source")
    row = records.source_row(source)
    columns = list(row)
    try:
        yield query(
            f"INSERT INTO sources ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            *records.encode(TABLES["sources"], row),
        )
    except ConstraintError as exc:
        raise AlreadyExistsError(f"A source named {source.name!r} already exists.") from exc


def get_source(user_id: str, key: str) -> Op[Source]:
    column = "id" if looks_like_id(key) else "name"
    found = yield from one(f"{_SOURCE_SELECT} WHERE s.user_id = ? AND s.{column} = ?", user_id, key)
    if found is None:
        raise NotFoundError(f"No source named {key!r}. List sources with `memgpt sources list`.")
    return records.source_from(found)


def list_sources(user_id: str) -> Op[list[Source]]:
    found = yield from rows(f"{_SOURCE_SELECT} WHERE s.user_id = ? ORDER BY s.created_at, s.id", user_id)
    return [records.source_from(r) for r in found]


def list_agent_sources(agent_id: str) -> Op[list[Source]]:
    found = yield from rows(
        f"{_SOURCE_SELECT} JOIN agent_sources a ON a.source_id = s.id WHERE a.agent_id = ?"
        " ORDER BY a.attached_at, s.id",
        agent_id,
    )
    return [records.source_from(r) for r in found]


def delete_source(user_id: str, source_id: str) -> Op[None]:
    result = yield from run("DELETE FROM sources WHERE id = ? AND user_id = ?", source_id, user_id)
    if result.rowcount == 0:
        raise NotFoundError(f"No source with id {source_id!r}.")


def attach_source(agent_id: str, source_id: str, now: datetime) -> Op[bool]:
    result = yield from run(
        "INSERT INTO agent_sources (agent_id, source_id, attached_at)"
        " SELECT a.id, s.id, ? FROM agents a JOIN sources s ON s.user_id = a.user_id"
        " WHERE a.id = ? AND s.id = ? ON CONFLICT DO NOTHING",
        now,
        agent_id,
        source_id,
    )
    if result.rowcount:
        return True
    attached = yield from one("SELECT 1 FROM agent_sources WHERE agent_id = ? AND source_id = ?", agent_id, source_id)
    if attached is None:
        raise NotFoundError(f"No agent {agent_id!r} and source {source_id!r} of the same user.")
    return False


def detach_source(agent_id: str, source_id: str) -> Op[bool]:
    result = yield from run("DELETE FROM agent_sources WHERE agent_id = ? AND source_id = ?", agent_id, source_id)
    return result.rowcount > 0


# ----------------------------------------------------------------------------- source files
_FILE_SELECT = f"SELECT {', '.join(records.FILE_COLUMNS)} FROM source_files"


def select_file(d: Dialect, file_id: str, *, lock: bool = False) -> Op[SourceFile | None]:
    found = yield from one(f"{_FILE_SELECT} WHERE id = ?{d.for_update() if lock else ''}", file_id)
    return None if found is None else records.file_from(found)


def delete_files(file_ids: Sequence[str]) -> Op[list[int]]:
    """Delete file versions with their passages; returns the passages' ``seq`` (for the vector index)."""
    if not file_ids:
        return []
    found = yield from rows("DELETE FROM source_passages WHERE file_id = ANY(?) RETURNING seq", list(file_ids))
    yield from run("DELETE FROM source_files WHERE id = ANY(?)", list(file_ids))
    return [int(r[0]) for r in found]


def begin_source_file(file: SourceFile) -> Op[tuple[SourceFile, list[int]]]:
    """See :meth:`memgpt.memory.protocols.SourceStore.begin_source_file`; also returns the removed passages.

    The version is inserted if it is new (``ON CONFLICT DO NOTHING``) and then read: two loads of the same
    content at once (a retried upload, the CLI beside the server) end up with the same record.
    """
    row = records.file_row(file)
    yield from begin_write()
    conflict = " ON CONFLICT (source_id, path, content_hash) DO NOTHING"
    try:
        yield from insert_rows(_PLAIN, TABLES["source_files"], [row], on_conflict=conflict)
    except ValidationError as exc:  # the foreign key: the source is gone
        raise NotFoundError(f"No source with id {file.source_id!r}.") from exc
    found_row = yield from one(
        f"{_FILE_SELECT} WHERE source_id = ? AND path = ? AND content_hash = ?",
        file.source_id,
        file.path,
        file.content_hash,
    )
    assert found_row is not None
    found = records.file_from(found_row)
    stale = yield from rows(
        "SELECT id FROM source_files WHERE source_id = ? AND path = ? AND state = 'loading' AND id <> ?",
        file.source_id,
        file.path,
        found.id,
    )
    removed = yield from delete_files([r[0] for r in stale])
    return found, removed


_PLAIN = Dialect(numbered_embeddings=False, row_locks=False)  # for tables without embeddings or locks


def check_batches(d: Dialect, batches: Sequence[SourceChunks], *, lock: bool = False) -> Op[list[str]]:
    """Check that every batch continues a loading file (parts of one file in order); their source ids."""
    next_chunk: dict[str, int] = {}
    sources = []
    for batch in batches:
        file = yield from select_file(d, batch.file_id, lock=lock)
        if file is not None and batch.file_id in next_chunk:
            file.passage_count = next_chunk[batch.file_id]
        _check_loading(file, batch.file_id, batch.first_chunk)
        assert file is not None
        next_chunk[batch.file_id] = max(file.passage_count, batch.first_chunk + len(batch.passages))
        sources.append(file.source_id)
    return sources


def _check_loading(file: SourceFile | None, file_id: str, first_chunk: int) -> None:
    if file is None:
        raise NotFoundError(f"No file {file_id!r} is being loaded (it was deleted or replaced).")
    if file.state != "loading":
        raise ValidationError(f"The file {file.path} is already loaded; begin a new version to change it.")
    if not 0 <= first_chunk <= file.passage_count:
        raise ValidationError(
            f"Chunks of {file.path} must be added in order: the next one is {file.passage_count}, got {first_chunk}."
        )


def add_source_chunks(
    d: Dialect, batches: Sequence[SourceChunks], vectors: np.ndarray | None, now: datetime
) -> Op[list[int]]:
    """Store the batches' chunks (checked again with the files locked: another load may have moved on)."""
    yield from begin_write()
    sources = yield from check_batches(d, batches, lock=True)
    position, counts = 0, []
    table = TABLES["source_passages"]
    for batch, source_id in zip(batches, sources, strict=True):
        batch_rows = [
            records.source_passage_row(source_id, batch.file_id, batch.first_chunk + i, p)
            | {"committed": False, "embedding": _nth(vectors, position + i)}
            for i, p in enumerate(batch.passages)
        ]
        position += len(batch_rows)
        yield from insert_rows(d, table, batch_rows, on_conflict=" ON CONFLICT DO NOTHING")
        count = yield from scalar(
            "UPDATE source_files SET passage_count = greatest(passage_count, ?), updated_at = ? WHERE id = ?"
            " RETURNING passage_count",
            batch.first_chunk + len(batch_rows),
            now,
            batch.file_id,
        )
        counts.append(int(count or 0))
    return counts


def commit_source_file(d: Dialect, file_id: str, now: datetime) -> Op[tuple[SourceFile, list[int]]]:
    yield from begin_write()
    file = yield from select_file(d, file_id, lock=True)
    if file is None:
        raise NotFoundError(f"No file {file_id!r} is being loaded (it was deleted or replaced).")
    if file.state == "done":
        return file, []
    others = yield from rows(
        "SELECT id FROM source_files WHERE source_id = ? AND path = ? AND id <> ?", file.source_id, file.path, file_id
    )
    removed = yield from delete_files([r[0] for r in others])
    yield from run("UPDATE source_passages SET committed = true WHERE file_id = ?", file_id)
    yield from run("UPDATE source_files SET state = 'done', updated_at = ? WHERE id = ?", now, file_id)
    done = yield from select_file(d, file_id)
    assert done is not None
    return done, removed


def delete_source_file(file_id: str) -> Op[tuple[str | None, list[int]]]:
    source_id = yield from scalar("SELECT source_id FROM source_files WHERE id = ?", file_id)
    if source_id is None:
        return None, []
    return str(source_id), (yield from delete_files([file_id]))


def list_source_files(source_id: str) -> Op[list[SourceFile]]:
    found = yield from rows(f"{_FILE_SELECT} WHERE source_id = ? ORDER BY path, updated_at, id", source_id)
    return [records.file_from(r) for r in found]


# ----------------------------------------------------------------------------- users and API keys
_USER_SELECT = "SELECT id, name, created_at FROM users"
_KEY_COLUMNS = "id, user_id, name, key_hash, prefix, created_at, last_used_at, revoked_at"


def _user_from(values: Sequence[Any]) -> User:
    return User(id=values[0], name=values[1], created_at=_aware(values[2]))


def _key_from(values: Sequence[Any]) -> ApiKey:
    return ApiKey(
        id=values[0],
        user_id=values[1],
        name=values[2],
        key_hash=values[3],
        prefix=values[4],
        created_at=_aware(values[5]),
        last_used_at=as_time(values[6]),
        revoked_at=as_time(values[7]),
    )


def _aware(value: Any) -> datetime:
    found = as_time(value)
    assert found is not None
    return found


def insert_user(user: User) -> Op[None]:
    records.check_name(user.name, "user")
    try:
        yield query("INSERT INTO users (id, name, created_at) VALUES (?, ?, ?)", user.id, user.name, user.created_at)
    except ConstraintError as exc:
        raise AlreadyExistsError(f"A user named {user.name!r} already exists.") from exc


def get_user(key: str) -> Op[User]:
    column = "id" if looks_like_id(key) else "name"
    found = yield from one(f"{_USER_SELECT} WHERE {column} = ?", key)
    if found is None:
        raise NotFoundError(f"No user named {key!r}. List users with `memgpt users list`.")
    return _user_from(found)


def list_users() -> Op[list[User]]:
    found = yield from rows(f"{_USER_SELECT} ORDER BY created_at, id")
    return [_user_from(r) for r in found]


def delete_user(user_id: str) -> Op[tuple[list[str], list[str]]]:
    """Delete one user with every agent, source, tool, MCP server and key of theirs (only theirs); returns the
    agent and source ids deleted."""
    yield from begin_write()
    user = yield from one("SELECT id FROM users WHERE id = ?", user_id)
    if user is None:
        raise NotFoundError(f"No user with id {user_id!r}.")
    agents = yield from rows("DELETE FROM agents WHERE user_id = ? RETURNING id", user_id)
    sources = yield from rows("DELETE FROM sources WHERE user_id = ? RETURNING id", user_id)
    yield from run("DELETE FROM blocks WHERE user_id = ?", user_id)
    yield from run("DELETE FROM tools WHERE user_id = ?", user_id)  # custom and MCP tools (not keyed to users)
    yield from run("DELETE FROM mcp_servers WHERE user_id = ?", user_id)
    yield from run("DELETE FROM users WHERE id = ?", user_id)  # its keys go with it (ON DELETE CASCADE)
    return [str(r[0]) for r in agents], [str(r[0]) for r in sources]


def insert_api_key(key: ApiKey) -> Op[None]:
    records.check_row({"name": key.name}, "An API key")
    try:
        yield query(
            f"INSERT INTO api_keys ({_KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            key.id,
            key.user_id,
            key.name,
            key.key_hash,
            key.prefix,
            key.created_at,
            key.last_used_at,
            key.revoked_at,
        )
    except ConstraintError as exc:
        raise NotFoundError(f"No user with id {key.user_id!r}.") from exc


def find_api_key(key_hash: str) -> Op[tuple[ApiKey, User] | None]:
    """The active key of that hash with its user, if there is one."""
    found = yield from one(
        f"SELECT {', '.join('k.' + c for c in _KEY_COLUMNS.split(', '))}, u.id, u.name, u.created_at"
        " FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.key_hash = ? AND k.revoked_at IS NULL",
        key_hash,
    )
    return None if found is None else (_key_from(found[:8]), _user_from(found[8:]))


def touch_api_key(key_id: str, now: datetime) -> Op[None]:
    yield from run("UPDATE api_keys SET last_used_at = ? WHERE id = ?", now, key_id)


def list_api_keys(user_id: str) -> Op[list[ApiKey]]:
    found = yield from rows(f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE user_id = ? ORDER BY created_at, id", user_id)
    return [_key_from(r) for r in found]


def revoke_api_key(user_id: str, key: str, now: datetime) -> Op[ApiKey]:
    """Revoke a key of the user by id or by its shown prefix."""
    yield from begin_write()
    found = yield from rows(
        f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE user_id = ? AND (id = ? OR prefix = ?)", user_id, key, key
    )
    if not found:
        raise NotFoundError(f"No API key {key!r} of this user. List keys with `memgpt keys list`.")
    if len(found) > 1:
        raise ValidationError(f"{len(found)} keys start with {key!r}; give the key's id instead.")
    revoked = _key_from(found[0])
    if revoked.revoked_at is None:
        yield from run("UPDATE api_keys SET revoked_at = ? WHERE id = ?", now, revoked.id)
        revoked.revoked_at = now
    return revoked


# ----------------------------------------------------------------------------- bulk rows (db copy, exports)
def read_rows(table: Table, owner: str | None, after: int, limit: int) -> Op[list[tuple[int, Row]]]:
    """Rows of ``table`` (of one owner, or all) as (position, row): bulk tables in ``seq`` order after
    ``after``, the small tables whole (``after`` and ``limit`` ignored; their positions count from 1)."""
    columns = ", ".join(c.name for c in table.data_columns)
    where = f"WHERE {table.owner} = ?" if owner is not None and table.owner else ""
    params: list[Any] = [owner] if where else []
    if table.bulk:
        where = f"{where} AND seq > ?" if where else "WHERE seq > ?"
        found = yield from rows(
            f"SELECT seq, {columns} FROM {table.name} {where} ORDER BY seq LIMIT ?", *params, after, limit
        )
        return [(int(r[0]), records.decode(table, r[1:])) for r in found]
    order = ", ".join(table.primary_key)
    found = yield from rows(f"SELECT {columns} FROM {table.name} {where} ORDER BY {order}", *params)
    return [(i + 1, records.decode(table, r)) for i, r in enumerate(found)]


def write_rows(d: Dialect, table: Table, rows_: Sequence[Row], *, replace: bool) -> Op[int]:
    """Insert checked rows; ``replace``: rows whose key exists overwrite it (small tables only)."""
    checked = [records.check_table_row(table, r) for r in rows_]
    on_conflict = ""
    if replace:
        keys = table.primary_key
        updates = ", ".join(f"{c.name} = excluded.{c.name}" for c in table.data_columns if c.name not in keys)
        on_conflict = f" ON CONFLICT ({', '.join(keys)}) " + (f"DO UPDATE SET {updates}" if updates else "DO NOTHING")
    return (yield from insert_rows(d, table, checked, on_conflict=on_conflict))


def count_owner_rows(table: Table, owner: str, *, embedded: bool) -> Op[int]:
    extra = " AND embedding IS NOT NULL" if embedded else ""
    found = yield from scalar(f"SELECT count(*) FROM {table.name} WHERE {table.owner} = ?{extra}", owner)
    return int(found)


def row_ids(table: Table, owner: str, after: int, limit: int) -> Op[list[tuple[int, str, bool]]]:
    """(position, id, has an embedding) of the owner's rows after position ``after``, in insertion order."""
    found = yield from rows(
        f"SELECT seq, id, embedding IS NOT NULL FROM {table.name} WHERE {table.owner} = ? AND seq > ?"
        " ORDER BY seq LIMIT ?",
        owner,
        after,
        limit,
    )
    return [(int(seq), str(row_id), bool(embedded)) for seq, row_id, embedded in found]
