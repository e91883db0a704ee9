"""Database maintenance commands."""

from __future__ import annotations

from memgpt.errors import ConfigError


async def reembed(database_url: str | None) -> int:
    """Drop every stored embedding and re-embed all rows with the configured model; returns rows embedded."""
    from rich.progress import Progress

    from memgpt.config import database_url as default_url
    from memgpt.config import sqlite_path
    from memgpt.embeddings import open_embedder
    from memgpt.storage.sqlite import SqliteStore

    embedder = open_embedder(None)
    if embedder is None:
        raise ConfigError("MEMGPT_EMBEDDING is 'none': choose an embedding model to re-embed with.")
    store = await SqliteStore.open(sqlite_path(database_url or default_url()), embedder=embedder, reembed=True)
    try:
        with Progress() as progress:
            task = progress.add_task("re-embedding", total=await store.count_unembedded())
            return await store.embed_all_pending(lambda n: progress.advance(task, n))
    finally:
        await store.close()
