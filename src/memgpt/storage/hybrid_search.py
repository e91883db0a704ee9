"""The search pipeline every store shares, over a few ranking primitives each backend provides.

A search ranks the rows of several scopes (a table and the owners whose rows it searches: an agent's
messages, its passages, the passages of its attached sources) as one list:

1. candidates: the best full-text matches and the nearest vectors of every scope, merged across tables;
2. fusion (:func:`~memgpt.memory.search.fuse_convex`) in hybrid mode;
3. for recall search, the conversation adjustments (replies carried by matching questions, questions
   ranked below statements, dates named in the query, messages near strong matches in time), then the
   exact-match bonus;
4. the requested page, newest first among equal scores.

Stores supply only what differs between engines (:class:`HybridSearchStore`): how text and vectors are
ranked, how rows are read, which message follows which.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Sequence
from dataclasses import replace
from typing import Literal

import numpy as np

from memgpt.embeddings.base import Embedder
from memgpt.errors import ValidationError
from memgpt.memory.protocols import SearchMode, Source
from memgpt.memory.search import (
    boost_sessions,
    carry_to_replies,
    conversation_score,
    exact_match_bonus,
    fuse_convex,
    names_mentioned,
    query_periods,
    query_terms,
)
from memgpt.memory.types import SearchHit, SearchPage

Table = Literal["messages", "passages", "source_passages"]
TABLES: tuple[Table, ...] = ("messages", "passages", "source_passages")
Key = tuple[Table, int]  # a row of one table: search merges hits of several tables
Scope = tuple[Table, list[str]]  # a table and the owners (agent or source ids) whose rows are searched
OWNER: dict[Table, str] = {"messages": "agent_id", "passages": "agent_id", "source_passages": "source_id"}

CANDIDATES_MIN = 50  # candidates per ranking; LoCoMo recall_all@10 with 100 instead: +0.6, at twice the reads
EXCLUDED_MAX = 200  # extra candidates fetched to make up for excluded rows
TOTAL_CAP = 1000  # result counts beyond this are reported as this many (pages of a few hits each)

# Full-text ranking costs time per matching row, while a term found in a large share of a large table
# carries almost no signal; past COMMON_TERM_MIN_ROWS rows, such terms are left out of the ranking.
COMMON_TERM_MIN_ROWS = 5_000  # below this, ranking every match is cheap (10k rows: text p50 25 -> 5 ms)
COMMON_TERM_SHARE = 0.02
COMMON_TERM_TTL_S = 300.0  # how long a term found common is taken to stay common (counting costs reads)


def common_term_cap(rows: int, max_matches: int) -> int | None:
    """How many matching rows make a term too common to rank in a table of ``rows`` (None: rank all).

    ``max_matches`` is the engine's own bound: the matches it ranks within a few tens of milliseconds.
    """
    if rows < COMMON_TERM_MIN_ROWS:
        return None
    return max(1000, min(int(rows * COMMON_TERM_SHARE), max_matches))


class HybridSearchStore(ABC):
    """A store's recall and archival search (:meth:`search_messages`, :meth:`search_passages`).

    Subclasses set ``embedder`` and provide the ranking primitives; a row id (``int``) is the table's own
    row key.
    """

    async def search_messages(
        self,
        agent_id: str,
        query: str,
        *,
        page: int = 0,
        page_size: int = 5,
        mode: SearchMode = "hybrid",
        exclude_ids: Collection[str] = (),
    ) -> SearchPage:
        """Recall search over one agent's messages (embedding any that still wait for it first)."""
        if mode != "text" and self.can_embed:
            await self._embed_pending("messages", agent_id, 100_000)
        return await search(self, [("messages", [agent_id])], query, page, page_size, mode, exclude_ids)

    async def search_passages(
        self, agent_id: str, query: str, *, page: int = 0, page_size: int = 5, mode: SearchMode = "hybrid"
    ) -> SearchPage:
        """Archival search over the agent's passages and those of its attached sources, as one list."""
        source_ids = [source.id for source in await self.list_agent_sources(agent_id)]
        if mode != "text" and self.can_embed:
            await self._embed_pending("passages", agent_id, 100_000)
            for source_id in source_ids:
                await self._embed_pending("source_passages", source_id, 100_000)
        scopes: list[Scope] = [("passages", [agent_id]), ("source_passages", source_ids)]
        return await search(self, scopes, query, page, page_size, mode)

    @abstractmethod
    async def list_agent_sources(self, agent_id: str) -> list[Source]:
        """The sources attached to an agent."""

    @abstractmethod
    async def _embed_pending(self, table: Table, agent_id: str, limit: int) -> int:
        """Embed up to ``limit`` rows of the owner (agent or source) that have no embedding yet; how many were."""

    embedder: Embedder | None

    @property
    def can_embed(self) -> bool:
        """Whether an embedding model is configured (vector rankings are possible)."""
        return self.embedder is not None

    async def embed_query(self, query: str) -> np.ndarray:
        """The query's embedding."""
        assert self.embedder is not None
        return np.asarray((await self.embedder.embed([query]))[0], dtype=np.float32)

    @abstractmethod
    async def text_ranking(
        self, table: Table, owners: Sequence[str], terms: Sequence[str], limit: int, *, require_match: bool
    ) -> list[tuple[int, float]]:
        """The best ``limit`` full-text matches of the owners' rows, as (row id, higher-is-better score).

        When every term is too common to rank (:func:`common_term_cap`): with ``require_match`` the rows
        holding all of them, else nothing (in hybrid search the vectors rank such queries).
        """

    @abstractmethod
    async def text_match_count(self, table: Table, owners: Sequence[str], terms: Sequence[str]) -> int:
        """How many of the owners' rows match the terms, counted up to :data:`TOTAL_CAP`."""

    @abstractmethod
    async def vector_ranking(
        self, table: Table, owners: Sequence[str], query: np.ndarray, limit: int
    ) -> list[tuple[int, float]]:
        """The owners' ``limit`` rows nearest to ``query``, as (row id, cosine similarity)."""

    @abstractmethod
    async def hit_rows(self, table: Table, owners: Sequence[str], row_ids: Sequence[int]) -> dict[int, SearchHit]:
        """The rows of ``row_ids`` still visible in the owners' scope (deleted or unpublished ones left out)."""

    @abstractmethod
    async def next_messages(self, row_ids: Sequence[int]) -> dict[int, int]:
        """The next searchable message of the same agent after each of ``row_ids`` (where there is one)."""


