"""An agent file's custom tools, tool rules, tool variables and MCP servers: what becomes of them on import.

- **Custom tools with Python source** become custom tools of the importing user, attached to the file's
  agents that use them, but only when the import is asked to (``with_tools``: ``memgpt agents import
  --with-tools``). The security decision: a tool's code runs (in memgpt's sandbox) whenever the agent calls
  it, and an agent file comes from anyone, so its code is never taken in by default; without the flag each
  such tool is reported with the flag that imports it. Python source is ``source_code`` of ``source_type``
  python, or json (Letta's tools whose schema was written as JSON: their code is still the Python Letta
  runs). Each tool is described in the sandbox exactly as ``memgpt tools add`` does
  (:func:`memgpt.tools.registry.custom_tool`: its schema from the signature and docstring), before the
  import's transaction; registering and attaching happen inside it. A tool whose source defines no usable
  function or whose name is one of memgpt's functions is reported; one named like a tool the user already
  has with other code is reported and the user's tool kept (the same code: the user's is attached).
- **Tool rules** memgpt has (:mod:`memgpt.tools.rules`) are kept for functions the agent has after the
  import; rules on Letta's memory tools apply to the memgpt function they map to; other rule types
  (``constrain_child_tools``, ``conditional``, ...) are reported.
- **MCP servers** are never registered or started: an agent file must never run a program (or connect
  anywhere) on import. Each is reported with the ``memgpt mcp add`` command that adds it, and each tool an
  agent takes from it with the ``mcp:SERVER/TOOL`` to attach after.
- **Tool variables** never travel in a file: their names are reported with the command that sets them.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from memgpt.agentfile.report import ImportReport
from memgpt.agentfile.schema import McpServerDoc, ToolDoc, ToolRuleDoc
from memgpt.errors import ConfigError, NotFoundError, ValidationError
from memgpt.memory.tools import Tool, ToolSettings
from memgpt.tools.rules import RULE_TYPES, ToolRule, parse_rules

if TYPE_CHECKING:
    from memgpt.memory.protocols import Store
    from memgpt.tools.sandbox import Sandbox

PYTHON_SOURCE_TYPES = frozenset({"python", "json"})
NOT_ASKED = (
    "not imported: code from an agent file is imported only when you ask for it "
    "(memgpt agents import FILE --with-tools; with_tools=True in the API); it then runs in memgpt's sandbox"
)


@dataclass(slots=True)
class FileTool:
    """A tool of the file with Python source: described in the sandbox (``tool``), then stored (``stored``:
    the registered tool, or the user's own with the same code)."""

    file_id: str
    path: str
    doc: ToolDoc
    tool: Tool | None = None
    stored: Tool | None = None

    @property
    def what(self) -> str:
        lines = len((self.doc.source_code or "").splitlines())
        return f"custom tool {self.doc.name} ({lines} lines of {self.doc.source_type or 'python'})"


@dataclass(frozen=True, slots=True)
class RulePlan:
    """A rule of the file in memgpt's terms (``rule``: with memgpt's function name), and how the file says it."""

    path: str
    letta: str  # "tool rule run_first on retrieve_candidate"
    rule: ToolRule


def has_python_source(tool: ToolDoc) -> bool:
    return bool((tool.source_code or "").strip()) and (tool.source_type or "python") in PYTHON_SOURCE_TYPES


# ----------------------------------------------------------------------------- custom tools
async def describe_tools(
    tools: Mapping[str, FileTool], sandbox: Sandbox | None, user_id: str, report: ImportReport
) -> None:
    """Describe each tool in the sandbox (``sandbox`` None: the tools were not asked for, and are reported)."""
    from memgpt.tools import registry

    for entry in tools.values():
        if sandbox is None:
            report.add(entry.path, entry.what, NOT_ASKED)
            continue
        settings = _settings(entry, report)
        try:
            entry.tool = await registry.custom_tool(
                sandbox,
                user_id,
                entry.doc.name,
                entry.doc.source_code or "",
                settings=settings,
                description=_description(entry.doc),
                tags=entry.doc.tags or [],
            )
        except ValidationError as exc:
            report.add(entry.path, entry.what, f"not imported: {exc}")


def _description(doc: ToolDoc) -> str | None:
    """What the model saw in Letta: the description of the tool's JSON schema (or the tool's own)."""
    given = (doc.json_schema or {}).get("description")
    text = given if isinstance(given, str) and given.strip() else doc.description
    return text if text and text.strip() else None


def _settings(entry: FileTool, report: ImportReport) -> ToolSettings:
    """How the tool runs: as memgpt's export says, else the defaults."""
    from memgpt.tools import registry

    ext = entry.doc.memgpt
    if ext is None:
        return ToolSettings()
    try:
        return registry.tool_settings(sandbox=ext.sandbox, timeout=ext.timeout_s, memory_mb=ext.memory_mb)
    except (ValidationError, ConfigError) as exc:
        report.add(entry.path, f"sandbox settings of {entry.doc.name}", f"the defaults are used: {exc}", "changed")
        return ToolSettings()


async def register_tools(store: Store, user_id: str, tools: Mapping[str, FileTool], report: ImportReport) -> None:
    """Inside the import's transaction: store each described tool, or take the user's own with the same code."""
    made: set[str] = set()  # ids of the tools this import registers (a file may name one tool twice)
    for entry in tools.values():
        if entry.tool is None:
            continue
        name = entry.tool.name
        try:
            existing: Tool | None = await store.get_tool(user_id, name)
        except NotFoundError:
            existing = None
        if existing is None:
            await store.create_tool(entry.tool)
            entry.stored = entry.tool
            made.add(entry.tool.id)
        elif existing.kind == "python" and existing.source == entry.tool.source:
            entry.stored = existing
            if existing.id not in made:
                reason = "you already have it with the same code: yours is attached"
                report.add(entry.path, f"custom tool {name}", reason, "changed")
        else:
            report.add(
                entry.path,
                entry.what,
                f"not imported: you already have a tool named {name} with other code; yours is kept and not "
                "attached to the imported agents (rename or delete yours with memgpt tools, then import again "
                "to use the file's)",
            )


def not_imported_reasons(tools: Mapping[str, FileTool]) -> dict[str, str]:
    """For each custom tool of the file that did not become a tool: why a rule naming it is not imported."""
    return {
        entry.doc.name: f"not imported: its tool {entry.doc.name} was not imported (see {entry.path})"
        for entry in tools.values()
        if entry.stored is None
    }


# ----------------------------------------------------------------------------- tool rules
def plan_rules(rules: list[ToolRuleDoc], path: str, aliases: Mapping[str, str], report: ImportReport) -> list[RulePlan]:
    """The file's rules in memgpt's terms (``aliases``: Letta's tool names memgpt's functions provide); the
    rule types memgpt does not have are reported."""
    planned = []
    for index, rule in enumerate(rules):
        where, letta = f"{path}.tool_rules[{index}]", f"tool rule {rule.type} on {rule.tool_name}"
        if rule.type == "exit_loop" and rule.tool_name == "send_message":
            report.add(where, "rule: send_message ends the loop", "already how memgpt works", "changed")
            continue
        if rule.type not in RULE_TYPES:
            report.add(where, letta, f"memgpt has no {rule.type} rule (it has {', '.join(RULE_TYPES)})")
            continue
        limit = rule.max_count_limit if rule.type == "max_count_per_step" else None
        data = {"type": rule.type, "tool_name": aliases.get(rule.tool_name, rule.tool_name), "max_count_limit": limit}
        try:
            parsed = ToolRule.from_dict(data)
        except ValidationError as exc:
            report.add(where, letta, f"not imported: {exc}")
            continue
        if rule.prompt_template:
            report.add(where, f"prompt template of {letta}", "memgpt words a rule's refusal itself", "changed")
        planned.append(RulePlan(where, letta, parsed))
    return planned


def resolve_rules(
    rules: list[RulePlan], functions: Collection[str], missing: Mapping[str, str], report: ImportReport
) -> list[ToolRule]:
    """The rules an imported agent keeps: those on functions it has, each once and none contradicting another."""
    kept: dict[tuple[str, str], RulePlan] = {}
    opposites = {"exit_loop": "continue_loop", "continue_loop": "exit_loop"}
    for plan in rules:
        name, kind = plan.rule.tool_name, plan.rule.type
        if name not in functions:
            report.add(plan.path, plan.letta, missing.get(name, f"not imported: the agent has no function {name}"))
            continue
        if (kind, name) in kept:
            earlier = kept[(kind, name)].path
            report.add(plan.path, plan.letta, f"the same rule as {earlier} on memgpt's {name}: kept once", "changed")
            continue
        opposite = opposites.get(kind)
        if opposite is not None and (opposite, name) in kept:
            earlier = kept[(opposite, name)].path
            report.add(plan.path, plan.letta, f"not imported: it contradicts {earlier} ({opposite} on {name})")
            continue
        if not plan.letta.endswith(f" on {name}"):
            report.add(plan.path, plan.letta, f"applies to memgpt's {name}", "changed")
        kept[(kind, name)] = plan
    return parse_rules([p.rule for p in kept.values()])


# ----------------------------------------------------------------------------- MCP servers and their tools
def mcp_server_outcome(server: McpServerDoc, path: str, report: ImportReport) -> None:
    """Report the server with the command that adds it (it is never started or registered by an import)."""
    command = mcp_add_command(server)
    kind = server.server_type or ("stdio" if server.stdio_config else "http")
    where = server.server_url or " ".join(_stdio_command(server)) or "no command or URL"
    how = f"add it yourself: {command}" if command else "the file gives neither its command nor its URL"
    report.add(
        path,
        f"MCP server {server.server_name} ({kind}: {where})",
        f"not added: an agent file never starts a program or connects anywhere on import; {how}",
    )


def mcp_add_command(server: McpServerDoc) -> str | None:
    """The ``memgpt mcp add`` command of the server: values of its variables and headers left for you to give."""
    name = mcp_server_name(server.server_name)
    ext = server.memgpt
    command = _stdio_command(server)
    if command:
        config_env = (server.stdio_config or {}).get("env")
        env = list(config_env) if isinstance(config_env, dict) else []
        env += [e for e in (ext.env if ext else []) if e not in env]
        options = [part for key in env for part in ("--env", str(key))]  # bare KEY: its value from your environment
        return shlex.join(["memgpt", "mcp", "add", name, *options, "--", *command])
    if server.server_url:
        extra = server.extra_fields()
        headers = list(extra.get("custom_headers") or {}) if isinstance(extra.get("custom_headers"), dict) else []
        if extra.get("auth_token") or extra.get("token"):
            headers.append(str(extra.get("auth_header") or "Authorization"))
        headers += [h for h in (ext.headers if ext else []) if h not in headers]
        options = [part for header in headers for part in ("--header", f"{header}: <value>")]
        return shlex.join(["memgpt", "mcp", "add", name, "--url", server.server_url, *options])
    return None


def _stdio_command(server: McpServerDoc) -> list[str]:
    config = server.stdio_config or {}
    program, args = config.get("command"), config.get("args") or []
    if not isinstance(program, str) or not program:
        return []
    return [program, *(str(a) for a in args if isinstance(a, str | int | float))]


def mcp_server_name(name: str) -> str:
    """The server's name as ``memgpt mcp add`` takes it."""
    clean = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-._")[:64]
    return clean or "mcp-server"


def mcp_tool_server(tool: ToolDoc, servers: Mapping[str, str]) -> str | None:
    """The name of the MCP server a Letta MCP tool comes from (its ``mcp:SERVER`` tag or metadata)."""
    for tag in tool.tags or []:
        if tag.startswith("mcp:") and len(tag) > 4:
            return mcp_server_name(tag[4:])
    metadata: Any = tool.extra_fields().get("metadata_") or tool.extra_fields().get("metadata") or {}
    found = metadata.get("mcp", {}) if isinstance(metadata, dict) else {}
    if isinstance(found, dict):
        if isinstance(found.get("server_name"), str):
            return mcp_server_name(found["server_name"])
        if isinstance(found.get("server_id"), str) and found["server_id"] in servers:
            return servers[found["server_id"]]
    return None


def is_mcp_tool(tool: ToolDoc) -> bool:
    return (tool.tool_type or "").endswith("mcp") or any(t == "mcp" or t.startswith("mcp:") for t in tool.tags or [])


def mcp_tool_outcome(tool: ToolDoc, where: str, agent: str, servers: Mapping[str, str], report: ImportReport) -> None:
    server = mcp_tool_server(tool, servers) or "SERVER"
    report.add(
        where,
        f"MCP tool {tool.name}",
        f"attach it once its server is added: memgpt agents tools attach {agent} mcp:{server}/{tool.name}",
    )


# ----------------------------------------------------------------------------- tool variables
def variables_outcome(names: list[str], agent: str, path: str, report: ImportReport) -> None:
    report.add(
        path,
        f"tool variables {', '.join(names)}",
        f"set them (a file never carries their values): memgpt agents secrets set {agent} NAME, for each",
    )
