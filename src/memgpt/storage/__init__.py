"""Storage backends behind the protocols of :mod:`memgpt.memory.protocols`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from memgpt.config import database_url, sqlite_path
from memgpt.errors import ConfigError

if TYPE_CHECKING:
    from memgpt.embeddings.base import Embedder
    from memgpt.memory.protocols import Store


async def open_store(url: str | None = None, *, embedder: Embedder | None = None) -> Store:
    """Open (creating and migrating as needed) the store at ``url`` (default ``$MEMGPT_DATABASE_URL``)."""
    url = url or database_url()
    if url.startswith(("postgresql://", "postgres://")):
        raise ConfigError(
            "The PostgreSQL backend is not available in this version of memgpt; "
            "unset MEMGPT_DATABASE_URL to use the embedded SQLite store."
        )
    from memgpt.storage.sqlite import SqliteStore

    return await SqliteStore.open(sqlite_path(url), embedder=embedder)
