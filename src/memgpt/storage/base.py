"""What both engines' stores share: the :class:`~memgpt.memory.protocols.Store` protocol over :mod:`.operations`.

An engine provides the driver (:meth:`SqlStore.run` runs an operation, :meth:`SqlStore.transaction` and
:meth:`SqlStore.savepoint` group them), its text and vector rankings for :mod:`.hybrid_search`, its locks,
and hooks for what it keeps beside the rows (SQLite's in-process vector indexes). Everything else (what is
validated, which statements run in what order, how rows map to objects) is here and in
:mod:`.operations`, once.
"""

from __future__ import annotations

import asyncio
import contextvars
from abc import abstractmethod
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

import numpy as np

from memgpt.embeddings.base import Embedder
from memgpt.errors import EmbeddingMismatchError, ValidationError
from memgpt.identity import ApiKey, User
from memgpt.memory.agent_state import AgentState
from memgpt.memory.blocks import Block
from memgpt.memory.history import BlockChange, EditCause
from memgpt.memory.protocols import BlockRecord, Source, SourceChunks, SourceFile
from memgpt.memory.tools import AttachedTool, McpServer, Tool, ToolsVersion
from memgpt.memory.types import Message, Passage, SearchHit, SearchPage, utcnow
from memgpt.storage import block_ops, history_ops, lifecycle_ops, records, tool_ops
from memgpt.storage import operations as ops
from memgpt.storage.hybrid_search import TOTAL_CAP, HybridSearchStore, Table, check_page
from memgpt.storage.keyed_locks import AgentLocks, KeyedLocks
from memgpt.storage.records import Row
from memgpt.storage.schema import TABLES
from memgpt.storage.sql import Op, stored_time, uninterrupted

T = TypeVar("T")
EMBED_BATCH = 256
MAX_OFFSET = 2**53  # offsets, limits and pages beyond this are refused (and would overflow 64-bit SQL integers)


class FullText(Protocol):
    """An engine's full-text ranking, as operations."""

    def ranking(
        self, table: str, owners: Sequence[str], terms: Sequence[str], limit: int, require_match: bool
    ) -> Op[list[tuple[int, float]]]: ...

    def match_count(
        self, table: str, owners: Sequence[str], terms: Sequence[str], exclude_ids: Collection[str]
    ) -> Op[int]: ...


class TaskTransaction(Protocol):
    """One task's transaction on one connection, as an engine provides it."""

    task: asyncio.Task[Any] | None  # the task it belongs to (a task started inside it is not in it)
    savepoints: int  # savepoints opened so far (for their names)

    @property
    def begun(self) -> bool:
        """Whether the transaction has written (``BEGIN`` was sent)."""

    async def run(self, op: Op[T]) -> T:
        """Run an operation in the transaction."""

    async def control(self, sql: str) -> None:
        """Run a transaction-control statement (SAVEPOINT, ROLLBACK TO, RELEASE)."""

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...

    async def release(self) -> None:
        """Give the connection back (rolling back what did not commit)."""


@dataclass
class _Savepoint:
    discarded: bool = False

    def discard(self) -> None:
        self.discarded = True


