"""The boundary where an LLM endpoint's reply becomes a well-formed :class:`ChatResponse` or an :class:`LLMError`.

Whatever an endpoint sends back (not JSON, invalid UTF-8, JSON nested 100,000 deep, an HTML page, a bare
``null``, a chat completion of the wrong shape) ends here, never deeper in the agent. The rules:

- The structure must be right: the body is a JSON object; ``choices`` (OpenAI) is a list whose first
  item (the one memgpt asked for) is an object with a ``message`` (or a ``delta``) object, whose
  ``tool_calls`` is a list of objects; Anthropic's ``content`` is a list of objects. Anything else is an
  :class:`LLMError` that names the endpoint and the first place that was wrong.
- The leaves are repaired, not refused, since a model cannot be asked to fix them: text goes through
  :func:`memgpt.validation.clean_text` (lone surrogates and NUL become U+FFFD) and is cut to
  :data:`memgpt.validation.MAX_TEXT_CHARS`; a content given as a list of parts is joined; a tool call's
  ``arguments`` given as an object are serialised; a ``name`` that is not text becomes its JSON text (the
  agent then answers it with a ``Failed`` result: no such function); a ``function: null`` is a call of
  no function; token counts that are not non-negative integers count as unknown.
- Tool call ids are unique within a reply and safe for every provider (``[A-Za-z0-9_-]{1,64}``);
  others get a fresh id.

The pydantic models below describe what is accepted; their validators do the repairs.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict
from pydantic import ValidationError as ShapeError

from memgpt.errors import ContextWindowExceededError, LLMError
from memgpt.llm.base import ChatResponse, Delta, DeltaCallback, Usage
from memgpt.memory.types import ToolCall, new_id
from memgpt.validation import MAX_TEXT_CHARS, clean_text, is_safe_id, to_text

M = TypeVar("M", bound=BaseModel)
CONTEXT_PHRASES = (
    "context_length_exceeded",
    "maximum context length",
    "context length",
    "context window",
    "too many tokens",
    "prompt is too long",
    "exceeds the context",
)
MAX_TOKEN_COUNT = 1 << 40  # a reported count above this is nonsense (and would overflow float arithmetic)


def is_context_overflow(message: str, code: str | None = None) -> bool:
    """Whether an error reply means the prompt does not fit the model's window (as providers phrase it)."""
    text = f"{code or ''} {message}".lower()
    return any(phrase in text for phrase in CONTEXT_PHRASES)


# --------------------------------------------------------------------------- leaf repairs
def as_content(value: Any) -> str | None:
    """A message content: text, or the joined text parts of a list (``[{"type": "text", "text": ...}]``)."""
    if value is None:
        return None
    if isinstance(value, list):
        parts = [part if isinstance(part, str) else _part_text(part) for part in value]
        return to_text("".join(parts))
    return to_text(value)


def _part_text(part: Any) -> str:
    text = part.get("text") if isinstance(part, dict) else None
    return text if isinstance(text, str) else ""


