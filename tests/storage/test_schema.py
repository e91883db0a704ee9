"""Both engines' catalogues, after every migration, match the one schema of :mod:`memgpt.storage.schema`.

A column, type, nullability, default, key, foreign key, check or index that one engine has and the
definition lacks (or the other way round) fails here: the engines cannot drift apart again.
"""

from __future__ import annotations

import re
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg
import pytest

from memgpt.storage import open_store
from memgpt.storage.schema import TABLES, Table

SQLITE_TYPES = {"text": "TEXT", "json": "TEXT", "int": "INTEGER", "bool": "INTEGER", "seq": "INTEGER"}
SQLITE_TYPES |= {"time": "REAL", "vector": "BLOB"}
POSTGRES_TYPES = {"text": {"text"}, "json": {"jsonb"}, "int": {"integer", "bigint"}, "bool": {"boolean"}}
POSTGRES_TYPES |= {"seq": {"bigint"}, "time": {"timestamp with time zone"}, "vector": {"USER-DEFINED"}}
SQLITE_ONLY_TABLES = {"embed_counter"}  # the counter SQLite's embed_seq is numbered from


def expected_columns(table: Table) -> dict[str, tuple[str, bool, str | None]]:
    return {c.name: (c.type, c.nullable, _default(c.default)) for c in table.columns}


def _default(value: str | None) -> str | None:
    """Defaults as both engines spell them: '' and 0 and false."""
    if value is None:
        return None
    value = re.sub(r"::[a-z ]+$", "", value.strip())
    return {"false": "0", "true": "1"}.get(value, value)


def expected_indexes(table: Table, engine: str) -> Counter[tuple[tuple[str, ...], bool]]:
    extra = table.sqlite_indexes if engine == "sqlite" else ()
    return Counter((i.columns, i.partial) for i in (*table.indexes, *extra))


# ------------------------------------------------------------------ SQLite
def sqlite_catalogue(path: Path) -> dict[str, dict[str, Any]]:
    conn = sqlite3.connect(path)
    try:
        names = [
            r[0]
            for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if not r[0].startswith("sqlite_") and "_fts" not in r[0]
        ]
        found = {}
        for name in names:
            columns = {
                r[1]: (r[2], not r[3] and not r[5], _default(r[4]), r[5])
                for r in conn.execute(f"PRAGMA table_info({name})")
            }
            uniques, indexes = set(), Counter()
            for _, index, unique, origin, partial in conn.execute(f"PRAGMA index_list({name})"):
                cols = tuple(r[2] for r in conn.execute(f"PRAGMA index_info({index})"))
                if origin in ("u", "pk") or unique:
                    uniques.add(cols)
                else:
                    indexes[(cols, bool(partial))] += 1
            fks = {(r[3], r[2], r[4], r[6]) for r in conn.execute(f"PRAGMA foreign_key_list({name})")}
            sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (name,)).fetchone()[0]
            found[name] = {"columns": columns, "uniques": uniques, "indexes": indexes, "fks": fks, "sql": sql}
        return found
    finally:
        conn.close()


async def test_sqlite_matches_the_schema(tmp_path: Path) -> None:
    store = await open_store(f"sqlite:///{tmp_path / 'schema.db'}", embedder=None)
    await store.close()
    found = sqlite_catalogue(tmp_path / "schema.db")
    assert set(found) == set(TABLES) | SQLITE_ONLY_TABLES
    for name, table in TABLES.items():
        columns = found[name]["columns"]
        assert set(columns) == set(table.column_names) | set(table.sqlite_only), name
        for column, (kind, nullable, default) in expected_columns(table).items():
            declared, is_nullable, stored_default, pk = columns[column]
            assert declared == SQLITE_TYPES[kind], (name, column)
            # SQLite lets a TEXT PRIMARY KEY hold NULL (a legacy quirk); every write refuses a missing key.
            assert is_nullable == nullable or (pk and not nullable), (name, column)
            assert stored_default == default, (name, column)
        keys = {table.primary_key, *table.unique}
        implicit = {("seq",)} if table.bulk else set()  # INTEGER PRIMARY KEY is the rowid: no index of its own
        assert found[name]["uniques"] | implicit == keys, name
        sqlite_only = set(table.sqlite_only)
        indexes = Counter(
            {k: n for k, n in found[name]["indexes"].items() if not sqlite_only & set(k[0]) and k[0] != ("seq",)}
        )
        assert indexes == expected_indexes(table, "sqlite"), name
        assert found[name]["fks"] == {(fk.column, fk.table, "id", "CASCADE") for fk in table.foreign_keys}, name
        for column, values in table.checks.items():
            allowed = ", ".join(f"'{v}'" for v in values)
            assert f"CHECK ({column} IN ({allowed}))" in found[name]["sql"], (name, column)


