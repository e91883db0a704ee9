"""The in-process scripted LLM: the same script format as the HTTP server, with zero latency."""

from __future__ import annotations

from typing import Any

from memgpt.errors import ContextWindowExceededError, LLMError
from memgpt.llm.base import ChatRequest, ChatResponse, Delta, DeltaCallback, Usage
from memgpt.llm.replies import openai_response
from memgpt.memory.types import ToolCall
from memgpt.testing.script import Reply, ScriptExhaustedError, ScriptPlayer, reply_tokens, request_tokens


class ScriptedLLM:
    """An :class:`memgpt.llm.base.LLMClient` answering from a script or a policy ``f(request_body) -> reply``."""

    def __init__(self, script: Any, *, model: str = "scripted") -> None:
        self.model = model
        self._player = ScriptPlayer(script)
        self.requests: list[dict[str, Any]] = []
        self._calls = 0

    async def chat(self, request: ChatRequest, on_delta: DeltaCallback | None = None) -> ChatResponse:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": request.messages,
            "tools": request.tools,
            "tool_choice": request.tool_choice,
        }
        self.requests.append(body)
        try:
            _, reply = self._player.next(body)
        except ScriptExhaustedError as exc:
            raise LLMError(f"Scripted LLM: {exc}.") from None
        if reply.raw is not None:  # through the same validation as an HTTP reply
            if reply.raw.status != 200:
                raise LLMError(f"Scripted LLM: HTTP {reply.raw.status}.")
            return openai_response(reply.raw.body, "scripted")
        if reply.error:
            message = str(reply.error.get("message", "scripted error"))
            if reply.error.get("code") == "context_length_exceeded":
                raise ContextWindowExceededError(message)
            raise LLMError(message)
        self._calls += 1
        if on_delta is not None:
            stream_pieces(reply, on_delta)
        calls = [
            ToolCall(id=f"call_{self._calls}_{i}", name=n, arguments=a) for i, (n, a) in enumerate(reply.tool_calls)
        ]
        return ChatResponse(
            content=reply.content,
            tool_calls=calls,
            usage=Usage(request_tokens(body), reply_tokens(reply)),
            finish_reason="tool_calls" if calls else "stop",
            model=self.model,
        )

    async def close(self) -> None:
        return None


STREAM_PIECE = 8  # characters per streamed piece: enough pieces to exercise whoever assembles them


def stream_pieces(reply: Reply, on_delta: DeltaCallback) -> None:
    """The reply's content and each call's arguments, passed on in small pieces as a provider streams them."""
    text = reply.content or ""
    for start in range(0, len(text), STREAM_PIECE):
        on_delta(Delta(text[start : start + STREAM_PIECE]))
    for index, (name, arguments) in enumerate(reply.tool_calls):
        for start in range(0, len(arguments), STREAM_PIECE):
            on_delta(Delta(arguments[start : start + STREAM_PIECE], call=index, name=name))
