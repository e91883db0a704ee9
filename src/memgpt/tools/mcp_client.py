"""The MCP client: tools of MCP servers (stdio commands or streamable HTTP URLs) as agent functions.

One connection per server and process, opened at the first call and shared by every agent of the user
that has the server's tools. A connection lives in a task of its own (the official ``mcp`` SDK's client is
an async context manager that must be left in the task that entered it). Every call is bounded by the
server's timeout; a server that dies mid-call fails that call at once (the SDK reports "Connection
closed") with what it last wrote to stderr, and the next call starts it again. A step never waits on a
dead or hung server longer than its timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import tempfile
from dataclasses import dataclass
from typing import IO, Any

from memgpt.errors import MemgptError, ValidationError
from memgpt.memory.tools import McpServer

log = logging.getLogger(__name__)

FUNCTION_NAME = re.compile(r"[^A-Za-z0-9_-]")
STDERR_TAIL = 600  # characters of a dead server's stderr shown in its error
LIST_PAGES = 100
START_S = 30.0  # starting a server (npx, uvx...) may take longer than a call may


class McpServerError(MemgptError):
    """An MCP server could not be started or reached, failed, or did not answer in time (a tool call
    with this error is a ``Failed`` result; a command that registers a server reports it)."""


@dataclass(frozen=True, slots=True)
class RemoteTool:
    """A tool as an MCP server lists it."""

    name: str
    description: str
    input_schema: dict[str, Any]


def function_name(tool_name: str) -> str:
    """An MCP tool's name as a function name every provider accepts ([A-Za-z0-9_-], 1 to 64 characters)."""
    cleaned = FUNCTION_NAME.sub("_", tool_name)[:64]
    return cleaned or "mcp_tool"


def function_schema(tool: RemoteTool) -> dict[str, Any]:
    """The function schema the model sees for an MCP tool (its input schema without titles)."""
    parameters = _without_titles(tool.input_schema or {})
    parameters.pop("$schema", None)
    if parameters.get("type") != "object":
        raise ValidationError(
            f"The MCP tool {tool.name!r} takes {parameters.get('type')!r}, not an object of arguments."
        )
    if "request_heartbeat" in (parameters.get("properties") or {}):
        raise ValidationError(f"The MCP tool {tool.name!r} has a parameter request_heartbeat, which memgpt reserves.")
    parameters.setdefault("properties", {})
    return {"name": function_name(tool.name), "description": tool.description.strip(), "parameters": parameters}


