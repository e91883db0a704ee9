"""Backend-independent pieces of search: query tokenising for full-text engines and rank fusion."""

from __future__ import annotations

import re
from collections.abc import Hashable, Sequence
from typing import TypeVar

K = TypeVar("K", bound=Hashable)

_WORD = re.compile(r"\w+", re.UNICODE)

# Very common English words add matching cost (every row matches) and almost no ranking signal.
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "he",
        "her",
        "hers",
        "him",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "my",
        "of",
        "on",
        "or",
        "our",
        "she",
        "so",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "too",
        "us",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
    ]
)

RRF_K = 60


def query_terms(query: str, *, limit: int = 32) -> list[str]:
    """The distinct searchable words of ``query``, lower-cased, without stop words (kept if only those)."""
    words = [w.lower() for w in _WORD.findall(query)]
    terms = [w for w in words if w not in STOPWORDS] or words
    return list(dict.fromkeys(terms))[:limit]


def fuse_rrf(rankings: Sequence[Sequence[K]], *, weights: Sequence[float] | None = None) -> dict[K, float]:
    """Reciprocal rank fusion: ``sum(w / (RRF_K + rank))`` over the lists in which a key appears."""
    weights = weights or [1.0] * len(rankings)
    scores: dict[K, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, key in enumerate(ranking, start=1):
            scores[key] = scores.get(key, 0.0) + weight / (RRF_K + rank)
    return scores


_IDENTIFIER = re.compile(r"[\w][\w.:/@-]{5,}[\w]", re.UNICODE)


def exact_match_bonus(query: str, text: str) -> float:
    """A bonus that lifts verbatim matches (ids, names, numbers) above any fused semantic score.

    Fused RRF scores stay below ``2 / RRF_K``; a text containing the whole query, or the query's
    identifier-like tokens (long tokens with a digit, such as UUIDs), gets 1.0 (whole query) or up to
    0.5 (share of such tokens), so exact-text lookups such as the nested key-value task find their passage.
    """
    needle = " ".join(query.lower().split())
    haystack = text.lower()
    if len(needle) >= 3 and needle in " ".join(haystack.split()):
        return 1.0
    identifiers = [t for t in _IDENTIFIER.findall(needle) if any(c.isdigit() for c in t)]
    if not identifiers:
        return 0.0
    return 0.5 * sum(t in haystack for t in identifiers) / len(identifiers)
