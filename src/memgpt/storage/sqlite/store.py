"""The embedded default store: one SQLite file holding agents, the recall store and the archival store."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from memgpt.config import vector_cache_size
from memgpt.embeddings.base import Embedder
from memgpt.errors import StorageError
from memgpt.storage.base import SqlStore, TaskTransaction
from memgpt.storage.hybrid_search import Table
from memgpt.storage.operations import Dialect
from memgpt.storage.sql import Op, Query
from memgpt.storage.sqlite import migrations
from memgpt.storage.sqlite.connection import Connection, Tx, storage_error
from memgpt.storage.sqlite.locks import FileLocks
from memgpt.storage.sqlite.text_search import FullTextSearch
from memgpt.storage.sqlite.vectors import MAX_ENTRIES, IndexCache

T = TypeVar("T")
POOL_SIZE = 4
log = logging.getLogger(__name__)


@dataclass
class _TaskTx:
    """A task's transaction: its pinned connection and the state that connection's thread keeps."""

    connection: Connection
    pool: asyncio.Queue[Connection]
    state: Tx = field(default_factory=Tx)
    task: asyncio.Task[Any] | None = None
    savepoints: int = 0

    @property
    def begun(self) -> bool:
        return self.state.begun  # only the connection's thread changes it, and no job of it runs now

    async def run(self, op: Op[T]) -> T:
        connection, state = self.connection, self.state
        return await connection.call(lambda conn: connection.drive(conn, op, state))

    async def control(self, sql: str) -> None:
        connection, state = self.connection, self.state
        await connection.call(lambda conn: connection.control(conn, state, sql), interruptible=False)

    async def commit(self) -> None:
        await self.connection.call(lambda conn: self.connection.commit(conn, self.state), interruptible=False)

    async def rollback(self) -> None:
        await self.connection.call(lambda conn: self.connection.rollback(conn, self.state), interruptible=False)

    async def release(self) -> None:
        if self.state.begun:
            await self.rollback()
        self.pool.put_nowait(self.connection)


class SqliteStore(SqlStore):
    """The SQLite implementation of :class:`memgpt.memory.protocols.Store`."""

    dialect = Dialect(numbered_embeddings=True, row_locks=False)

    def __init__(
        self,
        path: Path,
        embedder: Embedder | None = None,
        *,
        pool_size: int = POOL_SIZE,
        cached_indexes: int = MAX_ENTRIES,
    ) -> None:
        super().__init__(embedder)
        self.path = path
        self.description = str(path)
        self.migrated = (0, 0)
        self._write_lock = threading.Lock()
        self._connections = [Connection(path, self._write_lock) for _ in range(pool_size)]
        self._pool: asyncio.Queue[Connection] = asyncio.Queue()
        for connection in self._connections:
            self._pool.put_nowait(connection)
        self.full_text = FullTextSearch()
        folder = path.with_name(path.name + ".indexes")
        self._vectors = (
            IndexCache(folder, embedder.dim, max_vectors=vector_cache_size(), max_entries=cached_indexes)
            if embedder is not None
            else None
        )
        self._locks = FileLocks(path.with_name(path.name + ".locks"))

    # ----------------------------------------------------------------- opening
    @classmethod
    async def open(
        cls, path: Path, *, embedder: Embedder | None = None, reembed: bool = False, cached_indexes: int = MAX_ENTRIES
    ) -> SqliteStore:
        """Open or create the database at ``path``, apply migrations and check the embedding model.

        ``reembed=True`` drops every stored embedding first, so the configured model can replace another.
        ``cached_indexes``: how many agents' (and sources') vector indexes stay loaded at most.
        """
        migrations.check_file(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(
                f"Cannot create the folder {path.parent} for the database: {exc.strerror}. Set MEMGPT_HOME "
                "(or MEMGPT_DATABASE_URL) to a folder you can write."
            ) from None
        store = cls(path, embedder, cached_indexes=cached_indexes)
        try:
            store.migrated = await store._connections[0].call(store._migrate)
        except BaseException:
            await store.close()
            raise
        await store.finish_opening(reembed=reembed)
        return store

    def _migrate(self, conn: sqlite3.Connection) -> tuple[int, int]:
        try:
            return migrations.migrate(conn, self.path)
        except sqlite3.Error as exc:
            raise storage_error(exc, self.path) from exc

    async def close(self) -> None:
        """Save the vector indexes and close every connection."""
        if self._vectors is not None:
            await asyncio.to_thread(self._vectors.save_all)
        for connection in self._connections:
            await connection.close()

    # ----------------------------------------------------------------- running operations
    async def run_alone(self, op: Op[T]) -> T:
        connection = await self._pool.get()
        try:
            return await connection.call(lambda conn: connection.drive(conn, op, None))  # commits in the thread
        finally:
            self._pool.put_nowait(connection)

    async def open_transaction(self) -> _TaskTx:
        return _TaskTx(await self._pool.get(), self._pool)

    def rolled_back(self, tx: TaskTransaction) -> None:
        if self._vectors is not None and isinstance(tx, _TaskTx):
            self._vectors.forget(tx.state.touched)

    def committed(self, tx: TaskTransaction) -> None:
        if self._vectors is not None and isinstance(tx, _TaskTx):
            self._vectors.committed(tx.state.touched)

    # ----------------------------------------------------------------- hooks for the vector indexes
    def rows_removed(self, table: Table, owner: str, seqs: Sequence[int]) -> None:
        if self._vectors is not None:
            self._vectors.remove_rows((table, owner), seqs)

    def rows_forgotten(self, table: Table, owner: str, seqs: Sequence[int]) -> None:
        # The index is rebuilt from the rows: a usearch file may keep a removed vector's bytes until compacted.
        # Opened without an embedder the files are deleted all the same (a later process would load them).
        cache = self._vectors or IndexCache(self.path.with_name(self.path.name + ".indexes"), 1, max_vectors=1)
        cache.drop((table, owner))

    async def erase_deleted(self) -> None:
        """Merge the full-text indexes (FTS5 keeps a deleted row's terms in old segments until a merge; with
        ``secure_delete`` the freed pages are zeroed) and checkpoint the WAL into the file, truncating it."""
        await self.run_alone(_merge_full_text())
        connection = await self._pool.get()
        try:
            for _ in range(50):
                busy = await connection.call(_checkpoint)
                if not busy:
                    return
                await asyncio.sleep(0.1)
            log.warning("The WAL could not be truncated (another process is reading); it is at the next checkpoint.")
        finally:
            self._pool.put_nowait(connection)

    def owner_removed(self, table: Table, owner: str) -> None:
        if self._vectors is not None:
            self._vectors.drop((table, owner))

    def embeddings_dropped(self) -> None:
        if self._vectors is not None:
            self._vectors.drop_all()
        else:
            IndexCache(self.path.with_name(self.path.name + ".indexes"), 1, max_vectors=1).drop_all()

    @property
    def cached_indexes(self) -> int:
        """How many vector indexes are loaded (bounded; see :mod:`.vectors`)."""
        return 0 if self._vectors is None else len(self._vectors)

    # ----------------------------------------------------------------- ranking primitives
    async def vector_ranking(
        self, table: Table, owners: Sequence[str], query: np.ndarray, limit: int
    ) -> list[tuple[int, float]]:
        """The nearest rows as (seq, cosine) from each owner's index."""
        assert self._vectors is not None
        tx = self.task_transaction()
        found: list[tuple[int, float]] = []
        for owner in owners:
            if isinstance(tx, _TaskTx):
                tx.state.touched.add((table, owner))
            found += await self.run(self._vectors.search(table, owner, query, limit, committed=tx is None))
        return sorted(found, key=lambda item: -item[1])[:limit]

    async def vector_ranking_exact(
        self, table: Table, owner: str, queries: np.ndarray, limit: int, *, batch: int = 50_000
    ) -> list[list[int]]:
        """For each query (rows of ``queries``), the nearest ``limit`` rows by exact search over the stored
        vectors, read in batches (benchmarks measure the index's recall against it)."""
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        best_keys = np.empty((len(queries), 0), dtype=np.int64)
        best_scores = np.empty((len(queries), 0), dtype=np.float32)
        after = 0
        while rows := await self.read_rows(table, owner=owner, after=after, limit=batch):
            after = rows[-1][0]
            embedded = [(seq, row["embedding"]) for seq, row in rows if row["embedding"] is not None]
            if not embedded:
                continue
            keys = np.array([seq for seq, _ in embedded], dtype=np.int64)
            scores = queries @ np.stack([vector for _, vector in embedded]).T
            all_keys = np.hstack([best_keys, np.broadcast_to(keys, (len(queries), len(keys)))])
            all_scores = np.hstack([best_scores, scores])
            top = np.argsort(-all_scores, axis=1, kind="stable")[:, :limit]
            best_keys = np.take_along_axis(all_keys, top, axis=1)
            best_scores = np.take_along_axis(all_scores, top, axis=1)
        return [[int(k) for k in row] for row in best_keys]


def _merge_full_text() -> Op[None]:
    for table in ("messages", "passages"):
        yield Query(f"INSERT INTO {table}_fts ({table}_fts) VALUES ('optimize')")


def _checkpoint(conn: sqlite3.Connection) -> bool:
    """Copy the WAL into the database and truncate it; True if a reader kept it from finishing."""
    busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    return bool(busy)
