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
import contextlib
import logging
import os
import re
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, Literal, ParamSpec, TypeVar

from memgpt.agent.agent import Agent, EventCallback, compiler_for
from memgpt.agent.events import AgentEvent
from memgpt.agent.prompts import load_prompt
from memgpt.embeddings.base import Embedder
from memgpt.errors import AlreadyExistsError, ConfigError, EmbeddingUnavailableError, NotFoundError, ValidationError
from memgpt.identity import KEY_PREFIX, ApiKey, NewApiKey, User, check_user_name, hash_key, new_key
from memgpt.llm.base import LLMClient
from memgpt.memory.agent_state import LOCAL_USER_ID, AgentSettings, AgentState
from memgpt.memory.block_edits import save_edit
from memgpt.memory.blocks import DEFAULT_BLOCK_LIMIT, Block, CoreMemory
from memgpt.memory.history import BlockChange, EditCause, check_channel, value_at
from memgpt.memory.protocols import BlockRecord, SearchMode, Source, SourceFile, Store
from memgpt.memory.redaction import redact_for
from memgpt.memory.tools import McpServer, SandboxMode, Tool
from memgpt.memory.types import Message, Passage, SearchPage, check_sender_name, new_id, utcnow
from memgpt.sources import uploads
from memgpt.storage.records import looks_like_id
from memgpt.tools.runtime import ToolRuntime, schemas_of
from memgpt.validation import (
    MAX_OFFSET,
    check_int,
    check_json,
    check_page,
    check_text,
    is_blank,
    is_storable,
    normalize_name,
)

if TYPE_CHECKING:
    from memgpt.agent.check import ContextCheck
    from memgpt.agent.overview import ContextOverview
    from memgpt.agentfile import ImportReport
    from memgpt.lifecycle.forget import ForgetReport
    from memgpt.lifecycle.retention import RetentionResult
    from memgpt.lifecycle.user_data import UserExport
    from memgpt.sources.loader import FileOutcome, LoadOptions, LoadReport, ProgressCallback
    from memgpt.tools.mcp_client import RemoteTool
    from memgpt.tools.rules import ToolRule

log = logging.getLogger(__name__)
T = TypeVar("T")
P = ParamSpec("P")
LLMFactory = Callable[[str], LLMClient]
DuplicateHandling = Literal["replace", "skip", "error", "suffix"]


def _open_default_embedder(spec: str | None) -> Embedder | None:
    from memgpt.embeddings import open_embedder

    try:
        return open_embedder(spec)
    except EmbeddingUnavailableError as exc:
        log.warning("Semantic search is off: %s", exc)
        return None


_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
ROLES = ("system", "user", "assistant", "tool")
MAX_LIST_LIMIT = 100_000
MAX_CONTEXT_WINDOW = 100_000_000
MAX_BLOCK_LIMIT = 1_000_000
MAX_SYSTEM_CHARS = 100_000
LOCAL_USER_NAME = "local"
KEY_TOUCH_INTERVAL = timedelta(minutes=1)  # last_used_at is approximate: no write on every request


def _core_block(label: str, text: str | None, blocks: Sequence[Block], default_prompt: str) -> Block:
    """The ``persona`` or ``human`` block: given as a Block, as text, or the shipped default."""
    given = [b for b in blocks if b.label == label]
    if len(given) > 1:
        raise ValidationError(f"Two {label!r} blocks were given; an agent has one.")
    if given and text is not None:
        raise ValidationError(f"The {label} was given both as text and as a block; give one.")
    if given:
        return given[0]
    return Block(label, load_prompt(default_prompt) if text is None else text)


def _object_name(value: object, what: str) -> str:
    """A name for an agent or a source: NFC, 1-100 letters, digits, '-', '_' or '.', and not shaped like an id."""
    name = normalize_name(value, f"{what} name")
    if not name or len(name) > 100 or not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise ValidationError(f"{what} name {name!r} must be 1-100 letters, digits, '-', '_' or '.'.")
    kind = what.lower()
    if re.fullmatch(f"{kind}-{_UUID}", name, re.IGNORECASE):  # lookups take a name or an id: keep them apart
        raise ValidationError(f"{what} name {name!r} has the shape of an id ({kind}-<uuid>); choose another name.")
    return name


def _reference(value: object, what: str) -> str:
    """An agent or source given by name or id, as stored (names are NFC)."""
    return normalize_name(value, f"The {what} name or id")


def _sender(name: object) -> str:
    normalized = normalize_name(name, "A sender name")
    check_sender_name(normalized)
    return normalized


def _check_message(message: object) -> Message:
    """A message from an API caller that both stores keep and every LLM accepts, or ValidationError."""
    if not isinstance(message, Message):
        raise ValidationError(f"Messages must be memgpt Message objects, got {type(message).__name__}.")
    if message.role not in ROLES:
        raise ValidationError(f"A message role must be one of {', '.join(ROLES)}, got {message.role!r}.")
    if message.content is not None:
        check_text(message.content, "A message's content")
    if message.name is not None:
        message = replace(message, name=_sender(message.name))
    for call in message.tool_calls:
        check_text(call.name, "A tool call's name", max_chars=64)
        check_text(call.arguments, "A tool call's arguments")
        check_text(call.id, "A tool call's id", max_chars=64)
    check_json(message.metadata, "A message's metadata")
    return message


def _check_passage(item: object) -> Passage:
    passage = item if isinstance(item, Passage) else Passage(text=check_text(item, "A passage"))
    check_text(passage.text, "A passage")
    if is_blank(passage.text):
        raise ValidationError("A passage is empty.")
    check_json(passage.metadata, "A passage's metadata")
    return passage


def _check_block_fields(value: object, label: object, limit: object, description: object, read_only: object) -> None:
    """What a caller gives for a block: text, a label, a limit in range, a flag (None: unchanged)."""
    if value is not None:
        check_text(value, "The block's value")
    if label is not None:
        check_text(label, "The block's label", max_chars=100)
    if description is not None:
        check_text(description, "The block's description", max_chars=10_000)
    if limit is not None:
        check_int(limit, "limit", low=1, high=MAX_BLOCK_LIMIT)
    if read_only is not None and not isinstance(read_only, bool):
        raise ValidationError(f"read_only must be true or false, got {read_only!r}.")


def _new_block(label: str, value: str, limit: int, description: str, read_only: bool) -> Block:
    _check_block_fields(value, label, limit, description, read_only)
    block = Block(label, value, limit, read_only, description)
    block.check()
    return block


def _model(model: object) -> str:
    """A model a caller named, as ``provider/name``; ValidationError (not a configuration error) if it is not one."""
    from memgpt.llm.models import resolve_model

    text = check_text(model, "model", max_chars=200).strip()
    if not text:
        raise ValidationError("model is empty: name one such as openai/gpt-4o-mini.")
    try:
        return resolve_model(text)
    except ConfigError as exc:
        raise ValidationError(str(exc)) from None


def _free_name(name: str, taken: set[str]) -> str:
    stem, dot, suffix = name.partition(".")
    for number in range(1, 10_000):
        candidate = f"{stem} ({number}){dot}{suffix}"
        if candidate not in taken:
            return candidate
    raise ValidationError(f"Too many files named like {name!r} already.")


def _write_file(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".part")
    temporary.write_bytes(data)
    temporary.replace(path)


def _read_agent_file(path: Path, limit: int) -> bytes:
    """The bytes of an agent file, refusing a folder or a file over ``limit`` before reading it."""
    path = path.expanduser()
    if path.is_dir():
        raise ValidationError(f"{path} is a folder; give the .af file itself.")
    size = path.stat().st_size
    if size > limit:
        raise ValidationError(f"{path} is {size / 1e6:,.1f} MB, over the limit of {limit / 1e6:,.1f} MB for a file.")
    return path.read_bytes()


def _cursor(value: object, what: str) -> str | None:
    """An id given as a cursor (None: no bound)."""
    return None if value is None else check_text(value, f"A {what} id", max_chars=200)


def _sequence(value: object, what: str) -> Sequence[Any]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise ValidationError(f"{what} must be a list, got {type(value).__name__}.")
    return value


MAX_LOADED_AGENTS = 1000  # agents kept loaded (with their context window) per process; least recently used go


