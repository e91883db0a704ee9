"""Every reply body an endpoint can send becomes a well-formed ChatResponse or an LLMError.

The real OpenAI and Anthropic SDK clients talk over HTTP to the scripted server, which sends the bodies
byte for byte (``raw`` replies), plain and streamed.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from memgpt.errors import ContextWindowExceededError, LLMError
from memgpt.llm.anthropic import AnthropicClient
from memgpt.llm.base import ChatRequest, ChatResponse
from memgpt.llm.openai_compat import OpenAICompatibleClient
from memgpt.testing import FakeLLMServer
from memgpt.validation import is_storable

TOOLS = [
    {"type": "function", "function": {"name": n, "parameters": {"type": "object", "properties": {}}}}
    for n in ("send_message", "core_memory_append")
]
REQUEST = ChatRequest(messages=[{"role": "user", "content": "hello"}], tools=TOOLS)


def completion(message: Any, **extra: Any) -> str:
    return json.dumps({"choices": [{"index": 0, "message": message, "finish_reason": "stop"}], **extra})


def assert_well_formed(reply: ChatResponse) -> None:
    """What the agent relies on: storable text, string names and arguments, safe unique ids, sane usage."""
    assert reply.content is None or (isinstance(reply.content, str) and is_storable(reply.content))
    ids = [c.id for c in reply.tool_calls]
    assert len(set(ids)) == len(ids)
    for call in reply.tool_calls:
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", call.id)
        assert isinstance(call.name, str) and is_storable(call.name)
        assert isinstance(call.arguments, str) and is_storable(call.arguments)
    if reply.usage is not None:
        assert all(isinstance(n, int) and n >= 0 for n in (reply.usage.prompt_tokens, reply.usage.completion_tokens))
    json.dumps(reply.content, ensure_ascii=False).encode("utf-8")


async def openai_reply(body: str | bytes, *, stream: bool = False, content_type: str = "application/json") -> Any:
    raw: dict[str, Any] = {"content_type": content_type}
    raw["body"] = body
    with FakeLLMServer([{"raw": raw}]) as server:
        client = OpenAICompatibleClient("fake", base_url=server.base_url, max_retries=0)
        try:
            return await client.chat(REQUEST, on_delta=(lambda _: None) if stream else None)
        except LLMError as exc:
            return exc
        finally:
            await client.close()


BROKEN_BODIES = {
    "bad escape": '{"choices": [{"message": {"content": "\\x"}}]}',
    "garbage": "garbage",
    "empty": "",
    "cut short": '{"choices": [{"message": {"cont',
    "nested 100k deep": "[" * 100_000 + "]" * 100_000,
    "html": "<!DOCTYPE html><html><body><h1>Welcome to nginx!</h1></body></html>",
    "bare list": "[1, 2]",
    "null": "null",
    "choice without message": json.dumps({"choices": [{"index": 0, "finish_reason": "stop"}]}),
    "message is text": completion("hi"),
    "tool_calls is text": completion({"content": None, "tool_calls": "x"}),
    "tool_calls holds null": completion({"content": None, "tool_calls": [None]}),
    "choices is an object": json.dumps({"choices": {"0": {"message": {"content": "hi"}}}}),
}


@pytest.mark.parametrize("body", BROKEN_BODIES.values(), ids=BROKEN_BODIES.keys())
async def test_unusable_bodies_are_llm_errors(body: str) -> None:
    result = await openai_reply(body)
    assert isinstance(result, LLMError), result
    assert "127.0.0.1" in str(result)


async def test_an_html_page_says_what_to_check() -> None:
    result = await openai_reply(BROKEN_BODIES["html"])
    assert isinstance(result, LLMError) and "HTML page" in str(result) and "MEMGPT_LLM_BASE_URL" in str(result)


async def test_an_error_sent_with_http_200_is_an_error() -> None:
    result = await openai_reply(json.dumps({"error": {"message": "model is overloaded"}}))
    assert isinstance(result, LLMError) and "model is overloaded" in str(result)
    result = await openai_reply(json.dumps({"error": {"code": "context_length_exceeded", "message": "too long"}}))
    assert isinstance(result, ContextWindowExceededError)


def call(name: Any, arguments: Any, call_id: Any = "call_1") -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


REPAIRED = {
    "invalid utf-8": (b'{"choices": [{"message": {"content": "caf\xe9 \xff"}}]}', "caf\ufffd \ufffd", None),
    "lone surrogate": (completion({"content": "a\ud800b"}), "a\ufffdb", None),
    "nul": (completion({"content": "a\x00b"}), "a\ufffdb", None),
    "content parts": (completion({"content": [{"type": "text", "text": "one "}, "two"]}), "one two", None),
    "content number": (completion({"content": 5}), "5", None),
    "name is a number": (completion({"tool_calls": [call(5, "{}")]}), None, ("5", "{}")),
    "function null": (completion({"tool_calls": [{"id": "c", "function": None}]}), None, ("", "")),
    "arguments object": (
        completion({"tool_calls": [call("send_message", {"message": "hi"})]}),
        None,
        ("send_message", '{"message": "hi"}'),
    ),
    "arguments number": (completion({"tool_calls": [call("send_message", 5)]}), None, ("send_message", "5")),
    "surrogate in arguments": (
        completion({"tool_calls": [call("send_message", '{"message": "\ud800"}')]}),
        None,
        ("send_message", '{"message": "\ufffd"}'),
    ),
}


@pytest.mark.parametrize(("body", "content", "first_call"), REPAIRED.values(), ids=REPAIRED.keys())
async def test_bad_leaves_are_repaired(body: str | bytes, content: str | None, first_call: Any) -> None:
    reply = await openai_reply(body)
    assert isinstance(reply, ChatResponse), reply
    assert_well_formed(reply)
    assert reply.content == content
    if first_call is not None:
        assert (reply.tool_calls[0].name, reply.tool_calls[0].arguments) == first_call


async def test_usage_of_the_wrong_type_counts_as_unknown() -> None:
    body = completion({"content": "hi"}, usage={"prompt_tokens": "12", "completion_tokens": 10**30})
    reply = await openai_reply(body)
    assert isinstance(reply, ChatResponse) and reply.usage is not None
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (0, 0)
    reply = await openai_reply(completion({"content": "hi"}, usage={"prompt_tokens": 12, "completion_tokens": True}))
    assert isinstance(reply, ChatResponse) and reply.usage is not None
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (12, 0)
    reply = await openai_reply(completion({"content": "hi"}, usage="lots"))
    assert isinstance(reply, ChatResponse) and reply.usage is None


async def test_tool_call_ids_are_unique_and_safe() -> None:
    calls = [call("send_message", "{}", "same"), call("send_message", "{}", "same"), call("send_message", "{}", "a.b")]
    reply = await openai_reply(completion({"tool_calls": calls}))
    assert isinstance(reply, ChatResponse)
    assert_well_formed(reply)
    assert reply.tool_calls[0].id == "same" and len({c.id for c in reply.tool_calls}) == 3


# --------------------------------------------------------------------------- streamed
def sse(*payloads: Any, done: bool = True) -> str:
    lines = [f"data: {p if isinstance(p, str) else json.dumps(p)}\n\n" for p in payloads]
    return "".join(lines) + ("data: [DONE]\n\n" if done else "")


def chunk(delta: Any, finish: str | None = None) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


STREAMS_BROKEN = {
    "garbage event": sse("garbage"),
    "bare list event": sse([1, 2]),
    "choices is text": sse({"choices": "x"}),
    "html": "<html><body>502 Bad Gateway</body></html>",
    "deep event": sse("[" * 100_000),
    "error event": sse({"error": {"message": "overloaded"}}),
}


@pytest.mark.parametrize("body", STREAMS_BROKEN.values(), ids=STREAMS_BROKEN.keys())
async def test_unusable_streams_are_llm_errors(body: str) -> None:
    result = await openai_reply(body, stream=True, content_type="text/event-stream")
    assert isinstance(result, LLMError), result


async def test_streams_are_assembled_and_repaired() -> None:
    body = sse(
        chunk({"role": "assistant", "content": "caf"}),
        chunk({"content": "\udc80"}),
        chunk({"tool_calls": [{"index": 0, "id": "c1", "function": {"name": 5, "arguments": '{"a"'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]}),
        chunk(None, "tool_calls"),
        {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": "x"}},
        done=False,  # cut short: what arrived is the reply
    )
    reply = await openai_reply(body, stream=True, content_type="text/event-stream")
    assert isinstance(reply, ChatResponse), reply
    assert_well_formed(reply)
    assert reply.content == "caf\ufffd"
    assert (reply.tool_calls[0].name, reply.tool_calls[0].arguments) == ("5", '{"a": 1}')
    assert reply.usage is not None and (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (3, 0)


async def test_a_server_that_ignores_stream_true_is_understood() -> None:
    reply = await openai_reply(completion({"content": "plain"}), stream=True)
    assert isinstance(reply, ChatResponse) and reply.content == "plain"


async def test_invalid_utf8_in_a_stream_is_replaced() -> None:
    body = b'data: {"choices": [{"delta": {"content": "caf\xe9"}}]}\n\ndata: [DONE]\n\n'
    reply = await openai_reply(body, stream=True, content_type="text/event-stream")
    assert isinstance(reply, ChatResponse) and reply.content == "caf\ufffd"


# --------------------------------------------------------------------------- tool calls written as text
TEXT_CALLS = {
    "json object": ('{"name": "send_message", "arguments": {"message": "hi"}}', [("send_message", {"message": "hi"})]),
    "llama parameters": (
        '{"type": "function", "name": "send_message", "parameters": {"message": "hi"}}',
        [("send_message", {"message": "hi"})],
    ),
    "fenced": ('```json\n{"name": "send_message", "arguments": "{\\"message\\": \\"hi\\"}"}\n```', None),
    "tool_call blocks": (
        '<tool_call>\n{"name": "core_memory_append", "arguments": {"label": "human", "content": "x"}}\n</tool_call>\n'
        '<tool_call>{"name": "send_message", "arguments": {"message": "hi"}}</tool_call>',
        [("core_memory_append", {"label": "human", "content": "x"}), ("send_message", {"message": "hi"})],
    ),
}


@pytest.mark.parametrize(("content", "expected"), TEXT_CALLS.values(), ids=TEXT_CALLS.keys())
@pytest.mark.parametrize("stream", [False, True])
async def test_tool_calls_written_as_text_become_calls(content: str, expected: Any, stream: bool) -> None:
    body = completion({"content": content})
    if stream:
        body = sse(chunk({"content": content[: len(content) // 2]}), chunk({"content": content[len(content) // 2 :]}))
    reply = await openai_reply(body, stream=stream, content_type="text/event-stream" if stream else "application/json")
    assert isinstance(reply, ChatResponse), reply
    assert_well_formed(reply)
    assert reply.content is None and reply.finish_reason == "tool_calls"
    expected = expected or [("send_message", {"message": "hi"})]
    assert [(c.name, json.loads(c.arguments)) for c in reply.tool_calls] == expected


NOT_CALLS = {
    "unknown function": '{"name": "rm_rf", "arguments": {}}',
    "prose around": 'I would call {"name": "send_message", "arguments": {"message": "hi"}} now.',
    "prose beside a block": 'Sure. <tool_call>{"name": "send_message", "arguments": {}}</tool_call>',
    "other keys": '{"name": "send_message", "arguments": {}, "note": "x"}',
    "no arguments": '{"name": "send_message"}',
    "one block unknown": '<tool_call>{"name": "send_message", "arguments": {}}</tool_call>'
    '<tool_call>{"name": "nope", "arguments": {}}</tool_call>',
}


@pytest.mark.parametrize("content", NOT_CALLS.values(), ids=NOT_CALLS.keys())
async def test_text_that_is_not_wholly_a_known_call_stays_text(content: str) -> None:
    reply = await openai_reply(completion({"content": content}))
    assert isinstance(reply, ChatResponse)
    assert reply.content == content and reply.tool_calls == []


# --------------------------------------------------------------------------- Anthropic
async def anthropic_reply(body: str | bytes, *, stream: bool = False) -> Any:
    content_type = "text/event-stream" if stream else "application/json"
    with FakeLLMServer([{"raw": {"body": body, "content_type": content_type}}]) as server:
        client = AnthropicClient("claude-x", api_key="k", base_url=server.base_url.removesuffix("/v1"), max_retries=0)
        try:
            return await client.chat(REQUEST, on_delta=(lambda _: None) if stream else None)
        except LLMError as exc:
            return exc
        finally:
            await client.close()


def message(content: Any, **extra: Any) -> str:
    return json.dumps({"type": "message", "model": "claude-x", "content": content, "stop_reason": "end_turn", **extra})


@pytest.mark.parametrize(
    "body",
    ["garbage", "null", "[1]", message("hi"), message([None]), "<html></html>", "[" * 100_000, ""],
    ids=["garbage", "null", "list", "content text", "null block", "html", "deep", "empty"],
)
async def test_anthropic_unusable_bodies_are_llm_errors(body: str) -> None:
    assert isinstance(await anthropic_reply(body), LLMError)


async def test_anthropic_bad_leaves_are_repaired() -> None:
    body = message(
        [
            {"type": "text", "text": "a\ud800"},
            {"type": "tool_use", "id": "t 1", "name": 5, "input": "not an object"},
            {"type": "thinking", "thinking": "ignored"},
        ],
        usage={"input_tokens": "10", "output_tokens": 4},
    )
    reply = await anthropic_reply(body)
    assert isinstance(reply, ChatResponse), reply
    assert_well_formed(reply)
    assert reply.content == "a\ufffd"
    assert (reply.tool_calls[0].name, reply.tool_calls[0].arguments) == ("5", "not an object")
    assert reply.usage is not None and (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (0, 4)


def anthropic_sse(*events: dict[str, Any]) -> str:
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events)


async def test_anthropic_streams_are_assembled_and_validated() -> None:
    body = anthropic_sse(
        {"type": "message_start", "message": {"model": "claude-x", "usage": {"input_tokens": 7}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "hm"}},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "t1", "name": "x"}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": '{"a":'}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": " 1}"}},
        {"type": "ping"},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 5}},
        {"type": "message_stop"},
    )
    reply = await anthropic_reply(body, stream=True)
    assert isinstance(reply, ChatResponse), reply
    assert_well_formed(reply)
    assert reply.content == "hm" and json.loads(reply.tool_calls[0].arguments) == {"a": 1}
    assert reply.usage is not None and (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (7, 5)
    for broken in ("data: garbage\n\n", anthropic_sse({"type": "error", "error": {"message": "overloaded"}})):
        assert isinstance(await anthropic_reply(broken, stream=True), LLMError)


@pytest.mark.parametrize(
    ("provider", "stream"),
    [("openai", False), ("openai", True), ("anthropic", False)],  # the scripted LLM streams OpenAI's format only
    ids=["openai-whole", "openai-streamed", "anthropic-whole"],
)
async def test_the_request_carries_the_whole_conversation_and_the_tools(provider: str, stream: bool) -> None:
    """The messages and tools bypass the SDKs' parameter walk (it grew with the window): they must still be
    sent whole, as given."""
    request = ChatRequest(
        messages=[
            {"role": "system", "content": "You are Sam."},
            {"role": "user", "content": "hello"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "send_message", "arguments": '{"message": "hi"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": '{"status": "OK"}'},
            {"role": "user", "content": "how are you?"},
        ],
        tools=TOOLS,
    )
    with FakeLLMServer([{"content": "fine"}]) as server:
        if provider == "openai":
            client: Any = OpenAICompatibleClient("fake", base_url=server.base_url, api_key="k", max_retries=0)
        else:
            client = AnthropicClient(
                "claude-x", api_key="k", base_url=server.base_url.removesuffix("/v1"), max_retries=0
            )
        try:
            reply = await client.chat(request, on_delta=(lambda _: None) if stream else None)
        finally:
            await client.close()
        sent = server.requests[-1]
    assert reply.content == "fine"
    names = [t["function"]["name"] for t in TOOLS]
    if provider == "openai":
        assert sent["messages"] == request.messages
        assert [t["function"]["name"] for t in sent["tools"]] == names
    else:
        assert sent["system"] == "You are Sam."
        assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "user"]
        assert [t["name"] for t in sent["tools"]] == names
    assert sent.get("stream", False) is stream
