"""The ``memgpt`` command. Imports stay lazy so ``memgpt --help`` starts fast."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

if TYPE_CHECKING:
    from memgpt.client import Client

T = TypeVar("T")

EXIT_ERROR = 1
EXIT_CONFIG = 2
EXIT_INTERNAL = 70  # EX_SOFTWARE: a bug in memgpt, not a mistake of the user
EXIT_INTERRUPTED = 130


def run_with_client(
    ctx: click.Context, work: Callable[[Client], Awaitable[T]], *, embedder: Any = "default", json_errors: bool = False
) -> T:
    """Open a Client on the configured store, run ``work`` and close it; errors become one clear line."""

    async def main() -> T:
        from memgpt.client import Client

        client = await Client.open(ctx.obj["database_url"], embedder=embedder)
        client.via = "cli"
        try:
            return await work(client)
        finally:
            await client.close()

    return run(main(), json_errors=json_errors)


def run(coro: Coroutine[Any, Any, T], *, json_errors: bool = False) -> T:
    """``asyncio.run`` with every error turned into one line and an exit code, never a traceback.

    With ``json_errors`` the line is an ``{"type": "error", ...}`` event on stdout (what ``--json`` prints).
    ``MEMGPT_DEBUG=1`` shows the traceback of an internal error.
    """
    from memgpt.errors import ConfigError, MemgptError

    try:
        return asyncio.run(coro)
    except ConfigError as exc:
        fail(str(exc), EXIT_CONFIG, type(exc).__name__, json_errors)
    except MemgptError as exc:
        fail(str(exc), EXIT_ERROR, type(exc).__name__, json_errors)
    except KeyboardInterrupt:
        fail("interrupted", EXIT_INTERRUPTED, "KeyboardInterrupt", json_errors)
    except (click.ClickException, click.Abort):
        raise
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        fail(f"{exc.strerror or exc}{where}", EXIT_ERROR, type(exc).__name__, json_errors)
    except Exception as exc:
        if os.environ.get("MEMGPT_DEBUG"):
            raise
        kind = type(exc).__name__
        fail(
            f"internal error ({kind}: {exc}); a bug: please report it (MEMGPT_DEBUG=1 shows where)",
            EXIT_INTERNAL,
            kind,
            json_errors,
        )


def fail(message: str, code: int, kind: str, as_json: bool) -> NoReturn:
    """Print one error line (or an error event) and exit with ``code``."""
    if as_json:
        from memgpt.agent.events import AgentEvent

        print_json(AgentEvent("error", message, {"error": kind, "exit_code": code}).to_dict())
    else:
        click.echo(f"error: {message}", err=True)
    sys.exit(code)


def read_text_option(value: str | None) -> str | None:
    """``@FILE`` reads the file; anything else is the text itself."""
    if value is None or not value.startswith("@"):
        return value
    path = Path(value[1:]).expanduser()
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise click.BadParameter(f"cannot read {path}: {exc.strerror}") from None


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, default=str))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--database-url",
    envvar="MEMGPT_DATABASE_URL",
    default=None,
    help="Database URL (default: SQLite in $MEMGPT_HOME).",
)
@click.version_option(package_name="memgpt", prog_name="memgpt")
@click.pass_context
def cli(ctx: click.Context, database_url: str | None) -> None:
    """memgpt: an LLM agent with OS-style memory (core memory, recall store, archival store)."""
    from memgpt.logs import configure_logging

    configure_logging()  # MEMGPT_LOG_LEVEL; never a secret or a memory's text
    ctx.obj = {"database_url": database_url}


# --------------------------------------------------------------------------- agents
@cli.group()
def agents() -> None:
    """Create, list, show, delete, import and export agents."""


@agents.command("create")
@click.argument("name")
@click.option("--persona", help="Persona text, or @FILE.")
@click.option("--human", help="What the agent knows about the user, or @FILE.")
@click.option("--model", envvar="MEMGPT_MODEL", help="e.g. openai/gpt-4o-mini (default: $MEMGPT_MODEL).")
@click.option("--context-window", type=click.IntRange(min=1000), help="Override the model's context window (tokens).")
@click.option("--json", "as_json", is_flag=True, help="Print the agent as JSON.")
@click.pass_context
def agents_create(
    ctx: click.Context,
    name: str,
    persona: str | None,
    human: str | None,
    model: str | None,
    context_window: int | None,
    as_json: bool,
) -> None:
    """Create an agent named NAME."""
    persona, human = read_text_option(persona), read_text_option(human)

    async def work(client: Client) -> dict[str, Any]:
        await client.create_agent(name, model=model, persona=persona, human=human, context_window=context_window)
        return await client.agent_info(name)

    info = run_with_client(ctx, work, embedder=None)
    if as_json:
        print_json(info)
    else:
        click.echo(f"Created agent {info['name']} ({info['model']}, {info['context_window']:,} tokens).")


@agents.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def agents_list(ctx: click.Context, as_json: bool) -> None:
    """List your agents."""

    async def work(client: Client) -> list[dict[str, Any]]:
        return [await client.agent_info(a.id) for a in await client.list_agents()]

    infos = run_with_client(ctx, work, embedder=None)
    if as_json:
        print_json(infos)
        return
    from memgpt.cli.output import agents_table

    agents_table(infos)


@agents.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def agents_show(ctx: click.Context, name: str, as_json: bool) -> None:
    """Show an agent: model, memory blocks and store sizes."""
    info = run_with_client(ctx, lambda client: client.agent_info(name), embedder=None)
    if as_json:
        print_json(info)
        return
    from memgpt.cli.output import agent_details

    agent_details(info)


@agents.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def agents_delete(ctx: click.Context, name: str, yes: bool) -> None:
    """Delete an agent with all its messages and passages, and its own blocks (blocks other agents show stay)."""
    if not yes and not click.confirm(f"Delete agent {name} and all its memory?", default=False):
        click.echo("Nothing deleted.")
        return
    run_with_client(ctx, lambda client: client.delete_agent(name), embedder=None)
    click.echo(f"Deleted agent {name}.")


@agents.command("check")
@click.argument("name")
@click.option("--repair", is_flag=True, help="Fix what cannot be sent as stored (messages leave the context window).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def agents_check(ctx: click.Context, name: str, repair: bool, as_json: bool) -> None:
    """Replay agent NAME's stored context through the request builder; exit 1 if it needs a repair.

    Stores written by older versions can hold text or calls an LLM refuses. The agent still answers (it
    cleans them on every request); --repair rewrites blocks and the summary with clean text and takes
    such messages out of the context window. They stay in recall memory and remain searchable.
    """

    async def work(client: Client) -> Any:
        return await client.check_agent(name, repair=repair)

    check = run_with_client(ctx, work, embedder=None, json_errors=as_json)
    if as_json:
        print_json({"agent": name, **check.to_dict()})
    else:
        from memgpt.cli.output import check_report

        check_report(name, check)
    if not check.ok and not check.repaired:
        sys.exit(EXIT_ERROR)


# --------------------------------------------------------------------------- chat
@cli.command()
@click.option("--agent", "agent_name", default=None, help="Agent to talk to (default: 'default', made on first use).")
@click.option("--create", is_flag=True, help="Create the agent with $MEMGPT_MODEL if it does not exist.")
@click.option("--message", "-m", "messages", multiple=True, help="Send this message and exit (repeatable).")
@click.option("--as", "sender", metavar="NAME", help="Your name, as the sender of your messages (several people).")
@click.option("--json", "as_json", is_flag=True, help="Print every event (errors too) as a JSON line.")
@click.pass_context
def chat(
    ctx: click.Context,
    agent_name: str | None,
    create: bool,
    messages: tuple[str, ...],
    sender: str | None,
    as_json: bool,
) -> None:
    """Talk to an agent: an interactive session, or one-shot with --message.

    Interactive: line editing and history (kept in $MEMGPT_HOME), a pasted block of lines is one
    message, Esc then Enter starts a new line, Ctrl-C cancels the reply in progress, Ctrl-D leaves.
    """
    from memgpt.cli.chat import chat_session

    if sender is not None:
        from memgpt.errors import ValidationError
        from memgpt.memory.types import check_sender_name

        try:
            check_sender_name(sender)
        except ValidationError as exc:
            raise click.BadParameter(str(exc), param_hint="--as") from None

    def work(client: Client) -> Awaitable[None]:
        return chat_session(client, agent_name, list(messages), as_json, sender, create=create)

    run_with_client(ctx, work, json_errors=as_json)


# --------------------------------------------------------------------------- search
@cli.command()
@click.option("--agent", "agent_name", required=True, help="Agent whose memory to search.")
@click.option("--recall", is_flag=True, help="Search the recall store (messages; the default).")
@click.option("--archival", is_flag=True, help="Search the archival store (passages).")
@click.option("--mode", type=click.Choice(["hybrid", "text", "semantic"]), default="hybrid", show_default=True)
@click.option("--page", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--page-size", type=click.IntRange(1, 1000), default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.argument("query")
@click.pass_context
def search(
    ctx: click.Context,
    agent_name: str,
    recall: bool,
    archival: bool,
    mode: str,
    page: int,
    page_size: int,
    as_json: bool,
    query: str,
) -> None:
    """Search an agent's recall or archival memory for QUERY."""
    if recall and archival:
        raise click.UsageError("Give --recall or --archival, not both (search one store at a time).")

    async def work(client: Client) -> Any:
        return await client.search(
            agent_name,
            query,
            archival=archival,
            page=page,
            page_size=page_size,
            mode=mode,  # type: ignore[arg-type]
        )

    results = run_with_client(ctx, work, json_errors=as_json)
    from memgpt.cli.output import search_results

    search_results(results, as_json=as_json)


