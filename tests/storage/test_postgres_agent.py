"""The agent on PostgreSQL: a conversation through the scripted LLM over HTTP, and dropped connections mid-step."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from memgpt.client import Client
from memgpt.embeddings.base import Embedder, Vectors
from memgpt.errors import AgentChangedError, StorageError
from memgpt.llm.base import ChatRequest, ChatResponse, DeltaCallback
from memgpt.llm.openai_compat import OpenAICompatibleClient
from memgpt.testing import FakeLLMServer
from memgpt.testing.scripted import ScriptedLLM
from tests.agent import test_agent as agent_tests
from tests.conftest import local_embedder
from tests.storage.test_postgres import sql, terminate_others

pytestmark = pytest.mark.postgres


def call(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"tool_calls": [{"name": name, "arguments": arguments}]}


def say(text: str) -> dict[str, Any]:
    return call("send_message", {"message": text})


@pytest.fixture
def llm_server(tmp_path: Path) -> AsyncIterator[FakeLLMServer]:
    script = [
        call("core_memory_append", {"label": "human", "content": "Name: Ada", "request_heartbeat": True}),
        call("archival_memory_insert", {"content": "Ada's cat Felix was born in 2019.", "request_heartbeat": True}),
        say("Nice to meet you, Ada!"),
        call("archival_memory_search", {"query": "when was the cat born", "request_heartbeat": True}),
        say("Felix was born in 2019."),
    ]
    server = FakeLLMServer(script, log_path=tmp_path / "requests.jsonl")
    server.start()
    yield server
    server.stop()


async def test_conversation_persists_memory_and_searches_archival(postgres_url: str, llm_server: FakeLLMServer) -> None:
    llm = OpenAICompatibleClient("fake", base_url=llm_server.base_url, api_key="k", max_retries=0)
    client = await Client.open(postgres_url, embedder=local_embedder(), llm=llm)
    try:
        await client.create_agent("sam", model="openai-compatible/fake", context_window=8000)
        first = await client.send_message("sam", "Hi, I'm Ada. My cat Felix was born in 2019.")
        assert [e.content for e in first if e.type == "assistant_message"] == ["Nice to meet you, Ada!"]
        second = await client.send_message("sam", "When was my cat born?")
        assert [e.content for e in second if e.type == "assistant_message"] == ["Felix was born in 2019."]
    finally:
        await client.close()
        await llm.close()
    # the search result the LLM saw came from PostgreSQL
    tool_results = [m for r in llm_server.requests for m in r.get("messages", []) if m["role"] == "tool"]
    assert any("Felix was born in 2019" in m["content"] for m in tool_results)
    other = await Client.open(postgres_url, embedder=None)
    try:
        human = {b.label: b.value for b in await other.get_memory("sam")}["human"]
        assert human.endswith("Name: Ada")
        messages = await other.list_messages("sam")
        assert [m.role for m in messages].count("user") == 2
        assert len(messages) == 2 + 2 * 5  # each LLM reply is a call plus its result
        assert len({m.id for m in messages}) == len(messages)
        info = await other.agent_info("sam")
        assert info["archival_passages"] == 1
    finally:
        await other.close()


class DroppingLLM:
    """Terminates the store's database connections before answering (in the middle of a step)."""

    def __init__(self, inner: OpenAICompatibleClient, url: str) -> None:
        self.inner, self.url, self.drops = inner, url, 0

    async def chat(self, request: ChatRequest, on_delta: DeltaCallback | None = None) -> ChatResponse:
        self.drops += terminate_others(self.url) > 0
        return await self.inner.chat(request, on_delta)

    async def close(self) -> None:
        await self.inner.close()


async def test_connections_dropped_between_llm_calls_lose_and_duplicate_nothing(
    postgres_url: str, llm_server: FakeLLMServer
) -> None:
    inner = OpenAICompatibleClient("fake", base_url=llm_server.base_url, api_key="k", max_retries=0)
    llm = DroppingLLM(inner, postgres_url)
    client = await Client.open(postgres_url, embedder=local_embedder(), llm=llm)  # type: ignore[arg-type]
    try:
        await client.create_agent("sam", model="openai-compatible/fake", context_window=8000)
        events = await client.send_message("sam", "Hi, I'm Ada.")
        assert [e.content for e in events if e.type == "assistant_message"] == ["Nice to meet you, Ada!"]
        assert llm.drops == 3
        messages = await client.list_messages("sam")
        assert [m.role for m in messages] == ["user"] + ["assistant", "tool"] * 3
        assert len({m.id for m in messages}) == len(messages)
    finally:
        await client.close()