class _Runtime:
    """What the clients of one store share, whichever user each serves: LLM clients and loaded agents.

    Loaded agents are kept in a bounded LRU (a server meets thousands); an evicted agent still finishing
    its background embedding is waited for on :meth:`Client.close`.
    """

    def __init__(self, llm: LLMClient | None, llm_factory: LLMFactory | None) -> None:
        self.llm = llm
        self.llm_factory = llm_factory
        self.llms: dict[str, LLMClient] = {}
        self.agents: OrderedDict[str, Agent] = OrderedDict()
        self.retiring: set[asyncio.Task[None]] = set()
        self.tools = ToolRuntime()  # the sandbox's warm workers and the open MCP sessions

    def loaded(self, agent_id: str, user_id: str) -> Agent | None:
        found = self.agents.get(agent_id)
        if found is None or found.state.user_id != user_id:
            return None
        self.agents.move_to_end(agent_id)
        return found

    def keep(self, agent: Agent) -> None:
        self.agents[agent.state.id] = agent
        self.agents.move_to_end(agent.state.id)
        while len(self.agents) > MAX_LOADED_AGENTS:
            _, old = self.agents.popitem(last=False)
            self.retire(old)

    def forget(self, agent_id: str) -> None:
        old = self.agents.pop(agent_id, None)
        if old is not None:
            self.retire(old)

    def retire(self, agent: Agent) -> None:
        task = asyncio.get_running_loop().create_task(agent.wait_background())
        self.retiring.add(task)
        task.add_done_callback(self.retiring.discard)

    async def close(self, timeout: float | None) -> None:  # noqa: ASYNC109
        waits = [asyncio.ensure_future(a.wait_background()) for a in self.agents.values()] + list(self.retiring)
        if waits:
            _, late = await asyncio.wait(waits, timeout=timeout)
            for agent in self.agents.values():  # what is not embedded now is embedded after the next input
                agent.cancel_background()
            for task in late:
                task.cancel()
            await asyncio.gather(*waits, return_exceptions=True)
        for client in self.llms.values():
            await client.close()
        await self.tools.close()


