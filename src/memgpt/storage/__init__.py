"""Storage backends behind the protocols of :mod:`memgpt.memory.protocols`."""

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
