"""JSON schemas for tool functions, generated from their type hints and Google-style docstrings."""

from __future__ import annotations

import inspect
import re
import types
import typing
from collections.abc import Callable
from typing import Any

_JSON_TYPES: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}

HEARTBEAT_PARAM = "request_heartbeat"
HEARTBEAT_SCHEMA = {
    "type": "boolean",
    "description": "true to get another step right after this call; false to wait for the user.",
}


_PARAM_LINE = re.compile(r"^(\w+)(?:\s*\([^)]*\))?:\s*(.*)$")
_SECTION = re.compile(r"^\w+:$")


def parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """Split a docstring into its summary and an ``Args:`` mapping of parameter descriptions."""
    summary_lines: list[str] = []
    params: dict[str, str] = {}
    current: str | None = None
    section: str | None = None
    for raw in inspect.cleandoc(doc).splitlines():
        line = raw.strip()
        if _SECTION.match(line):
            section = line
            current = None
            continue
        if section is None:
            if line:
                summary_lines.append(line)
            continue
        if section not in ("Args:", "Arguments:", "Parameters:"):
            continue
        match = _PARAM_LINE.match(line)
        if match:
            current = match.group(1)
            params[current] = match.group(2)
        elif current and line:
            params[current] = f"{params[current]} {line}"
    return " ".join(summary_lines), params


def _json_type(annotation: Any) -> tuple[str, bool]:
    """The JSON type name of ``annotation`` and whether it admits None."""
    optional = False
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(args) < len(typing.get_args(annotation))
        annotation = args[0] if len(args) == 1 else annotation
    if annotation not in _JSON_TYPES:
        raise TypeError(f"Unsupported tool parameter type {annotation!r}: use str, int, float or bool.")
    return _JSON_TYPES[annotation], optional


def function_schema(fn: Callable[..., Any], *, skip: int = 1, heartbeat: bool = True) -> dict[str, Any]:
    """The OpenAI function schema of ``fn``; its first ``skip`` parameters (the context) are hidden."""
    hints = typing.get_type_hints(fn)
    summary, descriptions = parse_docstring(fn.__doc__ or "")
    properties: dict[str, Any] = {}
    required: list[str] = []
    for param in list(inspect.signature(fn).parameters.values())[skip:]:
        json_type, optional = _json_type(hints[param.name])
        prop: dict[str, Any] = {"type": json_type}
        if param.name in descriptions:
            prop["description"] = descriptions[param.name]
        if param.default is inspect.Parameter.empty and not optional:
            required.append(param.name)
        properties[param.name] = prop
    if heartbeat:
        properties[HEARTBEAT_PARAM] = HEARTBEAT_SCHEMA
        required.append(HEARTBEAT_PARAM)
    return {
        "name": fn.__name__,
        "description": summary,
        "parameters": {"type": "object", "properties": properties, "required": required},
    }
