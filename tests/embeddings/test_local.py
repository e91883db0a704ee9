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
