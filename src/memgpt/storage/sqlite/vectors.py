"""The SQLite store's vector search: one in-memory index per agent (or source) and table, kept in an LRU cache.

The embeddings in the rows are the source of truth; an index is derived from them, persisted beside the
database and caught up from the rows by ``embed_seq`` (numbered as embeddings are written). A process
touching thousands of agents keeps at most ``max_entries`` indexes and ``max_vectors`` vectors in memory:
the least recently searched are saved and dropped first (a dropped index reloads from its file).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from memgpt.storage.sql import Op, Query
from memgpt.storage.sqlite.vector_index import VectorIndex

INDEX_SAVE_EVERY = 2000  # rows added since the last save that make a catch-up persist the index
CATCH_UP_BATCH = 10_000
MAX_ENTRIES = 256
OWNER = {"messages": "agent_id", "passages": "agent_id", "source_passages": "source_id"}
Key = tuple[str, str]  # (table, owner)


@dataclass
class IndexEntry:
    index: VectorIndex
    seq: int = 0  # the last embed_seq the index has seen
    unsaved: int = 0
    dirty: bool = False  # saw rows of a transaction still open: never saved until it commits
    lock: threading.Lock = field(default_factory=threading.Lock)  # one catch-up or save at a time


class IndexCache:
    """The loaded indexes of one database, least recently searched first."""

    def __init__(self, folder: Path, dim: int, *, max_vectors: int, max_entries: int = MAX_ENTRIES) -> None:
        self.folder = folder
        self.dim = dim
        self.max_vectors = max_vectors
        self.max_entries = max_entries
        self._entries: OrderedDict[Key, IndexEntry] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def vectors(self) -> int:
        """How many vectors the loaded indexes hold."""
        with self._lock:
            return sum(len(e.index) for e in self._entries.values())

    def path(self, key: Key) -> Path:
        return self.folder / f"{key[0]}-{key[1]}.usearch"

    def get(self, key: Key) -> IndexEntry:
        """The entry of ``key``, loaded from its file (or new), as the most recently used."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                return entry
        entry = self._load(key)
        with self._lock:
            entry = self._entries.setdefault(key, entry)  # another thread may have loaded it meanwhile
            self._entries.move_to_end(key)
            evicted = self._over_budget()
        for old in evicted:
            self._save(old)
        return entry

    def _load(self, key: Key) -> IndexEntry:
        path = self.path(key)
        loaded = VectorIndex.load(self.dim, path)
        if loaded is None:
            return IndexEntry(VectorIndex(self.dim, path=path))
        return IndexEntry(loaded, seq=_read_seq(path))

    def _over_budget(self) -> list[IndexEntry]:
        """Drop least recently used entries beyond the budget (never the newest); returns them."""
        evicted = []
        total = sum(len(e.index) for e in self._entries.values())
        while len(self._entries) > 1 and (len(self._entries) > self.max_entries or total > self.max_vectors):
            _, old = self._entries.popitem(last=False)
            total -= len(old.index)
            evicted.append(old)
        return evicted

    def catch_up(self, entry: IndexEntry, table: str, owner: str, *, committed: bool) -> Op[None]:
        """Add the rows embedded since the index last saw the table.

        Rows are read without the entry's lock (a statement can fail, or be interrupted, and an operation
        must not leave a lock held); they are added under it only if no other thread moved the index on
        meanwhile, else the next batch is read from where that thread left it.
        """
        while True:
            seen = entry.seq
            result = yield Query(
                f"SELECT seq, embedding, embed_seq FROM {table} WHERE {OWNER[table]} = ? AND embed_seq > ?"
                f" ORDER BY embed_seq LIMIT {CATCH_UP_BATCH}",
                (owner, seen),
            )
            if not result.rows:
                return
            rows = result.rows
            keys = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1)
            with entry.lock:
                if entry.seq != seen:
                    continue
                entry.index.add(keys, vectors)
                entry.seq = int(rows[-1][2])
                entry.unsaved += len(rows)
                entry.dirty = entry.dirty or not committed

    def search(
        self, table: str, owner: str, query: np.ndarray, limit: int, *, committed: bool
    ) -> Op[list[tuple[int, float]]]:
        """The nearest ``limit`` rows as (seq, cosine). ``committed``: the rows read are committed, so a
        much-changed index may be persisted (an index that saw uncommitted rows is never saved)."""
        entry = self.get((table, owner))
        yield from self.catch_up(entry, table, owner, committed=committed)
        if entry.unsaved >= INDEX_SAVE_EVERY:
            self._save(entry)
        return entry.index.search(query, limit)

    def remove_rows(self, key: Key, seqs: Sequence[int]) -> None:
        """Forget deleted rows' vectors, in memory and (at the next save) on disk. An index that is not
        loaded has its files deleted instead: it is rebuilt from the rows, so a deleted memory's vector
        never comes back from a file."""
        if not seqs:
            return
        with self._lock:
            entry = self._entries.get(key)
        if entry is None:
            self._delete_files(key)
            return
        with entry.lock:
            entry.index.remove(seqs)
            entry.unsaved += len(seqs)

    def committed(self, keys: Iterable[Key]) -> None:
        """The transaction whose rows these indexes saw has committed: they may be saved again."""
        with self._lock:
            entries = [self._entries[k] for k in keys if k in self._entries]
        for entry in entries:
            with entry.lock:
                entry.dirty = False

    def forget(self, keys: Iterable[Key]) -> None:
        """Drop entries without saving (they saw rows that were rolled back); they reload from their files."""
        with self._lock:
            for key in keys:
                self._entries.pop(key, None)

    def drop(self, key: Key) -> None:
        """Forget an entry and delete its files (its owner is gone)."""
        self.forget([key])
        self._delete_files(key)

    def _delete_files(self, key: Key) -> None:
        path = self.path(key)
        for candidate in path.parent.glob(f"{path.stem}*") if path.parent.exists() else []:
            with suppress(OSError):
                candidate.unlink()

    def drop_all(self) -> None:
        with self._lock:
            self._entries.clear()
        for file in self.folder.glob("*") if self.folder.exists() else []:
            with suppress(OSError):
                file.unlink()

    def save_all(self) -> None:
        with self._lock:
            entries = list(self._entries.values())
        for entry in entries:
            self._save(entry)

    @staticmethod
    def _save(entry: IndexEntry) -> None:
        with entry.lock:
            _save_locked(entry)


def _save_locked(entry: IndexEntry) -> None:
    if not entry.unsaved or entry.dirty or entry.index.path is None:
        return
    path = entry.index.path
    try:
        entry.index.save()
        seq_path = path.with_suffix(".seq.json")
        tmp = seq_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"embed_seq": entry.seq}))
        tmp.replace(seq_path)
        entry.unsaved = 0
    except OSError:
        pass  # the index is a cache: the next process rebuilds it from the rows


def _read_seq(path: Path) -> int:
    try:
        return int(json.loads(path.with_suffix(".seq.json").read_text())["embed_seq"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0
