"""The storage protocols every backend implements (and the conformance suite in tests/ checks).

All methods are ``async``. ``agent_id`` arguments come from a user-scoped agent lookup
(:meth:`AgentStore.get_agent`), which is where one user is kept away from another's agents.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from memgpt.identity import ApiKey, User
from memgpt.memory.agent_state import AgentState
from memgpt.memory.blocks import Block
from memgpt.memory.history import BlockChange, EditCause
from memgpt.memory.tools import AttachedTool, McpServer, Tool, ToolsVersion
from memgpt.memory.types import Message, Passage, SearchPage, new_id, utcnow

SearchMode = Literal["hybrid", "text", "semantic"]
FileState = Literal["loading", "done"]


@dataclass(slots=True)
class Source:
    """A named collection of document passages, stored once and attachable to several agents.

    ``file_count`` and ``passage_count`` are filled in by the store when it reads a source (loaded
    files and their searchable passages).
    """

    name: str
    user_id: str
    description: str = ""
    id: str = field(default_factory=lambda: new_id("source"))
    created_at: datetime = field(default_factory=utcnow)
    metadata: dict[str, Any] = field(default_factory=dict)
    file_count: int = 0
    passage_count: int = 0


@dataclass(slots=True)
class SourceFile:
    """One version (by content hash) of one file of a source.

    ``state`` is ``"loading"`` while its passages are being added (they are not searchable yet) and
    ``"done"`` once :meth:`SourceStore.commit_source_file` published them. ``passage_count`` is the
    number of passages stored so far: a resumed load continues at that chunk index.
    """

    source_id: str
    path: str
    content_hash: str
    size: int
    state: FileState = "loading"
    passage_count: int = 0
    id: str = field(default_factory=lambda: new_id("file"))
    updated_at: datetime = field(default_factory=utcnow)
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class BlockRecord:
    """A stored core-memory block with what the prompt does not show: its owner, the agents showing it (ids,
    in the order they attached it), and whether it is kept when no agent shows it any more (``standalone``:
    made on its own; an agent's own blocks go with the last agent using them)."""

    block: Block
    user_id: str
    standalone: bool
    agent_ids: list[str]
    created_at: datetime
    updated_at: datetime


class AgentStore(Protocol):
    async def create_agent(self, state: AgentState) -> None:
        """Persist a new agent with ``state.blocks`` as new blocks of its own; AlreadyExistsError if the user
        already has an agent of that name."""

    async def get_agent(self, user_id: str, agent: str) -> AgentState:
        """Load an agent by id or name; NotFoundError if the user has none such."""

    async def list_agents(self, user_id: str) -> list[AgentState]:
        """The user's agents, oldest first."""

    async def save_agent(self, state: AgentState) -> None:
        """Write blocks, FIFO, summary and settings of an existing agent."""

    async def delete_agent(self, user_id: str, agent_id: str) -> None:
        """Delete an agent with all its messages and passages, and those of its blocks no other agent shows
        (unless they were made on their own)."""

    async def append_and_save(self, state: AgentState, messages: Sequence[Message]) -> None:
        """Append ``messages`` to the agent's recall store and save its state, in one atomic write."""


class BlockStore(Protocol):
    """Core-memory blocks as objects of their own, attachable to several agents of their user.

    Every save is compare-and-set on the block's ``version``: :meth:`update_block` changes nothing and raises
    BlockChangedError if the block was saved by anyone since the given copy was read.
    """

    async def create_block(self, user_id: str, block: Block, *, standalone: bool = True) -> None:
        """Store a new block (``standalone``: kept when no agent shows it)."""

    async def get_block(self, user_id: str, block_id: str) -> BlockRecord:
        """NotFoundError if the user has no block of that id."""

    async def list_blocks(self, user_id: str, *, label: str | None = None) -> list[BlockRecord]:
        """The user's blocks (of one label), oldest first."""

    async def agent_blocks(self, agent_id: str) -> list[Block]:
        """The blocks the agent shows, in its order, as stored now."""

    async def update_block(
        self, user_id: str, block: Block, *, agent_id: str | None = None, cause: EditCause | None = None
    ) -> Block:
        """Save a changed copy of a block (label, value, limit, description, read-only) if the stored block is
        still ``block.version``; returns the saved block with its new version. With ``agent_id`` the block must
        still be attached to that agent. BlockChangedError, NotFoundError, or AlreadyExistsError (a new label
        another block of one of its agents has). The change goes into the block's history with ``cause``."""

    async def attach_block(self, agent_id: str, block_id: str) -> bool:
        """Show the block last in the agent's core memory; False if it already does. AlreadyExistsError if the
        agent has another block of that label, NotFoundError unless both belong to one user."""

    async def detach_block(self, agent_id: str, block_id: str) -> bool:
        """Stop showing the block to the agent (False if it did not); a block then shown by no agent is kept
        as a block of its own."""

    async def delete_block(self, user_id: str, block_id: str) -> list[str]:
        """Delete a block and detach it everywhere; the ids of the agents that showed it."""


class RecallStore(Protocol):
    async def append_messages(self, agent_id: str, messages: Sequence[Message]) -> None:
        """Store messages (in order); their embeddings are computed later, off the reply path."""

    async def get_messages(self, agent_id: str, ids: Sequence[str]) -> list[Message]:
        """Messages by id, in the order of ``ids``; NotFoundError if one is missing."""

    async def list_messages(
        self, agent_id: str, *, offset: int = 0, limit: int = 100, newest_first: bool = False
    ) -> list[Message]:
        """A range of the agent's messages in insertion order (or newest first)."""

    async def message_window(
        self,
        agent_id: str,
        *,
        after: str | None = None,
        before: str | None = None,
        limit: int = 100,
        newest: bool = False,
    ) -> list[Message]:
        """Messages strictly between two message ids (either may be None): the oldest ``limit``, or the
        newest; oldest first either way. NotFoundError if a cursor id is not one of the agent's messages."""

    async def count_messages(self, agent_id: str) -> int: ...

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
        """Full-text and/or semantic search over the recall store; ties go to the newest message.

        ``exclude_ids``: messages left out of the results (the agent passes those in its context window).
        """

    async def search_messages_by_date(
        self, agent_id: str, start: datetime, end: datetime, *, page: int = 0, page_size: int = 5
    ) -> SearchPage:
        """Messages with ``start <= created_at < end``, oldest first."""

    async def embed_pending_messages(self, agent_id: str, *, limit: int = 1000) -> int:
        """Embed stored messages that have no embedding yet; returns how many were embedded."""


class ArchivalStore(Protocol):
    async def insert_passages(self, agent_id: str, passages: Sequence[Passage]) -> list[str]:
        """Embed and store passages in one transaction; returns their ids. Inside a transaction (a step)
        they are stored without embeddings, for :meth:`embed_pending_passages` after it."""

    async def embed_pending_passages(self, agent_id: str, *, limit: int = 1000) -> int:
        """Embed stored passages that have no embedding yet; returns how many were embedded."""

    async def search_passages(
        self, agent_id: str, query: str, *, page: int = 0, page_size: int = 5, mode: SearchMode = "hybrid"
    ) -> SearchPage:
        """Hybrid (vector + BM25, fused) search over the agent's passages."""

    async def get_passages(self, agent_id: str, ids: Sequence[str]) -> list[Passage]: ...

    async def list_passages(self, agent_id: str, *, offset: int = 0, limit: int = 100) -> list[Passage]: ...

    async def passage_window(
        self,
        agent_id: str,
        *,
        after: str | None = None,
        before: str | None = None,
        limit: int = 100,
        newest: bool = False,
    ) -> list[Passage]:
        """The agent's own passages between two passage ids, as :meth:`RecallStore.message_window`."""

    async def count_passages(self, agent_id: str) -> int:
        """The passages archival search covers: the agent's own plus its attached sources' published ones."""

    async def delete_passages(self, agent_id: str, ids: Sequence[str]) -> int:
        """Delete passages by id; returns how many existed."""


@dataclass(frozen=True, slots=True)
class SourceChunks:
    """Consecutive chunks of one loading file, starting at chunk index ``first_chunk``."""

    file_id: str
    first_chunk: int
    passages: Sequence[Passage]


class SourceStore(Protocol):
    """Document sources: named, user-scoped collections of passages, attachable to agents.

    An agent's :meth:`ArchivalStore.search_passages` ranks its own passages and the published passages
    of every attached source in one list (source hits carry the passage's metadata: source, title,
    page or section, chunk). Loading is file by file: :meth:`begin_source_file` opens (or resumes) a
    version of a file, :meth:`add_source_chunks` stores its chunks in order, and
    :meth:`commit_source_file` publishes them while removing the file's previous version, atomically.
    Until then the new chunks are invisible; a load that dies leaves only an invisible ``loading``
    version, which the next load of the same content resumes (or a load of other content replaces).
    """

    async def create_source(self, source: Source) -> None:
        """Persist a new source; AlreadyExistsError if the user already has a source of that name."""

    async def get_source(self, user_id: str, source: str) -> Source:
        """A source by id or name, with its counts; NotFoundError if the user has none such."""

    async def list_sources(self, user_id: str) -> list[Source]:
        """The user's sources with their counts, oldest first."""

    async def delete_source(self, user_id: str, source_id: str) -> None:
        """Delete a source with its files and passages and detach it everywhere; NotFoundError if missing."""

    async def attach_source(self, agent_id: str, source_id: str) -> bool:
        """Make the source's passages part of the agent's archival memory; False if it already was."""

    async def detach_source(self, agent_id: str, source_id: str) -> bool:
        """Stop searching the source for the agent (its passages stay stored); False if it was not attached."""

    async def list_agent_sources(self, agent_id: str) -> list[Source]:
        """The sources attached to the agent, in the order they were attached."""

    async def begin_source_file(self, file: SourceFile) -> SourceFile:
        """Open a version of a file for loading, or find it; returns the stored record.

        The record for ``(file.source_id, file.path, file.content_hash)`` is returned as stored if it
        exists: ``state == "done"`` means this content is already loaded (nothing to do), ``"loading"``
        means an earlier load stopped after ``passage_count`` chunks (continue from there). Otherwise
        ``file`` is stored as ``loading`` with no passages. In every case any other ``loading`` version of
        the same path (an abandoned load of other content) is deleted with its passages; the ``done``
        version of the path (if any) stays searchable until a new one commits.
        """

    async def add_source_passages(self, file_id: str, first_chunk: int, passages: Sequence[Passage]) -> int:
        """Embed and store the chunks ``first_chunk, first_chunk + 1, ...`` of a loading file in one transaction.

        Chunks already stored under those indexes are kept (so a retried batch adds nothing). Sets the
        file's ``passage_count`` to the number of chunks stored and returns it. NotFoundError if the
        file is unknown, ValidationError if it is already committed or ``first_chunk`` leaves a gap.
        """

    async def add_source_chunks(self, batches: Sequence[SourceChunks]) -> list[int]:
        """:meth:`add_source_passages` for chunks of several files at once: one embedding call, one transaction.

        Loading many small files embeds them together (batching matters: MiniLM on a CPU embeds about
        4x more passages per second in batches of 32 than one by one). Returns each batch's file
        ``passage_count`` after the write, in order; nothing is stored if any batch is refused.
        """

    async def commit_source_file(self, file_id: str) -> SourceFile:
        """Publish a loading file's passages and delete every other version of its path, atomically."""

    async def delete_source_file(self, file_id: str) -> None:
        """Delete one file version with its passages (an abandoned or failed load); no error if missing."""

    async def list_source_files(self, source_id: str) -> list[SourceFile]:
        """Every file version of the source (``done`` and ``loading``), ordered by path."""

    async def read_passage_context(
        self, agent_id: str, passage_id: str, *, before: int = 0, after: int = 1
    ) -> list[Passage]:
        """A passage the agent can search, with up to ``before`` / ``after`` neighbouring chunks of its document.

        Returned in document order. An agent's own passages have no neighbours (only the passage is
        returned). NotFoundError if the passage is neither the agent's nor in an attached source.
        """


class UserStore(Protocol):
    """Users and their API keys (see :mod:`memgpt.identity`)."""

    async def create_user(self, user: User) -> None:
        """AlreadyExistsError if the name is taken."""

    async def get_user(self, user: str) -> User:
        """By id or name; NotFoundError if there is none."""

    async def list_users(self) -> list[User]: ...

    async def delete_user(self, user_id: str) -> None:
        """Delete the user with every agent, source and key of theirs, and nothing of anyone else."""

    async def create_api_key(self, key: ApiKey) -> None: ...

    async def find_api_key(self, key_hash: str) -> tuple[ApiKey, User] | None:
        """The active (not revoked) key of that hash, with its user."""

    async def touch_api_key(self, key_id: str) -> None:
        """Record that the key was used now."""

    async def list_api_keys(self, user_id: str) -> list[ApiKey]: ...

    async def revoke_api_key(self, user_id: str, key: str) -> ApiKey:
        """Revoke one of the user's keys by id or shown prefix (revoking twice is no error)."""


class ToolStore(Protocol):
    """Custom tools, MCP servers and their tools (user-scoped), the tools attached to each agent, and each
    agent's tool variables (secrets passed to its tools, never shown)."""

    async def create_tool(self, tool: Tool) -> None:
        """AlreadyExistsError if the user has a tool of that name."""

    async def update_tool(self, tool: Tool) -> None:
        """Overwrite a tool (same id: its attachments stay); ``updated_at`` becomes now."""

    async def get_tool(self, user_id: str, tool: str) -> Tool:
        """By id or name; NotFoundError if the user has none such."""

    async def list_tools(self, user_id: str) -> list[Tool]:
        """The user's tools, oldest first."""

    async def delete_tool(self, user_id: str, tool_id: str) -> None:
        """Delete a tool and detach it everywhere; NotFoundError if missing."""

    async def agents_with_tool(self, tool_id: str) -> list[str]:
        """Names of the agents the tool is attached to."""

    async def attach_tool(self, agent_id: str, tool_id: str) -> bool:
        """Give the agent the tool (of the same user); False if it already had it."""

    async def detach_tool(self, agent_id: str, tool_id: str) -> bool:
        """False if the agent did not have the tool."""

    async def list_agent_tools(self, agent_id: str) -> list[AttachedTool]:
        """The agent's tools in the order they were attached, with their MCP servers."""

    async def agent_tools_version(self, agent_id: str) -> ToolsVersion:
        """A value that changes whenever the agent's tools were attached, detached or edited."""

    async def set_secret(self, agent_id: str, name: str, value: str) -> None:
        """Set (or replace) one of the agent's tool variables."""

    async def delete_secret(self, agent_id: str, name: str) -> bool: ...

    async def secret_names(self, agent_id: str) -> list[str]: ...

    async def secrets(self, agent_id: str) -> dict[str, str]:
        """The agent's tool variables with their values (for its tools' processes only)."""

    async def create_mcp_server(self, server: McpServer) -> None:
        """AlreadyExistsError if the user has a server of that name."""

    async def update_mcp_server(self, server: McpServer) -> None: ...

    async def get_mcp_server(self, user_id: str, server: str) -> McpServer:
        """By id or name; NotFoundError if the user has none such."""

    async def list_mcp_servers(self, user_id: str) -> list[McpServer]: ...

    async def delete_mcp_server(self, user_id: str, server_id: str) -> None:
        """Delete a server with the tools taken from it."""

    async def mcp_server_tools(self, server_id: str) -> list[Tool]:
        """The tools registered from the server."""


class BulkStore(Protocol):
    """Every table's rows in batches, as engine-neutral dicts (``db copy``, agent export and import).

    The tables and columns are those of :mod:`memgpt.storage.schema`; values are Python values
    (``datetime``, ``dict``/``list`` for JSON, float32 arrays for embeddings).
    """

    async def get_meta(self) -> dict[str, str]: ...

    async def set_meta(self, key: str, value: str | None) -> None: ...

    async def has_vectors(self) -> bool: ...

    async def read_rows(
        self, table: str, *, owner: str | None = None, after: int = 0, limit: int = 1000
    ) -> list[tuple[int, dict[str, Any]]]:
        """(position, row) of a table, of one owner (agent, source or user) or all, in insertion order."""

    async def write_rows(self, table: str, rows: Sequence[dict[str, Any]], *, replace: bool = False) -> int:
        """Insert rows as :meth:`read_rows` returns them, checked like every write; how many were written."""

    async def count_owner_rows(self, table: str, owner: str, *, embedded: bool = False) -> int: ...

    async def read_ids(
        self, table: str, owner: str, *, after: int = 0, limit: int = 1000
    ) -> list[tuple[int, str, bool]]:
        """(position, id, has an embedding) of the owner's rows of a bulk table, in insertion order."""

    async def fill_embeddings(self, table: str, positions: Sequence[int], vectors: Any) -> None:
        """Give the rows at ``positions`` that have no embedding these ones (float32, one row per position)."""

    async def finish_bulk_load(self, dim: int | None) -> None:
        """Build what is best built after loading many rows (vector indexes of ``dim`` dimensions)."""


class LifecycleStore(Protocol):
    """Edit history of blocks, forgetting and retention (see :mod:`memgpt.lifecycle`)."""

    async def list_block_changes(self, user_id: str, block_ids: Sequence[str]) -> list[BlockChange]:
        """The saved changes of the user's blocks, per block oldest first."""

    async def scrub_block_changes(self, user_id: str, block_ids: Sequence[str], needles: Sequence[str]) -> int:
        """Replace forgotten text in the blocks' history; how many changes were rewritten."""

    async def forget_rows(
        self, agent_id: str, message_ids: Sequence[str], passage_ids: Sequence[str]
    ) -> tuple[int, int]:
        """Delete messages and passages of the agent from every index; how many of each were deleted."""

    async def ids_before(
        self, table: Literal["messages", "passages"], agent_id: str, before: datetime, *, keep: Sequence[str] = ()
    ) -> list[str]:
        """Ids of the agent's messages or passages created before ``before``, but those in ``keep``."""

    async def oldest_passages_over(self, agent_id: str, cap: int) -> list[str]:
        """Ids of the agent's passages older than its newest ``cap``."""

    async def erase_deleted(self) -> None:
        """Make deleted rows' bytes unreadable where the engine can; after the deleting transaction."""


class Savepoint(Protocol):
    def discard(self) -> None:
        """Undo what was written inside the savepoint when it ends."""


class Store(
    AgentStore,
    BlockStore,
    RecallStore,
    ArchivalStore,
    SourceStore,
    UserStore,
    ToolStore,
    BulkStore,
    LifecycleStore,
    Protocol,
):
    """One database holding agents, the recall store and the archival store."""

    semantic_search_available: bool
    description: str  # for messages: the file, or the database without its password
    migrated: tuple[int, int]  # schema version before and after opening

    def lock_agent(self, agent_id: str, *, timeout: float = 60.0) -> AbstractAsyncContextManager[None]:
        """Hold the agent's lock (in this process and across processes); AgentBusyError after ``timeout``."""

    def transaction(self) -> AbstractAsyncContextManager[None]:
        """Group every store call made by this task inside the block into one atomic transaction.

        The transaction begins at its first write: reads before it see the store as it is. A task that is
        cancelled inside the block rolls everything back; nothing of it is ever half-saved.
        """

    def savepoint(self) -> AbstractAsyncContextManager[Savepoint]:
        """A part of the task's transaction (a tool call) that rolls back alone on an exception or
        :meth:`Savepoint.discard`, leaving the rest of the transaction usable."""

    def in_transaction(self) -> bool: ...

    async def close(self) -> None: ...