def as_count(value: Any) -> int:
    """A token count; 0 (unknown) unless it is an integer in ``[0, MAX_TOKEN_COUNT)``."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < MAX_TOKEN_COUNT:
        return value
    return 0


def object_or_none(value: Any) -> Any:
    """An optional object: a JSON value that is not an object counts as absent."""
    return None if value is None or isinstance(value, str | int | float | list) else value


Text = Annotated[str, BeforeValidator(to_text)]
Content = Annotated[str | None, BeforeValidator(as_content)]
Count = Annotated[int, BeforeValidator(as_count)]
Index = Annotated[int | None, BeforeValidator(lambda v: v if isinstance(v, int) and not isinstance(v, bool) else None)]
OptionalText = Annotated[str | None, BeforeValidator(lambda v: None if v is None else to_text(v))]


class _Shape(BaseModel):
    model_config = ConfigDict(extra="ignore", from_attributes=True)


# --------------------------------------------------------------------------- OpenAI chat completions
class _Function(_Shape):
    name: Text = ""
    arguments: Text = ""


class _ToolCall(_Shape):
    id: Text = ""
    function: Annotated[_Function | None, BeforeValidator(object_or_none)] = None

    def to_call(self) -> ToolCall:
        function = self.function or _Function()
        return ToolCall(id=self.id, name=function.name, arguments=function.arguments)


class _Message(_Shape):
    content: Content = None
    tool_calls: list[_ToolCall] | None = None


class _Choice(_Shape):
    message: _Message
    finish_reason: OptionalText = None


class _Usage(_Shape):
    prompt_tokens: Count = 0
    completion_tokens: Count = 0


class _Completion(_Shape):
    choices: list[Any] | None = None  # only the first is used (and validated): memgpt asks for one
    usage: Annotated[_Usage | None, BeforeValidator(object_or_none)] = None
    model: Text = ""


class _CallDelta(_Shape):
    index: Index = None
    id: Text = ""
    function: Annotated[_Function | None, BeforeValidator(object_or_none)] = None


class _Delta(_Shape):
    content: Content = None
    tool_calls: list[_CallDelta] | None = None


class _ChunkChoice(_Shape):
    delta: Annotated[_Delta, BeforeValidator(lambda v: {} if v is None else v)] = _Delta()
    finish_reason: OptionalText = None


class _Chunk(_Shape):
    choices: list[Any] | None = None
    usage: Annotated[_Usage | None, BeforeValidator(object_or_none)] = None
    model: Text = ""


def openai_response(body: bytes, endpoint: str) -> ChatResponse:
    """The ChatResponse of a chat completion body, or LLMError."""
    data = parse_json_object(body, endpoint)
    completion = _validated(_Completion, data, endpoint)
    usage = _usage(completion.usage)
    if not completion.choices:
        return ChatResponse(content=None, usage=usage, model=completion.model)
    choice = _validated(_Choice, completion.choices[0], endpoint, where="choices.0")
    return ChatResponse(
        content=choice.message.content,
        tool_calls=finish_calls(c.to_call() for c in choice.message.tool_calls or ()),
        usage=usage,
        finish_reason=choice.finish_reason,
        model=completion.model,
    )


class OpenAIStream:
    """Assembles a streamed chat completion from its ``data:`` payloads, validating each chunk."""

    def __init__(self, endpoint: str, on_delta: DeltaCallback) -> None:
        self.endpoint = endpoint
        self.on_delta = on_delta
        self.content: list[str] = []
        self.calls: dict[int, dict[str, str]] = {}
        self.usage: Usage | None = None
        self.finish: str | None = None
        self.model = ""
        self.size = 0

    def add(self, payload: str) -> None:
        chunk = _validated(_Chunk, parse_json_object(payload.encode("utf-8", "replace"), self.endpoint), self.endpoint)
        self.model = chunk.model or self.model
        if chunk.usage is not None:
            self.usage = _usage(chunk.usage)
        if not chunk.choices:
            return
        choice = _validated(_ChunkChoice, chunk.choices[0], self.endpoint, where="choices.0")
        self.finish = choice.finish_reason or self.finish
        if choice.delta.content and self.size < MAX_TEXT_CHARS:
            self.content.append(choice.delta.content)
            self.size += len(choice.delta.content)
            self.on_delta(Delta(choice.delta.content))
        for part in choice.delta.tool_calls or ():
            index = part.index if part.index is not None and 0 <= part.index < 1024 else len(self.calls)
            call = self.calls.setdefault(index, {"id": "", "name": "", "arguments": ""})
            call["id"] = part.id or call["id"]
            if part.function is not None:
                call["name"] = (call["name"] + part.function.name)[:MAX_TEXT_CHARS]
                call["arguments"] = (call["arguments"] + part.function.arguments)[:MAX_TEXT_CHARS]
                if part.function.arguments:
                    self.on_delta(Delta(part.function.arguments, call=index, name=call["name"]))

    def response(self) -> ChatResponse:
        return ChatResponse(
            content=as_content("".join(self.content)) or None,
            tool_calls=finish_calls(ToolCall(**self.calls[i]) for i in sorted(self.calls)),
            usage=self.usage,
            finish_reason=self.finish,
            model=self.model,
        )


def _usage(usage: _Usage | None) -> Usage | None:
    return Usage(usage.prompt_tokens, usage.completion_tokens) if usage is not None else None


# --------------------------------------------------------------------------- Anthropic messages
class _Block(_Shape):
    type: Text = ""
    text: Text = ""
    id: Text = ""
    name: Text = ""
    input: Any = None


class _AnthropicUsage(_Shape):
    input_tokens: Count = 0
    output_tokens: Count = 0
    cache_read_input_tokens: Count = 0
    cache_creation_input_tokens: Count = 0

    def to_usage(self) -> Usage:
        prompt = self.input_tokens + self.cache_read_input_tokens + self.cache_creation_input_tokens
        return Usage(prompt, self.output_tokens)


class _AnthropicMessage(_Shape):
    content: list[_Block]
    usage: Annotated[_AnthropicUsage | None, BeforeValidator(object_or_none)] = None
    stop_reason: OptionalText = None
    model: Text = ""


def anthropic_response(message: Any, endpoint: str = "Anthropic") -> ChatResponse:
    """The ChatResponse of an Anthropic ``Message`` (a parsed JSON body, or an object with its attributes)."""
    parsed = _validated(_AnthropicMessage, message, endpoint)
    texts = [b.text for b in parsed.content if b.type == "text"]
    calls = [
        ToolCall(id=b.id, name=b.name, arguments=_input_text(b.input)) for b in parsed.content if b.type == "tool_use"
    ]
    return ChatResponse(
        content=as_content("".join(texts)) or None,
        tool_calls=finish_calls(calls),
        usage=parsed.usage.to_usage() if parsed.usage is not None else None,
        finish_reason=parsed.stop_reason,
        model=parsed.model,
    )


def _input_text(value: Any) -> str:
    return "" if value is None else to_text(value)


class _AnthropicEvent(_Shape):
    type: Text = ""
    index: Index = None
    message: Annotated[dict[str, Any] | None, BeforeValidator(object_or_none)] = None
    content_block: Annotated[_Block | None, BeforeValidator(object_or_none)] = None
    delta: Annotated[dict[str, Any] | None, BeforeValidator(object_or_none)] = None
    usage: Annotated[dict[str, Any] | None, BeforeValidator(object_or_none)] = None
    error: Any = None


class AnthropicStream:
    """Assembles a streamed Anthropic message from its events (``message_start``, ``content_block_*``...)."""

    def __init__(self, endpoint: str, on_delta: DeltaCallback) -> None:
        self.endpoint = endpoint
        self.on_delta = on_delta
        self.blocks: dict[int, dict[str, Any]] = {}
        self.usage = _AnthropicUsage()
        self.stop_reason: str | None = None
        self.model = ""

    def add(self, payload: str) -> None:
        event = _validated(
            _AnthropicEvent, parse_json_object(payload.encode("utf-8", "replace"), self.endpoint), self.endpoint
        )
        if event.type == "error":
            raise _error_reply(self.endpoint, {"error": event.error})
        if event.type == "message_start" and event.message is not None:
            start = _validated(_MessageStart, event.message, self.endpoint)
            self.model, self.usage = start.model, start.usage or self.usage
        elif event.type == "content_block_start" and event.content_block is not None:
            block = event.content_block
            self.blocks[self._index(event)] = {**block.model_dump(), "json": ""}
        elif event.type == "content_block_delta" and event.delta is not None:
            index = self._index(event)
            self._delta(index, self.blocks.setdefault(index, {"type": "text", "text": ""}), event.delta)
        elif event.type == "message_delta":
            delta = _validated(_MessageDelta, event.delta or {}, self.endpoint)
            self.stop_reason = delta.stop_reason or self.stop_reason
            if event.usage is not None:
                self.usage.output_tokens = _validated(_AnthropicUsage, event.usage, self.endpoint).output_tokens

    def _index(self, event: _AnthropicEvent) -> int:
        return event.index if event.index is not None and 0 <= event.index < 1024 else len(self.blocks)

    def _delta(self, index: int, block: dict[str, Any], delta: dict[str, Any]) -> None:
        kind, text = delta.get("type"), delta.get("text")
        if kind == "text_delta" and isinstance(text, str):
            piece = to_text(text)
            block["text"] = (block.get("text", "") + piece)[:MAX_TEXT_CHARS]
            self.on_delta(Delta(piece))
        elif kind == "input_json_delta" and isinstance(delta.get("partial_json"), str):
            piece = to_text(delta["partial_json"])
            block["json"] = (block.get("json", "") + piece)[:MAX_TEXT_CHARS]
            calls = sorted(i for i, b in self.blocks.items() if b.get("type") == "tool_use")
            name = block.get("name") if isinstance(block.get("name"), str) else ""
            self.on_delta(Delta(piece, call=calls.index(index) if index in calls else 0, name=name or ""))

    def response(self) -> ChatResponse:
        content = []
        for index in sorted(self.blocks):
            block = self.blocks[index]
            if block.get("type") == "tool_use" and block.get("json"):
                block = {**block, "input": _parsed_or_text(block["json"])}
            content.append(block)
        message = {"content": content, "stop_reason": self.stop_reason, "model": self.model}
        return anthropic_response({**message, "usage": self.usage.model_dump()}, self.endpoint)


class _MessageStart(_Shape):
    model: Text = ""
    usage: Annotated[_AnthropicUsage | None, BeforeValidator(object_or_none)] = None


class _MessageDelta(_Shape):
    stop_reason: OptionalText = None


def _parsed_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return text


# --------------------------------------------------------------------------- shared
def finish_calls(calls: Iterable[ToolCall]) -> list[ToolCall]:
    """The calls with ids that are unique and safe for every provider (a fresh id replaces any other)."""
    finished: list[ToolCall] = []
    seen: set[str] = set()
    for call in calls:
        call_id = call.id if is_safe_id(call.id) and call.id not in seen else new_id("call")
        seen.add(call_id)
        finished.append(ToolCall(id=call_id, name=call.name, arguments=call.arguments))
    return finished


def parse_json_object(body: bytes, endpoint: str) -> dict[str, Any]:
    """``body`` as a JSON object; an error reply sent with HTTP 200 and anything else become LLMError."""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        data = json.loads(text)
    except RecursionError:
        raise LLMError(f"The LLM endpoint {endpoint} sent a reply nested too deeply to read.") from None
    except ValueError:
        raise LLMError(f"The LLM endpoint {endpoint} sent {_describe(text)}, not a JSON chat reply.") from None
    if not isinstance(data, dict):
        raise LLMError(f"The LLM endpoint {endpoint} sent a JSON {type(data).__name__}, not a chat reply object.")
    if data.get("error") is not None and not data.get("choices") and not data.get("content"):
        raise _error_reply(endpoint, data)
    return data


def _describe(text: str) -> str:
    if not text:
        return "an empty reply"
    if text.startswith("<"):
        return "an HTML page (is MEMGPT_LLM_BASE_URL right? OpenAI-compatible servers usually end in /v1)"
    return f"text that is not JSON ({clean_text(text[:60])!r})"


def _error_reply(endpoint: str, data: dict[str, Any]) -> LLMError:
    error = data.get("error")
    message = to_text(error.get("message") if isinstance(error, dict) else error)[:200]
    code = error.get("code") if isinstance(error, dict) else None
    if is_context_overflow(message, to_text(code) if code else None):
        return ContextWindowExceededError(f"The prompt is longer than the model's context window: {message}")
    return LLMError(f"The LLM endpoint {endpoint} answered with an error: {message or 'no message'}")


def _validated(model: type[M], data: Any, endpoint: str, *, where: str = "") -> M:
    """``data`` as ``model``; LLMError naming the first misshapen place (under ``where``) otherwise."""
    try:
        return model.model_validate(data)
    except ShapeError as exc:
        first = exc.errors()[0]
        where = ".".join([where, *map(str, first["loc"])]).strip(".") or "the reply"
        raise LLMError(
            f"The LLM endpoint {endpoint} sent a malformed reply ({where}: {first['msg'].lower()})."
        ) from None
    except RecursionError:
        raise LLMError(f"The LLM endpoint {endpoint} sent a reply nested too deeply to read.") from None


async def sse_payloads(lines: AsyncIterator[str]) -> AsyncIterator[str]:
    """The ``data:`` payloads of a server-sent event stream, up to ``[DONE]`` (multi-line data joined)."""
    data: list[str] = []
    async for line in lines:
        if not line.strip():
            if data:
                payload, data = "\n".join(data), []
                if payload.strip() == "[DONE]":
                    return
                yield payload
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    if data and "\n".join(data).strip() != "[DONE]":
        yield "\n".join(data)


async def read_body(response: Any, broken: Callable[[Exception], LLMError]) -> bytes:
    """The whole body of an SDK's raw HTTP response; ``broken(exc)`` is raised if the transport fails."""
    try:
        return bytes(await response.aread())
    except Exception as exc:  # the SDK's HTTP library (whichever it is) failing while the body comes in
        raise broken(exc) from None


async def guarded_lines(lines: AsyncIterator[str], broken: Callable[[Exception], LLMError]) -> AsyncIterator[str]:
    """``lines`` of a streamed body, with a transport failure turned into ``broken(exc)``."""
    iterator = aiter(lines)
    while True:
        try:
            line = await anext(iterator)
        except StopAsyncIteration:
            return
        except Exception as exc:  # the SDK's HTTP library failing while the body streams in
            raise broken(exc) from None
        yield line
