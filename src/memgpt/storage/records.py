"""Rows of the shared schema (:mod:`.schema`): checking what is written, and mapping rows to domain objects.

Every value a store writes passes through :func:`check_row` first, on both engines, so both accept and
refuse exactly the same things (:mod:`memgpt.validation`: NUL characters, lone surrogates, sizes, JSON
that PostgreSQL would store differently). Nothing that could not be sent back to an LLM is ever stored.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np

from memgpt.errors import ValidationError
from memgpt.memory.agent_state import AgentSettings, AgentState
from memgpt.memory.blocks import Block
from memgpt.memory.protocols import Source, SourceFile
from memgpt.memory.types import Message, Passage, ToolCall, searchable_text
from memgpt.storage.schema import Table
from memgpt.storage.sql import Json, Vector, as_json, as_time, as_vector
from memgpt.validation import check_json, check_text

ROLES = ("system", "user", "assistant", "tool")
ID_CHARS = 200  # ids, labels, hashes and other short keys
# Ids have the shape prefix-uuid4; a name of that shape could be mistaken for another object's id.
ID_SHAPE = re.compile(r"^[a-z]+-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
Row = dict[str, Any]


def looks_like_id(key: str) -> bool:
    """Whether ``key`` has the shape of an object id (``agent-<uuid>``): lookups by such a key are by id."""
    return ID_SHAPE.match(key) is not None


def check_name(name: str, what: str) -> None:
    """A name must not have the shape of an id, or looking it up would find another object (or none)."""
    check_text(name, f"The {what} name", max_chars=ID_CHARS)
    if looks_like_id(name):
        raise ValidationError(f"The {what} name {name!r} has the shape of an id; choose another name.")


# ----------------------------------------------------------------------------- agents
def agent_row(state: AgentState) -> Row:
    """The row of an agent, checked (its blocks are rows of their own: :func:`block_row`)."""
    return check_row(
        {
            "id": state.id,
            "user_id": state.user_id,
            "name": state.name,
            "model": state.model,
            "context_window": int(state.context_window),
            "system_prompt_version": state.system_prompt_version,
            "fifo_ids": list(state.fifo_ids),
            "summary": state.summary,
            "summary_updated_at": state.summary_updated_at,
            "pressure_warned": bool(state.pressure_warned),
            "last_memory_edit": state.last_memory_edit,
            "settings": state.settings.to_dict(),
            "created_at": state.created_at,
            "updated_at": state.updated_at,
        },
        "An agent",
    )


def agent_from(values: Sequence[Any], blocks: Sequence[Block]) -> AgentState:
    """An agent from the values of :data:`AGENT_COLUMNS`, in order, with its core-memory blocks."""
    row = dict(zip(AGENT_COLUMNS, values, strict=True))
    return AgentState(
        id=row["id"],
        user_id=row["user_id"],
        name=row["name"],
        model=row["model"],
        context_window=int(row["context_window"]),
        system_prompt_version=row["system_prompt_version"],
        blocks=list(blocks),
        fifo_ids=list(as_json(row["fifo_ids"])),
        summary=row["summary"],
        summary_updated_at=as_time(row["summary_updated_at"]),
        pressure_warned=bool(row["pressure_warned"]),
        last_memory_edit=as_time(row["last_memory_edit"]),
        settings=AgentSettings.from_dict(as_json(row["settings"])),
        created_at=_time(row["created_at"]),
        updated_at=_time(row["updated_at"]),
    )


AGENT_COLUMNS = (
    "id",
    "user_id",
    "name",
    "model",
    "context_window",
    "system_prompt_version",
    "fifo_ids",
    "summary",
    "summary_updated_at",
    "pressure_warned",
    "last_memory_edit",
    "settings",
    "created_at",
    "updated_at",
)


# ----------------------------------------------------------------------------- core-memory blocks
def block_row(user_id: str, block: Block, *, standalone: bool, now: datetime) -> Row:
    """The row of a new block, checked (label, limit and size first, then the text)."""
    block.check()
    return check_row(
        {
            "id": block.id,
            "user_id": user_id,
            "label": block.label,
            "value": block.value,
            "char_limit": int(block.limit),
            "description": block.description,
            "read_only": bool(block.read_only),
            "standalone": standalone,
            "version": int(block.version),
            "created_at": now,
            "updated_at": now,
        },
        "A block",
    )


BLOCK_COLUMNS = (
    "id",
    "user_id",
    "label",
    "value",
    "char_limit",
    "description",
    "read_only",
    "standalone",
    "version",
    "created_at",
    "updated_at",
)


def block_from(values: Sequence[Any]) -> Block:
    """A block from the values of :data:`BLOCK_COLUMNS`, in order."""
    row = dict(zip(BLOCK_COLUMNS, values, strict=True))
    return Block(
        label=row["label"],
        value=row["value"],
        limit=int(row["char_limit"]),
        read_only=bool(row["read_only"]),
        description=row["description"],
        id=row["id"],
        version=int(row["version"]),
    )


# ----------------------------------------------------------------------------- messages
def message_row(agent_id: str, message: Message) -> Row:
    if message.role not in ROLES:
        raise ValidationError(f"A message's role must be one of {', '.join(ROLES)}, got {message.role!r}.")
    if message.content is not None:
        check_text(message.content, "A message")
    calls = [_call_values(c) for c in message.tool_calls]
    return check_row(
        {
            "id": message.id,
            "agent_id": agent_id,
            "role": message.role,
            "content": message.content,
            "tool_calls": calls or None,
            "tool_call_id": message.tool_call_id,
            "name": message.name,
            "metadata": message.metadata or None,
            "search_text": searchable_text(message),
            "created_at": message.created_at,
        },
        "A message",
    )


def _call_values(call: ToolCall) -> list[str]:
    for value, what in ((call.id, "id"), (call.name, "name"), (call.arguments, "arguments")):
        check_text(value, f"A function call's {what}")
    return [call.id, call.name, call.arguments]


MESSAGE_COLUMNS = ("id", "agent_id", "role", "content", "tool_calls", "tool_call_id", "name", "metadata", "created_at")


def message_from(values: Sequence[Any]) -> Message:
    row = dict(zip(MESSAGE_COLUMNS, values, strict=True))
    calls = as_json(row["tool_calls"]) or []
    return Message(
        id=row["id"],
        agent_id=row["agent_id"],
        role=row["role"],
        content=row["content"],
        tool_calls=[ToolCall(id=c[0], name=c[1], arguments=c[2]) for c in calls],
        tool_call_id=row["tool_call_id"],
        name=row["name"],
        metadata=as_json(row["metadata"]) or {},
        created_at=_time(row["created_at"]),
    )


# ----------------------------------------------------------------------------- passages
def passage_row(agent_id: str, passage: Passage) -> Row:
    check_passage_text(passage.text)
    return check_row(
        {
            "id": passage.id,
            "agent_id": agent_id,
            "text": passage.text,
            "metadata": passage.metadata or None,
            "created_at": passage.created_at,
        },
        "A passage",
    )


def check_passage_text(text: str) -> None:
    check_text(text, "A passage")
    if not text.strip():
        raise ValidationError("A passage is empty: archival memory needs some text.")


PASSAGE_COLUMNS = ("id", "agent_id", "text", "metadata", "created_at")


def passage_from(values: Sequence[Any]) -> Passage:
    row = dict(zip(PASSAGE_COLUMNS, values, strict=True))
    return Passage(
        id=row["id"],
        agent_id=row["agent_id"],
        text=row["text"],
        metadata=as_json(row["metadata"]) or {},
        created_at=_time(row["created_at"]),
    )


# ----------------------------------------------------------------------------- sources and their files
def source_row(source: Source) -> Row:
    return check_row(
        {
            "id": source.id,
            "user_id": source.user_id,
            "name": source.name,
            "description": source.description,
            "metadata": source.metadata or None,
            "created_at": source.created_at,
        },
        "A source",
    )


SOURCE_COLUMNS = ("id", "user_id", "name", "description", "metadata", "created_at", "file_count", "passage_count")


def source_from(values: Sequence[Any]) -> Source:
    row = dict(zip(SOURCE_COLUMNS, values, strict=True))
    return Source(
        id=row["id"],
        user_id=row["user_id"],
        name=row["name"],
        description=row["description"],
        metadata=as_json(row["metadata"]) or {},
        created_at=_time(row["created_at"]),
        file_count=int(row["file_count"]),
        passage_count=int(row["passage_count"]),
    )


def file_row(file: SourceFile) -> Row:
    return check_row(
        {
            "id": file.id,
            "source_id": file.source_id,
            "path": file.path,
            "content_hash": file.content_hash,
            "size": int(file.size),
            "passage_count": 0,
            "state": "loading",
            "metadata": file.metadata or None,
            "updated_at": file.updated_at,
        },
        "A file",
    )


FILE_COLUMNS = ("id", "source_id", "path", "content_hash", "size", "state", "passage_count", "updated_at", "metadata")


def file_from(values: Sequence[Any]) -> SourceFile:
    row = dict(zip(FILE_COLUMNS, values, strict=True))
    return SourceFile(
        id=row["id"],
        source_id=row["source_id"],
        path=row["path"],
        content_hash=row["content_hash"],
        size=int(row["size"]),
        state=row["state"],
        passage_count=int(row["passage_count"]),
        updated_at=_time(row["updated_at"]),
        metadata=as_json(row["metadata"]) or {},
    )


def source_passage_row(source_id: str, file_id: str, chunk_index: int, passage: Passage) -> Row:
    check_passage_text(passage.text)
    return check_row(
        {
            "id": passage.id,
            "source_id": source_id,
            "file_id": file_id,
            "chunk_index": chunk_index,
            "text": passage.text,
            "metadata": passage.metadata or None,
            "created_at": passage.created_at,
        },
        "A passage",
    )


# ----------------------------------------------------------------------------- generic
def check_row(row: Row, what: str) -> Row:
    """``row`` unchanged if every text and JSON value in it is storable (see the module docstring)."""
    for column, value in row.items():
        if value is None or isinstance(value, bool | int | float | datetime | np.ndarray):
            continue
        if isinstance(value, str):
            check_text(value, f"{what}'s {column}")
        else:
            check_json(value, f"{what}'s {column}")
    return row


def check_table_row(table: Table, row: Row) -> Row:
    """A row for bulk writing: every column of ``table`` present, of the right kind, storable."""
    missing = [c.name for c in table.data_columns if c.name not in row]
    if missing:
        raise ValidationError(f"A {table.name} row lacks {', '.join(missing)}.")
    for column in table.data_columns:
        value = row[column.name]
        if value is None:
            if not column.nullable and column.default is None:
                raise ValidationError(f"A {table.name} row has no {column.name}.")
            continue
        expected = _KINDS[column.type]
        if not isinstance(value, expected) or (column.type == "int" and isinstance(value, bool)):
            raise ValidationError(f"A {table.name} row's {column.name} is a {type(value).__name__}.")
    for name, values in table.checks.items():
        if row[name] not in values:
            raise ValidationError(f"A {table.name} row's {name} must be one of {', '.join(values)}.")
    return check_row({c.name: row[c.name] for c in table.data_columns}, f"A {table.name} row")


_KINDS: dict[str, type | tuple[type, ...]] = {
    "text": str,
    "int": int,
    "bool": bool,
    "time": datetime,
    "json": (dict, list),
    "vector": np.ndarray,
}


def encode(table: Table, row: Row) -> list[Any]:
    """The parameters of an INSERT of ``row`` into ``table``'s data columns, in column order."""
    values = []
    for column in table.data_columns:
        value = row[column.name]
        if value is not None and column.type == "json":
            value = Json(value)
        elif value is not None and column.type == "vector":
            value = Vector(value)
        values.append(value)
    return values


def decode(table: Table, values: Sequence[Any]) -> Row:
    """A row of ``table``'s columns as read (in column order), as engine-neutral Python values."""
    row: Row = {}
    for column, value in zip(table.data_columns, values, strict=True):
        if value is not None:
            if column.type == "json":
                value = as_json(value)
            elif column.type == "time":
                value = as_time(value)
            elif column.type == "bool":
                value = bool(value)
            elif column.type == "vector":
                value = as_vector(value)
        row[column.name] = value
    return row


def _time(value: Any) -> datetime:
    found = as_time(value)
    assert found is not None
    return found
