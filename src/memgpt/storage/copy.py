"""``memgpt db copy``: move every agent and source with its memory between stores (SQLite <-> PostgreSQL).

Agents (with blocks, FIFO, summary and settings), their messages and passages, document sources with
their files, passages and attachments, and every embedding are copied in insertion order, in batches
that each commit on their own. A marker in the destination's ``meta`` table names the source while a
copy runs: running the same copy again resumes where it stopped (each agent and source continues after
the rows the destination already holds). At the end the row and embedding counts are compared and the
marker is removed.
"""

from __future__ import annotations

import asyncio
import functools
import json
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from memgpt.config import sqlite_path
from memgpt.errors import EmbeddingMismatchError, StorageError, ValidationError

MARKER = "copy_in_progress"
Row = dict[str, Any]
Progress = Callable[[int], None]


@dataclass(frozen=True)
class Spec:
    """One table as both backends store it. Column names are PostgreSQL's; SQLite's differ by ``_json``."""

    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...] = ("id",)
    owner: str | None = None  # bulk tables are copied per owner (agent or source) in batches
    json: frozenset[str] = frozenset()
    times: frozenset[str] = frozenset({"created_at"})
    bools: frozenset[str] = frozenset()

    @property
    def embedded(self) -> bool:
        return "embedding" in self.columns


AGENTS = Spec(
    "agents",
    (
        "id",
        "user_id",
        "name",
        "model",
        "context_window",
        "system_prompt_version",
        "blocks",
        "fifo_ids",
        "summary",
        "summary_updated_at",
        "pressure_warned",
        "last_memory_edit",
        "settings",
        "created_at",
        "updated_at",
    ),
    json=frozenset({"blocks", "fifo_ids", "settings"}),
    times=frozenset({"summary_updated_at", "last_memory_edit", "created_at", "updated_at"}),
    bools=frozenset({"pressure_warned"}),
)
SOURCES = Spec(
    "sources", ("id", "user_id", "name", "description", "metadata", "created_at"), json=frozenset({"metadata"})
)
SOURCE_FILES = Spec(
    "source_files",
    ("id", "source_id", "path", "content_hash", "size", "passage_count", "state", "metadata", "updated_at"),
    json=frozenset({"metadata"}),
    times=frozenset({"updated_at"}),
)
AGENT_SOURCES = Spec(
    "agent_sources",
    ("agent_id", "source_id", "attached_at"),
    key=("agent_id", "source_id"),
    times=frozenset({"attached_at"}),
)
MESSAGES = Spec(
    "messages",
    (
        "id",
        "agent_id",
        "role",
        "content",
        "tool_calls",
        "tool_call_id",
        "name",
        "metadata",
        "search_text",
        "created_at",
        "embedding",
    ),
    owner="agent_id",
    json=frozenset({"tool_calls", "metadata"}),
)
PASSAGES = Spec(
    "passages",
    ("id", "agent_id", "text", "metadata", "created_at", "embedding"),
    owner="agent_id",
    json=frozenset({"metadata"}),
)
SOURCE_PASSAGES = Spec(
    "source_passages",
    ("id", "source_id", "file_id", "chunk_index", "committed", "text", "metadata", "created_at", "embedding"),
    owner="source_id",
    json=frozenset({"metadata"}),
    bools=frozenset({"committed"}),
)
BULK = (MESSAGES, PASSAGES, SOURCE_PASSAGES)
_SQLITE_NAMES = {"blocks": "blocks_json", "fifo_ids": "fifo_json", "settings": "settings_json"}


def _sqlite_column(spec: Spec, column: str) -> str:
    if column in _SQLITE_NAMES:
        return _SQLITE_NAMES[column]
    return f"{column}_json" if column in spec.json else column


@dataclass
class CopyReport:
    """What a copy did; ``resumed`` counts agents and sources continued from an interrupted run."""

    agents: int = 0
    sources: int = 0
    messages: int = 0
    passages: int = 0
    source_passages: int = 0
    replaced: list[str] = field(default_factory=list)
    resumed: int = 0
    seconds: float = 0.0
    index_seconds: float = 0.0  # building the destination's vector indexes after the rows (part of ``seconds``)

    @property
    def rows_per_second(self) -> float:
        rows = self.messages + self.passages + self.source_passages
        return rows / self.seconds if self.seconds else 0.0


