"""``memgpt tools``, ``memgpt mcp``, and the ``memgpt agents tools|secrets|rules`` commands. Only click is
imported at start-up."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from memgpt.client import Client
    from memgpt.memory.tools import McpServer, Tool


def _run(ctx: click.Context, work: Any, *, as_json: bool = False) -> Any:
    from memgpt.cli.main import run_with_client

    return run_with_client(ctx, work, embedder=None, json_errors=as_json)


def _print_json(data: Any) -> None:
    from memgpt.cli.main import print_json

    print_json(data)


def _table(headers: list[str], rows: list[list[str]], empty: str) -> None:
    from memgpt.cli.output import simple_table

    simple_table(headers, rows, empty)


def tool_json(tool: Tool) -> dict[str, Any]:
    return {
        "id": tool.id,
        "name": tool.name,
        "kind": tool.kind,
        "description": tool.description,
        "json_schema": tool.json_schema,
        "tags": tool.tags,
        "settings": tool.settings.to_dict() if tool.kind == "python" else None,
        "created_at": tool.created_at.isoformat(),
        "updated_at": tool.updated_at.isoformat(),
    }


def server_json(server: McpServer) -> dict[str, Any]:
    """A server as shown: its env and headers by name only (they often hold credentials)."""
    return {
        "id": server.id,
        "name": server.name,
        "transport": server.transport,
        "command": server.command or None,
        "url": server.url,
        "env": sorted(server.env),
        "headers": sorted(server.headers),
        "timeout_s": server.timeout_s,
        "created_at": server.created_at.isoformat(),
    }


def read_source(target: str) -> str:
    """The source of a file, or of an importable module (found without running it)."""
    path = Path(target).expanduser()
    if path.is_file():
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise click.BadParameter(f"cannot read {path}: {exc}", param_hint="FILE") from None
    if path.suffix == ".py" or os.sep in target:
        raise click.BadParameter(f"{path} does not exist", param_hint="FILE")
    import importlib.util

    try:
        spec = importlib.util.find_spec(target)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        raise click.BadParameter(f"{target} is neither a file nor an importable Python module", param_hint="FILE")
    return Path(spec.origin).read_text(encoding="utf-8")


# --------------------------------------------------------------------------- memgpt tools
@click.group()
def tools() -> None:
    """Custom tools: typed Python functions your agents can call, run in a sandbox."""


@tools.command("add")
@click.argument("target", metavar="FILE")
@click.option("--name", help="The function to use (default: the file's last public function).")
@click.option("--description", help="Instead of the docstring's summary.")
@click.option("--tag", "tags", multiple=True, help="A tag (repeatable).")
@click.option("--sandbox", type=click.Choice(["process", "strict"]), help="strict: no network, no files (bubblewrap).")
@click.option("--timeout", type=click.FloatRange(0.1, 3600), help="Seconds a call may take [default: 30].")
@click.option("--memory-mb", type=click.IntRange(64, 1_048_576), help="Memory a call may use [default: 1024].")
@click.option("--replace", is_flag=True, help="Update the tool of that name (it stays attached where it is).")
@click.option("--json", "as_json", is_flag=True, help="Print the tool as JSON.")
@click.pass_context
def tools_add(
    ctx: click.Context,
    target: str,
    name: str | None,
    description: str | None,
    tags: tuple[str, ...],
    sandbox: str | None,
    timeout: float | None,
    memory_mb: int | None,
    replace: bool,
    as_json: bool,
) -> None:
    """Register a function of FILE (a .py file, or an importable module) as a tool.

    The function needs type hints and a docstring (its summary, and an Args: section for the parameters):
    they become the schema the model sees. The source is stored in the database and runs in the sandbox.
    """
    source = read_source(target)

    async def work(client: Client) -> Tool:
        return await client.add_tool(
            name,
            source,
            description=description,
            tags=list(tags),
            sandbox=sandbox,  # type: ignore[arg-type]
            timeout=timeout,
            memory_mb=memory_mb,
            replace=replace,
        )

    tool = _run(ctx, work, as_json=as_json)
    if as_json:
        _print_json(tool_json(tool))
        return
    params = ", ".join(tool.json_schema["parameters"].get("properties", {})) or "no parameters"
    click.echo(f"Added tool {tool.name} ({params}). Attach it: memgpt agents tools attach AGENT {tool.name}")


@tools.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def tools_list(ctx: click.Context, as_json: bool) -> None:
    """List your custom and MCP tools (the base functions every agent has are not listed)."""

    async def work(client: Client) -> list[Tool]:
        return await client.list_tools()

    found = _run(ctx, work, as_json=as_json)
    if as_json:
        _print_json([tool_json(t) for t in found])
        return
    rows = [[t.name, t.kind, t.description[:60], t.updated_at.isoformat()[:16].replace("T", " ")] for t in found]
    _table(["name", "kind", "description", "updated"], rows, "No tools yet. Add one with `memgpt tools add FILE`.")


@tools.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def tools_show(ctx: click.Context, name: str, as_json: bool) -> None:
    """Show a tool: its schema, its sandbox settings, its source and the agents that have it."""

    async def work(client: Client) -> tuple[Tool, list[str]]:
        tool = await client.get_tool(name)
        return tool, await client.agents_with_tool(tool.id)

    tool, agents = _run(ctx, work, as_json=as_json)
    if as_json:
        _print_json(tool_json(tool) | {"source": tool.source or None, "agents": agents})
        return
    import json

    from memgpt.cli.output import console

    out = console()
    out.print(f"[bold]{tool.name}[/bold] ({tool.kind}, {tool.id})")
    out.print(tool.description or "(no description)", markup=False)
    out.print("\n[bold]schema[/bold]")
    out.print(json.dumps(tool.json_schema["parameters"], indent=2), markup=False)
    if tool.kind == "python":
        settings = tool.settings
        out.print(
            f"\n[bold]sandbox[/bold] {settings.sandbox}, timeout {settings.timeout_s:g} s, "
            f"memory {settings.memory_mb} MB, output {settings.output_bytes:,} bytes"
        )
        out.print("\n[bold]source[/bold]")
        out.print(tool.source, markup=False)
    out.print(f"\n[bold]agents[/bold] {', '.join(agents) or 'none'}")


@tools.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def tools_delete(ctx: click.Context, name: str, yes: bool) -> None:
    """Delete a tool; every agent that has it loses it."""
    if not yes and not click.confirm(f"Delete tool {name}?", default=False):
        click.echo("Nothing deleted.")
        return

    async def work(client: Client) -> list[str]:
        return await client.delete_tool(name)

    agents = _run(ctx, work)
    detached = f" (detached from {', '.join(agents)})" if agents else ""
    click.echo(f"Deleted tool {name}{detached}.")


# --------------------------------------------------------------------------- memgpt agents tools
@click.group("tools")
def agent_tools() -> None:
    """The tools an agent has beyond its base functions."""


@agent_tools.command("attach")
@click.argument("agent")
@click.argument("tool")
@click.pass_context
def agent_tools_attach(ctx: click.Context, agent: str, tool: str) -> None:
    """Give AGENT the tool TOOL: a tool's name, or mcp:SERVER/TOOL (mcp:SERVER/* for all of a server's)."""

    async def work(client: Client) -> list[Tool]:
        from memgpt.tools.registry import parse_mcp_reference

        parsed = parse_mcp_reference(tool)
        if parsed is not None and parsed[1] == "*":
            remote = await client.list_mcp_tools(parsed[0])
            return [await client.attach_tool(agent, f"mcp:{parsed[0]}/{r.name}") for r in remote]
        return [await client.attach_tool(agent, tool)]

    attached = _run(ctx, work)
    names = ", ".join(t.function_name for t in attached) or "nothing (the server offers no tools)"
    click.echo(f"Agent {agent} can now call {names}.")


@agent_tools.command("detach")
@click.argument("agent")
@click.argument("tool")
@click.pass_context
def agent_tools_detach(ctx: click.Context, agent: str, tool: str) -> None:
    """Take TOOL away from AGENT (the tool stays registered)."""

    async def work(client: Client) -> None:
        await client.detach_tool(agent, tool)

    _run(ctx, work)
    click.echo(f"Detached {tool} from {agent}.")


@agent_tools.command("list")
@click.argument("agent")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def agent_tools_list(ctx: click.Context, agent: str, as_json: bool) -> None:
    """List AGENT's own tools."""

    async def work(client: Client) -> list[Tool]:
        return await client.list_agent_tools(agent)

    found = _run(ctx, work, as_json=as_json)
    if as_json:
        _print_json([tool_json(t) for t in found])
        return
    rows = [[t.function_name, t.name, t.kind, t.description[:60]] for t in found]
    _table(["function", "tool", "kind", "description"], rows, f"{agent} has only the base functions.")


