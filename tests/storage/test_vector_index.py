from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from memgpt.storage.sqlite import vector_index
from memgpt.storage.sqlite.vector_index import VectorIndex


def unit(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    """Unit vectors with a low intrinsic dimension, as text embeddings have."""
    basis = np.random.default_rng(99).normal(size=(12, dim))
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=(n, 12)) @ basis + rng.normal(scale=0.05, size=(n, dim))).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def exact_top(x: np.ndarray, q: np.ndarray, k: int) -> list[int]:
    return np.argsort(-(x @ q))[:k].tolist()


def test_exact_mode_is_exact_and_supports_replace_and_remove() -> None:
    x = unit(500)
    index = VectorIndex(32)
    index.add(np.arange(500), x)
    q = x[7]
    assert [k for k, _ in index.search(q, 5)] == exact_top(x, q, 5)
    index.remove([7])
    assert 7 not in [k for k, _ in index.search(q, 10)]
    index.add(np.array([3]), q[None, :])  # re-adding a key replaces its vector
    assert index.search(q, 1)[0][0] == 3
    assert len(index) == 499 and index.watermark == 499


def test_hnsw_mode_recall_and_persistence(tmp_path: Path) -> None:
    x = unit(5000, dim=128, seed=1)
    index = VectorIndex(128, path=tmp_path / "i.usearch", exact_threshold=500)
    for start in range(0, 5000, 1000):
        index.add(np.arange(start, start + 1000), x[start : start + 1000])
    assert index.approximate
    queries = unit(50, dim=128, seed=2)
    found = sum(len(set(exact_top(x, q, 10)) & {k for k, _ in index.search(q, 10)}) for q in queries)
    assert found / 500 >= 0.95
    index.remove([int(exact_top(x, queries[0], 1)[0])])
    index.save()
    loaded = VectorIndex.load(128, tmp_path / "i.usearch", exact_threshold=500)
    assert loaded is not None and loaded.approximate and len(loaded) == 4999
    assert loaded.search(queries[1], 3) == index.search(queries[1], 3)
    assert VectorIndex.load(64, tmp_path / "i.usearch") is None  # another dimension: rebuild
    (tmp_path / "i.usearch").write_bytes(b"garbage")
    assert VectorIndex.load(128, tmp_path / "i.usearch") is None


def test_hnsw_search_expansion_grows_with_the_index(monkeypatch: pytest.MonkeyPatch) -> None:
    x = unit(6000, dim=64, seed=3)
    queries = unit(40, dim=64, seed=4)
    index = VectorIndex(64, exact_threshold=100)
    index.add(np.arange(6000), x)

    def recall() -> float:
        found = sum(len(set(exact_top(x, q, 10)) & {k for k, _ in index.search(q, 10)}) for q in queries)
        return found / (10 * len(queries))

    monkeypatch.setattr(vector_index, "EXPANSION_SEARCH", 10)
    monkeypatch.setattr(vector_index, "EXPANSION_BASE_SIZE", 6000)  # no growth: ef = 10
    assert index.expansion_search == 10
    narrow = recall()
    monkeypatch.setattr(vector_index, "EXPANSION_BASE_SIZE", 60)  # 100x the base size: ef = 10 * 100**0.5
    assert index.expansion_search == 100
    assert recall() > narrow and recall() >= 0.95


def test_hnsw_returns_k_distinct_results_best_first_for_a_large_k(monkeypatch: pytest.MonkeyPatch) -> None:
    x = unit(3000, dim=32, seed=5)
    index = VectorIndex(32, exact_threshold=100)
    index.add(np.arange(3000), x)
    monkeypatch.setattr(vector_index, "EXPANSION_SEARCH", 16)
    hits = index.search(x[0], 200)
    assert len(hits) == 200 and len({k for k, _ in hits}) == 200
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
