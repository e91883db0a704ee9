"""The LLM client protocol. Messages and tools use the OpenAI chat format as the common language."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from memgpt.memory.types import ToolCall


@dataclass(slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass(slots=True)
class ChatRequest:
    """One chat completion request: OpenAI-format ``messages`` and ``tools``."""

    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] = field(default_factory=list)
    tool_choice: str = "auto"
    temperature: float | None = None
    max_tokens: int | None = None


@dataclass(slots=True)
class ChatResponse:
    """The model's reply: optional text (inner monologue) and zero or more tool calls."""

    content: str | None
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage | None = None
    finish_reason: str | None = None
    model: str = ""


@dataclass(frozen=True, slots=True)
class Delta:
    """A piece of a reply as it streams in: of the text content, or (``call`` set) of the arguments of the
    reply's ``call``-th function call, whose name is ``name`` as far as it has arrived."""

    text: str
    call: int | None = None
    name: str = ""


DeltaCallback = Callable[[Delta], None]


class LLMClient(Protocol):
    """Every provider client implements this; errors are LLMError / ContextWindowExceededError."""

    model: str

    async def chat(self, request: ChatRequest, on_delta: DeltaCallback | None = None) -> ChatResponse:
        """Send one request. With ``on_delta`` the reply is streamed and each piece of it is passed on."""
        ...

    async def close(self) -> None: ...
