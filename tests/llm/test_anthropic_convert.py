from __future__ import annotations

import json
from types import SimpleNamespace

from memgpt.llm.anthropic import from_anthropic, to_anthropic
from memgpt.llm.base import ChatRequest


def test_request_conversion_merges_roles_and_keeps_raw_arguments() -> None:
    request = ChatRequest(
        messages=[
            {"role": "system", "content": "rules"},
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": "thinking",
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "a", "arguments": '{"x": 1}'}},
                    {"id": "c2", "type": "function", "function": {"name": "b", "arguments": "{broken"}},
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "ok"},
            {"role": "tool", "tool_call_id": "c2", "content": "failed"},
            {"role": "user", "content": "[System alert] memory pressure"},
        ],
        tools=[{"type": "function", "function": {"name": "a", "description": "d", "parameters": {"type": "object"}}}],
        tool_choice="required",
    )
    params = to_anthropic(request)
    assert params["system"] == "rules"
    assert [t["role"] for t in params["messages"]] == ["user", "assistant", "user"]
    uses = [b for b in params["messages"][1]["content"] if b["type"] == "tool_use"]
    assert uses[0]["input"] == {"x": 1}
    assert uses[1]["input"] == {"_raw_arguments": "{broken"}
    results = params["messages"][2]["content"]
    assert [b["type"] for b in results] == ["tool_result", "tool_result", "text"]
    assert params["tools"][0]["input_schema"] == {"type": "object"}
    assert params["tool_choice"] == {"type": "any"}


def test_response_conversion() -> None:
    message = SimpleNamespace(
        content=[
            SimpleNamespace(type="text", text="hmm"),
            SimpleNamespace(type="tool_use", id="t1", name="send_message", input={"message": "hi"}),
        ],
        usage=SimpleNamespace(
            input_tokens=100, output_tokens=7, cache_read_input_tokens=50, cache_creation_input_tokens=0
        ),
        stop_reason="tool_use",
        model="claude-x",
    )
    reply = from_anthropic(message)
    assert reply.content == "hmm"
    assert json.loads(reply.tool_calls[0].arguments) == {"message": "hi"}
    assert reply.usage is not None and reply.usage.prompt_tokens == 150
