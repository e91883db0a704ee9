"""OpenAI-compatible chat client (OpenAI, vLLM, Ollama, llama.cpp server, LM Studio) on the ``openai`` SDK.

The SDK is imported when a client is built (it takes ~2 s), never at CLI start-up. Retries with
exponential backoff on 408/409/429/5xx and connection errors are the SDK's own (``max_retries``).
"""

from __future__ import annotations

from typing import Any

from memgpt.errors import ContextWindowExceededError, LLMError
from memgpt.llm.base import ChatRequest, ChatResponse, DeltaCallback, Usage
from memgpt.memory.types import ToolCall

CONTEXT_PHRASES = (
    "context_length_exceeded",
    "maximum context length",
    "context length",
    "context window",
    "too many tokens",
    "prompt is too long",
    "exceeds the context",
)


def is_context_overflow(message: str, code: str | None = None) -> bool:
    """Whether an error reply means the prompt does not fit the model's window (as providers phrase it)."""
    text = f"{code or ''} {message}".lower()
    return any(phrase in text for phrase in CONTEXT_PHRASES)


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

        params: dict[str, Any] = {"model": self.model, "messages": request.messages}
        if request.tools:
            params["tools"] = request.tools
            params["tool_choice"] = request.tool_choice
        if request.temperature is not None:
            params["temperature"] = request.temperature
        if request.max_tokens is not None:
            params["max_tokens"] = request.max_tokens
        try:
            if on_delta is None:
                return self._response(await self._client.chat.completions.create(**params))
            stream = await self._client.chat.completions.create(
                **params, stream=True, stream_options={"include_usage": True}
            )
            return await self._collect(stream, on_delta)
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

    def _status_error(self, exc: Any) -> LLMError:
        body = exc.body if isinstance(exc.body, dict) else {}
        error = body.get("error", body) if isinstance(body.get("error", body), dict) else {}
        message = str(error.get("message") or exc.message or "")
        code = error.get("code")
        if exc.status_code in (400, 413) and is_context_overflow(message, str(code) if code else None):
            return ContextWindowExceededError(
                f"The prompt is longer than {self.model}'s context window: {message[:200]}"
            )
        if exc.status_code == 404:
            return LLMError(f"Model {self.model!r} not found at {self.base_url} (HTTP 404): {message[:200]}")
        return LLMError(f"The LLM endpoint {self.base_url} answered HTTP {exc.status_code}: {message[:200]}")

    @staticmethod
    def _response(completion: Any) -> ChatResponse:
        if not completion.choices:
            return ChatResponse(content=None, model=completion.model or "")
        choice = completion.choices[0]
        calls = [
            ToolCall(id=c.id or "", name=c.function.name or "", arguments=c.function.arguments or "")
            for c in choice.message.tool_calls or []
        ]
        usage = completion.usage
        return ChatResponse(
            content=choice.message.content,
            tool_calls=calls,
            usage=Usage(usage.prompt_tokens or 0, usage.completion_tokens or 0) if usage else None,
            finish_reason=choice.finish_reason,
            model=completion.model or "",
        )

    @staticmethod
    async def _collect(stream: Any, on_delta: DeltaCallback) -> ChatResponse:
        content: list[str] = []
        calls: dict[int, dict[str, str]] = {}
        usage: Usage | None = None
        finish: str | None = None
        model = ""
        async for chunk in stream:
            model = chunk.model or model
            if chunk.usage:
                usage = Usage(chunk.usage.prompt_tokens or 0, chunk.usage.completion_tokens or 0)
            if not chunk.choices:
                continue
            choice = chunk.choices[0]
            finish = choice.finish_reason or finish
            delta = choice.delta
            if delta.content:
                content.append(delta.content)
                on_delta(delta.content)
            for part in delta.tool_calls or []:
                call = calls.setdefault(part.index, {"id": "", "name": "", "arguments": ""})
                call["id"] = part.id or call["id"]
                if part.function is not None:
                    call["name"] += part.function.name or ""
                    call["arguments"] += part.function.arguments or ""
        return ChatResponse(
            content="".join(content) or None,
            tool_calls=[ToolCall(**calls[i]) for i in sorted(calls)],
            usage=usage,
            finish_reason=finish,
            model=model,
        )

    async def close(self) -> None:
        await self._client.close()
