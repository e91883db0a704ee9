"""The PostgreSQL store: agents, the recall store and the archival store in one database with pgvector.

- psycopg 3 (async) with a connection pool; connections the server dropped while idle are replaced
  on first use instead of failing a step (see :meth:`PostgresStore._begin`).
- Versioned migrations (:mod:`memgpt.storage.pg_schema`).
- Full text: a stored ``tsvector`` (English stemming) with a GIN index, ranked with ``ts_rank_cd``.
- Vectors: a ``vector`` column plus an HNSW index (cosine) over the column cast to the configured
  model's dimension. Agents with few rows are searched exactly; large ones through the index.
- :meth:`PostgresStore.transaction` pins one connection to the calling task so a step's writes commit
  (or roll back) together; :meth:`PostgresStore.lock_agent` is an advisory lock (:mod:`.pg_locks`).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import numpy as np
import psycopg
from psycopg import errors as pg_errors
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool, PoolTimeout

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
from memgpt.storage import hybrid_search, pg_schema
from memgpt.storage.hybrid_search import (
    COMMON_TERM_TTL_S,
    OWNER,
    TABLES,
    TOTAL_CAP,
    Table,
    check_page,
    common_term_cap,
)
from memgpt.storage.pg_locks import AdvisoryLocks

T = TypeVar("T")
Conn = psycopg.AsyncConnection[Any]

MAX_TEXT_CHARS = 1_000_000
EMBED_BATCH = 256
TS_RANK_MAX_MATCHES = 5_000  # ts_rank_cd reads each match's tsvector: terms matching more are not ranked
EXACT_TABLE_MAX = 10_000  # tables this small are searched exactly
EXACT_OWNER_MAX = 2_000  # so are the rows of owners (agents, sources) this small, whatever the table's size
EF_SEARCH_MIN = 600  # HNSW candidates per scan; 1M passages, recall@10 vs exact: 200: 0.907, 600: 0.952
EF_SEARCH_MAX = 1000  # pgvector's limit: owners with a smaller share of the table are searched exactly
TEXT_CONFIG = "english"
LOST = "The connection to PostgreSQL was lost"


def vector_literal(vector: np.ndarray) -> str:
    """pgvector's text form; float32 values survive the round trip exactly."""
    return "[" + ",".join(map(str, np.asarray(vector, dtype=np.float32).tolist())) + "]"


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _check_text(text: str, what: str) -> None:
    if len(text) > MAX_TEXT_CHARS:
        raise ValidationError(
            f"{what} has {len(text):,} characters, over the limit of {MAX_TEXT_CHARS:,}; split it first."
        )
    if "\x00" in text:
        raise ValidationError(f"{what} contains a NUL character, which PostgreSQL cannot store; remove it first.")


def _tsquery(terms: Sequence[str], op: str = "||") -> tuple[str, list[str]]:
    """SQL for a tsquery matching any (``||``) or all (``&&``) of ``terms``, and its parameters."""
    sql = f" {op} ".join(f"plainto_tsquery('{TEXT_CONFIG}', %s)" for _ in terms)
    return f"({sql})", list(terms)


@dataclass
class _Tx:
    conn: Conn
    active: bool = True


async def _configure(conn: Conn) -> None:
    await conn.execute(f"SET TimeZone TO 'UTC'; SET hnsw.ef_search = {EF_SEARCH_MIN:d}")