# ------------------------------------------------------------------ PostgreSQL
def postgres_catalogue(url: str) -> dict[str, dict[str, Any]]:
    with psycopg.connect(url) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
                " AND table_type = 'BASE TABLE' AND table_name <> 'memgpt_migrations'"
            )
        ]
        found: dict[str, dict[str, Any]] = {}
        for name in tables:
            columns = {
                r[0]: (r[1], r[2] == "YES", _default(r[3]), r[4] == "YES")
                for r in conn.execute(
                    "SELECT column_name, data_type, is_nullable, column_default, is_identity FROM"
                    " information_schema.columns WHERE table_schema = current_schema() AND table_name = %s",
                    (name,),
                )
            }
            constraints = conn.execute(
                "SELECT c.contype, ARRAY(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(n, i)"
                " JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.i),"
                " c.confrelid::regclass::text, c.confdeltype, pg_get_constraintdef(c.oid)"
                " FROM pg_constraint c WHERE c.conrelid = %s::regclass",
                (name,),
            ).fetchall()
            indexes: Counter[tuple[tuple[str, ...], bool]] = Counter()
            for cols, partial in conn.execute(
                "SELECT ARRAY(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY k(n, o)"
                " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n ORDER BY k.o),"
                " i.indpred IS NOT NULL FROM pg_index i WHERE i.indrelid = %s::regclass AND NOT i.indisunique"
                " AND 0 <> ALL(i.indkey::int2[])",  # expression indexes (HNSW over a cast) are engine-only
                (name,),
            ):
                indexes[(tuple(cols), bool(partial))] += 1
            found[name] = {"columns": columns, "constraints": constraints, "indexes": indexes}
        return found


@pytest.mark.postgres
async def test_postgres_matches_the_schema(postgres_url: str) -> None:
    store = await open_store(postgres_url, embedder=None)
    await store.close()
    found = postgres_catalogue(postgres_url)
    assert set(found) == set(TABLES)
    for name, table in TABLES.items():
        columns = found[name]["columns"]
        assert set(columns) == set(table.column_names) | set(table.postgres_only), name
        for column, (kind, nullable, default) in expected_columns(table).items():
            declared, is_nullable, stored_default, identity = columns[column]
            assert declared in POSTGRES_TYPES[kind], (name, column, declared)
            assert is_nullable == nullable, (name, column)
            assert identity == (kind == "seq"), (name, column)
            assert stored_default == default, (name, column)
        constraints = found[name]["constraints"]
        keys = {tuple(cols) for kind, cols, *_ in constraints if kind in ("p", "u")}
        postgres_only = set(table.postgres_only)
        assert {k for k in keys if not postgres_only & set(k)} == {table.primary_key, *table.unique}, name
        fks = {(cols[0], target, action) for kind, cols, target, action, _ in constraints if kind == "f"}
        assert fks == {(fk.column, fk.table, "c") for fk in table.foreign_keys}, name
        checks = [definition for kind, *_, definition in constraints if kind == "c"]
        for column, values in table.checks.items():
            assert any(column in d and all(f"'{v}'" in d for v in values) for d in checks), (name, column)
        indexes = Counter({k: n for k, n in found[name]["indexes"].items() if not postgres_only & set(k[0])})
        assert indexes == expected_indexes(table, "postgres"), name