def _without_titles(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_without_titles(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key == "title":
            continue
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: _without_titles(v) for name, v in value.items()}
        else:
            out[key] = _without_titles(value)
    return out


class _Connection:
    """One running session with one MCP server, owned by its own task."""

    def __init__(self, server: McpServer) -> None:
        self.server = server
        self.session: Any = None  # mcp.Client once connected
        self.ready = asyncio.Event()
        self.closing = asyncio.Event()
        self.failure: BaseException | None = None
        self.stderr: IO[str] | None = None
        self.http_refusal = ""  # the last error status of an HTTP server (the SDK reports none)
        self.task = asyncio.get_running_loop().create_task(self._hold())

    @property
    def alive(self) -> bool:
        return not self.task.done() and self.failure is None

    async def _hold(self) -> None:
        import mcp

        try:
            async with contextlib.AsyncExitStack() as stack:
                session = mcp.Client(self._transport(stack), read_timeout_seconds=self.server.timeout_s)
                self.session = await stack.enter_async_context(session)
                self.ready.set()
                await self.closing.wait()
        except BaseException as exc:
            self.failure = exc
            if not isinstance(exc, Exception):
                raise
        finally:
            self.ready.set()

    def _transport(self, stack: contextlib.AsyncExitStack) -> Any:
        import mcp

        if self.server.transport == "stdio":
            # kept open while the server runs (its stderr), read for the last words of a server that died
            self.stderr = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")  # noqa: SIM115
            command, *args = self.server.command
            params = mcp.StdioServerParameters(command=command, args=args, env=dict(self.server.env) or None)
            return mcp.stdio_client(params, errlog=self.stderr)
        import httpx2
        from mcp.client.streamable_http import streamable_http_client

        async def note_refusal(response: Any) -> None:
            if response.status_code >= 400:
                self.http_refusal = f"HTTP {response.status_code} {response.reason_phrase}".strip()

        http = httpx2.AsyncClient(
            headers=dict(self.server.headers),
            timeout=httpx2.Timeout(30, read=300),
            event_hooks={"response": [note_refusal]},
        )
        stack.push_async_callback(http.aclose)
        assert self.server.url is not None
        return streamable_http_client(self.server.url, http_client=http)

    def stderr_tail(self) -> str:
        """What a stdio server last wrote to stderr, or an HTTP server's last error status."""
        if self.http_refusal:
            return f"{self.http_refusal} (check the URL and the --header values)"
        if self.stderr is None or self.stderr.closed:
            return ""
        with contextlib.suppress(OSError, ValueError):
            self.stderr.flush()
            size = self.stderr.seek(0, 2)
            self.stderr.seek(max(0, size - STDERR_TAIL * 4))
            lines = [line.strip() for line in self.stderr.read().splitlines() if line.strip()]
            return " / ".join(lines[-3:])[-STDERR_TAIL:]
        return ""

    async def close(self) -> None:
        self.closing.set()
        try:
            await asyncio.wait_for(asyncio.shield(self.task), 5)
        except (TimeoutError, Exception):
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        if self.stderr is not None:
            self.stderr.close()


class McpConnections:
    """The open MCP sessions of one process, by server id (a server edited since is reconnected)."""

    def __init__(self) -> None:
        self._open: dict[str, _Connection] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def list_tools(self, server: McpServer) -> list[RemoteTool]:
        """The tools the server offers now (every page of its listing)."""
        connection = await self._connected(server)
        found: list[RemoteTool] = []
        cursor: str | None = None
        try:
            for _ in range(LIST_PAGES):
                page = await asyncio.wait_for(connection.session.list_tools(cursor=cursor), server.timeout_s)
                found += [
                    RemoteTool(t.name, t.description or t.title or "", dict(t.input_schema or {})) for t in page.tools
                ]
                cursor = page.next_cursor
                if cursor is None:
                    break
        except TimeoutError:
            raise McpServerError(
                f"The MCP server {server.name!r} did not list its tools within {server.timeout_s:g} s."
            ) from None
        except Exception as exc:
            raise McpServerError(self._failed(server, connection, exc, "listing its tools")) from None
        return found

    async def call(self, server: McpServer, tool: str, arguments: dict[str, Any]) -> str:
        """Call ``tool``; its text content, or McpServerError with what went wrong (is_error results included)."""
        connection = await self._connected(server)
        try:
            result = await asyncio.wait_for(
                connection.session.call_tool(tool, arguments, read_timeout_seconds=server.timeout_s),
                server.timeout_s + 1,
            )
        except TimeoutError:
            raise McpServerError(_late(server, tool)) from None
        except Exception as exc:
            if _timed_out(exc):
                raise McpServerError(_late(server, tool)) from None
            raise McpServerError(self._failed(server, connection, exc, f"running {tool}")) from None
        text = result_text(result)
        if result.is_error:
            raise McpServerError(f"{tool} (MCP server {server.name}) failed: {text or 'no reason given'}")
        return text

    def _failed(self, server: McpServer, connection: _Connection, exc: BaseException, doing: str) -> str:
        """The message of a failed request; a connection that broke is dropped (the next call starts it anew)."""
        from mcp import MCPError
        from mcp_types import CONNECTION_CLOSED

        closed = not connection.alive or (isinstance(exc, MCPError) and exc.code == CONNECTION_CLOSED)
        if closed:
            self._open.pop(server.id, None)
            asyncio.get_running_loop().create_task(connection.close())
            tail = connection.stderr_tail()
            verb = "last answered" if connection.http_refusal else "last wrote"
            said = f"; it {verb}: {tail}" if tail else ""
            again = "It will be started again at the next call."
            return f"The MCP server {server.name!r} stopped while {doing}{said}. {again}"
        message = exc.message if isinstance(exc, MCPError) else str(exc)
        return f"The MCP server {server.name!r} failed while {doing}: {message or type(exc).__name__}"

    async def _connected(self, server: McpServer) -> _Connection:
        lock = self._locks.setdefault(server.id, asyncio.Lock())
        async with lock:
            current = self._open.get(server.id)
            if current is not None and current.alive and current.server.updated_at == server.updated_at:
                return current
            if current is not None:
                self._open.pop(server.id, None)
                await current.close()
            connection = _Connection(server)
            starting = max(server.timeout_s, START_S)
            try:
                await asyncio.wait_for(connection.ready.wait(), starting)
            except TimeoutError:
                await connection.close()
                raise McpServerError(f"The MCP server {server.name!r} did not start within {starting:g} s.") from None
            if connection.failure is not None or connection.session is None:
                tail = connection.stderr_tail()
                await connection.close()
                reason = _reason(connection.failure)
                verb = "answered" if connection.http_refusal else "wrote"
                said = f"; it {verb}: {tail}" if tail else ""
                raise McpServerError(f"The MCP server {server.name!r} could not be started: {reason}{said}")
            self._open[server.id] = connection
            return connection

    async def close(self) -> None:
        for connection in list(self._open.values()):
            await connection.close()
        self._open.clear()


def _late(server: McpServer, tool: str) -> str:
    return f"The MCP server {server.name!r} did not answer {tool} within {server.timeout_s:g} s."


def _timed_out(exc: BaseException) -> bool:
    """The SDK's own request timeout (its ``read_timeout_seconds``), which it raises as an MCPError."""
    from mcp import MCPError
    from mcp_types import REQUEST_TIMEOUT

    return isinstance(exc, MCPError) and exc.code == REQUEST_TIMEOUT


def _reason(exc: BaseException | None) -> str:
    if exc is None:
        return "it closed the connection"
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_reason(e) for e in exc.exceptions[:3])
    if isinstance(exc, FileNotFoundError):
        return f"command not found ({exc.filename or exc})"
    return str(exc) or type(exc).__name__


def result_text(result: Any) -> str:
    """An MCP tool result as text: its text parts, a note for each image or binary part, or its structured content."""
    parts: list[str] = []
    for block in result.content or []:
        kind = getattr(block, "type", "")
        if kind == "text":
            parts.append(block.text)
        elif kind in ("image", "audio"):
            size = len(getattr(block, "data", "") or "")
            parts.append(f"[{kind}: {getattr(block, 'mime_type', '')}, {size} base64 characters]")
        elif kind == "resource":
            resource = block.resource
            text = getattr(resource, "text", None)
            parts.append(text if isinstance(text, str) else f"[resource {resource.uri}]")
        elif kind == "resource_link":
            parts.append(f"[resource {getattr(block, 'uri', '')}]")
    if not parts and result.structured_content is not None:
        parts.append(json.dumps(result.structured_content, ensure_ascii=False))
    return "\n".join(parts)