class PostgresStore(hybrid_search.HybridSearchStore):
    """The PostgreSQL implementation of :class:`memgpt.memory.protocols.Store`."""

    def __init__(
        self,
        url: str,
        embedder: Embedder | None,
        pool: AsyncConnectionPool[Any],
        lock_pool: AsyncConnectionPool[Any],
    ) -> None:
        self.url = url
        self.embedder = embedder
        self.semantic_search_available = embedder is not None
        self._pool = pool
        self._lock_pool = lock_pool
        self._locks = AdvisoryLocks(lock_pool)
        self._tx: contextvars.ContextVar[_Tx | None] = contextvars.ContextVar(f"memgpt-pgtx-{id(self)}", default=None)
        self._embed_locks: dict[tuple[Table, str], asyncio.Lock] = {}
        self._term_stats: dict[Table, tuple[float, dict[str, float]]] = {}

    # ----------------------------------------------------------------- opening and connections
    @classmethod
    async def open(
        cls,
        url: str,
        *,
        embedder: Embedder | None = None,
        reembed: bool = False,
        pool_size: int = 8,
        lock_pool_size: int = 16,
    ) -> PostgresStore:
        """Connect, apply migrations and check the embedding model (``reembed=True`` drops every embedding).

        A process uses at most ``pool_size`` connections for queries plus ``lock_pool_size`` for agents
        running a step at the same moment (each holds its advisory lock on one); more agents wait for one.
        """
        pg_schema.check_url(url)
        async with await pg_schema.connect(url) as conn:
            await pg_schema.migrate(conn, url)
            await _configure(conn)
            if reembed:
                await cls._drop_all_embeddings(conn)
            if embedder is not None:
                await cls._check_embedding_model(conn, url, embedder)
                await ensure_vector_indexes(conn, embedder.dim)
        pool = cls._make_pool(url, min_size=1, max_size=pool_size, name="memgpt")
        lock_pool = cls._make_pool(url, min_size=0, max_size=lock_pool_size, name="memgpt-locks")
        try:
            await pool.open(wait=True, timeout=pg_schema.CONNECT_TIMEOUT)
            await lock_pool.open()
        except PoolTimeout as exc:
            await pool.close()
            await lock_pool.close()
            raise StorageError(f"Cannot open connections to {pg_schema.describe(url)}: {exc}.") from None
        return cls(url, embedder, pool, lock_pool)

    @staticmethod
    def _make_pool(url: str, *, min_size: int, max_size: int, name: str) -> AsyncConnectionPool[Any]:
        return AsyncConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            open=False,
            name=name,
            kwargs={"autocommit": True, "connect_timeout": pg_schema.CONNECT_TIMEOUT},
            configure=_configure,
        )

    @staticmethod
    async def _check_embedding_model(conn: Conn, url: str, embedder: Embedder) -> None:
        rows = await (await conn.execute("SELECT key, value FROM meta WHERE key LIKE 'embedding_%'")).fetchall()
        meta = dict(rows)
        name, dim = embedder.name, embedder.dim
        if meta.get("embedding_model") in (None, name) and meta.get("embedding_dim") in (None, str(dim)):
            if "embedding_model" not in meta:
                await write_embedding_meta(conn, name, dim)
            return
        row = await (
            await conn.execute(
                "SELECT EXISTS (SELECT 1 FROM passages WHERE embedding IS NOT NULL)"
                " OR EXISTS (SELECT 1 FROM messages WHERE embedding IS NOT NULL)"
                " OR EXISTS (SELECT 1 FROM source_passages WHERE embedding IS NOT NULL)"
            )
        ).fetchone()
        if not (row and row[0]):
            await write_embedding_meta(conn, name, dim)
            return
        raise EmbeddingMismatchError(
            f"The store ({pg_schema.describe(url)}) was embedded with {meta.get('embedding_model')} "
            f"({meta.get('embedding_dim')} dimensions) but the configured model is {name} ({dim}). "
            f"Set MEMGPT_EMBEDDING back, or run `memgpt db reembed` to re-embed everything with {name}."
        )

    @staticmethod
    async def _drop_all_embeddings(conn: Conn) -> None:
        async with conn.transaction():
            for table in TABLES:
                await conn.execute(f"UPDATE {table} SET embedding = NULL WHERE embedding IS NOT NULL")
            await conn.execute("DELETE FROM meta WHERE key LIKE 'embedding_%'")
            await drop_vector_indexes(conn)

    async def close(self) -> None:
        """Close every connection."""
        await self._pool.close()
        await self._lock_pool.close()

    async def _run(self, fn: Callable[[Conn], Awaitable[T]], *, write: bool = False) -> T:
        """Run ``fn(conn)`` inside the task's transaction, in a transaction of its own (``write``), or as a read."""
        tx = self._tx.get()
        if tx is not None and tx.active:
            try:
                return await fn(tx.conn)
            except psycopg.OperationalError as exc:
                raise StorageError(f"{LOST}; the transaction was rolled back and nothing of it was saved.") from exc
        if write:
            conn = await self._begin()
            try:
                result = await fn(conn)
            except BaseException as exc:
                await self._finish(conn, commit=False)
                if isinstance(exc, psycopg.OperationalError):
                    raise StorageError(f"{LOST} or it failed ({exc}); nothing of this write was saved.") from exc
                raise
            await self._finish(conn, commit=True)
            return result
        for attempt in range(2):
            try:
                async with self._pool.connection() as conn:
                    return await fn(conn)
            except psycopg.OperationalError as exc:
                if attempt:
                    raise StorageError(f"{LOST}: {exc}") from exc
                await self._pool.check()  # a read is retried once, on a connection known to be alive
            except PoolTimeout as exc:
                raise StorageError(f"No connection to PostgreSQL available: {exc}.") from exc
        raise AssertionError("unreachable")

    async def _begin(self) -> Conn:
        """A pooled connection inside BEGIN.

        Pooled connections are not pinged before use (a round trip per call); one the server closed while
        it was idle fails at BEGIN, before anything was written, so the idle ones are checked and one more
        connection is taken.
        """
        for attempt in range(2):
            try:
                conn: Conn = await self._pool.getconn()
            except PoolTimeout as exc:
                raise StorageError(f"No connection to PostgreSQL available: {exc}.") from exc
            try:
                await conn.execute("BEGIN")
                return conn
            except psycopg.OperationalError as exc:
                await self._pool.putconn(conn)
                if attempt:
                    raise StorageError(f"{LOST}: {exc}") from exc
                await self._pool.check()
        raise AssertionError("unreachable")

    async def _finish(self, conn: Conn, *, commit: bool) -> None:
        """COMMIT (or ROLLBACK) and give the connection back; a broken one is discarded by the pool."""
        try:
            if commit:
                try:
                    await conn.execute("COMMIT")
                except psycopg.OperationalError as exc:
                    raise StorageError(
                        f"{LOST} while committing: the server may or may not have saved the last write ({exc})."
                    ) from exc
            else:
                with suppress(psycopg.Error):  # a lost connection has rolled back already
                    await conn.execute("ROLLBACK")
        finally:
            await self._pool.putconn(conn)

    def lock_agent(self, agent_id: str, *, timeout: float = 60.0) -> AbstractAsyncContextManager[None]:
        """Hold the agent's lock in this process and in every process using the same database."""
        return self._locks.hold(agent_id, timeout=timeout)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """Make every store call of this task inside the block one atomic transaction (joins an outer one)."""
        outer = self._tx.get()
        if outer is not None and outer.active:
            yield
            return
        conn = await self._begin()
        tx = _Tx(conn)
        token = self._tx.set(tx)
        try:
            yield
        except BaseException:
            tx.active = False
            await self._finish(conn, commit=False)
            raise
        finally:
            tx.active = False
            self._tx.reset(token)
        await self._finish(conn, commit=True)

    # ----------------------------------------------------------------- agents
    @staticmethod
    def _agent_values(state: AgentState, updated_at: datetime) -> tuple[Any, ...]:
        blocks = [asdict(b) for b in state.blocks]
        return (
            state.model,
            state.context_window,
            state.system_prompt_version,
            Jsonb(blocks),
            Jsonb(state.fifo_ids),
            state.summary,
            _aware(state.summary_updated_at),
            state.pressure_warned,
            _aware(state.last_memory_edit),
            Jsonb(state.settings.to_dict()),
            _aware(updated_at),
        )

    async def create_agent(self, state: AgentState) -> None:
        for block in state.blocks:
            block.check()
        columns = self._agent_values(state, state.updated_at)
        values = (state.id, state.user_id, state.name, *columns, _aware(state.created_at))

        async def insert(conn: Conn) -> None:
            try:
                async with conn.transaction():  # a savepoint when inside a step's transaction
                    await conn.execute(
                        "INSERT INTO agents (id, user_id, name, model, context_window, system_prompt_version, blocks,"
                        " fifo_ids, summary, summary_updated_at, pressure_warned, last_memory_edit, settings,"
                        " updated_at, created_at) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                        values,
                    )
            except pg_errors.UniqueViolation as exc:
                raise AlreadyExistsError(f"An agent named {state.name!r} already exists.") from exc

        await self._run(insert)

    _AGENT_COLUMNS = (
        "id, user_id, name, model, context_window, system_prompt_version, blocks, fifo_ids, summary,"
        " summary_updated_at, pressure_warned, last_memory_edit, settings, created_at, updated_at"
    )

    @staticmethod
    def _agent_from_row(row: Sequence[Any]) -> AgentState:
        return AgentState(
            id=row[0],
            user_id=row[1],
            name=row[2],
            model=row[3],
            context_window=row[4],
            system_prompt_version=row[5],
            blocks=[Block(**b) for b in row[6]],
            fifo_ids=list(row[7]),
            summary=row[8],
            summary_updated_at=row[9],
            pressure_warned=bool(row[10]),
            last_memory_edit=row[11],
            settings=AgentSettings.from_dict(row[12]),
            created_at=row[13],
            updated_at=row[14],
        )

    async def get_agent(self, user_id: str, agent: str) -> AgentState:
        async def select(conn: Conn) -> Any:
            cursor = await conn.execute(
                f"SELECT {self._AGENT_COLUMNS} FROM agents WHERE user_id = %s AND (id = %s OR name = %s)",
                (user_id, agent, agent),
            )
            return await cursor.fetchone()

        row = await self._run(select)
        if row is None:
            raise NotFoundError(f"No agent named {agent!r}. List agents with `memgpt agents list`.")
        return self._agent_from_row(row)

    async def list_agents(self, user_id: str) -> list[AgentState]:
        async def select(conn: Conn) -> list[Any]:
            cursor = await conn.execute(
                f"SELECT {self._AGENT_COLUMNS} FROM agents WHERE user_id = %s ORDER BY created_at, seq", (user_id,)
            )
            return await cursor.fetchall()

        return [self._agent_from_row(row) for row in await self._run(select)]

    async def save_agent(self, state: AgentState) -> None:
        await self._run(self._agent_updater(state), write=True)

    def _agent_updater(self, state: AgentState) -> Callable[[Conn], Awaitable[None]]:
        """Validates ``state`` now; the returned function writes it if the stored agent is still the version
        ``state`` was read as (compare-and-set on ``updated_at``), and then advances ``state.updated_at``."""
        for block in state.blocks:
            block.check()
        read_at, written_at = _aware(state.updated_at), datetime.now(UTC)
        values = (*self._agent_values(state, written_at), state.id, state.user_id, read_at)

        async def update(conn: Conn) -> None:
            cursor = await conn.execute(
                "UPDATE agents SET model = %s, context_window = %s, system_prompt_version = %s, blocks = %s,"
                " fifo_ids = %s, summary = %s, summary_updated_at = %s, pressure_warned = %s, last_memory_edit = %s,"
                " settings = %s, updated_at = %s WHERE id = %s AND user_id = %s AND updated_at = %s",
                values,
            )
            if cursor.rowcount == 0:
                if await (await conn.execute("SELECT 1 FROM agents WHERE id = %s", (state.id,))).fetchone() is None:
                    raise NotFoundError(f"Agent {state.name!r} no longer exists.")
                raise AgentChangedError(state.name)
            state.updated_at = written_at

        return update

    async def delete_agent(self, user_id: str, agent_id: str) -> None:
        async def delete(conn: Conn) -> None:
            cursor = await conn.execute("DELETE FROM agents WHERE id = %s AND user_id = %s", (agent_id, user_id))
            if cursor.rowcount == 0:
                raise NotFoundError(f"No agent with id {agent_id!r}.")

        await self._run(delete, write=True)

    # ----------------------------------------------------------------- recall store
    async def append_and_save(self, state: AgentState, messages: Sequence[Message]) -> None:
        insert = self._message_inserter(state.id, messages)
        update = self._agent_updater(state)

        async def both(conn: Conn) -> None:
            await insert(conn)
            await update(conn)

        await self._run(both, write=True)
        for m in messages:
            m.agent_id = state.id

    async def append_messages(self, agent_id: str, messages: Sequence[Message]) -> None:
        if messages:
            await self._run(self._message_inserter(agent_id, messages), write=True)
        for m in messages:
            m.agent_id = agent_id

    def _message_inserter(self, agent_id: str, messages: Sequence[Message]) -> Callable[[Conn], Awaitable[None]]:
        rows = []
        for m in messages:
            _check_text(m.content or "", "A message")
            for call in m.tool_calls:
                _check_text(call.arguments, "A function call")
            rows.append(
                (
                    m.id,
                    agent_id,
                    m.role,
                    m.content,
                    Jsonb([[c.id, c.name, c.arguments] for c in m.tool_calls]) if m.tool_calls else None,
                    m.tool_call_id,
                    m.name,
                    Jsonb(m.metadata) if m.metadata else None,
                    searchable_text(m),
                    _aware(m.created_at),
                )
            )

        async def insert(conn: Conn) -> None:
            if not rows:
                return
            try:
                async with conn.cursor() as cursor:
                    await cursor.executemany(
                        "INSERT INTO messages (id, agent_id, role, content, tool_calls, tool_call_id, name,"
                        " metadata, search_text, created_at) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                        rows,
                    )
            except (pg_errors.IntegrityError, pg_errors.DataError) as exc:
                raise ValidationError(f"Cannot store messages for agent {agent_id}: {exc}.") from exc

        return insert

    _MESSAGE_COLUMNS = "id, agent_id, role, content, tool_calls, tool_call_id, name, metadata, created_at"

    @staticmethod
    def _message_from_row(row: Sequence[Any]) -> Message:
        calls = [ToolCall(id=c[0], name=c[1], arguments=c[2]) for c in row[4]] if row[4] else []
        return Message(
            id=row[0],
            agent_id=row[1],
            role=row[2],
            content=row[3],
            tool_calls=calls,
            tool_call_id=row[5],
            name=row[6],
            metadata=row[7] or {},
            created_at=row[8],
        )

    async def get_messages(self, agent_id: str, ids: Sequence[str]) -> list[Message]:
        wanted = list(ids)

        async def select(conn: Conn) -> list[Any]:
            cursor = await conn.execute(
                f"SELECT {self._MESSAGE_COLUMNS} FROM messages WHERE agent_id = %s AND id = ANY(%s)",
                (agent_id, wanted),
            )
            return await cursor.fetchall()

        by_id = {row[0]: self._message_from_row(row) for row in (await self._run(select) if wanted else [])}
        missing = [i for i in wanted if i not in by_id]
        if missing:
            raise NotFoundError(f"{len(missing)} message(s) not found for agent {agent_id}, e.g. {missing[0]}.")
        return [by_id[i] for i in wanted]

    async def list_messages(
        self, agent_id: str, *, offset: int = 0, limit: int = 100, newest_first: bool = False
    ) -> list[Message]:
        order = "DESC" if newest_first else "ASC"

        async def select(conn: Conn) -> list[Any]:
            cursor = await conn.execute(
                f"SELECT {self._MESSAGE_COLUMNS} FROM messages WHERE agent_id = %s ORDER BY seq {order}"
                " LIMIT %s OFFSET %s",
                (agent_id, max(0, limit), max(0, offset)),
            )
            return await cursor.fetchall()

        return [self._message_from_row(row) for row in await self._run(select)]

    async def count_messages(self, agent_id: str) -> int:
        return await self._count("messages", agent_id)

    async def _count(self, table: Table, agent_id: str) -> int:
        async def count(conn: Conn) -> int:
            row = await (
                await conn.execute(f"SELECT count(*) FROM {table} WHERE agent_id = %s", (agent_id,))
            ).fetchone()
            return int(row[0]) if row else 0

        return await self._run(count)

    async def search_messages_by_date(
        self, agent_id: str, start: datetime, end: datetime, *, page: int = 0, page_size: int = 5
    ) -> SearchPage:
        if end <= start:
            raise ValidationError(f"The end of the date range ({end:%Y-%m-%d}) must be after its start.")
        check_page(page, page_size)
        bounds = (agent_id, _aware(start), _aware(end))
        where = "agent_id = %s AND created_at >= %s AND created_at < %s AND search_text <> ''"

        async def select(conn: Conn) -> tuple[int, list[Any]]:
            total = await (await conn.execute(f"SELECT count(*) FROM messages WHERE {where}", bounds)).fetchone()
            cursor = await conn.execute(
                f"SELECT seq, id, role, search_text, created_at, metadata, name FROM messages WHERE {where}"
                " ORDER BY created_at, seq LIMIT %s OFFSET %s",
                (*bounds, page_size, page * page_size),
            )
            return (int(total[0]) if total else 0), await cursor.fetchall()

        total, rows = await self._run(select)
        return SearchPage(hits=[self._hit(row, 0.0) for row in rows], page=page, page_size=page_size, total=total)

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
            (
                p.id,
                agent_id,
                p.text,
                Jsonb(p.metadata) if p.metadata else None,
                _aware(p.created_at),
                vector_literal(vectors[i]) if vectors is not None else None,
            )
            for i, p in enumerate(passages)
        ]

        async def insert(conn: Conn) -> None:
            try:
                async with conn.cursor() as cursor:
                    await cursor.executemany(
                        "INSERT INTO passages (id, agent_id, text, metadata, created_at, embedding)"
                        " VALUES (%s,%s,%s,%s,%s,%s::vector)",
                        rows,
                    )
            except (pg_errors.IntegrityError, pg_errors.DataError) as exc:
                raise ValidationError(f"Cannot store passages for agent {agent_id}: {exc}.") from exc

        if rows:
            await self._run(insert, write=True)
        for p in passages:
            p.agent_id = agent_id
        return [p.id for p in passages]

    _PASSAGE_COLUMNS = "id, agent_id, text, metadata, created_at"

    @staticmethod
    def _passage_from_row(row: Sequence[Any]) -> Passage:
        return Passage(id=row[0], agent_id=row[1], text=row[2], metadata=row[3] or {}, created_at=row[4])

    async def get_passages(self, agent_id: str, ids: Sequence[str]) -> list[Passage]:
        wanted = list(ids)

        async def select(conn: Conn) -> list[Any]:
            cursor = await conn.execute(
                f"SELECT {self._PASSAGE_COLUMNS} FROM passages WHERE agent_id = %s AND id = ANY(%s)",
                (agent_id, wanted),
            )
            return await cursor.fetchall()

        by_id = {row[0]: self._passage_from_row(row) for row in (await self._run(select) if wanted else [])}
        missing = [i for i in wanted if i not in by_id]
        if missing:
            raise NotFoundError(f"{len(missing)} passage(s) not found for agent {agent_id}, e.g. {missing[0]}.")
        return [by_id[i] for i in wanted]

    async def list_passages(self, agent_id: str, *, offset: int = 0, limit: int = 100) -> list[Passage]:
        async def select(conn: Conn) -> list[Any]:
            cursor = await conn.execute(
                f"SELECT {self._PASSAGE_COLUMNS} FROM passages WHERE agent_id = %s ORDER BY seq LIMIT %s OFFSET %s",
                (agent_id, max(0, limit), max(0, offset)),
            )
            return await cursor.fetchall()

        return [self._passage_from_row(row) for row in await self._run(select)]

    async def count_passages(self, agent_id: str) -> int:
        rows = await self._fetch(
            "SELECT (SELECT count(*) FROM passages WHERE agent_id = %s)"
            " + (SELECT coalesce(sum(f.passage_count), 0) FROM agent_sources a"
            " JOIN source_files f ON f.source_id = a.source_id WHERE a.agent_id = %s AND f.state = 'done')",
            (agent_id, agent_id),
        )
        return int(rows[0][0])

    async def delete_passages(self, agent_id: str, ids: Sequence[str]) -> int:
        wanted = list(ids)

        async def delete(conn: Conn) -> int:
            cursor = await conn.execute("DELETE FROM passages WHERE agent_id = %s AND id = ANY(%s)", (agent_id, wanted))
            return cursor.rowcount

        return await self._run(delete, write=True) if wanted else 0

    # ----------------------------------------------------------------- sources
    _SOURCE_SELECT = (
        "SELECT s.id, s.user_id, s.name, s.description, s.metadata, s.created_at,"
        " (SELECT count(*) FROM source_files f WHERE f.source_id = s.id AND f.state = 'done'),"
        " (SELECT coalesce(sum(f.passage_count), 0) FROM source_files f WHERE f.source_id = s.id AND f.state = 'done')"
        " FROM sources s"
    )
    _FILE_COLUMNS = "id, source_id, path, content_hash, size, state, passage_count, updated_at, metadata"

    @staticmethod
    def _source_from_row(row: Sequence[Any]) -> Source:
        return Source(
            id=row[0],
            user_id=row[1],
            name=row[2],
            description=row[3],
            metadata=row[4] or {},
            created_at=row[5],
            file_count=int(row[6]),
            passage_count=int(row[7]),
        )

    @staticmethod
    def _file_from_row(row: Sequence[Any]) -> SourceFile:
        return SourceFile(
            id=row[0],
            source_id=row[1],
            path=row[2],
            content_hash=row[3],
            size=int(row[4]),
            state=row[5],
            passage_count=int(row[6]),
            updated_at=row[7],
            metadata=row[8] or {},
        )

    async def _fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        async def select(conn: Conn) -> list[Any]:
            return await (await conn.execute(sql, params)).fetchall()

        return await self._run(select)

    async def create_source(self, source: Source) -> None:
        values = (
            source.id,
            source.user_id,
            source.name,
            source.description,
            Jsonb(source.metadata) if source.metadata else None,
            _aware(source.created_at),
        )

        async def insert(conn: Conn) -> None:
            try:
                async with conn.transaction():
                    await conn.execute(
                        "INSERT INTO sources (id, user_id, name, description, metadata, created_at)"
                        " VALUES (%s,%s,%s,%s,%s,%s)",
                        values,
                    )
            except pg_errors.UniqueViolation as exc:
                raise AlreadyExistsError(f"A source named {source.name!r} already exists.") from exc

        await self._run(insert)

    async def get_source(self, user_id: str, source: str) -> Source:
        rows = await self._fetch(
            f"{self._SOURCE_SELECT} WHERE s.user_id = %s AND (s.id = %s OR s.name = %s)", (user_id, source, source)
        )
        if not rows:
            raise NotFoundError(f"No source named {source!r}. List sources with `memgpt sources list`.")
        return self._source_from_row(rows[0])

    async def list_sources(self, user_id: str) -> list[Source]:
        rows = await self._fetch(f"{self._SOURCE_SELECT} WHERE s.user_id = %s ORDER BY s.created_at, s.seq", (user_id,))
        return [self._source_from_row(row) for row in rows]

    async def delete_source(self, user_id: str, source_id: str) -> None:
        async def delete(conn: Conn) -> None:
            cursor = await conn.execute("DELETE FROM sources WHERE id = %s AND user_id = %s", (source_id, user_id))
            if cursor.rowcount == 0:
                raise NotFoundError(f"No source with id {source_id!r}.")

        await self._run(delete, write=True)

    async def attach_source(self, agent_id: str, source_id: str) -> bool:
        async def attach(conn: Conn) -> bool:
            cursor = await conn.execute(
                "INSERT INTO agent_sources (agent_id, source_id, attached_at)"
                " SELECT a.id, s.id, now() FROM agents a JOIN sources s ON s.user_id = a.user_id"
                " WHERE a.id = %s AND s.id = %s ON CONFLICT DO NOTHING",
                (agent_id, source_id),
            )
            if cursor.rowcount:
                return True
            attached = await (
                await conn.execute(
                    "SELECT 1 FROM agent_sources WHERE agent_id = %s AND source_id = %s", (agent_id, source_id)
                )
            ).fetchone()
            if attached is None:
                raise NotFoundError(f"No agent {agent_id!r} and source {source_id!r} of the same user.")
            return False

        return await self._run(attach, write=True)

    async def detach_source(self, agent_id: str, source_id: str) -> bool:
        async def detach(conn: Conn) -> bool:
            cursor = await conn.execute(
                "DELETE FROM agent_sources WHERE agent_id = %s AND source_id = %s", (agent_id, source_id)
            )
            return cursor.rowcount > 0

        return await self._run(detach, write=True)

    async def list_agent_sources(self, agent_id: str) -> list[Source]:
        rows = await self._fetch(
            f"{self._SOURCE_SELECT} JOIN agent_sources a ON a.source_id = s.id WHERE a.agent_id = %s"
            " ORDER BY a.attached_at, a.seq",
            (agent_id,),
        )
        return [self._source_from_row(row) for row in rows]

    async def _select_file(self, conn: Conn, file_id: str, *, lock: bool = False) -> SourceFile | None:
        row = await (
            await conn.execute(
                f"SELECT {self._FILE_COLUMNS} FROM source_files WHERE id = %s{' FOR UPDATE' if lock else ''}",
                (file_id,),
            )
        ).fetchone()
        return None if row is None else self._file_from_row(row)

    async def begin_source_file(self, file: SourceFile) -> SourceFile:
        async def begin(conn: Conn) -> SourceFile:
            row = await (
                await conn.execute(
                    f"SELECT {self._FILE_COLUMNS} FROM source_files"
                    " WHERE source_id = %s AND path = %s AND content_hash = %s",
                    (file.source_id, file.path, file.content_hash),
                )
            ).fetchone()
            found = self._file_from_row(row) if row is not None else None
            # Other unfinished loads of the path are abandoned; their passages go with them (ON DELETE CASCADE).
            await conn.execute(
                "DELETE FROM source_files WHERE source_id = %s AND path = %s AND state = 'loading' AND id <> %s",
                (file.source_id, file.path, found.id if found else ""),
            )
            if found is not None:
                return found
            try:
                await conn.execute(
                    "INSERT INTO source_files (id, source_id, path, content_hash, size, state, passage_count,"
                    " updated_at, metadata) VALUES (%s,%s,%s,%s,%s,'loading',0,%s,%s)",
                    (
                        file.id,
                        file.source_id,
                        file.path,
                        file.content_hash,
                        file.size,
                        _aware(file.updated_at),
                        Jsonb(file.metadata) if file.metadata else None,
                    ),
                )
            except pg_errors.ForeignKeyViolation as exc:
                raise NotFoundError(f"No source with id {file.source_id!r}.") from exc
            stored = await self._select_file(conn, file.id)
            assert stored is not None
            return stored

        return await self._run(begin, write=True)

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
        await self._run(lambda conn: self._check_batches(conn, batches))
        texts = [p.text for batch in batches for p in batch.passages]
        vectors = await self._embed(texts) if self.embedder and texts else None

        async def insert(conn: Conn) -> list[int]:
            # Again with the files locked: another load of the same file may have moved on meanwhile.
            sources = await self._check_batches(conn, batches, lock=True)
            position, counts = 0, []
            for batch, source_id in zip(batches, sources, strict=True):
                rows = [
                    (
                        p.id,
                        source_id,
                        batch.file_id,
                        batch.first_chunk + i,
                        p.text,
                        Jsonb(p.metadata) if p.metadata else None,
                        _aware(p.created_at),
                        None if vectors is None else vector_literal(vectors[position + i]),
                    )
                    for i, p in enumerate(batch.passages)
                ]
                position += len(rows)
                if rows:
                    async with conn.cursor() as cursor:
                        await cursor.executemany(
                            "INSERT INTO source_passages (id, source_id, file_id, chunk_index, text, metadata,"
                            " created_at, embedding) VALUES (%s,%s,%s,%s,%s,%s,%s,%s::vector) ON CONFLICT DO NOTHING",
                            rows,
                        )
                row = await (
                    await conn.execute(
                        "UPDATE source_files SET passage_count = greatest(passage_count, %s), updated_at = now()"
                        " WHERE id = %s RETURNING passage_count",
                        (batch.first_chunk + len(rows), batch.file_id),
                    )
                ).fetchone()
                counts.append(int(row[0]) if row else 0)
            return counts

        return await self._run(insert, write=True)

    async def _check_batches(self, conn: Conn, batches: Sequence[SourceChunks], *, lock: bool = False) -> list[str]:
        """Check that every batch continues a loading file (parts of one file in order); their source ids."""
        next_chunk: dict[str, int] = {}
        sources = []
        for batch in batches:
            file = await self._select_file(conn, batch.file_id, lock=lock)
            if file is not None and batch.file_id in next_chunk:
                file.passage_count = next_chunk[batch.file_id]
            self._check_loading(file, batch.file_id, batch.first_chunk)
            assert file is not None
            next_chunk[batch.file_id] = max(file.passage_count, batch.first_chunk + len(batch.passages))
            sources.append(file.source_id)
        return sources

    async def commit_source_file(self, file_id: str) -> SourceFile:
        async def commit(conn: Conn) -> SourceFile:
            file = await self._select_file(conn, file_id, lock=True)
            if file is None:
                raise NotFoundError(f"No file {file_id!r} is being loaded (it was deleted or replaced).")
            if file.state == "done":
                return file
            await conn.execute(
                "DELETE FROM source_files WHERE source_id = %s AND path = %s AND id <> %s",
                (file.source_id, file.path, file_id),
            )
            await conn.execute("UPDATE source_passages SET committed = true WHERE file_id = %s", (file_id,))
            await conn.execute("UPDATE source_files SET state = 'done', updated_at = now() WHERE id = %s", (file_id,))
            done = await self._select_file(conn, file_id)
            assert done is not None
            return done

        return await self._run(commit, write=True)

    async def delete_source_file(self, file_id: str) -> None:
        async def delete(conn: Conn) -> None:
            await conn.execute("DELETE FROM source_files WHERE id = %s", (file_id,))

        await self._run(delete, write=True)

    async def list_source_files(self, source_id: str) -> list[SourceFile]:
        rows = await self._fetch(
            f"SELECT {self._FILE_COLUMNS} FROM source_files WHERE source_id = %s ORDER BY path, updated_at",
            (source_id,),
        )
        return [self._file_from_row(row) for row in rows]

    async def read_passage_context(
        self, agent_id: str, passage_id: str, *, before: int = 0, after: int = 1
    ) -> list[Passage]:
        if before < 0 or after < 0:
            raise ValidationError(f"before and after must be 0 or more, got {before} and {after}.")

        async def select(conn: Conn) -> list[Any]:
            own = await (
                await conn.execute(
                    f"SELECT {self._PASSAGE_COLUMNS} FROM passages WHERE agent_id = %s AND id = %s",
                    (agent_id, passage_id),
                )
            ).fetchall()
            if own:
                return own
            hit = await (
                await conn.execute(
                    "SELECT p.file_id, p.chunk_index FROM source_passages p"
                    " JOIN agent_sources a ON a.source_id = p.source_id AND a.agent_id = %s"
                    " WHERE p.id = %s AND p.committed",
                    (agent_id, passage_id),
                )
            ).fetchone()
            if hit is None:
                return []
            cursor = await conn.execute(
                "SELECT id, '', text, metadata, created_at FROM source_passages"
                " WHERE file_id = %s AND chunk_index BETWEEN %s AND %s ORDER BY chunk_index",
                (hit[0], hit[1] - before, hit[1] + after),
            )
            return await cursor.fetchall()

        rows = await self._run(select)
        if not rows:
            raise NotFoundError(f"No passage {passage_id!r} in this agent's archival memory or attached sources.")
        return [self._passage_from_row(row) for row in rows]

    # ----------------------------------------------------------------- search internals
    # Ranking primitives of :class:`.hybrid_search.HybridSearchStore`; ``row id`` is the table's ``seq``.
    async def text_ranking(
        self, table: Table, owners: Sequence[str], terms: Sequence[str], limit: int, *, require_match: bool
    ) -> list[tuple[int, float]]:
        """The best ``ts_rank_cd`` matches as (seq, score)."""
        ranking = functools.partial(
            self._text_ranking, table=table, owners=owners, terms=terms, limit=limit, require_match=require_match
        )
        return await self._run(ranking)

    async def text_match_count(
        self, table: Table, owners: Sequence[str], terms: Sequence[str], *, exclude_ids: Collection[str] = ()
    ) -> int:
        """Matches of the planned full-text query not in ``exclude_ids``, up to TOTAL_CAP."""
        count = functools.partial(self._text_match_count, table=table, owners=owners, terms=terms, exclude=exclude_ids)
        return await self._run(count)

    async def searchable_count(self, table: Table, owners: Sequence[str], exclude_ids: Collection[str]) -> int:
        """Searchable rows not in ``exclude_ids``, up to TOTAL_CAP."""
        where, params = self._scope_filter(table, owners)  # messages: with search text
        if exclude_ids:
            where += " AND NOT (id = ANY(%s))"
            params = [*params, list(exclude_ids)]
        rows = await self._fetch(
            f"SELECT count(*) FROM (SELECT 1 FROM {table} WHERE {where} LIMIT %s) t", (*params, TOTAL_CAP)
        )
        return int(rows[0][0])

    async def vector_ranking(
        self, table: Table, owners: Sequence[str], query: np.ndarray, limit: int
    ) -> list[tuple[int, float]]:
        """The nearest rows as (seq, cosine)."""
        literal = vector_literal(query)
        return await self._run(
            functools.partial(self._vector_ranking, table=table, owners=owners, literal=literal, limit=limit)
        )

    async def hit_rows(self, table: Table, owners: Sequence[str], row_ids: Sequence[int]) -> dict[int, SearchHit]:
        """The visible rows of ``row_ids`` as unscored hits."""
        rows = await self._run(functools.partial(self._hit_rows, table=table, owners=owners, seqs=row_ids))
        return {int(row[0]): self._hit(row, 0.0) for row in rows}

    async def next_messages(self, row_ids: Sequence[int]) -> dict[int, int]:
        """The next searchable message after each message."""
        found = await self._fetch(
            "SELECT m.seq, (SELECT min(n.seq) FROM messages n WHERE n.agent_id = m.agent_id"
            " AND n.seq > m.seq AND n.search_text <> '') FROM messages m WHERE m.seq = ANY(%s)",
            (list(row_ids),),
        )
        return {int(q): int(r) for q, r in found if r is not None}

    @staticmethod
    def _scope_filter(table: Table, owners: Sequence[str]) -> tuple[str, list[Any]]:
        """SQL restricting rows to the owners' (and to published rows of a source)."""
        sql = f"{OWNER[table]} = ANY(%s)"
        if table == "source_passages":
            sql += " AND committed"
        elif table == "messages":
            sql += " AND search_text <> ''"  # the GIN index over messages is partial: repeat its predicate
        return sql, [list(owners)]

    async def _term_frequencies(self, conn: Conn, table: Table, terms: Sequence[str]) -> dict[str, float | None]:
        """Each term's share of the table's rows, from the statistics ANALYZE keeps (None: a stop word).

        A term missing from the most common elements is rarer than all of them and counts as 0. Reading
        statistics costs one query where counting matches would read thousands of rows per common term.
        """
        now = time.monotonic()
        cached = self._term_stats.get(table)
        if cached is None or now - cached[0] > COMMON_TERM_TTL_S:
            row = await (
                await conn.execute(
                    "SELECT most_common_elems::text::text[], most_common_elem_freqs FROM pg_stats"
                    " WHERE schemaname = current_schema() AND tablename = %s AND attname = 'tsv'",
                    (table,),
                )
            ).fetchone()
            common = dict(zip(row[0], row[1], strict=False)) if row and row[0] else {}
            cached = self._term_stats[table] = (now, common)
        cursor = await conn.execute(
            f"SELECT t, ARRAY(SELECT lexeme FROM unnest(to_tsvector('{TEXT_CONFIG}', t))) FROM unnest(%s::text[]) t",
            (list(terms),),
        )
        return {
            term: min((cached[1].get(lexeme, 0.0) for lexeme in lexemes), default=0.0) if lexemes else None
            for term, lexemes in await cursor.fetchall()
        }

    async def _text_plan(
        self, conn: Conn, table: Table, terms: Sequence[str], require_match: bool
    ) -> tuple[tuple[str, list[str]], bool] | None:
        """The tsquery to run and whether ranking is worth its cost; None: nothing worth running.

        Ranking reads every matching row's tsvector, while a term found in a large share of a large table
        carries almost no signal. So on large tables common terms are dropped; if every term is common,
        nothing is run unless ``require_match``: then rows holding all of them are used, and if even those
        are too many, the newest matches come unranked (as in the SQLite store).
        """
        row = await (await conn.execute(f"SELECT coalesce(max(seq), 0) FROM {table}")).fetchone()
        rows = int(row[0]) if row else 0
        cap = common_term_cap(rows, TS_RANK_MAX_MATCHES)
        if cap is None:
            return _tsquery(terms), True
        shares = {t: f for t, f in (await self._term_frequencies(conn, table, terms)).items() if f is not None}
        if not shares:
            return _tsquery(terms), True  # only stop words: nothing can match
        selective = [t for t, share in shares.items() if share * rows < cap]
        if selective:
            return _tsquery(selective), True
        if not require_match:
            return None
        both = math.prod(shares.values()) * rows  # independent terms: the rows holding all of them
        return _tsquery(list(shares), "&&"), both < cap

    async def _text_ranking(
        self, conn: Conn, *, table: Table, owners: Sequence[str], terms: Sequence[str], limit: int, require_match: bool
    ) -> list[tuple[int, float]]:
        plan = await self._text_plan(conn, table, terms, require_match)
        if plan is None:
            return []
        (sql, params), rank = plan
        where, scope = self._scope_filter(table, owners)
        score, order = ("ts_rank_cd(tsv, q)", "2 DESC, created_at DESC, seq DESC") if rank else ("0.0", "seq DESC")
        cursor = await conn.execute(
            f"SELECT seq, {score} FROM {table}, (SELECT {sql}) AS qq(q) WHERE tsv @@ q AND {where}"
            f" ORDER BY {order} LIMIT %s",
            (*params, *scope, limit),
        )
        return [(int(r[0]), float(r[1])) for r in await cursor.fetchall()]

    async def _text_match_count(
        self, conn: Conn, *, table: Table, owners: Sequence[str], terms: Sequence[str], exclude: Collection[str]
    ) -> int:
        plan = await self._text_plan(conn, table, terms, require_match=True)
        assert plan is not None
        (sql, params), _ = plan
        where, scope = self._scope_filter(table, owners)
        if exclude:
            where, scope = f"{where} AND NOT (id = ANY(%s))", [*scope, list(exclude)]
        row = await (
            await conn.execute(
                f"SELECT count(*) FROM (SELECT 1 FROM {table}, (SELECT {sql}) AS qq(q) WHERE tsv @@ q AND {where}"
                " LIMIT %s) t",
                (*params, *scope, TOTAL_CAP),
            )
        ).fetchone()
        return int(row[0]) if row else 0

    async def _vector_ranking(
        self, conn: Conn, *, table: Table, owners: Sequence[str], literal: str, limit: int
    ) -> list[tuple[int, float]]:
        """The nearest ``limit`` rows as (seq, cosine similarity): exact for few rows, else through HNSW.

        The index is shared by every owner and filtered after the scan, so a scan that yields too few of
        the owners' rows is widened once, then replaced by an exact search.
        """
        where, scope = self._scope_filter(table, owners)
        row = await (
            await conn.execute(
                f"SELECT coalesce(max(seq), 0) > %s AND (SELECT count(*) FROM (SELECT 1 FROM {table}"
                f" WHERE {where} LIMIT %s) t) > %s FROM {table}",
                (EXACT_TABLE_MAX, *scope, EXACT_OWNER_MAX + 1, EXACT_OWNER_MAX),
            )
        ).fetchone()
        if row and row[0]:
            for ef_search in (EF_SEARCH_MIN, EF_SEARCH_MAX):
                found = await self._ann_search(conn, table, where, scope, literal, limit, ef_search)
                if len(found) >= limit:
                    return found
        # MATERIALIZED keeps the planner from walking the whole table's HNSW index for a few owners' rows.
        cursor = await conn.execute(
            f"WITH c AS MATERIALIZED (SELECT seq, embedding FROM {table} WHERE {where} AND embedding IS NOT NULL)"
            " SELECT seq, 1 - (embedding <=> %s::vector) AS sim FROM c ORDER BY sim DESC, seq DESC LIMIT %s",
            (*scope, literal, limit),
        )
        return [(int(r[0]), float(r[1])) for r in await cursor.fetchall()]

    async def _ann_search(
        self, conn: Conn, table: Table, where: str, scope: list[Any], literal: str, limit: int, ef_search: int
    ) -> list[tuple[int, float]]:
        assert self.embedder is not None
        dim = int(self.embedder.dim)
        distance = f"(embedding::vector({dim}) <=> %s::vector({dim}))"
        query = (
            f"SELECT seq, 1 - {distance} FROM {table} WHERE {where} AND embedding IS NOT NULL"
            f" ORDER BY {distance} LIMIT %s"
        )
        if ef_search == EF_SEARCH_MIN:  # every pooled connection starts with this value: one round trip
            cursor = await conn.execute(query, (literal, *scope, literal, limit))
            return [(int(r[0]), float(r[1])) for r in await cursor.fetchall()]
        await conn.execute("SELECT set_config('hnsw.ef_search', %s, false)", (str(ef_search),))
        try:
            cursor = await conn.execute(query, (literal, *scope, literal, limit))
            return [(int(r[0]), float(r[1])) for r in await cursor.fetchall()]
        finally:
            with suppress(psycopg.Error):  # in a failed transaction the rollback restores it
                await conn.execute("SELECT set_config('hnsw.ef_search', %s, false)", (str(EF_SEARCH_MIN),))

    async def _hit_rows(self, conn: Conn, *, table: Table, owners: Sequence[str], seqs: Sequence[int]) -> list[Any]:
        if not seqs:
            return []
        columns = "role, search_text" if table == "messages" else "NULL, text"
        name_col = "name" if table == "messages" else "NULL"
        where, scope = self._scope_filter(table, owners)
        cursor = await conn.execute(
            f"SELECT seq, id, {columns}, created_at, metadata, {name_col} FROM {table} WHERE {where} AND seq = ANY(%s)",
            (*scope, list(seqs)),
        )
        return await cursor.fetchall()

    @staticmethod
    def _hit(row: Sequence[Any], score: float) -> SearchHit:
        return SearchHit(
            id=row[1], role=row[2], text=row[3], created_at=row[4], score=score, metadata=row[5] or {}, name=row[6]
        )

    # ----------------------------------------------------------------- embeddings
    async def _embed(self, texts: Sequence[str]) -> np.ndarray:
        assert self.embedder is not None
        return np.asarray(await self.embedder.embed(texts), dtype=np.float32)

    async def _embed_pending(
        self, table: Table, agent_id: str | None, limit: int, on_progress: Callable[[int], None] | None = None
    ) -> int:
        if self.embedder is None:
            return 0
        lock = self._embed_locks.setdefault((table, agent_id or "*"), asyncio.Lock())
        async with lock:  # one embedder per agent and table in this process: others would embed the same rows
            return await self._embed_pending_locked(table, agent_id, limit, on_progress)

    async def _embed_pending_locked(
        self, table: Table, agent_id: str | None, limit: int, on_progress: Callable[[int], None] | None
    ) -> int:
        text_col = "search_text" if table == "messages" else "text"
        where = f"embedding IS NULL AND {text_col} <> ''" + (f" AND {OWNER[table]} = %s" if agent_id else "")
        done = 0
        while done < limit:
            batch = min(EMBED_BATCH, limit - done)

            async def pending(conn: Conn, size: int = batch) -> list[Any]:
                cursor = await conn.execute(
                    f"SELECT seq, {text_col} FROM {table} WHERE {where} ORDER BY seq LIMIT %s",
                    (*([agent_id] if agent_id else []), size),
                )
                return await cursor.fetchall()

            rows = await self._run(pending)
            if not rows:
                break
            vectors = await self._embed([r[1] for r in rows])
            updates = [(vector_literal(vectors[i]), r[0]) for i, r in enumerate(rows)]

            async def update(conn: Conn, values: list[tuple[str, int]] = updates) -> None:
                async with conn.cursor() as cursor:
                    await cursor.executemany(
                        f"UPDATE {table} SET embedding = %s::vector WHERE seq = %s AND embedding IS NULL", values
                    )

            await self._run(update, write=True)
            done += len(rows)
            if on_progress is not None:
                on_progress(len(rows))
        return done

    async def count_unembedded(self) -> int:
        """Rows (messages with searchable text, and passages) that have no embedding yet."""

        async def count(conn: Conn) -> int:
            row = await (
                await conn.execute(
                    "SELECT (SELECT count(*) FROM messages WHERE embedding IS NULL AND search_text <> '')"
                    " + (SELECT count(*) FROM passages WHERE embedding IS NULL)"
                    " + (SELECT count(*) FROM source_passages WHERE embedding IS NULL)"
                )
            ).fetchone()
            return int(row[0]) if row else 0

        return await self._run(count)

    async def embed_all_pending(self, on_progress: Callable[[int], None] | None = None) -> int:
        """Embed every row of every agent that lacks an embedding; returns how many were embedded."""
        return sum([await self._embed_pending(table, None, 10**12, on_progress) for table in TABLES])


