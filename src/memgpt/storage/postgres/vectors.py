"""PostgreSQL vector search: a ``vector`` column plus an HNSW index (cosine) per model dimension.

The column has no fixed dimension so that the index, an expression index over the column cast to the
configured model's dimension, can be rebuilt for another model. Owners (agents, sources) with few rows
are searched exactly; large ones through the index, which every owner shares and which is filtered after
the scan, so a scan that yields too few of the owners' rows is widened once, then replaced by an exact search.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from memgpt.storage.operations import begin_write
from memgpt.storage.postgres.connection import EF_SEARCH_MIN, Conn
from memgpt.storage.postgres.migrations import MIGRATION_LOCK_KEY
from memgpt.storage.postgres.text_search import scope_filter
from memgpt.storage.schema import EMBEDDED_TABLES
from memgpt.storage.sql import Op, Vector, rows, run, scalar

EXACT_TABLE_MAX = 10_000  # tables this small are searched exactly
EXACT_OWNER_MAX = 2_000  # so are the rows of owners (agents, sources) this small, whatever the table's size
EF_SEARCH_MAX = 1000  # pgvector's limit: owners with a smaller share of the table are searched exactly


def vector_ranking(
    table: str, owners: Sequence[str], query: np.ndarray, limit: int, dim: int
) -> Op[list[tuple[int, float]]]:
    """The nearest ``limit`` rows as (seq, cosine similarity): exact for few rows, else through HNSW."""
    where, scope = scope_filter(table, owners)
    large = yield from scalar(
        f"SELECT coalesce(max(seq), 0) > ? AND (SELECT count(*) FROM (SELECT 1 FROM {table}"
        f" WHERE {where} LIMIT ?) t) > ? FROM {table}",
        EXACT_TABLE_MAX,
        *scope,
        EXACT_OWNER_MAX + 1,
        EXACT_OWNER_MAX,
    )
    if large:
        for ef_search in (EF_SEARCH_MIN, EF_SEARCH_MAX):
            found = yield from ann_search(table, owners, query, limit, ef_search, dim)
            if len(found) >= limit:
                return found
    return (yield from exact_search(table, owners, query, limit))


def exact_search(table: str, owners: Sequence[str], query: np.ndarray, limit: int) -> Op[list[tuple[int, float]]]:
    """The nearest rows by exact search over the owners' stored vectors."""
    where, scope = scope_filter(table, owners)
    # MATERIALIZED keeps the planner from walking the whole table's HNSW index for a few owners' rows.
    found = yield from rows(
        f"WITH c AS MATERIALIZED (SELECT seq, embedding FROM {table} WHERE {where} AND embedding IS NOT NULL)"
        " SELECT seq, 1 - (embedding <=> ?::vector) AS sim FROM c ORDER BY sim DESC, seq DESC LIMIT ?",
        *scope,
        Vector(query),
        limit,
    )
    return [(int(r[0]), float(r[1])) for r in found]


def ann_search(
    table: str, owners: Sequence[str], query: np.ndarray, limit: int, ef_search: int, dim: int
) -> Op[list[tuple[int, float]]]:
    """The nearest rows through the HNSW index scanning ``ef_search`` candidates (filtered to the owners after)."""
    where, scope = scope_filter(table, owners)
    vector = Vector(query)
    distance = f"(embedding::vector({dim}) <=> ?::vector({dim}))"
    sql = f"SELECT seq, 1 - {distance} FROM {table} WHERE {where} AND embedding IS NOT NULL ORDER BY {distance} LIMIT ?"
    if ef_search != EF_SEARCH_MIN:  # every pooled connection starts at EF_SEARCH_MIN: one round trip when it is
        yield from begin_write()  # a transaction, so the wider scan is set for it alone and ends with it
        yield from run("SELECT set_config('hnsw.ef_search', ?, true)", str(ef_search))
    found = yield from rows(sql, vector, *scope, vector, limit)
    return [(int(r[0]), float(r[1])) for r in found]


def index_name(table: str, dim: int) -> str:
    return f"{table}_embedding_hnsw_{dim:d}"


async def ensure_vector_indexes(conn: Conn, dim: int, *, build_workers: int = 0, build_memory: str = "1GB") -> None:
    """Create the HNSW indexes for ``dim``-dimensional embeddings if they do not exist yet.

    Creating them after a bulk load is much faster than inserting into them row by row; ``build_workers``
    parallel workers and ``build_memory`` of maintenance memory speed up building over existing rows.
    """
    for table in EMBEDDED_TABLES:
        name = index_name(table, dim)
        exists = await (await conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,))).fetchone()
        if exists and exists[0]:
            continue
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
            if build_workers:
                await conn.execute(f"SET LOCAL max_parallel_maintenance_workers = {build_workers:d}")
                await conn.execute("SELECT set_config('maintenance_work_mem', %s, true)", (build_memory,))
            await conn.execute(
                f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING hnsw ((embedding::vector({dim:d}))"
                " vector_cosine_ops)"
            )


async def drop_vector_indexes(conn: Conn) -> None:
    """Drop every HNSW index (before embeddings of another model replace the current ones)."""
    found = await (
        await conn.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
            " AND indexname ~ '^(messages|passages|source_passages)_embedding_hnsw_[0-9]+$'"
        )
    ).fetchall()
    for (name,) in found:
        await conn.execute(f'DROP INDEX IF EXISTS "{name}"')
