"""The agent loop against the scripted LLM over real HTTP, with a real SQLite store."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from memgpt.client import Client
from memgpt.errors import ValidationError
from memgpt.llm.openai_compat import OpenAICompatibleClient
from memgpt.llm.tokens import estimate_message_tokens, estimate_tools_tokens
from memgpt.memory.types import Message
from memgpt.testing import FakeLLMServer


def call(name: str, arguments: Any) -> dict[str, Any]:
    return {"tool_calls": [{"name": name, "arguments": arguments}]}


def say(text: str) -> dict[str, Any]:
    return call("send_message", {"message": text})


class Harness:
    """A fake LLM server plus a Client whose agents talk to it."""

    def __init__(self, tmp_path: Path, script: Any) -> None:
        self.server = FakeLLMServer(script, log_path=tmp_path / "requests.jsonl")
        self.url = f"sqlite:///{tmp_path / 'agent.db'}"
        self.client: Client | None = None
        self.llms: list[OpenAICompatibleClient] = []

    async def open(self, embedder: Any = None) -> Client:
        base_url = self.server.start()
        self.llms.append(OpenAICompatibleClient("fake", base_url=base_url, api_key="test-key", max_retries=0))
        self.client = await Client.open(self.url, embedder=embedder, llm=self.llms[-1])
        return self.client

    async def close_llms(self) -> None:
        for llm in self.llms:
            await llm.close()

    @property
    def requests(self) -> list[dict[str, Any]]:
        return [r for r in self.server.requests if r.get("tools")]


@pytest.fixture
async def harness_factory(tmp_path: Path) -> AsyncIterator[Any]:
    made: list[Harness] = []

    def make(script: Any) -> Harness:
        made.append(Harness(tmp_path, script))
        return made[-1]

    yield make
    for h in made:
        await h.close_llms()
        h.server.stop()


@pytest.fixture
async def closing() -> AsyncIterator[list[Client]]:
    clients: list[Client] = []
    yield clients
    for c in clients:
        await c.close()


async def test_append_heartbeat_then_reply(harness_factory: Any, closing: list[Client]) -> None:
    h = harness_factory(
        [
            call("core_memory_append", {"label": "human", "content": "Name: Ada", "request_heartbeat": True}),
            say("Nice to meet you, Ada!"),
        ]
    )
    client = await h.open()
    closing.append(client)
    await client.create_agent("sam", model="openai-compatible/fake", context_window=8000)
    events = await client.send_message("sam", "Hi, I'm Ada.")
    kinds = [e.type for e in events if e.type != "usage"]
    assert kinds == [
        "user_message",
        "function_call",
        "function_result",
        "heartbeat",
        "function_call",
        "function_result",
        "assistant_message",
    ]
    assert events[-1].content == "Nice to meet you, Ada!"
    # the second request carries the function result the agent asked to see
    tool_msgs = [m for m in h.requests[1]["messages"] if m["role"] == "tool"]
    assert json.loads(tool_msgs[-1]["content"])["status"] == "OK"
    # persisted: a new client on the same file sees the edit
    other = await Client.open(h.url, embedder=None)
    closing.append(other)
    human = {b.label: b.value for b in await other.get_memory("sam")}["human"]
    assert human.endswith("Name: Ada")
    assert await other.store.count_messages((await other.get_agent("sam")).id) == 5


async def test_conversation_search_brings_in_what_is_not_already_in_context(
    harness_factory: Any, closing: list[Client]
) -> None:
    h = harness_factory(
        [
            call("conversation_search", {"query": "favourite tea", "request_heartbeat": True}),
            say("You said jasmine."),
        ]
    )
    client = await h.open()
    closing.append(client)
    await client.create_agent("sam", model="openai-compatible/fake", context_window=8000)
    earlier = Message(role="user", content="My favourite tea is jasmine.", created_at=datetime(2024, 1, 2, tzinfo=UTC))
    await client.import_messages("sam", [earlier], embed=False)  # in recall, not in the context window
    await client.send_message("sam", "What is my favourite tea?")
    result = json.loads([m for m in h.requests[1]["messages"] if m["role"] == "tool"][-1]["content"])
    assert "jasmine" in result["message"]
    assert "What is my favourite tea?" not in result["message"]  # the question is in view already


async def test_several_people_talk_to_the_agent_and_search_favours_the_sender_a_query_names(
    harness_factory: Any, closing: list[Client]
) -> None:
    h = harness_factory(
        [
            say("Noted, Ann."),
            say("Noted, Bo."),
            call("conversation_search", {"query": "what did Bo say about the ferry", "request_heartbeat": True}),
            say("Bo takes the early ferry."),
        ]
    )
    client = await h.open()
    closing.append(client)
    await client.create_agent("sam", model="openai-compatible/fake", context_window=8000)
    old = [
        Message(
            role="user",
            content="I take the late ferry to the island.",
            name=name,
            created_at=datetime(2024, 1, d, tzinfo=UTC),
        )
        for d, name in ((3, "Ann"), (2, "Bo"))  # Bo's is older: it loses ties
    ]
    await client.import_messages("sam", old, embed=False)
    greeting = await client.send_message("sam", "Hello, I am Ann.", name="Ann")
    assert greeting[0].to_dict()["name"] == "Ann"  # events say who spoke
    await client.send_message("sam", "And I am Bo.", name="Bo")
    assert h.requests[0]["messages"][-1]["content"].endswith("Ann: Hello, I am Ann.")  # the model sees who speaks
    await client.send_message("sam", "Who takes which ferry?", name="Ann")
    result = json.loads([m for m in h.requests[3]["messages"] if m["role"] == "tool"][-1]["content"])["message"]
    lines = [line for line in result.splitlines() if line.startswith("- ")]
    assert "user: Bo: I take the late ferry" in lines[0]
    stored = await client.list_messages("sam")
    assert [m.name for m in stored if m.role == "user" and m.content and "I am" in m.content] == ["Ann", "Bo"]
    with pytest.raises(ValidationError, match="sender name"):
        await client.send_message("sam", "hi", name="two\nlines")


MALFORMED = {
    "invalid_json": call("core_memory_append", '{"label": "human", "content": "x"'),
    "unknown_function": call("delete_everything", {"request_heartbeat": True}),
    "wrong_type": call("conversation_search", {"query": "x", "page": "two", "request_heartbeat": True}),
    "missing_argument": call("core_memory_append", {"label": "human", "request_heartbeat": True}),
    "not_an_object": call("core_memory_append", "[1, 2]"),
    "unknown_block": call("core_memory_append", {"label": "nope", "content": "x", "request_heartbeat": False}),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
async def test_malformed_output_becomes_failed_result(case: str, harness_factory: Any, closing: list[Client]) -> None:
    h = harness_factory([MALFORMED[case], say("Recovered.")])
    client = await h.open()
    closing.append(client)
    await client.create_agent("sam", model="openai-compatible/fake", context_window=8000)
    events = await client.send_message("sam", "hello")
    failed = [e for e in events if e.type == "function_result" and e.data["status"] == "Failed"]
    assert len(failed) == 1 and failed[0].content
    assert [e.content for e in events if e.type == "assistant_message"] == ["Recovered."]
    # the failure was fed back to the LLM as a tool message with status Failed
    fed_back = [json.loads(m["content"]) for m in h.requests[1]["messages"] if m["role"] == "tool"]
    assert fed_back[-1]["status"] == "Failed"
    # nothing lost: user, bad call, its result, good call, its result
    agent = await client.get_agent("sam")
    assert await client.store.count_messages(agent.id) == 5
    human = {b.label: b.value for b in await client.get_memory("sam")}["human"]
    assert human == "Nothing is known about the user yet."


async def test_invalid_arguments_are_stored_verbatim(harness_factory: Any, closing: list[Client]) -> None:
    raw = '{"label": "human", "content": "Ada"'
    h = harness_factory([call("core_memory_append", raw), say("ok")])
    client = await h.open()
    closing.append(client)
    await client.create_agent("sam", model="openai-compatible/fake", context_window=8000)
    await client.send_message("sam", "hello")
    messages = await client.list_messages("sam")
    assert messages[1].tool_calls[0].arguments == raw


async def test_empty_reply_and_several_calls_in_one_reply(harness_factory: Any, closing: list[Client]) -> None:
    several = {
        "tool_calls": [
            {
                "name": "core_memory_append",
                "arguments": {"label": "human", "content": "Likes tea", "request_heartbeat": False},
            },
            {"name": "nonexistent", "arguments": {}},
            {"name": "send_message", "arguments": {"message": "Noted."}},
        ]
    }
    h = harness_factory([{"content": ""}, several, say("All good.")])
    client = await h.open()
    closing.append(client)
    await client.create_agent("sam", model="openai-compatible/fake", context_window=8000)
    events = await client.send_message("sam", "I like tea")
    assert any(e.type == "system_alert" and "empty" in (e.content or "") for e in events)
    results = [(e.data["name"], e.data["status"]) for e in events if e.type == "function_result"]
    assert results[:3] == [("core_memory_append", "OK"), ("nonexistent", "Failed"), ("send_message", "OK")]
    assert [e.content for e in events if e.type == "assistant_message"] == ["Noted.", "All good."]
    assert "Likes tea" in {b.label: b.value for b in await client.get_memory("sam")}["human"]


async def test_inner_monologue_yields_and_step_limit_bounds_chain(harness_factory: Any, closing: list[Client]) -> None:
    loop_forever = call("conversation_search", {"query": "anything", "request_heartbeat": True})
    h = harness_factory({"replies": [{"content": "Just thinking."}], "default": loop_forever})
    client = await h.open()
    closing.append(client)
    await client.create_agent("sam", model="openai-compatible/fake", context_window=16000)
    events = await client.send_message("sam", "first")
    assert [e.type for e in events if e.type != "usage"] == ["user_message", "inner_monologue"]
    events = await client.send_message("sam", "second")
    assert events[-1].type == "step_limit"
    assert sum(e.type == "function_call" for e in events) == 20


async def test_long_conversation_flushes_within_the_window(
    harness_factory: Any, closing: list[Client], tmp_path: Path
) -> None:
    window = 3000
    h = harness_factory(
        {
            "replies": [],
            "default": say("Got it, thanks for telling me that."),
            "no_tools_reply": {"content": "Summary: the user has been counting messages and sharing facts."},
            "context_window": window,
        }
    )
    client = await h.open()
    closing.append(client)
    await client.create_agent("tiny", model="openai-compatible/fake", context_window=window)
    alerts = summaries = 0
    for i in range(300):
        events = await client.send_message(
            "tiny", f"Message number {i}: today I learned fact {i} about the number {i * 7}."
        )
        alerts += sum(e.type == "system_alert" and e.data.get("kind") == "memory_pressure" for e in events)
        summaries += sum(e.type == "summary" for e in events)
    assert summaries >= 5 and alerts >= summaries
    logged = [json.loads(line)["body"] for line in (tmp_path / "requests.jsonl").read_text().splitlines()]
    for body in logged:
        assert estimate_message_tokens(body["messages"]) + estimate_tools_tokens(body.get("tools", [])) <= window
    last = h.requests[-1]["messages"]
    system = last[0]["content"]
    assert system.index("## Core memory") < system.index("## Memory statistics") < system.index("## Summary of earlier")
    assert "Summary: the user has been counting" in system
    assert all(m["role"] != "system" for m in last[1:])
    agent = await client.get_agent("tiny")
    # user + assistant call + tool result per turn, plus memory-pressure alerts: nothing evicted is lost
    assert await client.store.count_messages(agent.id) == 300 * 3 + alerts
    assert len(agent.fifo_ids) < 40
    page = await client.search("tiny", "fact 3 number 21", mode="text")
    assert any("Message number 3:" in hit.text for hit in page.hits)


async def test_changes_made_by_another_client_reach_the_next_step(harness_factory: Any, closing: list[Client]) -> None:
    h = harness_factory([say("first"), say("second")])
    client = await h.open()
    closing.append(client)
    await client.create_agent("sam", model="openai-compatible/fake", context_window=8000)
    await client.send_message("sam", "hello")  # loaded and kept in this client's memory
    other = await Client.open(h.url, embedder=None)  # a second server worker, or the CLI
    closing.append(other)
    await other.update_agent("sam", system="You are a pirate. Always answer like one.")
    await client.send_message("sam", "hello again")
    system = h.requests[-1]["messages"][0]
    assert system["role"] == "system"
    assert "You are a pirate." in system["content"]
    assert "You are a pirate." not in h.requests[0]["messages"][0]["content"]
