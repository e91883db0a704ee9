"""memgpt as an MCP server: any MCP client (Claude Desktop, Cursor, ...) can use an agent's memory.

Tools: list the agents; send one a message and get its reply; search its recall memory; search, insert and
delete archival passages; read core memory and edit its blocks. With a fixed agent (``memgpt mcp serve
--agent NAME``) the tools take no ``agent`` argument. Two transports, one set of tools:

- stdio: ``memgpt mcp serve`` (the local user's agents, as the CLI sees them);
- streamable HTTP at ``/mcp`` under ``memgpt server``: every request is authenticated like the REST API
  (``Authorization: Bearer <key>`` once keys exist; the local user on this machine only without keys) and
  its tools see only that key's user's agents.

Everything goes through :class:`memgpt.Client`; errors come back as MCP tool errors with memgpt's message.
"""

from __future__ import annotations

import contextlib
import contextvars
import inspect
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field

from memgpt.errors import MemgptError
from memgpt.memory.types import SearchPage

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer
    from starlette.types import Receive, Scope, Send

    from memgpt.client import Client

ClientSource = Callable[[], Awaitable["Client"]]
INSTRUCTIONS = (
    "memgpt keeps agents with long-term memory: core memory blocks (always in the agent's context), recall "
    "memory (every message exchanged, searchable) and archival memory (passages, searched by meaning and words). "
    "Use search_recall and search_archival to find what was said or stored; insert_archival to store a fact."
)
AgentArg = Annotated[str, Field(description="The agent's name or id (list_agents shows them).")]
PageArg = Annotated[int, Field(description="Result page, from 0.", ge=0)]
PAGE_SIZE = 5


class _Tools:
    """The tool functions, each resolving the caller's client first."""

    def __init__(self, client_for: ClientSource) -> None:
        self.client_for = client_for

    async def list_agents(self) -> str:
        """List the agents you can use, with their model and memory sizes."""
        client = await self.client_for()
        infos = [await client.agent_info(a.id) for a in await client.list_agents()]
        keys = ("name", "id", "model", "recall_messages", "archival_passages")
        return json.dumps([{k: info[k] for k in keys} for info in infos], ensure_ascii=False)

    async def send_message(
        self, message: Annotated[str, Field(description="What to say to the agent.")], agent: AgentArg
    ) -> str:
        """Send a message to an agent and return its reply (the agent remembers the conversation)."""
        client = await self.client_for()
        events = await client.send_message(agent, message)
        replies = [e.content for e in events if e.type == "assistant_message" and e.content]
        return "\n\n".join(replies) if replies else "(The agent did not reply to this message.)"

    async def search_recall(
        self, query: Annotated[str, Field(description="What to look for.")], agent: AgentArg, page: PageArg = 0
    ) -> str:
        """Search the messages an agent has exchanged (recall memory) by words and meaning, best match first."""
        client = await self.client_for()
        return _page_text(await client.search(agent, query, page=page, page_size=PAGE_SIZE), "messages")

    async def search_archival(
        self, query: Annotated[str, Field(description="What to look for.")], agent: AgentArg, page: PageArg = 0
    ) -> str:
        """Search an agent's archival memory (its notes and loaded documents); results carry passage ids."""
        client = await self.client_for()
        return _page_text(await client.search(agent, query, archival=True, page=page, page_size=PAGE_SIZE), "passages")

    async def insert_archival(
        self, text: Annotated[str, Field(description="A self-contained passage to store.")], agent: AgentArg
    ) -> str:
        """Store a passage in an agent's archival memory; returns its id."""
        client = await self.client_for()
        [passage_id] = await client.insert_passages(agent, [text])
        return f"Stored passage {passage_id}."

    async def delete_archival(
        self, passage_id: Annotated[str, Field(description="The id of one of the agent's passages.")], agent: AgentArg
    ) -> str:
        """Delete a passage from an agent's archival memory."""
        client = await self.client_for()
        await client.delete_passages(agent, [passage_id])
        return f"Deleted passage {passage_id}."

    async def get_memory(self, agent: AgentArg) -> str:
        """Read an agent's core memory: every block with its label, text and limit."""
        client = await self.client_for()
        blocks = await client.get_memory(agent)
        return json.dumps(
            [{"label": b.label, "value": b.value, "limit": b.limit, "read_only": b.read_only} for b in blocks],
            ensure_ascii=False,
        )

    async def update_memory_block(
        self,
        label: Annotated[str, Field(description="The block, e.g. human or persona.")],
        value: Annotated[str, Field(description="The block's new text (replaces all of it).")],
        agent: AgentArg,
    ) -> str:
        """Replace the text of one of an agent's core memory blocks."""
        client = await self.client_for()
        block = await client.update_block(agent, label, value)
        return f"Block {block.label} now holds {len(block.value)}/{block.limit} characters."

    async def append_memory_block(
        self,
        label: Annotated[str, Field(description="The block, e.g. human or persona.")],
        text: Annotated[str, Field(description="A line to add at the end of the block.")],
        agent: AgentArg,
    ) -> str:
        """Add a line to one of an agent's core memory blocks."""
        client = await self.client_for()
        current = await client.get_block(agent, label)
        value = f"{current.value}\n{text}" if current.value else text
        block = await client.update_block(agent, label, value)
        return f"Block {block.label} now holds {len(block.value)}/{block.limit} characters."

    def all(self) -> list[Callable[..., Awaitable[str]]]:
        return [
            self.list_agents,
            self.send_message,
            self.search_recall,
            self.search_archival,
            self.insert_archival,
            self.delete_archival,
            self.get_memory,
            self.update_memory_block,
            self.append_memory_block,
        ]


