"""The search pipeline every store shares, over a few ranking primitives each backend provides.

A search ranks the rows of several scopes (a table and the owners whose rows it searches: an agent's
messages, its passages, the passages of its attached sources) as one list. A pool of candidates is ranked
in four steps:

1. candidates: the best full-text matches and the nearest vectors of every scope, merged across tables;
2. fusion (:func:`~memgpt.memory.search.fuse_convex`) in hybrid mode;
3. for recall search, the conversation adjustments (replies carried by matching questions, questions
   ranked below statements, dates named in the query, messages of a strong match's session), then the
   exact-match bonus;
4. highest score first; equal scores to the newest row, then to the larger row id (one order, always).

**One ranking per query, whatever the page.** A larger pool ranks its top differently (fusion normalises
over the pool, the adjustments compare candidates), so pages ranked over pools sized for each page did not
add up (issue 20: 600 messages, 15 pages of 5 showed 7 hits twice and never 7 of the top 75). The ranking
is built in tiers that do not depend on the page asked for: tier 0 ranks a pool of :data:`CANDIDATES_MIN`
candidates per list and fixes positions 0-24; tier *i* ranks a pool of 50·2^i and appends its best rows
not placed yet, up to position 25·2^i − 1; a pool that holds every candidate row ends the ranking, as does
:data:`~memgpt.memory.search.RESULTS_MAX`. Page *n* of size *k* computes the tiers that reach position
(n+1)·k − 1, so every page is a slice of the same list: no row twice, none skipped. Positions 0-24 come
from the same pool of 50 that page 0 always ranked (LoCoMo, which reads the top 25, is unchanged).

Chosen by measurement (``benchmarks/paging.py --size 100000``, ``benchmarks/results/paging.md``: SQLite,
100k messages or passages, pages of 5, p50 page 0 / page 10). One pool per page, as before: recall 5.0 /
8.8 ms, archival 4.5 / 6.2 ms, but over 20 queries 15 pages showed 204 recall hits twice and never 238 of
the top 75 (archival: 4 and 47). Tiers: recall 5.1 / 14.5 ms, archival 3.2 / 9.1 ms, none twice or
missed. One pool of 1,000 for every page (also consistent, up to 500 results): recall 55 / 53 ms,
archival 38 / 37 ms, and page 0 no longer ranked as LoCoMo measured. A cursor carrying the ranking's state
would have to hold the ranking itself, which a stateless server cannot keep between requests.

Within one tier every input is a deterministic function of the store: the full-text lists are fetched
once, as long as the deepest tier needs, and cut to each tier's size (``text_ranking`` orders ties by row,
so the best n of a longer list are the best n); vector lists are fetched per tier with that tier's size
(an approximate index may answer a longer search differently at its top).

Stores supply only what differs between engines (:class:`HybridSearchStore`): how text and vectors are
ranked, how rows are read and counted, which message follows which.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Literal

import numpy as np

from memgpt.embeddings.base import Embedder
from memgpt.errors import ValidationError
from memgpt.memory.protocols import SearchMode, Source
from memgpt.memory.search import (
    RESULTS_MAX,
    SESSION_LOOK_MAX,
    boost_sessions,
    carry_to_replies,
    conversation_score,
    exact_match_bonus,
    explicit_session,
    fuse_convex,
    names_mentioned,
    needs_timeline,
    query_periods,
    query_terms,
    session_labels,
)
from memgpt.memory.types import SearchHit, SearchPage

Table = Literal["messages", "passages", "source_passages"]
TABLES: tuple[Table, ...] = ("messages", "passages", "source_passages")
Key = tuple[Table, int]  # a row of one table: search merges hits of several tables
Scope = tuple[Table, list[str]]  # a table and the owners (agent or source ids) whose rows are searched
OWNER: dict[Table, str] = {"messages": "agent_id", "passages": "agent_id", "source_passages": "source_id"}

CANDIDATES_MIN = 50  # candidates per ranking; LoCoMo recall_all@10 with 100 instead: +0.6, at twice the reads
TIER_FIRST = CANDIDATES_MIN // 2  # positions the first tier fixes: each tier ranks twice as many as it places
EXCLUDED_MAX = 200  # extra candidates fetched to make up for excluded rows
TOTAL_CAP = RESULTS_MAX  # result counts beyond this are reported as this many (pages of a few hits each)
TIMELINE_MAX = 1000  # messages read to find a pause between two candidates (more: taken as one session)

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


def tier_depths(depth: int) -> list[int]:
    """How many positions the ranking holds after each tier, up to the first tier reaching ``depth``."""
    depths = [min(TIER_FIRST, RESULTS_MAX)]
    while depths[-1] < min(depth, RESULTS_MAX):
        depths.append(min(2 * depths[-1], RESULTS_MAX))
    return depths


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
    async def search_messages_by_date(
        self, agent_id: str, start: datetime, end: datetime, *, page: int = 0, page_size: int = 5
    ) -> SearchPage:
        """Messages with ``start <= created_at < end``, oldest first (here: where a session pauses)."""

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

        Ties are ordered by row, so that the first n of a longer list are the best n (paging relies on it).
        When every term is too common to rank (:func:`common_term_cap`): with ``require_match`` the rows
        holding all of them, else nothing (in hybrid search the vectors rank such queries).
        """

    @abstractmethod
    async def text_match_count(
        self, table: Table, owners: Sequence[str], terms: Sequence[str], *, exclude_ids: Collection[str] = ()
    ) -> int:
        """How many of the owners' rows not in ``exclude_ids`` match the terms, counted up to :data:`TOTAL_CAP`."""

    @abstractmethod
    async def searchable_count(self, table: Table, owners: Sequence[str], exclude_ids: Collection[str]) -> int:
        """How many of the owners' searchable rows (messages with search text, published source passages)
        are not in ``exclude_ids``, counted up to :data:`TOTAL_CAP`."""

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
    """Page ``page`` of the one ranking of every scope's rows for ``query`` (see the module docstring).

    Rows whose id is in ``exclude_ids`` are left out; each pool grows by that many (up to
    :data:`EXCLUDED_MAX`) so that pages stay full. ``total`` is the ranking's length, counted up to
    :data:`TOTAL_CAP`: matching rows in text mode, every searchable row in semantic and hybrid mode.
    """
    check_page(page, page_size)
    if not query_terms(query) and not query.strip():
        raise ValidationError("The search query is empty: give some words to search for.")
    if mode == "semantic" and not store.can_embed:
        raise ValidationError("Semantic search is off: no embedding model is configured (see MEMGPT_EMBEDDING).")
    ranking = _Ranking(store, [(table, owners) for table, owners in scopes if owners], query, mode, exclude_ids)
    start = page * page_size
    depth = min(start + page_size, RESULTS_MAX) if start < RESULTS_MAX else 1  # past the end: only count
    placed, ended = await ranking.prefix(depth)
    total = len(placed) if ended else max(await ranking.estimated_total(), min(RESULTS_MAX, len(placed) + 1))
    return SearchPage(hits=placed[start : start + page_size], page=page, page_size=page_size, total=total)