def check_page(page: int, page_size: int) -> None:
    """Reject a page number or size a search cannot serve."""
    if page < 0:
        raise ValidationError(f"page must be 0 or more, got {page}.")
    if not 1 <= page_size <= 1000:
        raise ValidationError(f"page_size must be between 1 and 1000, got {page_size}.")


async def search(
    store: HybridSearchStore,
    scopes: Sequence[Scope],
    query: str,
    page: int,
    page_size: int,
    mode: SearchMode,
    exclude_ids: Collection[str] = (),
) -> SearchPage:
    """One page of the rows of every scope, ranked as one list for ``query`` (see the module docstring).

    Rows whose id is in ``exclude_ids`` are left out; the candidate lists grow by that many (up to
    :data:`EXCLUDED_MAX`) so that pages stay full.
    """
    check_page(page, page_size)
    terms = query_terms(query)
    if not terms and not query.strip():
        raise ValidationError("The search query is empty: give some words to search for.")
    if mode == "semantic" and not store.can_embed:
        raise ValidationError("Semantic search is off: no embedding model is configured (see MEMGPT_EMBEDDING).")
    scopes = [(table, owners) for table, owners in scopes if owners]
    exclude = set(exclude_ids)
    wanted = max(CANDIDATES_MIN, (page + 1) * page_size * 2) + min(len(exclude), EXCLUDED_MAX)
    query_vector = await store.embed_query(query) if mode != "text" and store.can_embed else None
    text_ranked: list[tuple[Key, float]] = []
    vector_ranked: list[tuple[Key, float]] = []
    for table, owners in scopes:
        if mode != "semantic" and terms:
            ranked = await store.text_ranking(table, owners, terms, wanted, require_match=query_vector is None)
            text_ranked += _keyed(table, ranked)
        if query_vector is not None:
            vector_ranked += _keyed(table, await store.vector_ranking(table, owners, query_vector, wanted))
    text_ranked = _best(text_ranked, wanted)
    vector_ranked = _best(vector_ranked, wanted)
    total: int | None = None
    if mode == "text":
        total = min(TOTAL_CAP, sum([await store.text_match_count(t, o, terms) for t, o in scopes if terms]))
        scored = dict(text_ranked)
    elif mode == "semantic":
        scored = dict(vector_ranked)
    else:
        scored = fuse_convex(text_ranked, vector_ranked)
    hits = await _visible_hits(store, scopes, scored)
    if mode == "hybrid":
        if any(table == "messages" for table, _ in scopes):
            await _adjust_for_conversation(store, scopes, hits, scored, query)
        for key, hit in hits.items():
            scored[key] += exact_match_bonus(query, hit.text)
    if exclude:  # only now: an excluded question still carries its score to its reply
        kept = {key: hit for key, hit in hits.items() if hit.id not in exclude}
        total = None if total is None else max(0, total - (len(hits) - len(kept)))
        hits = kept
    return _page(hits, scored, page, page_size, total)


