"""``memgpt db copy``: move every agent and source with its memory between stores (SQLite <-> PostgreSQL).

Both sides are ordinary stores spoken to through their bulk rows (:meth:`memgpt.storage.base.SqlStore.read_rows`
and ``write_rows``), so a copy knows no schema of its own. Agents (with FIFO, summary and settings), their
core-memory blocks (shared ones once, with every agent they are attached to),
their messages and passages, document sources with their files, passages and attachments, custom tools and
MCP servers with the agents' attachments and tool variables, and every embedding are copied in insertion
order, in batches that each commit on their own.

A marker in the destination's ``meta`` table names the source while a copy runs, and another one after it
finished: running the same copy again resumes where it stopped, or (after a finished copy) brings over what
the source gained since (new rows, embeddings written since, detached sources and tools). It compares ids, not counts:
an agent or source whose copy holds rows the source does not (written in the destination, or deleted from the
source since) is refused, or with ``overwrite`` copied afresh. Objects deleted from the source stay in the
destination. At the end every owner's ids and embeddings are compared, in order. Text an older memgpt stored
that can no longer be stored (NUL characters, unpaired surrogates) is repaired on the way (U+FFFD) and counted
in the report.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from memgpt.config import sqlite_path
from memgpt.errors import EmbeddingMismatchError, NotFoundError, StorageError, ValidationError
from memgpt.storage.base import SqlStore
from memgpt.storage.records import Row
from memgpt.storage.schema import TABLES, Table
from memgpt.validation import clean_json, clean_text, is_storable

COPYING = "copy_in_progress"
COPIED = "copied_from"
Progress = Callable[[int], None]
BULK = ("messages", "passages", "source_passages")


@dataclass
class CopyReport:
    """What a copy did; ``resumed`` counts agents and sources continued from an earlier run."""

    agents: int = 0
    sources: int = 0
    messages: int = 0
    passages: int = 0
    source_passages: int = 0
    replaced: list[str] = field(default_factory=list)
    resumed: int = 0
    repaired: int = 0  # text values that could not be stored as they were (repaired to U+FFFD)
    seconds: float = 0.0
    index_seconds: float = 0.0  # building the destination's vector indexes after the rows (part of ``seconds``)

    @property
    def rows(self) -> int:
        return self.messages + self.passages + self.source_passages

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def _identity(url: str) -> str:
    """The source as recorded in the markers (never with a password)."""
    if url.startswith(("postgresql://", "postgres://")):
        from memgpt.storage.postgres import migrations

        return f"postgresql: {migrations.describe(url)}"
    return f"sqlite: {sqlite_path(url).resolve()}"


async def _open(url: str, *, create: bool) -> SqlStore:
    from memgpt.storage import open_store

    if not create:
        await _check_exists(url)
    store = await open_store(url, embedder=None)
    assert isinstance(store, SqlStore)
    return store


async def _check_exists(url: str) -> None:
    if url.startswith(("postgresql://", "postgres://")):
        from memgpt.storage.postgres import migrations

        migrations.check_url(url)
        async with await migrations.connect(url) as conn:
            if await migrations.schema_version(conn) == 0:
                raise ValidationError(f"The source ({migrations.describe(url)}) holds no memgpt store.")
    elif not sqlite_path(url).exists():
        raise ValidationError(f"The source database {sqlite_path(url)} does not exist.")


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
    source = await _open(source_url, create=False)
    try:
        target = await _open(target_url, create=True)
        try:
            copier = _Copier(source, target, batch_size, on_progress)
            report = await copier.run(_identity(source_url), overwrite, on_start)
        finally:
            await target.close()
    finally:
        await source.close()
    report.seconds = time.perf_counter() - started
    return report


@dataclass
class _Plan:
    """Where one owner's rows (an agent's messages, say) stand in the destination."""

    after: int = 0  # the source position after which the destination lacks its rows
    copied: int = 0  # rows the destination already holds, the same as the source's first ones
    unembedded: set[str] = field(default_factory=set)  # ids of those copied before the source embedded them


class _Diverged(Exception):
    """The destination holds rows of an owner that the source does not (or in another order)."""


class _Copier:
    def __init__(self, source: SqlStore, target: SqlStore, batch_size: int, on_progress: Progress | None) -> None:
        self.source, self.target = source, target
        self.batch_size, self.on_progress = batch_size, on_progress
        self.report = CopyReport()

    async def run(self, identity: str, overwrite: bool, on_start: Callable[[int], None] | None) -> CopyReport:
        target_meta = await self.target.get_meta()
        resuming = identity in (target_meta.get(COPYING), target_meta.get(COPIED))
        agents, sources = await self._all("agents", self.source), await self._all("sources", self.source)
        users = await self._all("users", self.source)
        servers, tools = await self._all("mcp_servers", self.source), await self._all("tools", self.source)
        named = {"users": users, "agents": agents, "sources": sources, "mcp_servers": servers, "tools": tools}
        clashes = await self._clashes(named, resuming)
        other_users = sorted(row["name"] for table, row, _ in clashes if table == "users")
        if other_users:  # never replaced: that would delete everything the destination's user owns
            raise ValidationError(
                f"The destination ({self.target.description}) has other users named {', '.join(other_users)}. "
                "Nothing was copied; rename one of each pair first (memgpt users ...)."
            )
        if clashes and not overwrite:
            names = ", ".join(sorted({f"{table[:-1]} {row['name']}" for table, row, _ in clashes}))
            raise ValidationError(
                f"The destination ({self.target.description}) already holds {names}. "
                "Nothing was copied; pass --overwrite to replace them with the source's."
            )
        owners = [("passages", a["id"]) for a in agents] + [("messages", a["id"]) for a in agents]
        owners += [("source_passages", s["id"]) for s in sources]
        plans, diverged = await self._plans(owners, sources) if resuming else ({}, {})
        if diverged and not overwrite:
            raise ValidationError(
                f"The destination ({self.target.description}) has changed since it was copied: "
                + "; ".join(diverged.values())
                + ". Nothing was copied; pass --overwrite to replace its copies with the source's."
            )
        dim = await self._check_embeddings(target_meta)
        await self.target.set_meta(COPYING, identity)
        await self.target.set_meta(COPIED, None)
        replaced = [(table, row, other) for table, row, other in clashes]
        replaced += [
            (table, row, (row["user_id"], row["id"])) for table, row in self._rows_of(diverged, agents, sources)
        ]
        for table, _, other in replaced:
            await self._delete(table, other)
        for owner in list(plans):
            if owner[1] in diverged:
                del plans[owner]
        self.report.replaced = sorted({row["name"] for _, row, _ in replaced})
        present = {r["id"] for table in ("agents", "sources") for r in await self._all(table, self.target)}
        self.report.resumed = sum(1 for row in [*agents, *sources] if row["id"] in present)
        if on_start is not None:
            counts = [await self.source.count_owner_rows(*owner) for owner in owners]
            on_start(sum(n - plans.get(owner, _Plan()).copied for owner, n in zip(owners, counts, strict=True)))
        await self._upsert("users", users)
        await self._upsert("api_keys", await self._all("api_keys", self.source))
        await self._upsert("mcp_servers", servers)
        await self._upsert("tools", tools)
        await self._upsert("sources", sources)
        await self._upsert("source_files", await self._all("source_files", self.source))
        for s in sources:
            self.report.source_passages += await self._copy_owner("source_passages", s["id"], plans)
        await self._upsert("agents", agents)
        for a in agents:
            self.report.messages += await self._copy_owner("messages", a["id"], plans)
            self.report.passages += await self._copy_owner("passages", a["id"], plans)
        await self._upsert("agent_sources", await self._all("agent_sources", self.source))
        await self._upsert("blocks", await self._all("blocks", self.source))
        await self._upsert("agent_blocks", await self._all("agent_blocks", self.source))
        await self._upsert("agent_tools", await self._all("agent_tools", self.source))
        await self._upsert("agent_secrets", await self._all("agent_secrets", self.source))
        await self._upsert("block_history", await self._all("block_history", self.source))
        await self._mirror_attachments({a["id"] for a in agents})
        self.report.agents, self.report.sources = len(agents), len(sources)
        await self._verify(owners)
        started = time.perf_counter()
        await self.target.finish_bulk_load(dim)
        self.report.index_seconds = time.perf_counter() - started
        await self.target.set_meta(COPYING, None)
        await self.target.set_meta(COPIED, identity)
        return self.report

    async def _all(self, table: str, store: SqlStore) -> list[Row]:
        return [row for _, row in await store.read_rows(table)]

    async def _clashes(self, rows: dict[str, list[Row]], resuming: bool) -> list[tuple[str, Row, tuple[str, str]]]:
        """Source rows whose id or name (a user's, or an object's within its user) the destination already
        holds, with the (user, id) to replace.

        When resuming (or syncing after a finished copy) the destination's rows of the same id are the
        source's own earlier copies, not clashes.
        """
        clashes = []
        for table, source_rows in rows.items():
            existing = {r["id"]: r for r in await self._all(table, self.target)}
            by_name = {_name_key(r): r["id"] for r in existing.values()}
            for row in source_rows:
                other = by_name.get(_name_key(row))
                if other is not None and other != row["id"]:
                    clashes.append((table, row, (existing[other].get("user_id", other), other)))
                elif row["id"] in existing and not resuming:
                    clashes.append((table, row, (existing[row["id"]].get("user_id", row["id"]), row["id"])))
        return clashes

    async def _plans(
        self, owners: list[tuple[str, str]], sources: list[Row]
    ) -> tuple[dict[tuple[str, str], _Plan], dict[str, str]]:
        """How far each owner's earlier copy got, and the objects (agent or source id -> why) whose copy
        holds what the source does not: rows written in the destination, or deleted from the source."""
        plans: dict[tuple[str, str], _Plan] = {}
        diverged: dict[str, str] = {}
        for table, owner in owners:
            try:
                plans[table, owner] = await self._plan(table, owner)
            except _Diverged as exc:
                diverged.setdefault(owner, str(exc))
        theirs = {r["id"]: r for r in await self._all("source_files", self.target)}
        mine = {r["id"] for r in await self._all("source_files", self.source)}
        for s in sources:
            gone = [r["path"] for r in theirs.values() if r["source_id"] == s["id"] and r["id"] not in mine]
            if gone:
                diverged.setdefault(s["id"], f"source {s['name']} holds file {gone[0]}, which the source does not")
        return plans, diverged

    async def _plan(self, table: str, owner: str) -> _Plan:
        """Walk the owner's ids on both sides in insertion order: the destination's must be the source's first."""
        plan = _Plan()
        target_after = 0
        while theirs := await self.target.read_ids(table, owner, after=target_after, limit=self.batch_size):
            mine = await self.source.read_ids(table, owner, after=plan.after, limit=len(theirs))
            for position, (_, their_id, their_embedding) in enumerate(theirs):
                if position >= len(mine) or mine[position][1] != their_id:
                    raise _Diverged(
                        f"{owner} holds {table} the source does not (first: {their_id}, after {plan.copied} that match)"
                    )
                if mine[position][2] and not their_embedding:
                    plan.unembedded.add(their_id)
            plan.after, plan.copied, target_after = mine[-1][0], plan.copied + len(theirs), theirs[-1][0]
        return plan

    @staticmethod
    def _rows_of(diverged: dict[str, str], agents: list[Row], sources: list[Row]) -> list[tuple[str, Row]]:
        return [("agents", a) for a in agents if a["id"] in diverged] + [
            ("sources", s) for s in sources if s["id"] in diverged
        ]

    async def _delete(self, table: str, owner: tuple[str, str]) -> None:
        user_id, object_id = owner
        if table == "agents":
            await self.target.delete_agent(user_id, object_id)
        elif table == "tools":
            with contextlib.suppress(NotFoundError):  # an MCP tool goes with its server, deleted just before
                await self.target.delete_tool(user_id, object_id)
        elif table == "mcp_servers":
            await self.target.delete_mcp_server(user_id, object_id)
        else:
            await self.target.delete_source(user_id, object_id)

    async def _check_embeddings(self, target_meta: dict[str, str]) -> int | None:
        """Carry the source's embedding model over; refuse to mix vectors of two models. Returns the dimension."""
        source_meta = await self.source.get_meta()
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

    async def _upsert(self, table: str, rows: list[Row]) -> None:
        for start in range(0, len(rows), self.batch_size):
            batch = self._repaired(TABLES[table], rows[start : start + self.batch_size])
            await self.target.write_rows(table, batch, replace=True)

    async def _copy_owner(self, table: str, owner: str, plans: dict[tuple[str, str], _Plan]) -> int:
        """Copy the owner's rows the destination lacks, and the embeddings its copies lack; returns how many rows."""
        plan = plans.get((table, owner), _Plan())
        if plan.unembedded:
            await self._fill_embeddings(table, owner, plan)
        after, copied = plan.after, 0
        while rows := await self.source.read_rows(table, owner=owner, after=after, limit=self.batch_size):
            await self.target.write_rows(table, self._repaired(TABLES[table], [row for _, row in rows]))
            after = rows[-1][0]
            copied += len(rows)
            if self.on_progress is not None:
                self.on_progress(len(rows))
        return copied

    async def _fill_embeddings(self, table: str, owner: str, plan: _Plan) -> None:
        """Rows copied before the source embedded them get the source's vectors (the destination's
        positions differ from the source's, so both are walked side by side)."""
        source_after = target_after = 0
        while source_after < plan.after and (
            rows := await self.source.read_rows(table, owner=owner, after=source_after, limit=self.batch_size)
        ):
            theirs = await self.target.read_ids(table, owner, after=target_after, limit=len(rows))
            wanted = [
                (t[0], row["embedding"]) for (_, row), t in zip(rows, theirs, strict=False) if t[1] in plan.unembedded
            ]
            if wanted:
                await self.target.fill_embeddings(table, [p for p, _ in wanted], np.stack([v for _, v in wanted]))
            source_after, target_after = rows[-1][0], theirs[-1][0]

    async def _mirror_attachments(self, agent_ids: set[str]) -> None:
        """The copied agents' attached sources and tools and their tool variables are the source's: a
        detachment (or a deleted variable) there is one here too."""
        for table in ("agent_sources", "agent_tools", "agent_secrets"):
            mine = {_key(TABLES[table], r) for r in await self._all(table, self.source)}
            for row in await self._all(table, self.target):
                if row["agent_id"] in agent_ids and _key(TABLES[table], row) not in mine:
                    await self._undo_attachment(table, row)

    async def _undo_attachment(self, table: str, row: Row) -> None:
        if table == "agent_sources":
            await self.target.detach_source(row["agent_id"], row["source_id"])
        elif table == "agent_tools":
            await self.target.detach_tool(row["agent_id"], row["tool_id"])
        else:
            await self.target.delete_secret(row["agent_id"], row["name"])

    def _repaired(self, table: Table, rows: Sequence[Row]) -> list[Row]:
        """``rows`` with text values that cannot be stored any more (written by older versions) repaired."""
        repaired = []
        for row in rows:
            fixed: dict[str, Any] = {}
            for column in table.data_columns:
                value = row.get(column.name)
                if column.type == "text" and isinstance(value, str) and not is_storable(value):
                    fixed[column.name] = clean_text(value)
                elif column.type == "json" and value is not None:
                    cleaned = clean_json(value)
                    if cleaned != value:
                        fixed[column.name] = cleaned
            self.report.repaired += len(fixed)
            repaired.append(row | fixed)
        return repaired

    async def _verify(self, owners: list[tuple[str, str]]) -> None:
        """Every owner's ids (and which of them carry an embedding) are the source's, in the source's order;
        every small-table row of the source is there."""
        problems = []
        for table, owner in owners:
            difference = await self._first_difference(table, owner)
            if difference is not None:
                problems.append(f"{owner}: {difference}")
        small = ("users", "api_keys", "agents", "sources", "source_files", "agent_sources", "blocks", "agent_blocks")
        for table in (*small, "mcp_servers", "tools", "agent_tools", "agent_secrets", "block_history"):
            keys = [
                {_key(TABLES[table], r) for r in await self._all(table, side)} for side in (self.source, self.target)
            ]
            missing = keys[0] - keys[1]
            if missing:
                problems.append(f"{len(missing)} {table} row(s) missing")
        if problems:
            raise StorageError(
                "The copy does not match the source (run the same command again to resume): " + "; ".join(problems)
            )

    async def _first_difference(self, table: str, owner: str) -> str | None:
        mine_after = theirs_after = matched = 0
        while True:
            mine = await self.source.read_ids(table, owner, after=mine_after, limit=self.batch_size)
            theirs = await self.target.read_ids(table, owner, after=theirs_after, limit=self.batch_size)
            for a, b in zip(mine, theirs, strict=False):
                if a[1:] != b[1:]:
                    what = "its embedding" if a[1] == b[1] else f"{b[1]} where the source has {a[1]}"
                    return f"{table} {matched + 1} differs ({what})"
                matched += 1
            if len(mine) != len(theirs):
                return f"{matched + len(mine)}+ {table} in the source, {matched + len(theirs)} copied"
            if not mine:
                return None
            mine_after, theirs_after = mine[-1][0], theirs[-1][0]


def _name_key(row: Row) -> tuple[str, ...]:
    """What must be unique: a user's name, or an object's name among its user's."""
    return (row["user_id"], row["name"]) if "user_id" in row else (row["name"],)


def _key(table: Table, row: Row) -> tuple[Any, ...]:
    return tuple(row[k] for k in table.primary_key)
