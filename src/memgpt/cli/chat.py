"""The chat session: one-shot with ``--message``, or an interactive REPL.

The REPL reads lines with prompt_toolkit when it runs in a terminal (line editing, history in
``$MEMGPT_HOME/chat_history``, a pasted block of lines is one message), and plain lines from a pipe.
Ctrl-C during a reply cancels that reply only: the agent's step is committed whole or not at all
(the user's message is always kept), and the prompt comes back.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

import click

from memgpt.agent.events import AgentEvent
from memgpt.errors import ConfigError, MemgptError, NotFoundError

if TYPE_CHECKING:
    from memgpt.client import Client

DEFAULT_AGENT = "default"
HELP = (
    "Commands: /memory (core memory), /context (token breakdown), /help, /exit. Anything else is sent to the agent. "
    "Ctrl-C cancels a reply, Ctrl-D leaves, Esc then Enter starts a new line."
)
Show = Callable[[AgentEvent], None]


async def ensure_agent(client: Client, name: str | None, *, create: bool, interactive: bool) -> str:
    """The agent to talk to, created only when the user asked for it (or for the unnamed default agent).

    A missing named agent is an error naming ``memgpt agents create`` (interactive: the user is asked),
    so a typo never starts a conversation with a new, empty agent.
    """
    target = name or DEFAULT_AGENT
    try:
        return (await client.get_agent(target)).name
    except NotFoundError:
        pass
    from memgpt.llm.models import NO_LLM_MESSAGE

    model = os.environ.get("MEMGPT_MODEL")
    asked = interactive and not create and name is not None
    if not (create or name is None or asked):
        raise NotFoundError(
            f"No agent named {target!r}. Create it with `memgpt agents create {target}`, or add --create."
        )
    if not model:
        raise ConfigError(NO_LLM_MESSAGE)
    if asked and not click.confirm(f"No agent named {target!r}. Create it with {model}?", default=False):
        raise NotFoundError(f"No agent named {target!r}; nothing was created.")
    state = await client.create_agent(target)
    click.echo(f"Created agent {state.name} ({state.model}).", err=True)
    return state.name


async def chat_session(
    client: Client,
    agent: str | None,
    messages: list[str],
    as_json: bool,
    sender: str | None = None,
    *,
    create: bool = False,
) -> None:
    interactive = not messages and sys.stdin.isatty()
    name = await ensure_agent(client, agent, create=create, interactive=interactive)
    show: Show = print_event_json if as_json else EventPrinter()
    if messages:
        for text in messages:
            await client.send_message(name, text, name=sender, on_event=show, stream=not as_json)
        return
    await repl(client, name, show, sender, as_json=as_json)


async def repl(client: Client, agent: str, show: Show, sender: str | None = None, *, as_json: bool = False) -> None:
    from memgpt.cli.output import console, context_table, memory_panel

    console().print(f"[bold]memgpt[/bold] chatting with [cyan]{agent}[/cyan]. {HELP}")
    lines = terminal_reader() if sys.stdin.isatty() and sys.stdout.isatty() else PipeReader()
    while True:
        try:
            text = (await lines.read("> ")).strip()
        except KeyboardInterrupt:  # Ctrl-C at the prompt clears the line
            continue
        except EOFError:
            click.echo()
            return
        if not text:
            continue
        if text in ("/exit", "/quit"):
            return
        try:
            if text == "/help":
                click.echo(HELP)
            elif text == "/memory":
                memory_panel(await client.get_memory(agent))
            elif text == "/context":
                context_table(await client.context(agent))
            elif text.startswith("/") and "\n" not in text:
                click.echo(f"Unknown command {text.split()[0]}. {HELP}")
            else:
                await reply(client, agent, text, show, sender, as_json=as_json)
        except MemgptError as exc:  # the session goes on
            _error(str(exc), type(exc).__name__, as_json)


async def reply(
    client: Client, agent: str, text: str, show: Show, sender: str | None, *, as_json: bool = False
) -> None:
    """Send one message; Ctrl-C cancels this reply only (MemgptError propagates)."""
    task = asyncio.ensure_future(client.send_message(agent, text, name=sender, on_event=show, stream=not as_json))
    with cancel_on_interrupt(task):
        try:
            await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # the session itself is being stopped
            _error("reply cancelled; your message is kept", "Cancelled", as_json)


def _error(message: str, kind: str, as_json: bool) -> None:
    if as_json:
        print_event_json(AgentEvent("error", message, {"error": kind}))
    else:
        click.echo(f"error: {message}", err=True)


@contextmanager
def cancel_on_interrupt(task: asyncio.Future[Any]) -> Iterator[None]:
    """While the block runs, SIGINT (Ctrl-C) cancels ``task`` instead of stopping the program."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    loop = asyncio.get_running_loop()
    previous = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, lambda *_: loop.call_soon_threadsafe(task.cancel))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class LineReader(Protocol):
    async def read(self, prompt: str) -> str:
        """The next input; EOFError at the end, KeyboardInterrupt when the user pressed Ctrl-C."""
        ...


