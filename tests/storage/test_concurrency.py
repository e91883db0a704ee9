"""Concurrency and cancellation on both engines: no deadlock, no half-applied step, no lock left behind."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import random
import time
from collections.abc import Sequence
from typing import Any

import pytest

from memgpt.client import Client
from memgpt.embeddings.base import Embedder, Vectors
from memgpt.errors import AgentBusyError
from memgpt.memory.agent_state import AgentState
from memgpt.memory.types import Message, Passage
from memgpt.testing.scripted import ScriptedLLM


def call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"name": name, "arguments": arguments}


class SlowEmbedder:
    """The real model, slowed down (as on a busy laptop), counting the calls running at any moment."""

    def __init__(self, inner: Embedder, delay: float) -> None:
        self.inner, self.delay = inner, delay
        self.name, self.dim = inner.name, inner.dim
        self.running = 0
        self.most_at_once_in_background = 0

    async def embed(self, texts: Sequence[str]) -> Vectors:
        self.running += 1
        try:
            await asyncio.sleep(self.delay)
            return await self.inner.embed(texts)
        finally:
            self.running -= 1

    async def close(self) -> None:
        return None


async def test_two_searches_in_one_reply_while_background_embedding_runs_do_not_deadlock(
    store_url: str, embedder: Embedder
) -> None:
    """The reported hang: 2,000 messages imported without embeddings, one input whose background task embeds
    them, and then a reply with an archival and a recall search while that task still runs."""
    slow = SlowEmbedder(embedder, delay=0.3)

    def policy(body: dict[str, Any]) -> dict[str, Any]:
        last = body["messages"][-1]
        if last["role"] == "user" and "search" in last["content"]:
            searches = [
                call("archival_memory_search", query="harbour ships", request_heartbeat=True),
                call("conversation_search", query="harbour ships winter", request_heartbeat=True),
            ]
            return {"tool_calls": searches}
        return {"tool_calls": [call("send_message", message="done")]}

    client = await Client.open(store_url, embedder=slow, llm=ScriptedLLM(policy))
    try:
        await client.create_agent("sam", model="openai/gpt-4o-mini", context_window=16_000)
        await client.insert_passages("sam", ["The harbour froze in the winter of 1963."])
        old = [Message(role="user", content=f"message {i} about the harbour and its ships") for i in range(2000)]
        await client.import_messages("sam", old, embed=False)
        await client.send_message("sam", "hello")  # its background task now embeds the 2,000 messages
        await asyncio.sleep(0.05)
        assert slow.running == 1, "the background embedding should be running during the next input"
        events = await asyncio.wait_for(client.send_message("sam", "please search"), timeout=60)
        results = [e for e in events if e.type == "function_result"]
        assert [r.data["status"] for r in results] == ["OK", "OK", "OK"]  # two searches, then send_message
        assert "froze" in results[0].content
        assert [e.content for e in events if e.type == "assistant_message"] == ["done"]
    finally:
        await client.close()


# ------------------------------------------------------------------ cancellation
def step_policy(body: dict[str, Any]) -> dict[str, Any]:
    """Each input: a core-memory edit and an archival insert (each with a heartbeat), then a reply."""
    messages = body["messages"]
    user = next(m["content"] for m in reversed(messages) if m["role"] == "user")
    number = user.rsplit(" ", 1)[-1]
    tools_since = 0
    for m in reversed(messages):
        if m["role"] == "user":
            break
        tools_since += m["role"] == "tool"
    if tools_since == 0:
        return {
            "tool_calls": [call("core_memory_append", label="human", content=f"fact {number}", request_heartbeat=True)]
        }
    if tools_since == 1:
        return {"tool_calls": [call("archival_memory_insert", content=f"note {number}", request_heartbeat=True)]}
    return {"tool_calls": [call("send_message", message=f"done {number}")]}


async def test_steps_cancelled_at_random_points_are_whole_or_absent(store_url: str) -> None:
    """100 seeded cancellations (as Ctrl-C, timeouts and dropped HTTP requests do) against the invariants."""
    rng = random.Random(20261201)
    client = await Client.open(store_url, embedder=None, llm=ScriptedLLM(step_policy))
    try:
        await client.create_agent("sam", model="openai/gpt-4o-mini", context_window=64_000)
        started = time.perf_counter()
        await client.send_message("sam", "input 0")
        whole = time.perf_counter() - started  # how long one uncancelled input takes here
        for i in range(1, 101):
            task = asyncio.create_task(client.send_message("sam", f"input {i}"))
            await asyncio.sleep(rng.uniform(0, whole * 1.2))
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await check_whole_steps(client)
        events = await client.send_message("sam", "input 999")  # the agent still works
        assert [e.content for e in events if e.type == "assistant_message"] == ["done 999"]
        await check_whole_steps(client)
    finally:
        await client.close()
    reopened = await Client.open(store_url, embedder=None, llm=ScriptedLLM(step_policy))
    try:  # and from a fresh process's view too
        events = await reopened.send_message("sam", "input 1000")
        assert [e.content for e in events if e.type == "assistant_message"] == ["done 1000"]
        await check_whole_steps(reopened)
    finally:
        await reopened.close()


async def check_whole_steps(client: Client) -> None:
    messages = await client.list_messages("sam", limit=100_000)
    users = [m.content for m in messages if m.role == "user"]
    assert len(users) == len(set(users)), "a user message was stored twice"
    calls = []
    for i, m in enumerate(messages):
        if m.role == "assistant":  # each step's call is followed by its result: a step is stored whole or not at all
            results = messages[i + 1 : i + 1 + len(m.tool_calls)]
            assert [r.tool_call_id for r in results if r.role == "tool"] == [c.id for c in m.tool_calls]
            calls += m.tool_calls
        if m.role == "tool":
            assert messages[i - 1].role in ("assistant", "tool"), "a function result without its call"
    edits = [json.loads(c.arguments)["content"] for c in calls if c.name == "core_memory_append"]
    human = {b.label: b.value for b in await client.get_memory("sam")}["human"]
    assert sorted(line for line in human.splitlines() if line.startswith("fact ")) == sorted(edits)
    notes = [json.loads(c.arguments)["content"] for c in calls if c.name == "archival_memory_insert"]
    agent = await client.get_agent("sam")
    passages = await client.store.list_passages(agent.id, limit=100_000)
    assert sorted(p.text for p in passages) == sorted(notes)
    stored = {m.id for m in messages}
    assert set(agent.fifo_ids) <= stored, "the context window points at a message that was never stored"


async def test_a_transaction_cancelled_while_its_statement_runs_saves_nothing(store: Any) -> None:
    """The reported bug: cancelled mid-statement, the ROLLBACK ran while the worker thread still inserted, and
    the second insert of the rolled-back transaction was found saved."""
    state = AgentState(name="sam", model="none", context_window=8000)
    await store.create_agent(state)
    big = [Message(role="user", content=f"bulk message {i} " + "words " * 40) for i in range(20_000)]

    async def two_inserts() -> None:
        async with store.transaction():
            await store.append_messages(state.id, [Message(role="user", content="first insert")])
            await store.append_messages(state.id, big)

    for delay in (0.0, 0.002, 0.01, 0.05):
        task = asyncio.create_task(two_inserts())
        await asyncio.sleep(delay)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await store.count_messages(state.id) == 0
    await store.append_messages(state.id, [Message(role="user", content="after")])  # the pool still works
    assert [m.content for m in await store.list_messages(state.id)] == ["after"]


async def test_a_cancelled_lock_waiter_leaves_the_agent_usable(store: Any, store_url: str) -> None:
    """A waiter for another process's lock (here: a second store on the same database) that is cancelled must
    not keep waiting in a thread and take the lock for nobody once it is free."""
    from memgpt.storage import open_store

    other = await open_store(store_url, embedder=None)
    held = asyncio.Event()
    release = asyncio.Event()

    async def holder() -> None:
        async with other.lock_agent("agent-x"):
            held.set()
            await release.wait()

    try:
        holding = asyncio.create_task(holder())
        await held.wait()
        waiter = asyncio.create_task(store.lock_agent("agent-x", timeout=30).__aenter__())
        await asyncio.sleep(0.2)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        release.set()
        await holding
        await asyncio.sleep(0.2)  # time for a leaked waiter to grab the lock
        async with other.lock_agent("agent-x", timeout=2), store.lock_agent("agent-y", timeout=2):
            pass  # the other process gets it at once
        async with store.lock_agent("agent-x", timeout=2):  # and so does this one
            with pytest.raises(AgentBusyError, match="busy in another process"):
                async with other.lock_agent("agent-x", timeout=0.2):
                    pass
        assert store.locks_held == 0 and other.locks_held == 0
    finally:
        await other.close()


async def test_a_failing_background_embedder_logs_one_line_and_no_traceback(
    tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    class Failing:
        name, dim = "failing", 8

        async def embed(self, texts: Sequence[str]) -> Vectors:
            raise RuntimeError("the embedding server is down")

        async def close(self) -> None:
            return None

    llm = ScriptedLLM({"replies": [], "default": {"tool_calls": [call("send_message", message="hi")]}})
    client = await Client.open(f"sqlite:///{tmp_path / 'a.db'}", embedder=Failing(), llm=llm)
    with caplog.at_level(logging.WARNING):
        try:
            await client.create_agent("sam", model="openai/gpt-4o-mini", context_window=8000)
            await client.send_message("sam", "hello")
        finally:
            await client.close()  # waits for the background task
        gc.collect()
        await asyncio.sleep(0)
    texts = [r.getMessage() for r in caplog.records]
    assert any("Embedding new messages of sam failed: the embedding server is down" in t for t in texts)
    assert not any("never retrieved" in t for t in texts)
    assert all(r.exc_info is None for r in caplog.records)


async def test_many_agents_keep_the_caches_bounded(tmp_path: Any) -> None:
    """A server meets thousands of agents: loaded vector indexes stay within the cache, locks are not kept."""
    from memgpt.evals.bench import SyntheticEmbedder
    from memgpt.storage.sqlite import SqliteStore, vectors

    store = await SqliteStore.open(tmp_path / "many.db", embedder=SyntheticEmbedder(), cached_indexes=20)
    try:
        for i in range(300):
            state = AgentState(name=f"agent{i}", model="none", context_window=8000)
            await store.create_agent(state)
            async with store.lock_agent(state.id):
                await store.insert_passages(state.id, [Passage(text=f"passage of agent {i}")])
                page = await store.search_passages(state.id, "passage", mode="semantic")
                assert page.hits[0].text == f"passage of agent {i}"
        assert store.cached_indexes <= 20
        assert store.locks_held == 0
        assert vectors.MAX_ENTRIES == 256  # what a store holds by default
        first = (await store.list_agents("user-local"))[0]
        again = await store.search_passages(first.id, "passage", mode="semantic")  # an evicted index reloads
        assert again.hits[0].text == "passage of agent 0"
    finally:
        await store.close()


async def test_a_statement_cancelled_inside_a_savepoint_raises_the_cancellation_and_saves_nothing(store: Any) -> None:
    """The second of two tool calls interrupted mid-statement: SQLite ends the whole transaction itself, so the
    savepoint must not be rolled back to (that failed with "no such savepoint" instead of the cancellation)."""
    state = AgentState(name="sam", model="none", context_window=8000)
    await store.create_agent(state)
    big = [Message(role="user", content=f"bulk message {i} " + "words " * 40) for i in range(20_000)]

    async def two_tool_calls() -> None:
        async with store.transaction():
            async with store.savepoint():
                await store.append_messages(state.id, [Message(role="user", content="first call")])
            async with store.savepoint():
                await store.append_messages(state.id, big)

    for delay in (0.005, 0.02, 0.05):
        task = asyncio.create_task(two_tool_calls())
        await asyncio.sleep(delay)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await store.count_messages(state.id) == 0
    await store.append_messages(state.id, [Message(role="user", content="after")])
    assert [m.content for m in await store.list_messages(state.id)] == ["after"]


async def test_a_commit_that_fails_leaves_no_phantom_passage_in_search(
    store: Any, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A commit whose outcome is unknown (an I/O error surfacing as anything but a storage error): what the
    engine indexed beside the rows during the transaction is reloaded from what was committed."""
    state = AgentState(name="sam", model="none", context_window=8000)
    await store.create_agent(state)
    await store.insert_passages(state.id, [Passage(text="the committed note about gardening")])
    [(_, committed)] = await store.read_rows("passages", owner=state.id)
    phantom = committed | {
        "id": "passage-phantom",
        "text": "gardening",
        "embedding": (await embedder.embed(["gardening"]))[0],
    }
    async with store.transaction():
        transaction_class = type(store.task_transaction())

    async def failing_commit(self: Any) -> None:
        await self.rollback()
        raise OSError("I/O error during commit")

    monkeypatch.setattr(transaction_class, "commit", failing_commit)
    with pytest.raises(OSError):
        async with store.transaction():
            await store.write_rows("passages", [phantom])  # with its embedding, as db copy writes rows
            inside = await store.search_passages(state.id, "gardening", page_size=10, mode="semantic")
            assert len(inside.hits) == 2  # the transaction sees its own insert (so does the vector index)
    monkeypatch.undo()
    await store.insert_passages(state.id, [Passage(text="quarterly tax filing deadlines")])  # may reuse its seq
    page = await store.search_passages(state.id, "gardening", page_size=1, mode="semantic")
    assert [h.text for h in page.hits] == ["the committed note about gardening"]


