"""Hybrid score fusion: BM25 and cosine lists combined into one score."""

from __future__ import annotations

import pytest

from memgpt.memory.search import fuse_convex


def test_rounding_noise_between_equal_texts_does_not_split_their_scores() -> None:
    # Three copies of one text: their cosines differ only in the last float bits.
    vector = [("a", 0.83412351), ("b", 0.83412352), ("c", 0.83412350)]
    fused = fuse_convex([], vector)
    assert fused["a"] == fused["b"] == fused["c"]


def test_each_list_is_rescaled_and_weighted() -> None:
    fused = fuse_convex([("a", 12.0), ("b", 2.0)], [("b", 0.9), ("c", 0.5)], text_weight=0.7)
    assert fused == pytest.approx({"a": 0.7, "b": 0.3, "c": 0.0})


def test_tiny_scores_that_really_differ_are_still_told_apart() -> None:
    # SQLite's BM25 gives terms found in most rows scores around 1e-6: small, but not noise.
    fused = fuse_convex([("a", 2.1e-6), ("b", 1.5e-6)], [], text_weight=1.0)
    assert fused == pytest.approx({"a": 1.0, "b": 0.0})