def _page_text(page: SearchPage, what: str) -> str:
    if not page.hits:
        return f"No {what} found."
    first = page.page * page.page_size + 1
    lines = [f"{what.capitalize()} {first}-{first + len(page.hits) - 1} of {page.total} (page {page.page}):"]
    for hit in page.hits:
        who = f"{hit.role}: " if hit.role else ""
        ident = f" (id {hit.id})" if what == "passages" else ""
        lines.append(f"- [{hit.created_at:%Y-%m-%d %H:%M}]{ident} {who}{hit.text}")
    return "\n".join(lines)


def _reported(fn: Callable[..., Awaitable[str]]) -> Callable[..., Awaitable[str]]:
    """``fn`` with memgpt's errors as MCP tool errors (their message, never a traceback)."""
    from mcp.server.mcpserver.exceptions import ToolError

    async def call(**kwargs: Any) -> str:
        try:
            return await fn(**kwargs)
        except MemgptError as exc:
            raise ToolError(str(exc)) from None

    call.__signature__ = inspect.signature(fn, eval_str=True)  # type: ignore[attr-defined]
    call.__name__, call.__doc__ = fn.__name__, fn.__doc__
    return call


def _fixed(fn: Callable[..., Awaitable[str]], agent: str) -> Callable[..., Awaitable[str]]:
    """``fn`` for one agent: its ``agent`` parameter is gone from the schema and always ``agent``."""
    signature = inspect.signature(fn, eval_str=True)

    async def call(**kwargs: Any) -> str:
        return await fn(agent=agent, **kwargs)

    call.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[p for p in signature.parameters.values() if p.name != "agent"]
    )
    call.__name__, call.__doc__ = fn.__name__, fn.__doc__
    return call


def build_mcp_server(client_for: ClientSource, *, agent: str | None = None) -> MCPServer[Any]:
    """The MCP server whose tools act through the client ``client_for`` returns (per call)."""
    from mcp.server.mcpserver import MCPServer

    from memgpt.server.app_info import version

    server: MCPServer[Any] = MCPServer("memgpt", instructions=INSTRUCTIONS, version=version(), log_level="WARNING")
    for fn in _Tools(client_for).all():
        if agent is not None and fn.__name__ == "list_agents":
            continue
        tool = _fixed(fn, agent) if agent is not None and "agent" in inspect.signature(fn).parameters else fn
        summary = (fn.__doc__ or "").strip().splitlines()[0]
        if agent is not None:
            summary = summary.replace("an agent's", f"agent {agent}'s").replace("an agent", f"agent {agent}")
        server.add_tool(_reported(tool), name=fn.__name__, description=summary)
    return server


async def serve_stdio(client: Client, *, agent: str | None = None) -> None:
    """Serve MCP over stdin/stdout until the client hangs up (``memgpt mcp serve``)."""
    if agent is not None:
        agent = (await client.get_agent(agent)).name  # a typo fails here, not at the first call

    async def the_client() -> Client:
        return client

    await build_mcp_server(the_client, agent=agent).run_stdio_async()


# ----------------------------------------------------------------------------- streamable HTTP under memgpt server
_caller: contextvars.ContextVar[Client | None] = contextvars.ContextVar("memgpt-mcp-caller", default=None)


async def _request_client() -> Client:
    client = _caller.get()
    if client is None:
        raise MemgptError("This MCP request was not authenticated.")
    return client


class HttpEndpoint:
    """The ASGI endpoint at ``/mcp``: authenticates the request as the REST API does, then hands it to the MCP
    SDK's streamable HTTP session manager (stateless: each request stands alone, so any worker serves it)."""

    def __init__(self, authenticate: Callable[[Any], Awaitable[Client]]) -> None:
        self.authenticate = authenticate
        self.manager: Any = None  # the SDK's session manager, while the application runs

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Serve requests within this block (the application's lifespan; each run gets a new manager)."""
        from mcp.server.transport_security import TransportSecuritySettings

        server = build_mcp_server(_request_client)
        # our own checks (keys, or the loopback peer, Host and Origin without keys) guard this endpoint
        security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
        server.streamable_http_app(stateless_http=True, json_response=True, transport_security=security)
        manager = server.session_manager
        async with manager.run():
            self.manager = manager
            try:
                yield
            finally:
                self.manager = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        from starlette.exceptions import HTTPException
        from starlette.requests import Request
        from starlette.responses import JSONResponse

        if self.manager is None:
            await JSONResponse({"detail": "The server is not running."}, status_code=503)(scope, receive, send)
            return
        try:
            client = await self.authenticate(Request(scope, receive))
        except HTTPException as exc:
            response = JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
            await response(scope, receive, send)
            return
        token = _caller.set(client)
        try:
            await self.manager.handle_request(scope, receive, send)
        finally:
            _caller.reset(token)