class DroppingEmbedder:
    """The real embedder, but its ``drop_at``-th call (1-based) also terminates the database connections."""

    def __init__(self, inner: Embedder, url: str) -> None:
        self.inner, self.url = inner, url
        self.name, self.dim = inner.name, inner.dim
        self.drop_at = 0

    async def embed(self, texts: Sequence[str]) -> Vectors:
        if self.drop_at:
            self.drop_at -= 1
            if not self.drop_at:
                terminate_others(self.url)
        return await self.inner.embed(texts)

    async def close(self) -> None:
        await self.inner.close()


def insert_call(content: str) -> dict[str, Any]:
    return {"name": "archival_memory_insert", "arguments": {"content": content, "request_heartbeat": True}}


def search_call(query: str) -> dict[str, Any]:  # embeds its query inside the step (an insert embeds after it)
    return {"name": "archival_memory_search", "arguments": {"query": query, "request_heartbeat": True}}


async def test_connection_dropped_before_a_step_wrote_is_replaced_and_the_step_goes_on(
    postgres_url: str, tmp_path: Path
) -> None:
    script = [{"tool_calls": [search_call("spare key"), insert_call("The spare key is under the mat.")]}, say("Saved.")]
    embedder = DroppingEmbedder(local_embedder(), postgres_url)
    with FakeLLMServer(script, log_path=tmp_path / "log.jsonl") as server:
        llm = OpenAICompatibleClient("fake", base_url=server.base_url, api_key="k", max_retries=0)
        client = await Client.open(postgres_url, embedder=embedder, llm=llm)
        try:
            await client.create_agent("sam", model="openai-compatible/fake", context_window=8000)
            embedder.drop_at = 1  # while the search embeds its query, before the step's transaction wrote
            events = await client.send_message("sam", "Remember: the spare key is under the mat.")
            assert [e.content for e in events if e.type == "assistant_message"] == ["Saved."]
            assert embedder.drop_at == 0  # the connections were dropped
            agent = await client.get_agent("sam")
            assert await client.store.count_passages(agent.id) == 1
            messages = await client.list_messages("sam")
            assert [m.role for m in messages] == ["user", "assistant", "tool", "tool", "assistant", "tool"]
        finally:
            await client.close()
            await llm.close()


async def test_connection_dropped_inside_a_step_fails_it_cleanly_and_the_retry_succeeds(
    postgres_url: str, tmp_path: Path
) -> None:
    both = {"tool_calls": [insert_call("The spare key is under the mat."), search_call("door code")]}
    script = [both, both, say("Saved.")]
    embedder = DroppingEmbedder(local_embedder(), postgres_url)
    with FakeLLMServer(script, log_path=tmp_path / "log.jsonl") as server:
        llm = OpenAICompatibleClient("fake", base_url=server.base_url, api_key="k", max_retries=0)
        client = await Client.open(postgres_url, embedder=embedder, llm=llm)
        try:
            await client.create_agent("sam", model="openai-compatible/fake", context_window=8000)
            embedder.drop_at = 1  # while the search embeds its query: the step's transaction wrote the insert
            with pytest.raises(StorageError, match="nothing of it was saved"):
                await client.send_message("sam", "Remember the key and the code.")
            agent = await client.get_agent("sam")
            messages = await client.list_messages("sam")
            assert [(m.role, m.content) for m in messages] == [("user", "Remember the key and the code.")]
            assert agent.fifo_ids == [messages[0].id]
            assert await client.store.count_passages(agent.id) == 0
            # the next input runs on fresh connections; the failed step left nothing to duplicate
            events = await client.send_message("sam", "Did you save them?")
            assert [e.content for e in events if e.type == "assistant_message"] == ["Saved."]
            messages = await client.list_messages("sam")
            assert [m.role for m in messages] == ["user", "user", "assistant", "tool", "tool", "assistant", "tool"]
            assert all(json.loads(m.content or "{}")["status"] == "OK" for m in messages if m.role == "tool")
            assert await client.store.count_passages(agent.id) == 1
        finally:
            await client.close()
            await llm.close()


