"""The embedded default store: one SQLite file holding agents, the recall store and the archival store.

- ``connection``: one thread per connection, transactions that start at the first write, savepoints,
  cancellation that waits for the thread, engine errors mapped to :class:`~memgpt.errors.StorageError`.
- ``migrations``: versioned scripts in ``migrations/sqlite/NNNN_*.sql`` (``PRAGMA user_version``).
- ``text_search``: FTS5 with BM25 over external-content tables kept in sync by triggers.
- ``vectors`` and ``vector_index``: float32 blobs in the rows (the source of truth) plus a derived
  in-memory index per agent and table, persisted beside the database, in a bounded LRU cache.
- ``locks``: per-agent locks across processes (``flock``).
- ``store``: :class:`SqliteStore`, the engine's half of :class:`memgpt.storage.base.SqlStore`.

WAL mode, ``synchronous=NORMAL`` and a busy timeout let a CLI and a server process open the same file at
once (SQLite serialises writers; readers never block).
"""

from memgpt.storage.sqlite.store import SqliteStore

__all__ = ["SqliteStore"]
