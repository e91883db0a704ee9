"""JSON schemas for tool functions, generated from their type hints and Google-style docstrings.

The sandbox loads this file by its path to describe a custom tool (``memgpt.tools.sandbox_runner``), so it
imports nothing but the standard library (and pydantic, lazily, for types beyond the JSON primitives).
"""

from __future__ import annotations

import collections.abc
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


def _union_args(annotation: Any) -> tuple[list[Any], bool] | None:
    """The members of a Union other than None, and whether None was one; None if it is no Union."""
    if typing.get_origin(annotation) not in (typing.Union, types.UnionType):
        return None
    args = typing.get_args(annotation)
    members = [a for a in args if a is not type(None)]
    return members, len(members) < len(args)


def parameter_schema(annotation: Any, where: str = "parameter") -> dict[str, Any]:
    """The JSON schema of one parameter's type.

    ``str``, ``int``, ``float``, ``bool`` (and those or None) are written by hand, as small as they can be:
    every schema costs tokens on every LLM call. Everything else (lists, dicts, ``Literal``, enums,
    dataclasses, pydantic models, ...) is pydantic's JSON schema of the type, with its ``$ref`` inlined and
    its titles dropped.
    """
    if annotation in _JSON_TYPES:
        return {"type": _JSON_TYPES[annotation]}
    union = _union_args(annotation)
    if union is not None and len(union[0]) == 1 and union[0][0] in _JSON_TYPES and union[1]:
        return {"type": [_JSON_TYPES[union[0][0]], "null"]}
    if annotation is inspect.Parameter.empty:
        raise TypeError(f"{where} has no type hint: annotate it (str, int, list[str], a Literal, a dataclass...).")
    try:
        from pydantic import TypeAdapter

        generated = TypeAdapter(annotation).json_schema()
    except Exception as exc:  # pydantic's schema errors: an arbitrary class, typing.TypedDict on Python < 3.12...
        raise TypeError(f"{where} has a type JSON cannot describe ({annotation!r}): {exc}".split("\n")[0]) from None
    inlined: dict[str, Any] = _inline(generated, generated.get("$defs", {}), ())
    return inlined


def _inline(schema: Any, defs: dict[str, Any], seen: tuple[str, ...]) -> Any:
    """``schema`` with every ``$ref`` replaced by its definition and ``title`` keywords removed."""
    if isinstance(schema, list):
        return [_inline(s, defs, seen) for s in schema]
    if not isinstance(schema, dict):
        return schema
    ref = schema.get("$ref")
    if isinstance(ref, str):
        name = ref.rsplit("/", 1)[-1]
        if name in seen:
            raise TypeError(f"{name} refers to itself: recursive types are not supported in tool parameters.")
        return _inline(defs.get(name, {}), defs, (*seen, name))
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("title", "$defs"):
            continue
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: _inline(v, defs, seen) for name, v in value.items()}
        else:
            out[key] = _inline(value, defs, seen)
    return out


def needs_coercion(annotation: Any) -> bool:
    """Whether JSON arguments must be converted to reach a parameter of this type (an enum member, a
    dataclass, a model, a datetime), or can be passed as they are (str, numbers, lists, dicts, literals)."""
    if annotation in _JSON_TYPES or annotation in (type(None), Any, list, dict, tuple, inspect.Parameter.empty):
        return False
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return False
    if origin is typing.Annotated:
        return needs_coercion(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType, list, dict, tuple, set, frozenset) or (
        isinstance(origin, type) and issubclass(origin, collections.abc.Collection)
    ):
        return origin in (set, frozenset) or any(needs_coercion(a) for a in typing.get_args(annotation))
    if typing.is_typeddict(annotation):
        return any(needs_coercion(a) for a in typing.get_type_hints(annotation).values())
    return True


def function_schema(fn: Callable[..., Any], *, skip: int = 1, heartbeat: bool = True) -> dict[str, Any]:
    """The OpenAI function schema of ``fn``; its first ``skip`` parameters (the context) are hidden.

    A parameter is required when it has no default. TypeError names what cannot be described: a parameter
    without a type hint, ``*args``/``**kwargs``, positional-only parameters, a type JSON cannot carry.
    """
    hints = typing.get_type_hints(fn, include_extras=True)
    summary, descriptions = parse_docstring(fn.__doc__ or "")
    properties: dict[str, Any] = {}
    required: list[str] = []
    for param in list(inspect.signature(fn).parameters.values())[skip:]:
        where = f"Parameter {param.name!r} of {fn.__name__}"
        if param.kind not in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY):
            raise TypeError(f"{where} is {param.kind.description}: tools take named parameters only.")
        if param.name == HEARTBEAT_PARAM:
            raise TypeError(f"{where}: {HEARTBEAT_PARAM} is memgpt's own parameter of every function; rename it.")
        prop = parameter_schema(hints.get(param.name, inspect.Parameter.empty), where)
        if param.name in descriptions:
            prop["description"] = descriptions[param.name]
        if param.default is inspect.Parameter.empty:
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


def function_needs_coercion(fn: Callable[..., Any], *, skip: int = 0) -> bool:
    """Whether any parameter of ``fn`` (after the first ``skip``) has a type arguments must be converted to."""
    hints = typing.get_type_hints(fn, include_extras=True)
    params = list(inspect.signature(fn).parameters.values())[skip:]
    return any(needs_coercion(hints.get(p.name, inspect.Parameter.empty)) for p in params)