class _Ranking:
    """One query's ranking, built tier by tier; rows, replies and timelines read once per search."""

    def __init__(
        self, store: HybridSearchStore, scopes: list[Scope], query: str, mode: SearchMode, exclude: Collection[str]
    ) -> None:
        self.store = store
        self.scopes = scopes
        self.query = query
        self.mode = mode
        self.terms = query_terms(query)
        self.exclude = set(exclude)
        self.extra = min(len(self.exclude), EXCLUDED_MAX)
        self.vector: np.ndarray | None = None
        self._text: dict[Table, list[tuple[int, float]]] = {}
        self._rows: dict[Key, SearchHit | None] = {}  # None: no longer visible
        self._replies: dict[int, int | None] = {}
        self._timeline = _Timeline()
        self._bonuses: dict[Key, float] = {}

    async def prefix(self, depth: int) -> tuple[list[SearchHit], bool]:
        """The ranking's first positions, at least ``depth`` of them where there are; whether it ended there."""
        if self.mode != "text" and self.store.can_embed:
            self.vector = await self.store.embed_query(self.query)
        depths = tier_depths(depth)
        await self._fetch_text(2 * depths[-1] + self.extra)
        placed: list[SearchHit] = []
        seen: set[str] = set()
        for tier_depth in depths:
            order, complete = await self._rank_pool(2 * tier_depth + self.extra, tier_depth)
            fresh = [(hit, score) for hit, score in order if hit.id not in seen]
            taken = fresh if complete else fresh[: tier_depth - len(placed)]
            placed += [replace(hit, score=score) for hit, score in taken]
            seen.update(hit.id for hit, _ in taken)
            if complete or len(placed) >= RESULTS_MAX:
                return placed[:RESULTS_MAX], True
        return placed, False

    async def estimated_total(self) -> int:
        """The ranking's length when it has not ended yet: matching rows (text mode) or searchable rows."""
        if self.vector is None:
            if not self.terms:
                return 0
            matches = [
                await self.store.text_match_count(table, owners, self.terms, exclude_ids=self._excluded(table))
                for table, owners in self.scopes
            ]
            return min(RESULTS_MAX, sum(matches))
        counts = [
            await self.store.searchable_count(table, owners, self._excluded(table)) for table, owners in self.scopes
        ]
        return min(RESULTS_MAX, sum(counts))

    def _excluded(self, table: Table) -> Collection[str]:
        return self.exclude if table == "messages" else ()

    # ----------------------------------------------------------------- one tier's pool
    async def _fetch_text(self, limit: int) -> None:
        if self.mode == "semantic" or not self.terms:
            return
        for table, owners in self.scopes:
            self._text[table] = await self.store.text_ranking(
                table, owners, self.terms, limit, require_match=self.vector is None
            )

    async def _rank_pool(self, limit: int, depth: int) -> tuple[list[tuple[SearchHit, float]], bool]:
        """A pool of ``limit`` candidates per list, ranked (hits with their scores); whether it holds every
        candidate row. Only its first ``depth`` positions are used, unless it holds every row."""
        text = _best([item for table, ranked in self._text.items() for item in _keyed(table, ranked[:limit])], limit)
        vector: list[tuple[Key, float]] = []
        if self.vector is not None:
            for table, owners in self.scopes:
                vector += _keyed(table, await self.store.vector_ranking(table, owners, self.vector, limit))
            vector = _best(vector, limit)
        complete = len(text) < limit and len(vector) < limit
        if self.mode == "text":
            scored = dict(text)
        elif self.mode == "semantic":
            scored = dict(vector)
        else:
            scored = fuse_convex(text, vector)
        hits = await self._hits(scored)
        if self.mode == "hybrid":
            if any(table == "messages" for table, _ in self.scopes):
                # excluded rows leave the order after the boost: the used positions reach that much deeper
                await self._adjust_for_conversation(hits, scored, None if complete else depth + len(self.exclude))
            for key, hit in hits.items():
                scored[key] += self._bonus(key, hit)
        # only now: an excluded question still carried its score to its reply
        kept = {key: hit for key, hit in hits.items() if hit.id not in self.exclude}
        order = sorted(kept, key=lambda key: (-scored[key], -kept[key].created_at.timestamp(), *_tie(key)))
        return [(kept[key], scored[key]) for key in order], complete

    def _bonus(self, key: Key, hit: SearchHit) -> float:
        """:func:`exact_match_bonus` of a hit (computed once per search)."""
        if key not in self._bonuses:
            self._bonuses[key] = exact_match_bonus(self.query, hit.text)
        return self._bonuses[key]

    async def _hits(self, keys: Collection[Key]) -> dict[Key, SearchHit]:
        """The hits of ``keys`` that still exist in their scope (each row read once per search)."""
        for table, owners in self.scopes:
            row_ids = [row_id for (t, row_id) in keys if t == table and (t, row_id) not in self._rows]
            if row_ids:
                found = await self.store.hit_rows(table, owners, row_ids)
                self._rows.update({(table, row_id): found.get(row_id) for row_id in row_ids})
        return {key: hit for key in keys if (hit := self._rows.get(key)) is not None}

    # ----------------------------------------------------------------- recall: the conversation
    async def _adjust_for_conversation(
        self, hits: dict[Key, SearchHit], scored: dict[Key, float], depth: int | None
    ) -> None:
        """Apply :func:`carry_to_replies`, :func:`conversation_score` and :func:`boost_sessions` to the message
        hits, in place, for a pool whose first ``depth`` positions are used (None: all of them).

        Replies that enter the ranking through a matching question are added to ``hits``.
        """
        questions = [row_id for (table, row_id), hit in hits.items() if table == "messages" and "?" in hit.text]
        unknown = [row_id for row_id in questions if row_id not in self._replies]
        if unknown:
            found = await self.store.next_messages(unknown)
            self._replies.update({row_id: found.get(row_id) for row_id in unknown})
        replies: dict[Key, Key | None] = {
            ("messages", q): ("messages", r) for q in questions if (r := self._replies[q]) is not None
        }
        carried = carry_to_replies({key: scored[key] for key in hits}, lambda key: hits[key].text, replies)
        hits.update(await self._hits([key for key in carried if key not in hits]))
        periods = query_periods(self.query)
        named = names_mentioned(self.query, {hit.name for hit in hits.values()})
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
        sessions = await self._sessions(messages, hits, depth)
        scored.update(boost_sessions(messages, sessions.__getitem__))

    async def _sessions(
        self, scores: dict[Key, float], hits: dict[Key, SearchHit], depth: int | None
    ) -> dict[Key, int]:
        """The session of each message (:func:`~memgpt.memory.search.session_labels`).

        The messages between two candidates are read only where their own gap cannot tell, one range per
        run of such pairs, each range once per search (tiers share what was read), and only in stretches
        of the conversation that can reach the first ``depth`` positions: a candidate of a stretch (pairs
        more than :data:`~memgpt.memory.search.SESSION_LOOK_MAX` apart never share a session) whose
        scores all rank below the first ``depth`` before the boost, and that has no exact-match bonus,
        ends at most at 1.5 times the depth-th score, which every one of the first ``depth`` reaches: so
        how such a stretch splits into sessions cannot change those positions.
        """
        order = sorted(scores, key=lambda key: (hits[key].created_at, key[1]))
        explicit = {key: explicit_session(hits[key].metadata) for key in order}
        decisive = set(scores) if depth is None else set(sorted(scores, key=lambda k: -scores[k])[:depth])
        decisive |= {key for key in order if self._bonus(key, hits[key]) > 0}
        stretch = [order[:1]]
        for a, b in pairwise(order):
            if hits[b].created_at - hits[a].created_at > SESSION_LOOK_MAX:
                stretch.append([])
            stretch[-1].append(b)
        unclear = []
        for keys in stretch:
            if decisive.isdisjoint(keys):
                continue
            for a, b in pairwise(keys):
                if needs_timeline(hits[a].created_at, hits[b].created_at) and (
                    None in (explicit[a], explicit[b]) or explicit[a] == explicit[b]
                ):
                    unclear.append((hits[a].created_at, hits[b].created_at))
        for start, end in _runs(unclear):
            await self._read_timeline(start, end)
        return session_labels(
            order,
            lambda key: hits[key].created_at,
            explicit.__getitem__,
            lambda a, b: self._timeline.between(hits[a].created_at, hits[b].created_at),
        )

    async def _read_timeline(self, start: datetime, end: datetime) -> None:
        """Read the times of the searchable messages from ``start`` to ``end`` not read yet."""
        agent_ids = next(owners for table, owners in self.scopes if table == "messages")
        for gap_start, gap_end in self._timeline.unread(start, end):
            if len(agent_ids) != 1:
                return
            found = await self.store.search_messages_by_date(
                agent_ids[0], gap_start, gap_end + timedelta(microseconds=1), page_size=TIMELINE_MAX
            )
            complete = found.total <= len(found.hits)
            self._timeline.add(gap_start, gap_end, [hit.created_at for hit in found.hits] if complete else None)


