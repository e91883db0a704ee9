"""Letta's agent routes: agents, their core-memory blocks, archival memory, attached folders."""

from __future__ import annotations

import secrets
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from memgpt.errors import NotFoundError
from memgpt.memory.agent_state import AgentSettings
from memgpt.memory.blocks import DEFAULT_BLOCK_LIMIT, Block
from memgpt.memory.types import Passage
from memgpt.server.auth import Caller
from memgpt.server.letta import convert
from memgpt.server.letta.paging import Order, window
from memgpt.server.letta.tools import apply_agent_fields

router = APIRouter(prefix="/v1/agents", tags=["agents"])
Json = dict[str, Any]


class _Lenient(BaseModel):
    """A Letta request body: fields memgpt has no use for are accepted and ignored (the SDK sends many)."""

    model_config = ConfigDict(extra="allow")


class BlockIn(_Lenient):
    label: str
    value: str = ""
    limit: int | None = Field(default=None, ge=1)
    description: str | None = None
    read_only: bool | None = None


class AgentCreate(_Lenient):
    name: str | None = None
    memory_blocks: list[BlockIn] | None = None
    block_ids: list[str] | None = None  # existing blocks it shows too (shared)
    model: str | None = None
    context_window_limit: int | None = Field(default=None, ge=1000)
    system: str | None = None


class AgentUpdate(_Lenient):
    name: str | None = None
    model: str | None = None
    context_window_limit: int | None = Field(default=None, ge=1000)
    system: str | None = None


class BlockUpdate(_Lenient):
    value: str | None = None
    limit: int | None = Field(default=None, ge=1)
    description: str | None = None
    read_only: bool | None = None


class PassageIn(_Lenient):
    text: str
    tags: list[str] | None = None


# ----------------------------------------------------------------------------- agents
@router.post("/", include_in_schema=False)
@router.post("")
async def create_agent(body: AgentCreate, client: Caller) -> Json:
    blocks = [
        Block(b.label, b.value, b.limit or DEFAULT_BLOCK_LIMIT, bool(b.read_only), b.description or "")
        for b in body.memory_blocks or []
    ]
    settings = AgentSettings(system_prompt=body.system) if body.system else None
    state = await client.create_agent(
        body.name or f"agent-{secrets.token_hex(4)}",
        model=body.model,
        context_window=body.context_window_limit,
        blocks=blocks,
        settings=settings,
        block_ids=body.block_ids or (),
    )
    try:
        await apply_agent_fields(client, state.id, body.model_extra, update=False)
    except BaseException:
        await client.delete_agent(state.id)  # a create that fails leaves no agent behind
        raise
    return convert.agent(await client.describe_agent(state.id))


@router.get("/", include_in_schema=False)
@router.get("")
async def list_agents(
    client: Caller,
    after: str | None = None,
    before: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    order: Order = "desc",
    name: str | None = None,
) -> list[Json]:
    agents = [a for a in await client.list_agents() if name is None or a.name == name]
    page = window(agents, lambda a: a.id, after, before, limit, order)
    return [convert.agent(await client.describe_agent(state)) for state in page]


@router.get("/{agent_id}")
async def get_agent(agent_id: str, client: Caller) -> Json:
    return convert.agent(await client.describe_agent(agent_id))


@router.patch("/{agent_id}")
async def update_agent(agent_id: str, body: AgentUpdate, client: Caller) -> Json:
    state = await client.update_agent(
        agent_id, name=body.name, model=body.model, context_window=body.context_window_limit, system=body.system
    )
    await apply_agent_fields(client, state.id, body.model_extra, update=True)
    return convert.agent(await client.describe_agent(state.id))


@router.delete("/{agent_id}")
async def delete_agent(agent_id: str, client: Caller) -> Json:
    state = await client.get_agent(agent_id)
    await client.delete_agent(state.id)
    return {"message": f"Agent id={state.id} successfully deleted"}


# ----------------------------------------------------------------------------- core memory
@router.get("/{agent_id}/core-memory/blocks")
async def list_blocks(
    agent_id: str,
    client: Caller,
    after: str | None = None,
    before: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    order: Order = "asc",
) -> list[Json]:
    state = await client.get_agent(agent_id)
    blocks = [convert.block(b) for b in state.blocks]
    return window(blocks, lambda b: b["id"], after, before, limit, order)