def _keyed(table: Table, ranked: list[tuple[int, float]]) -> list[tuple[Key, float]]:
    return [((table, row_id), score) for row_id, score in ranked]


def _best(ranked: list[tuple[Key, float]], limit: int) -> list[tuple[Key, float]]:
    return sorted(ranked, key=lambda item: -item[1])[:limit]


async def _visible_hits(
    store: HybridSearchStore, scopes: Sequence[Scope], keys: Collection[Key]
) -> dict[Key, SearchHit]:
    """The hits of ``keys`` that still exist in their scope."""
    hits: dict[Key, SearchHit] = {}
    for table, owners in scopes:
        row_ids = [row_id for (t, row_id) in keys if t == table]
        if row_ids:
            found = await store.hit_rows(table, owners, row_ids)
            hits.update({(table, row_id): hit for row_id, hit in found.items()})
    return hits


async def _adjust_for_conversation(
    store: HybridSearchStore, scopes: Sequence[Scope], hits: dict[Key, SearchHit], scored: dict[Key, float], query: str
) -> None:
    """Apply :func:`carry_to_replies`, :func:`conversation_score` and :func:`boost_sessions` to the message
    hits, in place.

    Replies that enter the ranking through a matching question are added to ``hits``.
    """
    questions = [row_id for (table, row_id), hit in hits.items() if table == "messages" and "?" in hit.text]
    reply_of = await store.next_messages(questions) if questions else {}
    replies: dict[Key, Key | None] = {("messages", q): ("messages", r) for q, r in reply_of.items()}
    carried = carry_to_replies({key: scored[key] for key in hits}, lambda key: hits[key].text, replies)
    message_scopes = [scope for scope in scopes if scope[0] == "messages"]
    hits.update(await _visible_hits(store, message_scopes, [key for key in carried if key not in hits]))
    periods = query_periods(query)
    named = names_mentioned(query, {hit.name for hit in hits.values()})
    for key, hit in hits.items():
        scored[key] = carried[key]
        if key[0] == "messages":
            scored[key] = conversation_score(
                scored[key],
                hit.text,
                hit.created_at,
                periods,
                sender_named=hit.name in named,
                from_user=hit.role == "user",
            )
    messages = {key: scored[key] for key in hits if key[0] == "messages"}
    scored.update(boost_sessions(messages, lambda key: hits[key].created_at))


def _page(
    hits: dict[Key, SearchHit], scored: dict[Key, float], page: int, page_size: int, total: int | None
) -> SearchPage:
    """The requested page; highest score first, ties to the newest row. ``total`` defaults to the hits found."""
    order = sorted(hits, key=lambda key: (-scored[key], -hits[key].created_at.timestamp(), -key[1]))
    start = page * page_size
    return SearchPage(
        hits=[replace(hits[key], score=scored[key]) for key in order[start : start + page_size]],
        page=page,
        page_size=page_size,
        total=len(order) if total is None else max(total, len(order)),
    )
