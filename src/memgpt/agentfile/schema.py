"""Letta's Agent File (``.af``) as pydantic models: what is read from a file, checked at the boundary.

The shapes follow ``letta/schemas/agent_file.py`` of ``letta-ai/letta`` 0.16.8 (``AgentFileSchema`` and the
schemas it is made of: agents with their messages, blocks, tools, groups, MCP servers, sources and files,
all with ids local to the file such as ``agent-0``). A file is untrusted: :func:`parse_agent_file` refuses
one that is too large, not JSON, truncated, or of the wrong shape, with the JSON path of what is wrong
(``agents[0].messages[3].created_at: ...``). Fields memgpt reads are typed; everything else a file may
carry is kept as extra data, so that the import can list what it did not map instead of dropping it.

Two more shapes are read: files that are a JSON string holding the JSON document (several of Letta's own
are), and the older single-agent format of Letta 0.6 (``core_memory``, ``messages`` with
``in_context_message_indices``), which Letta 0.16 itself refuses; :func:`parse_agent_file` turns it into
the current shape (see :mod:`memgpt.agentfile.legacy`).

memgpt's own exports add a ``memgpt`` object to agents and messages (ignored by Letta, whose models
ignore unknown fields) carrying what Letta's format has no place for: the recursive summary, memgpt's
settings, the exact model spec, archival passages, and each message exactly as memgpt stores it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic import ValidationError as PydanticValidationError

from memgpt.errors import ValidationError

MAX_FILE_BYTES = 256 * 1024 * 1024
MAX_AGENTS = 100
MAX_ERRORS_SHOWN = 5


class FileModel(BaseModel):
    """A part of an agent file: known fields typed, unknown ones kept (and reported by the import)."""

    model_config = ConfigDict(extra="allow", protected_namespaces=())

    def extra_fields(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


# ----------------------------------------------------------------------------- messages
class ContentPart(FileModel):
    """One part of a message's content: ``text``, ``reasoning``, ``tool_call``, ``tool_return``, ``image``..."""

    type: str = "text"
    text: str | None = None
    reasoning: str | None = None
    # a tool_call part (Anthropic-style content)
    id: str | None = None
    name: str | None = None
    input: dict[str, Any] | None = None
    # a tool_return part
    tool_call_id: str | None = None
    content: str | None = None


class CallFunction(FileModel):
    name: str
    arguments: str | dict[str, Any] = "{}"


class ToolCallDoc(FileModel):
    """A function call in OpenAI's shape (``ChatCompletionMessageToolCall``)."""

    id: str
    type: str = "function"
    function: CallFunction


class ToolReturnDoc(FileModel):
    tool_call_id: str | None = None
    status: str = "success"
    func_response: str | list[ContentPart] | None = None
    stdout: list[str] | None = None
    stderr: list[str] | None = None


class MemgptMessage(FileModel):
    """A message exactly as memgpt stores it (in memgpt's own exports)."""

    role: Literal["system", "user", "assistant", "tool"]
    content: str | None = None
    name: str | None = None
    tool_calls: list[tuple[str, str, str]] = Field(default_factory=list)
    tool_call_id: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    system_prompt: bool = False  # the compiled system message written first for Letta, not a stored message


