"""Replays an agent's stored context through the request builder: can it be sent to an LLM as it is stored?

The request builder repairs on render whatever it finds (so an agent always answers), but a store written
by an older version can hold what it has to repair: invalid Unicode, a function name that is not text, a
tool result without its call. :func:`check_context` lists each such piece with the repair that
``memgpt agents check --repair`` makes (messages leave the context window but stay in recall memory;
blocks and the summary are rewritten with clean text), then compiles the request and checks that every
string in it is valid Unicode and that it encodes as UTF-8 JSON.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from memgpt.agent.context import UNKNOWN_FUNCTION, ContextCompiler, MemoryStats, safe_call_id
from memgpt.agent.queue import group_of
from memgpt.memory.agent_state import AgentState
from memgpt.memory.blocks import Block, CoreMemory
from memgpt.memory.types import Message
from memgpt.validation import is_storable, to_text

ROLES = ("user", "system", "assistant", "tool")


@dataclass(frozen=True, slots=True)
class ContextProblem:
    """One stored piece that could not be sent as it is: where, what is wrong, what a repair does."""

    part: str
    problem: str
    repair: str


@dataclass(slots=True)
class ContextCheck:
    """The outcome of :func:`check_context`, with what a repair does: messages to drop, text to clean."""

    problems: list[ContextProblem] = field(default_factory=list)
    drop_ids: set[str] = field(default_factory=set)  # in-context messages that leave the context window
    clean_blocks: bool = False
    clean_summary: bool = False
    repaired: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "repaired": self.repaired,
            "problems": [{"part": p.part, "problem": p.problem, "repair": p.repair} for p in self.problems],
        }


def check_context(
    state: AgentState,
    fifo: Sequence[Message],
    unreadable: Collection[str],
    compiler: ContextCompiler,
) -> ContextCheck:
    """Check the stored blocks, summary and in-context messages (``unreadable``: FIFO ids that failed to load)."""
    check = ContextCheck()
    for message_id in unreadable:
        check.problems.append(ContextProblem(f"message {message_id}", "cannot be read", "leave the context"))
        check.drop_ids.add(message_id)
    _check_blocks(state, check)
    if not _is_text(state.summary):
        check.clean_summary = True
        check.problems.append(ContextProblem("summary", "holds invalid Unicode or is not text", "clean it"))
    for index, message in enumerate(fifo):
        for problem in _message_problems(message, compiler.functions):
            check.problems.append(ContextProblem(f"message {message.id}", problem, "leave the context"))
            check.drop_ids.update(m.id for m in group_of(fifo, index))
    _check_pairing(fifo, check)
    _replay(state, fifo, compiler, check)
    return check


def _is_text(value: object) -> bool:
    return isinstance(value, str) and is_storable(value)


def _check_blocks(state: AgentState, check: ContextCheck) -> None:
    for block in state.blocks:
        if not all(_is_text(v) for v in (block.label, block.value, block.description)):
            label = to_text(block.label)
            check.clean_blocks = True
            check.problems.append(ContextProblem(f"block {label}", "holds invalid Unicode or is not text", "clean it"))


def _message_problems(message: Message, functions: Collection[str]) -> list[str]:
    problems = []
    if message.role not in ROLES:
        problems.append(f"has the unknown role {to_text(message.role)!r}")
    for what, value in (("content", message.content), ("sender name", message.name)):
        if value is not None and not _is_text(value):
            problems.append(f"its {what} holds invalid Unicode or is not text")
    for call in message.tool_calls:
        if not _is_text(call.name):
            problems.append(f"calls a function whose name is not text: {to_text(call.name)[:40]!r}")
        elif call.name not in functions and call.name != UNKNOWN_FUNCTION:
            problems.append(f"calls {call.name[:40]!r}, which is not one of its functions, under its own name")
        if not _is_text(call.arguments):
            problems.append("has call arguments that hold invalid Unicode or are not text")
        if safe_call_id(call.id) != call.id:
            problems.append(f"has a call id providers refuse: {to_text(call.id)[:40]!r}")
    if message.role == "tool" and safe_call_id(message.tool_call_id) != message.tool_call_id:
        problems.append(f"answers a call id providers refuse: {to_text(message.tool_call_id)[:40]!r}")
    return problems


def _check_pairing(fifo: Sequence[Message], check: ContextCheck) -> None:
    """Every call answered right after it, every result right after its call."""
    pending: list[str] = []
    opened = 0
    for index, message in enumerate(fifo):
        if message.role == "tool":
            if message.tool_call_id in pending:
                pending.remove(message.tool_call_id)
            else:
                check.problems.append(ContextProblem(f"message {message.id}", "answers no call", "leave the context"))
                check.drop_ids.add(message.id)
            continue
        if pending:
            _unanswered(fifo, opened, check)
        pending = [c.id for c in message.tool_calls] if message.role == "assistant" else []
        opened = index
    if pending:
        _unanswered(fifo, opened, check)


def _unanswered(fifo: Sequence[Message], index: int, check: ContextCheck) -> None:
    problem = ContextProblem(f"message {fifo[index].id}", "has calls without a result", "leave the context")
    check.problems.append(problem)
    check.drop_ids.update(m.id for m in group_of(fifo, index))


def _replay(state: AgentState, fifo: Sequence[Message], compiler: ContextCompiler, check: ContextCheck) -> None:
    """Compile the request as the agent would and check that it can be sent."""
    try:
        memory = CoreMemory(state.blocks)
        stats = MemoryStats(len(fifo), len(fifo), 0, state.last_memory_edit)
        request, _ = compiler.compile(memory, stats, state.summary, list(fifo))
        body = {"messages": request.messages, "tools": request.tools}
        json.dumps(body, ensure_ascii=False).encode("utf-8")
        unsendable = [text for text in _strings(body) if not is_storable(text)]
    except Exception as exc:  # the check exists to find exactly this: report it, do not crash on it
        check.problems.append(
            ContextProblem("request", f"the request builder failed ({type(exc).__name__}: {exc})", "none: a bug")
        )
        return
    if unsendable:
        check.problems.append(ContextProblem("request", "holds invalid Unicode after rendering", "none: a bug"))


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def clean_state_text(state: AgentState) -> None:
    """Blocks and summary as storable text, in place: what an older version stored that can no longer be
    written is repaired in memory (``memgpt agents check --repair`` saves it)."""
    clean_blocks(state.blocks)
    state.summary = to_text(state.summary)


def clean_blocks(blocks: list[Block]) -> list[Block]:
    """``blocks``, their text made storable in place."""
    for block in blocks:
        block.value, block.description = to_text(block.value), to_text(block.description)
    return blocks
