"""Letta's block routes: blocks of their own (``/v1/blocks``) and attaching them to agents.

A block attached to several agents is one block: an edit through any route (or by any agent) is in every
agent's context at its next step.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from memgpt.memory.blocks import DEFAULT_BLOCK_LIMIT
from memgpt.server.auth import Caller
from memgpt.server.letta import convert
from memgpt.server.letta.agents import BlockIn
from memgpt.server.letta.paging import Order, window

router = APIRouter(tags=["blocks"])
Json = dict[str, Any]


class BlockPatch(BaseModel):
    model_config = ConfigDict(extra="allow")
    value: str | None = None
    label: str | None = None
    limit: int | None = Field(default=None, ge=1)
    description: str | None = None
    read_only: bool | None = None


@router.post("/v1/blocks/", include_in_schema=False)
@router.post("/v1/blocks")
async def create_block(body: BlockIn, client: Caller) -> Json:
    block = await client.create_block(
        body.label,
        body.value,
        limit=body.limit or DEFAULT_BLOCK_LIMIT,
        description=body.description or "",
        read_only=bool(body.read_only),
    )
    return convert.block(block)


@router.get("/v1/blocks/", include_in_schema=False)
@router.get("/v1/blocks")
async def list_blocks(
    client: Caller,
    after: str | None = None,
    before: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    order: Order = "asc",
    label: str | None = None,
) -> list[Json]:
    records = await client.list_blocks(label=label)
    return [convert.block(r.block) for r in window(records, lambda r: r.block.id, after, before, limit, order)]


@router.get("/v1/blocks/{block_id}")
async def get_block(block_id: str, client: Caller) -> Json:
    return convert.block((await client.find_block(block_id)).block)


@router.patch("/v1/blocks/{block_id}")
async def update_block(block_id: str, body: BlockPatch, client: Caller) -> Json:
    block = await client.edit_block(
        block_id,
        value=body.value,
        label=body.label,
        limit=body.limit,
        description=body.description,
        read_only=body.read_only,
    )
    return convert.block(block)


@router.delete("/v1/blocks/{block_id}")
async def delete_block(block_id: str, client: Caller) -> None:
    """Delete the block; it leaves the core memory of every agent that showed it (as Letta does)."""
    await client.delete_block(block_id, detach=True)


@router.get("/v1/blocks/{block_id}/agents")
async def list_block_agents(
    block_id: str,
    client: Caller,
    after: str | None = None,
    before: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    order: Order = "asc",
) -> list[Json]:
    record = await client.find_block(block_id)
    page = window(record.agent_ids, lambda agent_id: agent_id, after, before, limit, order)
    return [convert.agent(await client.describe_agent(agent_id)) for agent_id in page]


@router.patch("/v1/agents/{agent_id}/core-memory/blocks/attach/{block_id}")
async def attach_block(agent_id: str, block_id: str, client: Caller) -> Json:
    await client.attach_block(agent_id, block_id)
    return convert.agent(await client.describe_agent(agent_id))


@router.patch("/v1/agents/{agent_id}/core-memory/blocks/detach/{block_id}")
async def detach_block(agent_id: str, block_id: str, client: Caller) -> Json:
    await client.detach_block(agent_id, block_id)
    return convert.agent(await client.describe_agent(agent_id))
