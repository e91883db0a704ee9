"""The context compiler: turns agent state into the exact main context the LLM sees.

Order (stable text first so provider prompt caches hit): system instructions, core memory,
memory statistics, recursive summary (all in the system message), then the message FIFO.
The statistics count only messages *outside* the window, so they change at evictions, not every step.

Whatever is stored, the request is sendable (an agent can never be bricked by its own history): text
is cleaned on render (:func:`memgpt.validation.to_text`), a function name or call id that a provider
would refuse is replaced by a safe one, and every tool call is answered by a result right after it
(a result whose call is not in the window is shown as a note; a call without a result gets a Failed one).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from memgpt.llm.base import ChatRequest
from memgpt.llm.tokens import estimate_message_tokens, estimate_tools_tokens
from memgpt.memory.blocks import CoreMemory
from memgpt.memory.types import Message, spoken_text
from memgpt.validation import is_safe_id, to_text

# The name under which a call of a function the agent does not have is stored and shown (what the model
# wrote may be anything: OpenAI and Anthropic refuse names outside [A-Za-z0-9_-]{1,64} in the history).
UNKNOWN_FUNCTION = "unknown_function"
MISSING_RESULT = json.dumps({"status": "Failed", "message": "No result of this call was recorded."})


@dataclass(slots=True)
class MemoryStats:
    """What the agent can page in: counts outside the window and the last core-memory edit."""

    recall_total: int
    recall_in_context: int
    archival_total: int
    last_memory_edit: datetime | None

    @property
    def recall_hidden(self) -> int:
        return max(0, self.recall_total - self.recall_in_context)


def _stamp(when: datetime) -> str:
    return f"[{when:%Y-%m-%d %H:%M}]" if isinstance(when, datetime) else "[unknown time]"


def safe_name(name: object, functions: Collection[str]) -> str:
    """A function name as shown in the history: itself if it is one of ``functions``, else UNKNOWN_FUNCTION."""
    return name if isinstance(name, str) and name in functions else UNKNOWN_FUNCTION


def safe_call_id(call_id: object) -> str:
    """A tool call id every provider accepts; an unsafe one maps to the same safe id on the call and its result."""
    text = to_text(call_id)
    if is_safe_id(text):
        return text
    return "call_" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def render_core_memory(memory: CoreMemory) -> str:
    parts = ["## Core memory"]
    for block in memory.blocks:
        label, value = to_text(block.label), to_text(block.value)
        flags = ", read-only" if block.read_only else ""
        note = f" — {to_text(block.description)}" if block.description else ""
        parts.append(f'<{label} chars="{len(value)}/{block.limit}"{flags}>{note}\n{value}\n</{label}>')
    return "\n".join(parts)


def render_stats(stats: MemoryStats) -> str:
    edited = f"{stats.last_memory_edit:%Y-%m-%d %H:%M} UTC" if stats.last_memory_edit else "never"
    return (
        "## Memory statistics\n"
        f"- {stats.recall_hidden} earlier messages are in recall memory, out of your context (conversation_search).\n"
        f"- {stats.archival_total} passages are in archival memory (archival_memory_search).\n"
        f"- Core memory last edited: {edited}."
    )


def render_summary(summary: str) -> str:
    return f"## Summary of earlier conversation (recursive; details in recall memory)\n{to_text(summary)}"


class ContextCompiler:
    """Builds requests, caching each message's rendered form and token estimate (messages never change)."""

    def __init__(self, instructions: str, tools: list[dict[str, Any]]) -> None:
        self.instructions = instructions
        self.tools = tools
        self.tools_tokens = estimate_tools_tokens(tools)
        self.functions = frozenset(tool["function"]["name"] for tool in tools)
        self._rendered: dict[str, tuple[dict[str, Any], int]] = {}

    def system_text(self, memory: CoreMemory, stats: MemoryStats, summary: str) -> str:
        parts = [self.instructions, render_core_memory(memory), render_stats(stats)]
        if summary:
            parts.append(render_summary(summary))
        return "\n\n".join(parts)

    def render(self, message: Message) -> tuple[dict[str, Any], int]:
        """The OpenAI-format dict of ``message`` and its estimated tokens (cached by message id)."""
        cached = self._rendered.get(message.id)
        if cached is None:
            rendered = render_message(message, self.functions)
            cached = (rendered, estimate_message_tokens([rendered]))
            self._rendered[message.id] = cached
        return cached

    def forget(self, messages: list[Message]) -> None:
        for message in messages:
            self._rendered.pop(message.id, None)

    def compile(
        self, memory: CoreMemory, stats: MemoryStats, summary: str, fifo: list[Message], *, tool_choice: str = "auto"
    ) -> tuple[ChatRequest, int]:
        """The request and its estimated prompt tokens (system + tools + FIFO)."""
        system = {"role": "system", "content": self.system_text(memory, stats, summary)}
        messages = [system]
        tokens = estimate_message_tokens([system]) + self.tools_tokens
        pending: list[str] = []  # ids of the last assistant message's calls still waiting for their result
        for message in fifo:
            rendered, count = self.render(message)
            if rendered["role"] == "tool":
                if rendered["tool_call_id"] not in pending:
                    rendered, count = _orphan_result(rendered)
                else:
                    pending.remove(rendered["tool_call_id"])
            if rendered["role"] != "tool" and pending:
                tokens += _answer_missing(messages, pending)
            if rendered["role"] == "assistant":
                pending = [call["id"] for call in rendered.get("tool_calls", ())]
            messages.append(rendered)
            tokens += count
        tokens += _answer_missing(messages, pending)
        return ChatRequest(messages=messages, tools=self.tools, tool_choice=tool_choice), tokens


def _orphan_result(rendered: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """A tool result whose call is not right before it, as a note (providers refuse such a tool message)."""
    note = {"role": "user", "content": f"[System alert] A function result whose call is gone: {rendered['content']}"}
    return note, estimate_message_tokens([note])


def _answer_missing(messages: list[dict[str, Any]], pending: list[str]) -> int:
    """Append a Failed result for each call in ``pending`` (and empty it); returns their tokens."""
    answers = [{"role": "tool", "tool_call_id": call_id, "content": MISSING_RESULT} for call_id in pending]
    messages.extend(answers)
    pending.clear()
    return estimate_message_tokens(answers)


def render_message(message: Message, functions: Collection[str]) -> dict[str, Any]:
    """One stored message in the OpenAI chat format, with its time where the model benefits from it.

    A call of a function not in ``functions`` is shown as a call of UNKNOWN_FUNCTION.
    """
    content = to_text(message.content)
    if message.role == "user":
        return {"role": "user", "content": f"{_stamp(message.created_at)} {to_text(spoken_text(message))}"}
    if message.role == "system":
        return {"role": "user", "content": f"{_stamp(message.created_at)} [System alert] {content}"}
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": safe_call_id(message.tool_call_id), "content": content}
    rendered: dict[str, Any] = {"role": "assistant", "content": content or None}
    calls: list[dict[str, Any]] = [
        {
            "id": safe_call_id(c.id),
            "type": "function",
            "function": {"name": safe_name(c.name, functions), "arguments": to_text(c.arguments)},
        }
        for c in message.tool_calls
    ]
    if len({c["id"] for c in calls}) < len(calls):  # providers refuse duplicate ids (the results become notes)
        for index, call in enumerate(calls):
            call["id"] = f"{call['id'][:58]}_{index}"
    if calls:
        rendered["tool_calls"] = calls
    elif not content:
        rendered["content"] = ""  # an assistant message needs content or calls
    return rendered
