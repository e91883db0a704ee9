"""The storage protocols every backend implements (and the conformance suite in tests/ checks).

All methods are ``async``. ``agent_id`` arguments come from a user-scoped agent lookup
(:meth:`AgentStore.get_agent`), which is where one user is kept away from another's agents.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Literal, Protocol

from memgpt.memory.agent_state import AgentState
from memgpt.memory.types import Message, Passage, SearchPage

SearchMode = Literal["hybrid", "text", "semantic"]


class AgentStore(Protocol):
    async def create_agent(self, state: AgentState) -> None:
        """Persist a new agent; AlreadyExistsError if the user already has an agent of that name."""

    async def get_agent(self, user_id: str, agent: str) -> AgentState:
        """Load an agent by id or name; NotFoundError if the user has none such."""

    async def list_agents(self, user_id: str) -> list[AgentState]:
        """The user's agents, oldest first."""

    async def save_agent(self, state: AgentState) -> None:
        """Write blocks, FIFO, summary and settings of an existing agent."""

    async def delete_agent(self, user_id: str, agent_id: str) -> None:
        """Delete an agent with all its messages and passages."""

    async def append_and_save(self, state: AgentState, messages: Sequence[Message]) -> None:
        """Append ``messages`` to the agent's recall store and save its state, in one atomic write."""


class RecallStore(Protocol):
    async def append_messages(self, agent_id: str, messages: Sequence[Message]) -> None:
        """Store messages (in order); their embeddings are computed later, off the reply path."""

    async def get_messages(self, agent_id: str, ids: Sequence[str]) -> list[Message]:
        """Messages by id, in the order of ``ids``; NotFoundError if one is missing."""

    async def list_messages(
        self, agent_id: str, *, offset: int = 0, limit: int = 100, newest_first: bool = False
    ) -> list[Message]:
        """A range of the agent's messages in insertion order (or newest first)."""

    async def count_messages(self, agent_id: str) -> int: ...

    async def search_messages(
        self, agent_id: str, query: str, *, page: int = 0, page_size: int = 5, mode: SearchMode = "hybrid"
    ) -> SearchPage:
        """Full-text and/or semantic search over the recall store; ties go to the newest message."""

    async def search_messages_by_date(
        self, agent_id: str, start: datetime, end: datetime, *, page: int = 0, page_size: int = 5
    ) -> SearchPage:
        """Messages with ``start <= created_at < end``, oldest first."""

    async def embed_pending_messages(self, agent_id: str, *, limit: int = 1000) -> int:
        """Embed stored messages that have no embedding yet; returns how many were embedded."""


class ArchivalStore(Protocol):
    async def insert_passages(self, agent_id: str, passages: Sequence[Passage]) -> list[str]:
        """Embed and store passages in one transaction; returns their ids."""

    async def search_passages(
        self, agent_id: str, query: str, *, page: int = 0, page_size: int = 5, mode: SearchMode = "hybrid"
    ) -> SearchPage:
        """Hybrid (vector + BM25, fused) search over the agent's passages."""

    async def get_passages(self, agent_id: str, ids: Sequence[str]) -> list[Passage]: ...

    async def list_passages(self, agent_id: str, *, offset: int = 0, limit: int = 100) -> list[Passage]: ...

    async def count_passages(self, agent_id: str) -> int: ...

    async def delete_passages(self, agent_id: str, ids: Sequence[str]) -> int:
        """Delete passages by id; returns how many existed."""


class Store(AgentStore, RecallStore, ArchivalStore, Protocol):
    """One database holding agents, the recall store and the archival store."""

    semantic_search_available: bool

    def lock_agent(self, agent_id: str, *, timeout: float = 60.0) -> AbstractAsyncContextManager[None]:
        """Hold the agent's lock (in this process and across processes); AgentBusyError after ``timeout``."""

    def transaction(self) -> AbstractAsyncContextManager[None]:
        """Group every store call made by this task inside the block into one atomic transaction."""

    async def close(self) -> None: ...
