"""Validates and runs the LLM's function calls; every failure becomes a ``Failed`` result, never an exception."""

from __future__ import annotations

import inspect
import json
import logging
import typing
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from memgpt.errors import MemgptError
from memgpt.memory.types import ToolCall
from memgpt.tools.base import BASE_TOOLS, NO_HEARTBEAT_TOOLS
from memgpt.tools.context import ToolContext, ToolError
from memgpt.tools.rules import ChainRules
from memgpt.tools.schema import HEARTBEAT_PARAM, HEARTBEAT_SCHEMA, function_schema
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


class ExternalTool(Protocol):
    """A function beyond the base set (a custom tool in the sandbox, an MCP server's tool): its schema as the
    model sees it (without ``request_heartbeat``) and how to run it with arguments checked against it."""

    @property
    def schema(self) -> dict[str, Any]: ...

    async def run(self, arguments: dict[str, Any], ctx: ToolContext) -> str:
        """The result text; ToolError (a ``Failed`` result) with a short reason when it failed."""


class ToolExecutor:
    """A set of tool functions with their schemas; :meth:`execute` never raises for bad LLM output.

    The base functions come first and keep their order (stable text first, for prompt caching); the
    agent's own tools (``external``) follow, each with ``request_heartbeat`` added to its schema.
    """

    def __init__(self, functions: Sequence[ToolFunction] = BASE_TOOLS, external: Sequence[ExternalTool] = ()) -> None:
        self._functions = {fn.__name__: fn for fn in functions}
        self._schemas = {
            name: function_schema(fn, heartbeat=name not in NO_HEARTBEAT_TOOLS) for name, fn in self._functions.items()
        }
        self._hints = {name: typing.get_type_hints(fn) for name, fn in self._functions.items()}
        self._params = {
            name: list(inspect.signature(fn).parameters.values())[1:] for name, fn in self._functions.items()
        }
        self._external: dict[str, ExternalTool] = {}
        for tool in external:
            name = tool.schema["name"]
            if name in self._functions or name in self._external:
                continue  # attaching refuses a clash; a stored one (another process's) is left out, not doubled
            self._external[name] = tool
            self._schemas[name] = with_heartbeat(tool.schema)

    @property
    def names(self) -> list[str]:
        return [*self._functions, *self._external]

    def tool_schemas(self) -> list[dict[str, Any]]:
        """The functions in the OpenAI ``tools`` format."""
        return [{"type": "function", "function": schema} for schema in self._schemas.values()]

    async def execute(self, call: ToolCall, ctx: ToolContext, rules: ChainRules | None = None) -> ToolResult:
        """Run one call. Invalid calls, calls a tool rule refuses and tool errors come back as ``Failed`` with a
        heartbeat forced."""
        try:
            run, heartbeat = self._bind(call, ctx)
        except ToolError as exc:
            return ToolResult(call, "Failed", f"{exc} (you get another step to fix the call)", True)
        refusal = rules.refusal(call.name) if rules is not None else None
        if refusal is not None:
            return ToolResult(call, "Failed", refusal, True)
        try:
            message = await run()
        except (ToolError, MemgptError) as exc:
            result = ToolResult(call, "Failed", str(exc), True)
        except Exception as exc:  # a bug in a tool must not kill the agent loop
            log.exception("tool %s crashed", call.name)
            result = ToolResult(call, "Failed", f"{call.name} failed unexpectedly: {type(exc).__name__}.", True)
        else:
            result = ToolResult(call, "OK", message, heartbeat)
        if rules is not None:
            rules.ran(call.name, ok=not result.failed)
        return result

    def _bind(self, call: ToolCall, ctx: ToolContext) -> tuple[Callable[[], Awaitable[str]], bool]:
        fn = self._functions.get(call.name)
        external = self._external.get(call.name)
        if fn is None and external is None:
            raise ToolError(f"Unknown function {call.name!r}. Available: {', '.join(self.names)}.")
        args = self._parse_arguments(call)
        heartbeat = args.pop(HEARTBEAT_PARAM, False)
        if not isinstance(heartbeat, bool):
            raise ToolError(f"{HEARTBEAT_PARAM} must be true or false, got {json.dumps(heartbeat)}.")
        if call.name in NO_HEARTBEAT_TOOLS:
            heartbeat = False
        if external is not None:
            check_against_schema(call.name, args, external.schema.get("parameters") or {})
            return lambda: external.run(args, ctx), heartbeat
        assert fn is not None
        checked = self._check_arguments(call.name, args)
        return lambda: fn(ctx, **checked), heartbeat

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


def with_heartbeat(schema: dict[str, Any]) -> dict[str, Any]:
    """An attached tool's schema with ``request_heartbeat`` added (as every function but the two has it)."""
    parameters = dict(schema.get("parameters") or {"type": "object", "properties": {}})
    parameters["properties"] = {**(parameters.get("properties") or {}), HEARTBEAT_PARAM: HEARTBEAT_SCHEMA}
    parameters["required"] = [*(parameters.get("required") or []), HEARTBEAT_PARAM]
    return {"name": schema["name"], "description": schema.get("description", ""), "parameters": parameters}


def check_against_schema(name: str, arguments: dict[str, Any], parameters: dict[str, Any]) -> None:
    """ToolError saying what is wrong with ``arguments`` for the JSON schema ``parameters`` (the first problem,
    as the model needs one clear thing to fix). An attached tool's schema is checked when it is added."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(parameters)
    error = jsonschema.exceptions.best_match(validator.iter_errors(arguments))
    if error is None:
        return
    where = ".".join(str(p) for p in error.absolute_path)
    subject = f"argument {where}" if where else "the arguments"
    raise ToolError(f"{name}: {subject}: {error.message[:300]}; nothing was done.")
