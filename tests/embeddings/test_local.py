"""The offline embedding model, for real (skips when its weights are not installed)."""

from __future__ import annotations

import numpy as np

from tests.conftest import local_embedder


async def test_vectors_are_unit_length_and_semantic() -> None:
    model = local_embedder()
    v = await model.embed(["The cat sat on the mat", "A kitten is sitting on a rug", "Stock markets fell sharply"])
    assert v.shape == (3, 384) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > 0.5 > v[0] @ v[2]
    assert (await model.embed([])).shape == (0, 384)


async def test_batching_and_truncation_do_not_change_vectors() -> None:
    model = local_embedder()
    texts = ["short", "a somewhat longer sentence about memory systems", "x " * 2000]
    together = await model.embed(texts)
    alone = np.vstack([await model.embed([t]) for t in texts])
    assert np.allclose(together, alone, atol=1e-5)


async def test_many_batches_embedded_in_parallel_keep_each_text_in_its_place() -> None:
    model = local_embedder()
    words = ["memory", "agent", "archive", "recall", "summary", "persona", "human", "garden", "coffee", "deadline"]
    # Lengths from 1 to 300 words: sorted into several batches (TOKEN_BUDGET) that run on a thread pool.
    texts = [" ".join(words[(i + j) % len(words)] for j in range(1 + (i * 37) % 300)) for i in range(48)]
    together = await model.embed(texts)
    alone = np.vstack([await model.embed([t]) for t in texts[:: len(texts) // 8]])
    assert np.allclose(together[:: len(texts) // 8], alone, atol=1e-5)
    assert len({v.tobytes() for v in together}) == len(texts)
