"""memgpt agents as a Letta agent file (``.af``, the current format of Letta 0.16).

The file is what Letta's exporter writes (``AgentFileSchema``: agents with their messages and in-context
ids, blocks, tools, ids local to the file), so Letta imports it; blocks several exported agents show are
written once and listed by each. A compiled system message comes first in each agent's context, as Letta
expects. What Letta's format has no place for goes in a ``memgpt`` object on the agent and on each message
(Letta ignores unknown fields): the recursive summary, memgpt's settings and model spec, each message
exactly as stored, and, with ``with_archival``, the agent's archival passages (Letta's exporter leaves
passages out). Importing the file into memgpt gives back equal agents.

The agents' custom tools go in as Letta's custom tools (``source_type`` python, ``source_code``,
``json_schema``; their sandbox settings in a ``memgpt`` object), listed in each agent's ``tool_ids``, and
their tool rules as Letta's ``tool_rules``. Tools taken from MCP servers go in as Letta's MCP tools, with
their servers (command or URL). Tool variables and an MCP server's environment values and headers are
credentials: they are never written, only their names (``memgpt.tool_variables``, the server's
``memgpt.env`` / ``memgpt.headers``), so that an import can say what to set.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from memgpt.agent.agent import compiler_for
from memgpt.agent.context import MemoryStats
from memgpt.llm.models import parse_model_spec
from memgpt.memory.agent_state import AgentState
from memgpt.memory.blocks import Block, CoreMemory
from memgpt.memory.protocols import Store
from memgpt.memory.tools import AttachedTool, McpServer, Tool
from memgpt.memory.types import Message, Passage, utcnow
from memgpt.tools.executor import ToolExecutor

PAGE = 5000
MEMORY_TOOLS = ("core_memory_append", "core_memory_replace")
ENDPOINTS = {
    "openai": ("openai", "https://api.openai.com/v1"),
    "anthropic": ("anthropic", "https://api.anthropic.com/v1"),
}


async def export_agents(
    store: Store, agents: Sequence[AgentState], *, with_archival: bool = False, with_messages: bool = True
) -> dict[str, Any]:
    """The agent file of ``agents`` (states as read from ``store``) as a JSON-ready dict (``with_messages``
    False: without their conversations, as Letta's ``scrub_messages``)."""
    ids = _FileIds()
    blocks: dict[str, Block] = {}
    for state in agents:
        for block in state.blocks:
            blocks.setdefault(block.id, block)
    block_ids = {block_id: ids.next("block") for block_id in blocks}
    tools = ToolExecutor().tool_schemas()
    tool_ids = {t["function"]["name"]: ids.next("tool") for t in tools}
    own = {state.id: await store.list_agent_tools(state.id) for state in agents}
    custom: dict[str, tuple[str, AttachedTool]] = {}  # memgpt tool id -> (file id, the tool)
    for attached in own.values():
        for entry in attached:
            if entry.tool.id not in custom:
                custom[entry.tool.id] = (ids.next("tool"), entry)
    servers: dict[str, tuple[str, McpServer]] = {}
    for _, entry in custom.values():
        if entry.server is not None and entry.server.id not in servers:
            servers[entry.server.id] = (ids.next("mcp_server"), entry.server)
    export = _Export(ids, block_ids, list(tool_ids.values()), with_archival, with_messages)
    exported = []
    for state in agents:
        agent = await _agent(store, state, export)
        agent["tool_ids"] = [*agent["tool_ids"], *(custom[a.tool.id][0] for a in own[state.id])]
        exported.append(agent)
    return {
        "agents": exported,
        "groups": [],
        "blocks": [_block(block, block_ids[block.id]) for block in blocks.values()],
        "files": [],
        "sources": [],
        "tools": [_tool(t["function"], tool_ids[t["function"]["name"]]) for t in tools]
        + [_own_tool(entry, file_id, servers) for file_id, entry in custom.values()],
        "mcp_servers": [_mcp_server(server, file_id) for file_id, server in servers.values()],
        "skills": [],
        "metadata": {"exported_by": "memgpt"},
        "created_at": utcnow().isoformat(),
    }


class _FileIds:
    """Letta's file-local ids: ``agent-0``, ``block-0``, ``message-0``, ..."""

    def __init__(self) -> None:
        self.counters: dict[str, int] = {}

    def next(self, kind: str) -> str:
        number = self.counters.get(kind, 0)
        self.counters[kind] = number + 1
        return f"{kind}-{number}"


@dataclass(frozen=True, slots=True)
class _Export:
    ids: _FileIds
    block_ids: dict[str, str]  # memgpt block id -> file id
    tool_ids: list[str]
    with_archival: bool
    with_messages: bool


async def _agent(store: Store, state: AgentState, export: _Export) -> dict[str, Any]:
    ids, block_ids, tool_ids = export.ids, export.block_ids, export.tool_ids
    agent_id = ids.next("agent")
    messages = await _all_messages(store, state.id) if export.with_messages else []
    compiler = compiler_for(state, ToolExecutor())
    archival = await store.count_passages(state.id)
    stats = MemoryStats(len(messages), len(state.fifo_ids), archival, state.last_memory_edit)
    system_text = compiler.system_text(CoreMemory(state.blocks), stats, state.summary)
    file_ids = {m.id: ids.next("message") for m in messages}
    prompt_id = ids.next("message")
    exported = [_system_message(prompt_id, agent_id, system_text)]
    exported += [_message(m, file_ids[m.id], agent_id) for m in messages]
    provider, name = parse_model_spec(state.model)
    endpoint_type, endpoint = ENDPOINTS.get(provider, ("openai", None))
    passages = await _all_passages(store, state.id) if export.with_archival else []
    return {
        "id": agent_id,
        "name": state.name,
        "agent_type": "memgpt_agent",
        "system": compiler.instructions,
        "description": None,
        "metadata": {},
        "tags": [],
        "llm_config": {
            "model": name,
            "model_endpoint_type": endpoint_type,
            "model_endpoint": endpoint,
            "context_window": state.context_window,
            "handle": state.model,
            "put_inner_thoughts_in_kwargs": False,
        },
        "embedding_config": {
            "embedding_endpoint_type": "hugging-face",
            "embedding_model": "all-MiniLM-L6-v2",
            "embedding_dim": 384,
            "embedding_chunk_size": 300,
        },
        "memory_blocks": [],
        "tools": [],
        "tool_ids": tool_ids,
        "block_ids": [block_ids[b.id] for b in state.blocks],
        "source_ids": [],
        "tool_rules": [{**rule, "prompt_template": None} for rule in state.settings.tool_rules],
        "include_base_tools": False,
        "include_base_tool_rules": False,
        "in_context_message_ids": [prompt_id, *(file_ids[i] for i in state.fifo_ids if i in file_ids)],
        "messages": exported,
        "files_agents": [],
        "group_ids": [],
        "memgpt": {
            "model": state.model,
            "system_prompt": state.settings.system_prompt,
            "system_prompt_version": state.system_prompt_version,
            "settings": {k: v for k, v in state.settings.to_dict().items() if k not in ("system_prompt", "tool_rules")},
            "summary": state.summary,
            "summary_updated_at": _time(state.summary_updated_at),
            "last_memory_edit": _time(state.last_memory_edit),
            "pressure_warned": state.pressure_warned,
            "passages": [_passage(p) for p in passages],
            "tool_variables": await store.secret_names(state.id),  # names only: values never leave memgpt
        },
    }


async def _all_messages(store: Store, agent_id: str) -> list[Message]:
    found: list[Message] = []
    while page := await store.list_messages(agent_id, offset=len(found), limit=PAGE):
        found.extend(page)
    return found


async def _all_passages(store: Store, agent_id: str) -> list[Passage]:
    found: list[Passage] = []
    while page := await store.list_passages(agent_id, offset=len(found), limit=PAGE):
        found.extend(page)
    return found


def _system_message(file_id: str, agent_id: str, text: str) -> dict[str, Any]:
    return {
        "type": "message",
        "id": file_id,
        "agent_id": agent_id,
        "role": "system",
        "content": [{"type": "text", "text": text}],
        "tool_calls": None,
        "tool_call_id": None,
        "tool_returns": [],
        "created_at": utcnow().isoformat(),
        "memgpt": {"role": "system", "content": text, "system_prompt": True},
    }


def _message(message: Message, file_id: str, agent_id: str) -> dict[str, Any]:
    """A stored message in Letta's shape (system events as Letta packages them), plus memgpt's exact copy."""
    role, text = message.role, message.content
    if role == "system":  # Letta keeps events in user messages: {"type": "system_alert", "message": ...}
        role = "user"
        text = json.dumps({"type": "system_alert", "message": text, "time": message.created_at.isoformat()})
    calls = [
        {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
        for c in message.tool_calls
    ]
    return {
        "type": "message",
        "id": file_id,
        "agent_id": agent_id,
        "role": role,
        "content": [{"type": "text", "text": text}] if text else [],
        "name": message.name,
        "tool_calls": calls or None,
        "tool_call_id": message.tool_call_id,
        "tool_returns": [],
        "created_at": message.created_at.isoformat(),
        "memgpt": {
            "role": message.role,
            "content": message.content,
            "name": message.name,
            "tool_calls": [[c.id, c.name, c.arguments] for c in message.tool_calls],
            "tool_call_id": message.tool_call_id,
            "metadata": message.metadata,
        },
    }


def _block(block: Block, file_id: str) -> dict[str, Any]:
    return {
        "id": file_id,
        "label": block.label,
        "value": block.value,
        "limit": block.limit,
        "description": block.description or None,
        "read_only": block.read_only,
        "metadata": {},
        "is_template": False,
        "template_name": None,
        "preserve_on_migration": False,
        "hidden": None,
    }


def _tool(schema: dict[str, Any], file_id: str) -> dict[str, Any]:
    tool_type = "letta_memory_core" if schema["name"] in MEMORY_TOOLS else "letta_core"
    return {
        "id": file_id,
        "name": schema["name"],
        "description": schema.get("description", ""),
        "tool_type": tool_type,
        "source_type": "python",
        "source_code": None,
        "json_schema": schema,
        "tags": [tool_type],
        "return_char_limit": 6000,
    }


def _own_tool(entry: AttachedTool, file_id: str, servers: dict[str, tuple[str, McpServer]]) -> dict[str, Any]:
    """A custom tool in Letta's shape (its source and schema), or a tool of an MCP server as Letta's MCP tool."""
    tool = entry.tool
    if entry.server is not None:
        return _mcp_tool(tool, entry.server, file_id, servers[entry.server.id][0])
    settings = tool.settings
    return {
        "id": file_id,
        "name": tool.name,
        "description": tool.description,
        "tool_type": "custom",
        "source_type": "python",
        "source_code": tool.source,
        "json_schema": tool.json_schema,
        "tags": list(tool.tags),
        "return_char_limit": 6000,
        "memgpt": {"sandbox": settings.sandbox, "timeout_s": settings.timeout_s, "memory_mb": settings.memory_mb},
    }


def _mcp_tool(tool: Tool, server: McpServer, file_id: str, server_file_id: str) -> dict[str, Any]:
    return {
        "id": file_id,
        "name": tool.mcp_tool_name,
        "description": tool.description,
        "tool_type": "external_mcp",
        "source_type": "python",
        "source_code": None,
        "json_schema": {**tool.json_schema, "name": tool.mcp_tool_name},
        "tags": [f"mcp:{server.name}"],
        "metadata_": {"mcp": {"server_name": server.name, "server_id": server_file_id}},
        "return_char_limit": 6000,
    }


def _mcp_server(server: McpServer, file_id: str) -> dict[str, Any]:
    """A server in Letta's shape: its command or URL; the names of its variables and headers, never values."""
    names = {"env": sorted(server.env), "headers": sorted(server.headers)}
    if server.transport == "stdio":
        config: dict[str, Any] = {"server_name": server.name, "type": "stdio", "command": server.command[0]}
        config |= {"args": server.command[1:], "env": {}}
        return {
            "id": file_id,
            "server_name": server.name,
            "server_type": "stdio",
            "stdio_config": config,
            "memgpt": names,
        }
    return {
        "id": file_id,
        "server_name": server.name,
        "server_type": "streamable_http",
        "server_url": server.url,
        "memgpt": names,
    }


def _passage(passage: Passage) -> dict[str, Any]:
    return {"text": passage.text, "created_at": passage.created_at.isoformat(), "metadata": passage.metadata}


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
