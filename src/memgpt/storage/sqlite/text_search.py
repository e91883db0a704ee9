"""SQLite full-text search: FTS5 with BM25 over external-content tables kept in sync by triggers."""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence

from memgpt.storage.hybrid_search import COMMON_TERM_TTL_S, TOTAL_CAP, common_term_cap
from memgpt.storage.sql import Op, Query, rows, scalar

# Terms matching more rows are not ranked on large tables: BM25 over 10k matches at 1M rows takes ~35 ms.
BM25_MAX_MATCHES = 10_000
COMMON_TERMS_MAX = 10_000
OWNER = {"messages": "agent_id", "passages": "agent_id", "source_passages": "source_id"}
# Covering indexes over (owner, seq) that restrict full-text matches to an owner's rows.
OWNER_INDEX = {
    "messages": "messages_agent_rowid",
    "passages": "passages_agent_rowid",
    "source_passages": "source_passages_published",
}


def fts_query(terms: Sequence[str]) -> str:
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)


def owned_matches(table: str, owners: Sequence[str]) -> tuple[str, list[str]]:
    """SQL keeping the full-text matches ``f`` of the owners' rows (published rows, for a source).

    The check reads a covering index, never the rows: joining the table read every match's row, each
    with its embedding (1M passages, cold cache: p95 365 ms joined, 69 ms through the index).
    """
    marks = ",".join("?" * len(owners))
    published = " AND t.committed = 1" if table == "source_passages" else ""
    return (
        f"EXISTS (SELECT 1 FROM {table} t INDEXED BY {OWNER_INDEX[table]}"
        f" WHERE t.{OWNER[table]} IN ({marks}){published} AND t.seq = f.rowid)",
        list(owners),
    )


class FullTextSearch:
    """The text ranking primitives of :class:`memgpt.storage.hybrid_search.HybridSearchStore`, as operations."""

    def __init__(self) -> None:
        self._common_terms: dict[tuple[str, str], float] = {}  # (table, term) -> when it was found common

    def ranking(
        self, table: str, owners: Sequence[str], terms: Sequence[str], limit: int, require_match: bool
    ) -> Op[list[tuple[int, float]]]:
        """The best BM25 matches of the owners' rows as (seq, higher-is-better score)."""
        plan = (yield from self._plan(table, terms, require_match)) if terms else None
        if plan is None:
            return []
        fts = f"{table}_fts"
        match, rank = plan
        score, order = (f"-bm25({fts})", f"bm25({fts}), f.rowid DESC") if rank else ("0.0", "f.rowid DESC")
        owned, params = owned_matches(table, owners)
        found = yield from rows(
            f"SELECT f.rowid, {score} FROM {fts} f WHERE {fts} MATCH ? AND {owned} ORDER BY {order} LIMIT ?",
            match,
            *params,
            limit,
        )
        return [(int(r[0]), float(r[1])) for r in found]

    def match_count(
        self, table: str, owners: Sequence[str], terms: Sequence[str], exclude_ids: Collection[str] = ()
    ) -> Op[int]:
        """Matches of the owners' rows for the planned query (``exclude_ids`` left out), counted up to TOTAL_CAP."""
        if not terms:
            return 0
        plan = yield from self._plan(table, terms, require_match=True)
        assert plan is not None
        fts = f"{table}_fts"
        owned, params = owned_matches(table, owners)
        if exclude_ids:
            marks = ",".join("?" * len(exclude_ids))
            owned += f" AND f.rowid NOT IN (SELECT seq FROM {table} WHERE id IN ({marks}))"
            params += list(exclude_ids)
        found = yield from scalar(
            f"SELECT count(*) FROM (SELECT 1 FROM {fts} f WHERE {fts} MATCH ? AND {owned} LIMIT ?)",
            plan[0],
            *params,
            TOTAL_CAP,
        )
        return int(found)

    def _plan(self, table: str, terms: Sequence[str], require_match: bool) -> Op[tuple[str, bool] | None]:
        """The FTS query to run and whether BM25 ranking is worth its cost (None: nothing worth running).

        BM25 costs time per matching row (about 1 s for a term in 150k rows). Terms too common to be
        worth it (:func:`.hybrid_search.common_term_cap`) are dropped. If every term is common, nothing
        is run unless ``require_match``: then the rows holding all of them are used (intersecting such
        terms reads most of the index: 150-200 ms at 1M rows), unranked if even those are too many.
        """
        size = yield from scalar(f"SELECT coalesce(max(seq), 0) FROM {table}")
        cap = common_term_cap(int(size), BM25_MAX_MATCHES)
        if cap is None:
            return fts_query(terms), True
        selective = []
        for term in terms:
            if not (yield from self._is_common(table, term, cap)):
                selective.append(term)
        if selective:
            return fts_query(selective), True
        if not require_match:
            return None
        all_terms = " AND ".join(fts_query([t]) for t in terms)
        return all_terms, (yield from _match_count(table, all_terms, cap)) < cap

    def _is_common(self, table: str, term: str, cap: int) -> Op[bool]:
        """Whether ``term`` matches ``cap`` rows or more; a common term is remembered for a while, because
        counting one reads ``cap`` index entries (30-50 ms per query at 1M rows) and it stays common."""
        now = time.monotonic()
        found_at = self._common_terms.get((table, term))
        if found_at is not None and now - found_at < COMMON_TERM_TTL_S:
            return True
        if (yield from _match_count(table, fts_query([term]), cap)) < cap:
            return False
        if len(self._common_terms) > COMMON_TERMS_MAX:
            self._common_terms.clear()
        self._common_terms[(table, term)] = now
        return True


def _match_count(table: str, match: str, cap: int) -> Op[int]:
    """How many rows match, counting no further than ``cap`` (so it stays cheap)."""
    fts = f"{table}_fts"
    result = yield Query(f"SELECT count(*) FROM (SELECT 1 FROM {fts} WHERE {fts} MATCH ? LIMIT ?)", (match, cap))
    return int(result.scalar())
