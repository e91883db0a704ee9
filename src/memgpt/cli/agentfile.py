"""``memgpt agents import`` and ``memgpt agents export``: Letta agent files (``.af``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from memgpt.agentfile import ImportReport
    from memgpt.client import Client


@click.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--name", help="Name the (first) agent of the file NAME instead of its own name.")
@click.option("--model", help="Use this model (e.g. openai/gpt-4o-mini) instead of the file's.")
@click.option(
    "--with-tools",
    is_flag=True,
    help="Also import the file's custom tools with Python source (their code then runs in memgpt's sandbox "
    "when the agent calls them). Without it no code from the file is taken in; the report names each tool.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the import report as JSON.")
@click.pass_context
def agents_import(
    ctx: click.Context, file: Path, name: str | None, model: str | None, with_tools: bool, as_json: bool
) -> None:
    """Import the agents of a Letta agent file (.af), all or nothing.

    Reads Letta's current format and its older single-agent one (0.6). Blocks (shared ones stay shared),
    the agent's instructions, messages with their dates, the in-context messages, the model, Letta's
    memory tools and the tool rules memgpt has are imported; the report lists everything memgpt could not
    map (groups, rules memgpt does not have, ...).

    Custom tools are code from whoever wrote the file: they are imported (as your tools, attached to the
    agents) only with --with-tools. A tool named like one you have with other code is reported and yours
    kept. MCP servers are never added or started by an import: the report gives the `memgpt mcp add`
    command of each, and the `mcp:SERVER/TOOL` to attach after. Tool variables (secrets) are never in a
    file: the report names those to set. A file that is damaged, truncated or refers to ids it does not
    hold is refused and leaves nothing behind.
    """
    from memgpt.cli.main import print_json, run_with_client

    async def work(client: Client) -> ImportReport:
        return await client.import_agent_file(file, name=name, model=model, with_tools=with_tools)

    report = run_with_client(ctx, work, json_errors=as_json)
    if as_json:
        print_json(report.to_dict())
    else:
        print_report(report)


@click.command("export")
@click.argument("names", nargs=-1, required=True)
@click.option("--output", "-o", type=click.Path(path_type=Path, dir_okay=False), help="Write FILE (default: stdout).")
@click.option(
    "--with-archival",
    is_flag=True,
    help="Include archival passages (Letta's own exporter leaves them out, and Letta does not read them back).",
)
@click.pass_context
def agents_export(ctx: click.Context, names: tuple[str, ...], output: Path | None, with_archival: bool) -> None:
    """Write agents NAMES... to a Letta agent file (the current .af format), for Letta or another memgpt.

    Blocks the agents share are written once, so importing the file keeps them shared. Messages, the
    in-context messages, the summary, memgpt's settings, the agents' custom tools (their source) and tool
    rules are included; archival passages only with --with-archival. Tool variables (secrets) are never
    written, only their names.
    """
    from memgpt.cli.main import run_with_client

    async def work(client: Client) -> dict[str, Any]:
        return await client.export_agent_file(list(names), with_archival=with_archival)

    data = run_with_client(ctx, work, embedder=None)
    text = json.dumps(data, ensure_ascii=False, indent=2)
    if output is None:
        click.echo(text)
        return
    from memgpt.cli.main import EXIT_ERROR

    try:
        temporary = output.with_name(output.name + ".part")
        temporary.write_text(text + "\n", encoding="utf-8")
        temporary.replace(output)
    except OSError as exc:
        click.echo(f"error: cannot write {output}: {exc.strerror}", err=True)
        sys.exit(EXIT_ERROR)
    agents = len(data["agents"])
    messages = sum(len(a["messages"]) - 1 for a in data["agents"])
    click.echo(f"Wrote {agents} agent(s), {len(data['blocks'])} block(s) and {messages} message(s) to {output}.")


def print_report(report: ImportReport) -> None:
    """The import report as a person reads it: the agents made, then what changed and what was not mapped."""
    from memgpt.cli.output import console

    out = console()
    out.print(f"Imported {len(report.agents)} agent(s) from {report.source} ({report.format}, {report.seconds:.2f} s):")
    for agent in report.agents:
        shared = f", {len(agent.shared_blocks)} shared" if agent.shared_blocks else ""
        out.print(
            f"  [bold]{agent.name}[/bold] ({agent.id}): {agent.model}, {agent.context_window:,} tokens; "
            f"{len(agent.blocks)} block(s){shared}; {agent.messages} message(s), {agent.in_context} in context"
            + (f"; {agent.passages} passage(s)" if agent.passages else ""),
            markup=True,
            highlight=False,
        )
        if agent.tools:
            out.print(f"    tools: {', '.join(agent.tools)}", markup=False, highlight=False)
        if agent.tool_rules:
            rules = ", ".join(f"{r['type']} {r['tool_name']}" for r in agent.tool_rules)
            out.print(f"    tool rules: {rules}", markup=False, highlight=False)
    for title, items in (("Mapped differently", report.changed), ("Not mapped", report.not_mapped)):
        if items:
            out.print(f"\n{title}:")
            for item in items:
                out.print(f"  {item.path}: {item.what}: {item.reason}", markup=False)
    if report.repaired_text:
        out.print(f"\n{report.repaired_text} text value(s) held invalid Unicode or NUL characters: repaired (U+FFFD).")
