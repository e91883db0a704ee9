"""Letta's message routes: send a message (a whole ``LettaResponse``, or server-sent events), list them."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict

from memgpt.agent.events import AgentEvent
from memgpt.client import Client
from memgpt.errors import AgentBusyError, LLMError, PartlyAnsweredError, ValidationError
from memgpt.memory.types import Message
from memgpt.server.auth import Caller
from memgpt.server.failures import SSE_HEADERS, outcome, step_failure
from memgpt.server.letta import convert
from memgpt.server.letta.paging import Order
from memgpt.server.letta.stream import LettaMessages

router = APIRouter(prefix="/v1/agents", tags=["messages"])
log = logging.getLogger("memgpt.server")
Json = dict[str, Any]
PING_S = 15.0  # a comment line after this much silence keeps proxies and the SDK's 60 s read timeout at bay
Input = tuple[Literal["user", "system"], str, str | None]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow")


class MessageIn(_Lenient):
    role: Literal["user", "system", "assistant"]
    content: str | list[dict[str, Any]]
    name: str | None = None


class MessageRequest(_Lenient):
    messages: list[MessageIn] | None = None
    input: str | list[dict[str, Any]] | None = None
    streaming: bool = False
    stream_tokens: bool = False
    include_pings: bool = True


def inputs(body: MessageRequest) -> list[Input]:
    """The inputs of a request: its messages in order (``input`` is a user message), each checked as
    :meth:`Client.send_message` would, so that a bad one refuses the request before any of them runs."""
    found = _inputs(body)
    return [(role, text, Client.check_message(text, role=role, name=name)) for role, text, name in found]


def _inputs(body: MessageRequest) -> list[Input]:
    if (body.messages is None) == (body.input is None):
        raise ValidationError("Give either messages or input (one of them, not both).")
    if body.input is not None:
        return [("user", _text(body.input), None)]
    assert body.messages is not None
    if not body.messages:
        raise ValidationError("messages is empty: send at least one message.")
    found: list[Input] = []
    for message in body.messages:
        if message.role == "assistant":
            raise ValidationError("Only user and system messages can be sent; the agent writes its own.")
        found.append((message.role, _text(message.content), message.name))
    return found


def _text(content: str | list[dict[str, Any]]) -> str:
    """The text of a message content: a string, or text parts (``type`` may be missing, as the SDK sends them)."""
    if isinstance(content, str):
        return content
    parts = []
    for part in content:
        if part.get("type", "text") != "text" or not isinstance(part.get("text"), str):
            raise ValidationError(f"Only text content is supported, got a {part.get('type', 'part')!r} part.")
        parts.append(part["text"])
    return "\n".join(parts)


async def send_all(
    client: Client, agent_id: str, sent: list[Input], on_event: Callable[[AgentEvent], None], *, stream: bool
) -> None:
    """Send a request's inputs in order; an agent busy after the first ones were answered is not retriable."""
    for answered, (role, text, name) in enumerate(sent):
        try:
            await client.send_message(agent_id, text, role=role, name=name, on_event=on_event, stream=stream)
        except AgentBusyError as exc:
            if not answered:
                raise  # nothing ran: the SDK may send the request again
            raise PartlyAnsweredError(
                f"{exc} The first {answered} of the {len(sent)} messages were answered and saved; send only the "
                "rest again."
            ) from exc


@router.post("/{agent_id}/messages", response_model=None)
async def send_message(
    agent_id: str, body: MessageRequest, request: Request, client: Caller
) -> Json | StreamingResponse:
    if body.streaming:
        return await _stream(agent_id, body, request, client)
    sent = inputs(body)
    converter = LettaMessages()
    out: list[Json] = []
    step = request.app.state.memgpt.run_step(
        send_all(client, agent_id, sent, lambda e: out.extend(converter.convert(e)), stream=False)
    )
    await asyncio.shield(step)  # a client that hangs up does not cancel the step: its reply is saved
    return {"messages": out, "stop_reason": converter.stop(), "usage": converter.usage()}


@router.post("/{agent_id}/messages/stream")
async def stream_message(agent_id: str, body: MessageRequest, request: Request, client: Caller) -> StreamingResponse:
    return await _stream(agent_id, body, request, client)


async def _stream(agent_id: str, body: MessageRequest, request: Request, client: Caller) -> StreamingResponse:
    sent = inputs(body)
    state = await client.get_agent(agent_id)  # errors before the stream are plain JSON errors
    events: asyncio.Queue[AgentEvent] = asyncio.Queue()
    step = request.app.state.memgpt.run_step(
        send_all(client, state.id, sent, events.put_nowait, stream=body.stream_tokens)
    )
    frames = _frames(step, events, LettaMessages(stream_tokens=body.stream_tokens), body.include_pings)
    return StreamingResponse(frames, media_type="text/event-stream", headers=SSE_HEADERS)


async def _frames(
    step: asyncio.Task[Any], events: asyncio.Queue[AgentEvent], converter: LettaMessages, pings: bool
) -> AsyncIterator[str]:
    """Server-sent events of the step as it runs: its messages, then the stop reason, usage and ``[DONE]``."""
    yield ": memgpt stream\n\n"  # the headers and a first byte go out at once
    while True:
        waiting = asyncio.ensure_future(events.get())
        done, _ = await asyncio.wait({waiting, step}, timeout=PING_S, return_when=asyncio.FIRST_COMPLETED)
        if waiting in done:
            for chunk in converter.convert(waiting.result()):
                yield _data(chunk)
            continue
        waiting.cancel()
        if step.done():
            break
        if pings:
            yield ": ping\n\n"
    while not events.empty():
        for chunk in converter.convert(events.get_nowait()):
            yield _data(chunk)
    error = outcome(step)
    if error is None:
        yield _data(converter.stop())
        yield _data(converter.usage())
    else:
        yield _data({"message_type": "stop_reason", "stop_reason": _stop_reason(error)})
        yield f"event: error\ndata: {json.dumps(_error_message(error))}\n\n"
    yield "data: [DONE]\n\n"


def _data(chunk: Json) -> str:
    return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"


def _stop_reason(error: BaseException) -> str:
    if isinstance(error, asyncio.CancelledError):
        return "cancelled"
    return "llm_api_error" if isinstance(error, LLMError) else "error"


def _error_message(error: BaseException) -> Json:
    kind, message = step_failure(error)
    return {"message_type": "error_message", "run_id": f"run-{uuid.uuid4()}", "error_type": kind, "message": message}


@router.get("/{agent_id}/messages")
async def list_messages(
    agent_id: str,
    client: Caller,
    after: str | None = None,
    before: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    order: Order = "desc",
) -> list[Json]:
    """Letta's semantics: cursors bound the window in time whatever the order; ``desc`` takes the newest
    ``limit`` messages of it, ``asc`` the oldest; the page is in time order either way.

    ``limit`` counts stored messages that show as at least one Letta message (a send_message result shows as
    none): a page is never empty while messages remain, since the SDK stops at the first empty page."""
    newest = order == "desc"
    rows: list[Message] = []
    shown = 0
    while shown < limit:
        bounds = (after, rows[0].id if rows else before) if newest else (rows[-1].id if rows else after, before)
        more = await client.message_window(
            agent_id, after=bounds[0], before=bounds[1], limit=limit - shown, newest=newest
        )
        if not more:
            break
        rows = more + rows if newest else rows + more
        shown += sum(1 for row in more if convert.message(row))
    return convert.messages(rows)
