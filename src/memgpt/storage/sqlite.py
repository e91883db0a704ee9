"""The embedded default store: one SQLite file holding agents, the recall store and the archival store.

- WAL mode, ``synchronous=NORMAL`` and a busy timeout, so a CLI and a server process can open the
  same file at once (SQLite serialises writers; readers never block).
- Versioned migrations in ``migrations/sqlite/NNNN_*.sql``, tracked with ``PRAGMA user_version``.
- Full text: FTS5 with BM25 ranking over external-content tables kept in sync by triggers.
- Vectors: float32 blobs in the rows (the source of truth) plus a derived in-memory index per agent
  and table (:mod:`memgpt.storage.vector_index`), persisted beside the database and caught up from
  the rows by ``embed_seq``, a counter assigned whenever an embedding is written.
- Every call runs in a worker thread on a pooled connection; :meth:`SqliteStore.transaction` pins one
  connection to the calling task so a step's writes commit (or roll back) together.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import json
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Collection, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from memgpt.embeddings.base import Embedder
from memgpt.errors import (
    AgentChangedError,
    AlreadyExistsError,
    EmbeddingMismatchError,
    NotFoundError,
    StorageError,
    ValidationError,
)
from memgpt.memory.agent_state import AgentSettings, AgentState
from memgpt.memory.blocks import Block
from memgpt.memory.protocols import Source, SourceChunks, SourceFile
from memgpt.memory.types import Message, Passage, SearchHit, SearchPage, ToolCall, searchable_text
from memgpt.storage import hybrid_search
from memgpt.storage.hybrid_search import (
    COMMON_TERM_TTL_S,
    OWNER,
    TOTAL_CAP,
    Table,
    check_page,
    common_term_cap,
)
from memgpt.storage.locks import FileLocks
from memgpt.storage.vector_index import VectorIndex

T = TypeVar("T")
MAX_TEXT_CHARS = 1_000_000
EMBED_BATCH = 64
INDEX_SAVE_EVERY = 2000
# Terms matching more rows are not ranked on large tables: BM25 over 10k matches at 1M rows takes ~35 ms.
BM25_MAX_MATCHES = 10_000
# Covering indexes over (owner, rowid) that restrict full-text matches to an owner's rows.
_OWNER_INDEX: dict[Table, str] = {
    "messages": "messages_agent_rowid",
    "passages": "passages_agent_rowid",
    "source_passages": "source_passages_published",
}


def _ts(value: datetime | None) -> float | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def _dt(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def _blob(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype=np.float32).tobytes()


def _check_text(text: str, what: str) -> None:
    if len(text) > MAX_TEXT_CHARS:
        raise ValidationError(
            f"{what} has {len(text):,} characters, over the limit of {MAX_TEXT_CHARS:,}; split it first."
        )


@dataclass
class _IndexEntry:
    index: VectorIndex
    seq: int = 0
    unsaved: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)  # one catch-up at a time


@dataclass
class _Tx:
    conn: sqlite3.Connection
    touched: set[tuple[Table, str]] = field(default_factory=set)
    active: bool = True
    begun: bool = False  # BEGIN is sent with the first statement: one thread hop fewer per transaction


def _migration_scripts() -> list[tuple[int, str]]:
    folder = resources.files("memgpt.storage") / "migrations" / "sqlite"
    scripts = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            scripts.append((int(entry.name.split("_", 1)[0]), entry.read_text(encoding="utf-8")))
    return sorted(scripts)


def _statements(script: str) -> Iterator[str]:
    """Split a SQL script into complete statements (trigger bodies contain semicolons)."""
    buffer = ""
    for line in script.splitlines(keepends=True):
        if line.lstrip().startswith("--"):
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            yield buffer.strip()
            buffer = ""
    if buffer.strip():
        raise StorageError("Migration script ends with an incomplete statement.")


class SqliteStore(hybrid_search.HybridSearchStore):
    """The SQLite implementation of :class:`memgpt.memory.protocols.Store`."""

    def __init__(self, path: Path, embedder: Embedder | None = None, *, pool_size: int = 4) -> None:
        self.path = path
        self.embedder = embedder
        self.semantic_search_available = embedder is not None
        self._pool: asyncio.Queue[sqlite3.Connection] = asyncio.Queue()
        self._all_conns: list[sqlite3.Connection] = []
        self._pool_size = pool_size
        self._tx: contextvars.ContextVar[_Tx | None] = contextvars.ContextVar(f"memgpt-tx-{id(self)}", default=None)
        self._indexes: dict[tuple[Table, str], _IndexEntry] = {}
        self._index_lock = threading.Lock()
        # Writers of this process queue here instead of in SQLite's busy handler, which sleeps in steps.
        self._write_lock = asyncio.Lock()
        self._embed_locks: dict[tuple[Table, str], asyncio.Lock] = {}
        self._common_terms: dict[tuple[Table, str], float] = {}  # (table, term) -> when it was found common
        self._locks = FileLocks(path.with_name(path.name + ".locks"))

    # ----------------------------------------------------------------- opening and connections
    @classmethod
    async def open(cls, path: Path, *, embedder: Embedder | None = None, reembed: bool = False) -> SqliteStore:
        """Open or create the database at ``path``, apply migrations and check the embedding model.

        ``reembed=True`` drops every stored embedding first, so the configured model can replace another.
        """
        store = cls(path, embedder)
        await asyncio.to_thread(store._open_sync, reembed)
        return store

    def _open_sync(self, reembed: bool = False) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            for _ in range(self._pool_size):
                conn = self._connect()
                self._all_conns.append(conn)
                self._pool.put_nowait(conn)
            self._migrate(self._all_conns[0])
            if reembed:
                self._drop_all_embeddings(self._all_conns[0])
            self._check_embedding_model(self._all_conns[0])
        except sqlite3.Error as exc:
            self._close_sync()
            raise StorageError(f"Cannot open the database {self.path}: {exc}.") from exc
        except BaseException:
            self._close_sync()
            raise

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("PRAGMA temp_store=MEMORY")
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        scripts = _migration_scripts()
        latest = scripts[-1][0]
        current = conn.execute("PRAGMA user_version").fetchone()[0]
        if current > latest:
            raise StorageError(
                f"The database {self.path} has schema version {current}, newer than this memgpt knows "
                f"({latest}). Upgrade memgpt (pip install -U memgpt) to open it."
            )
        if current == latest:
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            current = conn.execute("PRAGMA user_version").fetchone()[0]  # another process may have won
            for version, script in scripts:
                if version > current:
                    for statement in _statements(script):
                        conn.execute(statement)
                    conn.execute(f"PRAGMA user_version={version:d}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _check_embedding_model(self, conn: sqlite3.Connection) -> None:
        if self.embedder is None:
            return
        meta = dict(conn.execute("SELECT key, value FROM meta WHERE key LIKE 'embedding_%'").fetchall())
        name, dim = self.embedder.name, self.embedder.dim
        if meta.get("embedding_model") in (None, name) and meta.get("embedding_dim") in (None, str(dim)):
            if "embedding_model" not in meta:
                self._write_embedding_meta(conn, name, dim)
            return
        has_vectors = conn.execute(
            "SELECT EXISTS (SELECT 1 FROM passages WHERE embedding IS NOT NULL)"
            " OR EXISTS (SELECT 1 FROM messages WHERE embedding IS NOT NULL)"
            " OR EXISTS (SELECT 1 FROM source_passages WHERE embedding IS NOT NULL)"
        ).fetchone()[0]
        if not has_vectors:
            self._write_embedding_meta(conn, name, dim)
            return
        raise EmbeddingMismatchError(
            f"The store {self.path} was embedded with {meta.get('embedding_model')} "
            f"({meta.get('embedding_dim')} dimensions) but the configured model is {name} ({dim}). "
            f"Set MEMGPT_EMBEDDING back, or run `memgpt db reembed` to re-embed everything with {name}."
        )

    def _drop_all_embeddings(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        for table in ("messages", "passages", "source_passages"):
            conn.execute(f"UPDATE {table} SET embedding = NULL, embed_seq = NULL WHERE embedding IS NOT NULL")
        conn.execute("DELETE FROM meta WHERE key LIKE 'embedding_%'")
        conn.execute("COMMIT")
        folder = self.path.with_name(self.path.name + ".indexes")
        for file in folder.glob("*") if folder.exists() else []:
            with suppress(OSError):
                file.unlink()

    async def count_unembedded(self) -> int:
        """Rows (messages with searchable text, and passages) that have no embedding yet."""

        def count(conn: sqlite3.Connection) -> int:
            return int(
                conn.execute(
                    "SELECT (SELECT count(*) FROM messages WHERE embedding IS NULL AND search_text != '')"
                    " + (SELECT count(*) FROM passages WHERE embedding IS NULL)"
                    " + (SELECT count(*) FROM source_passages WHERE embedding IS NULL)"
                ).fetchone()[0]
            )

        return await self._run(count)

    async def embed_all_pending(self, on_progress: Callable[[int], None] | None = None) -> int:
        """Embed every row of every agent that lacks an embedding; returns how many were embedded."""
        agent_ids = await self._run(lambda c: [r[0] for r in c.execute("SELECT id FROM agents").fetchall()])
        total = 0
        tables: tuple[Table, ...] = ("messages", "passages")
        for agent_id in agent_ids:
            for table in tables:
                total += await self._embed_pending(table, agent_id, 10**12, on_progress)
        source_ids = await self._run(lambda c: [r[0] for r in c.execute("SELECT id FROM sources").fetchall()])
        for source_id in source_ids:
            total += await self._embed_pending("source_passages", source_id, 10**12, on_progress)
        return total

    @staticmethod
    def _write_embedding_meta(conn: sqlite3.Connection, name: str, dim: int) -> None:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [("embedding_model", name), ("embedding_dim", str(dim))],
        )
        conn.execute("COMMIT")

    async def close(self) -> None:
        """Save the vector indexes and close every connection."""
        await asyncio.to_thread(self._save_indexes)
        self._close_sync()

    def _close_sync(self) -> None:
        for conn in self._all_conns:
            with suppress(sqlite3.Error):
                conn.close()
        self._all_conns.clear()

    async def _run(self, fn: Callable[[sqlite3.Connection], T], *, write: bool = False) -> T:
        """Run ``fn(conn)`` in a worker thread: inside the task's transaction, or on a pooled connection."""
        tx = self._tx.get()
        if tx is not None and tx.active:
            begin = not tx.begun
            if begin:
                await self._write_lock.acquire()
                tx.begun = True
            return await asyncio.to_thread(self._in_tx, tx.conn, fn, begin)
        conn = await self._pool.get()
        try:
            if not write:
                return await asyncio.to_thread(self._call, conn, fn, write)
            async with self._write_lock:
                return await asyncio.to_thread(self._call, conn, fn, write)
        finally:
            self._pool.put_nowait(conn)

    @staticmethod
    def _in_tx(conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T], begin: bool) -> T:
        if begin:
            conn.execute("BEGIN IMMEDIATE")
        return fn(conn)

    @staticmethod
    def _call(conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T], write: bool) -> T:
        if not write:
            return fn(conn)
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return result

    def lock_agent(self, agent_id: str, *, timeout: float = 60.0) -> AbstractAsyncContextManager[None]:
        """Hold the agent's lock in this process and across processes sharing the database file."""
        return self._locks.hold(agent_id, timeout=timeout)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """Make every store call of this task inside the block one atomic transaction (joins an outer one)."""
        outer = self._tx.get()
        if outer is not None and outer.active:
            yield
            return
        conn = await self._pool.get()
        tx = _Tx(conn)
        token = self._tx.set(tx)
        try:
            try:
                yield
            except BaseException:
                tx.active = False
                if tx.begun:
                    await asyncio.shield(asyncio.to_thread(conn.execute, "ROLLBACK"))
                self._forget_indexes(tx.touched)
                raise
            tx.active = False
            if tx.begun:
                await asyncio.shield(asyncio.to_thread(conn.execute, "COMMIT"))
        finally:
            tx.active = False
            if tx.begun:
                self._write_lock.release()
            self._tx.reset(token)
            self._pool.put_nowait(conn)

    # ----------------------------------------------------------------- agents
    async def create_agent(self, state: AgentState) -> None:
        created_at = _ts(state.created_at)

        def insert(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    "INSERT INTO agents (id, user_id, name, model, context_window, system_prompt_version,"
                    " blocks_json, fifo_json, summary, summary_updated_at, pressure_warned, last_memory_edit,"
                    " settings_json, updated_at, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (state.id, state.user_id, state.name, *self._agent_columns(state, state.updated_at), created_at),
                )
            except sqlite3.IntegrityError as exc:
                raise AlreadyExistsError(f"An agent named {state.name!r} already exists.") from exc

        for block in state.blocks:
            block.check()
        state.updated_at = _dt(_ts(state.updated_at)) or state.updated_at
        await self._run(insert, write=True)

    @staticmethod
    def _agent_columns(state: AgentState, updated_at: datetime) -> tuple[Any, ...]:
        blocks = [asdict(b) for b in state.blocks]
        return (
            state.model,
            state.context_window,
            state.system_prompt_version,
            json.dumps(blocks),
            json.dumps(state.fifo_ids),
            state.summary,
            _ts(state.summary_updated_at),
            int(state.pressure_warned),
            _ts(state.last_memory_edit),
            json.dumps(state.settings.to_dict()),
            _ts(updated_at),
        )

    async def get_agent(self, user_id: str, agent: str) -> AgentState:
        def select(conn: sqlite3.Connection) -> sqlite3.Row | None:
            conn.row_factory = sqlite3.Row
            try:
                row: sqlite3.Row | None = conn.execute(
                    "SELECT * FROM agents WHERE user_id = ? AND (id = ? OR name = ?)", (user_id, agent, agent)
                ).fetchone()
                return row
            finally:
                conn.row_factory = None

        row = await self._run(select)
        if row is None:
            raise NotFoundError(f"No agent named {agent!r}. List agents with `memgpt agents list`.")
        return self._agent_from_row(row)

    async def list_agents(self, user_id: str) -> list[AgentState]:
        def select(conn: sqlite3.Connection) -> list[sqlite3.Row]:
            conn.row_factory = sqlite3.Row
            try:
                return conn.execute(
                    "SELECT * FROM agents WHERE user_id = ? ORDER BY created_at, rowid", (user_id,)
                ).fetchall()
            finally:
                conn.row_factory = None

        return [self._agent_from_row(row) for row in await self._run(select)]

    @staticmethod
    def _agent_from_row(row: sqlite3.Row) -> AgentState:
        return AgentState(
            id=row["id"],
            user_id=row["user_id"],
            name=row["name"],
            model=row["model"],
            context_window=row["context_window"],
            system_prompt_version=row["system_prompt_version"],
            blocks=[Block(**b) for b in json.loads(row["blocks_json"])],
            fifo_ids=json.loads(row["fifo_json"]),
            summary=row["summary"],
            summary_updated_at=_dt(row["summary_updated_at"]),
            pressure_warned=bool(row["pressure_warned"]),
            last_memory_edit=_dt(row["last_memory_edit"]),
            settings=AgentSettings.from_dict(json.loads(row["settings_json"])),
            created_at=_dt(row["created_at"]) or datetime.now(UTC),
            updated_at=_dt(row["updated_at"]) or datetime.now(UTC),
        )

    async def save_agent(self, state: AgentState) -> None:
        await self._run(self._agent_updater(state), write=True)

    def _agent_updater(self, state: AgentState) -> Callable[[sqlite3.Connection], None]:
        """Validates ``state`` now; the returned function writes it if the stored agent is still the version
        ``state`` was read as (compare-and-set on ``updated_at``), and then advances ``state.updated_at``."""
        for block in state.blocks:
            block.check()
        read_at = state.updated_at
        written_at = _dt(_ts(datetime.now(UTC))) or read_at  # as stored, so reloads compare equal

        def update(conn: sqlite3.Connection) -> None:
            cursor = conn.execute(
                "UPDATE agents SET model = ?, context_window = ?, system_prompt_version = ?, blocks_json = ?,"
                " fifo_json = ?, summary = ?, summary_updated_at = ?, pressure_warned = ?, last_memory_edit = ?,"
                " settings_json = ?, updated_at = ? WHERE id = ? AND user_id = ? AND abs(updated_at - ?) < 1e-6",
                (*self._agent_columns(state, written_at), state.id, state.user_id, _ts(read_at)),
            )
            if cursor.rowcount == 0:
                if conn.execute("SELECT 1 FROM agents WHERE id = ?", (state.id,)).fetchone() is None:
                    raise NotFoundError(f"Agent {state.name!r} no longer exists.")
                raise AgentChangedError(state.name)
            state.updated_at = written_at

        return update

    async def delete_agent(self, user_id: str, agent_id: str) -> None:
        def delete(conn: sqlite3.Connection) -> None:
            cursor = conn.execute("DELETE FROM agents WHERE id = ? AND user_id = ?", (agent_id, user_id))
            if cursor.rowcount == 0:
                raise NotFoundError(f"No agent with id {agent_id!r}.")

        await self._run(delete, write=True)
        for table in ("messages", "passages"):
            self._drop_index(table, agent_id)

    # ----------------------------------------------------------------- recall store
    async def append_and_save(self, state: AgentState, messages: Sequence[Message]) -> None:
        insert = self._message_inserter(state.id, messages)
        update = self._agent_updater(state)

        def both(conn: sqlite3.Connection) -> None:
            insert(conn)
            update(conn)

        await self._run(both, write=True)
        for m in messages:
            m.agent_id = state.id

    async def append_messages(self, agent_id: str, messages: Sequence[Message]) -> None:
        if messages:
            await self._run(self._message_inserter(agent_id, messages), write=True)
        for m in messages:
            m.agent_id = agent_id

    def _message_inserter(self, agent_id: str, messages: Sequence[Message]) -> Callable[[sqlite3.Connection], None]:
        rows = []
        for m in messages:
            _check_text(m.content or "", "A message")
            rows.append(
                (
                    m.id,
                    agent_id,
                    m.role,
                    m.content,
                    json.dumps([[c.id, c.name, c.arguments] for c in m.tool_calls]) if m.tool_calls else None,
                    m.tool_call_id,
                    m.name,
                    json.dumps(m.metadata) if m.metadata else None,
                    searchable_text(m),
                    _ts(m.created_at),
                )
            )

        def insert(conn: sqlite3.Connection) -> None:
            if not rows:
                return
            try:
                conn.executemany(
                    "INSERT INTO messages (id, agent_id, role, content, tool_calls_json, tool_call_id, name,"
                    " metadata_json, search_text, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    rows,
                )
            except sqlite3.IntegrityError as exc:
                raise ValidationError(f"Cannot store messages for agent {agent_id}: {exc}.") from exc

        return insert

    _MESSAGE_COLUMNS = "id, agent_id, role, content, tool_calls_json, tool_call_id, name, metadata_json, created_at"

    @staticmethod
    def _message_from_row(row: tuple[Any, ...]) -> Message:
        calls = [ToolCall(id=c[0], name=c[1], arguments=c[2]) for c in json.loads(row[4])] if row[4] else []
        return Message(
            id=row[0],
            agent_id=row[1],
            role=row[2],
            content=row[3],
            tool_calls=calls,
            tool_call_id=row[5],
            name=row[6],
            metadata=json.loads(row[7]) if row[7] else {},
            created_at=_dt(row[8]) or datetime.now(UTC),
        )

    async def get_messages(self, agent_id: str, ids: Sequence[str]) -> list[Message]:
        wanted = list(ids)

        def select(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
            rows: list[tuple[Any, ...]] = []
            for chunk_start in range(0, len(wanted), 500):
                chunk = wanted[chunk_start : chunk_start + 500]
                marks = ",".join("?" * len(chunk))
                rows += conn.execute(
                    f"SELECT {self._MESSAGE_COLUMNS} FROM messages WHERE agent_id = ? AND id IN ({marks})",
                    (agent_id, *chunk),
                ).fetchall()
            return rows

        by_id = {row[0]: self._message_from_row(row) for row in await self._run(select)}
        missing = [i for i in wanted if i not in by_id]
        if missing:
            raise NotFoundError(f"{len(missing)} message(s) not found for agent {agent_id}, e.g. {missing[0]}.")
        return [by_id[i] for i in wanted]

    async def list_messages(
        self, agent_id: str, *, offset: int = 0, limit: int = 100, newest_first: bool = False
    ) -> list[Message]:
        order = "DESC" if newest_first else "ASC"

        def select(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
            return conn.execute(
                f"SELECT {self._MESSAGE_COLUMNS} FROM messages WHERE agent_id = ? ORDER BY rowid {order}"
                " LIMIT ? OFFSET ?",
                (agent_id, max(0, limit), max(0, offset)),
            ).fetchall()

        return [self._message_from_row(row) for row in await self._run(select)]

    async def count_messages(self, agent_id: str) -> int:
        return await self._count("messages", agent_id)

    async def _count(self, table: Table, agent_id: str) -> int:
        def count(conn: sqlite3.Connection) -> int:
            return int(conn.execute(f"SELECT count(*) FROM {table} WHERE agent_id = ?", (agent_id,)).fetchone()[0])

        return await self._run(count)

    async def search_messages_by_date(
        self, agent_id: str, start: datetime, end: datetime, *, page: int = 0, page_size: int = 5
    ) -> SearchPage:
        if end <= start:
            raise ValidationError(f"The end of the date range ({end:%Y-%m-%d}) must be after its start.")
        check_page(page, page_size)
        bounds = (agent_id, _ts(start), _ts(end))

        def select(conn: sqlite3.Connection) -> tuple[int, list[tuple[Any, ...]]]:
            where = "agent_id = ? AND created_at >= ? AND created_at < ? AND search_text != ''"
            total = conn.execute(f"SELECT count(*) FROM messages WHERE {where}", bounds).fetchone()[0]
            rows = conn.execute(
                f"SELECT rowid, id, role, search_text, created_at, metadata_json, name FROM messages WHERE {where}"
                " ORDER BY created_at, rowid LIMIT ? OFFSET ?",
                (*bounds, page_size, page * page_size),
            ).fetchall()
            return int(total), rows

        total, rows = await self._run(select)
        hits = [self._hit(row, 0.0) for row in rows]
        return SearchPage(hits=hits, page=page, page_size=page_size, total=total)

    async def embed_pending_messages(self, agent_id: str, *, limit: int = 1000) -> int:
        return await self._embed_pending("messages", agent_id, limit)

    # ----------------------------------------------------------------- archival store
    async def insert_passages(self, agent_id: str, passages: Sequence[Passage]) -> list[str]:
        for p in passages:
            if not p.text.strip():
                raise ValidationError("A passage is empty: archival memory needs some text.")
            _check_text(p.text, "A passage")
        vectors = await self._embed([p.text for p in passages]) if self.embedder and passages else None
        rows = [
            (p.id, agent_id, p.text, json.dumps(p.metadata) if p.metadata else None, _ts(p.created_at))
            for p in passages
        ]

        def insert(conn: sqlite3.Connection) -> None:
            try:
                if vectors is None:
                    conn.executemany(
                        "INSERT INTO passages (id, agent_id, text, metadata_json, created_at) VALUES (?,?,?,?,?)",
                        rows,
                    )
                    return
                seq = self._next_seq(conn, "passages")
                conn.executemany(
                    "INSERT INTO passages (id, agent_id, text, metadata_json, created_at, embedding, embed_seq)"
                    " VALUES (?,?,?,?,?,?,?)",
                    [(*row, _blob(vectors[i]), seq + i) for i, row in enumerate(rows)],
                )
            except sqlite3.IntegrityError as exc:
                raise ValidationError(f"Cannot store passages for agent {agent_id}: {exc}.") from exc

        if rows:
            await self._run(insert, write=True)
        for p in passages:
            p.agent_id = agent_id
        return [p.id for p in passages]

    _PASSAGE_COLUMNS = "id, agent_id, text, metadata_json, created_at"

    @staticmethod
    def _passage_from_row(row: tuple[Any, ...]) -> Passage:
        return Passage(
            id=row[0],
            agent_id=row[1],
            text=row[2],
            metadata=json.loads(row[3]) if row[3] else {},
            created_at=_dt(row[4]) or datetime.now(UTC),
        )

    async def get_passages(self, agent_id: str, ids: Sequence[str]) -> list[Passage]:
        wanted = list(ids)

        def select(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
            marks = ",".join("?" * len(wanted))
            return conn.execute(
                f"SELECT {self._PASSAGE_COLUMNS} FROM passages WHERE agent_id = ? AND id IN ({marks})",
                (agent_id, *wanted),
            ).fetchall()

        by_id = {row[0]: self._passage_from_row(row) for row in (await self._run(select) if wanted else [])}
        missing = [i for i in wanted if i not in by_id]
        if missing:
            raise NotFoundError(f"{len(missing)} passage(s) not found for agent {agent_id}, e.g. {missing[0]}.")
        return [by_id[i] for i in wanted]

    async def list_passages(self, agent_id: str, *, offset: int = 0, limit: int = 100) -> list[Passage]:
        def select(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
            return conn.execute(
                f"SELECT {self._PASSAGE_COLUMNS} FROM passages WHERE agent_id = ? ORDER BY rowid LIMIT ? OFFSET ?",
                (agent_id, max(0, limit), max(0, offset)),
            ).fetchall()

        return [self._passage_from_row(row) for row in await self._run(select)]

    async def count_passages(self, agent_id: str) -> int:
        def count(conn: sqlite3.Connection) -> int:
            return int(
                conn.execute(
                    "SELECT (SELECT count(*) FROM passages WHERE agent_id = ?)"
                    " + (SELECT coalesce(sum(f.passage_count), 0) FROM agent_sources a"
                    " JOIN source_files f ON f.source_id = a.source_id WHERE a.agent_id = ? AND f.state = 'done')",
                    (agent_id, agent_id),
                ).fetchone()[0]
            )

        return await self._run(count)

    async def delete_passages(self, agent_id: str, ids: Sequence[str]) -> int:
        wanted = list(ids)

        def delete(conn: sqlite3.Connection) -> list[int]:
            rowids: list[int] = []
            for chunk_start in range(0, len(wanted), 500):
                chunk = wanted[chunk_start : chunk_start + 500]
                marks = ",".join("?" * len(chunk))
                rowids += [
                    r[0]
                    for r in conn.execute(
                        f"DELETE FROM passages WHERE agent_id = ? AND id IN ({marks}) RETURNING rowid",
                        (agent_id, *chunk),
                    ).fetchall()
                ]
            return rowids

        removed = await self._run(delete, write=True) if wanted else []
        entry = self._indexes.get(("passages", agent_id))
        if entry is not None and removed:
            entry.index.remove(removed)
        return len(removed)

    # ----------------------------------------------------------------- sources
    _SOURCE_SELECT = (
        "SELECT s.id, s.user_id, s.name, s.description, s.metadata_json, s.created_at,"
        " (SELECT count(*) FROM source_files f WHERE f.source_id = s.id AND f.state = 'done'),"
        " (SELECT coalesce(sum(f.passage_count), 0) FROM source_files f WHERE f.source_id = s.id AND f.state = 'done')"
        " FROM sources s"
    )
    _FILE_COLUMNS = "id, source_id, path, content_hash, size, state, passage_count, updated_at, metadata_json"

    @staticmethod
    def _source_from_row(row: tuple[Any, ...]) -> Source:
        return Source(
            id=row[0],
            user_id=row[1],
            name=row[2],
            description=row[3],
            metadata=json.loads(row[4]) if row[4] else {},
            created_at=_dt(row[5]) or datetime.now(UTC),
            file_count=int(row[6]),
            passage_count=int(row[7]),
        )

    @staticmethod
    def _file_from_row(row: tuple[Any, ...]) -> SourceFile:
        return SourceFile(
            id=row[0],
            source_id=row[1],
            path=row[2],
            content_hash=row[3],
            size=int(row[4]),
            state=row[5],
            passage_count=int(row[6]),
            updated_at=_dt(row[7]) or datetime.now(UTC),
            metadata=json.loads(row[8]) if row[8] else {},
        )

    async def create_source(self, source: Source) -> None:
        row = (
            source.id,
            source.user_id,
            source.name,
            source.description,
            json.dumps(source.metadata) if source.metadata else None,
            _ts(source.created_at),
        )

        def insert(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    "INSERT INTO sources (id, user_id, name, description, metadata_json, created_at)"
                    " VALUES (?,?,?,?,?,?)",
                    row,
                )
            except sqlite3.IntegrityError as exc:
                raise AlreadyExistsError(f"A source named {source.name!r} already exists.") from exc

        await self._run(insert, write=True)

    async def get_source(self, user_id: str, source: str) -> Source:
        def select(conn: sqlite3.Connection) -> tuple[Any, ...] | None:
            row: tuple[Any, ...] | None = conn.execute(
                f"{self._SOURCE_SELECT} WHERE s.user_id = ? AND (s.id = ? OR s.name = ?)", (user_id, source, source)
            ).fetchone()
            return row

        row = await self._run(select)
        if row is None:
            raise NotFoundError(f"No source named {source!r}. List sources with `memgpt sources list`.")
        return self._source_from_row(row)

    async def list_sources(self, user_id: str) -> list[Source]:
        def select(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
            return conn.execute(
                f"{self._SOURCE_SELECT} WHERE s.user_id = ? ORDER BY s.created_at, s.rowid", (user_id,)
            ).fetchall()

        return [self._source_from_row(row) for row in await self._run(select)]

    async def delete_source(self, user_id: str, source_id: str) -> None:
        def delete(conn: sqlite3.Connection) -> None:
            cursor = conn.execute("DELETE FROM sources WHERE id = ? AND user_id = ?", (source_id, user_id))
            if cursor.rowcount == 0:
                raise NotFoundError(f"No source with id {source_id!r}.")

        await self._run(delete, write=True)
        self._drop_index("source_passages", source_id)

    async def attach_source(self, agent_id: str, source_id: str) -> bool:
        def attach(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "INSERT INTO agent_sources (agent_id, source_id, attached_at)"
                " SELECT a.id, s.id, ? FROM agents a JOIN sources s ON s.user_id = a.user_id"
                " WHERE a.id = ? AND s.id = ? ON CONFLICT DO NOTHING",
                (_ts(datetime.now(UTC)), agent_id, source_id),
            )
            if cursor.rowcount:
                return True
            attached = conn.execute(
                "SELECT 1 FROM agent_sources WHERE agent_id = ? AND source_id = ?", (agent_id, source_id)
            ).fetchone()
            if attached is None:
                raise NotFoundError(f"No agent {agent_id!r} and source {source_id!r} of the same user.")
            return False

        return await self._run(attach, write=True)

    async def detach_source(self, agent_id: str, source_id: str) -> bool:
        def detach(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "DELETE FROM agent_sources WHERE agent_id = ? AND source_id = ?", (agent_id, source_id)
            )
            return cursor.rowcount > 0

        return await self._run(detach, write=True)

    async def list_agent_sources(self, agent_id: str) -> list[Source]:
        def select(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
            return conn.execute(
                f"{self._SOURCE_SELECT} JOIN agent_sources a ON a.source_id = s.id WHERE a.agent_id = ?"
                " ORDER BY a.attached_at, a.rowid",
                (agent_id,),
            ).fetchall()

        return [self._source_from_row(row) for row in await self._run(select)]

    def _select_file(self, conn: sqlite3.Connection, file_id: str) -> SourceFile | None:
        row = conn.execute(f"SELECT {self._FILE_COLUMNS} FROM source_files WHERE id = ?", (file_id,)).fetchone()
        return None if row is None else self._file_from_row(row)

    @staticmethod
    def _delete_files(conn: sqlite3.Connection, file_ids: Sequence[str]) -> list[int]:
        """Delete file versions and their passages; returns the passages' rowids (for the vector index)."""
        rowids: list[int] = []
        for file_id in file_ids:
            rowids += [
                r[0]
                for r in conn.execute(
                    "DELETE FROM source_passages WHERE file_id = ? RETURNING rowid", (file_id,)
                ).fetchall()
            ]
            conn.execute("DELETE FROM source_files WHERE id = ?", (file_id,))
        return rowids

    def _forget_rows(self, table: Table, owner: str, rowids: Sequence[int]) -> None:
        entry = self._indexes.get((table, owner))
        if entry is not None and rowids:
            entry.index.remove(rowids)

    async def begin_source_file(self, file: SourceFile) -> SourceFile:
        def begin(conn: sqlite3.Connection) -> tuple[SourceFile, list[int]]:
            row = conn.execute(
                f"SELECT {self._FILE_COLUMNS} FROM source_files WHERE source_id = ? AND path = ? AND content_hash = ?",
                (file.source_id, file.path, file.content_hash),
            ).fetchone()
            found = self._file_from_row(row) if row is not None else None
            stale = conn.execute(
                "SELECT id FROM source_files WHERE source_id = ? AND path = ? AND state = 'loading' AND id != ?",
                (file.source_id, file.path, found.id if found else ""),
            ).fetchall()
            removed = self._delete_files(conn, [r[0] for r in stale])
            if found is not None:
                return found, removed
            try:
                conn.execute(
                    "INSERT INTO source_files (id, source_id, path, content_hash, size, state, passage_count,"
                    " updated_at, metadata_json) VALUES (?,?,?,?,?,'loading',0,?,?)",
                    (
                        file.id,
                        file.source_id,
                        file.path,
                        file.content_hash,
                        file.size,
                        _ts(file.updated_at),
                        json.dumps(file.metadata) if file.metadata else None,
                    ),
                )
            except sqlite3.IntegrityError as exc:
                raise NotFoundError(f"No source with id {file.source_id!r}.") from exc
            stored = self._select_file(conn, file.id)
            assert stored is not None
            return stored, removed

        stored, removed = await self._run(begin, write=True)
        self._forget_rows("source_passages", file.source_id, removed)
        return stored

    async def add_source_passages(self, file_id: str, first_chunk: int, passages: Sequence[Passage]) -> int:
        return (await self.add_source_chunks([SourceChunks(file_id, first_chunk, passages)]))[0]

    async def add_source_chunks(self, batches: Sequence[SourceChunks]) -> list[int]:
        for batch in batches:
            for p in batch.passages:
                if not p.text.strip():
                    raise ValidationError("A passage is empty: archival memory needs some text.")
                _check_text(p.text, "A passage")
        if not batches:
            return []
        sources = await self._run(functools.partial(self._check_batches, batches))
        texts = [p.text for batch in batches for p in batch.passages]
        vectors = await self._embed(texts) if self.embedder and texts else None

        def insert(conn: sqlite3.Connection) -> list[int]:
            self._check_batches(batches, conn)  # again under the write lock: another load may have moved on
            seq = self._next_seq(conn, "source_passages") if vectors is not None else 0
            position, counts = 0, []
            for batch, source_id in zip(batches, sources, strict=True):
                rows = [
                    (
                        p.id,
                        source_id,
                        batch.file_id,
                        batch.first_chunk + i,
                        p.text,
                        json.dumps(p.metadata) if p.metadata else None,
                        _ts(p.created_at),
                        None if vectors is None else _blob(vectors[position + i]),
                        None if vectors is None else seq + position + i,
                    )
                    for i, p in enumerate(batch.passages)
                ]
                position += len(rows)
                conn.executemany(
                    "INSERT INTO source_passages (id, source_id, file_id, chunk_index, text, metadata_json,"
                    " created_at, embedding, embed_seq) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                    rows,
                )
                row = conn.execute(
                    "UPDATE source_files SET passage_count = max(passage_count, ?), updated_at = ? WHERE id = ?"
                    " RETURNING passage_count",
                    (batch.first_chunk + len(rows), _ts(datetime.now(UTC)), batch.file_id),
                ).fetchone()
                counts.append(int(row[0]))
            return counts

        return await self._run(insert, write=True)

    def _check_batches(self, batches: Sequence[SourceChunks], conn: sqlite3.Connection) -> list[str]:
        """Check that every batch continues a loading file (parts of one file in order); their source ids."""
        next_chunk: dict[str, int] = {}
        sources = []
        for batch in batches:
            file = self._select_file(conn, batch.file_id)
            if file is not None and batch.file_id in next_chunk:
                file.passage_count = next_chunk[batch.file_id]
            self._check_loading(file, batch.file_id, batch.first_chunk)
            assert file is not None
            next_chunk[batch.file_id] = max(file.passage_count, batch.first_chunk + len(batch.passages))
            sources.append(file.source_id)
        return sources

    @staticmethod
    def _check_loading(file: SourceFile | None, file_id: str, first_chunk: int) -> None:
        if file is None:
            raise NotFoundError(f"No file {file_id!r} is being loaded (it was deleted or replaced).")
        if file.state != "loading":
            raise ValidationError(f"The file {file.path} is already loaded; begin a new version to change it.")
        if not 0 <= first_chunk <= file.passage_count:
            raise ValidationError(
                f"Chunks of {file.path} must be added in order: the next one is {file.passage_count}, "
                f"got {first_chunk}."
            )

    async def commit_source_file(self, file_id: str) -> SourceFile:
        def commit(conn: sqlite3.Connection) -> tuple[SourceFile, list[int]]:
            file = self._select_file(conn, file_id)
            if file is None:
                raise NotFoundError(f"No file {file_id!r} is being loaded (it was deleted or replaced).")
            if file.state == "done":
                return file, []
            others = conn.execute(
                "SELECT id FROM source_files WHERE source_id = ? AND path = ? AND id != ?",
                (file.source_id, file.path, file_id),
            ).fetchall()
            removed = self._delete_files(conn, [r[0] for r in others])
            conn.execute("UPDATE source_passages SET committed = 1 WHERE file_id = ?", (file_id,))
            conn.execute(
                "UPDATE source_files SET state = 'done', updated_at = ? WHERE id = ?",
                (_ts(datetime.now(UTC)), file_id),
            )
            done = self._select_file(conn, file_id)
            assert done is not None
            return done, removed

        done, removed = await self._run(commit, write=True)
        self._forget_rows("source_passages", done.source_id, removed)
        return done

    async def delete_source_file(self, file_id: str) -> None:
        def delete(conn: sqlite3.Connection) -> tuple[str | None, list[int]]:
            row = conn.execute("SELECT source_id FROM source_files WHERE id = ?", (file_id,)).fetchone()
            return (row[0], self._delete_files(conn, [file_id])) if row else (None, [])

        source_id, removed = await self._run(delete, write=True)
        if source_id is not None:
            self._forget_rows("source_passages", source_id, removed)

    async def list_source_files(self, source_id: str) -> list[SourceFile]:
        def select(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
            return conn.execute(
                f"SELECT {self._FILE_COLUMNS} FROM source_files WHERE source_id = ? ORDER BY path, updated_at",
                (source_id,),
            ).fetchall()

        return [self._file_from_row(row) for row in await self._run(select)]

    async def read_passage_context(
        self, agent_id: str, passage_id: str, *, before: int = 0, after: int = 1
    ) -> list[Passage]:
        if before < 0 or after < 0:
            raise ValidationError(f"before and after must be 0 or more, got {before} and {after}.")

        def select(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
            own = conn.execute(
                f"SELECT {self._PASSAGE_COLUMNS} FROM passages WHERE agent_id = ? AND id = ?", (agent_id, passage_id)
            ).fetchall()
            if own:
                return own
            hit = conn.execute(
                "SELECT p.file_id, p.chunk_index FROM source_passages p"
                " JOIN agent_sources a ON a.source_id = p.source_id AND a.agent_id = ?"
                " WHERE p.id = ? AND p.committed = 1",
                (agent_id, passage_id),
            ).fetchone()
            if hit is None:
                return []
            return conn.execute(
                "SELECT id, '', text, metadata_json, created_at FROM source_passages"
                " WHERE file_id = ? AND chunk_index BETWEEN ? AND ? ORDER BY chunk_index",
                (hit[0], hit[1] - before, hit[1] + after),
            ).fetchall()

        rows = await self._run(select)
        if not rows:
            raise NotFoundError(f"No passage {passage_id!r} in this agent's archival memory or attached sources.")
        return [self._passage_from_row(row) for row in rows]

    # ----------------------------------------------------------------- search
    # Ranking primitives of :class:`.hybrid_search.HybridSearchStore`; ``row id`` is the table's rowid.
    async def text_ranking(
        self, table: Table, owners: Sequence[str], terms: Sequence[str], limit: int, *, require_match: bool
    ) -> list[tuple[int, float]]:
        """The best BM25 matches as (rowid, score)."""
        return await self._run(functools.partial(self._text_ranking, table, owners, terms, limit, require_match))

    async def text_match_count(
        self, table: Table, owners: Sequence[str], terms: Sequence[str], *, exclude_ids: Collection[str] = ()
    ) -> int:
        """Matches of the planned full-text query not in ``exclude_ids``, up to TOTAL_CAP."""
        return await self._run(functools.partial(self._text_match_count, table, owners, terms, list(exclude_ids)))

    async def searchable_count(self, table: Table, owners: Sequence[str], exclude_ids: Collection[str]) -> int:
        """Searchable rows not in ``exclude_ids``, up to TOTAL_CAP."""
        where, params = self._scope_filter(table, owners, table)
        if table == "messages":
            where += " AND search_text != ''"
        if exclude_ids:
            where += f" AND id NOT IN ({','.join('?' * len(exclude_ids))})"
            params += list(exclude_ids)
        sql = f"SELECT count(*) FROM (SELECT 1 FROM {table} WHERE {where} LIMIT ?)"
        return await self._run(lambda conn: int(conn.execute(sql, (*params, TOTAL_CAP)).fetchone()[0]))

    async def vector_ranking(
        self, table: Table, owners: Sequence[str], query: np.ndarray, limit: int
    ) -> list[tuple[int, float]]:
        """The nearest rows as (rowid, cosine) from each owner's index."""
        found: list[tuple[int, float]] = []
        for owner in owners:
            found += await self._vector_ranking(table, owner, query, limit)
        return sorted(found, key=lambda item: -item[1])[:limit]

    async def hit_rows(self, table: Table, owners: Sequence[str], row_ids: Sequence[int]) -> dict[int, SearchHit]:
        """The visible rows of ``row_ids`` as unscored hits."""
        rows = await self._run(functools.partial(self._hit_rows, table, owners, row_ids))
        return {int(row[0]): self._hit(row, 0.0) for row in rows}

    async def next_messages(self, row_ids: Sequence[int]) -> dict[int, int]:
        """The next searchable message after each message."""
        return await self._run(functools.partial(self._replies, row_ids))

    @staticmethod
    def _fts_query(terms: Sequence[str]) -> str:
        return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)

    @staticmethod
    def _match_count(conn: sqlite3.Connection, table: Table, query: str, cap: int) -> int:
        """How many rows match ``query``, counting no further than ``cap`` (so it stays cheap)."""
        fts = f"{table}_fts"
        sql = f"SELECT count(*) FROM (SELECT 1 FROM {fts} WHERE {fts} MATCH ? LIMIT ?)"
        return int(conn.execute(sql, (query, cap)).fetchone()[0])

    def _text_plan(
        self, conn: sqlite3.Connection, table: Table, terms: Sequence[str], require_match: bool
    ) -> tuple[str, bool] | None:
        """The FTS query to run and whether BM25 ranking is worth its cost (None: nothing worth running).

        BM25 costs time per matching row (about 1 s for a term in 150k rows). Terms too common to be
        worth it (:func:`.hybrid_search.common_term_cap`) are dropped. If every term is common, nothing
        is run unless ``require_match``: then the rows holding all of them are used (intersecting such
        terms reads most of the index: 150-200 ms at 1M rows), unranked if even those are too many.
        """
        rows = conn.execute(f"SELECT coalesce(max(rowid), 0) FROM {table}").fetchone()[0]
        cap = common_term_cap(int(rows), BM25_MAX_MATCHES)
        if cap is None:
            return self._fts_query(terms), True
        selective = [t for t in terms if not self._is_common(conn, table, t, cap)]
        if selective:
            return self._fts_query(selective), True
        if not require_match:
            return None
        all_terms = " AND ".join(self._fts_query([t]) for t in terms)
        return all_terms, self._match_count(conn, table, all_terms, cap) < cap

    def _is_common(self, conn: sqlite3.Connection, table: Table, term: str, cap: int) -> bool:
        """Whether ``term`` matches ``cap`` rows or more; a common term is remembered for a while, because
        counting one reads ``cap`` index entries (30-50 ms per query at 1M rows) and it stays common."""
        now = time.monotonic()
        found_at = self._common_terms.get((table, term))
        if found_at is not None and now - found_at < COMMON_TERM_TTL_S:
            return True
        if self._match_count(conn, table, self._fts_query([term]), cap) < cap:
            return False
        if len(self._common_terms) > 10_000:
            self._common_terms.clear()
        self._common_terms[(table, term)] = now
        return True

    @staticmethod
    def _scope_filter(table: Table, owners: Sequence[str], alias: str) -> tuple[str, list[str]]:
        """SQL restricting ``alias`` to the owners' rows (and to published rows of a source)."""
        marks = ",".join("?" * len(owners))
        sql = f"{alias}.{OWNER[table]} IN ({marks})"
        if table == "source_passages":
            sql += f" AND {alias}.committed = 1"
        return sql, list(owners)

    def _text_ranking(
        self,
        table: Table,
        owners: Sequence[str],
        terms: Sequence[str],
        limit: int,
        require_match: bool,
        conn: sqlite3.Connection,
    ) -> list[tuple[int, float]]:
        plan = self._text_plan(conn, table, terms, require_match) if terms else None
        if plan is None:
            return []
        fts = f"{table}_fts"
        query, rank = plan
        score, order = (f"-bm25({fts})", f"bm25({fts}), f.rowid DESC") if rank else ("0.0", "f.rowid DESC")
        owned, params = self._owned_matches(table, owners)
        rows = conn.execute(
            f"SELECT f.rowid, {score} FROM {fts} f WHERE {fts} MATCH ? AND {owned} ORDER BY {order} LIMIT ?",
            (query, *params, limit),
        ).fetchall()
        return [(int(r[0]), float(r[1])) for r in rows]

    @staticmethod
    def _owned_matches(table: Table, owners: Sequence[str]) -> tuple[str, list[str]]:
        """SQL keeping the full-text matches ``f`` of the owners' rows (published rows, for a source).

        The check reads a covering index, never the rows: joining the table read every match's row, each
        with its embedding (1M passages, cold cache: p95 365 ms joined, 69 ms through the index).
        """
        marks = ",".join("?" * len(owners))
        published = " AND t.committed = 1" if table == "source_passages" else ""
        return (
            f"EXISTS (SELECT 1 FROM {table} t INDEXED BY {_OWNER_INDEX[table]}"
            f" WHERE t.{OWNER[table]} IN ({marks}){published} AND t.rowid = f.rowid)",
            list(owners),
        )

    def _text_match_count(
        self, table: Table, owners: Sequence[str], terms: Sequence[str], exclude: list[str], conn: sqlite3.Connection
    ) -> int:
        """Matches of the owners' rows for the planned query, counted up to TOTAL_CAP."""
        if not terms:
            return 0
        fts = f"{table}_fts"
        plan = self._text_plan(conn, table, terms, require_match=True)
        assert plan is not None
        query = plan[0]
        owned, params = self._owned_matches(table, owners)
        if exclude:
            owned += f" AND f.rowid NOT IN (SELECT rowid FROM {table} WHERE id IN ({','.join('?' * len(exclude))}))"
            params += exclude
        row = conn.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM {fts} f WHERE {fts} MATCH ? AND {owned} LIMIT ?)",
            (query, *params, TOTAL_CAP),
        ).fetchone()
        return int(row[0])

    @staticmethod
    def _replies(rowids: Sequence[int], conn: sqlite3.Connection) -> dict[int, int]:
        """The next searchable message of the same agent after each of ``rowids``."""
        marks = ",".join("?" * len(rowids))
        found = conn.execute(
            "SELECT m.rowid, (SELECT min(n.rowid) FROM messages n WHERE n.agent_id = m.agent_id"
            f" AND n.rowid > m.rowid AND n.search_text != '') FROM messages m WHERE m.rowid IN ({marks})",
            tuple(rowids),
        ).fetchall()
        return {int(q): int(r) for q, r in found if r is not None}

    def _hit_rows(
        self, table: Table, owners: Sequence[str], rowids: Sequence[int], conn: sqlite3.Connection
    ) -> list[tuple[Any, ...]]:
        columns = "role, search_text" if table == "messages" else "NULL, text"
        name_col = "name" if table == "messages" else "NULL"
        where, params = self._scope_filter(table, owners, table)
        rows: list[tuple[Any, ...]] = []
        for chunk_start in range(0, len(rowids), 500):
            chunk = rowids[chunk_start : chunk_start + 500]
            marks = ",".join("?" * len(chunk))
            rows += conn.execute(
                f"SELECT rowid, id, {columns}, created_at, metadata_json, {name_col} FROM {table}"
                f" WHERE {where} AND rowid IN ({marks})",
                (*params, *chunk),
            ).fetchall()
        return rows

    @staticmethod
    def _hit(row: tuple[Any, ...], score: float) -> SearchHit:
        return SearchHit(
            id=row[1],
            role=row[2],
            text=row[3],
            created_at=_dt(row[4]) or datetime.now(UTC),
            score=score,
            metadata=json.loads(row[5]) if row[5] else {},
            name=row[6],
        )

    # ----------------------------------------------------------------- embeddings and vector indexes
    async def _embed(self, texts: Sequence[str]) -> np.ndarray:
        assert self.embedder is not None
        vectors = await self.embedder.embed(texts)
        return np.asarray(vectors, dtype=np.float32)

    @staticmethod
    def _next_seq(conn: sqlite3.Connection, table: Table) -> int:
        return int(conn.execute(f"SELECT coalesce(max(embed_seq), 0) + 1 FROM {table}").fetchone()[0])

    async def _embed_pending(
        self, table: Table, agent_id: str, limit: int, on_progress: Callable[[int], None] | None = None
    ) -> int:
        if self.embedder is None:
            return 0
        lock = self._embed_locks.setdefault((table, agent_id), asyncio.Lock())
        async with lock:  # one embedder per agent and table: concurrent callers would embed the same rows
            return await self._embed_pending_locked(table, agent_id, limit, on_progress)

    async def _embed_pending_locked(
        self, table: Table, agent_id: str, limit: int, on_progress: Callable[[int], None] | None
    ) -> int:
        text_col = "search_text" if table == "messages" else "text"
        done = 0
        while done < limit:
            batch_size = min(EMBED_BATCH * 4, limit - done)
            pending = await self._run(functools.partial(self._unembedded, table, agent_id, text_col, batch_size))
            if not pending:
                break
            vectors = await self._embed([row[1] for row in pending])

            def update(conn: sqlite3.Connection, rows: list[Any] = pending, vecs: np.ndarray = vectors) -> None:
                seq = self._next_seq(conn, table)
                conn.executemany(
                    f"UPDATE {table} SET embedding = ?, embed_seq = ? WHERE rowid = ? AND embedding IS NULL",
                    [(_blob(vecs[i]), seq + i, row[0]) for i, row in enumerate(rows)],
                )

            await self._run(update, write=True)
            done += len(pending)
            if on_progress is not None:
                on_progress(len(pending))
        return done

    @staticmethod
    def _unembedded(table: Table, agent_id: str, text_col: str, limit: int, conn: sqlite3.Connection) -> list[Any]:
        return conn.execute(
            f"SELECT rowid, {text_col} FROM {table} WHERE {OWNER[table]} = ? AND embedding IS NULL"
            f" AND {text_col} != '' ORDER BY rowid LIMIT ?",
            (agent_id, limit),
        ).fetchall()

    async def _vector_ranking(
        self, table: Table, agent_id: str, query: np.ndarray, limit: int
    ) -> list[tuple[int, float]]:
        tx = self._tx.get()
        if tx is not None and tx.active:
            tx.touched.add((table, agent_id))
        return await self._run(lambda c: self._vector_search_sync(c, table, agent_id, query, limit))

    def _vector_search_sync(
        self, conn: sqlite3.Connection, table: Table, agent_id: str, query: np.ndarray, limit: int
    ) -> list[tuple[int, float]]:
        entry = self._index_for(table, agent_id)
        with entry.lock:
            self._catch_up(conn, table, agent_id, entry)
        return entry.index.search(query, limit)

    def _index_path(self, table: Table, agent_id: str) -> Path:
        return self.path.with_name(self.path.name + ".indexes") / f"{table}-{agent_id}.usearch"

    def _index_for(self, table: Table, agent_id: str) -> _IndexEntry:
        assert self.embedder is not None
        key = (table, agent_id)
        with self._index_lock:
            entry = self._indexes.get(key)
            if entry is None:
                path = self._index_path(table, agent_id)
                loaded = VectorIndex.load(self.embedder.dim, path)
                seq = self._read_seq(path) if loaded is not None else 0
                entry = _IndexEntry(loaded or VectorIndex(self.embedder.dim, path=path), seq=seq)
                self._indexes[key] = entry
            return entry

    @staticmethod
    def _read_seq(path: Path) -> int:
        try:
            return int(json.loads(path.with_suffix(".seq.json").read_text())["embed_seq"])
        except (OSError, ValueError, KeyError, TypeError):
            return 0

    def _catch_up(self, conn: sqlite3.Connection, table: Table, agent_id: str, entry: _IndexEntry) -> None:
        """Add the rows embedded since the index last saw the table, then persist it once if much changed."""
        while self._catch_up_batch(conn, table, agent_id, entry):
            pass
        if entry.unsaved >= INDEX_SAVE_EVERY and not conn.in_transaction:  # never persist uncommitted rows
            self._save_entry(entry)

    @staticmethod
    def _catch_up_batch(conn: sqlite3.Connection, table: Table, agent_id: str, entry: _IndexEntry) -> bool:
        rows = conn.execute(
            f"SELECT rowid, embedding, embed_seq FROM {table} WHERE {OWNER[table]} = ? AND embed_seq > ?"
            " ORDER BY embed_seq LIMIT 10000",
            (agent_id, entry.seq),
        ).fetchall()
        if not rows:
            return False
        keys = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1)
        entry.index.add(keys, vectors)
        entry.seq = int(rows[-1][2])
        entry.unsaved += len(rows)
        return True

    def _save_entry(self, entry: _IndexEntry) -> None:
        path = entry.index.path
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            entry.index.save()
            seq_path = path.with_suffix(".seq.json")
            tmp = seq_path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"embed_seq": entry.seq}))
            tmp.replace(seq_path)
            entry.unsaved = 0
        except OSError:
            pass  # the index is a cache: the next process rebuilds it from the rows

    def _save_indexes(self) -> None:
        with self._index_lock:
            entries = list(self._indexes.values())
        for entry in entries:
            if entry.unsaved:
                self._save_entry(entry)

    def _forget_indexes(self, keys: set[tuple[Table, str]]) -> None:
        with self._index_lock:
            for key in keys:
                self._indexes.pop(key, None)

    def _drop_index(self, table: Table, agent_id: str) -> None:
        with self._index_lock:
            self._indexes.pop((table, agent_id), None)
        path = self._index_path(table, agent_id)
        for candidate in path.parent.glob(f"{path.stem}*") if path.parent.exists() else []:
            with suppress(OSError):
                candidate.unlink()
