"""memgpt's memory-lifecycle routes beside Letta's: forgetting messages, and the edit history of core memory.

``DELETE /v1/agents/{id}/messages/{message_id}`` forgets a message (with its tool-call group) everywhere it
lived; ``POST /v1/agents/{id}/forget`` previews or applies any forget; the history of a block and a revert
are under ``/v1/agents/{id}/core-memory/blocks/{label}/``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body
from pydantic import BaseModel, ConfigDict, Field

from memgpt.server.auth import Caller
from memgpt.server.letta import convert

router = APIRouter(prefix="/v1/agents", tags=["memory lifecycle"])
Json = dict[str, Any]


class ForgetRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message_ids: list[str] = Field(default_factory=list, max_length=10_000)
    passage_ids: list[str] = Field(default_factory=list, max_length=10_000)
    before: datetime | None = None
    query: str | None = None
    apply: bool = False
    block_values: dict[str, str] = Field(default_factory=dict)
    scrub_blocks: bool = False


class RevertRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1)


@router.delete("/{agent_id}/messages/{message_id}")
async def forget_message(agent_id: str, message_id: str, client: Caller) -> Json:
    state = await client.get_agent(agent_id)
    return (await client.forget(state.id, message_ids=[message_id], apply=True)).to_dict()


@router.post("/{agent_id}/forget")
async def forget(agent_id: str, body: ForgetRequest, client: Caller) -> Json:
    state = await client.get_agent(agent_id)
    report = await client.forget(
        state.id,
        message_ids=body.message_ids,
        passage_ids=body.passage_ids,
        before=body.before,
        query=body.query,
        apply=body.apply,
        block_values=body.block_values,
        scrub_blocks=body.scrub_blocks,
    )
    return report.to_dict()


@router.get("/{agent_id}/core-memory/history")
async def history(agent_id: str, client: Caller, label: str | None = None) -> list[Json]:
    state = await client.get_agent(agent_id)
    return [c.to_dict() for c in await client.block_history(state.id, label=label)]


@router.post("/{agent_id}/core-memory/blocks/{label}/revert")
async def revert(agent_id: str, label: str, body: Annotated[RevertRequest, Body()], client: Caller) -> Json:
    state = await client.get_agent(agent_id)
    return convert.block(await client.revert_block(state.id, label, to_version=body.version))
