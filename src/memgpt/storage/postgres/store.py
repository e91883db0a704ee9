"""The PostgreSQL store: agents, the recall store and the archival store in one database with pgvector."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import numpy as np
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from memgpt.embeddings.base import Embedder
from memgpt.errors import StorageError
from memgpt.storage.base import SqlStore
from memgpt.storage.hybrid_search import Table
from memgpt.storage.operations import Dialect
from memgpt.storage.postgres import migrations
from memgpt.storage.postgres.connection import Tx, configure
from memgpt.storage.postgres.locks import AdvisoryLocks
from memgpt.storage.postgres.text_search import FullTextSearch
from memgpt.storage.postgres.vectors import drop_vector_indexes, ensure_vector_indexes, vector_ranking
from memgpt.storage.sql import Op, uninterrupted

T = TypeVar("T")


class PostgresStore(SqlStore):
    """The PostgreSQL implementation of :class:`memgpt.memory.protocols.Store`."""

    dialect = Dialect(numbered_embeddings=False, row_locks=True)

    def __init__(
        self, url: str, embedder: Embedder | None, pool: AsyncConnectionPool[Any], lock_pool: AsyncConnectionPool[Any]
    ) -> None:
        super().__init__(embedder)
        self.url = url
        self.description = migrations.describe(url)
        self.migrated = (0, 0)
        self._pool = pool
        self._lock_pool = lock_pool
        self._locks = AdvisoryLocks(lock_pool)
        self.full_text = FullTextSearch()

    # ----------------------------------------------------------------- opening
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
        migrations.check_url(url)
        async with await migrations.connect(url) as conn:
            migrated = await migrations.migrate(conn, url)
            if reembed:
                await drop_vector_indexes(conn)
            if embedder is not None:
                await ensure_vector_indexes(conn, embedder.dim)
        pool = _pool(url, min_size=1, max_size=pool_size, name="memgpt")
        lock_pool = _pool(url, min_size=0, max_size=lock_pool_size, name="memgpt-locks")
        try:
            await pool.open(wait=True, timeout=migrations.CONNECT_TIMEOUT)
            await lock_pool.open()
        except PoolTimeout as exc:
            await pool.close()
            await lock_pool.close()
            raise StorageError(f"Cannot open connections to {migrations.describe(url)}: {exc}.") from None
        store = cls(url, embedder, pool, lock_pool)
        store.migrated = migrated
        await store.finish_opening(reembed=reembed)
        return store

    async def close(self) -> None:
        """Close every connection."""
        await self._pool.close()
        await self._lock_pool.close()

    # ----------------------------------------------------------------- running operations
    async def run_alone(self, op: Op[T]) -> T:
        own = await Tx.checkout(self._pool)
        try:
            result = await own.run(op)
            await uninterrupted(own.commit())
            return result
        finally:
            await uninterrupted(own.release())

    async def open_transaction(self) -> Tx:
        return await Tx.checkout(self._pool)

    async def finish_bulk_load(self, dim: int | None) -> None:
        if dim is None:
            return
        async with await migrations.connect(self.url) as conn:
            await ensure_vector_indexes(conn, dim, build_workers=2)

    async def erase_deleted(self) -> None:
        """VACUUM the tables forgetting deletes from: dead rows are pruned from their pages and index entries
        (space to reuse, not overwritten bytes; see the README on what that does not guarantee)."""
        async with await migrations.connect(self.url) as conn:
            await conn.execute("VACUUM messages, passages, agents, blocks, block_history")

    def embeddings_dropped(self) -> None:
        return None  # the HNSW indexes were dropped when the store opened with reembed

    # ----------------------------------------------------------------- ranking primitives
    async def vector_ranking(
        self, table: Table, owners: Sequence[str], query: np.ndarray, limit: int
    ) -> list[tuple[int, float]]:
        """The nearest rows as (seq, cosine)."""
        assert self.embedder is not None
        return await self.run(vector_ranking(table, owners, query, limit, int(self.embedder.dim)))


def _pool(url: str, *, min_size: int, max_size: int, name: str) -> AsyncConnectionPool[Any]:
    return AsyncConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        open=False,
        name=name,
        kwargs={"autocommit": True, "connect_timeout": migrations.CONNECT_TIMEOUT},
        configure=configure,
    )
