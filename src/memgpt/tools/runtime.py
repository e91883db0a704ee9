"""Running an agent's own tools: custom tools in the sandbox, MCP tools through their server's session.

A :class:`ToolRuntime` is what the clients of one process share (the sandbox's warm workers, the open MCP
sessions); :meth:`ToolRuntime.executor` gives an agent its function set: the base functions and the tools
attached to it. Tool variables are read from the store at each call (so a change applies at once) and go
only into that call's sandbox process; any of their values found in what a tool returns or prints is
replaced by ``[secret NAME]`` before the model sees it (so are an MCP server's env values and headers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from memgpt.logs import remember_secrets
from memgpt.memory.tools import AttachedTool, McpServer, Tool
from memgpt.tools.context import ToolContext, ToolError
from memgpt.tools.executor import ExternalTool, ToolExecutor
from memgpt.tools.mcp_client import McpConnections, McpServerError
from memgpt.tools.sandbox import Sandbox, SandboxOutcome

SECRET_MIN_CHARS = 4  # shorter values are not hunted for in results ("1" would be everywhere)
OUTPUT_AS_RESULT = 4000  # characters of printed output returned when a tool returns None


def redact(text: str, secrets: Mapping[str, str]) -> str:
    """``text`` with every tool variable's value replaced by ``[secret NAME]`` (longest values first)."""
    for name, value in sorted(secrets.items(), key=lambda item: -len(item[1])):
        if len(value) >= SECRET_MIN_CHARS and value in text:
            text = text.replace(value, f"[secret {name}]")
    return text


class CustomTool:
    """A custom tool: its stored source run in the sandbox with the agent's tool variables."""

    def __init__(self, tool: Tool, sandbox: Sandbox) -> None:
        self.tool = tool
        self._sandbox = sandbox

    @property
    def schema(self) -> dict[str, Any]:
        return self.tool.json_schema

    async def run(self, arguments: dict[str, Any], ctx: ToolContext) -> str:
        variables = await ctx.store.secrets(ctx.agent.id)
        remember_secrets(variables.values())  # never in a log line either
        outcome = await self._sandbox.call(
            self.tool.source,
            self.tool.function_name,
            arguments,
            settings=self.tool.settings,
            variables=variables,
            owner=self.tool.user_id,
        )
        if not outcome.ok:
            raise ToolError(redact(self._failure(outcome), variables))
        return redact(self._result(outcome), variables)

    def _result(self, outcome: SandboxOutcome) -> str:
        if outcome.result is None:
            printed = outcome.output.strip()
            return printed[:OUTPUT_AS_RESULT] if printed else f"{self.tool.function_name} finished (it returned None)."
        if outcome.result_chars > len(outcome.result):
            return f"{outcome.result} [cut at {len(outcome.result):,} of {outcome.result_chars:,} characters]"
        return outcome.result

    def _failure(self, outcome: SandboxOutcome) -> str:
        name = self.tool.function_name
        if outcome.kind == "arguments":
            return f"{name}: the arguments do not fit its parameters: {outcome.error}"
        message = f"{name} failed: {outcome.error}."
        if outcome.kind == "crash" and outcome.output.strip():
            message += f" Its last output: {outcome.output.strip()[-400:]}"
        return message


class McpTool:
    """A tool of an MCP server, called through the process's session with that server."""

    def __init__(self, tool: Tool, server: McpServer, connections: McpConnections) -> None:
        self.tool = tool
        self.server = server
        self._connections = connections

    @property
    def schema(self) -> dict[str, Any]:
        return self.tool.json_schema

    async def run(self, arguments: dict[str, Any], ctx: ToolContext) -> str:
        credentials = self.server.env | self.server.headers  # what a dying server prints may quote them
        remember_secrets(credentials.values())
        try:
            text = await self._connections.call(self.server, self.tool.mcp_tool_name, arguments)
        except McpServerError as exc:
            raise ToolError(redact(str(exc), credentials)) from None
        text = redact(text, credentials)
        return text if text.strip() else f"{self.tool.mcp_tool_name} finished (no content)."


class ToolRuntime:
    """The sandbox and the MCP sessions of one process (its clients share them)."""

    def __init__(self, sandbox: Sandbox | None = None, mcp: McpConnections | None = None) -> None:
        self._sandbox = sandbox
        self._mcp = mcp

    @property
    def sandbox(self) -> Sandbox:
        if self._sandbox is None:
            self._sandbox = Sandbox()
        return self._sandbox

    @property
    def mcp(self) -> McpConnections:
        if self._mcp is None:
            self._mcp = McpConnections()
        return self._mcp

    def executor(self, attached: Sequence[AttachedTool]) -> ToolExecutor:
        """The base functions and ``attached``, in the order they were attached."""
        return ToolExecutor(external=[self.adapter(a) for a in attached])

    def adapter(self, attached: AttachedTool) -> ExternalTool:
        if attached.tool.kind == "mcp":
            if attached.server is None:
                raise ToolError(f"The MCP server of {attached.tool.name} is gone.")
            return McpTool(attached.tool, attached.server, self.mcp)
        return CustomTool(attached.tool, self.sandbox)

    async def close(self) -> None:
        if self._sandbox is not None:
            await self._sandbox.close()
        if self._mcp is not None:
            await self._mcp.close()


def schemas_of(attached: Sequence[AttachedTool]) -> ToolExecutor:
    """An executor that only describes the function set (for showing an agent; it runs nothing itself)."""
    return ToolRuntime().executor(attached)
