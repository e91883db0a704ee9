"""The ``memgpt`` command. Imports stay lazy so ``memgpt --help`` starts fast."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from memgpt.client import Client

T = TypeVar("T")

EXIT_ERROR = 1
EXIT_CONFIG = 2


def run_with_client(ctx: click.Context, work: Callable[[Client], Awaitable[T]], *, embedder: Any = "default") -> T:
    """Open a Client on the configured store, run ``work`` and close it; errors become one clear line."""

    async def main() -> T:
        from memgpt.client import Client

        client = await Client.open(ctx.obj["database_url"], embedder=embedder)
        try:
            return await work(client)
        finally:
            await client.close()

    return run(main())


def run(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` with memgpt's errors turned into a message and an exit code, never a traceback."""
    from memgpt.errors import ConfigError, MemgptError

    try:
        return asyncio.run(coro)
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    except MemgptError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)


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
    ctx.obj = {"database_url": database_url}


# --------------------------------------------------------------------------- agents
@cli.group()
def agents() -> None:
    """Create, list, show and delete agents."""


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
    """Delete an agent with all its messages and passages."""
    if not yes and not click.confirm(f"Delete agent {name} and all its memory?", default=False):
        click.echo("Nothing deleted.")
        return
    run_with_client(ctx, lambda client: client.delete_agent(name), embedder=None)
    click.echo(f"Deleted agent {name}.")


# --------------------------------------------------------------------------- chat
@cli.command()
@click.option(
    "--agent", "agent_name", default="default", show_default=True, help="Agent to talk to (created if missing)."
)
@click.option("--message", "-m", "messages", multiple=True, help="Send this message and exit (repeatable).")
@click.option("--as", "sender", metavar="NAME", help="Your name, as the sender of your messages (several people).")
@click.option("--json", "as_json", is_flag=True, help="Print every event as a JSON line.")
@click.pass_context
def chat(ctx: click.Context, agent_name: str, messages: tuple[str, ...], sender: str | None, as_json: bool) -> None:
    """Talk to an agent: an interactive session, or one-shot with --message."""
    from memgpt.cli.chat import chat_session

    if sender is not None:
        from memgpt.errors import ValidationError
        from memgpt.memory.types import check_sender_name

        try:
            check_sender_name(sender)
        except ValidationError as exc:
            raise click.BadParameter(str(exc), param_hint="--as") from None

    run_with_client(ctx, lambda client: chat_session(client, agent_name, list(messages), as_json, sender))


# --------------------------------------------------------------------------- search
@cli.command()
@click.option("--agent", "agent_name", required=True, help="Agent whose memory to search.")
@click.option("--recall", "store", flag_value="recall", default=True, help="Search the recall store (messages).")
@click.option("--archival", "store", flag_value="archival", help="Search the archival store (passages).")
@click.option("--mode", type=click.Choice(["hybrid", "text", "semantic"]), default="hybrid", show_default=True)
@click.option("--page", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--page-size", type=click.IntRange(1, 1000), default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.argument("query")
@click.pass_context
def search(
    ctx: click.Context, agent_name: str, store: str, mode: str, page: int, page_size: int, as_json: bool, query: str
) -> None:
    """Search an agent's recall or archival memory for QUERY."""

    async def work(client: Client) -> Any:
        return await client.search(
            agent_name,
            query,
            archival=store == "archival",
            page=page,
            page_size=page_size,
            mode=mode,  # type: ignore[arg-type]
        )

    results = run_with_client(ctx, work)
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
