"""An agent can never be bricked by what an LLM sent or by its own stored history.

Real SQLite, the real OpenAI-compatible client over HTTP, the scripted server sending exact bodies.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from memgpt.agent.context import UNKNOWN_FUNCTION
from memgpt.client import Client
from memgpt.errors import ValidationError
from memgpt.llm.openai_compat import OpenAICompatibleClient
from memgpt.memory.types import Message, ToolCall
from memgpt.testing import FakeLLMServer
from tests.storage.old_schema import write_unchecked


def raw(message: dict[str, Any]) -> dict[str, Any]:
    """A reply sent byte for byte: one choice holding ``message``."""
    return {"raw": {"body": json.dumps({"choices": [{"message": message, "finish_reason": "stop"}]})}}


def say(text: str) -> dict[str, Any]:
    return {"tool_calls": [{"name": "send_message", "arguments": {"message": text}}]}


class World:
    """A scripted server, a SQLite file and the clients opened on it."""

    def __init__(self, tmp_path: Path, script: Any) -> None:
        self.server = FakeLLMServer(script)
        self.url = f"sqlite:///{tmp_path / 'agents.db'}"
        self.clients: list[Client] = []
        self.llms: list[OpenAICompatibleClient] = []

    async def client(self) -> Client:
        self.llms.append(OpenAICompatibleClient("fake", base_url=self.server.start(), max_retries=0))
        self.clients.append(await Client.open(self.url, embedder=None, llm=self.llms[-1]))
        return self.clients[-1]

    def requests(self) -> list[dict[str, Any]]:
        return [r for r in self.server.requests if r.get("tools")]


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[Any]:
    made: list[World] = []

    def make(script: Any) -> World:
        made.append(World(tmp_path, script))
        return made[-1]

    yield make
    for w in made:
        for c in w.clients:
            await c.close()
        for llm in w.llms:
            await llm.close()
        w.server.stop()


async def answers(client: Client, agent: str, text: str) -> list[str]:
    events = await client.send_message(agent, text)
    return [e.content or "" for e in events if e.type == "assistant_message"]


async def test_a_function_name_that_is_not_text_is_answered_and_never_stored(world: Any) -> None:
    bad = raw({"content": None, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": 5}}]})
    w = world({"replies": [bad, say("Sorry, fixed.")], "default": say("Still here.")})
    client = await w.client()
    await client.create_agent("sam", model="openai-compatible/fake", context_window=8000)
    assert await answers(client, "sam", "hello") == ["Sorry, fixed."]
    fed_back = json.loads([m for m in w.requests()[1]["messages"] if m["role"] == "tool"][-1]["content"])
    assert fed_back["status"] == "Failed" and "Unknown function '5'" in fed_back["message"]
    stored = [m for m in await client.list_messages("sam") if m.tool_calls]
    assert stored[0].tool_calls[0].name == UNKNOWN_FUNCTION
    assert (await client.check_agent("sam")).ok
    fresh = await w.client()
    assert await answers(fresh, "sam", "are you there?") == ["Still here."]


async def test_an_escaped_lone_surrogate_never_reaches_core_memory(world: Any) -> None:
    arguments = '{"label": "human", "content": "Name: Ada \\ud800", "request_heartbeat": true}'
    append = raw({"tool_calls": [{"id": "c1", "function": {"name": "core_memory_append", "arguments": arguments}}]})
    w = world({"replies": [append, say("Noted.")], "default": say("Still here.")})
    client = await w.client()
    await client.create_agent("sam", model="openai-compatible/fake", context_window=8000)
    assert await answers(client, "sam", "I'm Ada") == ["Noted."]
    human = {b.label: b.value for b in await client.get_memory("sam")}["human"]
    assert human.endswith("Name: Ada \ufffd")
    fresh = await w.client()
    assert await answers(fresh, "sam", "who am I?") == ["Still here."]
    assert "Name: Ada \ufffd" in w.requests()[-1]["messages"][0]["content"]


async def test_update_block_refuses_invalid_unicode(world: Any) -> None:
    client = await world([]).client()
    await client.create_agent("sam", model="openai-compatible/fake", context_window=8000)
    with pytest.raises(ValidationError, match="surrogate"):
        await client.update_block("sam", "human", "Ada \ud800")
    assert "\ud800" not in {b.label: b.value for b in await client.get_memory("sam")}["human"]


async def test_calls_written_as_text_run_and_are_recorded_as_calls(world: Any) -> None:
    text_call = raw({"content": '<tool_call>{"name": "send_message", "arguments": {"message": "Hi Ada!"}}</tool_call>'})
    w = world([text_call])
    client = await w.client()
    await client.create_agent("sam", model="openai-compatible/fake", context_window=8000)
    assert await answers(client, "sam", "hello") == ["Hi Ada!"]
    assistant = next(m for m in await client.list_messages("sam") if m.role == "assistant")
    assert assistant.content is None and [c.name for c in assistant.tool_calls] == ["send_message"]


async def test_a_malformed_summary_reply_still_evicts(world: Any) -> None:
    w = world(
        {
            "replies": [],
            "default": say("Got it."),
            "no_tools_reply": {"raw": {"body": "<html><body>Bad Gateway</body></html>"}},
        }
    )
    client = await w.client()
    await client.create_agent("tiny", model="openai-compatible/fake", context_window=1500)
    kinds = []
    for i in range(40):
        events = await client.send_message("tiny", f"Fact {i}: the number {i} is {'odd' if i % 2 else 'even'}.")
        kinds += [e.type for e in events]
    assert "summary" in kinds  # evicted with a placeholder summary, not an exception
    assert "are in recall memory" in (await client.get_agent("tiny")).summary


async def seed_history_of_an_older_version(client: Client) -> int:
    """What earlier versions could store: a call named 5, NUL in text, a result without its call and NUL
    in the summary. Returns the number of messages stored. (Blocks with invalid Unicode: the migration to
    block rows repairs them, tests/storage/test_block_migration.py.)"""
    state = await client.create_agent("old", model="openai-compatible/fake", context_window=8000)
    messages = [
        Message(role="user", content="hello"),
        Message(role="assistant", content=None, tool_calls=[ToolCall("c1", 5, "{}")]),  # type: ignore[arg-type]
        Message(role="tool", tool_call_id="c1", content='{"status": "Failed"}'),
        Message(role="user", content="a NUL \x00 here"),
        Message(role="tool", tool_call_id="nobody", content="an orphan result"),
        Message(role="assistant", content=None, tool_calls=[ToolCall("c2", "send_message", '{"message": "hi"}')]),
    ]
    state.fifo_ids = [m.id for m in messages]
    state.summary = "An old summary \x00"
    write_unchecked(client.store.description, state, messages)  # today's stores refuse all of these
    return len(messages)


async def test_an_agent_answers_whatever_its_history_holds_and_check_repairs_it(world: Any) -> None:
    w = world({"replies": [], "default": say("Still here.")})
    client = await w.client()
    stored = await seed_history_of_an_older_version(client)
    before = await (await w.client()).check_agent("old")
    found = {(p.part.split()[0], p.problem) for p in before.problems}
    assert ("summary", "holds invalid Unicode or is not text") in found

    assert await answers(client, "old", "are you there?") == ["Still here."]  # clean on render
    sent = w.requests()[-1]
    json.dumps(sent, ensure_ascii=False).encode("utf-8")
    roles = [m["role"] for m in sent["messages"]]
    assert roles.count("tool") == sum(len(m.get("tool_calls", [])) for m in sent["messages"])  # every call answered

    fresh = await w.client()
    check = await fresh.check_agent("old")
    found = {(p.part.split()[0], p.problem) for p in check.problems}
    assert not any(part in ("block", "summary") for part, _ in found)  # the agent saved them clean when it answered
    assert any("name is not text" in problem for _, problem in found)
    assert any("NUL" in problem or "invalid Unicode" in problem for part, problem in found if part == "message")
    assert any(problem == "answers no call" for _, problem in found)
    assert any(problem == "has calls without a result" for _, problem in found)

    repaired = await fresh.check_agent("old", repair=True)
    assert repaired.repaired
    assert (await fresh.check_agent("old")).ok
    state = await fresh.get_agent("old")
    assert state.summary == "An old summary \ufffd"
    assert await fresh.store.count_messages(state.id) == stored + 3  # nothing left recall memory
    assert await answers(fresh, "old", "and now?") == ["Still here."]
