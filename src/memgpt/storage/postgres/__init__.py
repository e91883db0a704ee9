"""The PostgreSQL store: agents, the recall store and the archival store in one database with pgvector.

- ``connection``: the psycopg 3 pool, the driver of operations, transactions that begin at the first write,
  savepoints, dropped connections replaced before anything was written, engine errors mapped.
- ``migrations``: connecting with clear errors, checking pgvector, versioned ``migrations/postgres`` scripts.
- ``text_search``: a stored ``tsvector`` (English stemming) with a GIN index, ranked with ``ts_rank_cd``.
- ``vectors``: pgvector with an HNSW index (cosine) per model dimension; small owners searched exactly.
- ``locks``: per-agent advisory locks across processes and machines.
- ``store``: :class:`PostgresStore`, the engine's half of :class:`memgpt.storage.base.SqlStore`.
"""

from memgpt.storage.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
