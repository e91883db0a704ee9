"""The chat session: one-shot with ``--message``, or an interactive REPL."""

from __future__ import annotations

import asyncio
import json
import os
from typing import TYPE_CHECKING

import click

from memgpt.agent.events import AgentEvent
from memgpt.errors import MemgptError, NotFoundError

if TYPE_CHECKING:
    from memgpt.client import Client

HELP = "Commands: /memory (core memory), /context (token breakdown), /help, /exit. Anything else is sent to the agent."


async def ensure_agent(client: Client, name: str) -> None:
    """Create agent ``name`` with the configured model if it does not exist yet."""
    try:
        await client.get_agent(name)
    except NotFoundError:
        from memgpt.errors import ConfigError
        from memgpt.llm.models import NO_LLM_MESSAGE

        if not os.environ.get("MEMGPT_MODEL"):
            raise ConfigError(NO_LLM_MESSAGE) from None
        await client.create_agent(name)


async def chat_session(
    client: Client, agent: str, messages: list[str], as_json: bool, sender: str | None = None
) -> None:
    await ensure_agent(client, agent)
    show = print_event_json if as_json else print_event
    if messages:
        for text in messages:
            await client.send_message(agent, text, name=sender, on_event=show)
        return
    await repl(client, agent, show, sender)


async def repl(client: Client, agent: str, show: object, sender: str | None = None) -> None:
    from memgpt.cli.output import console, context_table, memory_panel

    assert callable(show)
    console().print(f"[bold]memgpt[/bold] chatting with [cyan]{agent}[/cyan]. {HELP}")
    while True:
        try:
            text = (await asyncio.to_thread(input, "> ")).strip()
        except (EOFError, KeyboardInterrupt):
            click.echo()
            return
        if not text:
            continue
        if text in ("/exit", "/quit"):
            return
        if text == "/help":
            click.echo(HELP)
        elif text == "/memory":
            memory_panel(await client.get_memory(agent))
        elif text == "/context":
            context_table(await client.context(agent))
        elif text.startswith("/"):
            click.echo(f"Unknown command {text.split()[0]}. {HELP}")
        else:
            try:
                await client.send_message(agent, text, name=sender, on_event=show)
            except MemgptError as exc:
                click.echo(f"error: {exc}", err=True)


def print_event_json(event: AgentEvent) -> None:
    click.echo(json.dumps(event.to_dict(), ensure_ascii=False, default=str))


def print_event(event: AgentEvent) -> None:
    from memgpt.cli.output import console

    out = console()
    if event.type == "assistant_message":
        out.print(f"[bold green]{event.data.get('agent', 'agent')}>[/bold green] {_escape(event.content)}")
    elif event.type == "inner_monologue":
        out.print(f"[dim italic]  (thinking) {_escape(event.content)}[/dim italic]")
    elif event.type == "function_call":
        out.print(f"[cyan]  ⚙ {event.content}({_escape(event.data.get('arguments', ''))})[/cyan]")
    elif event.type == "function_result" and event.data.get("status") == "Failed":
        out.print(f"[yellow]  ✗ {_escape(event.content)}[/yellow]")
    elif event.type in ("system_alert", "step_limit"):
        out.print(f"[magenta]  [system] {_escape(event.content)}[/magenta]")
    elif event.type == "summary":
        out.print(
            f"[magenta]  [memory] {event.data.get('evicted')} messages moved to recall memory and summarised[/magenta]"
        )


def _escape(text: str | None) -> str:
    from rich.markup import escape

    return escape(text or "")
