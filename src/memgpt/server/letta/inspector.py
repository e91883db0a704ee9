"""What the web UI's memory inspector reads beyond Letta's agent routes, in Letta's shapes where Letta has one.

``GET /v1/agents/{id}/context`` is Letta's context-window overview plus memgpt's thresholds (``warning_tokens``,
``flush_tokens``, ``target_tokens``) and ``summary_updated_at``; ``POST /v1/messages/search`` is Letta's
message search over one agent's recall store, each result with its ``score``.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from memgpt.errors import ValidationError
from memgpt.memory.protocols import SearchMode
from memgpt.memory.types import SearchHit
from memgpt.server.auth import Caller
from memgpt.server.letta import convert

router = APIRouter(tags=["inspect"])
Json = dict[str, Any]
MODES: dict[str, SearchMode] = {"vector": "semantic", "fts": "text", "hybrid": "hybrid"}
MESSAGE_TYPES = {"user": "user_message", "assistant": "assistant_message", "system": "system_message"}


@router.get("/v1/agents/{agent_id}/context")
async def context_window(agent_id: str, client: Caller, include_messages: bool = True) -> Json:
    """The estimated tokens of each part of the agent's main context (the figures of ``memgpt chat``'s
    ``/context``), with the thresholds at which it is warned of memory pressure and at which its oldest
    messages are evicted into the recursive summary."""
    overview = await client.context_overview(agent_id)
    return {
        "context_window_size_max": overview.context_window,
        "context_window_size_current": overview.total,
        "num_messages": overview.in_context_messages,
        "num_archival_memory": overview.archival_passages,
        "num_recall_memory": overview.recall_messages,
        "num_tokens_external_memory_summary": overview.memory_statistics,
        "external_memory_summary": overview.statistics_text,
        "num_tokens_system": overview.system_instructions,
        "system_prompt": overview.instructions_text,
        "num_tokens_core_memory": overview.core_memory,
        "core_memory": overview.core_memory_text,
        "num_tokens_summary_memory": overview.summary,
        "summary_memory": overview.summary_text or None,
        "num_tokens_functions_definitions": overview.tool_schemas,
        "functions_definitions": overview.tools,
        "num_tokens_messages": overview.messages,
        "messages": convert.messages(overview.fifo) if include_messages else [],
        # memgpt's own: the queue manager's thresholds and when the summary was last written
        "warning_tokens": overview.warning_tokens,
        "flush_tokens": overview.flush_tokens,
        "target_tokens": overview.target_tokens,
        "summary_updated_at": convert.date(overview.summary_updated_at) if overview.summary_updated_at else None,
    }


class MessageSearch(BaseModel):
    model_config = ConfigDict(extra="allow")
    query: str = Field(max_length=10_000)
    agent_id: str | None = None
    limit: int = Field(default=50, ge=1, le=1000)
    search_mode: Literal["vector", "fts", "hybrid"] = "hybrid"
    start_date: str | None = None
    end_date: str | None = None
    page: int = Field(default=0, ge=0, le=1000)  # memgpt's: page ``page`` of size ``limit`` of one ranking


@router.post("/v1/messages/search")
async def search_messages(body: MessageSearch, client: Caller) -> list[Json]:
    """One agent's recall store ranked by words and meaning (what ``conversation_search`` finds), best first."""
    if body.agent_id is None:
        raise ValidationError("Give agent_id: memgpt searches the recall store of one agent at a time.")
    if body.start_date is not None or body.end_date is not None:
        raise ValidationError(
            "start_date and end_date are not supported here; name the dates in the query (recall search ranks "
            "messages of the dates a query names higher)."
        )
    state = await client.get_agent(body.agent_id)
    if not body.query.strip():
        return []
    page = await client.search(state.id, body.query, page=body.page, page_size=body.limit, mode=MODES[body.search_mode])
    return [_message_hit(state.id, hit) for hit in page.hits]


def _message_hit(agent_id: str, hit: SearchHit) -> Json:
    kind = MESSAGE_TYPES.get(hit.role or "", "system_message")
    found: Json = {
        "message_type": kind,
        "message_id": hit.id,
        "agent_id": agent_id,
        "created_at": convert.date(hit.created_at),
        "content": hit.text,
        "score": hit.score,
        "role": hit.role,
    }
    return found | ({"name": hit.name} if hit.name else {})