@dataclass(frozen=True, slots=True)
class AgentView:
    """An agent with what describes it to an API caller: its system instructions, functions and sources."""

    state: AgentState
    system: str
    tools: list[dict[str, Any]]  # the OpenAI function schemas the model sees
    sources: list[Source]
    attached: tuple[Tool, ...] = ()  # the agent's own tools (custom and MCP), whose schemas end ``tools``
    secrets: tuple[str, ...] = ()  # the names of its tool variables (never their values)


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
        self._runtime = _Runtime(llm, llm_factory)
        self._owner = True  # closes the store; clients made by as_user() share it and do not
        self.via = "python"  # what a user's memory edits come through, for their history (cli, api, ui, python)

    def as_user(self, user_id: str, *, via: str | None = None) -> Client:
        """A client of the same store for another user, sharing the loaded agents and LLM clients (the
        server makes one per request, ``via="api"``). Closing it closes nothing: close the client it came from."""
        other = Client.__new__(Client)
        other.store, other.user_id, other._runtime, other._owner = self.store, user_id, self._runtime, False
        other.via = check_channel(via) if via is not None else self.via
        return other

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

    async def close(self, *, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Finish background work (embedding new rows; for at most ``timeout`` seconds, if given: the rest is
        embedded after the agent's next input) and close the store and LLM clients."""
        if not self._owner:
            return
        await self._runtime.close(timeout)
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
        exist_ok: bool = False,
        block_ids: Sequence[str] = (),
    ) -> AgentState:
        """Create an agent with ``persona`` and ``human`` blocks (and any extra ``blocks``; a ``persona`` or
        ``human`` Block among them, with its own limit or description, stands in for the text argument).

        ``block_ids``: existing blocks (ids, ``AGENT/label`` or unique labels) the agent shows too, shared with
        whoever else shows them; one labelled ``persona`` or ``human`` takes the place of the default one.
        With ``exist_ok`` an agent of that name that already exists is returned as it is (so a script can
        run twice); otherwise that is an AlreadyExistsError.
        """
        from memgpt.llm.models import context_window_for, resolve_model

        name = _object_name(name, "Agent")
        if exist_ok:
            try:
                return await self.get_agent(name)
            except NotFoundError:
                pass
        spec = _model(model) if model is not None else resolve_model(os.environ.get("MEMGPT_MODEL"))
        window = context_window_for(spec) if context_window is None else context_window
        check_int(window, "context_window", low=1000, high=MAX_CONTEXT_WINDOW)
        for text, what in ((persona, "persona"), (human, "human")):
            if text is not None:
                check_text(text, f"The {what} block")
        for block in _sequence(blocks, "blocks"):
            if not isinstance(block, Block):
                raise ValidationError(f"blocks must be memgpt Block objects, got {type(block).__name__}.")
            check_text(block.value, f"Block {block.label!r}")
        if settings is not None and not isinstance(settings, AgentSettings):
            raise ValidationError(f"settings must be AgentSettings, got {type(settings).__name__}.")
        shared = [(await self.find_block(ref)).block for ref in _sequence(block_ids, "block_ids")]
        given = {b.label for b in shared}  # a shared persona or human takes the default's place
        core = [
            _core_block(label, text, blocks, f"{label}_default")
            for label, text in (("persona", persona), ("human", human))
            if label not in given or text is not None or any(b.label == label for b in blocks)
        ]
        core += [b for b in blocks if b.label not in ("persona", "human")]
        core = [replace(b, id=new_id("block"), version=1) for b in core]  # new blocks, the agent's own
        CoreMemory([*core, *shared])  # validates labels and limits before anything is written
        if len({b.label for b in [*core, *shared]}) < len(core) + len(shared):
            raise AlreadyExistsError("Two of the agent's blocks have the same label; each label once.")
        state = AgentState(
            name=name,
            model=spec,
            context_window=window,
            blocks=core,
            settings=settings or AgentSettings(),
            user_id=self.user_id,
        )
        try:
            async with self.store.transaction():
                await self.store.create_agent(state)
                for block in shared:
                    await self.store.attach_block(state.id, block.id)
        except AlreadyExistsError:
            if not exist_ok:
                raise
            return await self.get_agent(name)  # created meanwhile by another process
        if shared:
            state.blocks = [*core, *shared]
        return state

    async def get_agent(self, agent: str) -> AgentState:
        """An agent by name or id; NotFoundError if you have none such."""
        return await self.store.get_agent(self.user_id, _reference(agent, "agent"))

    async def list_agents(self) -> list[AgentState]:
        return await self.store.list_agents(self.user_id)

    async def delete_agent(self, agent: str) -> None:
        state = await self.get_agent(agent)
        async with self.store.lock_agent(state.id):
            await self.store.delete_agent(self.user_id, state.id)
        self._runtime.forget(state.id)

    async def describe_agent(self, agent: str | AgentState) -> AgentView:
        """The agent with its system instructions, function schemas and attached sources."""
        state = agent if isinstance(agent, AgentState) else await self.get_agent(agent)
        attached = await self.store.list_agent_tools(state.id)
        compiler = compiler_for(state, schemas_of(attached))
        tools = [t["function"] for t in compiler.tools]
        sources = await self.store.list_agent_sources(state.id)
        secrets = tuple(await self.store.secret_names(state.id))
        return AgentView(state, compiler.instructions, tools, sources, tuple(a.tool for a in attached), secrets)

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
            "tools": [a.tool.name for a in await self.store.list_agent_tools(state.id)],
            "tool_rules": list(state.settings.tool_rules),
            "secrets": await self.store.secret_names(state.id),  # names only: values never leave the store
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
        stream: bool = False,
    ) -> list[AgentEvent]:
        """Send one user message (or a system event with ``role="system"``) and run the agent to completion.

        ``name`` says who sent a user message when several people talk to the agent: the model sees
        "Name: text", and ``conversation_search`` favours the messages of a sender its query names. With
        ``stream``, ``on_event`` also receives the reply token by token as it is generated
        (``inner_monologue_delta``, ``assistant_message_delta`` and ``function_call_delta`` events).
        """
        name = self.check_message(text, role=role, name=name)
        if on_event is not None and not callable(on_event):
            raise ValidationError("on_event must be a function of one event.")
        if stream and on_event is None:
            raise ValidationError("stream=True needs an on_event function to send the pieces to.")
        loaded = await self._agent(agent)
        return await loaded.send(text, role=role, name=name, on_event=on_event, stream=bool(stream))

    @staticmethod
    def check_message(text: str, *, role: str = "user", name: str | None = None) -> str | None:
        """Refuse what :meth:`send_message` would refuse, before anything runs (a request of several
        messages checks them all first); returns the sender name as it will be stored."""
        check_text(text, "The message")
        if is_blank(text):
            raise ValidationError("The message is empty (or only invisible characters).")
        if role not in ("user", "system"):
            raise ValidationError(f"role must be 'user' or 'system' (an event), got {role!r}.")
        if name is None:
            return None
        if role != "user":
            raise ValidationError("Only user messages have a sender name.")
        return _sender(name)

    async def list_messages(
        self, agent: str, *, limit: int = 100, offset: int = 0, newest_first: bool = False
    ) -> list[Message]:
        """A range of the agent's recall store, oldest first (or newest first)."""
        check_int(limit, "limit", low=1, high=MAX_LIST_LIMIT)
        check_int(offset, "offset", low=0, high=MAX_OFFSET)
        state = await self.get_agent(agent)
        return await self.store.list_messages(state.id, limit=limit, offset=offset, newest_first=bool(newest_first))

    async def context(self, agent: str) -> dict[str, int]:
        """Estimated token breakdown of the agent's main context (see :meth:`context_overview`)."""
        return (await self.context_overview(agent)).breakdown()

    # ----------------------------------------------------------------- memory
    async def get_memory(self, agent: str) -> list[Block]:
        return (await self.get_agent(agent)).blocks

    async def get_block(self, agent: str, label: str) -> Block:
        """One core-memory block by label; NotFoundError if the agent has none such."""
        check_text(label, "A block label", max_chars=100)
        for block in (await self.get_agent(agent)).blocks:
            if block.label == label:
                return block
        raise NotFoundError(f"Agent {agent!r} has no core memory block {label!r}.")

    async def update_block(
        self,
        agent: str,
        label: str,
        value: str | None = None,
        *,
        limit: int | None = None,
        description: str | None = None,
        read_only: bool | None = None,
    ) -> Block:
        """Overwrite a core-memory block and/or change its limit, description or read-only flag (read-only
        blocks too: this is the user, not the agent). Only what is given changes."""
        check_text(label, "A block label", max_chars=100)
        if value is not None:
            check_text(value, f"The new value of block {label!r}")
        if description is not None:
            check_text(description, f"The description of block {label!r}", max_chars=10_000)
        if limit is not None:
            check_int(limit, "limit", low=1, high=MAX_BLOCK_LIMIT)
        if read_only is not None and not isinstance(read_only, bool):
            raise ValidationError(f"read_only must be true or false, got {read_only!r}.")
        state = await self.get_agent(agent)
        if value is not None:
            value = redact_for(state.settings, value).text

        def edit(memory: CoreMemory) -> Block:
            return memory.update(label, value=value, limit=limit, description=description, read_only=read_only)

        # compare-and-set on the block (re-read and re-applied if an agent saved it meanwhile): no agent lock,
        # so a user's edit never waits for a step, and every agent showing the block sees it at its next step
        cause = EditCause.user(self.via, agent_id=state.id)
        return await save_edit(self.store, self.user_id, CoreMemory(state.blocks), edit, agent_id=state.id, cause=cause)

    async def update_agent(
        self,
        agent: str,
        *,
        name: str | None = None,
        model: str | None = None,
        context_window: int | None = None,
        system: str | None = None,
    ) -> AgentState:
        """Rename an agent, or change its model, context window or system instructions (``""``: back to the
        shipped ones); the next step uses them."""

        if name is not None:
            name = _object_name(name, "Agent")
        spec = _model(model) if model is not None else None
        if context_window is not None:
            check_int(context_window, "context_window", low=1000, high=MAX_CONTEXT_WINDOW)
        if system is not None:
            check_text(system, "The system instructions", max_chars=MAX_SYSTEM_CHARS)
        state = await self.get_agent(agent)
        async with self.store.lock_agent(state.id):
            state = await self.get_agent(state.id)
            state.name = name or state.name
            state.model = spec or state.model
            state.context_window = context_window or state.context_window
            if system is not None:
                state.settings.system_prompt = system or None
            await self.store.save_agent(state)
        self._runtime.forget(state.id)  # the model or window may differ: load it afresh
        return state

    async def message_window(
        self,
        agent: str,
        *,
        after: str | None = None,
        before: str | None = None,
        limit: int = 100,
        newest: bool = False,
    ) -> list[Message]:
        """Messages strictly between two message ids (cursors; either may be None): the oldest ``limit`` of
        them, or the newest, in order either way (how a client pages through a conversation)."""
        check_int(limit, "limit", low=1, high=MAX_LIST_LIMIT)
        cursors = [_cursor(c, "message") for c in (after, before)]
        state = await self.get_agent(agent)
        return await self.store.message_window(
            state.id, after=cursors[0], before=cursors[1], limit=limit, newest=newest
        )

    async def passage_window(
        self,
        agent: str,
        *,
        after: str | None = None,
        before: str | None = None,
        limit: int = 100,
        newest: bool = False,
    ) -> list[Passage]:
        """The agent's own archival passages between two passage ids, as :meth:`message_window`."""
        check_int(limit, "limit", low=1, high=MAX_LIST_LIMIT)
        cursors = [_cursor(c, "passage") for c in (after, before)]
        state = await self.get_agent(agent)
        return await self.store.passage_window(
            state.id, after=cursors[0], before=cursors[1], limit=limit, newest=newest
        )

    async def delete_passages(self, agent: str, ids: Sequence[str]) -> int:
        """Forget archival passages of the agent by id, everywhere they lived (see :meth:`forget`); the count.
        NotFoundError, and nothing deleted, if one is not the agent's."""
        wanted = sorted({_cursor(i, "passage") or "" for i in _sequence(ids, "ids")})
        state = await self.get_agent(agent)
        missing = len(wanted) - len(await self.store.get_passages(state.id, wanted))
        if missing:
            raise NotFoundError(f"{missing} of the passages are not in agent {agent!r}'s memory; none was deleted.")
        await self.forget(state.id, passage_ids=wanted, apply=True)
        return len(wanted)

    async def insert_passages(self, agent: str, texts: Sequence[str | Passage]) -> list[str]:
        """Add passages (texts, or Passage objects with metadata) to the agent's archival store; their ids."""
        passages = [_check_passage(t) for t in _sequence(texts, "texts")]
        for passage in passages:
            passage.metadata.setdefault("inserted_by", {"kind": "user", "via": self.via})
        state = await self.get_agent(agent)
        for passage in passages:
            redacted = redact_for(state.settings, passage.text)
            if redacted.total:
                passage.text, passage.metadata["redactions"] = redacted.text, dict(redacted.counts)
        ids = await self.store.insert_passages(state.id, passages)
        self._invalidate_counts(state.id)
        return ids

    async def import_messages(self, agent: str, messages: Sequence[Message], *, embed: bool = True) -> int:
        """Add past messages (keeping their timestamps) to the agent's recall store, outside its context.

        The agent finds them with ``conversation_search``; with ``embed`` they are embedded before returning.
        """
        checked = [_check_message(m) for m in _sequence(messages, "messages")]
        state = await self.get_agent(agent)
        for message in checked:
            redacted = redact_for(state.settings, message.content or "")
            if redacted.total:
                message.content, message.metadata["redactions"] = redacted.text, dict(redacted.counts)
        async with self.store.lock_agent(state.id):
            await self.store.append_messages(state.id, checked)
        self._invalidate_counts(state.id)
        if embed and self.store.semantic_search_available:
            while await self.store.embed_pending_messages(state.id):
                pass
        return len(checked)

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
        check_text(query, "The query", max_chars=10_000)
        page, page_size = check_page(page, page_size)
        if mode not in ("hybrid", "text", "semantic"):
            raise ValidationError(f"mode must be 'hybrid', 'text' or 'semantic', got {mode!r}.")
        state = await self.get_agent(agent)
        if archival:
            return await self.store.search_passages(state.id, query, page=page, page_size=page_size, mode=mode)
        return await self.store.search_messages(state.id, query, page=page, page_size=page_size, mode=mode)

    # ----------------------------------------------------------------- users and API keys
    async def create_user(self, name: str) -> User:
        """A new user (who owns agents, sources and keys of their own); AlreadyExistsError if the name is taken."""
        checked = check_user_name(name)
        if checked == LOCAL_USER_NAME:
            raise ValidationError(f"The name {LOCAL_USER_NAME!r} is the local user's, which always exists.")
        user = User(checked)
        await self.store.create_user(user)
        return user

    async def get_user(self, user: str) -> User:
        """A user by name or id; ``local`` is the embedded default user (made a row the first time a key needs it)."""
        key = normalize_name(user, "A user name or id")
        if key in (LOCAL_USER_NAME, LOCAL_USER_ID):
            return await self._local_user()
        return await self.store.get_user(key)

    async def list_users(self) -> list[User]:
        return await self.store.list_users()

    async def delete_user(self, user: str) -> None:
        """Delete a user with every agent, source and key of theirs; nothing of any other user is touched."""
        found = await self.get_user(user)
        sources = await self.store.list_sources(found.id)
        await self.store.delete_user(found.id)
        await self.store.erase_deleted()  # their bytes too, where the engine can
        for source in sources:
            await asyncio.to_thread(uploads.remove_source, source.id)
        for agent_id in [a.state.id for a in self._runtime.agents.values() if a.state.user_id == found.id]:
            self._runtime.forget(agent_id)

    async def create_api_key(self, user: str, *, name: str = "") -> NewApiKey:
        """A new API key of ``user``. Its ``secret`` is shown this once: only its hash is stored."""
        check_text(name, "A key name", max_chars=100)
        found = await self.get_user(user)
        made = new_key(found.id, name)
        await self.store.create_api_key(made.key)
        return made

    async def list_api_keys(self, user: str | None = None) -> list[tuple[User, ApiKey]]:
        """The keys of one user (or of every user), with their users; revoked ones included."""
        users = [await self.get_user(user)] if user is not None else await self.store.list_users()
        return [(u, key) for u in users for key in await self.store.list_api_keys(u.id)]

    async def revoke_api_key(self, key: str, *, user: str | None = None) -> ApiKey:
        """Revoke a key by its id or its shown prefix (of ``user``, or looked for among every user's)."""
        check_text(key, "A key id or prefix", max_chars=200)
        users = [await self.get_user(user)] if user is not None else await self.store.list_users()
        for u in users:
            try:
                return await self.store.revoke_api_key(u.id, key)
            except NotFoundError:
                continue
        raise NotFoundError(f"No API key {key!r}. List keys with `memgpt keys list`.")

    async def has_api_keys(self) -> bool:
        """Whether any active key exists (a server that has none serves the local user on loopback only)."""
        return any(k.active for _, k in await self.list_api_keys())

    async def authenticate(self, secret: str) -> User | None:
        """The user whose active key ``secret`` is, or None. Records the key's use (at most once a minute)."""
        if not isinstance(secret, str) or not secret.startswith(KEY_PREFIX) or len(secret) > 200:
            return None
        found = await self.store.find_api_key(hash_key(secret))
        if found is None:
            return None
        key, user = found
        if key.last_used_at is None or utcnow() - key.last_used_at > KEY_TOUCH_INTERVAL:
            await self.store.touch_api_key(key.id)
        return user

    async def _local_user(self) -> User:
        try:
            return await self.store.get_user(LOCAL_USER_ID)
        except NotFoundError:
            user = User(LOCAL_USER_NAME, id=LOCAL_USER_ID)
            try:
                await self.store.create_user(user)
            except AlreadyExistsError:
                return await self.store.get_user(LOCAL_USER_ID)
            return user

    # ----------------------------------------------------------------- sources
    async def create_source(self, name: str, *, description: str = "") -> Source:
        """Create an empty source (a named collection of documents) that agents can attach."""
        name = _object_name(name, "Source")
        source = Source(name=name, user_id=self.user_id, description=check_text(description, "description"))
        await self.store.create_source(source)
        return source

    async def get_source(self, source: str) -> Source:
        """A source by name or id, with its file and passage counts."""
        return await self.store.get_source(self.user_id, _reference(source, "source"))

    async def list_sources(self) -> list[Source]:
        return await self.store.list_sources(self.user_id)

    async def delete_source(self, source: str) -> None:
        """Delete a source with all its passages; every agent it was attached to stops searching it."""
        found = await self.get_source(source)
        await self.store.delete_source(self.user_id, found.id)
        await asyncio.to_thread(uploads.remove_source, found.id)
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
        skipped, changed ones replaced) and resumes an interrupted load; missing paths and unreadable
        files are skipped with a reason in the report. A new source into which nothing could be loaded
        is not kept.
        """
        from memgpt.sources.loader import default_source_name, load_files

        for path in _sequence(paths, "paths"):
            check_text(str(path), "A path")
        if not paths:
            raise ValidationError("Give at least one file or folder to load.")
        state = await self.get_agent(agent) if agent is not None else None
        name = source or default_source_name(paths)
        try:
            found, created = await self.get_source(name), False
        except NotFoundError:
            found, created = await self.create_source(name), True
        if state is not None:
            await self.store.attach_source(state.id, found.id)
        try:
            report = await load_files(self.store, found, paths, options=options, on_progress=on_progress)
        finally:
            self._invalidate_counts()
        report.source = await self.get_source(found.id)
        if created and not await self.store.list_source_files(found.id):
            await self.delete_source(found.id)  # nothing could be loaded: leave no empty source behind
        return report

    async def delete_source_file(self, source: str, file_id: str) -> None:
        """Remove one file (all its versions' passages) from a source; NotFoundError if it is not the source's."""
        found = await self.get_source(source)
        files = [f for f in await self.store.list_source_files(found.id) if f.id == file_id]
        if not files:
            raise NotFoundError(f"No file {file_id!r} in source {found.name!r}.")
        await self._remove_file(files[0])
        self._invalidate_counts()

    async def upload(
        self, source: str, filename: str, data: bytes, *, duplicates: DuplicateHandling = "replace"
    ) -> tuple[SourceFile | None, FileOutcome]:
        """Load one file sent as bytes (an HTTP upload) into a source; the stored file and what happened.

        The bytes are kept under ``$MEMGPT_HOME/uploads/<source id>/`` under the file's own name (they are the
        source of that source file, as a path on disk is for ``load``). A name the source already has is
        replaced (``"replace"``), kept (``"skip"``), refused (``"error"``), or the upload gets a free name
        such as ``notes (1).txt`` (``"suffix"``); the same content under the same name is left unchanged.
        """
        from memgpt.sources.loader import FileOutcome, LoadOptions

        if duplicates not in ("replace", "skip", "error", "suffix"):
            raise ValidationError(f"duplicates must be replace, skip, error or suffix, got {duplicates!r}.")
        if not isinstance(data, bytes):
            raise ValidationError(f"data must be bytes, got {type(data).__name__}.")
        found = await self.get_source(source)
        name = uploads.file_name(filename)
        earlier = [f for f in await self.store.list_source_files(found.id) if Path(f.path).name == name]
        if earlier and duplicates != "replace":
            if duplicates == "error":
                raise AlreadyExistsError(f"Source {found.name!r} already has a file named {name!r}.")
            if duplicates == "skip":
                done = next((f for f in earlier if f.state == "done"), earlier[0])
                return done, FileOutcome(name, "unchanged", done.passage_count)
            taken = {Path(f.path).name for f in await self.store.list_source_files(found.id)}
            name = uploads.file_name(_free_name(name, taken))
            earlier = []
        path = await asyncio.to_thread(uploads.save, found.id, name, data)
        report = await self.load([path], source=found.id, options=LoadOptions(cite_as=name))
        [outcome] = report.files
        stored = next((f for f in await self.store.list_source_files(found.id) if Path(f.path) == path.resolve()), None)
        if stored is None:  # not loaded (a kind memgpt cannot read): keep nothing of it
            await asyncio.to_thread(uploads.remove, str(path.resolve()))
            return None, outcome
        for replaced in (f for f in earlier if f.id != stored.id):  # the same name with other content
            await self._remove_file(replaced)
        return (stored if stored.state == "done" else None), outcome

    async def _remove_file(self, file: SourceFile) -> None:
        await self.store.delete_source_file(file.id)
        await asyncio.to_thread(uploads.remove, file.path)

    def _invalidate_counts(self, agent_id: str | None = None) -> None:
        """Loaded agents recount their memory statistics (one agent's, or every agent's of this user)."""
        for loaded in self._runtime.agents.values():
            if loaded.state.user_id == self.user_id and agent_id in (None, loaded.state.id):
                loaded.invalidate_counts()

    # ----------------------------------------------------------------- tools (custom, MCP), rules, tool variables
    async def add_tool(
        self,
        name: str | None,
        source: str,
        *,
        description: str | None = None,
        tags: Sequence[str] = (),
        sandbox: SandboxMode | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - stored with the tool: each call's limit, not this one's
        memory_mb: int | None = None,
        replace: bool = False,
    ) -> Tool:
        """Register the function ``name`` of Python ``source`` as a tool (``name=None``: its last public
        function, as Letta does); returns the stored tool (``.id``).

        The source runs in the sandbox to describe the function: its JSON schema comes from its type hints and
        docstring, which it must have. The source is stored, so any process can run it. A tool of that name
        already registered is an AlreadyExistsError, unless ``replace``: then it is updated in place (same
        id, still attached where it was). ``sandbox="strict"`` runs it without network or filesystem access
        (bubblewrap); ``timeout`` (seconds) and ``memory_mb`` bound each call.
        """
        from memgpt.tools import registry

        existing = await self._existing_tool(name) if replace and name is not None else None
        settings = registry.tool_settings(
            sandbox=sandbox, timeout=timeout, memory_mb=memory_mb, base=existing.settings if existing else None
        )
        tool = await registry.custom_tool(
            self._runtime.tools.sandbox,
            self.user_id,
            name,
            source,
            settings=settings,
            description=description,
            tags=tags,
        )
        if existing is None and replace:
            existing = await self._existing_tool(tool.name)
        if existing is None:
            await self.store.create_tool(tool)
            return tool
        if existing.kind != "python":
            raise AlreadyExistsError(f"{existing.name} is an MCP tool; remove it before adding a custom one.")
        tool.id, tool.created_at = existing.id, existing.created_at
        await self.store.update_tool(tool)
        return tool

    async def _existing_tool(self, name: str) -> Tool | None:
        try:
            return await self.get_tool(name)
        except NotFoundError:
            return None

    async def get_tool(self, tool: str) -> Tool:
        """A tool by name (``mcp:SERVER/TOOL`` for an MCP tool) or id; NotFoundError if you have none such."""
        return await self.store.get_tool(self.user_id, _reference(tool, "tool"))

    async def list_tools(self) -> list[Tool]:
        """Your custom and MCP tools, oldest first (the base functions every agent has are not listed)."""
        return await self.store.list_tools(self.user_id)

    async def agents_with_tool(self, tool: str) -> list[str]:
        """The names of the agents that have the tool."""
        return await self.store.agents_with_tool((await self.get_tool(tool)).id)

    async def delete_tool(self, tool: str) -> list[str]:
        """Delete a tool; it is detached from every agent that had it (their names are returned)."""
        found = await self.get_tool(tool)
        agents = await self.store.agents_with_tool(found.id)
        await self.store.delete_tool(self.user_id, found.id)
        return agents

    async def attach_tool(self, agent: str, tool: str) -> Tool:
        """Give an agent one of your tools (by name or id, or ``mcp:SERVER/TOOL``, registered from the server at
        its first use); its schema joins the agent's function set at its next input. No-op if attached."""
        state = await self.get_agent(agent)
        found = await self._tool_or_mcp(_reference(tool, "tool"))
        attached = await self.store.list_agent_tools(state.id)
        if found.id not in {a.tool.id for a in attached} and found.function_name in schemas_of(attached).names:
            raise ValidationError(
                f"Agent {state.name!r} already has a function named {found.function_name}; detach that one first."
            )
        await self.store.attach_tool(state.id, found.id)
        return found

    async def _tool_or_mcp(self, reference: str) -> Tool:
        from memgpt.tools import registry

        parsed = registry.parse_mcp_reference(reference)
        try:
            return await self.store.get_tool(self.user_id, reference)
        except NotFoundError:
            if parsed is None:
                raise
        server_name, tool_name = parsed
        server = await self.get_mcp_server(server_name)
        for remote in await self._runtime.tools.mcp.list_tools(server):
            if remote.name == tool_name:
                record = registry.mcp_tool(server, remote)
                try:
                    await self.store.create_tool(record)
                except AlreadyExistsError:  # registered meanwhile by another process
                    return await self.store.get_tool(self.user_id, reference)
                return record
        raise NotFoundError(
            f"The MCP server {server.name!r} has no tool {tool_name!r} (memgpt mcp tools {server.name})."
        )

    async def detach_tool(self, agent: str, tool: str) -> None:
        """Take a tool from an agent (it stays registered); NotFoundError if the agent does not have it."""
        state, found = await self.get_agent(agent), await self.get_tool(tool)
        if not await self.store.detach_tool(state.id, found.id):
            raise NotFoundError(f"Agent {state.name!r} does not have the tool {found.name!r}.")

    async def list_agent_tools(self, agent: str) -> list[Tool]:
        """The agent's own tools (beyond the base functions), in the order they were attached."""
        state = await self.get_agent(agent)
        return [a.tool for a in await self.store.list_agent_tools(state.id)]

    async def set_tool_rules(self, agent: str, rules: Sequence[ToolRule | dict[str, Any]]) -> list[ToolRule]:
        """Replace the agent's tool rules (see :mod:`memgpt.tools.rules`); each must name one of its functions."""
        from memgpt.tools.rules import check_rule_tools, parse_rules

        parsed = parse_rules(rules)
        state = await self.get_agent(agent)
        async with self.store.lock_agent(state.id):
            state = await self.get_agent(state.id)
            check_rule_tools(parsed, schemas_of(await self.store.list_agent_tools(state.id)).names)
            state.settings.tool_rules = [r.to_dict() for r in parsed]
            await self.store.save_agent(state)
        return parsed

    async def get_tool_rules(self, agent: str) -> list[ToolRule]:
        from memgpt.agent.agent import rules_of

        return rules_of(await self.get_agent(agent))

    async def set_secret(self, agent: str, name: str, value: str) -> None:
        """Set a tool variable of the agent: an environment variable of its tools' processes, and nowhere else
        (never logged, shown or sent to the model; a value a tool returns is replaced by ``[secret NAME]``)."""
        from memgpt.tools import registry

        registry.check_variable_name(name)
        registry.check_secret_value(name, value)
        await self.store.set_secret((await self.get_agent(agent)).id, name, value)

    async def delete_secret(self, agent: str, name: str) -> None:
        state = await self.get_agent(agent)
        if not await self.store.delete_secret(state.id, check_text(name, "A variable name", max_chars=200)):
            raise NotFoundError(f"Agent {state.name!r} has no tool variable {name!r}.")

    async def list_secrets(self, agent: str) -> list[str]:
        """The names of the agent's tool variables (their values are never returned)."""
        return await self.store.secret_names((await self.get_agent(agent)).id)

    async def add_mcp_server(
        self,
        name: str,
        *,
        command: Sequence[str] | None = None,
        url: str | None = None,
        env: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 60.0,  # noqa: ASYNC109 - stored with the server: each call's limit, not this one's
        check: bool = True,
        replace: bool = False,
    ) -> McpServer:
        """Register an MCP server: a ``command`` (program and arguments) spoken to over stdio, or a streamable
        HTTP ``url``. With ``check`` it is started (or reached) and its tools listed first, so a typo fails here.
        ``replace`` updates a server of that name (its registered tools' schemas are listed again).
        """
        from memgpt.tools import registry

        server = registry.mcp_server(
            self.user_id, name, command=command, url=url, env=env or {}, headers=headers or {}, timeout=timeout
        )
        existing = None
        if replace:
            with contextlib.suppress(NotFoundError):
                existing = await self.get_mcp_server(server.name)
        remote = await self._runtime.tools.mcp.list_tools(server) if check else None
        if existing is None:
            await self.store.create_mcp_server(server)
            return server
        server.id, server.created_at = existing.id, existing.created_at
        await self.store.update_mcp_server(server)
        if remote is not None:
            offered = {r.name: r for r in remote}
            for tool in await self.store.mcp_server_tools(server.id):
                if tool.mcp_tool_name in offered:
                    await self.store.update_tool(registry.mcp_tool(server, offered[tool.mcp_tool_name], base=tool))
        return server

    async def get_mcp_server(self, server: str) -> McpServer:
        """An MCP server of yours by name or id; NotFoundError if you have none such."""
        return await self.store.get_mcp_server(self.user_id, _reference(server, "MCP server"))

    async def list_mcp_servers(self) -> list[McpServer]:
        """Your MCP servers."""
        return await self.store.list_mcp_servers(self.user_id)

    async def remove_mcp_server(self, server: str) -> list[str]:
        """Remove an MCP server with its tools (detached from every agent); returns the tools' names."""
        found = await self.get_mcp_server(server)
        tools = [t.name for t in await self.store.mcp_server_tools(found.id)]
        await self.store.delete_mcp_server(self.user_id, found.id)
        return tools

    async def list_mcp_tools(self, server: str) -> list[RemoteTool]:
        """The tools the MCP server offers now (it is started or reached to ask)."""
        return await self._runtime.tools.mcp.list_tools(await self.get_mcp_server(server))

    # ----------------------------------------------------------------- health
    async def check_agent(self, agent: str, *, repair: bool = False) -> ContextCheck:
        """Replay the agent's stored context through the request builder (see :mod:`memgpt.agent.check`).

        With ``repair``, what cannot be sent as stored is fixed: such messages leave the context window
        (they stay in recall memory) and blocks and the summary are rewritten with clean text.
        """
        from memgpt.agent.check import check_context

        state = await self.get_agent(agent)
        async with self.store.lock_agent(state.id):
            state = await self.get_agent(state.id)
            fifo, unreadable = await self._stored_fifo(state)
            tools = schemas_of(await self.store.list_agent_tools(state.id))
            check = check_context(state, fifo, unreadable, compiler_for(state, tools))
            if repair and not check.ok:
                async with self.store.transaction():
                    if check.clean_blocks:
                        for block in self._repair_blocks(state):
                            fixed = EditCause("repair", agent_id=state.id, detail={"via": self.via})
                            await self.store.update_block(self.user_id, block, agent_id=state.id, cause=fixed)
                    self._repair(state, check)
                    await self.store.save_agent(state)
                check.repaired = True  # a loaded Agent sees the new version and reloads before its next step
        return check

    async def _stored_fifo(self, state: AgentState) -> tuple[list[Message], list[str]]:
        """The in-context messages that can be read, and the ids of those that cannot."""
        try:
            return await self.store.get_messages(state.id, state.fifo_ids), []
        except Exception:  # one bad row: read them one by one to find it
            pass
        fifo: list[Message] = []
        unreadable: list[str] = []
        for message_id in state.fifo_ids:
            try:
                fifo.extend(await self.store.get_messages(state.id, [message_id]))
            except Exception:  # a row an older version wrote that cannot be read back: reported, dropped on repair
                unreadable.append(message_id)
        return fifo, unreadable

    @staticmethod
    def _repair_blocks(state: AgentState) -> list[Block]:
        """Copies of the blocks whose text cannot be stored as it is, cleaned."""
        from memgpt.agent.check import clean_blocks

        dirty = [replace(b) for b in state.blocks if not all(is_storable(t) for t in (b.value, b.description))]
        return clean_blocks(dirty)

    @staticmethod
    def _repair(state: AgentState, check: ContextCheck) -> None:
        from memgpt.agent.check import clean_state_text

        state.fifo_ids = [i for i in state.fifo_ids if i not in check.drop_ids]
        clean_state_text(state)

    # ----------------------------------------------------------------- shared blocks
    async def create_block(
        self,
        label: str,
        value: str = "",
        *,
        limit: int = DEFAULT_BLOCK_LIMIT,
        description: str = "",
        read_only: bool = False,
        agents: Sequence[str] = (),
    ) -> Block:
        """A core-memory block of its own, shown by ``agents`` (names or ids) at once or attached later
        (:meth:`attach_block`): all or nothing.

        It is kept when no agent shows it (until :meth:`delete_block`); an agent's own blocks go with it.
        """
        block = _new_block(label, value, limit, description, read_only)
        states = [await self.get_agent(a) for a in _sequence(agents, "agents")]
        async with self.store.transaction():
            await self.store.create_block(self.user_id, block, standalone=True)
            for state in states:
                await self.store.attach_block(state.id, block.id)
        return block

    async def list_blocks(self, *, label: str | None = None) -> list[BlockRecord]:
        """Your blocks (of one label), oldest first, each with the agents that show it."""
        if label is not None:
            check_text(label, "A block label", max_chars=100)
        return await self.store.list_blocks(self.user_id, label=label)

    async def find_block(self, block: str) -> BlockRecord:
        """A block by id, as ``AGENT/label`` (that agent's block), or by a label only one of your blocks has."""
        ref = check_text(block, "A block id or label", max_chars=300).strip()
        if looks_like_id(ref):
            return await self.store.get_block(self.user_id, ref)
        agent, slash, label = ref.rpartition("/")
        if slash:
            found = next((b for b in (await self.get_agent(agent)).blocks if b.label == label), None)
            if found is None:
                raise NotFoundError(f"Agent {agent!r} has no block labelled {label!r}.")
            return await self.store.get_block(self.user_id, found.id)
        matches = await self.store.list_blocks(self.user_id, label=ref)
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise NotFoundError(f"No block labelled {ref!r}. List blocks with `memgpt blocks list`.")
        raise ValidationError(
            f"{len(matches)} blocks are labelled {ref!r}; name one as AGENT/{ref} or by its id "
            f"({', '.join(m.block.id for m in matches)})."
        )

    async def edit_block(
        self,
        block: str,
        *,
        value: str | None = None,
        label: str | None = None,
        limit: int | None = None,
        description: str | None = None,
        read_only: bool | None = None,
    ) -> Block:
        """Change a block (by id, ``AGENT/label`` or unique label) for every agent that shows it: only what is
        given changes. Compare-and-set on its version, re-applied if an agent saved it meanwhile."""
        _check_block_fields(value, label, limit, description, read_only)
        found = (await self.find_block(block)).block

        def edit(memory: CoreMemory) -> Block:
            return memory.update(
                found.label, value=value, limit=limit, description=description, read_only=read_only, new_label=label
            )

        return await save_edit(self.store, self.user_id, CoreMemory([found]), edit, cause=EditCause.user(self.via))

    async def attach_block(self, agent: str, block: str) -> Block:
        """Show a block in the agent's core memory too (last); no-op if it already does. Its next step sees it."""
        state, found = await self.get_agent(agent), await self.find_block(block)
        await self.store.attach_block(state.id, found.block.id)
        return found.block

    async def detach_block(self, agent: str, block: str) -> None:
        """Take a block out of the agent's core memory (other agents keep it; a block then shown by no agent is
        kept as a block of its own). NotFoundError if the agent does not show it."""
        state, found = await self.get_agent(agent), await self.find_block(block)
        if not await self.store.detach_block(state.id, found.block.id):
            raise NotFoundError(f"Block {found.block.label!r} is not in agent {state.name!r}'s core memory.")

    async def delete_block(self, block: str, *, detach: bool = False) -> list[str]:
        """Delete a block; the ids of the agents that showed it. While agents show it this is refused unless
        ``detach`` (then it leaves their core memory)."""
        found = await self.find_block(block)
        if found.agent_ids and not detach:
            names = {a.id: a.name for a in await self.list_agents()}
            shown = ", ".join(names.get(i, i) for i in found.agent_ids)
            raise ValidationError(
                f"Block {found.block.label!r} is in the core memory of {shown}; detach it first "
                "(memgpt blocks detach) or delete it anyway with --detach."
            )
        return await self.store.delete_block(self.user_id, found.block.id)

    # ----------------------------------------------------------------- agent files (.af)
    async def import_agent_file(
        self,
        file: str | Path | bytes,
        *,
        name: str | None = None,
        name_suffix: str = "",
        model: str | None = None,
        strip_messages: bool = False,
        embed: bool = True,
        with_tools: bool = False,
    ) -> ImportReport:
        """Import the agents of a Letta agent file (``.af``: a path, or its bytes), all or nothing.

        Reads Letta's current format and its older single-agent one, also when the JSON is inside a JSON
        string. Blocks, the system instructions, messages (into recall, with their dates), the in-context
        messages (the FIFO), the model and Letta's memory tools are mapped; the report lists everything
        else. ``name`` renames the file's first agent and ``name_suffix`` is appended to the others' names
        (Letta's ``_copy``); ``model`` replaces the file's models (the file's model is used where it has one,
        ``$MEMGPT_MODEL`` where it has none); ``strip_messages`` leaves the conversations out. With
        ``embed`` the new messages and passages are embedded before returning.

        The file's tool rules that memgpt has are imported. Its custom tools with Python source become your
        tools, attached to its agents, only ``with_tools`` (their code runs in the sandbox whenever an agent
        calls them: code from a file is taken in only when you ask); a tool named like one of yours with other
        code is reported and yours kept. MCP servers are never added (a file must not start a program on
        import): the report gives the ``memgpt mcp add`` command of each.
        """
        from memgpt.agentfile import MAX_FILE_BYTES
        from memgpt.agentfile import import_agent_file as run_import

        if isinstance(file, bytes):
            data, source = file, "upload"
        else:
            path = Path(check_text(str(file), "The file path"))
            data, source = await asyncio.to_thread(_read_agent_file, path, MAX_FILE_BYTES), str(path)
        wanted = _object_name(name, "Agent") if name is not None else None
        if name_suffix:
            _object_name(f"a{name_suffix}", "Agent")  # what it adds must be allowed in a name
        spec = _model(model) if model is not None else None
        return await run_import(
            self.store,
            self.user_id,
            data,
            source=source,
            name=wanted,
            name_suffix=name_suffix,
            model=spec,
            default_model=os.environ.get("MEMGPT_MODEL") or None,
            strip_messages=bool(strip_messages),
            embed=bool(embed),
            tool_sandbox=self._runtime.tools.sandbox if with_tools else None,
        )

    async def export_agent_file(
        self, agents: str | Sequence[str], *, with_archival: bool = False, with_messages: bool = True
    ) -> dict[str, Any]:
        """One or more agents as a Letta agent file (a JSON-ready dict in Letta's current ``.af`` format).

        Blocks the agents share are written once. Messages (unless ``with_messages`` is False), the FIFO,
        the summary and memgpt's settings go in; archival passages only ``with_archival`` (Letta's own
        exporter leaves them out, and Letta does not read them back). Importing the file into memgpt gives
        back equal agents.
        """
        from memgpt.agentfile import export_agents

        names = [agents] if isinstance(agents, str) else list(_sequence(agents, "agents"))
        if not names:
            raise ValidationError("Name at least one agent to export.")
        states = [await self.get_agent(n) for n in names]
        if len({s.id for s in states}) < len(states):
            raise ValidationError("An agent is named twice; name each agent to export once.")
        return await export_agents(
            self.store, states, with_archival=bool(with_archival), with_messages=bool(with_messages)
        )

    # ----------------------------------------------------------------- inspection (the web UI's memory inspector)
    async def context_overview(self, agent: str) -> ContextOverview:
        """What fills the agent's main context as stored now: the estimated tokens of each part, the
        memory-pressure and eviction thresholds, the recursive summary and when it was written.

        It is read from the store without waiting for a step that is running, so it shows the last
        committed state (a block edited by hand, or by another process, included)."""
        from memgpt.agent.context import MemoryStats
        from memgpt.agent.overview import context_overview

        state = await self.get_agent(agent)
        fifo, _ = await self._stored_fifo(state)
        recall, archival = await self.store.count_messages(state.id), await self.store.count_passages(state.id)
        stats = MemoryStats(recall, len(fifo), archival, state.last_memory_edit)
        tools = schemas_of(await self.store.list_agent_tools(state.id))  # the base set and the attached tools
        return context_overview(state, compiler_for(state, tools), fifo, stats)

    # ----------------------------------------------------------------- memory lifecycle
    async def forget(
        self,
        agent: str,
        *,
        message_ids: Sequence[str] = (),
        passage_ids: Sequence[str] = (),
        before: datetime | None = None,
        query: str | None = None,
        apply: bool = False,
        block_values: dict[str, str] | None = None,
        scrub_blocks: bool = False,
    ) -> ForgetReport:
        """Forget messages and passages: by id, everything created ``before`` a time, or every one whose text
        contains ``query`` (case-insensitively). Without ``apply`` nothing changes: the report is the preview.

        A tool call is forgotten with its results (and a result with its call). Applied, the rows go from the
        recall and archival stores with their full-text entries, embeddings and vector-index entries, from the
        context window and from exports; the recursive summary is rewritten without them (one call to the
        agent's model; without one, it is replaced by a note and ``summary_flagged``). Core-memory blocks that
        contain forgotten text are reported; ``block_values`` (label to new value) and ``scrub_blocks``
        (remove the forgotten text from every block) edit them in the same forget. Forgotten text is
        replaced by ``[forgotten]`` in the blocks' edit history.
        """
        from memgpt.lifecycle import forget as forgetting

        selection = forgetting.Selection(
            message_ids=tuple(_cursor(i, "message") or "" for i in _sequence(message_ids, "message_ids")),
            passage_ids=tuple(_cursor(i, "passage") or "" for i in _sequence(passage_ids, "passage_ids")),
            before=before,
            query=check_text(query, "The query", max_chars=10_000) if query is not None else None,
        )
        values = {
            check_text(k, "A block label", max_chars=100): check_text(v, f"Block {k!r}")
            for k, v in (block_values or {}).items()
        }
        edits = forgetting.BlockEdits(values, bool(scrub_blocks))
        state = await self.get_agent(agent)
        if not apply:
            return forgetting.report(await forgetting.plan(self.store, state, selection), state.name)
        async with self.store.lock_agent(state.id):
            state = await self.get_agent(state.id)
            plan = await forgetting.plan(self.store, state, selection)
            result = forgetting.report(plan, state.name)
            changes, _ = edits.apply(state.blocks, plan.needles)  # a mistake in them is refused before anything
            if not result.items and not changes:
                result.applied = True  # nothing to forget: nothing written, nothing to erase
                return result
            rewritten = None
            if result.summary_affected:
                rewritten = await forgetting.rewrite_summary(self._summary_llm(state.model), plan)
            edited, scrubbed = await forgetting.apply(self.store, plan, rewritten, edits, via=self.via)
        self._runtime.forget(state.id)
        self._invalidate_counts(state.id)
        result.applied, result.blocks_edited, result.history_scrubbed = True, edited, scrubbed
        if rewritten is not None:
            result.summary, result.summary_flagged = ("replaced" if rewritten[1] else "rewritten"), rewritten[1]
        result.blocks = forgetting.blocks_containing((await self.get_agent(state.id)).blocks, plan.needles)
        return result

    async def block_history(self, agent: str, *, label: str | None = None) -> list[BlockChange]:
        """Every saved change of the agent's blocks (or of one), oldest first per block, with what made it."""
        state = await self.get_agent(agent)
        blocks = state.blocks if label is None else [await self.get_block(state.id, label)]
        return await self.store.list_block_changes(self.user_id, [b.id for b in blocks])

    async def revert_block(self, agent: str, label: str, *, to_version: int) -> Block:
        """Set the agent's block back to its value at ``to_version`` (see :meth:`block_history`); the revert is
        a change of its own in the history."""
        check_int(to_version, "to_version", low=1, high=MAX_OFFSET)
        state = await self.get_agent(agent)
        block = await self.get_block(state.id, label)
        value = value_at(await self.store.list_block_changes(self.user_id, [block.id]), to_version)
        if len(value) > block.limit:
            raise ValidationError(
                f"Version {to_version} of {label!r} is longer than the block's limit ({block.limit})."
            )

        def edit(memory: CoreMemory) -> Block:
            return memory.update(label, value=value)

        cause = EditCause("revert", agent_id=state.id, detail={"via": self.via, "reverted_to": to_version})
        return await save_edit(self.store, self.user_id, CoreMemory(state.blocks), edit, agent_id=state.id, cause=cause)

    async def export_user(self, user: str, folder: str | Path) -> UserExport:
        """Write everything of ``user`` into ``folder`` (new or empty): each agent as an agent file with its
        archival passages, blocks, history and sources, and ``user.json`` (see :mod:`memgpt.lifecycle.user_data`)."""
        from memgpt.lifecycle.user_data import export_user

        found = await self.get_user(user)
        return await export_user(self.store, found, Path(check_text(str(folder), "The folder")))

    async def set_policy(
        self,
        agent: str,
        *,
        recall_retention_days: int | None = None,
        archival_max_passages: int | None = None,
        redact: bool | None = None,
        redact_patterns: dict[str, str] | None = None,
    ) -> AgentSettings:
        """Set the agent's retention and redaction policy; what is not given stays. ``recall_retention_days``:
        recall messages out of the context window older than this are deleted by :meth:`maintenance`
        (0: keep every message, the default); ``archival_max_passages``: the oldest passages beyond this many
        are (0: no cap). ``redact``: mask keys, e-mails, phones, card numbers and IBANs (and
        ``redact_patterns``, name to regular expression) before anything is stored or sent to the model."""
        from memgpt.memory.redaction import check_patterns

        if recall_retention_days is not None:
            check_int(recall_retention_days, "recall_retention_days", low=0, high=100_000)
        if archival_max_passages is not None:
            check_int(archival_max_passages, "archival_max_passages", low=0, high=MAX_OFFSET)
        if redact is not None and not isinstance(redact, bool):
            raise ValidationError(f"redact must be true or false, got {redact!r}.")
        patterns = check_patterns(redact_patterns) if redact_patterns is not None else None
        state = await self.get_agent(agent)
        async with self.store.lock_agent(state.id):
            state = await self.get_agent(state.id)
            settings = state.settings
            if recall_retention_days is not None:
                settings.recall_retention_days = recall_retention_days or None
            if archival_max_passages is not None:
                settings.archival_max_passages = archival_max_passages or None
            if redact is not None:
                settings.redact = redact
            if patterns is not None:
                settings.redact_patterns = patterns
            await self.store.save_agent(state)
        self._runtime.forget(state.id)
        return settings

    async def apply_retention(self, agent: str | None = None) -> list[RetentionResult]:
        """Apply the retention policy of one agent, or of each of your agents that has one; what went."""
        from memgpt.lifecycle.retention import apply_retention, has_policy

        states = [await self.get_agent(agent)] if agent is not None else await self.list_agents()
        results = []
        for state in states:
            if not has_policy(state):
                continue
            async with self.store.lock_agent(state.id):
                current = await self.get_agent(state.id)
                results.append(await apply_retention(self.store, current, utcnow()))
            if results[-1].messages or results[-1].passages:
                self._runtime.forget(state.id)
                self._invalidate_counts(state.id)
        return results

    async def maintenance(self) -> list[RetentionResult]:
        """Apply every user's agents' retention policies (what ``memgpt maintenance`` and the server run)."""
        users = [LOCAL_USER_ID, *(u.id for u in await self.store.list_users() if u.id != LOCAL_USER_ID)]
        results = []
        for user_id in users:
            results += await self.as_user(user_id).apply_retention()
        return results

    def _summary_llm(self, model: str) -> LLMClient | None:
        try:
            return self._llm_for(model)
        except ConfigError:
            return None

    # ----------------------------------------------------------------- internals
    async def _agent(self, agent: str) -> Agent:
        """The loaded agent (Agent.send refreshes its state under the lock); a name is always resolved in the
        store, so a name that moved to another agent never reaches a stale one."""
        key = _reference(agent, "agent")
        cached = self._runtime.loaded(key, self.user_id) if looks_like_id(key) else None
        if cached is not None:
            return cached
        state = await self.get_agent(key)
        cached = self._runtime.loaded(state.id, self.user_id)
        if cached is not None:
            return cached
        loaded = await Agent.load(
            self.store, state, self._llm_for(state.model), llm_for=self._llm_for, runtime=self._runtime.tools
        )
        self._runtime.keep(loaded)
        return loaded

    def _llm_for(self, model: str) -> LLMClient:
        runtime = self._runtime
        if runtime.llm is not None:
            return runtime.llm
        if model not in runtime.llms:
            if runtime.llm_factory is not None:
                runtime.llms[model] = runtime.llm_factory(model)
            else:
                from memgpt.llm.models import open_llm

                runtime.llms[model] = open_llm(model)
        return runtime.llms[model]


