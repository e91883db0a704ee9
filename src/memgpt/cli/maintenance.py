"""Database maintenance commands."""

from __future__ import annotations

from typing import Any

from memgpt.errors import ConfigError


async def reembed(database_url: str | None) -> int:
    """Drop every stored embedding and re-embed all rows with the configured model; returns rows embedded."""
    from rich.progress import Progress

    from memgpt.embeddings import open_embedder
    from memgpt.storage import open_store

    embedder = open_embedder(None)
    if embedder is None:
        raise ConfigError("MEMGPT_EMBEDDING is 'none': choose an embedding model to re-embed with.")
    store: Any = await open_store(database_url, embedder=embedder, reembed=True)  # both backends re-embed alike
    try:
        with Progress() as progress:
            task = progress.add_task("re-embedding", total=await store.count_unembedded())
            return int(await store.embed_all_pending(lambda n: progress.advance(task, n)))
    finally:
        await store.close()
