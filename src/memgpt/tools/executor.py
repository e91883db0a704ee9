"""Validates and runs the LLM's function calls; every failure becomes a ``Failed`` result, never an exception."""

from __future__ import annotations

import inspect
import json
import logging
import typing
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from memgpt.errors import MemgptError
from memgpt.memory.types import ToolCall
from memgpt.tools.base import BASE_TOOLS, NO_HEARTBEAT_TOOLS
from memgpt.tools.context import ToolContext, ToolError
from memgpt.tools.schema import HEARTBEAT_PARAM, function_schema
from memgpt.validation import check_json, clean_json, clean_text

log = logging.getLogger(__name__)

ToolFunction = Callable[..., Awaitable[str]]


@dataclass(slots=True)
class ToolResult:
    """The outcome of one function call, as fed back to the LLM."""

    call: ToolCall
    status: Literal["OK", "Failed"]
    message: str
    request_heartbeat: bool = False

    @property
    def failed(self) -> bool:
        return self.status == "Failed"

    def to_content(self, now: datetime, limit: int) -> str:
        """The tool message text: ``{"status", "message", "time"}`` with the message cut to ``limit``."""
        return json.dumps(
            {
                "status": self.status,
                "message": clean_text(truncate(self.message, limit)),
                "time": f"{now:%Y-%m-%d %H:%M:%S %Z}",
            },
            ensure_ascii=False,
        )


def truncate(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with a note saying so."""
    if len(text) <= limit:
        return text
    note = f" [truncated: showing {limit} of {len(text)} characters; narrow the query or read the next page]"
    return text[: max(0, limit - len(note))] + note


class ToolExecutor:
    """A set of tool functions with their schemas; :meth:`execute` never raises for bad LLM output."""

    def __init__(self, functions: Sequence[ToolFunction] = BASE_TOOLS) -> None:
        self._functions = {fn.__name__: fn for fn in functions}
        self._schemas = {
            name: function_schema(fn, heartbeat=name not in NO_HEARTBEAT_TOOLS) for name, fn in self._functions.items()
        }
        self._hints = {name: typing.get_type_hints(fn) for name, fn in self._functions.items()}
        self._params = {
            name: list(inspect.signature(fn).parameters.values())[1:] for name, fn in self._functions.items()
        }

    @property
    def names(self) -> list[str]:
        return list(self._functions)

    def tool_schemas(self) -> list[dict[str, Any]]:
        """The functions in the OpenAI ``tools`` format."""
        return [{"type": "function", "function": schema} for schema in self._schemas.values()]

    async def execute(self, call: ToolCall, ctx: ToolContext) -> ToolResult:
        """Run one call. Invalid calls and tool errors come back as ``Failed`` with a heartbeat forced."""
        try:
            fn, kwargs, heartbeat = self._bind(call)
        except ToolError as exc:
            return ToolResult(call, "Failed", f"{exc} (you get another step to fix the call)", True)
        try:
            message = await fn(ctx, **kwargs)
        except (ToolError, MemgptError) as exc:
            return ToolResult(call, "Failed", str(exc), True)
        except Exception as exc:  # a bug in a tool must not kill the agent loop
            log.exception("tool %s crashed", call.name)
            return ToolResult(call, "Failed", f"{call.name} failed unexpectedly: {type(exc).__name__}.", True)
        return ToolResult(call, "OK", message, heartbeat)

    def _bind(self, call: ToolCall) -> tuple[ToolFunction, dict[str, Any], bool]:
        fn = self._functions.get(call.name)
        if fn is None:
            raise ToolError(f"Unknown function {call.name!r}. Available: {', '.join(self._functions)}.")
        args = self._parse_arguments(call)
        heartbeat = args.pop(HEARTBEAT_PARAM, False)
        if not isinstance(heartbeat, bool):
            raise ToolError(f"{HEARTBEAT_PARAM} must be true or false, got {json.dumps(heartbeat)}.")
        if call.name in NO_HEARTBEAT_TOOLS:
            heartbeat = False
        return fn, self._check_arguments(call.name, args), heartbeat

    @staticmethod
    def _parse_arguments(call: ToolCall) -> dict[str, Any]:
        text = call.arguments.strip() or "{}"
        try:
            args = clean_json(json.loads(text))  # an escaped lone surrogate must not reach a block or a passage
            check_json(args, f"The arguments of {call.name}")
        except ValueError as exc:  # ValidationError included: nested too deep, a key that is not text
            raise ToolError(f"The arguments of {call.name} are not valid JSON ({exc}); nothing was done.") from None
        except RecursionError:
            raise ToolError(f"The arguments of {call.name} are nested too deeply; nothing was done.") from None
        if not isinstance(args, dict):
            raise ToolError(f"The arguments of {call.name} must be a JSON object, got {type(args).__name__}.")
        return args

    def _check_arguments(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        params = {p.name: p for p in self._params[name]}
        unknown = sorted(set(args) - set(params))
        if unknown:
            raise ToolError(f"{name} has no parameter(s) {', '.join(unknown)}; it takes {', '.join(params) or 'none'}.")
        missing = [p for p, spec in params.items() if spec.default is inspect.Parameter.empty and p not in args]
        if missing:
            raise ToolError(f"{name} is missing required argument(s): {', '.join(missing)}.")
        for key, value in args.items():
            _check_type(name, key, value, self._hints[name][key])
        return args


def _check_type(fn: str, key: str, value: Any, annotation: Any) -> None:
    expected = annotation
    if typing.get_origin(annotation) is not None:
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        if value is None and len(options) < len(typing.get_args(annotation)):
            return
        expected = options[0]
    ok = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        ok = True
    if not ok:
        raise ToolError(
            f"{fn}: argument {key} must be of type {expected.__name__}, "
            f"got {type(value).__name__} {json.dumps(value)[:80]}."
        )