@router.get("/{agent_id}/core-memory/blocks/{label}")
async def get_block(agent_id: str, label: str, client: Caller) -> Json:
    state = await client.get_agent(agent_id)
    return convert.block(await client.get_block(state.id, label))


@router.patch("/{agent_id}/core-memory/blocks/{label}")
async def update_block(agent_id: str, label: str, body: BlockUpdate, client: Caller) -> Json:
    state = await client.get_agent(agent_id)
    block = await client.update_block(
        state.id, label, body.value, limit=body.limit, description=body.description, read_only=body.read_only
    )
    return convert.block(block)


# ----------------------------------------------------------------------------- archival memory
@router.post("/{agent_id}/archival-memory")
async def insert_passage(agent_id: str, body: PassageIn, client: Caller) -> list[Json]:
    state = await client.get_agent(agent_id)
    passage = Passage(text=body.text, metadata={"tags": body.tags} if body.tags else {})
    [passage_id] = await client.insert_passages(state.id, [passage])
    return [convert.passage(state.id, passage) | {"id": passage_id}]


@router.get("/{agent_id}/archival-memory")
async def list_passages(
    agent_id: str,
    client: Caller,
    after: str | None = None,
    before: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ascending: bool = True,
) -> list[Json]:
    state = await client.get_agent(agent_id)
    passages = await client.passage_window(state.id, after=after, before=before, limit=limit, newest=not ascending)
    return [convert.passage(state.id, p) for p in (passages if ascending else passages[::-1])]


@router.get("/{agent_id}/archival-memory/search")
async def search_passages(
    agent_id: str,
    client: Caller,
    query: Annotated[str, Query(max_length=10_000)],
    top_k: Annotated[int, Query(ge=1, le=1000)] = 5,
    tags: Annotated[list[str] | None, Query()] = None,
    tag_match_mode: Literal["any", "all"] = "any",
) -> Json:
    state = await client.get_agent(agent_id)
    if not query.strip():
        return {"count": 0, "results": []}
    page = await client.search(state.id, query, archival=True, page_size=top_k if not tags else 1000)
    hits = [h for h in page.hits if _tagged(h.metadata.get("tags"), tags, tag_match_mode)][:top_k]
    return {"count": len(hits), "results": [convert.search_result(h) for h in hits]}


def _tagged(found: object, wanted: list[str] | None, mode: str) -> bool:
    if not wanted:
        return True
    have = set(found) if isinstance(found, list) else set()
    return bool(have & set(wanted)) if mode == "any" else set(wanted) <= have


@router.delete("/{agent_id}/archival-memory/{passage_id}")
async def delete_passage(agent_id: str, passage_id: str, client: Caller) -> Json:
    await client.delete_passages(agent_id, [passage_id])  # everywhere it lived, not only the row
    return {"message": f"Memory id={passage_id} successfully deleted"}


# ----------------------------------------------------------------------------- folders of an agent
@router.get("/{agent_id}/folders")
async def list_agent_folders(
    agent_id: str,
    client: Caller,
    after: str | None = None,
    before: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    order: Order = "asc",
) -> list[Json]:
    sources = await client.list_agent_sources(agent_id)
    return [convert.folder(s) for s in window(sources, lambda s: s.id, after, before, limit, order)]


@router.patch("/{agent_id}/folders/attach/{folder_id}")
async def attach_folder(agent_id: str, folder_id: str, client: Caller) -> Json:
    await client.attach_source(agent_id, folder_id)
    return convert.agent(await client.describe_agent(agent_id))


@router.patch("/{agent_id}/folders/detach/{folder_id}")
async def detach_folder(agent_id: str, folder_id: str, client: Caller) -> Json:
    try:
        await client.detach_source(agent_id, folder_id)
    except NotFoundError:
        await client.get_source(folder_id)  # a folder that exists but is not attached: nothing to do
    return convert.agent(await client.describe_agent(agent_id))
