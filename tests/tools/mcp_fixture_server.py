"""A real MCP server for the tests, written with the official ``mcp`` SDK: two tools, over stdio, or over
streamable HTTP on ``$MCP_HTTP_PORT`` (answering only requests whose Authorization header is
``Bearer $MCP_HTTP_TOKEN``).

It writes its process id to ``$MCP_STATE/pid`` when it starts and ``$MCP_STATE/waiting`` when ``wait``
begins, so a test can kill it in the middle of a call; with ``$MCP_DIE_LOUDLY`` set, ``wait`` dies at once
after writing ``$MCP_TOKEN`` to stderr.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from mcp.server.mcpserver import MCPServer

STATE = Path(os.environ["MCP_STATE"])
server = MCPServer("weather-station")


@server.tool()
def forecast(city: str, days: int = 1) -> str:
    """The weather forecast for a city.

    Args:
        city: The city.
        days: How many days ahead.
    """
    return f"{city}: sunny for {days} day(s)"


@server.tool()
async def wait(seconds: float) -> str:
    """Wait, then say so."""
    if os.environ.get("MCP_DIE_LOUDLY"):  # a careless server: its last words quote its credentials
        sys.stderr.write(f"fatal: token {os.environ['MCP_TOKEN']} rejected\n")
        sys.stderr.flush()
        os._exit(1)
    (STATE / "waiting").write_text("yes")
    await asyncio.sleep(seconds)
    return f"waited {seconds} s"


def serve_http(port: int, token: str) -> None:
    import uvicorn
    from starlette.types import Receive, Scope, Send

    inner = server.streamable_http_app()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers") or [])
        if scope["type"] == "http" and headers.get(b"authorization") != f"Bearer {token}".encode():
            await send({"type": "http.response.start", "status": 401, "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"unauthorized"})
            return
        await inner(scope, receive, send)

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    STATE.mkdir(parents=True, exist_ok=True)
    (STATE / "pid").write_text(str(os.getpid()))
    if os.environ.get("MCP_HTTP_PORT"):
        serve_http(int(os.environ["MCP_HTTP_PORT"]), os.environ["MCP_HTTP_TOKEN"])
    else:
        server.run()
