"""Letta 0.6's single-agent file (``version`` 0.6.x): one agent at the top level, ``core_memory`` blocks,
``messages`` without ids and ``in_context_message_indices`` into them, tools as whole objects.

Letta 0.16 refuses these files ("Legacy AgentSchema format is deprecated"); memgpt reads them by turning
one into the current shape with file-local ids (``block-0``, ``message-0``, ``tool-0``) before the same
validation and import as any other file.
"""

from __future__ import annotations

from typing import Any

from memgpt.errors import ValidationError

LEGACY_KEYS = ("core_memory", "in_context_message_indices")


def is_legacy(document: dict[str, Any]) -> bool:
    return "agents" not in document and any(key in document for key in LEGACY_KEYS)


def upgrade_legacy(document: dict[str, Any]) -> dict[str, Any]:
    """The single agent of an 0.6 file as a current agent file (a dict to validate)."""
    blocks = _list(document, "core_memory")
    messages = _list(document, "messages")
    tools = _list(document, "tools")
    indices = _list(document, "in_context_message_indices")
    for position, index in enumerate(indices):
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(messages):
            raise ValidationError(
                f"The agent file is not valid; nothing was imported. in_context_message_indices[{position}]: "
                f"{index!r} is not the index of one of its {len(messages)} messages."
            )
    agent = {k: v for k, v in document.items() if k not in ("core_memory", "messages", "tools", "version")}
    agent.pop("in_context_message_indices", None)
    agent.update(
        id="agent-0",
        block_ids=[f"block-{i}" for i in range(len(blocks))],
        tool_ids=[f"tool-{i}" for i in range(len(tools))],
        messages=[_with_id(m, f"message-{i}") for i, m in enumerate(messages)],
        in_context_message_ids=[f"message-{i}" for i in indices],
    )
    for renamed, current in (("metadata_", "metadata"),):
        if renamed in agent:
            agent[current] = agent.pop(renamed)
    if not agent.get("tool_exec_environment_variables"):
        agent.pop("tool_exec_environment_variables", None)  # a list in 0.6, a dict later: nothing to report if empty
    if agent.get("multi_agent_group") is None:
        agent.pop("multi_agent_group", None)
    return {
        "agents": [agent],
        "blocks": [_with_id(b, f"block-{i}") for i, b in enumerate(blocks)],
        "tools": [_with_id(t, f"tool-{i}") for i, t in enumerate(tools)],
        "groups": [],
        "files": [],
        "sources": [],
        "mcp_servers": [],
        "metadata": {},
        "created_at": document.get("created_at"),
    }


def _list(document: dict[str, Any], key: str) -> list[Any]:
    value = document.get(key) or []
    if not isinstance(value, list):
        raise ValidationError(
            f"The agent file is not valid; nothing was imported. {key}: a list was expected, "
            f"got {type(value).__name__}."
        )
    return value


def _with_id(item: Any, file_id: str) -> Any:
    if not isinstance(item, dict):
        return item  # validation reports it with its path
    found = {k: v for k, v in item.items() if k not in ("id", "metadata_")}
    if "metadata_" in item:
        found["metadata"] = item["metadata_"]
    return {**found, "id": file_id}