class MessageDoc(FileModel):
    id: str
    role: Literal["system", "user", "assistant", "tool", "function", "approval"]
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[ToolCallDoc] | None = None
    tool_call_id: str | None = None
    tool_returns: list[ToolReturnDoc] | None = None
    created_at: datetime | None = None
    memgpt: MemgptMessage | None = None

    @field_validator("created_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return value if value is None or value.tzinfo is not None else value.replace(tzinfo=UTC)


# ----------------------------------------------------------------------------- blocks, tools, rules
class BlockDoc(FileModel):
    id: str
    label: str
    value: str = ""
    limit: int | None = Field(default=None, ge=1)
    description: str | None = None
    read_only: bool = False
    metadata: dict[str, Any] | None = None


class NewBlockDoc(FileModel):
    """A block created with the agent (``memory_blocks``: no id of its own)."""

    label: str
    value: str = ""
    limit: int | None = Field(default=None, ge=1)
    description: str | None = None
    read_only: bool = False


class MemgptTool(FileModel):
    """What memgpt's own exports carry beside a custom tool's Letta fields: how it runs."""

    sandbox: str | None = None
    timeout_s: float | None = None
    memory_mb: int | None = None


class ToolDoc(FileModel):
    id: str
    name: str
    tool_type: str | None = None
    source_type: str | None = None
    source_code: str | None = None
    description: str | None = None
    json_schema: dict[str, Any] | None = None
    tags: list[str] | None = None
    memgpt: MemgptTool | None = None


class ToolRuleDoc(FileModel):
    tool_name: str
    type: str
    max_count_limit: int | None = None
    prompt_template: str | None = None


class GroupDoc(FileModel):
    id: str
    agent_ids: list[str] = Field(default_factory=list)
    shared_block_ids: list[str] = Field(default_factory=list)
    manager_config: dict[str, Any] | None = None
    description: str | None = None


class MemgptMcpServer(FileModel):
    """The names of a server's environment variables and headers in memgpt's exports (never their values)."""

    env: list[str] = Field(default_factory=list)
    headers: list[str] = Field(default_factory=list)


class McpServerDoc(FileModel):
    id: str
    server_name: str
    server_type: str | None = None
    server_url: str | None = None
    stdio_config: dict[str, Any] | None = None
    memgpt: MemgptMcpServer | None = None


class SourceDoc(FileModel):
    id: str
    name: str
    description: str | None = None


class FileDoc(FileModel):
    id: str
    source_id: str | None = None
    file_name: str | None = None
    content: str | None = None


# ----------------------------------------------------------------------------- agents
class LLMConfigDoc(FileModel):
    model: str
    model_endpoint_type: str | None = None
    model_endpoint: str | None = None
    context_window: int | None = Field(default=None, ge=1)
    handle: str | None = None
    provider_name: str | None = None


class EmbeddingConfigDoc(FileModel):
    embedding_model: str | None = None
    embedding_dim: int | None = None
    handle: str | None = None


class MemgptPassage(FileModel):
    text: str
    created_at: datetime | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class MemgptAgent(FileModel):
    """What memgpt's own exports carry beside Letta's fields."""

    model: str | None = None
    system_prompt: str | None = None  # the agent's own instructions (None: memgpt's shipped ones)
    system_prompt_version: str = "v1"
    settings: dict[str, Any] = Field(default_factory=dict)
    summary: str = ""
    summary_updated_at: datetime | None = None
    last_memory_edit: datetime | None = None
    pressure_warned: bool = False
    passages: list[MemgptPassage] = Field(default_factory=list)
    tool_variables: list[str] = Field(default_factory=list)  # names only: a file never holds their values


class AgentDoc(FileModel):
    id: str
    name: str = "imported-agent"
    system: str | None = None
    agent_type: str | None = None
    description: str | None = None
    llm_config: LLMConfigDoc | None = None
    embedding_config: EmbeddingConfigDoc | None = None
    model: str | None = None
    context_window_limit: int | None = Field(default=None, ge=1)
    block_ids: list[str] | None = None
    memory_blocks: list[NewBlockDoc] | None = None
    tool_ids: list[str] | None = None
    tools: list[str] | None = None  # tool names (an older way of naming an agent's tools)
    tool_rules: list[ToolRuleDoc] | None = None
    source_ids: list[str] | None = None
    folder_ids: list[str] | None = None
    group_ids: list[str] = Field(default_factory=list)
    files_agents: list[dict[str, Any]] = Field(default_factory=list)
    messages: list[MessageDoc] = Field(default_factory=list)
    in_context_message_ids: list[str] = Field(default_factory=list)
    tags: list[str] | None = None
    metadata: dict[str, Any] | None = None
    memgpt: MemgptAgent | None = None


class AgentFileDoc(FileModel):
    """A whole agent file (Letta's ``AgentFileSchema``)."""

    agents: list[AgentDoc] = Field(max_length=MAX_AGENTS)
    groups: list[GroupDoc] = Field(default_factory=list)
    blocks: list[BlockDoc] = Field(default_factory=list)
    files: list[FileDoc] = Field(default_factory=list)
    sources: list[SourceDoc] = Field(default_factory=list)
    tools: list[ToolDoc] = Field(default_factory=list)
    mcp_servers: list[McpServerDoc] = Field(default_factory=list)
    skills: list[dict[str, Any]] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime | None = None
    legacy_version: str | None = Field(default=None, exclude=True)  # set when read from the 0.6 format


# ----------------------------------------------------------------------------- parsing
def json_path(location: tuple[int | str, ...]) -> str:
    """``("agents", 0, "messages", 3)`` → ``agents[0].messages[3]``."""
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(the top level)"


def decode_json(data: bytes | str, what: str) -> Any:
    """The JSON document of a file (one that is a JSON string holding JSON is decoded twice)."""
    size = len(data)
    if size > MAX_FILE_BYTES:
        raise ValidationError(
            f"{what} is {size / 1e6:,.1f} MB, over the limit of {MAX_FILE_BYTES / 1e6:,.1f} MB for a file."
        )
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ValidationError(f"{what} is not UTF-8 text (byte {exc.start}); an agent file is JSON.") from None
    document: Any = data
    for _ in range(2):
        if not isinstance(document, str):
            break
        document = _loads(document, what)
    if isinstance(document, str):
        raise ValidationError(f"{what} is a JSON string, not an agent file (an object with 'agents').")
    return document


def _loads(text: str, what: str) -> Any:
    if not text.strip():
        raise ValidationError(f"{what} is empty; an agent file is a JSON object with 'agents'.")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        hint = " The file ends early: it looks truncated (an interrupted download or copy)." if _unclosed(text) else ""
        raise ValidationError(
            f"{what} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.{hint}"
        ) from None
    except RecursionError:
        raise ValidationError(f"{what} is nested too deeply to be an agent file.") from None


def _unclosed(text: str) -> bool:
    """Whether ``text`` ends inside a string or with brackets still open: JSON cut short."""
    depth, in_string, escaped = 0, False, False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
    return in_string or depth > 0


def parse_agent_file(data: bytes | str, what: str = "The agent file") -> AgentFileDoc:
    """Read an agent file: the current format or Letta 0.6's single-agent one; ValidationError with the JSON
    path of the first problems if it is neither."""
    from memgpt.agentfile.legacy import is_legacy, upgrade_legacy

    document = decode_json(data, what)
    if not isinstance(document, dict):
        raise ValidationError(f"{what} holds a JSON {type(document).__name__}, not an object with 'agents'.")
    legacy_version = None
    if is_legacy(document):
        legacy_version = str(document.get("version") or "0.6")
        document = upgrade_legacy(document)
    elif "agents" not in document:
        raise ValidationError(f"{what} has no 'agents' list: it is not a Letta agent file.")
    try:
        parsed = AgentFileDoc.model_validate(document)
    except PydanticValidationError as exc:
        raise ValidationError(_describe(exc, what)) from None
    except RecursionError:
        raise ValidationError(f"{what} is nested too deeply to be an agent file.") from None
    parsed.legacy_version = legacy_version
    return parsed


def _describe(exc: PydanticValidationError, what: str) -> str:
    errors = exc.errors(include_url=False)
    shown = [f"{json_path(tuple(e['loc']))}: {e['msg']}" for e in errors[:MAX_ERRORS_SHOWN]]
    more = f" (and {len(errors) - MAX_ERRORS_SHOWN} more)" if len(errors) > MAX_ERRORS_SHOWN else ""
    return f"{what} is not a valid agent file; nothing was imported. " + "; ".join(shown) + more + "."


def file_error(detail: str) -> ValidationError:
    """The error of a file that holds what cannot be imported (``detail`` names where)."""
    return ValidationError(f"The agent file is not valid; nothing was imported. {detail}.")