def _blocking(
    method: Callable[Concatenate[Client, P], Coroutine[Any, Any, T]],
) -> Callable[Concatenate[SyncClient, P], T]:
    """The blocking twin of a :class:`Client` method, with the same signature (for type checkers too)."""

    def call(self: SyncClient, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._runner.run(method(self._client, *args, **kwargs))

    call.__name__ = call.__qualname__ = method.__name__
    call.__doc__ = method.__doc__
    return call


class SyncClient:
    """A blocking wrapper of :class:`Client` for scripts; every method mirrors the async one.

    ::

        with SyncClient.open() as client:
            client.create_agent("sam", model="openai/gpt-4o-mini", exist_ok=True)
            events = client.send_message("sam", "Hi!")
    """

    def __init__(
        self,
        database_url: str | None = None,
        *,
        embedder: Embedder | str | None = "default",
        llm: LLMClient | None = None,
        llm_factory: LLMFactory | None = None,
        user_id: str = LOCAL_USER_ID,
    ) -> None:
        self._runner = asyncio.Runner()
        try:
            opening = Client.open(database_url, embedder=embedder, llm=llm, llm_factory=llm_factory, user_id=user_id)
            self._client: Client = self._runner.run(opening)
        except BaseException:
            self._runner.close()
            raise

    @classmethod
    def open(
        cls,
        database_url: str | None = None,
        *,
        embedder: Embedder | str | None = "default",
        llm: LLMClient | None = None,
        llm_factory: LLMFactory | None = None,
        user_id: str = LOCAL_USER_ID,
    ) -> SyncClient:
        """Open the store, as :meth:`Client.open` does."""
        return cls(database_url, embedder=embedder, llm=llm, llm_factory=llm_factory, user_id=user_id)

    @property
    def client(self) -> Client:
        """The async client underneath."""
        return self._client

    check_message = staticmethod(Client.check_message)
    create_agent = _blocking(Client.create_agent)
    get_agent = _blocking(Client.get_agent)
    list_agents = _blocking(Client.list_agents)
    delete_agent = _blocking(Client.delete_agent)
    agent_info = _blocking(Client.agent_info)
    check_agent = _blocking(Client.check_agent)
    send_message = _blocking(Client.send_message)
    list_messages = _blocking(Client.list_messages)
    context = _blocking(Client.context)
    context_overview = _blocking(Client.context_overview)
    get_memory = _blocking(Client.get_memory)
    update_block = _blocking(Client.update_block)
    insert_passages = _blocking(Client.insert_passages)
    import_messages = _blocking(Client.import_messages)
    search = _blocking(Client.search)
    create_source = _blocking(Client.create_source)
    get_source = _blocking(Client.get_source)
    list_sources = _blocking(Client.list_sources)
    delete_source = _blocking(Client.delete_source)
    attach_source = _blocking(Client.attach_source)
    detach_source = _blocking(Client.detach_source)
    list_agent_sources = _blocking(Client.list_agent_sources)
    list_source_files = _blocking(Client.list_source_files)
    load = _blocking(Client.load)
    describe_agent = _blocking(Client.describe_agent)
    upload = _blocking(Client.upload)
    delete_source_file = _blocking(Client.delete_source_file)
    authenticate = _blocking(Client.authenticate)
    create_api_key = _blocking(Client.create_api_key)
    create_user = _blocking(Client.create_user)
    delete_passages = _blocking(Client.delete_passages)
    delete_user = _blocking(Client.delete_user)
    get_block = _blocking(Client.get_block)
    get_user = _blocking(Client.get_user)
    has_api_keys = _blocking(Client.has_api_keys)
    list_api_keys = _blocking(Client.list_api_keys)
    list_users = _blocking(Client.list_users)
    message_window = _blocking(Client.message_window)
    passage_window = _blocking(Client.passage_window)
    revoke_api_key = _blocking(Client.revoke_api_key)
    update_agent = _blocking(Client.update_agent)
    create_block = _blocking(Client.create_block)
    list_blocks = _blocking(Client.list_blocks)
    find_block = _blocking(Client.find_block)
    edit_block = _blocking(Client.edit_block)
    attach_block = _blocking(Client.attach_block)
    detach_block = _blocking(Client.detach_block)
    delete_block = _blocking(Client.delete_block)
    import_agent_file = _blocking(Client.import_agent_file)
    export_agent_file = _blocking(Client.export_agent_file)
    add_tool = _blocking(Client.add_tool)
    get_tool = _blocking(Client.get_tool)
    list_tools = _blocking(Client.list_tools)
    delete_tool = _blocking(Client.delete_tool)
    agents_with_tool = _blocking(Client.agents_with_tool)
    attach_tool = _blocking(Client.attach_tool)
    detach_tool = _blocking(Client.detach_tool)
    list_agent_tools = _blocking(Client.list_agent_tools)
    set_tool_rules = _blocking(Client.set_tool_rules)
    get_tool_rules = _blocking(Client.get_tool_rules)
    set_secret = _blocking(Client.set_secret)
    delete_secret = _blocking(Client.delete_secret)
    list_secrets = _blocking(Client.list_secrets)
    add_mcp_server = _blocking(Client.add_mcp_server)
    get_mcp_server = _blocking(Client.get_mcp_server)
    list_mcp_servers = _blocking(Client.list_mcp_servers)
    remove_mcp_server = _blocking(Client.remove_mcp_server)
    list_mcp_tools = _blocking(Client.list_mcp_tools)

    forget = _blocking(Client.forget)
    block_history = _blocking(Client.block_history)
    revert_block = _blocking(Client.revert_block)
    export_user = _blocking(Client.export_user)
    set_policy = _blocking(Client.set_policy)
    apply_retention = _blocking(Client.apply_retention)
    maintenance = _blocking(Client.maintenance)

    def close(self) -> None:
        """Finish background work and close the store and the LLM clients."""
        try:
            self._runner.run(self._client.close())
        finally:
            self._runner.close()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["Client", "ConfigError", "SyncClient"]
