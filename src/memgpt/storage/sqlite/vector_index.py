"""The vector index behind the SQLite backend: exact NumPy search for small sets, usearch HNSW above.

Why (``benchmarks/vector_index.py``, figures in ``benchmarks/results/vector_index.md``; clustered 384-d
vectors like ``memgpt bench store``, on this 2-core machine shared with other work): exact NumPy top-10
costs ~15 ms at 100k and ~220 ms at 1M on a quiet machine (144 ms p50 at 100k at load ~18), so 1M needs an
approximate index; sqlite-vec is exact too and slower (89 ms at 100k in ``../shared/FACTS.md``, not
re-measured) and needs a SQLite drop-in on Pythons without loadable extensions. At 100k, usearch
and hnswlib with the same graph (M=16, ef_construction=128) are alike: recall@10 0.999-1.0 against exact
search at ef 64-256, 170-180 MB, a query in 0.2-1.3 ms; builds took 304 s and 353 s with the machine
at load ~13 (27 s for usearch when it was quiet). hnswlib ships no wheel for current Pythons (0.8.0 is an
sdist: a C++ compiler at install time) and only marks deletions; usearch ships wheels for every platform,
saves one file, and removes keys, so it stays. Recall at a fixed ef falls as the graph grows (ef=128:
0.9995 at 100k, 0.9945 at 300k, 0.939 at 1M in ``memgpt bench store``), so the search expansion grows
with the index as ``128 * sqrt(size / 100k)`` (see :func:`expansion_for`): 221 at 300k gave 0.9995 at
1.3 ms p50 (405: 1.5 ms); at 1M, ef=405 gives recall@10 0.986 at 1.6 ms p50 against 0.935 at 1.1 ms
for ef=128 (``benchmarks/vector_index.py --sizes 1000000``, results/vector_index.md). Below
``exact_threshold`` vectors the exact matrix is both faster to maintain and perfectly accurate, so the
HNSW graph is only built when a set outgrows it.

Vectors are L2-normalised, so inner product is cosine similarity. Keys are the rows' integer ids.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

EXACT_THRESHOLD = 20_000
CONNECTIVITY = 16
EXPANSION_ADD = 128
EXPANSION_SEARCH = 128
EXPANSION_BASE_SIZE = 100_000  # ef grows with the index beyond this size ...
EXPANSION_GROWTH = 0.5  # ... as (size / base) ** growth ...
EXPANSION_MAX = 1024  # ... up to this

Keys = npt.NDArray[np.int64]
Matrix = npt.NDArray[np.float32]


def expansion_for(size: int) -> int:
    """The search expansion (ef) for an index of ``size`` vectors: recall@10 >= 0.95 needs more as it grows."""
    if size <= EXPANSION_BASE_SIZE:
        return EXPANSION_SEARCH
    scaled = EXPANSION_SEARCH * (size / EXPANSION_BASE_SIZE) ** EXPANSION_GROWTH
    return min(EXPANSION_MAX, int(scaled))


def _new_hnsw(dim: int) -> Any:
    from usearch.index import Index

    return Index(
        ndim=dim,
        metric="ip",
        dtype="f32",
        connectivity=CONNECTIVITY,
        expansion_add=EXPANSION_ADD,
        expansion_search=EXPANSION_SEARCH,
    )


class VectorIndex:
    """A thread-safe key → vector index with top-k cosine search, persisted to ``path`` on :meth:`save`."""

    def __init__(self, dim: int, *, path: Path | None = None, exact_threshold: int = EXACT_THRESHOLD) -> None:
        self.dim = dim
        self.path = path
        self.exact_threshold = exact_threshold
        self._lock = threading.Lock()
        self._keys: Keys = np.empty(0, dtype=np.int64)
        self._matrix: Matrix = np.empty((0, dim), dtype=np.float32)
        self._size = 0
        self._position: dict[int, int] = {}
        self._hnsw: Any = None
        self._watermark = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._hnsw) if self._hnsw is not None else self._size

    @property
    def watermark(self) -> int:
        """The largest key ever added."""
        return self._watermark

    @property
    def approximate(self) -> bool:
        return self._hnsw is not None

    @property
    def expansion_search(self) -> int:
        """The HNSW search expansion (ef) used at the current size; 0 in exact mode."""
        with self._lock:
            return expansion_for(len(self._hnsw)) if self._hnsw is not None else 0

    def add(self, keys: Keys, vectors: Matrix) -> None:
        """Add (or replace) vectors under ``keys``."""
        keys = np.asarray(keys, dtype=np.int64)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(keys), self.dim)
        if not len(keys):
            return
        with self._lock:
            self._watermark = max(self._watermark, int(keys.max()))
            if self._hnsw is None:
                self._add_exact(keys, vectors)
                if self._size >= self.exact_threshold:
                    self._switch_to_hnsw()
            else:
                self._add_hnsw(keys, vectors)

    def remove(self, keys: Sequence[int]) -> None:
        with self._lock:
            if self._hnsw is not None:
                present = [k for k in keys if self._hnsw.contains(int(k))]
                if present:
                    self._hnsw.remove(np.asarray(present, dtype=np.uint64))
                return
            for key in keys:
                self._remove_exact(int(key))

    def search(self, query: npt.NDArray[np.float32], k: int) -> list[tuple[int, float]]:
        """The ``k`` nearest keys with their cosine similarity, best first."""
        query = np.asarray(query, dtype=np.float32).reshape(self.dim)
        with self._lock:
            if self._hnsw is not None:
                if not len(self._hnsw):
                    return []
                count = min(k, len(self._hnsw))
                self._hnsw.expansion_search = max(expansion_for(len(self._hnsw)), count)
                matches = self._hnsw.search(query, count)
                return [
                    (int(key), 1.0 - float(dist)) for key, dist in zip(matches.keys, matches.distances, strict=True)
                ]
            if self._size == 0:
                return []
            scores = self._matrix[: self._size] @ query
            top = np.argpartition(-scores, min(k, self._size) - 1)[:k] if self._size > k else np.arange(self._size)
            top = top[np.argsort(-scores[top], kind="stable")]
            return [(int(self._keys[i]), float(scores[i])) for i in top]

    # ----------------------------------------------------------------- exact mode
    def _add_exact(self, keys: Keys, vectors: Matrix) -> None:
        for key, vector in zip(keys.tolist(), vectors, strict=True):
            position = self._position.get(key)
            if position is None:
                self._grow(self._size + 1)
                position = self._size
                self._size += 1
                self._keys[position] = key
                self._position[key] = position
            self._matrix[position] = vector

    def _grow(self, needed: int) -> None:
        if needed <= len(self._keys):
            return
        capacity = max(needed, 2 * len(self._keys), 1024)
        keys = np.empty(capacity, dtype=np.int64)
        matrix = np.empty((capacity, self.dim), dtype=np.float32)
        keys[: self._size] = self._keys[: self._size]
        matrix[: self._size] = self._matrix[: self._size]
        self._keys, self._matrix = keys, matrix

    def _remove_exact(self, key: int) -> None:
        position = self._position.pop(key, None)
        if position is None:
            return
        last = self._size - 1
        if position != last:  # move the last row into the hole
            moved = int(self._keys[last])
            self._keys[position] = moved
            self._matrix[position] = self._matrix[last]
            self._position[moved] = position
        self._size -= 1

    # ----------------------------------------------------------------- HNSW mode
    def _switch_to_hnsw(self) -> None:
        hnsw = _new_hnsw(self.dim)
        hnsw.add(self._keys[: self._size].astype(np.uint64), self._matrix[: self._size], threads=0)
        self._hnsw = hnsw
        self._keys = np.empty(0, dtype=np.int64)
        self._matrix = np.empty((0, self.dim), dtype=np.float32)
        self._position.clear()
        self._size = 0

    def _add_hnsw(self, keys: Keys, vectors: Matrix) -> None:
        ukeys = keys.astype(np.uint64)
        existing = np.asarray(self._hnsw.contains(ukeys), dtype=bool).reshape(-1)
        if existing.any():
            self._hnsw.remove(ukeys[existing])
        self._hnsw.add(ukeys, vectors, threads=0)

    # ----------------------------------------------------------------- persistence
    def save(self) -> None:
        """Write the index atomically (temporary file, then rename); no-op without a path."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with self._lock:
            if self._hnsw is not None:
                self._hnsw.save(str(tmp))
                kind = "hnsw"
            else:
                with tmp.open("wb") as handle:
                    np.save(handle, self._keys[: self._size])
                    np.save(handle, self._matrix[: self._size])
                kind = "exact"
            count = len(self._hnsw) if self._hnsw is not None else self._size
            meta = {"dim": self.dim, "kind": kind, "watermark": self._watermark, "count": count}
        tmp.replace(self.path)
        meta_path = self.path.with_name(self.path.name + ".json")
        meta_tmp = meta_path.with_name(meta_path.name + ".tmp")
        meta_tmp.write_text(json.dumps(meta))
        meta_tmp.replace(meta_path)

    @classmethod
    def load(cls, dim: int, path: Path, *, exact_threshold: int = EXACT_THRESHOLD) -> VectorIndex | None:
        """The index saved at ``path``, or None if it is missing, corrupt or of another dimension."""
        try:
            meta = json.loads(path.with_name(path.name + ".json").read_text())
            if meta["dim"] != dim:
                return None
            index = cls(dim, path=path, exact_threshold=exact_threshold)
            if meta["kind"] == "hnsw":
                hnsw = _new_hnsw(dim)
                hnsw.load(str(path))
                if len(hnsw) != meta["count"]:
                    return None
                index._hnsw = hnsw
            else:
                with path.open("rb") as handle:
                    keys = np.load(handle)
                    matrix = np.load(handle)
                if matrix.shape != (len(keys), dim) or len(keys) != meta["count"]:
                    return None
                index._add_exact(keys.astype(np.int64), matrix.astype(np.float32))
            index._watermark = int(meta["watermark"])
            return index
        except Exception:  # a cache: anything unreadable is rebuilt from the database
            return None