# --------------------------------------------------------------------------- memgpt agents secrets
@click.group("secrets")
def agent_secrets() -> None:
    """Tool variables: environment variables of an agent's tools (API keys...), never shown or logged."""


@agent_secrets.command("set")
@click.argument("agent")
@click.argument("name")
@click.option("--from-env", "from_env", metavar="VAR", help="Take the value from this environment variable.")
@click.pass_context
def agent_secrets_set(ctx: click.Context, agent: str, name: str, from_env: str | None) -> None:
    """Set NAME for AGENT's tools. The value is asked for (hidden), read from stdin, or taken from --from-env;
    it is never a command-line argument (shell history and process lists would keep it)."""
    if from_env is not None:
        value = os.environ.get(from_env)
        if value is None:
            raise click.BadParameter(f"${from_env} is not set", param_hint="--from-env")
    elif sys.stdin.isatty():
        value = click.prompt(f"Value of {name}", hide_input=True)
    else:
        value = sys.stdin.read().rstrip("\r\n")

    async def work(client: Client) -> None:
        await client.set_secret(agent, name, value)

    _run(ctx, work)
    click.echo(f"Set {name} for {agent}'s tools.")


@agent_secrets.command("list")
@click.argument("agent")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def agent_secrets_list(ctx: click.Context, agent: str, as_json: bool) -> None:
    """List the names of AGENT's tool variables (never their values)."""

    async def work(client: Client) -> list[str]:
        return await client.list_secrets(agent)

    names = _run(ctx, work, as_json=as_json)
    if as_json:
        _print_json(names)
    else:
        click.echo("\n".join(names) if names else f"{agent} has no tool variables.")