class LockLosingLLM:
    """On its first call, the connection holding the agent's advisory lock is terminated and another
    process (another Client with its own pool) runs a whole step of the same agent before the reply comes."""

    def __init__(self, url: str, other: Client, replies: list[dict[str, Any]]) -> None:
        self.url, self.other, self.armed = url, other, True
        self.inner = ScriptedLLM(replies)

    async def chat(self, request: ChatRequest, on_delta: DeltaCallback | None = None) -> ChatResponse:
        if self.armed:
            self.armed = False
            held = sql(  # of this test's database only: the server may be running other tests too
                self.url,
                "SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory'"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            )
            assert held == [(1,)]
            await self.other.send_message("sam", "It's Bob at the other terminal.")
        return await self.inner.chat(request, on_delta)

    async def close(self) -> None:
        return None


async def test_a_step_whose_lock_was_lost_to_another_process_fails_and_writes_nothing(postgres_url: str) -> None:
    other = await Client.open(postgres_url, embedder=None, llm=ScriptedLLM([say("Hello, Bob.")]))
    llm = LockLosingLLM(postgres_url, other, [say("Nice to meet you, Ada!"), say("Still here, Ada.")])
    client = await Client.open(postgres_url, embedder=None, llm=llm)  # type: ignore[arg-type]
    try:
        await client.create_agent("sam", model="openai-compatible/fake", context_window=8000)
        with pytest.raises(AgentChangedError, match="changed by another process"):
            await client.send_message("sam", "Hi, I'm Ada.")
        messages = await client.list_messages("sam")
        assert [(m.role, m.content) for m in messages if m.role == "user"] == [
            ("user", "Hi, I'm Ada."),
            ("user", "It's Bob at the other terminal."),
        ]
        assert [m.role for m in messages] == ["user", "user", "assistant", "tool"]  # nothing of Ada's step
        # the next input re-reads the agent and goes on from the other process's state
        events = await client.send_message("sam", "Still there?")
        assert [e.content for e in events if e.type == "assistant_message"] == ["Still here, Ada."]
        messages = await client.list_messages("sam")
        assert [m.role for m in messages] == ["user", "user", "assistant", "tool", "user", "assistant", "tool"]
        assert len({m.id for m in messages}) == len(messages)
        assert (await client.get_agent("sam")).fifo_ids == [m.id for m in messages]
    finally:
        await client.close()
        await other.close()


# ------------------------------------------------------------------ the agent test suite, on PostgreSQL
@pytest.fixture
def harness_factory(tmp_path: Path, postgres_url: str) -> Iterator[Any]:
    """The agent tests' harness (scripted LLM over HTTP + Client), its store on PostgreSQL."""
    made: list[agent_tests.Harness] = []

    def make(script: Any) -> agent_tests.Harness:
        harness = agent_tests.Harness(tmp_path, script)
        harness.url = postgres_url
        made.append(harness)
        return harness

    yield make
    for harness in made:
        harness.server.stop()


@pytest.fixture
async def closing() -> AsyncIterator[list[Client]]:
    clients: list[Client] = []
    yield clients
    for c in clients:
        await c.close()


async def test_agent_append_heartbeat_then_reply(harness_factory: Any, closing: list[Client]) -> None:
    await agent_tests.test_append_heartbeat_then_reply(harness_factory, closing)


@pytest.mark.parametrize("case", sorted(agent_tests.MALFORMED))
async def test_agent_malformed_output_becomes_failed_result(
    case: str, harness_factory: Any, closing: list[Client]
) -> None:
    await agent_tests.test_malformed_output_becomes_failed_result(case, harness_factory, closing)


async def test_agent_empty_reply_and_several_calls(harness_factory: Any, closing: list[Client]) -> None:
    await agent_tests.test_empty_reply_and_several_calls_in_one_reply(harness_factory, closing)


async def test_agent_inner_monologue_and_step_limit(harness_factory: Any, closing: list[Client]) -> None:
    await agent_tests.test_inner_monologue_yields_and_step_limit_bounds_chain(harness_factory, closing)


async def test_agent_long_conversation_flushes(harness_factory: Any, closing: list[Client], tmp_path: Path) -> None:
    await agent_tests.test_long_conversation_flushes_within_the_window(harness_factory, closing, tmp_path)
