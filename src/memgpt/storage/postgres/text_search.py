"""PostgreSQL full-text search: a stored ``tsvector`` (English stemming), a GIN index, ``ts_rank_cd`` ranking."""

from __future__ import annotations

import math
import time
from collections.abc import Collection, Sequence
from typing import Any

from memgpt.storage.hybrid_search import COMMON_TERM_TTL_S, TOTAL_CAP, common_term_cap
from memgpt.storage.sql import Op, one, rows, scalar

TS_RANK_MAX_MATCHES = 5_000  # ts_rank_cd reads each match's tsvector: terms matching more are not ranked
TEXT_CONFIG = "english"
OWNER = {"messages": "agent_id", "passages": "agent_id", "source_passages": "source_id"}


def scope_filter(table: str, owners: Sequence[str]) -> tuple[str, list[Any]]:
    """SQL restricting rows to the owners' (and to published rows of a source)."""
    sql = f"{OWNER[table]} = ANY(?)"
    if table == "source_passages":
        sql += " AND committed"
    elif table == "messages":
        sql += " AND search_text <> ''"  # the GIN index over messages is partial: repeat its predicate
    return sql, [list(owners)]


def tsquery(terms: Sequence[str], op: str = "||") -> tuple[str, list[str]]:
    """SQL for a tsquery matching any (``||``) or all (``&&``) of ``terms``, and its parameters."""
    sql = f" {op} ".join(f"plainto_tsquery('{TEXT_CONFIG}', ?)" for _ in terms)
    return f"({sql})", list(terms)


class FullTextSearch:
    """The text ranking primitives of :class:`memgpt.storage.hybrid_search.HybridSearchStore`, as operations."""

    def __init__(self, max_matches: int = TS_RANK_MAX_MATCHES) -> None:
        self.max_matches = max_matches  # terms matching more rows of a large table are not ranked
        self._term_stats: dict[str, tuple[float, dict[str, float]]] = {}

    def ranking(
        self, table: str, owners: Sequence[str], terms: Sequence[str], limit: int, require_match: bool
    ) -> Op[list[tuple[int, float]]]:
        """The best ``ts_rank_cd`` matches as (seq, score)."""
        plan = yield from self._plan(table, terms, require_match)
        if plan is None:
            return []
        (sql, params), rank = plan
        where, scope = scope_filter(table, owners)
        score, order = ("ts_rank_cd(tsv, q)", "2 DESC, created_at DESC, seq DESC") if rank else ("0.0", "seq DESC")
        found = yield from rows(
            f"SELECT seq, {score} FROM {table}, (SELECT {sql}) AS qq(q) WHERE tsv @@ q AND {where}"
            f" ORDER BY {order} LIMIT ?",
            *params,
            *scope,
            limit,
        )
        return [(int(r[0]), float(r[1])) for r in found]

    def match_count(
        self, table: str, owners: Sequence[str], terms: Sequence[str], exclude_ids: Collection[str] = ()
    ) -> Op[int]:
        """Matches of the planned full-text query (``exclude_ids`` left out), up to TOTAL_CAP."""
        plan = yield from self._plan(table, terms, require_match=True)
        assert plan is not None
        (sql, params), _ = plan
        where, scope = scope_filter(table, owners)
        if exclude_ids:
            where, scope = f"{where} AND NOT (id = ANY(?))", [*scope, list(exclude_ids)]
        found = yield from scalar(
            f"SELECT count(*) FROM (SELECT 1 FROM {table}, (SELECT {sql}) AS qq(q) WHERE tsv @@ q AND {where}"
            " LIMIT ?) t",
            *params,
            *scope,
            TOTAL_CAP,
        )
        return int(found or 0)

    def _plan(
        self, table: str, terms: Sequence[str], require_match: bool
    ) -> Op[tuple[tuple[str, list[str]], bool] | None]:
        """The tsquery to run and whether ranking is worth its cost; None: nothing worth running.

        Ranking reads every matching row's tsvector, while a term found in a large share of a large table
        carries almost no signal. So on large tables common terms are dropped; if every term is common,
        nothing is run unless ``require_match``: then rows holding all of them are used, and if even those
        are too many, the newest matches come unranked (as in the SQLite store).
        """
        size = int((yield from scalar(f"SELECT coalesce(max(seq), 0) FROM {table}")) or 0)
        cap = common_term_cap(size, self.max_matches)
        if cap is None:
            return tsquery(terms), True
        frequencies = yield from self._term_frequencies(table, terms)
        shares = {t: f for t, f in frequencies.items() if f is not None}
        if not shares:
            return tsquery(terms), True  # only stop words: nothing can match
        selective = [t for t, share in shares.items() if share * size < cap]
        if selective:
            return tsquery(selective), True
        if not require_match:
            return None
        both = math.prod(shares.values()) * size  # independent terms: the rows holding all of them
        return tsquery(list(shares), "&&"), both < cap

    def _term_frequencies(self, table: str, terms: Sequence[str]) -> Op[dict[str, float | None]]:
        """Each term's share of the table's rows, from the statistics ANALYZE keeps (None: a stop word).

        A term missing from the most common elements is rarer than all of them and counts as 0. Reading
        statistics costs one query where counting matches would read thousands of rows per common term.
        """
        now = time.monotonic()
        cached = self._term_stats.get(table)
        if cached is None or now - cached[0] > COMMON_TERM_TTL_S:
            row = yield from one(
                "SELECT most_common_elems::text::text[], most_common_elem_freqs FROM pg_stats"
                " WHERE schemaname = current_schema() AND tablename = ? AND attname = 'tsv'",
                table,
            )
            common = dict(zip(row[0], row[1], strict=False)) if row and row[0] else {}
            cached = self._term_stats[table] = (now, common)
        found = yield from rows(
            f"SELECT t, ARRAY(SELECT lexeme FROM unnest(to_tsvector('{TEXT_CONFIG}', t))) FROM unnest(?::text[]) t",
            list(terms),
        )
        return {
            term: min((cached[1].get(lexeme, 0.0) for lexeme in lexemes), default=0.0) if lexemes else None
            for term, lexemes in found
        }
