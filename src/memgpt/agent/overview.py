"""What fills an agent's main context: the token estimate of each part and the queue manager's thresholds.

One computation for every view of it: ``memgpt chat``'s ``/context``, ``GET /v1/agents/{id}/context`` and
the web UI's context bar. Figures are the local estimates the queue manager starts from (before it scales
them by what the provider reported), so the thresholds are compared with the same numbers it sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from memgpt.agent.context import ContextCompiler, MemoryStats, render_core_memory, render_stats
from memgpt.agent.queue import Budget
from memgpt.llm.tokens import estimate_tokens
from memgpt.memory.agent_state import AgentState
from memgpt.memory.blocks import CoreMemory
from memgpt.memory.types import Message

PARTS = ("system_instructions", "tool_schemas", "core_memory", "summary", "messages")


@dataclass(frozen=True, slots=True)
class ContextOverview:
    """The main context of one agent as it stands in the store, part by part (tokens are estimates)."""

    context_window: int
    system_instructions: int
    tool_schemas: int
    core_memory: int  # the blocks as rendered, without the memory statistics
    memory_statistics: int
    summary: int
    messages: int
    warning_tokens: int  # the memory-pressure alert is sent at this many tokens
    flush_tokens: int  # the oldest messages are evicted into the summary at this many
    target_tokens: int  # and evicted until the context is at most this many
    in_context_messages: int
    recall_messages: int  # every message in the recall store, those in the window included
    archival_passages: int
    summary_text: str
    summary_updated_at: datetime | None
    instructions_text: str
    core_memory_text: str  # the blocks as the model sees them
    statistics_text: str
    tools: list[dict[str, Any]]  # the OpenAI tool schemas the model sees
    fifo: list[Message]

    @property
    def total(self) -> int:
        """Estimated tokens of the whole prompt."""
        parts = (self.system_instructions, self.tool_schemas, self.core_memory, self.memory_statistics)
        return sum(parts) + self.summary + self.messages

    def breakdown(self) -> dict[str, int]:
        """The five parts and the window, as ``/context`` prints them (core memory with its statistics)."""
        return {
            "system_instructions": self.system_instructions,
            "tool_schemas": self.tool_schemas,
            "core_memory": self.core_memory + self.memory_statistics,
            "summary": self.summary,
            "messages": self.messages,
            "context_window": self.context_window,
        }


def context_overview(
    state: AgentState, compiler: ContextCompiler, fifo: list[Message], stats: MemoryStats
) -> ContextOverview:
    """The overview of ``state`` whose in-context messages are ``fifo`` (``compiler``: its request builder)."""
    memory = CoreMemory(state.blocks)
    instructions = estimate_tokens(compiler.instructions)
    statistics_text = render_stats(stats)
    system_text = compiler.system_text(memory, stats, "")
    with_memory = estimate_tokens(system_text) - instructions  # what /context has always shown as core memory
    statistics = estimate_tokens(statistics_text)
    budget = Budget.of(state.context_window, state.settings)
    return ContextOverview(
        context_window=state.context_window,
        system_instructions=instructions,
        tool_schemas=compiler.tools_tokens,
        core_memory=max(0, with_memory - statistics),
        memory_statistics=min(statistics, with_memory),
        summary=estimate_tokens(state.summary) if state.summary else 0,
        messages=sum(compiler.render(m)[1] for m in fifo),
        warning_tokens=budget.warning,
        flush_tokens=budget.flush,
        target_tokens=budget.target,
        in_context_messages=len(fifo),
        recall_messages=stats.recall_total,
        archival_passages=stats.archival_total,
        summary_text=state.summary,
        summary_updated_at=state.summary_updated_at,
        instructions_text=compiler.instructions,
        core_memory_text=render_core_memory(memory),
        statistics_text=statistics_text,
        tools=list(compiler.tools),
        fifo=list(fifo),
    )
