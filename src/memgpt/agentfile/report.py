"""What an import did: the agents it made, what it mapped differently, and what it could not map."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Kind = Literal["not_mapped", "changed"]


@dataclass(frozen=True, slots=True)
class ReportItem:
    """One thing of the file: where it is (its JSON path), what it is, and what became of it."""

    path: str
    what: str
    reason: str
    kind: Kind = "not_mapped"


@dataclass(slots=True)
class ImportedAgent:
    """One agent made by an import, and what it holds."""

    id: str
    name: str
    file_id: str
    model: str
    context_window: int
    blocks: list[str]  # labels, in order
    shared_blocks: list[str]  # those of them another imported agent shows too
    messages: int  # stored in recall memory
    in_context: int  # of them, in the context window (the FIFO)
    functions: list[str]  # the functions it can call: memgpt's base set, then its custom tools
    passages: int = 0
    tools: list[str] = field(default_factory=list)  # its custom tools (imported with with_tools)
    tool_rules: list[dict[str, Any]] = field(default_factory=list)  # its tool rules, as memgpt stores them


@dataclass(slots=True)
class ImportReport:
    """The outcome of one import. ``not_mapped`` lists everything of the file memgpt has no place for."""

    source: str  # the file (or "upload")
    format: str  # "agent file" or "Letta 0.6 single-agent file (0.6.47)"
    agents: list[ImportedAgent] = field(default_factory=list)
    changed: list[ReportItem] = field(default_factory=list)
    not_mapped: list[ReportItem] = field(default_factory=list)
    repaired_text: int = 0  # text values with invalid Unicode or NUL characters, repaired to U+FFFD
    seconds: float = 0.0

    @property
    def agent_ids(self) -> list[str]:
        return [a.id for a in self.agents]

    def add(self, path: str, what: str, reason: str, kind: Kind = "not_mapped") -> None:
        item = ReportItem(path, what, reason, kind)
        (self.not_mapped if kind == "not_mapped" else self.changed).append(item)

    def to_dict(self) -> dict[str, Any]:
        return {
            "agent_ids": self.agent_ids,
            "source": self.source,
            "format": self.format,
            "agents": [asdict(a) for a in self.agents],
            "changed": [asdict(i) for i in self.changed],
            "not_mapped": [asdict(i) for i in self.not_mapped],
            "repaired_text": self.repaired_text,
            "seconds": round(self.seconds, 3),
        }
