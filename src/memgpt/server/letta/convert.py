"""memgpt's objects in the JSON shapes of Letta's v1 API, as ``letta-client`` 1.x parses them.

Field requirements follow the SDK: every message object carries ``id``, ``date`` and ``message_type`` plus
its variant's required fields (a message missing one silently becomes a ``SystemMessage`` in the SDK), and
an agent carries the ten fields the SDK's ``AgentState`` requires. One stored message can become several
Letta messages (an assistant turn's inner monologue and each of its calls); they share the row's id, as
Letta's do, so an id is always a valid cursor. A ``send_message`` call becomes an ``assistant_message``
and its result is left out, as Letta's ``use_assistant_message`` default does.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from memgpt.client import AgentView
from memgpt.llm.models import parse_model_spec
from memgpt.memory.blocks import Block
from memgpt.memory.protocols import Source, SourceFile
from memgpt.memory.tools import Tool
from memgpt.memory.types import Message, Passage, SearchHit

Json = dict[str, Any]
NAMESPACE = uuid.UUID("6d656d67-7074-4c65-8474-612d61706921")  # ids derived for objects memgpt keeps unnamed
ENDPOINT_TYPES = {"openai": "openai", "anthropic": "anthropic", "openai-compatible": "openai"}
ASSISTANT_TOOL = "send_message"
EMBEDDING = {"embedding_model": "all-MiniLM-L6-v2", "embedding_endpoint_type": "hugging-face", "embedding_dim": 384}


def derived_id(prefix: str, *parts: str) -> str:
    """A stable ``prefix-<uuid>`` for something memgpt does not give an id of its own (a block, a function)."""
    return f"{prefix}-{uuid.uuid5(NAMESPACE, '/'.join(parts))}"


def date(value: datetime) -> str:
    return value.isoformat()


# ----------------------------------------------------------------------------- agents
def block(value: Block) -> Json:
    return {
        "id": value.id,
        "label": value.label,
        "value": value.value,
        "limit": value.limit,
        "description": value.description or None,
        "read_only": value.read_only,
        "metadata": {},
        "tags": [],
        "is_template": False,
    }


def tool(schema: Json) -> Json:
    return {
        "id": derived_id("tool", schema["name"]),
        "name": schema["name"],
        "description": schema.get("description", ""),
        "tool_type": "letta_core",
        "source_type": "python",
        "json_schema": schema,
        "tags": [],
    }


def custom_tool(value: Tool) -> Json:
    """One of the user's tools (a custom Python tool, or a tool of an MCP server)."""
    return {
        "id": value.id,
        "name": value.function_name,
        "description": value.description,
        "tool_type": "custom" if value.kind == "python" else "external_mcp",
        "source_type": "python",
        "source_code": value.source or None,
        "json_schema": value.json_schema,
        "tags": value.tags,
        "metadata_": {"mcp_tool": value.name} if value.kind == "mcp" else {},
        "created_at": date(value.created_at),
        "updated_at": date(value.updated_at),
    }


def agent_tools(view: AgentView) -> list[Json]:
    """Every function of the agent: the base ones (ids derived from their names), then its own tools."""
    own = {t.function_name: t for t in view.attached}
    return [custom_tool(own[t["name"]]) if t["name"] in own else tool(t) for t in view.tools]


def folder(source: Source) -> Json:
    return {
        "id": source.id,
        "name": source.name,
        "description": source.description or None,
        "metadata": source.metadata,
        "embedding_config": EMBEDDING,
        "created_at": date(source.created_at),
        "vector_db_provider": "native",
    }


def agent(view: AgentView) -> Json:
    state = view.state
    provider, name = parse_model_spec(state.model)
    blocks = [block(b) for b in state.blocks]
    return {
        "id": state.id,
        "name": state.name,
        "agent_type": "memgpt_agent",
        "system": view.system,
        "tags": [],
        "description": None,
        "metadata": {},
        "llm_config": {
            "model": name,
            "model_endpoint_type": ENDPOINT_TYPES.get(provider, "openai"),
            "context_window": state.context_window,
            "handle": state.model,
        },
        "model": state.model,
        "embedding_config": EMBEDDING,
        "memory": {"blocks": blocks, "file_blocks": []},
        "blocks": blocks,
        "tools": agent_tools(view),
        "sources": [folder(s) for s in view.sources],
        "message_ids": list(state.fifo_ids),
        "tool_rules": list(state.settings.tool_rules),
        "identity_ids": [],
        "created_at": date(state.created_at),
        "updated_at": date(state.updated_at),
    }


