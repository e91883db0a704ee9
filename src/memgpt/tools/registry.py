"""Registering tools: custom tools from Python source, MCP servers and their tools; the checks on names.

A custom tool's source is never imported by memgpt: the sandbox runs it and describes the chosen function
(its JSON schema from the signature and docstring, :mod:`memgpt.tools.schema`), so a tool registered from
the CLI, the API or an imported agent file goes through the same checks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from memgpt.errors import ValidationError
from memgpt.memory.tools import McpServer, Tool, ToolSettings
from memgpt.tools.base import BASE_TOOLS
from memgpt.tools.mcp_client import RemoteTool, function_schema
from memgpt.tools.sandbox import RESERVED_VARIABLES, Sandbox, check_strict
from memgpt.validation import check_text

FUNCTION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
SERVER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
BASE_NAMES = frozenset(fn.__name__ for fn in BASE_TOOLS)
MAX_SOURCE_CHARS = 500_000
MAX_SECRET_CHARS = 65_536
MAX_TAGS = 50
MCP_PREFIX = "mcp:"


def check_function_name(name: object) -> str:
    if not isinstance(name, str) or not FUNCTION_NAME.match(name):
        raise ValidationError(
            f"A tool name must be a Python function name of 1-64 letters, digits and '_' (not starting with a digit), "
            f"got {name!r}."
        )
    if name in BASE_NAMES:
        raise ValidationError(f"{name} is one of memgpt's own functions; give the tool another name.")
    return name


def tool_settings(
    *, sandbox: object = None, timeout: object = None, memory_mb: object = None, base: ToolSettings | None = None
) -> ToolSettings:
    """The settings of a tool being registered: the defaults (or ``base``) with what was given, checked."""
    settings = ToolSettings.from_dict(base.to_dict()) if base is not None else ToolSettings()
    if sandbox is not None:
        if sandbox not in ("process", "strict"):
            raise ValidationError(f"sandbox must be 'process' or 'strict', got {sandbox!r}.")
        settings.sandbox = sandbox
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0.1 <= timeout <= 3600:
            raise ValidationError(f"timeout must be 0.1 to 3600 seconds, got {timeout!r}.")
        settings.timeout_s = float(timeout)
        settings.cpu_s = max(1, int(timeout + 0.999))
    if memory_mb is not None:
        if isinstance(memory_mb, bool) or not isinstance(memory_mb, int) or not 64 <= memory_mb <= 1_048_576:
            raise ValidationError(f"memory_mb must be a whole number from 64 to 1048576, got {memory_mb!r}.")
        settings.memory_mb = memory_mb
    if settings.sandbox == "strict":
        check_strict()
    return settings


def check_tags(tags: object) -> list[str]:
    if isinstance(tags, str | bytes) or not isinstance(tags, Sequence) or len(tags) > MAX_TAGS:
        raise ValidationError(f"tags must be a list of at most {MAX_TAGS} texts.")
    return [check_text(t, "A tag", max_chars=200) for t in tags]


async def describe_source(
    sandbox: Sandbox, source: object, name: str | None, settings: ToolSettings, owner: str
) -> tuple[dict[str, Any], bool]:
    """The function schema of ``name`` in ``source`` (default: its last public function), and whether its
    arguments need converting; ValidationError saying what is wrong with the source."""
    text = check_text(source, "The tool's source", max_chars=MAX_SOURCE_CHARS)
    if not text.strip():
        raise ValidationError("The tool's source is empty.")
    if name is not None:
        check_function_name(name)
    outcome = await sandbox.describe(text, name, settings=settings, owner=owner)
    if not outcome.ok:
        if outcome.kind in ("invalid", "exception", "memory", "crash"):
            raise ValidationError(f"The tool's source cannot be used: {outcome.error}.")
        raise ValidationError(f"Running the tool's source failed: {outcome.error}.")
    schema = outcome.extra["schema"]
    check_function_name(schema["name"])
    check_parameters_schema(schema["name"], schema["parameters"])
    return schema, bool(outcome.extra.get("coerce"))


async def custom_tool(
    sandbox: Sandbox,
    user_id: str,
    name: str | None,
    source: str,
    *,
    settings: ToolSettings,
    description: str | None = None,
    tags: object = (),
) -> Tool:
    """The record of the custom tool ``name`` of ``source`` (described in the sandbox, its schema from the
    signature and docstring; ``description`` replaces the docstring's); ValidationError on what is wrong.
    Registering from the CLI, the API and an agent file all go through here."""
    schema, settings.coerce = await describe_source(sandbox, source, name, settings, user_id)
    if description is not None:
        schema["description"] = check_text(description, "The description", max_chars=10_000).strip()
    return Tool(
        name=schema["name"],
        user_id=user_id,
        kind="python",
        json_schema=schema,
        source=source,
        description=schema["description"],
        tags=check_tags(tags),
        settings=settings,
    )


def check_parameters_schema(name: str, parameters: object) -> None:
    """ValidationError if ``parameters`` is not a JSON schema of an object of arguments."""
    import jsonschema

    if not isinstance(parameters, dict) or parameters.get("type") != "object":
        raise ValidationError(f"The parameters of {name} must be a JSON schema of type object.")
    try:
        jsonschema.Draft202012Validator.check_schema(parameters)
    except jsonschema.exceptions.SchemaError as exc:
        raise ValidationError(f"The parameters of {name} are not a valid JSON schema: {exc.message}") from None


# ----------------------------------------------------------------------------- MCP
def mcp_tool_name(server: str, tool: str) -> str:
    return f"{MCP_PREFIX}{server}/{tool}"


def parse_mcp_reference(reference: str) -> tuple[str, str] | None:
    """``mcp:SERVER/TOOL`` as (SERVER, TOOL) ("*" for every tool of the server); None if it is not one."""
    if not reference.startswith(MCP_PREFIX):
        return None
    server, _, tool = reference[len(MCP_PREFIX) :].partition("/")
    if not server or not tool:
        raise ValidationError(f"Name an MCP tool as mcp:SERVER/TOOL (or mcp:SERVER/* for all), got {reference!r}.")
    return server, tool


def mcp_tool(server: McpServer, remote: RemoteTool, *, base: Tool | None = None) -> Tool:
    """The stored record of ``remote`` (the same id as ``base`` when it updates one)."""
    schema = function_schema(remote)
    check_parameters_schema(schema["name"], schema["parameters"])
    tool = Tool(
        name=mcp_tool_name(server.name, remote.name),
        user_id=server.user_id,
        kind="mcp",
        json_schema=schema,
        description=schema["description"],
        mcp_server_id=server.id,
    )
    if base is not None:
        tool.id, tool.created_at, tool.tags = base.id, base.created_at, base.tags
    return tool


def mcp_server(
    user_id: str,
    name: object,
    *,
    command: Sequence[str] | None,
    url: str | None,
    env: Mapping[str, str],
    headers: Mapping[str, str],
    timeout: float,
) -> McpServer:
    """A server record from what a user gave, checked (one of ``command`` or ``url``)."""
    if not isinstance(name, str) or not SERVER_NAME.match(name):
        raise ValidationError(f"An MCP server name must be 1-64 letters, digits, '-', '_' or '.', got {name!r}.")
    if (command is None) == (url is None):
        raise ValidationError("Give an MCP server either a command (stdio) or a URL (streamable HTTP).")
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 1 <= timeout <= 3600:
        raise ValidationError(f"timeout must be 1 to 3600 seconds, got {timeout!r}.")
    if command is not None:
        if isinstance(command, str) or not command or not all(isinstance(c, str) and c for c in command):
            raise ValidationError("An MCP server's command must be a non-empty list: the program and its arguments.")
        for part in command:
            check_text(part, "The MCP server's command", max_chars=10_000)
        if headers:
            raise ValidationError("Headers are for HTTP servers; a stdio server takes environment variables (env).")
        variables = {check_variable_name(k, reserved=False): check_secret_value(k, v) for k, v in env.items()}
        return McpServer(name, user_id, "stdio", command=list(command), env=variables, timeout_s=float(timeout))
    assert url is not None
    check_text(url, "The MCP server's URL", max_chars=2000)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValidationError(f"An MCP server URL must be http:// or https://, got {url!r}.")
    if env:
        raise ValidationError("Environment variables are for stdio servers; an HTTP server takes headers.")
    checked = {_header_name(k): check_secret_value(k, v) for k, v in headers.items()}
    return McpServer(name, user_id, "http", url=url, headers=checked, timeout_s=float(timeout))


def _header_name(name: object) -> str:
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,200}", name):
        raise ValidationError(f"{name!r} is not an HTTP header name.")
    return name


# ----------------------------------------------------------------------------- tool variables
def check_variable_name(name: object, *, reserved: bool = True) -> str:
    if not isinstance(name, str) or not VARIABLE_NAME.match(name):
        raise ValidationError(
            f"A variable name must be letters, digits and '_' (not starting with a digit), got {name!r}."
        )
    if reserved and (name in RESERVED_VARIABLES or name.startswith(("LD_", "PYTHON"))):
        raise ValidationError(f"{name} is set by the sandbox itself; choose another name.")
    return name


def check_secret_value(name: str, value: object) -> str:
    text = check_text(value, f"The value of {name}", max_chars=MAX_SECRET_CHARS)
    if not text:
        raise ValidationError(f"The value of {name} is empty.")
    return text
