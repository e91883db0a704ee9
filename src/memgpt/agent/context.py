"""The context compiler: turns agent state into the exact main context the LLM sees.

Order (stable text first so provider prompt caches hit): system instructions, core memory,
memory statistics, recursive summary (all in the system message), then the message FIFO.
The statistics count only messages *outside* the window, so they change at evictions, not every step.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from memgpt.llm.base import ChatRequest
from memgpt.llm.tokens import estimate_message_tokens, estimate_tools_tokens
from memgpt.memory.blocks import CoreMemory
from memgpt.memory.types import Message, spoken_text


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
    return f"[{when:%Y-%m-%d %H:%M}]"


def render_core_memory(memory: CoreMemory) -> str:
    parts = ["## Core memory"]
    for block in memory.blocks:
        flags = ", read-only" if block.read_only else ""
        note = f" — {block.description}" if block.description else ""
        parts.append(
            f'<{block.label} chars="{len(block.value)}/{block.limit}"{flags}>{note}\n{block.value}\n</{block.label}>'
        )
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
    return f"## Summary of earlier conversation (recursive; details in recall memory)\n{summary}"


class ContextCompiler:
    """Builds requests, caching each message's rendered form and token estimate (messages never change)."""

    def __init__(self, instructions: str, tools: list[dict[str, Any]]) -> None:
        self.instructions = instructions
        self.tools = tools
        self.tools_tokens = estimate_tools_tokens(tools)
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
            rendered = render_message(message)
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
        for message in fifo:
            rendered, count = self.render(message)
            messages.append(rendered)
            tokens += count
        return ChatRequest(messages=messages, tools=self.tools, tool_choice=tool_choice), tokens


def render_message(message: Message) -> dict[str, Any]:
    """One stored message in the OpenAI chat format, with its time where the model benefits from it."""
    if message.role == "user":
        return {"role": "user", "content": f"{_stamp(message.created_at)} {spoken_text(message)}"}
    if message.role == "system":
        return {"role": "user", "content": f"{_stamp(message.created_at)} [System alert] {message.content or ''}"}
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id or "", "content": message.content or ""}
    rendered: dict[str, Any] = {"role": "assistant", "content": message.content or None}
    if message.tool_calls:
        rendered["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in message.tool_calls
        ]
    return rendered
