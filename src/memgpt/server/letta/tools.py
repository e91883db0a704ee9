"""Letta's tool routes: custom tools (``/v1/tools/``) and the tools of an agent (attach, detach, list).

``POST /v1/tools/`` creates or updates a tool by its function's name, as Letta's does; the source runs in
the sandbox to describe the function, which needs type hints and a docstring (a 400 says what is missing).
The agent routes of :mod:`.agents` also take Letta's ``tool_ids``, ``tools`` (names), ``tool_rules`` and
``secrets`` (tool variables: set, never returned) through :func:`apply_agent_fields`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from memgpt.client import Client
from memgpt.errors import NotFoundError, ValidationError
from memgpt.memory.tools import Tool
from memgpt.server.auth import Caller
from memgpt.server.letta import convert
from memgpt.server.letta.paging import Order, window

router = APIRouter(tags=["tools"])
Json = dict[str, Any]


class ToolCreate(BaseModel):
    """Letta's ToolCreate; ``json_schema`` and ``args_json_schema`` are derived from the source here."""

    model_config = ConfigDict(extra="allow")
    source_code: str = Field(max_length=500_000)
    description: str | None = Field(default=None, max_length=10_000)
    tags: list[str] | None = None
    source_type: str | None = None


class ToolUpdate(BaseModel):
    model_config = ConfigDict(extra="allow")
    source_code: str | None = Field(default=None, max_length=500_000)
    description: str | None = Field(default=None, max_length=10_000)
    tags: list[str] | None = None


def _check_python(source_type: str | None) -> None:
    if source_type not in (None, "python"):
        raise ValidationError(f"Only Python tools run here (source_type {source_type!r} is not supported).")


# ----------------------------------------------------------------------------- /v1/tools
@router.post("/v1/tools/", include_in_schema=False)
@router.post("/v1/tools")
async def create_tool(body: ToolCreate, client: Caller) -> Json:
    _check_python(body.source_type)
    tool = await client.add_tool(
        None, body.source_code, description=body.description, tags=body.tags or (), replace=True
    )
    return convert.custom_tool(tool)


@router.put("/v1/tools/", include_in_schema=False)
@router.put("/v1/tools")
async def upsert_tool(body: ToolCreate, client: Caller) -> Json:
    return await create_tool(body, client)


@router.get("/v1/tools/", include_in_schema=False)
@router.get("/v1/tools")
async def list_tools(
    client: Caller,
    after: str | None = None,
    before: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    order: Order = "desc",
    name: str | None = None,
    names: Annotated[list[str] | None, Query()] = None,
    tool_ids: Annotated[list[str] | None, Query()] = None,
) -> list[Json]:
    wanted = {*(names or []), *([name] if name else [])}
    ids = {i.strip() for item in tool_ids or [] for i in item.split(",") if i.strip()}
    found = [
        t
        for t in await client.list_tools()
        if (not wanted or t.function_name in wanted or t.name in wanted) and (not ids or t.id in ids)
    ]
    return [convert.custom_tool(t) for t in window(found, lambda t: t.id, after, before, limit, order)]


@router.get("/v1/tools/{tool_id}")
async def get_tool(tool_id: str, client: Caller) -> Json:
    return convert.custom_tool(await client.get_tool(tool_id))


@router.patch("/v1/tools/{tool_id}")
async def update_tool(tool_id: str, body: ToolUpdate, client: Caller) -> Json:
    tool = await client.get_tool(tool_id)
    if tool.kind != "python":
        raise ValidationError(f"{tool.name} comes from an MCP server; update the server instead.")
    updated = await client.add_tool(  # the new source must define the same function (else: a new tool)
        tool.function_name,
        body.source_code if body.source_code is not None else tool.source,
        description=body.description if body.description is not None else tool.description,
        tags=body.tags if body.tags is not None else tool.tags,
        replace=True,
    )
    return convert.custom_tool(updated)


@router.delete("/v1/tools/{tool_id}")
async def delete_tool(tool_id: str, client: Caller) -> None:
    await client.delete_tool(tool_id)


# ----------------------------------------------------------------------------- the tools of an agent
@router.get("/v1/agents/{agent_id}/tools")
async def list_agent_tools(
    agent_id: str,
    client: Caller,
    after: str | None = None,
    before: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    order: Order = "asc",
) -> list[Json]:
    view = await client.describe_agent(agent_id)
    every = convert.agent_tools(view)
    return window(every, lambda t: str(t["id"]), after, before, limit, order)


@router.patch("/v1/agents/{agent_id}/tools/attach/{tool_id}")
async def attach_tool(agent_id: str, tool_id: str, client: Caller) -> Json:
    await client.attach_tool(agent_id, tool_id)
    return convert.agent(await client.describe_agent(agent_id))


@router.patch("/v1/agents/{agent_id}/tools/detach/{tool_id}")
async def detach_tool(agent_id: str, tool_id: str, client: Caller) -> Json:
    try:
        await client.detach_tool(agent_id, tool_id)
    except NotFoundError:
        await client.get_tool(tool_id)  # a tool that exists but is not attached: nothing to do (as Letta)
    return convert.agent(await client.describe_agent(agent_id))


# ----------------------------------------------------------------------------- Letta's agent fields
async def apply_agent_fields(client: Client, agent_id: str, fields: dict[str, Any] | None, *, update: bool) -> None:
    """Letta's ``tool_ids`` / ``tools`` (attach), ``tool_rules`` and ``secrets`` (or the older
    ``tool_exec_environment_variables``) of an agent create or update body. On update, ``tool_ids`` is the
    agent's whole set of tools and ``secrets`` its whole set of variables, as in Letta."""
    fields = fields or {}
    names = fields.get("tools")
    ids = fields.get("tool_ids")
    if names is not None or ids is not None:
        wanted = await _tools_named(client, _texts(names, "tools"), _texts(ids, "tool_ids"))
        if update and ids is not None:
            for current in await client.list_agent_tools(agent_id):
                if current.id not in {t.id for t in wanted}:
                    await client.detach_tool(agent_id, current.id)
        for tool in wanted:
            await client.attach_tool(agent_id, tool.id)
    secrets = fields.get("secrets", fields.get("tool_exec_environment_variables"))
    if secrets is not None:
        values = _variables(secrets)
        if update:
            for name in await client.list_secrets(agent_id):
                if name not in values:
                    await client.delete_secret(agent_id, name)
        for name, value in values.items():
            await client.set_secret(agent_id, name, value)
    if fields.get("tool_rules") is not None:
        await client.set_tool_rules(agent_id, fields["tool_rules"])


async def _tools_named(client: Client, names: list[str], ids: list[str]) -> list[Tool]:
    from memgpt.tools.registry import BASE_NAMES

    wanted = [await client.get_tool(i) for i in ids]
    for name in names:
        if name not in BASE_NAMES:  # the base functions every agent has already
            wanted.append(await client.get_tool(name))
    return wanted


def _texts(value: object, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError(f"{what} must be a list of texts.")
    return value


def _variables(value: object) -> dict[str, str]:
    """``{"NAME": "value"}``, or Letta's list of ``{"key", "value"}``."""
    if isinstance(value, dict):
        pairs = list(value.items())
    elif isinstance(value, list) and all(isinstance(v, dict) for v in value):
        pairs = [(v.get("key"), v.get("value")) for v in value]
    else:
        raise ValidationError('secrets must be an object {"NAME": "value"} or a list of {"key", "value"}.')
    for key, item in pairs:
        if not isinstance(key, str) or not isinstance(item, str):
            raise ValidationError("Each secret needs a name and a text value.")
    return dict(pairs)