# ----------------------------------------------------------------------------- messages
def messages(rows: Iterable[Message]) -> list[Json]:
    """Stored messages as Letta messages, in order."""
    out: list[Json] = []
    for row in rows:
        out.extend(message(row))
    return out


def message(row: Message) -> list[Json]:
    base = {"id": row.id, "date": date(row.created_at)}
    if row.role == "user":
        entry = base | {"message_type": "user_message", "content": row.content or ""}
        return [entry | ({"name": row.name} if row.name else {})]
    if row.role == "system":
        return [base | {"message_type": "system_message", "content": row.content or ""}]
    if row.role == "tool":
        if row.name == ASSISTANT_TOOL:
            return []
        return [tool_return(base, row.tool_call_id or "", row.content or "")]
    out: list[Json] = []
    if row.content:
        out.append(base | {"message_type": "reasoning_message", "reasoning": row.content, "otid": otid(row.id, 0)})
    for index, call in enumerate(row.tool_calls, start=1):
        if call.name == ASSISTANT_TOOL:
            text = assistant_text(call.arguments)
            out.append(base | {"message_type": "assistant_message", "content": text, "otid": otid(row.id, index)})
        else:
            out.append(base | tool_call(call.name, call.arguments, call.id) | {"otid": otid(row.id, index)})
    return out


def tool_call(name: str, arguments: str, call_id: str) -> Json:
    return {
        "message_type": "tool_call_message",
        "tool_call": {"name": name, "arguments": arguments, "tool_call_id": call_id},
    }


def tool_return(base: Json, call_id: str, content: str) -> Json:
    """A stored function result (``{"status", "message", "time"}``) as a ``tool_return_message``."""
    try:
        result = json.loads(content)
    except ValueError:
        result = {}
    result = result if isinstance(result, dict) else {}
    status = "error" if result.get("status") == "Failed" else "success"
    text = result.get("message") if isinstance(result.get("message"), str) else content
    return base | {
        "message_type": "tool_return_message",
        "tool_return": text,
        "status": status,
        "tool_call_id": call_id,
        "stdout": [],
        "stderr": [],
    }


def assistant_text(arguments: str) -> str:
    try:
        value = json.loads(arguments)
    except ValueError:
        return ""
    text = value.get("message") if isinstance(value, dict) else None
    return text if isinstance(text, str) else ""


def otid(row_id: str, index: int) -> str:
    """Letta's per-part id of a message: the row's uuid with its last characters set to the part's index."""
    suffix = format(index, "x")
    return row_id.removeprefix("message-")[: -len(suffix)] + suffix


# ----------------------------------------------------------------------------- archival memory and files
def passage(agent_id: str, value: Passage) -> Json:
    tags = value.metadata.get("tags")
    return {
        "id": value.id,
        "text": value.text,
        "tags": tags if isinstance(tags, list) else [],
        "metadata": {k: v for k, v in value.metadata.items() if k != "tags"},
        "created_at": date(value.created_at),
        "archive_id": derived_id("archive", agent_id),
        "is_deleted": False,
        "embedding": None,
        "embedding_config": None,
    }


def search_result(hit: SearchHit) -> Json:
    tags = hit.metadata.get("tags")
    return {
        "id": hit.id,
        "content": hit.text,
        "timestamp": date(hit.created_at),
        "tags": tags if isinstance(tags, list) else [],
        # memgpt's own: the rank's score and where a document's chunk comes from (source, title, page...)
        "score": hit.score,
        "metadata": {k: v for k, v in hit.metadata.items() if k != "tags"},
    }


def file(source_id: str, value: SourceFile, *, status: str = "completed", error: str | None = None) -> Json:
    """A source file as Letta's ``FileMetadata``; its path is its name (where the server keeps it is its own)."""
    name = value.path.rsplit("/", 1)[-1]
    return {
        "id": value.id,
        "source_id": source_id,
        "file_name": name,
        "original_file_name": name,
        "file_path": name,
        "file_size": value.size,
        "processing_status": status,
        "error_message": error,
        "total_chunks": value.passage_count,
        "chunks_embedded": value.passage_count,
        "created_at": date(value.updated_at),
        "updated_at": date(value.updated_at),
    }