@agent_secrets.command("delete")
@click.argument("agent")
@click.argument("name")
@click.pass_context
def agent_secrets_delete(ctx: click.Context, agent: str, name: str) -> None:
    """Remove the tool variable NAME from AGENT."""

    async def work(client: Client) -> None:
        await client.delete_secret(agent, name)

    _run(ctx, work)
    click.echo(f"Removed {name} from {agent}.")


# --------------------------------------------------------------------------- memgpt agents rules
RULE_CHOICE = click.Choice(["run_first", "exit_loop", "continue_loop", "max_count_per_step", "required_before_exit"])


@click.group("rules")
def agent_rules() -> None:
    """Tool rules (Letta's): run_first, exit_loop, continue_loop, max_count_per_step, required_before_exit."""


def _change_rules(ctx: click.Context, agent: str, change: Any) -> list[Any]:
    async def work(client: Client) -> list[Any]:
        rules = [r.to_dict() for r in await client.get_tool_rules(agent)]
        return [r.to_dict() for r in await client.set_tool_rules(agent, change(rules))]

    result: list[Any] = _run(ctx, work)
    return result


@agent_rules.command("add")
@click.argument("agent")
@click.argument("rule_type", metavar="TYPE", type=RULE_CHOICE)
@click.argument("tool")
@click.option("--max", "max_count", type=click.IntRange(1, 1000), help="For max_count_per_step: the limit.")
@click.pass_context
def agent_rules_add(ctx: click.Context, agent: str, rule_type: str, tool: str, max_count: int | None) -> None:
    """Add a rule of TYPE for the function TOOL of AGENT."""
    if (rule_type == "max_count_per_step") != (max_count is not None):
        raise click.UsageError("--max goes with max_count_per_step, and only with it.")
    rule: dict[str, Any] = {"type": rule_type, "tool_name": tool}
    if max_count is not None:
        rule["max_count_limit"] = max_count
    _change_rules(ctx, agent, lambda rules: [*rules, rule])
    click.echo(f"{agent}: {rule_type} {tool}" + (f" (at most {max_count})" if max_count else "") + ".")