class Endpoint(Protocol):
    """One side of a copy, spoken to in backend-neutral rows (dicts of Python values)."""

    name: str

    async def meta(self) -> dict[str, str]: ...
    async def set_meta(self, key: str, value: str | None) -> None: ...
    async def has_vectors(self) -> bool: ...
    async def all_rows(self, spec: Spec) -> list[Row]: ...
    async def upsert(self, spec: Spec, rows: Sequence[Row]) -> None: ...
    async def delete(self, spec: Spec, row_id: str) -> None: ...
    async def count(self, spec: Spec, owner: str, *, embedded: bool = False) -> int: ...
    async def seq_at(self, spec: Spec, owner: str, offset: int) -> int: ...
    async def read(self, spec: Spec, owner: str, after: int, limit: int) -> list[tuple[int, Row]]: ...
    async def write(self, spec: Spec, rows: Sequence[Row]) -> None: ...
    async def finish(self, dim: int | None) -> None: ...
    async def close(self) -> None: ...


# --------------------------------------------------------------------------- SQLite
def _ts(value: datetime | None) -> float | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def _dt(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


class SqliteEndpoint:
    """A SQLite store, read and written with plain SQL on one connection (in a worker thread)."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.name = str(path)
        self.path = path
        self.conn = conn

    @classmethod
    async def open(cls, url: str, *, create: bool) -> SqliteEndpoint:
        from memgpt.storage.sqlite import SqliteStore

        path = sqlite_path(url)
        if not create and not path.exists():
            raise ValidationError(f"The source database {path} does not exist.")
        store = await SqliteStore.open(path)  # creates or migrates the schema; refuses a newer one
        await store.close()
        conn = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        return cls(path, conn)

    async def _do(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        return await asyncio.to_thread(fn, self.conn)

    async def _write(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        from memgpt.storage.sqlite import SqliteStore

        try:
            return await self._do(functools.partial(SqliteStore._call, fn=fn, write=True))
        except sqlite3.Error as exc:
            raise StorageError(f"Cannot write to {self.name}: {exc}.") from exc

    async def meta(self) -> dict[str, str]:
        return dict(await self._do(lambda c: c.execute("SELECT key, value FROM meta").fetchall()))

    async def set_meta(self, key: str, value: str | None) -> None:
        if value is None:
            await self._write(lambda c: c.execute("DELETE FROM meta WHERE key = ?", (key,)))
            return
        sql = "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
        await self._write(lambda c: c.execute(sql, (key, value)))

    async def has_vectors(self) -> bool:
        sql = " OR ".join(f"EXISTS (SELECT 1 FROM {s.name} WHERE embedding IS NOT NULL)" for s in BULK)
        return bool((await self._do(lambda c: c.execute(f"SELECT {sql}").fetchone()))[0])

    def _decode(self, spec: Spec, values: Sequence[Any]) -> Row:
        row = dict(zip(spec.columns, values, strict=True))
        for column in spec.json:
            row[column] = json.loads(row[column]) if row[column] else None
        for column in spec.times:
            row[column] = _dt(row[column])
        for column in spec.bools:
            row[column] = bool(row[column])
        if spec.embedded and row["embedding"] is not None:
            row["embedding"] = np.frombuffer(row["embedding"], dtype=np.float32)
        return row

    def _encode(self, spec: Spec, row: Row) -> list[Any]:
        values = []
        for column in spec.columns:
            value = row[column]
            if column in spec.json:
                value = json.dumps(value) if value is not None else None
            elif column in spec.times:
                value = _ts(value)
            elif column in spec.bools:
                value = int(value)
            elif column == "embedding" and value is not None:
                value = np.ascontiguousarray(value, dtype=np.float32).tobytes()
            values.append(value)
        return values

    def _select(self, spec: Spec) -> str:
        return ", ".join(_sqlite_column(spec, c) for c in spec.columns)

    async def all_rows(self, spec: Spec) -> list[Row]:
        sql = f"SELECT {self._select(spec)} FROM {spec.name} ORDER BY rowid"
        return [self._decode(spec, r) for r in await self._do(lambda c: c.execute(sql).fetchall())]

    async def upsert(self, spec: Spec, rows: Sequence[Row]) -> None:
        names = [_sqlite_column(spec, c) for c in spec.columns]
        keys = [_sqlite_column(spec, c) for c in spec.key]
        updates = ", ".join(f"{n} = excluded.{n}" for n in names if n not in keys)
        action = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
        sql = (
            f"INSERT INTO {spec.name} ({', '.join(names)}) VALUES ({','.join('?' * len(names))})"
            f" ON CONFLICT ({', '.join(keys)}) {action}"
        )
        values = [self._encode(spec, r) for r in rows]
        await self._write(lambda c: c.executemany(sql, values))

    async def delete(self, spec: Spec, row_id: str) -> None:
        await self._write(lambda c: c.execute(f"DELETE FROM {spec.name} WHERE id = ?", (row_id,)))
        folder = self.path.with_name(self.path.name + ".indexes")  # the deleted owner's vector-index cache
        for file in folder.glob(f"*-{row_id}.*") if folder.exists() else []:
            file.unlink(missing_ok=True)

    async def count(self, spec: Spec, owner: str, *, embedded: bool = False) -> int:
        extra = " AND embedding IS NOT NULL" if embedded else ""
        sql = f"SELECT count(*) FROM {spec.name} WHERE {spec.owner} = ?{extra}"
        return int((await self._do(lambda c: c.execute(sql, (owner,)).fetchone()))[0])

    async def seq_at(self, spec: Spec, owner: str, offset: int) -> int:
        sql = f"SELECT rowid FROM {spec.name} WHERE {spec.owner} = ? ORDER BY rowid LIMIT 1 OFFSET ?"
        row = await self._do(lambda c: c.execute(sql, (owner, offset)).fetchone())
        if row is None:
            raise StorageError(f"The source holds fewer {spec.name} of {owner} than the destination.")
        return int(row[0])

    async def read(self, spec: Spec, owner: str, after: int, limit: int) -> list[tuple[int, Row]]:
        sql = (
            f"SELECT rowid, {self._select(spec)} FROM {spec.name} WHERE {spec.owner} = ? AND rowid > ?"
            " ORDER BY rowid LIMIT ?"
        )
        rows = await self._do(lambda c: c.execute(sql, (owner, after, limit)).fetchall())
        return [(int(r[0]), self._decode(spec, r[1:])) for r in rows]

    async def write(self, spec: Spec, rows: Sequence[Row]) -> None:
        names = [_sqlite_column(spec, c) for c in spec.columns] + ["embed_seq"]
        sql = f"INSERT INTO {spec.name} ({', '.join(names)}) VALUES ({','.join('?' * len(names))})"

        def insert(conn: sqlite3.Connection) -> None:
            # embed_seq orders the embeddings for the vector-index cache, which catches up from it.
            seq = int(conn.execute(f"SELECT coalesce(max(embed_seq), 0) + 1 FROM {spec.name}").fetchone()[0])
            values = []
            for i, row in enumerate(rows):
                values.append([*self._encode(spec, row), seq + i if row["embedding"] is not None else None])
            conn.executemany(sql, values)

        await self._write(insert)

    async def finish(self, dim: int | None) -> None:
        return None  # vector indexes are rebuilt from the rows on first search

    async def close(self) -> None:
        await asyncio.to_thread(self.conn.close)


# --------------------------------------------------------------------------- PostgreSQL
class PostgresEndpoint:
    """A PostgreSQL store, read with binary cursors (embeddings as raw float32) and written with COPY."""

    def __init__(self, url: str, conn: Any) -> None:
        from memgpt.storage import pg_schema

        self.name = pg_schema.describe(url)
        self.conn = conn

    @classmethod
    async def open(cls, url: str, *, create: bool) -> PostgresEndpoint:
        from memgpt.storage import pg_schema

        pg_schema.check_url(url)
        conn = await pg_schema.connect(url)
        try:
            if not create and await pg_schema.schema_version(conn) == 0:
                raise ValidationError(f"The source ({pg_schema.describe(url)}) holds no memgpt store.")
            await pg_schema.migrate(conn, url)  # creates or upgrades the schema; refuses a newer one
            await conn.execute("SET TimeZone TO 'UTC'")
        except BaseException:
            await conn.close()
            raise
        return cls(url, conn)

    async def _fetch(self, sql: str, params: Sequence[Any] = (), *, binary: bool = False) -> list[Any]:
        async with self.conn.cursor(binary=binary) as cursor:
            await cursor.execute(sql, params)
            return list(await cursor.fetchall())

    async def _execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        import psycopg

        try:
            await self.conn.execute(sql, params)
        except psycopg.Error as exc:
            raise StorageError(f"Cannot write to {self.name}: {exc}") from exc

    async def meta(self) -> dict[str, str]:
        return dict(await self._fetch("SELECT key, value FROM meta"))

    async def set_meta(self, key: str, value: str | None) -> None:
        if value is None:
            await self._execute("DELETE FROM meta WHERE key = %s", (key,))
            return
        await self._execute(
            "INSERT INTO meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    async def has_vectors(self) -> bool:
        sql = " OR ".join(f"EXISTS (SELECT 1 FROM {s.name} WHERE embedding IS NOT NULL)" for s in BULK)
        return bool((await self._fetch(f"SELECT {sql}"))[0][0])

    @staticmethod
    def _decode(spec: Spec, values: Sequence[Any]) -> Row:
        row = dict(zip(spec.columns, values, strict=True))
        if spec.embedded and row["embedding"] is not None:
            # pgvector's binary form: dimension (int16), unused (int16), then big-endian float32 values.
            row["embedding"] = np.frombuffer(row["embedding"], dtype=">f4", offset=4).astype(np.float32)
        return row

    async def all_rows(self, spec: Spec) -> list[Row]:
        rows = await self._fetch(f"SELECT {', '.join(spec.columns)} FROM {spec.name} ORDER BY seq", binary=True)
        return [self._decode(spec, r) for r in rows]

    async def upsert(self, spec: Spec, rows: Sequence[Row]) -> None:
        from psycopg.types.json import Jsonb

        updates = ", ".join(f"{c} = excluded.{c}" for c in spec.columns if c not in spec.key)
        action = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
        sql = (
            f"INSERT INTO {spec.name} ({', '.join(spec.columns)}) VALUES ({', '.join(['%s'] * len(spec.columns))})"
            f" ON CONFLICT ({', '.join(spec.key)}) {action}"
        )
        for row in rows:
            values = [Jsonb(row[c]) if c in spec.json and row[c] is not None else row[c] for c in spec.columns]
            await self._execute(sql, values)

    async def delete(self, spec: Spec, row_id: str) -> None:
        await self._execute(f"DELETE FROM {spec.name} WHERE id = %s", (row_id,))

    async def count(self, spec: Spec, owner: str, *, embedded: bool = False) -> int:
        extra = " AND embedding IS NOT NULL" if embedded else ""
        rows = await self._fetch(f"SELECT count(*) FROM {spec.name} WHERE {spec.owner} = %s{extra}", (owner,))
        return int(rows[0][0])

    async def seq_at(self, spec: Spec, owner: str, offset: int) -> int:
        rows = await self._fetch(
            f"SELECT seq FROM {spec.name} WHERE {spec.owner} = %s ORDER BY seq LIMIT 1 OFFSET %s", (owner, offset)
        )
        if not rows:
            raise StorageError(f"The source holds fewer {spec.name} of {owner} than the destination.")
        return int(rows[0][0])

    async def read(self, spec: Spec, owner: str, after: int, limit: int) -> list[tuple[int, Row]]:
        rows = await self._fetch(
            f"SELECT seq, {', '.join(spec.columns)} FROM {spec.name} WHERE {spec.owner} = %s AND seq > %s"
            " ORDER BY seq LIMIT %s",
            (owner, after, limit),
            binary=True,
        )
        return [(int(r[0]), self._decode(spec, r[1:])) for r in rows]

    async def write(self, spec: Spec, rows: Sequence[Row]) -> None:
        import psycopg

        from memgpt.storage.postgres import vector_literal

        try:
            async with (
                self.conn.transaction(),
                self.conn.cursor() as cursor,
                cursor.copy(f"COPY {spec.name} ({', '.join(spec.columns)}) FROM STDIN") as copy,
            ):
                for row in rows:
                    values = []
                    for column in spec.columns:
                        value = row[column]
                        if value is not None and column in spec.json:
                            value = json.dumps(value)
                        elif value is not None and column == "embedding":
                            value = vector_literal(value)
                        values.append(value)
                    await copy.write_row(values)
        except psycopg.Error as exc:
            raise StorageError(f"Cannot copy {spec.name} into {self.name}: {exc}") from exc

    async def finish(self, dim: int | None) -> None:
        from memgpt.storage.postgres import ensure_vector_indexes

        if dim is not None:
            await ensure_vector_indexes(self.conn, dim, build_workers=2)

    async def close(self) -> None:
        await self.conn.close()


# --------------------------------------------------------------------------- the copy
async def open_endpoint(url: str, *, create: bool) -> Endpoint:
    if url.startswith(("postgresql://", "postgres://")):
        return await PostgresEndpoint.open(url, create=create)
    return await SqliteEndpoint.open(url, create=create)


def _identity(url: str) -> str:
    """The source as recorded in the resume marker (never with a password)."""
    if url.startswith(("postgresql://", "postgres://")):
        from memgpt.storage import pg_schema

        return f"postgresql: {pg_schema.describe(url)}"
    return f"sqlite: {sqlite_path(url).resolve()}"


async def copy_store(
    source_url: str,
    target_url: str,
    *,
    overwrite: bool = False,
    batch_size: int = 2000,
    on_start: Callable[[int], None] | None = None,
    on_progress: Progress | None = None,
) -> CopyReport:
    """Copy every agent and source of ``source_url`` into ``target_url``; see the module docstring."""
    if _identity(source_url) == _identity(target_url):
        raise ValidationError("The source and the destination are the same store.")
    started = time.perf_counter()
    source = await open_endpoint(source_url, create=False)
    try:
        target = await open_endpoint(target_url, create=True)
        try:
            copier = _Copier(source, target, batch_size, on_progress)
            report = await copier.run(_identity(source_url), overwrite, on_start)
        finally:
            await target.close()
    finally:
        await source.close()
    report.seconds = time.perf_counter() - started
    return report


class _Copier:
    def __init__(self, source: Endpoint, target: Endpoint, batch_size: int, on_progress: Progress | None) -> None:
        self.source, self.target = source, target
        self.batch_size, self.on_progress = batch_size, on_progress
        self.report = CopyReport()

    async def run(self, identity: str, overwrite: bool, on_start: Callable[[int], None] | None) -> CopyReport:
        target_meta = await self.target.meta()
        resuming = target_meta.get(MARKER) == identity
        agents, sources = await self.source.all_rows(AGENTS), await self.source.all_rows(SOURCES)
        clashes = [
            (spec, row, other)
            for spec, rows in ((AGENTS, agents), (SOURCES, sources))
            for row, other in await self._clashes(spec, rows, resuming)
        ]
        if clashes and not overwrite:
            names = ", ".join(sorted({f"{spec.name[:-1]} {row['name']}" for spec, row, _ in clashes}))
            raise ValidationError(
                f"The destination ({self.target.name}) already holds {names}. "
                "Nothing was copied; pass --overwrite to replace them with the source's."
            )
        dim = await self._check_embeddings(target_meta)
        await self.target.set_meta(MARKER, identity)
        for spec, _, other in clashes:
            await self.target.delete(spec, other)
        self.report.replaced = sorted({row["name"] for _, row, _ in clashes})
        owners = [(PASSAGES, a["id"]) for a in agents] + [(MESSAGES, a["id"]) for a in agents]
        owners += [(SOURCE_PASSAGES, s["id"]) for s in sources]
        done = {(spec.name, owner): await self.target.count(spec, owner) for spec, owner in owners}
        if on_start is not None:
            remaining = [await self.source.count(spec, owner) - done[spec.name, owner] for spec, owner in owners]
            on_start(sum(max(0, n) for n in remaining))
        if resuming:
            present = {r["id"] for spec in (AGENTS, SOURCES) for r in await self.target.all_rows(spec)}
            self.report.resumed = sum(1 for row in [*agents, *sources] if row["id"] in present)
        await self.target.upsert(SOURCES, sources)
        await self.target.upsert(SOURCE_FILES, await self.source.all_rows(SOURCE_FILES))
        for s in sources:
            self.report.source_passages += await self._copy_rows(SOURCE_PASSAGES, s["id"], done)
        await self.target.upsert(AGENTS, agents)
        for a in agents:
            self.report.messages += await self._copy_rows(MESSAGES, a["id"], done)
            self.report.passages += await self._copy_rows(PASSAGES, a["id"], done)
        await self.target.upsert(AGENT_SOURCES, await self.source.all_rows(AGENT_SOURCES))
        self.report.agents, self.report.sources = len(agents), len(sources)
        await self._verify(owners)
        started = time.perf_counter()
        await self.target.finish(dim)
        self.report.index_seconds = time.perf_counter() - started
        await self.target.set_meta(MARKER, None)
        return self.report

    async def _clashes(self, spec: Spec, rows: list[Row], resuming: bool) -> list[tuple[Row, str]]:
        """Source rows whose id or (user, name) the destination already holds, with the id to replace."""
        existing = {r["id"]: r for r in await self.target.all_rows(spec)}
        by_name = {(r["user_id"], r["name"]): r["id"] for r in existing.values()}
        clashes = []
        for row in rows:
            other = by_name.get((row["user_id"], row["name"]))
            if other is not None and other != row["id"]:
                clashes.append((row, other))
            elif row["id"] in existing and not resuming:
                clashes.append((row, row["id"]))
        return clashes

    async def _check_embeddings(self, target_meta: dict[str, str]) -> int | None:
        """Carry the source's embedding model over; refuse to mix vectors of two models. Returns the dimension."""
        source_meta = await self.source.meta()
        model, dim = source_meta.get("embedding_model"), source_meta.get("embedding_dim")
        if model is None or dim is None or not await self.source.has_vectors():
            return None
        theirs = target_meta.get("embedding_model"), target_meta.get("embedding_dim")
        if theirs not in ((None, None), (model, dim)) and await self.target.has_vectors():
            raise EmbeddingMismatchError(
                f"The source was embedded with {model} ({dim} dimensions) but the destination holds vectors of "
                f"{theirs[0]} ({theirs[1]}). Copy into an empty store, or re-embed one of them first."
            )
        await self.target.set_meta("embedding_model", model)
        await self.target.set_meta("embedding_dim", dim)
        return int(dim)

    async def _copy_rows(self, spec: Spec, owner: str, done: dict[tuple[str, str], int]) -> int:
        """Copy the owner's rows after the first ones the destination already holds; returns how many."""
        already = done[spec.name, owner]
        after = await self.source.seq_at(spec, owner, already - 1) if already else 0
        copied = 0
        while rows := await self.source.read(spec, owner, after, self.batch_size):
            await self.target.write(spec, [row for _, row in rows])
            after = rows[-1][0]
            copied += len(rows)
            if self.on_progress is not None:
                self.on_progress(len(rows))
        return copied

    async def _verify(self, owners: list[tuple[Spec, str]]) -> None:
        problems = []
        for spec, owner in owners:
            for embedded in (False, True):
                mine = await self.source.count(spec, owner, embedded=embedded)
                theirs = await self.target.count(spec, owner, embedded=embedded)
                if mine != theirs:
                    what = f"embedded {spec.name}" if embedded else spec.name
                    problems.append(f"{owner}: {mine} {what} in the source, {theirs} copied")
        for spec in (AGENTS, SOURCES, SOURCE_FILES, AGENT_SOURCES):
            keys = [
                {tuple(r[k] for k in spec.key) for r in await side.all_rows(spec)}
                for side in (self.source, self.target)
            ]
            missing = keys[0] - keys[1]
            if missing:
                problems.append(f"{len(missing)} {spec.name} row(s) missing")
        if problems:
            raise StorageError(
                "The copy does not match the source (run the same command again to resume): " + "; ".join(problems)
            )
