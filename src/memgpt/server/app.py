"""The FastAPI application: one :class:`memgpt.Client` for the process, one per-user view of it per request.

The server keeps nothing between requests that another worker would need: agents, messages and keys live
in the store, so several workers (or machines on one PostgreSQL) serve the same agents; the per-agent lock
keeps one agent to one step at a time across all of them. What each process caches (loaded agents, LLM
clients) is refreshed from the store under that lock before every step.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from memgpt.client import Client
from memgpt.config import ServerSettings
from memgpt.errors import (
    AgentBusyError,
    AgentChangedError,
    AlreadyExistsError,
    BlockChangedError,
    ConfigError,
    LLMError,
    MemgptError,
    NotFoundError,
    PartlyAnsweredError,
    StorageError,
    ValidationError,
)
from memgpt.server.app_info import version
from memgpt.server.auth import authorized

log = logging.getLogger("memgpt.server")
STATUS: list[tuple[type[MemgptError], int]] = [  # the first that matches
    (NotFoundError, 404),
    (AlreadyExistsError, 409),
    (AgentChangedError, 409),
    (BlockChangedError, 409),
    (AgentBusyError, 409),
    (PartlyAnsweredError, 409),
    (ValidationError, 400),
    (LLMError, 502),
    (ConfigError, 503),
    (StorageError, 503),
]
# SIGTERM: requests get MEMGPT_SERVER_SHUTDOWN_TIMEOUT (uvicorn's graceful shutdown), then the steps no
# request waits for get this much more, then background embedding this much: the README's TimeoutStopSec
# covers the sum.
DETACHED_GRACE_S = 5.0
BACKGROUND_GRACE_S = 5.0
NO_RETRY = {"x-should-retry": "false"}  # a message POST that failed must not be sent again by the SDK


@dataclass
class ServerState:
    """What the application holds: the process's client and the steps still running (waited for at shutdown)."""

    client: Client
    settings: ServerSettings
    running: set[asyncio.Task[Any]] = field(default_factory=set)

    def run_step(self, work: Awaitable[Any]) -> asyncio.Task[Any]:
        """Run a step as a task of its own: a client that hangs up does not cancel it (the reply is saved and
        listed later), and shutdown waits for it."""
        task = asyncio.ensure_future(work)
        self.running.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self.running.discard(task)
        if not task.cancelled() and task.exception() is not None:  # retrieved: the request reported it, if it waited
            log.debug("a step ended with %s", type(task.exception()).__name__)


def create_app(settings: ServerSettings | None = None, *, client: Client | None = None) -> FastAPI:
    """The application (``client``: an already open one, for tests; else opened from ``settings``)."""
    settings = settings or ServerSettings.from_environment()

    from memgpt.server.mcp_server import HttpEndpoint

    async def mcp_caller(request: Request) -> Client:
        root: Client = app.state.memgpt.client
        return await authorized(root, request)

    mcp = HttpEndpoint(mcp_caller)  # MCP over streamable HTTP at /mcp, scoped by the caller's key

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from memgpt.logs import configure_logging

        configure_logging()  # in each worker too, after uvicorn set up its loggers
        opened = client or await Client.open(settings.database_url)
        app.state.memgpt = ServerState(opened, settings)
        from memgpt.server.maintenance import interval, run_periodically

        schedule = asyncio.create_task(run_periodically(opened, interval())) if interval() else None
        try:
            async with mcp.running():
                yield
        finally:
            if schedule is not None:
                schedule.cancel()
                await asyncio.gather(schedule, return_exceptions=True)
            # uvicorn gave the requests (and so the steps they wait for) the shutdown timeout already
            await _finish_steps(app.state.memgpt, min(DETACHED_GRACE_S, settings.shutdown_timeout))
            if client is None:
                await opened.close(timeout=BACKGROUND_GRACE_S)

    app = FastAPI(
        title="memgpt",
        summary="A stateful agent server: Letta's v1 API, OpenAI-compatible chat, SSE streaming.",
        version=version(),
        lifespan=lifespan,
    )
    _errors(app)
    from memgpt.server.events import router as events
    from memgpt.server.letta.routes import router as letta
    from memgpt.server.openai_api import router as openai
    from memgpt.server.ui import mount_ui

    app.include_router(letta)
    app.include_router(openai)
    app.include_router(events)
    app.router.routes.append(Route("/mcp", mcp, methods=["GET", "POST", "DELETE"]))
    app.router.routes.append(Route("/mcp/", mcp, methods=["GET", "POST", "DELETE"], include_in_schema=False))
    mount_ui(app)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.add_middleware(EndsOnShutdown)
    return app