class _Timeline:
    """The message times read so far in one search: ranges of time, each with every message in it (or
    unknown: too many to read)."""

    def __init__(self) -> None:
        self._ranges: list[tuple[datetime, datetime, list[datetime] | None]] = []

    def unread(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """The parts of ``[start, end]`` no range covers (ranges include both ends)."""
        parts, cursor = [], start
        for range_start, range_end, _ in sorted(self._ranges, key=lambda r: r[0]):
            if range_end <= cursor or range_start >= end:
                continue
            if range_start > cursor:
                parts.append((cursor, range_start))
            cursor = range_end
        return [*parts, (cursor, end)] if cursor < end else parts

    def add(self, start: datetime, end: datetime, times: list[datetime] | None) -> None:
        self._ranges.append((start, end, times))

    def between(self, start: datetime, end: datetime) -> list[datetime] | None:
        """Every message time from ``start`` to ``end`` if all of it was read, else None."""
        if self.unread(start, end):
            return None
        times: list[datetime] = []
        for range_start, range_end, known in self._ranges:
            if range_end >= start and range_start <= end:
                if known is None:
                    return None
                times += [t for t in known if start <= t <= end]
        return times


def _runs(pairs: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Time-ordered pairs joined where one ends where the next begins."""
    runs: list[tuple[datetime, datetime]] = []
    for start, end in pairs:
        if runs and runs[-1][1] == start:
            runs[-1] = (runs[-1][0], end)
        else:
            runs.append((start, end))
    return runs


def _keyed(table: Table, ranked: list[tuple[int, float]]) -> list[tuple[Key, float]]:
    return [((table, row_id), score) for row_id, score in ranked]


def _tie(key: Key) -> tuple[int, int]:
    """The last tie-breakers of the ranking: table, then the larger (newer) row id first."""
    return TABLES.index(key[0]), -key[1]


def _best(ranked: list[tuple[Key, float]], limit: int) -> list[tuple[Key, float]]:
    return sorted(ranked, key=lambda item: (-item[1], *_tie(item[0])))[:limit]
