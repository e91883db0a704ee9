"""memgpt's own agent events as server-sent events: what ``memgpt chat --json`` prints, as the step runs.

Letta's message stream has no place for heartbeats, memory-pressure alerts or evictions; this one sends every
:class:`~memgpt.agent.events.AgentEvent` (``event.to_dict()``, the reply's pieces included) as one
``data:`` line each, then ``data: [DONE]``. A step that fails ends with an ``error`` event
(``{"type": "error", "content": <what went wrong>, "error": <kind>}``, as :func:`step_failure` describes it
for every stream) before ``[DONE]``. As with Letta's routes, the request's messages are all checked before
any runs, and a client that hangs up does not cancel the step: its reply is saved and listed later.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from memgpt.agent.events import AgentEvent
from memgpt.server.auth import Caller
from memgpt.server.failures import SSE_HEADERS, outcome, step_failure
from memgpt.server.letta.messages import PING_S, MessageRequest, inputs, send_all

router = APIRouter(prefix="/v1/agents", tags=["messages"])


@router.post("/{agent_id}/messages/events")
async def stream_events(agent_id: str, body: MessageRequest, request: Request, client: Caller) -> StreamingResponse:
    """Send messages (as ``POST /v1/agents/{id}/messages``) and stream every event of the steps they start;
    the reply comes token by token unless ``stream_tokens`` is false."""
    sent = inputs(body)
    state = await client.get_agent(agent_id)  # errors before the stream are plain JSON errors
    events: asyncio.Queue[AgentEvent] = asyncio.Queue()
    tokens = body.stream_tokens or "stream_tokens" not in body.model_fields_set
    step = request.app.state.memgpt.run_step(send_all(client, state.id, sent, events.put_nowait, stream=tokens))
    return StreamingResponse(_frames(step, events), media_type="text/event-stream", headers=SSE_HEADERS)


async def _frames(step: asyncio.Task[Any], events: asyncio.Queue[AgentEvent]) -> AsyncIterator[str]:
    yield ": memgpt events\n\n"  # the headers and a first byte go out at once
    while True:
        waiting = asyncio.ensure_future(events.get())
        done, _ = await asyncio.wait({waiting, step}, timeout=PING_S, return_when=asyncio.FIRST_COMPLETED)
        if waiting in done:
            yield _data(waiting.result())
            continue
        waiting.cancel()
        if step.done():
            break
        yield ": ping\n\n"
    while not events.empty():
        yield _data(events.get_nowait())
    error = outcome(step)
    if error is not None:
        kind, message = step_failure(error)
        yield _data(AgentEvent("error", message, {"error": kind}))
    yield "data: [DONE]\n\n"


def _data(event: AgentEvent) -> str:
    return f"data: {json.dumps(event.to_dict(), ensure_ascii=False, default=str)}\n\n"
