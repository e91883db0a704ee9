"""Events an agent emits while it handles one input: what a UI shows and ``--json`` prints."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from memgpt.memory.types import utcnow

EventType = Literal[
    "user_message",
    "inner_monologue",
    "function_call",
    "function_result",
    "assistant_message",
    # the reply as it streams in (only to a streamed send's callback): pieces of the inner monologue, of a
    # send_message's text, and of another call's arguments; the whole events above follow once it is stored
    "inner_monologue_delta",
    "assistant_message_delta",
    "function_call_delta",
    "heartbeat",
    "system_alert",
    "summary",
    "step_limit",
    "usage",
    "error",
]


@dataclass(slots=True)
class AgentEvent:
    """One thing that happened during a step. ``content`` is the text; ``data`` holds the details."""

    type: EventType
    content: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    time: datetime = field(default_factory=utcnow)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "content": self.content, **self.data, "time": self.time.isoformat()}
