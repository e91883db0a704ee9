"""The real OpenAI SDK client against the scripted server over HTTP."""

from __future__ import annotations

import socket

import pytest

from memgpt.errors import ContextWindowExceededError, LLMError
from memgpt.llm.base import ChatRequest, Delta
from memgpt.llm.openai_compat import OpenAICompatibleClient
from memgpt.testing import FakeLLMServer

TOOLS = [{"type": "function", "function": {"name": "send_message", "parameters": {"type": "object", "properties": {}}}}]
REQUEST = ChatRequest(messages=[{"role": "user", "content": "hello"}], tools=TOOLS)


async def test_tool_call_usage_and_raw_arguments() -> None:
    script = [{"content": "hmm", "tool_calls": [{"name": "send_message", "arguments": '{"message": "hi"'}]}]
    with FakeLLMServer(script) as server:
        client = OpenAICompatibleClient("fake", base_url=server.base_url, max_retries=0)
        reply = await client.chat(REQUEST)
        await client.close()
    assert reply.content == "hmm"
    assert reply.tool_calls[0].name == "send_message"
    assert reply.tool_calls[0].arguments == '{"message": "hi"'
    assert reply.usage is not None and reply.usage.prompt_tokens > 0
    assert server.requests[0]["tools"] == TOOLS


async def test_streaming_passes_deltas_and_assembles_calls() -> None:
    script = [
        {
            "content": "a fairly long inner monologue to split",
            "tool_calls": [
                {"name": "send_message", "arguments": {"message": "streamed reply that is long enough to be chunked"}}
            ],
        }
    ]
    deltas: list[Delta] = []
    with FakeLLMServer(script) as server:
        client = OpenAICompatibleClient("fake", base_url=server.base_url, max_retries=0)
        reply = await client.chat(REQUEST, on_delta=deltas.append)
        await client.close()
    content = [d.text for d in deltas if d.call is None]
    assert "".join(content) == "a fairly long inner monologue to split" and len(content) > 1
    arguments = [d for d in deltas if d.call == 0]
    assert "".join(d.text for d in arguments) == reply.tool_calls[0].arguments and len(arguments) > 1
    assert {d.name for d in arguments} == {"send_message"}
    assert reply.tool_calls[0].arguments == '{"message": "streamed reply that is long enough to be chunked"}'
    assert reply.usage is not None and reply.usage.completion_tokens > 0


async def test_context_overflow_is_recognised() -> None:
    script = [{"error": {"status": 400, "code": "context_length_exceeded", "message": "maximum context length is 10"}}]
    with FakeLLMServer(script) as server:
        client = OpenAICompatibleClient("fake", base_url=server.base_url, max_retries=0)
        with pytest.raises(ContextWindowExceededError):
            await client.chat(REQUEST)
        await client.close()


async def test_server_error_is_retried() -> None:
    script = [{"error": {"status": 500, "message": "boom"}}, {"content": "fine"}]
    with FakeLLMServer(script) as server:
        client = OpenAICompatibleClient("fake", base_url=server.base_url, max_retries=2)
        reply = await client.chat(REQUEST)
        await client.close()
    assert reply.content == "fine"
    assert len(server.requests) == 2


async def test_bad_key_message_never_contains_the_key() -> None:
    script = [{"error": {"status": 401, "message": "invalid api key sk-secret-123"}}]
    with FakeLLMServer(script) as server:
        client = OpenAICompatibleClient("fake", base_url=server.base_url, api_key="sk-secret-123", max_retries=0)
        with pytest.raises(LLMError) as caught:
            await client.chat(REQUEST)
        await client.close()
    assert "sk-secret-123" not in str(caught.value)
    assert "API key" in str(caught.value)


async def test_unreachable_endpoint_names_the_url() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = OpenAICompatibleClient("fake", base_url=f"http://127.0.0.1:{port}/v1", max_retries=0, timeout=5)
    with pytest.raises(LLMError, match=f"127.0.0.1:{port}"):
        await client.chat(REQUEST)
    await client.close()
