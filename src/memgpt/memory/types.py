"""Plain data types shared by every layer: messages, passages, search hits, agent state."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from memgpt.errors import ValidationError
from memgpt.validation import clean_text

Role = Literal["system", "user", "assistant", "tool"]


def new_id(prefix: str) -> str:
    """A new random id such as ``message-1f0c...``."""
    return f"{prefix}-{uuid.uuid4()}"


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


@dataclass(slots=True)
class ToolCall:
    """A function call requested by the LLM. ``arguments`` is the raw JSON text, never re-parsed lossily."""

    id: str
    name: str
    arguments: str


@dataclass(slots=True)
class Message:
    """One message of the conversation, as stored in the recall store."""

    role: Role
    content: str | None
    agent_id: str = ""
    id: str = field(default_factory=lambda: new_id("message"))
    created_at: datetime = field(default_factory=utcnow)
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Passage:
    """One unit of archival memory: a text with metadata (source, page, chunk index...)."""

    text: str
    agent_id: str = ""
    id: str = field(default_factory=lambda: new_id("passage"))
    created_at: datetime = field(default_factory=utcnow)
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class SearchHit:
    """A ranked search result. ``score`` is higher-is-better and comparable within one result list."""

    id: str
    text: str
    score: float
    created_at: datetime
    role: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    name: str | None = None  # a message's sender name, where the conversation names its participants


@dataclass(slots=True)
class SearchPage:
    """One page of results plus the total number of matches (for "page 2 of 7")."""

    hits: list[SearchHit]
    page: int
    page_size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size)) if self.page_size else 1


SENDER_NAME_MAX = 64


def check_sender_name(name: object) -> None:
    """Refuse a sender name that cannot label a message: not text, empty, padded with spaces, on
    several lines or longer than 64 characters."""
    # "" has no lines and "  " is not its own strip(): both fail below
    if not isinstance(name, str) or name != name.strip() or len(name) > SENDER_NAME_MAX or len(name.splitlines()) != 1:
        shown = name[:80] if isinstance(name, str) else name
        raise ValidationError(
            f"A sender name must be 1 to {SENDER_NAME_MAX} characters on one line, without spaces around it;"
            f" got {shown!r}."
        )


def spoken_text(message: Message) -> str:
    """A user message as the model and search see it: ``"Name: text"`` when it has a sender name."""
    content = message.content or ""
    return f"{message.name}: {content}" if message.name else content


def searchable_text(message: Message) -> str:
    """The text of a message that recall search should match: what the user and the agent said.

    Tool results and system events are stored but not indexed, so search results never echo
    earlier search results back. A user message with a sender name reads "Name: text", as the model
    sees it. For assistant messages this is the inner monologue plus the text of any ``send_message``
    call.
    """
    if message.role == "user":
        return spoken_text(message) if message.content else ""
    if message.role != "assistant":
        return ""
    parts = [message.content] if message.content else []
    for call in message.tool_calls:
        if call.name == "send_message":
            parts.append(_message_argument(call.arguments))
    return "\n".join(p for p in parts if p)


def _message_argument(arguments: str) -> str:
    import json

    try:
        value = json.loads(arguments)
    except (ValueError, RecursionError):  # stored verbatim from the model: anything may be there
        return ""
    text = value.get("message") if isinstance(value, dict) else None
    return clean_text(text) if isinstance(text, str) else ""  # "\\ud800" in the JSON is a lone surrogate here
