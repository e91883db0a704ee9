"""OpenAI-compatible chat: ``POST /v1/chat/completions`` where ``model`` names an agent, and ``GET /v1/models``.

Any app built on the OpenAI SDK gets a stateful agent by changing its base URL. Only the request's last
user message is taken: the agent keeps its own history (memory, recall, summary), so what an app resends
of the conversation is not fed to it again. The reply is what the agent sent with ``send_message``.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict

from memgpt.agent.events import AgentEvent
from memgpt.errors import ValidationError
from memgpt.server.auth import Caller
from memgpt.server.failures import SSE_HEADERS, outcome, step_failure
from memgpt.server.letta import convert

router = APIRouter(tags=["openai"])
Json = dict[str, Any]
PREFIX = "memgpt/"


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str
    messages: list[ChatMessage]
    stream: bool = False
    stream_options: dict[str, Any] | None = None


def agent_name(model: str) -> str:
    """The agent a model name refers to: ``memgpt/<agent>`` or the agent's name or id."""
    return model.removeprefix(PREFIX)


def last_user_text(messages: list[ChatMessage]) -> tuple[str, str | None]:
    for message in reversed(messages):
        if message.role == "user":
            content = message.content
            if isinstance(content, list):
                texts = [p.get("text") for p in content if p.get("type", "text") == "text"]
                content = "\n".join(t for t in texts if isinstance(t, str))
            if content:
                return content, message.name
    raise ValidationError("messages has no user message with text: the agent needs something to answer.")


@router.post("/v1/chat/completions", response_model=None)
async def chat_completions(body: ChatCompletionRequest, request: Request, client: Caller) -> Json | StreamingResponse:
    state = await client.get_agent(agent_name(body.model))
    text, sender = last_user_text(body.messages)
    completion = {"id": f"chatcmpl-{uuid.uuid4().hex}", "created": int(time.time()), "model": body.model}
    if body.stream:
        include_usage = bool((body.stream_options or {}).get("include_usage"))
        events: asyncio.Queue[AgentEvent] = asyncio.Queue()
        step = request.app.state.memgpt.run_step(
            client.send_message(state.id, text, name=sender, on_event=events.put_nowait, stream=True)
        )
        frames = completion_chunks(step, events, completion, include_usage)
        return StreamingResponse(frames, media_type="text/event-stream", headers=SSE_HEADERS)
    step = request.app.state.memgpt.run_step(client.send_message(state.id, text, name=sender))
    events_list: list[AgentEvent] = await asyncio.shield(step)
    reply = "\n\n".join(e.content or "" for e in events_list if e.type == "assistant_message")
    message = {"role": "assistant", "content": reply}
    return completion | {
        "object": "chat.completion",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": _usage(events_list),
    }


def _usage(events: list[AgentEvent]) -> Json:
    prompt = sum(int(e.data.get("prompt_tokens") or 0) for e in events if e.type == "usage")
    completion = sum(int(e.data.get("completion_tokens") or 0) for e in events if e.type == "usage")
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


async def completion_chunks(
    step: asyncio.Task[Any], events: asyncio.Queue[AgentEvent], completion: Json, include_usage: bool
) -> AsyncIterator[str]:
    """The reply as chat.completion.chunk events: send_message text as it is generated, then [DONE]."""

    def chunk(delta: Json, finish: str | None = None) -> str:
        body = completion | {
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    seen: list[AgentEvent] = []
    streamed: set[str] = set()
    while not (step.done() and events.empty()):
        waiting = asyncio.ensure_future(events.get())
        done, _ = await asyncio.wait({waiting, step}, return_when=asyncio.FIRST_COMPLETED)
        if waiting not in done:
            waiting.cancel()
            continue
        event = waiting.result()
        seen.append(event)
        message_id = str(event.data.get("message_id", ""))
        if event.type == "assistant_message_delta" and event.content:
            streamed.add(message_id)
            yield chunk({"content": event.content})
        elif event.type == "assistant_message" and message_id not in streamed:
            yield chunk({"content": event.content or ""})
    error = outcome(step)
    if error is not None:  # OpenAI's own stream error: the SDK raises it as an APIError
        kind, message = step_failure(error)
        yield f"data: {json.dumps({'error': {'message': message, 'type': kind}})}\n\n"
    else:
        yield chunk({}, "stop")
        if include_usage:
            body = completion | {"object": "chat.completion.chunk", "choices": [], "usage": _usage(seen)}
            yield f"data: {json.dumps(body)}\n\n"
    yield "data: [DONE]\n\n"


@router.get("/v1/models")
async def list_models(client: Caller) -> Json:
    """OpenAI's model list: one model per agent of the caller, ``memgpt/<agent name>``."""
    data = [
        {"id": f"{PREFIX}{a.name}", "object": "model", "created": int(a.created_at.timestamp()), "owned_by": "memgpt"}
        for a in await client.list_agents()
    ]
    return {"object": "list", "data": data}


@router.get("/v1/models/", tags=["letta"])
async def list_llm_models(client: Caller) -> list[Json]:
    """Letta's model list (its SDK calls this path, with the slash): the models the caller's agents use."""
    seen: dict[str, Json] = {}
    for agent in await client.list_agents():
        view = convert.agent(await client.describe_agent(agent))
        seen.setdefault(agent.model, view["llm_config"])
    return list(seen.values())
