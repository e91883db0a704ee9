"""The step loop: compile context, call the LLM, run its function calls, persist, decide to continue.

Persistence is per step and atomic: an input is committed before the LLM sees it, and everything a
step produced (its messages, core-memory edits, archival inserts, FIFO and summary changes) commits
in one transaction. A crash therefore never loses a received message and never leaves a memory edit
without the message that made it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from memgpt.agent.check import clean_blocks, clean_state_text
from memgpt.agent.context import UNKNOWN_FUNCTION, ContextCompiler, MemoryStats
from memgpt.agent.events import AgentEvent
from memgpt.agent.prompts import load_prompt
from memgpt.agent.queue import QueueManager, eviction_count
from memgpt.agent.streaming import StringField
from memgpt.errors import ContextWindowExceededError, LLMError
from memgpt.llm.base import ChatRequest, ChatResponse, Delta, DeltaCallback, LLMClient
from memgpt.memory.agent_state import AgentState
from memgpt.memory.blocks import Block, CoreMemory
from memgpt.memory.protocols import Store
from memgpt.memory.redaction import redact_for, redactor
from memgpt.memory.tools import AttachedTool, ToolsVersion
from memgpt.memory.types import Message, ToolCall, new_id, utcnow
from memgpt.tools.context import ToolContext
from memgpt.tools.executor import ToolExecutor, ToolResult
from memgpt.tools.paging import ChainSearches
from memgpt.tools.rules import ChainRules, ToolRule, parse_rules
from memgpt.tools.runtime import ToolRuntime

log = logging.getLogger(__name__)

EventCallback = Callable[[AgentEvent], None]

WARNING_ALERT = (
    "Memory pressure: the context window is {percent}% full. Older messages will soon be moved out of "
    "your context into recall memory. Save anything important to core memory or archival memory now."
)
EMPTY_REPLY_ALERT = "Your last reply was empty. Act by calling a function, e.g. send_message to answer the user."
STEP_LIMIT_NOTE = "Stopped after {steps} steps without yielding; waiting for the next input."
CONTEXT_RETRIES = 2


@dataclass(slots=True)
class _Snapshot:
    blocks: list[Block]
    fifo_ids: list[str]
    fifo: list[Message]
    summary: str
    pressure_warned: bool
    last_memory_edit: datetime | None
    updated_at: datetime


def compiler_for(state: AgentState, tools: ToolExecutor) -> ContextCompiler:
    """The request builder of an agent with ``tools``."""
    instructions = state.settings.system_prompt or load_prompt(f"system_{state.system_prompt_version}")
    return ContextCompiler(instructions, tools.tool_schemas())


def rules_of(state: AgentState) -> list[ToolRule]:
    """The agent's tool rules (as stored: checked when they were set)."""
    return parse_rules(state.settings.tool_rules) if state.settings.tool_rules else []