@agent_rules.command("remove")
@click.argument("agent")
@click.argument("rule_type", metavar="TYPE", type=RULE_CHOICE)
@click.argument("tool")
@click.pass_context
def agent_rules_remove(ctx: click.Context, agent: str, rule_type: str, tool: str) -> None:
    """Remove AGENT's rule of TYPE for TOOL."""
    removed: list[bool] = []

    def change(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
        kept = [r for r in rules if (r["type"], r["tool_name"]) != (rule_type, tool)]
        removed.append(len(kept) < len(rules))
        return kept

    _change_rules(ctx, agent, change)
    click.echo(
        f"Removed {rule_type} {tool} from {agent}." if removed[0] else f"{agent} had no {rule_type} {tool} rule."
    )


@agent_rules.command("list")
@click.argument("agent")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def agent_rules_list(ctx: click.Context, agent: str, as_json: bool) -> None:
    """List AGENT's tool rules."""

    async def work(client: Client) -> list[Any]:
        return [r.to_dict() for r in await client.get_tool_rules(agent)]

    rules = _run(ctx, work, as_json=as_json)
    if as_json:
        _print_json(rules)
        return
    rows = [[r["type"], r["tool_name"], str(r.get("max_count_limit", ""))] for r in rules]
    _table(["rule", "tool", "limit"], rows, f"{agent} has no tool rules.")


# --------------------------------------------------------------------------- memgpt mcp
@click.group()
def mcp() -> None:
    """MCP: use MCP servers' tools in agents (add, list, tools, remove), or serve memgpt to MCP clients (serve)."""


def _pairs(values: tuple[str, ...], separator: str, what: str) -> dict[str, str]:
    """``KEY=VALUE`` (or ``Name: value``) options; a bare KEY takes its value from the environment."""
    found: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition(separator)
        key, value = key.strip(), value.strip()
        if not sep:
            env_value = os.environ.get(key)
            if env_value is None:
                raise click.BadParameter(f"{key!r} has no value and ${key} is not set", param_hint=what)
            value = env_value
        if not key:
            raise click.BadParameter(f"{item!r} has no name", param_hint=what)
        found[key] = value
    return found


@mcp.command("add", context_settings={"ignore_unknown_options": True})
@click.argument("name")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.option("--url", help="A streamable HTTP MCP server (instead of a command after --).")
@click.option("--env", "env", multiple=True, metavar="KEY[=VALUE]", help="For the command (bare KEY: from yours).")
@click.option("--header", "headers", multiple=True, metavar="'NAME: VALUE'", help="For --url (repeatable).")
@click.option("--timeout", type=click.FloatRange(1, 3600), default=60, show_default=True, help="Seconds per call.")
@click.option("--no-check", is_flag=True, help="Register without starting the server to list its tools.")
@click.option("--replace", is_flag=True, help="Update the server of that name.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def mcp_add(
    ctx: click.Context,
    name: str,
    command: tuple[str, ...],
    url: str | None,
    env: tuple[str, ...],
    headers: tuple[str, ...],
    timeout: float,
    no_check: bool,
    replace: bool,
    as_json: bool,
) -> None:
    """Register the MCP server NAME: `memgpt mcp add NAME -- COMMAND ARGS...` (stdio) or `--url URL`.

    It is started (or reached) and its tools listed, unless --no-check. Then give an agent its tools:
    memgpt agents tools attach AGENT mcp:NAME/TOOL (or mcp:NAME/* for all).
    """
    if bool(command) == bool(url):
        raise click.UsageError("Give the server's command after -- , or --url URL (one of them).")

    async def work(client: Client) -> tuple[McpServer, list[str]]:
        server = await client.add_mcp_server(
            name,
            command=list(command) or None,
            url=url,
            env=_pairs(env, "=", "--env"),
            headers=_pairs(headers, ":", "--header"),
            timeout=timeout,
            check=not no_check,
            replace=replace,
        )
        offered = [] if no_check else [t.name for t in await client.list_mcp_tools(server.id)]
        return server, offered

    server, offered = _run(ctx, work, as_json=as_json)
    if as_json:
        _print_json(server_json(server) | {"tools": offered})
        return
    listed = f": {', '.join(offered)}" if offered else ""
    click.echo(f"Added MCP server {server.name} ({len(offered)} tools{listed}).")
    click.echo(f"Give an agent its tools: memgpt agents tools attach AGENT mcp:{server.name}/TOOL (or /* for all)")


@mcp.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def mcp_list(ctx: click.Context, as_json: bool) -> None:
    """List the MCP servers you registered."""

    async def work(client: Client) -> list[McpServer]:
        return await client.list_mcp_servers()

    found = _run(ctx, work, as_json=as_json)
    if as_json:
        _print_json([server_json(s) for s in found])
        return
    rows = [[s.name, s.transport, s.url or " ".join(s.command), ", ".join(sorted({*s.env, *s.headers}))] for s in found]
    _table(["name", "transport", "command / url", "env / headers"], rows, "No MCP servers yet (memgpt mcp add).")


@mcp.command("tools")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def mcp_tools(ctx: click.Context, name: str, as_json: bool) -> None:
    """List the tools the MCP server NAME offers now (it is started or reached to ask)."""

    async def work(client: Client) -> list[Any]:
        return await client.list_mcp_tools(name)

    found = _run(ctx, work, as_json=as_json)
    if as_json:
        _print_json([{"name": t.name, "description": t.description, "input_schema": t.input_schema} for t in found])
        return
    _table(["tool", "description"], [[t.name, t.description[:80]] for t in found], f"{name} offers no tools.")


@mcp.command("remove")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def mcp_remove(ctx: click.Context, name: str, yes: bool) -> None:
    """Remove the MCP server NAME and its tools from every agent."""
    if not yes and not click.confirm(f"Remove MCP server {name} and its tools from every agent?", default=False):
        click.echo("Nothing removed.")
        return

    async def work(client: Client) -> list[str]:
        return await client.remove_mcp_server(name)

    removed = _run(ctx, work)
    click.echo(f"Removed MCP server {name}" + (f" and {len(removed)} tool(s)." if removed else "."))


@mcp.command("serve")
@click.option("--agent", "agent", default=None, help="Serve this one agent (its tools then take no agent argument).")
@click.pass_context
def mcp_serve(ctx: click.Context, agent: str | None) -> None:
    """Serve memgpt's memory to an MCP client over stdio (Claude Desktop, Cursor...; see the README).

    Streamable HTTP is served by `memgpt server` at /mcp (with API keys, scoped by the key's user).
    """
    import logging

    from memgpt.cli.main import run_with_client

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)  # stdout carries the protocol

    async def work(client: Client) -> None:
        from memgpt.server.mcp_server import serve_stdio

        await serve_stdio(client, agent=agent)

    run_with_client(ctx, work)


def register(cli: click.Group, agents: click.Group) -> None:
    """Add these commands to ``memgpt`` and ``memgpt agents``."""
    cli.add_command(tools)
    cli.add_command(mcp)
    agents.add_command(agent_tools)
    agents.add_command(agent_secrets)
    agents.add_command(agent_rules)
