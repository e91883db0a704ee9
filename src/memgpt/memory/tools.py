"""Plain data types of an agent's own tools, as stored: custom Python tools, MCP servers and the tools taken
from them. What runs them is in :mod:`memgpt.tools`; these only describe them."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Literal

from memgpt.memory.types import new_id, utcnow

ToolKind = Literal["python", "mcp"]
SandboxMode = Literal["process", "strict"]
McpTransport = Literal["stdio", "http"]
ToolsVersion = tuple[tuple[str, str, str], ...]  # (tool id, its updated_at, its server's) per attached tool


@dataclass(slots=True)
class ToolSettings:
    """How a custom tool runs: its sandbox and limits (defaults suit a tool that calls a web API)."""

    sandbox: SandboxMode = "process"  # "strict": no network, read-only system, nothing else visible (bubblewrap)
    timeout_s: float = 30.0  # wall clock, from the call to the result
    cpu_s: int = 30  # CPU seconds (RLIMIT_CPU)
    memory_mb: int = 1024  # address space (RLIMIT_AS)
    output_bytes: int = 1_000_000  # what it may print (stdout and stderr together)
    coerce: bool = False  # set at registration: the signature has types (enums, models) arguments are converted to

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ToolSettings:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(slots=True)
class Tool:
    """A function an agent can have besides the base set.

    ``name`` is unique among the user's tools: a custom tool's function name, or ``mcp:SERVER/TOOL`` for a
    tool of an MCP server. ``json_schema`` is what the model sees (``name``, ``description``, ``parameters``)
    without ``request_heartbeat``, which the executor adds; its ``name`` is the function the model calls.
    """

    name: str
    user_id: str
    kind: ToolKind
    json_schema: dict[str, Any]
    source: str = ""  # a custom tool's Python source
    description: str = ""
    tags: list[str] = field(default_factory=list)
    mcp_server_id: str | None = None
    settings: ToolSettings = field(default_factory=ToolSettings)
    id: str = field(default_factory=lambda: new_id("tool"))
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)

    @property
    def function_name(self) -> str:
        return str(self.json_schema["name"])

    @property
    def mcp_tool_name(self) -> str:
        """The tool's own name on its MCP server (``TOOL`` of ``mcp:SERVER/TOOL``)."""
        return self.name.split("/", 1)[1] if self.kind == "mcp" else ""


@dataclass(slots=True)
class McpServer:
    """An MCP server the user registered: a command run over stdio, or a streamable HTTP URL.

    ``env`` (stdio) and ``headers`` (http) often carry credentials: they are never shown, only their names.
    """

    name: str
    user_id: str
    transport: McpTransport
    command: list[str] = field(default_factory=list)
    url: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    timeout_s: float = 60.0  # a call (and the connection) must answer within this
    id: str = field(default_factory=lambda: new_id("mcp"))
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True, slots=True)
class AttachedTool:
    """A tool attached to an agent, with the MCP server it comes from (for MCP tools)."""

    tool: Tool
    server: McpServer | None
    attached_at: datetime