# --------------------------------------------------------------------------- db
def _register_db() -> None:
    from memgpt.cli.db import db

    cli.add_command(db)


_register_db()


# --------------------------------------------------------------------------- load / sources
def _register_sources() -> None:
    from memgpt.cli.sources import load, sources

    cli.add_command(load)
    cli.add_command(sources)


_register_sources()


# --------------------------------------------------------------------------- shared blocks, agent files
def _register_blocks() -> None:
    from memgpt.cli.agentfile import agents_export, agents_import
    from memgpt.cli.blocks import blocks

    cli.add_command(blocks)
    agents.add_command(agents_import)
    agents.add_command(agents_export)


_register_blocks()


# --------------------------------------------------------------------------- server, users, keys
def _register_server() -> None:
    from memgpt.cli.server import keys, server, users

    cli.add_command(server)
    cli.add_command(users)
    cli.add_command(keys)


_register_server()


# --------------------------------------------------------------------------- the web UI
def _register_ui() -> None:
    from memgpt.cli.ui import ui

    cli.add_command(ui)


_register_ui()


# --------------------------------------------------------------------------- tools, mcp; agents tools|secrets|rules
def _register_tools() -> None:
    from memgpt.cli.tools import register

    register(cli, agents)


_register_tools()


# --------------------------------------------------------------------------- memory lifecycle
def _register_lifecycle() -> None:
    from memgpt.cli.lifecycle import agents_policy, forget, maintenance, memory, users_export
    from memgpt.cli.server import users

    cli.add_command(forget)
    cli.add_command(memory)
    cli.add_command(maintenance)
    agents.add_command(agents_policy)
    users.add_command(users_export)


_register_lifecycle()


# --------------------------------------------------------------------------- eval / bench
def _register_evals() -> None:
    from memgpt.cli.evals import bench, eval_group

    cli.add_command(eval_group)
    cli.add_command(bench)


_register_evals()


def main() -> None:
    """Entry point of the ``memgpt`` command."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    cli(prog_name="memgpt")


if __name__ == "__main__":
    main()