class SqlStore(HybridSearchStore):
    """The shared implementation of :class:`memgpt.memory.protocols.Store`; see the module docstring."""

    embedder: Embedder | None
    semantic_search_available: bool
    dialect: ops.Dialect
    description: str  # the store for messages: a path, or a database without its password
    migrated: tuple[int, int]  # the schema version before and after opening

    def __init__(self, embedder: Embedder | None) -> None:
        self.embedder = embedder
        self.semantic_search_available = embedder is not None
        self._embed_locks: KeyedLocks[tuple[Table, str | None]] = KeyedLocks()
        self._task_tx: contextvars.ContextVar[TaskTransaction | None] = contextvars.ContextVar(
            f"memgpt-tx-{id(self)}", default=None
        )

    # ----------------------------------------------------------------- what an engine provides
    @abstractmethod
    async def run_alone(self, op: Op[T]) -> T:
        """Run an operation outside any transaction: atomically if it writes."""

    @abstractmethod
    async def open_transaction(self) -> TaskTransaction:
        """A new transaction on a connection of its own (nothing is sent until its first write)."""

    _locks: AgentLocks

    def lock_agent(self, agent_id: str, *, timeout: float = 60.0) -> AbstractAsyncContextManager[None]:
        """Hold the agent's lock (in this process and across processes); AgentBusyError after ``timeout``."""
        return self._locks.hold(agent_id, timeout=timeout)

    @property
    def locks_held(self) -> int:
        """How many agents this process holds or awaits the lock of (entries are dropped when free)."""
        return self._locks.held

    @abstractmethod
    async def close(self) -> None: ...

    def rows_removed(self, table: Table, owner: str, seqs: Sequence[int]) -> None:
        """Hook: rows were deleted (an engine that indexes vectors beside the rows forgets them)."""

    def owner_removed(self, table: Table, owner: str) -> None:
        """Hook: every row of an owner (a deleted agent or source) is gone."""

    def embeddings_dropped(self) -> None:
        """Hook: every stored embedding was removed (``reembed``)."""

    def rolled_back(self, tx: TaskTransaction) -> None:
        """Hook: what ``tx`` wrote (or part of it) was rolled back."""

    def committed(self, tx: TaskTransaction) -> None:
        """Hook: ``tx`` committed."""

    # ----------------------------------------------------------------- transactions
    async def run(self, op: Op[T]) -> T:
        """Run an operation: in the task's transaction if one is open, else on its own (atomic if it writes)."""
        tx = self.task_transaction()
        return await (tx.run(op) if tx is not None else self.run_alone(op))

    def task_transaction(self) -> TaskTransaction | None:
        """The transaction this task is inside, if any (a task started inside one inherits the context,
        not the transaction)."""
        tx = self._task_tx.get()
        return tx if tx is not None and tx.task is asyncio.current_task() else None

    def in_transaction(self) -> bool:
        return self.task_transaction() is not None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """Make every store call of this task inside the block one atomic transaction (joins an outer one).

        A cancellation inside the block rolls everything back; the commit, the rollback and giving the
        connection back run to their end even if the task is cancelled again meanwhile.
        """
        if self.task_transaction() is not None:
            yield
            return
        tx = await self.open_transaction()
        tx.task = asyncio.current_task()
        token = self._task_tx.set(tx)
        try:
            try:
                yield
            except BaseException:
                try:
                    await uninterrupted(tx.rollback())
                finally:
                    self.rolled_back(tx)
                raise
            try:
                await uninterrupted(tx.commit())
            except BaseException:  # the outcome is unknown: what the hooks keep is reloaded from the rows
                self.rolled_back(tx)
                raise
            self.committed(tx)
        finally:
            self._task_tx.reset(token)
            await uninterrupted(tx.release())

    # ----------------------------------------------------------------- savepoints
    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[_Savepoint]:
        """A part of the task's transaction (a tool call) that rolls back alone on an exception or
        :meth:`~memgpt.memory.protocols.Savepoint.discard`; outside a transaction, a transaction of its own.

        Until the transaction has written, no SAVEPOINT is sent: undoing the savepoint then rolls back
        whatever the transaction wrote inside it, which is all it wrote.
        """
        tx = self.task_transaction()
        if tx is None:
            async with self.transaction(), self.savepoint() as inner:
                yield inner
            return
        name = None
        if tx.begun:
            tx.savepoints += 1
            name = f"memgpt_sp_{tx.savepoints}"
            await tx.control(f"SAVEPOINT {name}")
        handle = _Savepoint()
        try:
            yield handle
        except BaseException:
            await uninterrupted(self._end_savepoint(tx, name, undo=True))
            raise
        if name is not None or handle.discarded:
            await self._end_savepoint(tx, name, undo=handle.discarded)

    async def _end_savepoint(self, tx: TaskTransaction, name: str | None, *, undo: bool) -> None:
        if name is None:
            if undo and tx.begun:
                try:
                    await tx.rollback()
                finally:
                    self.rolled_back(tx)
            return
        if undo:
            try:
                await tx.control(f"ROLLBACK TO SAVEPOINT {name}")
            finally:
                self.rolled_back(tx)
        await tx.control(f"RELEASE SAVEPOINT {name}")

    # ----------------------------------------------------------------- opening
    async def finish_opening(self, *, reembed: bool) -> None:
        """After migrating: drop every embedding (``reembed``) and check the model; closes the store on failure."""
        try:
            if reembed:
                await self.drop_all_embeddings()
            await self.check_embedding_model()
        except BaseException:
            await self.close()
            raise

    async def check_embedding_model(self) -> None:
        """Record the configured model in a new store; EmbeddingMismatchError if the store's vectors are another's."""
        if self.embedder is None:
            return
        meta = await self.run(ops.get_meta())
        name, dim = self.embedder.name, str(self.embedder.dim)
        stored = meta.get("embedding_model"), meta.get("embedding_dim")
        if stored == (name, dim):
            return
        if stored[0] is not None and await self.run(ops.has_vectors()):
            raise EmbeddingMismatchError(
                f"The store ({self.description}) was embedded with {stored[0]} ({stored[1]} dimensions) but the "
                f"configured model is {name} ({dim}). Set MEMGPT_EMBEDDING back, or run `memgpt db reembed` to "
                f"re-embed everything with {name}."
            )
        async with self.transaction():
            await self.run(ops.set_meta("embedding_model", name))
            await self.run(ops.set_meta("embedding_dim", dim))

    async def drop_all_embeddings(self) -> None:
        """Remove every stored embedding (before another model replaces them)."""
        await self.run(ops.drop_embeddings(self.dialect))
        self.embeddings_dropped()

    # ----------------------------------------------------------------- agents
    async def create_agent(self, state: AgentState) -> None:
        state.created_at, state.updated_at = stored_time(state.created_at), stored_time(state.updated_at)
        await self.run(ops.insert_agent(state))

    async def get_agent(self, user_id: str, agent: str) -> AgentState:
        return await self.run(ops.get_agent(user_id, agent))

    async def list_agents(self, user_id: str) -> list[AgentState]:
        return await self.run(ops.list_agents(user_id))

    async def save_agent(self, state: AgentState) -> None:
        await self.run(ops.save_agent(state, stored_time(utcnow())))

    async def delete_agent(self, user_id: str, agent_id: str) -> None:
        await self.run(ops.delete_agent(user_id, agent_id))
        for table in ("messages", "passages"):
            self.owner_removed(table, agent_id)

    async def append_and_save(self, state: AgentState, messages: Sequence[Message]) -> None:
        rows = [records.message_row(state.id, m) for m in messages]
        await self.run(self._append_and_save(rows, state, stored_time(utcnow())))
        for m in messages:
            m.agent_id = state.id

    def _append_and_save(self, rows: list[Row], state: AgentState, now: datetime) -> Op[None]:
        yield from ops.insert_messages(self.dialect, rows)
        yield from ops.save_agent(state, now)

    # ----------------------------------------------------------------- core-memory blocks
    async def create_block(self, user_id: str, block: Block, *, standalone: bool = True) -> None:
        await self.run(block_ops.insert_block(user_id, block, standalone=standalone, now=stored_time(utcnow())))

    async def get_block(self, user_id: str, block_id: str) -> BlockRecord:
        return await self.run(block_ops.get_block(user_id, block_id))

    async def list_blocks(self, user_id: str, *, label: str | None = None) -> list[BlockRecord]:
        return await self.run(block_ops.list_blocks(user_id, label=label))

    async def agent_blocks(self, agent_id: str) -> list[Block]:
        return await self.run(block_ops.agent_blocks(agent_id))

    async def update_block(
        self, user_id: str, block: Block, *, agent_id: str | None = None, cause: EditCause | None = None
    ) -> Block:
        return await self.run(block_ops.update_block(user_id, block, agent_id, stored_time(utcnow()), cause))

    async def attach_block(self, agent_id: str, block_id: str) -> bool:
        return await self.run(block_ops.attach_block(agent_id, block_id, stored_time(utcnow())))

    async def detach_block(self, agent_id: str, block_id: str) -> bool:
        return await self.run(block_ops.detach_block(agent_id, block_id))

    async def delete_block(self, user_id: str, block_id: str) -> list[str]:
        return await self.run(block_ops.delete_block(user_id, block_id))

    # ----------------------------------------------------------------- recall store
    async def append_messages(self, agent_id: str, messages: Sequence[Message]) -> None:
        rows = [records.message_row(agent_id, m) for m in messages]
        if rows:
            await self.run(ops.insert_messages(self.dialect, rows))
        for m in messages:
            m.agent_id = agent_id

    async def get_messages(self, agent_id: str, ids: Sequence[str]) -> list[Message]:
        return await self.run(ops.get_messages(agent_id, ids))

    async def list_messages(
        self, agent_id: str, *, offset: int = 0, limit: int = 100, newest_first: bool = False
    ) -> list[Message]:
        check_window(offset, limit)
        return await self.run(ops.list_messages(agent_id, offset, limit, newest_first))

    async def message_window(
        self,
        agent_id: str,
        *,
        after: str | None = None,
        before: str | None = None,
        limit: int = 100,
        newest: bool = False,
    ) -> list[Message]:
        check_window(0, limit)
        return await self.run(ops.message_window(agent_id, after, before, limit, newest))

    async def passage_window(
        self,
        agent_id: str,
        *,
        after: str | None = None,
        before: str | None = None,
        limit: int = 100,
        newest: bool = False,
    ) -> list[Passage]:
        check_window(0, limit)
        return await self.run(ops.passage_window(agent_id, after, before, limit, newest))

    async def count_messages(self, agent_id: str) -> int:
        return await self.run(ops.count_rows("messages", agent_id))

    async def search_messages_by_date(
        self, agent_id: str, start: datetime, end: datetime, *, page: int = 0, page_size: int = 5
    ) -> SearchPage:
        if end <= start:
            raise ValidationError(f"The end of the date range ({end:%Y-%m-%d}) must be after its start.")
        check_page(page, page_size)
        check_window(page * page_size, page_size)
        return await self.run(ops.messages_by_date(agent_id, start, end, page, page_size))

    async def embed_pending_messages(self, agent_id: str, *, limit: int = 1000) -> int:
        return await self._embed_pending("messages", agent_id, limit)

    # ----------------------------------------------------------------- archival store
    async def embed_pending_passages(self, agent_id: str, *, limit: int = 1000) -> int:
        return await self._embed_pending("passages", agent_id, limit)

    async def insert_passages(self, agent_id: str, passages: Sequence[Passage]) -> list[str]:
        rows = [records.passage_row(agent_id, p) for p in passages]
        if rows:
            # Not inside a transaction: a step would hold SQLite's write lock, and every other agent's
            # writes, while the model runs (50 passages: ~0.3 s on the local model).
            embed_now = self.embedder is not None and not self.in_transaction()
            vectors = await self._embed([p.text for p in passages]) if embed_now else None
            await self.run(ops.insert_passages(self.dialect, rows, vectors))
        for p in passages:
            p.agent_id = agent_id
        return [p.id for p in passages]

    async def get_passages(self, agent_id: str, ids: Sequence[str]) -> list[Passage]:
        return await self.run(ops.get_passages(agent_id, ids))

    async def list_passages(self, agent_id: str, *, offset: int = 0, limit: int = 100) -> list[Passage]:
        check_window(offset, limit)
        return await self.run(ops.list_passages(agent_id, offset, limit))

    async def count_passages(self, agent_id: str) -> int:
        return await self.run(ops.count_passages(agent_id))

    async def delete_passages(self, agent_id: str, ids: Sequence[str]) -> int:
        removed = await self.run(ops.delete_passages(agent_id, ids))
        self.rows_removed("passages", agent_id, removed)
        return len(removed)

    # ----------------------------------------------------------------- sources
    async def create_source(self, source: Source) -> None:
        source.created_at = stored_time(source.created_at)
        await self.run(ops.insert_source(source))

    async def get_source(self, user_id: str, source: str) -> Source:
        return await self.run(ops.get_source(user_id, source))

    async def list_sources(self, user_id: str) -> list[Source]:
        return await self.run(ops.list_sources(user_id))

    async def delete_source(self, user_id: str, source_id: str) -> None:
        await self.run(ops.delete_source(user_id, source_id))
        self.owner_removed("source_passages", source_id)

    async def attach_source(self, agent_id: str, source_id: str) -> bool:
        return await self.run(ops.attach_source(agent_id, source_id, utcnow()))

    async def detach_source(self, agent_id: str, source_id: str) -> bool:
        return await self.run(ops.detach_source(agent_id, source_id))

    async def list_agent_sources(self, agent_id: str) -> list[Source]:
        return await self.run(ops.list_agent_sources(agent_id))

    async def begin_source_file(self, file: SourceFile) -> SourceFile:
        stored, removed = await self.run(ops.begin_source_file(file))
        self.rows_removed("source_passages", file.source_id, removed)
        return stored

    async def add_source_passages(self, file_id: str, first_chunk: int, passages: Sequence[Passage]) -> int:
        return (await self.add_source_chunks([SourceChunks(file_id, first_chunk, passages)]))[0]

    async def add_source_chunks(self, batches: Sequence[SourceChunks]) -> list[int]:
        for batch in batches:
            for p in batch.passages:
                records.check_passage_text(p.text)
        if not batches:
            return []
        await self.run(ops.check_batches(self.dialect, batches))  # before embedding: fail fast
        texts = [p.text for batch in batches for p in batch.passages]
        vectors = await self._embed(texts) if self.embedder and texts else None
        return await self.run(ops.add_source_chunks(self.dialect, batches, vectors, utcnow()))

    async def commit_source_file(self, file_id: str) -> SourceFile:
        done, removed = await self.run(ops.commit_source_file(self.dialect, file_id, utcnow()))
        self.rows_removed("source_passages", done.source_id, removed)
        return done

    async def delete_source_file(self, file_id: str) -> None:
        source_id, removed = await self.run(ops.delete_source_file(file_id))
        if source_id is not None:
            self.rows_removed("source_passages", source_id, removed)

    async def list_source_files(self, source_id: str) -> list[SourceFile]:
        return await self.run(ops.list_source_files(source_id))

    async def read_passage_context(
        self, agent_id: str, passage_id: str, *, before: int = 0, after: int = 1
    ) -> list[Passage]:
        if before < 0 or after < 0:
            raise ValidationError(f"before and after must be 0 or more, got {before} and {after}.")
        return await self.run(ops.read_passage_context(agent_id, passage_id, before, after))

    # ----------------------------------------------------------------- search primitives shared by both engines
    full_text: FullText

    async def text_ranking(
        self, table: Table, owners: Sequence[str], terms: Sequence[str], limit: int, *, require_match: bool
    ) -> list[tuple[int, float]]:
        """The best full-text matches as (seq, higher-is-better score)."""
        return await self.run(self.full_text.ranking(table, owners, terms, limit, require_match))

    async def text_match_count(
        self, table: Table, owners: Sequence[str], terms: Sequence[str], *, exclude_ids: Collection[str] = ()
    ) -> int:
        """Matches of the planned full-text query not in ``exclude_ids``, up to TOTAL_CAP."""
        return await self.run(self.full_text.match_count(table, owners, terms, exclude_ids))

    async def searchable_count(self, table: Table, owners: Sequence[str], exclude_ids: Collection[str]) -> int:
        """Searchable rows not in ``exclude_ids``, up to TOTAL_CAP."""
        return await self.run(ops.searchable_count(table, owners, exclude_ids, TOTAL_CAP))

    async def hit_rows(self, table: Table, owners: Sequence[str], row_ids: Sequence[int]) -> dict[int, SearchHit]:
        """The visible rows of ``row_ids`` as unscored hits."""
        return await self.run(ops.hit_rows(table, owners, row_ids))

    async def next_messages(self, row_ids: Sequence[int]) -> dict[int, int]:
        """The next searchable message after each message."""
        return await self.run(ops.next_messages(row_ids))

    # ----------------------------------------------------------------- embeddings
    async def _embed(self, texts: Sequence[str]) -> np.ndarray:
        assert self.embedder is not None
        return np.asarray(await self.embedder.embed(texts), dtype=np.float32)

    async def _embed_pending(
        self, table: Table, owner: str | None, limit: int, on_progress: Callable[[int], None] | None = None
    ) -> int:
        """Embed up to ``limit`` rows of the owner (every owner: None) that have none yet; how many were.

        Never inside a transaction: a step must not wait for the model, nor hold its transaction while
        another task embeds (that was a deadlock). Rows not embedded yet are found by full text until the
        background task that follows each input has embedded them.
        """
        if self.embedder is None or self.in_transaction():
            return 0
        async with self._embed_locks.hold((table, owner)):  # concurrent callers would embed the same rows
            done = 0
            while done < limit:
                pending = await self.run(ops.unembedded(table, owner, min(EMBED_BATCH, limit - done)))
                if not pending:
                    break
                vectors = await self._embed([text for _, text in pending])
                await self.run(ops.set_embeddings(self.dialect, table, [seq for seq, _ in pending], vectors))
                done += len(pending)
                if on_progress is not None:
                    on_progress(len(pending))
            return done

    async def count_unembedded(self) -> int:
        """Rows (messages with searchable text, and passages) that have no embedding yet."""
        return await self.run(ops.count_unembedded())

    async def embed_all_pending(self, on_progress: Callable[[int], None] | None = None) -> int:
        """Embed every row of every agent and source that lacks an embedding; returns how many were embedded."""
        total = 0
        for table in ("messages", "passages", "source_passages"):
            total += await self._embed_pending(table, None, 10**12, on_progress)
        return total

    # ----------------------------------------------------------------- users and API keys
    async def create_user(self, user: User) -> None:
        user.created_at = stored_time(user.created_at)
        await self.run(ops.insert_user(user))

    async def get_user(self, user: str) -> User:
        return await self.run(ops.get_user(user))

    async def list_users(self) -> list[User]:
        return await self.run(ops.list_users())

    async def delete_user(self, user_id: str) -> None:
        agents, sources = await self.run(ops.delete_user(user_id))
        for agent_id in agents:
            for table in ("messages", "passages"):
                self.owner_removed(table, agent_id)
        for source_id in sources:
            self.owner_removed("source_passages", source_id)

    async def create_api_key(self, key: ApiKey) -> None:
        key.created_at = stored_time(key.created_at)
        await self.run(ops.insert_api_key(key))

    async def find_api_key(self, key_hash: str) -> tuple[ApiKey, User] | None:
        return await self.run(ops.find_api_key(key_hash))

    async def touch_api_key(self, key_id: str) -> None:
        await self.run(ops.touch_api_key(key_id, stored_time(utcnow())))

    async def list_api_keys(self, user_id: str) -> list[ApiKey]:
        return await self.run(ops.list_api_keys(user_id))

    async def revoke_api_key(self, user_id: str, key: str) -> ApiKey:
        return await self.run(ops.revoke_api_key(user_id, key, stored_time(utcnow())))

    # ----------------------------------------------------------------- tools, MCP servers, tool variables
    async def create_tool(self, tool: Tool) -> None:
        tool.created_at, tool.updated_at = stored_time(tool.created_at), stored_time(tool.updated_at)
        await self.run(tool_ops.insert_tool(tool))

    async def update_tool(self, tool: Tool) -> None:
        tool.updated_at = stored_time(utcnow())
        await self.run(tool_ops.update_tool(tool))

    async def get_tool(self, user_id: str, tool: str) -> Tool:
        return await self.run(tool_ops.get_tool(user_id, tool))

    async def list_tools(self, user_id: str) -> list[Tool]:
        return await self.run(tool_ops.list_tools(user_id))

    async def delete_tool(self, user_id: str, tool_id: str) -> None:
        await self.run(tool_ops.delete_tool(user_id, tool_id))

    async def agents_with_tool(self, tool_id: str) -> list[str]:
        return await self.run(tool_ops.agents_with_tool(tool_id))

    async def attach_tool(self, agent_id: str, tool_id: str) -> bool:
        return await self.run(tool_ops.attach_tool(agent_id, tool_id, stored_time(utcnow())))

    async def detach_tool(self, agent_id: str, tool_id: str) -> bool:
        return await self.run(tool_ops.detach_tool(agent_id, tool_id))

    async def list_agent_tools(self, agent_id: str) -> list[AttachedTool]:
        return await self.run(tool_ops.list_agent_tools(agent_id))

    async def agent_tools_version(self, agent_id: str) -> ToolsVersion:
        return await self.run(tool_ops.agent_tools_version(agent_id))

    async def set_secret(self, agent_id: str, name: str, value: str) -> None:
        await self.run(tool_ops.set_secret(agent_id, name, value, stored_time(utcnow())))

    async def delete_secret(self, agent_id: str, name: str) -> bool:
        return await self.run(tool_ops.delete_secret(agent_id, name))

    async def secret_names(self, agent_id: str) -> list[str]:
        return await self.run(tool_ops.secret_names(agent_id))

    async def secrets(self, agent_id: str) -> dict[str, str]:
        return await self.run(tool_ops.secrets(agent_id))

    async def create_mcp_server(self, server: McpServer) -> None:
        server.created_at, server.updated_at = stored_time(server.created_at), stored_time(server.updated_at)
        await self.run(tool_ops.insert_server(server))

    async def update_mcp_server(self, server: McpServer) -> None:
        server.updated_at = stored_time(utcnow())
        await self.run(tool_ops.update_server(server))

    async def get_mcp_server(self, user_id: str, server: str) -> McpServer:
        return await self.run(tool_ops.get_server(user_id, server))

    async def list_mcp_servers(self, user_id: str) -> list[McpServer]:
        return await self.run(tool_ops.list_servers(user_id))

    async def delete_mcp_server(self, user_id: str, server_id: str) -> None:
        await self.run(tool_ops.delete_server(user_id, server_id))

    async def mcp_server_tools(self, server_id: str) -> list[Tool]:
        return await self.run(tool_ops.server_tools(server_id))

    # ----------------------------------------------------------------- lifecycle: history, forgetting, retention
    async def list_block_changes(self, user_id: str, block_ids: Sequence[str]) -> list[BlockChange]:
        return await self.run(history_ops.list_changes(user_id, block_ids))

    async def scrub_block_changes(self, user_id: str, block_ids: Sequence[str], needles: Sequence[str]) -> int:
        return await self.run(history_ops.scrub_changes(user_id, block_ids, needles))

    async def forget_rows(
        self, agent_id: str, message_ids: Sequence[str], passage_ids: Sequence[str]
    ) -> tuple[int, int]:
        """Delete messages and passages of the agent (rows, full-text entries, embeddings, vector index
        entries); how many of each were deleted. Joins the task's transaction if there is one."""
        messages = await self.run(lifecycle_ops.delete_messages(agent_id, message_ids))
        passages = await self.run(ops.delete_passages(agent_id, passage_ids))
        if messages:
            self.rows_forgotten("messages", agent_id, messages)
        if passages:
            self.rows_forgotten("passages", agent_id, passages)
        return len(messages), len(passages)

    async def ids_before(self, table: Table, agent_id: str, before: datetime, *, keep: Sequence[str] = ()) -> list[str]:
        """Ids of the agent's messages or passages created before ``before``, but those in ``keep``."""
        return await self.run(lifecycle_ops.ids_before(table, agent_id, before, keep))

    async def oldest_passages_over(self, agent_id: str, cap: int) -> list[str]:
        """Ids of the agent's passages older than its newest ``cap``."""
        return await self.run(lifecycle_ops.oldest_passages_over(agent_id, cap))

    def rows_forgotten(self, table: Table, owner: str, seqs: Sequence[int]) -> None:
        """Hook: rows were forgotten (their vectors must go from every copy an engine keeps)."""
        self.rows_removed(table, owner, seqs)

    async def erase_deleted(self) -> None:
        """Make deleted rows' bytes unreadable where the engine can (SQLite: merge the full-text indexes and
        truncate the WAL; PostgreSQL: VACUUM). Run after the deleting transaction committed."""

    # ----------------------------------------------------------------- bulk rows
    async def get_meta(self) -> dict[str, str]:
        return await self.run(ops.get_meta())

    async def set_meta(self, key: str, value: str | None) -> None:
        await self.run(ops.set_meta(key, value))

    async def has_vectors(self) -> bool:
        return await self.run(ops.has_vectors())

    async def read_rows(
        self, table: str, *, owner: str | None = None, after: int = 0, limit: int = 1000
    ) -> list[tuple[int, Row]]:
        """Rows of a table, of one owner or all, as (position, row) with engine-neutral values.

        Messages, passages and source passages come in insertion order, ``limit`` at a time after position
        ``after``; the small tables (agents, sources, files, attachments, meta) come whole.
        """
        check_window(after, limit)
        return await self.run(ops.read_rows(TABLES[table], owner, after, limit))

    async def write_rows(self, table: str, rows: Sequence[Row], *, replace: bool = False) -> int:
        """Insert rows as :meth:`read_rows` returns them (checked like any write); ``replace`` overwrites
        rows of the small tables whose key exists. Returns how many were written."""
        return await self.run(ops.write_rows(self.dialect, TABLES[table], rows, replace=replace))

    async def count_owner_rows(self, table: str, owner: str, *, embedded: bool = False) -> int:
        return await self.run(ops.count_owner_rows(TABLES[table], owner, embedded=embedded))

    async def read_ids(
        self, table: str, owner: str, *, after: int = 0, limit: int = 1000
    ) -> list[tuple[int, str, bool]]:
        """(position, id, has an embedding) of a bulk table's rows of one owner, in insertion order."""
        check_window(after, limit)
        return await self.run(ops.row_ids(TABLES[table], owner, after, limit))

    async def fill_embeddings(self, table: str, positions: Sequence[int], vectors: np.ndarray) -> None:
        """Give the rows at ``positions`` (of :meth:`read_rows`) that have no embedding these ones."""
        await self.run(ops.set_embeddings(self.dialect, TABLES[table].name, positions, vectors))

    async def finish_bulk_load(self, dim: int | None) -> None:
        """Build whatever indexes are best built after a bulk load (vector indexes of ``dim`` dimensions)."""


def check_window(offset: int, limit: int) -> None:
    """Refuse an offset or limit that is negative or too large for 64-bit SQL arithmetic."""
    for name, value in (("offset", offset), ("limit", limit)):
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_OFFSET:
            raise ValidationError(f"{name} must be a whole number from 0 to {MAX_OFFSET}, got {value!r}.")
