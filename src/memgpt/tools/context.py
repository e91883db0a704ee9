"""What a tool function can see and change while it runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from memgpt.memory.agent_state import AgentState
from memgpt.memory.blocks import CoreMemory
from memgpt.memory.history import EditCause
from memgpt.memory.protocols import Store
from memgpt.memory.types import utcnow
from memgpt.tools.paging import ChainSearches


class ToolError(Exception):
    """Raised by a tool to return a ``Failed`` result with this message to the LLM."""


@dataclass
class ToolContext:
    """The agent a tool acts for. Store writes join the step's transaction."""

    agent: AgentState
    memory: CoreMemory
    store: Store
    now: datetime = field(default_factory=utcnow)
    sent_messages: list[str] = field(default_factory=list)
    memory_edited: bool = False
    passages_added: int = 0
    searches: ChainSearches = field(default_factory=ChainSearches)  # the agent passes one per input
    call_id: str | None = None  # the tool call running now, the message carrying it, and the chain's input
    message_id: str | None = None
    input_message_id: str | None = None

    def edit_cause(self, tool: str) -> EditCause:
        """Provenance of a memory change the running tool call makes (for the block's history)."""
        detail = {"tool": tool} | ({"input_message_id": self.input_message_id} if self.input_message_id else {})
        return EditCause(
            "agent", agent_id=self.agent.id, tool_call_id=self.call_id, message_id=self.message_id, detail=detail
        )