async def _finish_steps(state: ServerState, timeout: float) -> None:  # noqa: ASYNC109
    """Let the steps still running finish: those of clients that hung up, which no request waited for
    (a step cancelled after the timeout rolls back whole: nothing is half-saved)."""
    if not state.running:
        return
    log.info("waiting for %d running step(s) to finish", len(state.running))
    _, pending = await asyncio.wait(set(state.running), timeout=timeout)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)


def _errors(app: FastAPI) -> None:
    """Every error as a JSON body ``{"detail": ...}`` with a status that says whose fault it is."""

    @app.exception_handler(MemgptError)
    async def memgpt_error(request: Request, exc: MemgptError) -> JSONResponse:
        status = next((code for kind, code in STATUS if isinstance(exc, kind)), 500)
        return JSONResponse({"detail": str(exc)}, status_code=status, headers=_retry_headers(request, exc))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(_problem(e) for e in exc.errors()[:10])
        headers = NO_RETRY if _is_message_post(request) else None
        return JSONResponse({"detail": f"Invalid request: {problems}"}, status_code=422, headers=headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {}) | (NO_RETRY if _is_message_post(request) else {})
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        reference = uuid.uuid4().hex[:12]
        # the traceback names no request body, header or key: they can hold secrets and users' memories
        log.error("internal error %s on %s %s", reference, request.method, request.url.path, exc_info=exc)
        detail = f"Internal error (reference {reference} in the server log)."
        return JSONResponse({"detail": detail}, status_code=500, headers=NO_RETRY)


def _retry_headers(request: Request, exc: MemgptError) -> dict[str, str] | None:
    if not _is_message_post(request):
        return None
    if isinstance(exc, AgentBusyError):  # nothing ran: the SDK may try again
        return {"x-should-retry": "true", "retry-after": "1"}
    return NO_RETRY


def _is_message_post(request: Request) -> bool:
    path = request.url.path
    return request.method == "POST" and (
        path.endswith(("/messages", "/messages/stream", "/messages/events", "/chat/completions"))
    )


def _problem(error: dict[str, Any]) -> str:
    where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
    return f"{where or 'body'}: {error.get('msg', 'invalid')}"


class EndsOnShutdown:
    """A request the server cancels because it stops (past its graceful timeout) ends quietly: its step rolls
    back whole on its own, and a traceback would say something went wrong when nothing did."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except asyncio.CancelledError:
            if scope["type"] != "http":
                raise
            log.warning("a request was still running when the server stopped; it was ended")


class BodyLimit:
    """Refuses request bodies over ``limit`` bytes with 413: by the length header, or for a body sent in
    chunks with no length, by reading it (at most ``limit`` bytes) before the application sees any of it.
    Raising while the application reads would reach FastAPI's body parser, which answers any failure with
    a 400 that names no limit, and cutting the body short could hand it a shorter body that is valid."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if declared.isdigit() and int(declared) > self.limit:
                await _too_large(self.limit, send)
                return
            await self.app(scope, receive, send)  # the server holds the client to its declared length
            return
        body = await self._read_chunked(receive)
        if body is None:
            await _too_large(self.limit, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # what comes after the body: a disconnect
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _read_chunked(self, receive: Receive) -> bytes | None:
        """The whole body, or None once it passes the limit (or the client leaves)."""
        parts: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None
            part = message.get("body", b"")
            size += len(part)
            if size > self.limit:
                return None
            parts.append(part)
            if not message.get("more_body", False):
                return b"".join(parts)


async def _too_large(limit: int, send: Send) -> None:
    response = JSONResponse(
        {"detail": f"The request body is over the limit of {limit:,} bytes (MEMGPT_SERVER_MAX_BODY)."},
        status_code=413,
        headers=NO_RETRY,
    )
    await response({"type": "http"}, _nothing, send)


async def _nothing() -> Message:
    return {"type": "http.disconnect"}