class PromptReader:
    """prompt_toolkit in a terminal: line editing, history in $MEMGPT_HOME, bracketed paste as one message."""

    def __init__(self) -> None:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.history import FileHistory, InMemoryHistory
        from prompt_toolkit.key_binding import KeyBindings

        from memgpt.config import memgpt_home

        bindings = KeyBindings()

        @bindings.add("escape", "enter")
        def _newline(event: object) -> None:
            event.current_buffer.insert_text("\n")  # type: ignore[attr-defined]

        try:
            history: FileHistory | InMemoryHistory = FileHistory(str(memgpt_home(create=True) / "chat_history"))
        except ConfigError:
            history = InMemoryHistory()
        self._session: PromptSession[str] = PromptSession(history=history, key_bindings=bindings)

    async def read(self, prompt: str) -> str:
        return await self._session.prompt_async(prompt)


def terminal_reader() -> LineReader:
    return PromptReader()


class PipeReader:
    """Lines from a pipe, read by a daemon thread so that waiting for input never holds up the program's exit."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        threading.Thread(target=self._pump, name="stdin-lines", daemon=True).start()

    def _pump(self) -> None:
        for line in sys.stdin:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, line)
        self._loop.call_soon_threadsafe(self._queue.put_nowait, None)

    async def read(self, prompt: str) -> str:
        click.echo(prompt, nl=False)
        line = await self._queue.get()
        if line is None:
            raise EOFError
        return line


def print_event_json(event: AgentEvent) -> None:
    click.echo(json.dumps(event.to_dict(), ensure_ascii=False, default=str))


class EventPrinter:
    """Events for a person: the reply as it is generated, then inner monologue, calls, failures, memory notes.

    A ``send_message`` call is not shown as a call: its text is the reply, printed once (piece by piece
    when the model streams it, whole otherwise).
    """

    def __init__(self) -> None:
        self._streamed: set[str] = set()

    def __call__(self, event: AgentEvent) -> None:
        message_id = str(event.data.get("message_id", ""))
        if event.type == "assistant_message_delta":
            if message_id not in self._streamed:
                self._streamed.add(message_id)
                click.echo(click.style("agent> ", fg="green", bold=True), nl=False)
            click.echo(event.content or "", nl=False)
        elif event.type == "assistant_message" and message_id in self._streamed:
            click.echo()  # the reply was printed as it came
        else:
            print_event(event)


def print_event(event: AgentEvent) -> None:
    """One event for a person, printed whole (see :class:`EventPrinter`)."""
    from memgpt.cli.output import console

    out = console()
    if event.type == "assistant_message":
        out.print(f"[bold green]{event.data.get('agent', 'agent')}>[/bold green] {_escape(event.content)}")
    elif event.type == "inner_monologue":
        out.print(f"[dim italic]  (thinking) {_escape(event.content)}[/dim italic]")
    elif event.type == "function_call" and event.content != "send_message":
        out.print(f"[cyan]  ⚙ {_escape(event.content)}({_escape(event.data.get('arguments', ''))})[/cyan]")
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
