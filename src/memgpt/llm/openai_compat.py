"""OpenAI-compatible chat client (OpenAI, vLLM, Ollama, llama.cpp server, LM Studio) on the ``openai`` SDK.

The SDK is imported when a client is built (it takes ~2 s), never at CLI start-up. Retries with
exponential backoff on 408/409/429/5xx and connection errors are the SDK's own (``max_retries``).
The SDK sends the request and maps HTTP errors; the reply body is read raw and validated by
:mod:`memgpt.llm.replies`, so a malformed reply is an :class:`LLMError`, never an exception from deep
inside the SDK. Tool calls a local model wrote as text are recognised (:mod:`memgpt.llm.text_tool_calls`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

from memgpt.errors import ContextWindowExceededError, LLMError
from memgpt.llm.base import ChatRequest, ChatResponse, DeltaCallback
from memgpt.llm.replies import (
    CONTEXT_PHRASES,
    OpenAIStream,
    guarded_lines,
    is_context_overflow,
    openai_response,
    read_body,
    sse_payloads,
)
from memgpt.llm.text_tool_calls import tool_calls_in_text
from memgpt.validation import to_text

__all__ = ["CONTEXT_PHRASES", "OpenAICompatibleClient", "is_context_overflow"]


class OpenAICompatibleClient:
    """:class:`memgpt.llm.base.LLMClient` for any server speaking OpenAI's chat completions API."""

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 120.0,
        max_retries: int = 3,
    ) -> None:
        from openai import AsyncOpenAI

        self.model = model
        self.base_url = base_url or "https://api.openai.com/v1"
        self._client = AsyncOpenAI(
            api_key=api_key or ("not-needed" if base_url else None),
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
        )

    async def chat(self, request: ChatRequest, on_delta: DeltaCallback | None = None) -> ChatResponse:
        import openai

        # The messages and tools go in as extra_body, which the SDK sends as it is: given as parameters, it
        # walks them against its TypedDicts first, which cost 12 ms a call at 200 messages in the window
        # and grew with every message (benchmarks/server.py latency: 72 ms p50 per step at 200, 5 after).
        body: dict[str, Any] = {"messages": request.messages}
        params: dict[str, Any] = {"model": self.model, "messages": [], "extra_body": body}
        if request.tools:
            body["tools"] = request.tools
            params["tool_choice"] = request.tool_choice
        if request.temperature is not None:
            params["temperature"] = request.temperature
        if request.max_tokens is not None:
            params["max_tokens"] = request.max_tokens
        try:
            if on_delta is None:
                raw = await self._client.chat.completions.with_raw_response.create(**params)
                response = openai_response(await read_body(raw.http_response, self._broken), self.base_url)
            else:
                response = await self._stream(params, on_delta)
        except openai.AuthenticationError as exc:
            raise LLMError(
                f"The LLM endpoint {self.base_url} rejected the API key (HTTP {exc.status_code}); "
                "check MEMGPT_LLM_API_KEY / OPENAI_API_KEY."
            ) from None
        except openai.PermissionDeniedError as exc:
            raise LLMError(f"The LLM endpoint {self.base_url} refused access (HTTP {exc.status_code}).") from None
        except openai.APIStatusError as exc:
            raise self._status_error(exc) from None
        except openai.APITimeoutError:
            raise LLMError(f"The LLM endpoint {self.base_url} did not answer in time; is the model loaded?") from None
        except openai.APIConnectionError:
            raise LLMError(
                f"Cannot reach the LLM endpoint {self.base_url}; check MEMGPT_LLM_BASE_URL and that the server runs."
            ) from None
        return with_text_tool_calls(response, request)

    async def _stream(self, params: dict[str, Any], on_delta: DeltaCallback) -> ChatResponse:
        stream = OpenAIStream(self.base_url, on_delta)
        other: list[str] = []  # a server that ignores "stream": true answers with one plain completion
        create = self._client.chat.completions.with_streaming_response.create
        async with create(**params, stream=True, stream_options={"include_usage": True}) as raw:
            async for payload in sse_payloads(self._lines(raw.iter_lines(), other)):
                stream.add(payload)
        if not stream.calls and not stream.content and stream.usage is None and other:
            return openai_response("\n".join(other).encode("utf-8", "replace"), self.base_url)
        return stream.response()

    async def _lines(self, lines: AsyncIterator[str], other: list[str]) -> AsyncIterator[str]:
        async for line in guarded_lines(lines, self._broken):
            if line.strip() and not line.startswith(("data:", "event:", "id:", "retry:", ":")):
                other.append(line)
            yield line

    def _broken(self, exc: Exception) -> LLMError:
        return LLMError(
            f"The connection to the LLM endpoint {self.base_url} broke during the reply ({type(exc).__name__})."
        )

    def _status_error(self, exc: Any) -> LLMError:
        body = exc.body if isinstance(exc.body, dict) else {}
        error = body.get("error", body) if isinstance(body.get("error", body), dict) else {}
        message = to_text(error.get("message") or exc.message or "")
        code = error.get("code")
        if exc.status_code in (400, 413) and is_context_overflow(message, str(code) if code else None):
            return ContextWindowExceededError(
                f"The prompt is longer than {self.model}'s context window: {message[:200]}"
            )
        if exc.status_code == 404:
            return LLMError(f"Model {self.model!r} not found at {self.base_url} (HTTP 404): {message[:200]}")
        return LLMError(f"The LLM endpoint {self.base_url} answered HTTP {exc.status_code}: {message[:200]}")

    async def close(self) -> None:
        await self._client.close()


def with_text_tool_calls(response: ChatResponse, request: ChatRequest) -> ChatResponse:
    """``response`` with the tool calls a local model wrote as its whole content turned into real calls."""
    if response.tool_calls or not response.content or not request.tools:
        return response
    functions = {tool.get("function", {}).get("name") for tool in request.tools}
    calls = tool_calls_in_text(response.content, {name for name in functions if isinstance(name, str)})
    if calls is None:
        return response
    return replace(response, content=None, tool_calls=calls, finish_reason="tool_calls")
