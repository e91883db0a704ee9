"""``memgpt ui``: open the web UI in the browser, starting ``memgpt server`` first if none is running."""

from __future__ import annotations

import threading
import time

import click

from memgpt.cli.server import server

START_WAIT_S = 60.0  # how long the browser waits for a server this command started


@click.command()
@click.option(
    "--host", envvar="MEMGPT_SERVER_HOST", default="127.0.0.1", show_default=True, help="The server's address."
)
@click.option("--port", envvar="MEMGPT_SERVER_PORT", type=click.IntRange(1, 65535), default=8283, show_default=True)
@click.option("--no-browser", is_flag=True, help="Only print the URL.")
@click.pass_context
def ui(ctx: click.Context, host: str, port: int, no_browser: bool) -> None:
    """Open the web UI (chat, memory inspector, uploads) of the memgpt server at --host/--port.

    If no memgpt server answers there, one is started here (as `memgpt server --host H --port P` would be)
    and the browser opens once it listens; Ctrl-C stops it. Without a browser, the URL is printed.
    """
    url = page_url(host, port)
    found = server_at(url)
    if found == "other":
        click.echo(f"error: something that is not memgpt server answers at {url}; choose another --port.", err=True)
        raise SystemExit(1)
    if found == "memgpt":
        show(url, no_browser)
        return
    threading.Thread(target=_show_when_up, args=(url, no_browser), name="memgpt-ui-browser", daemon=True).start()
    ctx.invoke(server, host=host, port=port, workers=1)


def page_url(host: str, port: int) -> str:
    """The URL a browser on this machine opens for a server listening on ``host`` (any address: loopback)."""
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def server_at(url: str) -> str:
    """``memgpt`` if a memgpt server answers at ``url``, ``other`` if something else does, else ``none``."""
    import httpx

    try:
        answer = httpx.get(f"{url}v1/health", timeout=2)
    except httpx.HTTPError:
        return "none"
    try:
        body = answer.json()
    except ValueError:
        return "other"
    return "memgpt" if isinstance(body, dict) and body.get("status") == "ok" and "version" in body else "other"


def show(url: str, no_browser: bool) -> None:
    """Open ``url`` in the user's browser (Python's webbrowser: $BROWSER, else the system's); print it either way."""
    import webbrowser

    click.echo(f"memgpt UI: {url}", err=True)
    if no_browser:
        return
    try:
        opened = webbrowser.open(url)
    except webbrowser.Error:
        opened = False
    if not opened:
        click.echo(f"No browser could be opened here: open {url} in yours.", err=True)


def _show_when_up(url: str, no_browser: bool) -> None:
    deadline = time.monotonic() + START_WAIT_S
    while time.monotonic() < deadline:
        if server_at(url) == "memgpt":
            show(url, no_browser)
            return
        time.sleep(0.2)