class Agent:
    """One loaded agent. Use :meth:`Agent.load`, then :meth:`send` for each input."""

    def __init__(
        self,
        state: AgentState,
        store: Store,
        llm: LLMClient,
        fifo: list[Message],
        *,
        llm_for: Callable[[str], LLMClient] | None = None,
        runtime: ToolRuntime | None = None,
        attached: Sequence[AttachedTool] = (),
        tools_version: ToolsVersion = (),
    ) -> None:
        clean_state_text(state)  # an older version's unstorable text would make every save fail
        self.state = state
        self.store = store
        self.llm = llm
        self._llm_for = llm_for  # the client of another model, when the agent's model changes
        self.memory = CoreMemory(state.blocks)
        self.fifo = fifo
        self.runtime = runtime or ToolRuntime()  # the process's sandbox and MCP sessions (the client passes its own)
        self.tools = self.runtime.executor(attached)
        self._tools_version = tools_version  # the attached tools as last loaded (reloaded when they change)
        self.compiler = compiler_for(state, self.tools)
        self.queue = QueueManager(state.context_window, state.settings)
        self._counts: tuple[int, int] | None = None
        self._background: set[asyncio.Task[int]] = set()
        self._streaming: EventCallback | None = None  # who gets the reply's pieces during a streamed send
        self._searches = ChainSearches()  # one per input: its steps page through searches without repeats
        self._rules = ChainRules([], ())  # one per input (made from the agent's tool rules when its chain starts)
        self._input_id: str | None = None  # the input the running chain answers (provenance of memory edits)

    @classmethod
    async def load(
        cls,
        store: Store,
        state: AgentState,
        llm: LLMClient,
        *,
        llm_for: Callable[[str], LLMClient] | None = None,
        runtime: ToolRuntime | None = None,
    ) -> Agent:
        """Load an agent with its in-context messages and its tools (``llm_for``: how to reach another model if
        it changes; ``runtime``: the sandbox and MCP sessions its tools run in)."""
        fifo = await store.get_messages(state.id, state.fifo_ids) if state.fifo_ids else []
        version = await store.agent_tools_version(state.id)
        attached = await store.list_agent_tools(state.id)
        return cls(state, store, llm, fifo, llm_for=llm_for, runtime=runtime, attached=attached, tools_version=version)

    # ----------------------------------------------------------------- public
    async def send(
        self,
        content: str,
        *,
        role: str = "user",
        name: str | None = None,
        on_event: EventCallback | None = None,
        stream: bool = False,
    ) -> list[AgentEvent]:
        """Handle one input (a user message, or a system event with ``role="system"``) to completion.

        ``name`` is the sender of a user message, for conversations with several people. With ``stream``,
        ``on_event`` also gets the reply as it is generated (``*_delta`` events, not in the returned list).
        """
        events: list[AgentEvent] = []

        def emit(event: AgentEvent) -> None:
            events.append(event)
            if on_event is not None:
                on_event(event)

        async with self.store.lock_agent(self.state.id):
            self._streaming = on_event if stream else None
            try:
                await self._refresh()
                redacted = redact_for(self.state.settings, content)  # before it is stored or sent anywhere
                content = redacted.text
                extra = {"redactions": dict(redacted.counts)} if redacted.total else {}
                if role == "user":
                    message = Message(role="user", content=content, name=name, metadata=extra)
                else:
                    message = Message(role="system", content=content, metadata=extra)
                await self._commit([message])
                self._input_id = message.id
                data: dict[str, Any] = {"message_id": message.id}
                if role == "user" and name is not None:
                    data["name"] = name
                if redacted.total:
                    data["redactions"] = dict(redacted.counts)
                    log.info("agent %s: %d item(s) redacted from an input", self.state.id, redacted.total)
                emit(AgentEvent("user_message" if role == "user" else "system_alert", content, data))
                await self._chain(emit)
            finally:
                self._streaming = None
        self._embed_in_background()
        return events

    async def _refresh(self) -> None:
        """Reload the state if another process (or client) changed the agent since we loaded it, the
        blocks if anyone changed one (another agent sharing it, a user), and its tools if they were attached,
        detached or edited since."""
        version = await self.store.agent_tools_version(self.state.id)
        if version != self._tools_version:
            self.tools = self.runtime.executor(await self.store.list_agent_tools(self.state.id))
            self._tools_version = version
            self.compiler = compiler_for(self.state, self.tools)
        current = await self.store.get_agent(self.state.user_id, self.state.id)
        clean_state_text(current)
        if current.updated_at == self.state.updated_at:
            self._adopt_blocks(current.blocks)
            return
        changed = (current.model, current.context_window, current.settings, current.system_prompt_version) != (
            self.state.model,
            self.state.context_window,
            self.state.settings,
            self.state.system_prompt_version,
        )
        self.state = current
        if changed:  # changed by another process (a server worker, the CLI): instructions, window, model
            self.compiler = compiler_for(current, self.tools)
            self.queue = QueueManager(current.context_window, current.settings)
            if self._llm_for is not None:
                self.llm = self._llm_for(current.model)
        self.memory = CoreMemory(current.blocks)
        self.fifo = await self.store.get_messages(current.id, current.fifo_ids) if current.fifo_ids else []
        self._counts = None

    async def _refresh_blocks(self) -> None:
        """Show the blocks as stored now: an edit another agent sharing a block made is seen at the next step."""
        self._adopt_blocks(clean_blocks(await self.store.agent_blocks(self.state.id)))

    def _adopt_blocks(self, blocks: list[Block]) -> None:
        if [(b.id, b.version) for b in blocks] != self.memory.versions():
            self.memory = CoreMemory(blocks)
            self.state.blocks = self.memory.blocks

    async def stats(self) -> MemoryStats:
        recall, archival = await self._memory_counts()
        return MemoryStats(recall, len(self.fifo), archival, self.state.last_memory_edit)

    def cancel_background(self) -> None:
        """Stop background embedding (rows it did not reach wait for the next input's task)."""
        for task in self._background:
            task.cancel()

    async def wait_background(self) -> None:
        """Wait for background embedding work (call before the process exits)."""
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    # ----------------------------------------------------------------- the chain of steps
    async def _chain(self, emit: EventCallback) -> None:
        self._searches = ChainSearches()
        self._rules = ChainRules(rules_of(self.state), self.tools.names)
        for step in range(self.state.settings.max_steps):
            if step:
                emit(AgentEvent("heartbeat"))
                await self._refresh_blocks()
            if not await self._step(emit):
                return
        note = STEP_LIMIT_NOTE.format(steps=self.state.settings.max_steps)
        await self._commit([Message(role="system", content=note, metadata={"kind": "step_limit"})], in_context=False)
        emit(AgentEvent("step_limit", note))

    async def _step(self, emit: EventCallback) -> bool:
        """One LLM call and its function calls. Returns True to continue with another step."""
        message_id = new_id("message")  # known before the reply, so streamed pieces name the message they become
        log.debug("agent %s: step with %d messages in context", self.state.id, len(self.fifo))
        response = await self._call_llm(emit, message_id)
        calls = [self._with_id(c) for c in response.tool_calls]
        assistant = Message(
            id=message_id,
            role="assistant",
            content=(response.content or "").strip() or None,
            tool_calls=[self._as_stored(c) for c in calls],
        )
        self._redact_reply(assistant)
        if assistant.content is None and not assistant.tool_calls:
            await self._commit([Message(role="system", content=EMPTY_REPLY_ALERT, metadata={"kind": "empty_reply"})])
            emit(AgentEvent("system_alert", EMPTY_REPLY_ALERT))
            return True
        if assistant.content:
            emit(AgentEvent("inner_monologue", assistant.content, {"message_id": message_id}))
        results = await self._run_calls(assistant, calls, emit)
        wanted = (
            any(r.request_heartbeat or r.failed for r in results) if results else self.state.settings.require_tool_call
        )
        go_on, alert = self._rules.next_step([c.name for c in calls], [not r.failed for r in results], wanted)
        if alert is not None:  # a tool rule keeps the chain going: the model is told which and why
            await self._commit([Message(role="system", content=alert, metadata={"kind": "tool_rule"})])
            emit(AgentEvent("system_alert", alert, {"kind": "tool_rule"}))
        return go_on

    async def _run_calls(self, assistant: Message, calls: list[ToolCall], emit: EventCallback) -> list[ToolResult]:
        """Run ``calls`` (as the model made them) and commit ``assistant`` (as stored) with their results."""
        snapshot = self._snapshot()
        ctx = ToolContext(
            agent=self.state,
            memory=self.memory,
            store=self.store,
            searches=self._searches,
            message_id=assistant.id,
            input_message_id=self._input_id,
        )
        results: list[ToolResult] = []
        try:
            async with self.store.transaction():
                outputs = [assistant]
                for call, stored in zip(calls, assistant.tool_calls, strict=True):
                    # A failed call changes nothing in the store, and a database error inside it (which
                    # aborts a PostgreSQL transaction) leaves the rest of the step able to commit.
                    ctx.call_id = call.id
                    async with self.store.savepoint() as savepoint:
                        result = await self.tools.execute(call, ctx, self._rules)
                        if result.failed:
                            savepoint.discard()
                    results.append(result)
                    outputs.append(
                        Message(
                            role="tool",
                            name=stored.name,
                            tool_call_id=call.id,
                            content=result.to_content(ctx.now, self.state.settings.tool_result_limit),
                        )
                    )
                if ctx.memory_edited:
                    self.state.last_memory_edit = ctx.now
                await self._commit(outputs)
                if ctx.passages_added:
                    self.invalidate_counts()
        except BaseException:
            self._restore(snapshot)
            raise
        for call, result, returned in zip(calls, results, outputs[1:], strict=True):
            data = {"arguments": call.arguments, "id": call.id, "message_id": assistant.id}
            emit(AgentEvent("function_call", call.name, data))
            data = {"name": call.name, "status": result.status, "id": call.id, "message_id": returned.id}
            emit(AgentEvent("function_result", result.message, data))
        for text in ctx.sent_messages:
            emit(AgentEvent("assistant_message", text, {"message_id": assistant.id}))
        return results

    def _redact_reply(self, assistant: Message) -> None:
        """Mask what the agent's policy masks in the reply as stored (the model may repeat a secret it knows)."""
        redact = redactor(self.state.settings)
        if redact is None:
            return
        if assistant.content:
            assistant.content = redact(assistant.content).text
        # masks never contain a quote or a backslash: the arguments stay the JSON they were
        assistant.tool_calls = [replace(c, arguments=redact(c.arguments).text) for c in assistant.tool_calls]

    @staticmethod
    def _with_id(call: ToolCall) -> ToolCall:
        return call if call.id else replace(call, id=new_id("call"))

    def _as_stored(self, call: ToolCall) -> ToolCall:
        """A call of a function the agent does not have is stored as UNKNOWN_FUNCTION; its Failed result names it."""
        return call if call.name in self.tools.names else replace(call, name=UNKNOWN_FUNCTION)

    # ----------------------------------------------------------------- LLM call and memory pressure
    async def _call_llm(self, emit: EventCallback, message_id: str) -> ChatResponse:
        on_delta = self._delta_events(message_id) if self._streaming is not None else None
        for attempt in range(CONTEXT_RETRIES + 1):
            request, estimate = await self._prepare_request(emit)
            try:
                response = await self.llm.chat(request, on_delta)
            except ContextWindowExceededError:
                if attempt == CONTEXT_RETRIES:
                    raise
                log.info("provider reported context overflow; evicting and retrying")
                await self._flush(emit, force=True)
                continue
            self.queue.observe(estimate, response.usage.prompt_tokens if response.usage else None)
            if response.usage:
                emit(
                    AgentEvent(
                        "usage",
                        data={
                            "prompt_tokens": response.usage.prompt_tokens,
                            "completion_tokens": response.usage.completion_tokens,
                        },
                    )
                )
            return response
        raise LLMError("unreachable")  # pragma: no cover

    def _delta_events(self, message_id: str) -> DeltaCallback:
        """Pieces of the reply as events: inner monologue, the text of send_message calls, other calls' arguments."""
        messages: dict[int, StringField] = {}

        def on_delta(delta: Delta) -> None:
            sink = self._streaming
            if sink is None:
                return
            if delta.call is None:
                sink(AgentEvent("inner_monologue_delta", delta.text, {"message_id": message_id}))
            elif delta.name == "send_message":
                text = messages.setdefault(delta.call, StringField()).feed(delta.text)
                if text:
                    sink(AgentEvent("assistant_message_delta", text, {"message_id": message_id, "call": delta.call}))
            else:
                data = {"message_id": message_id, "call": delta.call, "name": delta.name}
                sink(AgentEvent("function_call_delta", delta.text, data))

        return on_delta

    async def _prepare_request(self, emit: EventCallback) -> tuple[ChatRequest, int]:
        request, estimate = await self._compile()
        tokens = self.queue.tokens(estimate)
        if self.queue.over_flush(tokens):
            await self._flush(emit)
            request, estimate = await self._compile()
            tokens = self.queue.tokens(estimate)
        if self.queue.over_warning(tokens) and not self.state.pressure_warned:
            percent = round(100 * tokens / self.state.context_window)
            alert = Message(
                role="system", content=WARNING_ALERT.format(percent=percent), metadata={"kind": "memory_pressure"}
            )
            self.state.pressure_warned = True
            await self._commit([alert])
            emit(AgentEvent("system_alert", alert.content, {"kind": "memory_pressure", "tokens": tokens}))
            request, estimate = await self._compile()
        return request, estimate

    async def _compile(self) -> tuple[ChatRequest, int]:
        tool_choice = "required" if self.state.settings.require_tool_call else "auto"
        return self.compiler.compile(
            self.memory, await self.stats(), self.state.summary, self.fifo, tool_choice=tool_choice
        )

    async def _flush(self, emit: EventCallback, *, force: bool = False) -> None:
        """Evict the oldest messages down to the target and fold them into the recursive summary."""
        _, estimate = await self._compile()
        fixed = self.queue.tokens(estimate - sum(self.compiler.render(m)[1] for m in self.fifo))
        counts = [self.queue.tokens(self.compiler.render(m)[1]) for m in self.fifo]
        target = (
            self.queue.budget.target if not force else min(self.queue.budget.target, self.queue.tokens(estimate) // 2)
        )
        count = eviction_count(self.fifo, counts, fixed, target, self.queue.keep_last)
        if count == 0:
            if force:
                raise ContextWindowExceededError(
                    "The context is too long even after evicting every older message: the core memory, "
                    "the summary or the last messages are too large for this model's context window."
                )
            return
        evicted = self.fifo[:count]
        summary = await self._summarize(evicted)
        snapshot = self._snapshot()
        try:
            self.fifo = self.fifo[count:]
            self.state.summary = summary
            self.state.summary_updated_at = utcnow()
            self.state.pressure_warned = False
            await self._commit([])
        except BaseException:
            self._restore(snapshot)
            raise
        self.compiler.forget(evicted)
        emit(AgentEvent("summary", summary, {"evicted": count}))

    async def _summarize(self, evicted: list[Message]) -> str:
        try:
            return await self.queue.summarize(self.llm, self.state.summary, evicted)
        except LLMError as exc:
            log.warning("summary call failed (%s); evicting with a placeholder summary", type(exc).__name__)
            first, last = evicted[0].created_at, evicted[-1].created_at
            note = (
                f"({len(evicted)} messages from {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} are in recall memory.)"
            )
            return f"{self.state.summary}\n{note}".strip()

    # ----------------------------------------------------------------- persistence
    async def _commit(self, messages: list[Message], *, in_context: bool = True) -> None:
        """Append ``messages`` to recall (and the FIFO) and save the agent state, atomically."""
        snapshot = self._snapshot()
        try:
            if in_context:
                self.fifo.extend(messages)
            self.state.fifo_ids = [m.id for m in self.fifo]
            self.state.blocks = self.memory.blocks
            await self.store.append_and_save(self.state, messages)  # joins the step's transaction if any
        except BaseException:
            self._restore(snapshot)
            raise
        if self._counts is not None:
            self._counts = (self._counts[0] + len(messages), self._counts[1])

    async def _memory_counts(self) -> tuple[int, int]:
        if self._counts is None:
            self._counts = (
                await self.store.count_messages(self.state.id),
                await self.store.count_passages(self.state.id),
            )
        return self._counts

    def invalidate_counts(self) -> None:
        self._counts = None

    def _snapshot(self) -> _Snapshot:
        return _Snapshot(
            blocks=[replace(b) for b in self.memory.blocks],
            fifo_ids=list(self.state.fifo_ids),
            fifo=list(self.fifo),
            summary=self.state.summary,
            pressure_warned=self.state.pressure_warned,
            last_memory_edit=self.state.last_memory_edit,
            updated_at=self.state.updated_at,
        )

    def _restore(self, snapshot: _Snapshot) -> None:
        self.memory = CoreMemory([replace(b) for b in snapshot.blocks])
        self.state.blocks = self.memory.blocks
        self.state.fifo_ids = snapshot.fifo_ids
        self.fifo = snapshot.fifo
        self.state.summary = snapshot.summary
        self.state.pressure_warned = snapshot.pressure_warned
        self.state.last_memory_edit = snapshot.last_memory_edit
        self.state.updated_at = snapshot.updated_at  # the version the store still holds: the next save compares it
        self._counts = None

    def _embed_in_background(self) -> None:
        """Embed new messages and passages after the reply, one task at a time (a running task picks up new
        rows)."""
        if not self.store.semantic_search_available or self._background:
            return
        task = asyncio.get_running_loop().create_task(self._embed_until_done())
        self._background.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task[int]) -> None:
        self._background.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:  # one line, no traceback: the next input's task tries again
            log.warning("Embedding new messages of %s failed: %s", self.state.name, error or type(error).__name__)

    async def _embed_until_done(self) -> int:
        """Embed the agent's new messages, and the passages its steps archived, until none is left."""
        total = 0
        for embed_pending in (self.store.embed_pending_messages, self.store.embed_pending_passages):
            while embedded := await embed_pending(self.state.id):
                total += embedded
        return total
