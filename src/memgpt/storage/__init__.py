"""Storage backends behind the protocols of :mod:`memgpt.memory.protocols`: SQLite and PostgreSQL.

One schema (:mod:`.schema`, checked against both engines' catalogues by the tests), every statement
written once as an operation (:mod:`.operations`, over :mod:`.sql`) that each engine drives its own way,
one place for the checks of every written value (:mod:`.records`), and the search pipeline both share
(:mod:`.hybrid_search`). What truly differs stays in ``sqlite/`` and ``postgres/``: connections and
transactions, full-text search (FTS5 against tsvector), vectors (an in-process index against HNSW),
locks (flock against advisory locks) and migrations.

Why hand-written SQL behind a table spec and not SQLAlchemy Core (+ Alembic): measured with
``benchmarks/storage_layer.py`` (results/storage_layer.md), SQLAlchemy Core made the statements of a step
6x slower on SQLite (appending 3 messages and saving the agent in one transaction: 42 against 266 us; reading
20 messages by id: 24 against 49 us) and adds about 140 ms of import to every command (the CLI starts in
about 120 ms). It would have removed little: the placeholders and a few spellings are the only differences
in the shared statements (:mod:`.sql` rewrites them), while FTS5, tsvector, the vector indexes, locks and
the migrations, which are most of each engine, would stay hand-written either way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from memgpt.config import database_url, sqlite_path
from memgpt.errors import ConfigError

if TYPE_CHECKING:
    from memgpt.embeddings.base import Embedder
    from memgpt.memory.protocols import Store


async def open_store(url: str | None = None, *, embedder: Embedder | None = None, reembed: bool = False) -> Store:
    """Open (creating and migrating as needed) the store at ``url`` (default ``$MEMGPT_DATABASE_URL``).

    ``reembed=True`` drops every stored embedding first, so the configured model can replace another.
    """
    url = url or database_url()
    if url.startswith(("postgresql://", "postgres://")):
        try:
            from memgpt.storage.postgres import PostgresStore
        except ImportError as exc:
            raise ConfigError(
                f"The PostgreSQL backend needs psycopg ({exc.name} is missing): pip install 'memgpt[postgres]'."
            ) from None
        return await PostgresStore.open(url, embedder=embedder, reembed=reembed)
    from memgpt.storage.sqlite import SqliteStore

    return await SqliteStore.open(sqlite_path(url), embedder=embedder, reembed=reembed)