# --------------------------------------------------------------------------- schema helpers shared with db copy
def _index_name(table: str, dim: int) -> str:
    return f"{table}_embedding_hnsw_{dim:d}"


async def ensure_vector_indexes(conn: Conn, dim: int, *, build_workers: int = 0, build_memory: str = "1GB") -> None:
    """Create the HNSW indexes for ``dim``-dimensional embeddings if they do not exist yet.

    Creating them after a bulk load is much faster than inserting into them row by row; ``build_workers``
    parallel workers and ``build_memory`` of maintenance memory speed up building over existing rows.
    """
    for table in TABLES:
        name = _index_name(table, dim)
        exists = await (await conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,))).fetchone()
        if exists and exists[0]:
            continue
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (pg_schema.MIGRATION_LOCK_KEY,))
            if build_workers:
                await conn.execute(f"SET LOCAL max_parallel_maintenance_workers = {build_workers:d}")
                await conn.execute("SELECT set_config('maintenance_work_mem', %s, true)", (build_memory,))
            await conn.execute(
                f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING hnsw ((embedding::vector({dim:d}))"
                " vector_cosine_ops)"
            )


async def drop_vector_indexes(conn: Conn) -> None:
    """Drop every HNSW index (before embeddings of another model replace the current ones)."""
    rows = await (
        await conn.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
            " AND indexname ~ '^(messages|passages|source_passages)_embedding_hnsw_[0-9]+$'"
        )
    ).fetchall()
    for (name,) in rows:
        await conn.execute(f'DROP INDEX IF EXISTS "{name}"')


async def write_embedding_meta(conn: Conn, name: str, dim: int) -> None:
    async with conn.transaction(), conn.cursor() as cursor:
        await cursor.executemany(
            "INSERT INTO meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [("embedding_model", name), ("embedding_dim", str(dim))],
        )
