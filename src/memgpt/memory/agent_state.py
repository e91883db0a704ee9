"""The persisted state of one agent: configuration, core memory, FIFO and recursive summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from memgpt.memory.blocks import Block
from memgpt.memory.types import new_id, utcnow

LOCAL_USER_ID = "user-local"


@dataclass(slots=True)
class AgentSettings:
    """Tunable behaviour of one agent; every field has the paper's or the design's default."""

    warning_fraction: float = 0.70
    flush_fraction: float = 1.0
    target_fraction: float = 0.50
    max_steps: int = 20
    tool_result_limit: int = 3000
    page_size: int = 5
    keep_last_messages: int = 4
    require_tool_call: bool = False
    system_prompt: str | None = None  # the agent's own instructions instead of the shipped ones (an import, an API)
    tool_rules: list[dict[str, Any]] = field(default_factory=list)  # memgpt.tools.rules, in their JSON form
    # the memory lifecycle (memgpt.lifecycle): retention (None keeps everything) and redaction (off by default)
    recall_retention_days: int | None = None  # recall messages out of the window older than this are deleted
    archival_max_passages: int | None = None  # the oldest archival passages beyond this many are deleted
    redact: bool = False  # mask keys, e-mails, phones, cards, IBANs (memgpt.memory.redaction) before storing
    redact_patterns: dict[str, str] = field(default_factory=dict)  # name -> regular expression, masked too

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AgentSettings:
        known = {k: v for k, v in data.items() if k in cls.__slots__}
        return cls(**known)


@dataclass(slots=True)
class AgentState:
    """Everything needed to resume an agent exactly where it stopped."""

    name: str
    model: str
    context_window: int
    user_id: str = LOCAL_USER_ID
    id: str = field(default_factory=lambda: new_id("agent"))
    system_prompt_version: str = "v1"
    blocks: list[Block] = field(default_factory=list)
    fifo_ids: list[str] = field(default_factory=list)
    summary: str = ""
    summary_updated_at: datetime | None = None
    pressure_warned: bool = False
    last_memory_edit: datetime | None = None
    settings: AgentSettings = field(default_factory=AgentSettings)
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