async def test_a_passage_archived_in_a_step_is_embedded_after_it_not_under_the_write_lock(
    store_url: str, embedder: Embedder
) -> None:
    """Embedding inside the step held its transaction (on SQLite the write lock every agent waits for) for as
    long as the model ran; the passage is now stored at once and embedded by the task that follows the reply."""
    in_a_transaction: dict[str, bool] = {}  # text embedded -> whether the step's transaction was open
    client: Client

    class Watching:
        name, dim = embedder.name, embedder.dim

        async def embed(self, texts: Sequence[str]) -> Vectors:
            in_a_transaction.update(dict.fromkeys(texts, client.store.in_transaction()))
            return await embedder.embed(texts)

        async def close(self) -> None:
            return None

    note = "Ada's daughter is called Grace and plays the cello"
    llm = ScriptedLLM(
        {
            "replies": [
                {"tool_calls": [call("archival_memory_insert", content=note, request_heartbeat=True)]},
                {"tool_calls": [call("archival_memory_search", query="cello", request_heartbeat=True)]},
            ],
            "default": {"tool_calls": [call("send_message", message="noted")]},
        }
    )
    client = await Client.open(store_url, embedder=Watching(), llm=llm)
    try:
        await client.create_agent("sam", model="openai/gpt-4o-mini", context_window=8000)
        events = await client.send_message("sam", "Remember: Grace plays the cello.")
        results = [e.content for e in events if e.type == "function_result"]
        assert "Grace" in results[1]  # found by its text before it has an embedding
    finally:
        await client.close()  # waits for the embedding that follows the reply
    assert in_a_transaction[note] is False  # (a search's query is still embedded in the step: one short text)
    async with await Client.open(store_url, embedder=embedder) as reopened:
        page = await reopened.search("sam", "which instrument does the daughter play", archival=True, mode="semantic")
        assert [h.text for h in page.hits] == [note]


async def test_closing_with_a_timeout_stops_background_embedding_and_the_next_input_resumes_it(
    tmp_path: Any, embedder: Embedder
) -> None:
    """The server's shutdown bounds the background work; what it did not reach is embedded later."""
    url = f"sqlite:///{tmp_path / 'a.db'}"
    llm = ScriptedLLM({"replies": [], "default": {"tool_calls": [call("send_message", message="hi")]}})
    stuck = SlowEmbedder(embedder, delay=3600)  # an embedding server that stopped answering
    client = await Client.open(url, embedder=stuck, llm=llm)
    await client.create_agent("sam", model="openai/gpt-4o-mini", context_window=8000)
    await client.send_message("sam", "a message about the lighthouse keeper")
    await asyncio.wait_for(client.close(timeout=0.1), timeout=30)  # a hang check, not a speed limit
    async with await Client.open(url, embedder=embedder, llm=llm) as reopened:
        assert await reopened.store.count_unembedded() > 0
        await reopened.send_message("sam", "and another")
    async with await Client.open(url, embedder=embedder, llm=llm) as last:
        assert await last.store.count_unembedded() == 0
        page = await last.search("sam", "lighthouse keeper", mode="semantic")
        assert page.hits[0].text == "a message about the lighthouse keeper"
