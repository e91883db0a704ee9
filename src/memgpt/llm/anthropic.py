"""Anthropic chat client on the ``anthropic`` SDK (optional extra: ``pip install 'memgpt[anthropic]'``).

memgpt speaks the OpenAI chat format internally; :func:`to_anthropic` converts a request (system
messages into ``system``, tool calls into ``tool_use`` blocks, tool results into ``tool_result``
blocks, consecutive same-role turns merged so roles alternate) and the reply is converted back.
"""

from __future__ import annotations

import json
from typing import Any

from memgpt.errors import ConfigError, ContextWindowExceededError, LLMError
from memgpt.llm.base import ChatRequest, ChatResponse, DeltaCallback
from memgpt.llm.replies import (
    AnthropicStream,
    anthropic_response,
    guarded_lines,
    is_context_overflow,
    parse_json_object,
    read_body,
    sse_payloads,
)
from memgpt.validation import clean_json, to_text

DEFAULT_MAX_TOKENS = 4096
ENDPOINT = "Anthropic's API"


def _tool_input(arguments: str) -> dict[str, Any]:
    try:
        value = json.loads(arguments or "{}")
    except (ValueError, RecursionError):
        return {"_raw_arguments": arguments}  # keep what the model said, even when it is not JSON
    return clean_json(value) if isinstance(value, dict) else {"_raw_arguments": arguments}


def _blocks(message: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    role = message["role"]
    if role == "tool":
        return "user", [
            {
                "type": "tool_result",
                "tool_use_id": message.get("tool_call_id", ""),
                "content": message.get("content") or "",
            }
        ]
    blocks: list[dict[str, Any]] = []
    if message.get("content"):
        blocks.append({"type": "text", "text": message["content"]})
    for call in message.get("tool_calls") or []:
        function = call["function"]
        blocks.append(
            {
                "type": "tool_use",
                "id": call["id"],
                "name": function["name"],
                "input": _tool_input(function.get("arguments", "")),
            }
        )
    return ("assistant" if role == "assistant" else "user"), blocks


def to_anthropic(request: ChatRequest) -> dict[str, Any]:
    """The keyword arguments of ``messages.create`` for an OpenAI-format request."""
    system = "\n\n".join(m["content"] for m in request.messages if m["role"] == "system" and m.get("content"))
    turns: list[dict[str, Any]] = []
    for message in request.messages:
        if message["role"] == "system":
            continue
        role, blocks = _blocks(message)
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    if not turns or turns[0]["role"] != "user":
        turns.insert(0, {"role": "user", "content": [{"type": "text", "text": "(conversation continues)"}]})
    params: dict[str, Any] = {"messages": turns, "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS}
    if system:
        params["system"] = system
    if request.temperature is not None:
        params["temperature"] = request.temperature
    if request.tools:
        params["tools"] = [
            {
                "name": t["function"]["name"],
                "description": t["function"].get("description", ""),
                "input_schema": t["function"].get("parameters", {"type": "object", "properties": {}}),
            }
            for t in request.tools
        ]
        params["tool_choice"] = {"type": "any"} if request.tool_choice == "required" else {"type": "auto"}
    return params


def _sent_as_is(params: dict[str, Any]) -> dict[str, Any]:
    """The request with its long parts as ``extra_body``, which the SDK sends untouched: as parameters it
    walks them against its TypedDicts first, a cost that grows with every message in the window (the
    OpenAI SDK's same walk took 12 ms a call at 200 messages)."""
    heavy = {key: params[key] for key in ("messages", "tools", "system") if key in params}
    light = {key: value for key, value in params.items() if key not in heavy}
    return light | {"messages": [], "extra_body": heavy}


def from_anthropic(message: Any) -> ChatResponse:
    """A ChatResponse from an Anthropic ``Message`` (its JSON body, or an object with its attributes)."""
    return anthropic_response(message)


class AnthropicClient:
    """:class:`memgpt.llm.base.LLMClient` for Anthropic's Messages API."""

    def __init__(
        self, model: str, *, api_key: str, base_url: str | None = None, timeout: float = 120.0, max_retries: int = 3
    ) -> None:
        try:
            from anthropic import AsyncAnthropic
        except ImportError:
            raise ConfigError("Anthropic models need the SDK: pip install 'memgpt[anthropic]'.") from None
        self.model = model
        self._client = AsyncAnthropic(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=max_retries)

    async def chat(self, request: ChatRequest, on_delta: DeltaCallback | None = None) -> ChatResponse:
        import anthropic

        params = _sent_as_is({"model": self.model, **to_anthropic(request)})
        try:
            if on_delta is None:
                raw = await self._client.messages.with_raw_response.create(**params)
                return anthropic_response(
                    parse_json_object(await read_body(raw.http_response, _broken), ENDPOINT), ENDPOINT
                )
            stream = AnthropicStream(ENDPOINT, on_delta)
            async with self._client.messages.with_streaming_response.create(**params, stream=True) as response:
                async for payload in sse_payloads(guarded_lines(response.iter_lines(), _broken)):
                    stream.add(payload)
            return stream.response()
        except anthropic.AuthenticationError:
            raise LLMError("Anthropic rejected the API key; check ANTHROPIC_API_KEY / MEMGPT_LLM_API_KEY.") from None
        except anthropic.APIStatusError as exc:
            message = to_text(exc.message)
            if exc.status_code in (400, 413) and is_context_overflow(message):
                raise ContextWindowExceededError(f"The prompt is longer than {self.model}'s context window.") from None
            raise LLMError(f"Anthropic answered HTTP {exc.status_code}: {message[:200]}") from None
        except anthropic.APIConnectionError:
            raise LLMError("Cannot reach Anthropic's API; check the network or MEMGPT_LLM_BASE_URL.") from None

    async def close(self) -> None:
        await self._client.close()


def _broken(exc: Exception) -> LLMError:
    return LLMError(f"The connection to Anthropic's API broke during the reply ({type(exc).__name__}).")
