"""The public Python API: everything the CLI and the server do goes through :class:`Client`.

Example::

    import asyncio
    from memgpt import Client

    async def main() -> None:
        async with await Client.open() as client:
            await client.create_agent("sam", model="openai/gpt-4o-mini")
            for event in await client.send_message("sam", "Hi, I'm Ada."):
                if event.type == "assistant_message":
                    print(event.content)

    asyncio.run(main())

:class:`SyncClient` wraps the same API for scripts that do not use asyncio.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from memgpt.agent.agent import Agent, EventCallback
from memgpt.agent.events import AgentEvent
from memgpt.agent.prompts import load_prompt
from memgpt.embeddings.base import Embedder
from memgpt.errors import ConfigError, EmbeddingUnavailableError, NotFoundError, ValidationError
from memgpt.llm.base import LLMClient
from memgpt.memory.agent_state import LOCAL_USER_ID, AgentSettings, AgentState
from memgpt.memory.blocks import Block, CoreMemory
from memgpt.memory.protocols import SearchMode, Source, SourceFile, Store
from memgpt.memory.types import Message, Passage, SearchPage, check_sender_name

if TYPE_CHECKING:
    from memgpt.sources.loader import LoadOptions, LoadReport, ProgressCallback

log = logging.getLogger(__name__)
T = TypeVar("T")
LLMFactory = Callable[[str], LLMClient]


def _open_default_embedder(spec: str | None) -> Embedder | None:
    from memgpt.embeddings import open_embedder

    try:
        return open_embedder(spec)
    except EmbeddingUnavailableError as exc:
        log.warning("Semantic search is off: %s", exc)
        return None


def _check_source_name(name: str) -> None:
    if not name or len(name) > 100 or not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise ValidationError(f"Source name {name!r} must be 1-100 letters, digits, '-', '_' or '.'.")


class Client:
    """Agents, messages, memory and search for one user of one store."""

    def __init__(
        self,
        store: Store,
        *,
        user_id: str = LOCAL_USER_ID,
        llm: LLMClient | None = None,
        llm_factory: LLMFactory | None = None,
    ) -> None:
        self.store = store
        self.user_id = user_id
        self._llm = llm
        self._llm_factory = llm_factory
        self._llms: dict[str, LLMClient] = {}
        self._agents: dict[str, Agent] = {}

    @classmethod
    async def open(
        cls,
        database_url: str | None = None,
        *,
        embedder: Embedder | str | None = "default",
        llm: LLMClient | None = None,
        llm_factory: LLMFactory | None = None,
        user_id: str = LOCAL_USER_ID,
    ) -> Client:
        """Open the store (default ``$MEMGPT_DATABASE_URL``) with the configured embedding model.

        ``embedder="default"`` reads ``MEMGPT_EMBEDDING``; pass ``None`` to turn semantic search off,
        or an :class:`Embedder`. ``llm`` serves every agent (tests); otherwise each agent's model is
        opened from its spec with ``MEMGPT_LLM_BASE_URL`` / ``MEMGPT_LLM_API_KEY``.
        """
        from memgpt.storage import open_store

        resolved = _open_default_embedder(None) if embedder == "default" else embedder
        assert not isinstance(resolved, str)
        store = await open_store(database_url, embedder=resolved)
        return cls(store, user_id=user_id, llm=llm, llm_factory=llm_factory)

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Finish background work and close the store and LLM clients."""
        for agent in self._agents.values():
            await agent.wait_background()
        for client in self._llms.values():
            await client.close()
        await self.store.close()

    # ----------------------------------------------------------------- agents
    async def create_agent(
        self,
        name: str,
        *,
        model: str | None = None,
        persona: str | None = None,
        human: str | None = None,
        context_window: int | None = None,
        blocks: Sequence[Block] = (),
        settings: AgentSettings | None = None,
    ) -> AgentState:
        """Create an agent with ``persona`` and ``human`` blocks (and any extra ``blocks``)."""
        from memgpt.llm.models import context_window_for, resolve_model

        if not name or len(name) > 100 or not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
            raise ValidationError(f"Agent name {name!r} must be 1-100 letters, digits, '-', '_' or '.'.")
        spec = resolve_model(model or os.environ.get("MEMGPT_MODEL"))
        window = context_window or context_window_for(spec)
        if window < 1000:
            raise ValidationError(f"context_window must be at least 1000 tokens, got {window}.")
        core = [
            Block("persona", load_prompt("persona_default") if persona is None else persona),
            Block("human", load_prompt("human_default") if human is None else human),
            *blocks,
        ]
        CoreMemory(core)  # validates labels and limits before anything is written
        state = AgentState(
            name=name, model=spec, context_window=window, blocks=core, settings=settings or AgentSettings()
        )
        await self.store.create_agent(state)
        return state

    async def get_agent(self, agent: str) -> AgentState:
        return await self.store.get_agent(self.user_id, agent)

    async def list_agents(self) -> list[AgentState]:
        return await self.store.list_agents(self.user_id)

    async def delete_agent(self, agent: str) -> None:
        state = await self.get_agent(agent)
        async with self.store.lock_agent(state.id):
            await self.store.delete_agent(self.user_id, state.id)
        agent_obj = self._agents.pop(state.id, None)
        if agent_obj is not None:
            await agent_obj.wait_background()

    async def agent_info(self, agent: str) -> dict[str, Any]:
        """A JSON-ready description of the agent (what ``memgpt agents show --json`` prints)."""
        state = await self.get_agent(agent)
        return {
            "id": state.id,
            "name": state.name,
            "model": state.model,
            "context_window": state.context_window,
            "system_prompt_version": state.system_prompt_version,
            "memory": {b.label: {"value": b.value, "limit": b.limit, "read_only": b.read_only} for b in state.blocks},
            "recall_messages": await self.store.count_messages(state.id),
            "archival_passages": await self.store.count_passages(state.id),
            "in_context_messages": len(state.fifo_ids),
            "summary": state.summary,
            "created_at": state.created_at.isoformat(),
            "updated_at": state.updated_at.isoformat(),
        }

    # ----------------------------------------------------------------- messages
    async def send_message(
        self,
        agent: str,
        text: str,
        *,
        role: str = "user",
        name: str | None = None,
        on_event: EventCallback | None = None,
    ) -> list[AgentEvent]:
        """Send one user message (or a system event with ``role="system"``) and run the agent to completion.

        ``name`` says who sent a user message when several people talk to the agent: the model sees
        "Name: text", and ``conversation_search`` favours the messages of a sender its query names.
        """
        if not text.strip():
            raise ValidationError("The message is empty.")
        if name is not None:
            check_sender_name(name)
            if role != "user":
                raise ValidationError("Only user messages have a sender name.")
        loaded = await self._agent(agent)
        return await loaded.send(text, role=role, name=name, on_event=on_event)

    async def list_messages(
        self, agent: str, *, limit: int = 100, offset: int = 0, newest_first: bool = False
    ) -> list[Message]:
        state = await self.get_agent(agent)
        return await self.store.list_messages(state.id, limit=limit, offset=offset, newest_first=newest_first)

    async def context(self, agent: str) -> dict[str, int]:
        """Estimated token breakdown of the agent's main context."""
        return await (await self._agent(agent)).context_breakdown()

    # ----------------------------------------------------------------- memory
    async def get_memory(self, agent: str) -> list[Block]:
        return (await self.get_agent(agent)).blocks

    async def update_block(self, agent: str, label: str, value: str) -> Block:
        """Overwrite a core-memory block (read-only blocks too: this is the user, not the agent)."""
        state = await self.get_agent(agent)
        async with self.store.lock_agent(state.id):
            state = await self.get_agent(agent)
            memory = CoreMemory(state.blocks)
            block = memory.set_value(label, value, force=True)
            state.blocks = memory.blocks
            await self.store.save_agent(state)
        return block

    async def insert_passages(self, agent: str, texts: Sequence[str | Passage]) -> list[str]:
        state = await self.get_agent(agent)
        passages = [t if isinstance(t, Passage) else Passage(text=t) for t in texts]
        ids = await self.store.insert_passages(state.id, passages)
        if state.id in self._agents:
            self._agents[state.id].invalidate_counts()
        return ids

    async def import_messages(self, agent: str, messages: Sequence[Message], *, embed: bool = True) -> int:
        """Add past messages (keeping their timestamps) to the agent's recall store, outside its context.

        The agent finds them with ``conversation_search``; with ``embed`` they are embedded before returning.
        """
        for message in messages:
            if message.role == "user" and message.name is not None:
                check_sender_name(message.name)
        state = await self.get_agent(agent)
        async with self.store.lock_agent(state.id):
            await self.store.append_messages(state.id, list(messages))
        if state.id in self._agents:
            self._agents[state.id].invalidate_counts()
        if embed and self.store.semantic_search_available:
            while await self.store.embed_pending_messages(state.id):
                pass
        return len(messages)

    async def search(
        self,
        agent: str,
        query: str,
        *,
        archival: bool = False,
        page: int = 0,
        page_size: int = 5,
        mode: SearchMode = "hybrid",
    ) -> SearchPage:
        """Search the agent's recall store (default) or archival store."""
        state = await self.get_agent(agent)
        if archival:
            return await self.store.search_passages(state.id, query, page=page, page_size=page_size, mode=mode)
        return await self.store.search_messages(state.id, query, page=page, page_size=page_size, mode=mode)

    # ----------------------------------------------------------------- sources
    async def create_source(self, name: str, *, description: str = "") -> Source:
        """Create an empty source (a named collection of documents) that agents can attach."""
        _check_source_name(name)
        source = Source(name=name, user_id=self.user_id, description=description)
        await self.store.create_source(source)
        return source

    async def get_source(self, source: str) -> Source:
        """A source by name or id, with its file and passage counts."""
        return await self.store.get_source(self.user_id, source)

    async def list_sources(self) -> list[Source]:
        return await self.store.list_sources(self.user_id)

    async def delete_source(self, source: str) -> None:
        """Delete a source with all its passages; every agent it was attached to stops searching it."""
        found = await self.get_source(source)
        await self.store.delete_source(self.user_id, found.id)
        self._invalidate_counts()

    async def attach_source(self, agent: str, source: str) -> Source:
        """Make a source part of the agent's archival memory (no-op if it already is)."""
        state, found = await self.get_agent(agent), await self.get_source(source)
        await self.store.attach_source(state.id, found.id)
        self._invalidate_counts()
        return found

    async def detach_source(self, agent: str, source: str) -> None:
        """Stop searching a source for the agent; NotFoundError if it is not attached."""
        state, found = await self.get_agent(agent), await self.get_source(source)
        if not await self.store.detach_source(state.id, found.id):
            raise NotFoundError(f"Source {found.name!r} is not attached to agent {state.name!r}.")
        self._invalidate_counts()

    async def list_agent_sources(self, agent: str) -> list[Source]:
        return await self.store.list_agent_sources((await self.get_agent(agent)).id)

    async def list_source_files(self, source: str) -> list[SourceFile]:
        return await self.store.list_source_files((await self.get_source(source)).id)

    async def load(
        self,
        paths: Sequence[str | Path],
        *,
        agent: str | None = None,
        source: str | None = None,
        options: LoadOptions | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> LoadReport:
        """Load files and folders into a source (created if missing) and attach it to ``agent``.

        ``source`` defaults to the name of the first path. Loading is idempotent (unchanged files are
        skipped, changed ones replaced) and resumes an interrupted load; unreadable files are skipped
        with a reason in the report.
        """
        from memgpt.sources.loader import default_source_name, load_files

        if not paths:
            raise ValidationError("Give at least one file or folder to load.")
        state = await self.get_agent(agent) if agent is not None else None
        name = source or default_source_name(paths)
        try:
            found = await self.get_source(name)
        except NotFoundError:
            found = await self.create_source(name)
        if state is not None:
            await self.store.attach_source(state.id, found.id)
        try:
            report = await load_files(self.store, found, paths, options=options, on_progress=on_progress)
        finally:
            self._invalidate_counts()
        report.source = await self.get_source(found.id)
        return report

    def _invalidate_counts(self) -> None:
        for loaded in self._agents.values():
            loaded.invalidate_counts()

    # ----------------------------------------------------------------- internals
    async def _agent(self, agent: str) -> Agent:
        for cached in self._agents.values():  # Agent.send refreshes its state under the lock
            if agent in (cached.state.id, cached.state.name):
                return cached
        state = await self.get_agent(agent)
        loaded = await Agent.load(self.store, state, self._llm_for(state.model))
        self._agents[state.id] = loaded
        return loaded

    def _llm_for(self, model: str) -> LLMClient:
        if self._llm is not None:
            return self._llm
        if model not in self._llms:
            if self._llm_factory is not None:
                self._llms[model] = self._llm_factory(model)
            else:
                from memgpt.llm.models import open_llm

                self._llms[model] = open_llm(model)
        return self._llms[model]


class SyncClient:
    """A blocking wrapper of :class:`Client` for scripts; every method mirrors the async one."""

    def __init__(self, database_url: str | None = None, **options: Any) -> None:
        self._runner = asyncio.Runner()
        self._client: Client = self._runner.run(Client.open(database_url, **options))

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._client, name)
        if not asyncio.iscoroutinefunction(method):
            raise AttributeError(name)

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._run(method(*args, **kwargs))

        return call

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self._runner.run(coro)

    def close(self) -> None:
        self._runner.run(self._client.close())
        self._runner.close()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["Client", "ConfigError", "SyncClient"]
