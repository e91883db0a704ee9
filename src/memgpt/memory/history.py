"""The edit history of core-memory blocks: every saved change with what made it (provenance).

Each save of a block (:func:`memgpt.storage.block_ops.update_block`) writes one :class:`BlockChange` in the
same transaction: the text before and after, the version it produced, when, and its :class:`EditCause`. An
agent's edit names the tool call and the assistant message that made the call (and the input that started
the chain); a user's edit names what it came through (``cli``, ``api``, ``ui`` or ``python``). A revert is a
change of its own, naming the version it went back to. So a change that rolls back (a failed tool call, a
step that did not commit) leaves no history, and no change is ever missing from it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from memgpt.errors import NotFoundError, ValidationError
from memgpt.memory.types import new_id, utcnow

CauseKind = Literal["agent", "user", "revert", "forget", "import", "repair"]
Channel = Literal["cli", "api", "ui", "python"]
CHANNELS: tuple[str, ...] = ("cli", "api", "ui", "python")
FORGOTTEN = "[forgotten]"  # what forgotten text is replaced with in a block's history


@dataclass(frozen=True, slots=True)
class EditCause:
    """What made a change: ``kind``, the agent whose tool call it was (or whose block a user edited), the tool
    call and the message carrying it, and ``detail`` (``via``: the channel of a user's edit; ``tool``;
    ``input_message_id``: the input that started the agent's chain; ``reverted_to``: a revert's version)."""

    kind: CauseKind
    agent_id: str | None = None
    tool_call_id: str | None = None
    message_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def user(cls, via: str = "python", *, agent_id: str | None = None) -> EditCause:
        """A user's edit through ``via`` (cli, api, ui or python)."""
        return cls("user", agent_id=agent_id, detail={"via": check_channel(via)})

    def describe(self) -> str:
        """One line for people: ``agent core_memory_append (call call-..., message message-...)``, ``user via cli``."""
        if self.kind == "agent":
            tool = self.detail.get("tool", "tool call")
            return f"agent {tool} (call {self.tool_call_id}, message {self.message_id})"
        if self.kind == "revert":
            return f"revert to version {self.detail.get('reverted_to')} via {self.detail.get('via', 'python')}"
        if "via" in self.detail:
            return f"{self.kind} via {self.detail['via']}"
        return self.kind


@dataclass(frozen=True, slots=True)
class BlockChange:
    """One saved change of a block: ``version`` is the version it produced (the block before it: version - 1)."""

    block_id: str
    version: int
    label: str
    old_value: str
    new_value: str
    cause: EditCause
    created_at: datetime = field(default_factory=utcnow)
    id: str = field(default_factory=lambda: new_id("change"))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (what ``memgpt memory history --json`` prints and the server returns)."""
        return {
            "id": self.id,
            "block_id": self.block_id,
            "version": self.version,
            "label": self.label,
            "old_value": self.old_value,
            "new_value": self.new_value,
            "cause": self.cause.kind,
            "agent_id": self.cause.agent_id,
            "tool_call_id": self.cause.tool_call_id,
            "message_id": self.cause.message_id,
            "detail": dict(self.cause.detail),
            "description": self.cause.describe(),
            "created_at": self.created_at.isoformat(),
        }


def check_channel(via: object) -> str:
    if via not in CHANNELS:
        raise ValidationError(f"via must be one of {', '.join(CHANNELS)}, got {via!r}.")
    return str(via)


def value_at(changes: Sequence[BlockChange], version: int) -> str:
    """The block's value at ``version``, from its changes (oldest first); NotFoundError if no change shows it."""
    for change in changes:
        if change.version == version:
            return change.new_value
        if change.version == version + 1:
            return change.old_value
    known = sorted({c.version for c in changes} | {c.version - 1 for c in changes})
    shown = ", ".join(str(v) for v in known) if known else "none (the block was never changed)"
    raise NotFoundError(f"No version {version} in the block's history; versions known: {shown}.")


def scrub(text: str, needles: Sequence[str]) -> str:
    """``text`` with every occurrence of each needle (case-insensitively) replaced by ``[forgotten]``."""
    for needle in needles:
        if needle:
            text = re.sub(re.escape(needle), FORGOTTEN, text, flags=re.IGNORECASE)
    return text
