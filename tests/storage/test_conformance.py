"""The storage conformance suite: every backend must pass these tests unchanged."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from memgpt.errors import AlreadyExistsError, NotFoundError, ValidationError
from memgpt.memory.agent_state import AgentState
from memgpt.memory.blocks import Block
from memgpt.memory.types import Message, Passage, ToolCall

Store = Any


async def make_agent(store: Store, name: str = "sam", user_id: str = "user-local") -> AgentState:
    state = AgentState(
        name=name,
        model="openai/gpt-4o-mini",
        context_window=8000,
        user_id=user_id,
        blocks=[Block("persona", "I am Sam."), Block("human", "")],
    )
    await store.create_agent(state)
    return state


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2024, 5, day, hour, 0, tzinfo=UTC)


# ------------------------------------------------------------------ agents
async def test_agent_round_trip_by_id_and_name(store: Store) -> None:
    state = await make_agent(store)
    state.fifo_ids = []
    state.summary = "earlier: hello"
    state.blocks[1].value = "Name: Ada"
    await store.save_agent(state)
    for key in (state.id, "sam"):
        loaded = await store.get_agent("user-local", key)
        assert loaded.summary == "earlier: hello"
        assert [b.value for b in loaded.blocks] == ["I am Sam.", "Name: Ada"]
        assert loaded.settings.warning_fraction == 0.70


async def test_agent_names_are_unique_per_user_and_scoped(store: Store) -> None:
    await make_agent(store)
    with pytest.raises(AlreadyExistsError):
        await make_agent(store)
    other = await make_agent(store, user_id="user-other")
    with pytest.raises(NotFoundError):
        await store.get_agent("user-local", other.id)
    assert [a.name for a in await store.list_agents("user-other")] == ["sam"]
    with pytest.raises(NotFoundError):
        await store.delete_agent("user-local", other.id)


async def test_delete_agent_removes_its_memory(store: Store) -> None:
    state = await make_agent(store)
    await store.append_messages(state.id, [Message(role="user", content="hello")])
    await store.insert_passages(state.id, [Passage(text="a fact")])
    await store.delete_agent("user-local", state.id)
    assert await store.count_messages(state.id) == 0
    assert await store.count_passages(state.id) == 0
    with pytest.raises(NotFoundError):
        await store.get_agent("user-local", "sam")


# ------------------------------------------------------------------ recall store
async def test_messages_keep_order_tool_calls_and_raw_arguments(store: Store) -> None:
    state = await make_agent(store)
    call = ToolCall(id="call-1", name="send_message", arguments='{"message": "hi"')  # invalid JSON kept verbatim
    messages = [
        Message(role="user", content="hello"),
        Message(role="assistant", content="thinking", tool_calls=[call]),
        Message(role="tool", content='{"status": "OK"}', tool_call_id="call-1", name="send_message"),
    ]
    await store.append_messages(state.id, messages)
    got = await store.get_messages(state.id, [messages[2].id, messages[0].id, messages[1].id])
    assert [m.role for m in got] == ["tool", "user", "assistant"]
    assert got[2].tool_calls == [call]
    assert await store.count_messages(state.id) == 3
    listed = await store.list_messages(state.id, offset=1, limit=1)
    assert [m.id for m in listed] == [messages[1].id]
    newest = await store.list_messages(state.id, limit=1, newest_first=True)
    assert newest[0].id == messages[2].id
    with pytest.raises(NotFoundError):
        await store.get_messages(state.id, ["message-missing"])


async def test_recall_text_search_finds_words_and_pages(store: Store) -> None:
    state = await make_agent(store)
    await store.append_messages(
        state.id,
        [
            Message(role="user", content=f"note {i}: my cat Felix likes tuna", created_at=at(1) + timedelta(minutes=i))
            for i in range(12)
        ]
        + [Message(role="user", content="the weather is grey today")],
    )
    first = await store.search_messages(state.id, "Felix", page=0, page_size=5, mode="text")
    assert first.total == 12 and first.pages == 3 and len(first.hits) == 5
    assert all("Felix" in h.text for h in first.hits)
    # equal scores: newest first
    assert first.hits[0].text.startswith("note 11")
    last = await store.search_messages(state.id, "Felix", page=2, page_size=5, mode="text")
    assert len(last.hits) == 2
    assert {h.id for h in first.hits}.isdisjoint(h.id for h in last.hits)


async def test_recall_semantic_search_finds_paraphrase(store: Store) -> None:
    state = await make_agent(store)
    await store.append_messages(
        state.id,
        [
            Message(role="user", content="I adopted a small kitten last week"),
            Message(role="user", content="The quarterly budget review is on Monday"),
            Message(role="user", content="My favourite band released a new album"),
        ],
    )
    page = await store.search_messages(state.id, "new pet cat", mode="semantic")
    assert "kitten" in page.hits[0].text
    hybrid = await store.search_messages(state.id, "pet cat", mode="hybrid")
    assert "kitten" in hybrid.hits[0].text


async def test_recall_search_skips_tool_results_and_reads_send_message(store: Store) -> None:
    state = await make_agent(store)
    call = ToolCall(id="c1", name="send_message", arguments='{"message": "Your dentist is on Friday."}')
    await store.append_messages(
        state.id,
        [
            Message(role="assistant", content=None, tool_calls=[call]),
            Message(role="tool", content='{"status": "OK", "message": "dentist"}', tool_call_id="c1"),
        ],
    )
    page = await store.search_messages(state.id, "dentist", mode="text")
    assert [h.role for h in page.hits] == ["assistant"]
    assert "Friday" in page.hits[0].text


async def test_recall_date_search_is_half_open_and_ordered(store: Store) -> None:
    state = await make_agent(store)
    await store.append_messages(
        state.id, [Message(role="user", content=f"day {d}", created_at=at(d)) for d in (3, 1, 2, 5)]
    )
    page = await store.search_messages_by_date(state.id, at(1, 0), at(3, 0), page_size=10)
    assert [h.text for h in page.hits] == ["day 1", "day 2"]
    assert page.total == 2
    with pytest.raises(ValidationError):
        await store.search_messages_by_date(state.id, at(3), at(1))


async def test_bad_search_input_is_refused(store: Store) -> None:
    state = await make_agent(store)
    for query in ("", "   "):
        with pytest.raises(ValidationError):
            await store.search_messages(state.id, query)
    with pytest.raises(ValidationError):
        await store.search_passages(state.id, "x", page=-1)
    with pytest.raises(ValidationError):
        await store.search_passages(state.id, "x", page_size=0)


# ------------------------------------------------------------------ archival store
async def test_passages_crud_and_metadata(store: Store) -> None:
    state = await make_agent(store)
    ids = await store.insert_passages(
        state.id,
        [
            Passage(text="The Eiffel Tower is in Paris.", metadata={"source": "facts.txt", "chunk": 0}),
            Passage(text="Mount Fuji is in Japan.", metadata={"source": "facts.txt", "chunk": 1}),
        ],
    )
    assert await store.count_passages(state.id) == 2
    got = await store.get_passages(state.id, [ids[1]])
    assert got[0].metadata == {"source": "facts.txt", "chunk": 1}
    assert [p.id for p in await store.list_passages(state.id)] == ids
    assert await store.delete_passages(state.id, [ids[0], "passage-missing"]) == 1
    page = await store.search_passages(state.id, "Eiffel Tower Paris")
    assert ids[0] not in [h.id for h in page.hits]


async def test_archival_exact_text_finds_uuid_among_many(store: Store) -> None:
    state = await make_agent(store)
    pairs = [(str(uuid.UUID(int=i * 7919 + 17)), str(uuid.uuid4())) for i in range(300)]
    await store.insert_passages(state.id, [Passage(text=f"Key-value pair: key = {k}, value = {v}") for k, v in pairs])
    for key, value in pairs[::37]:
        page = await store.search_passages(state.id, key, page_size=3)
        assert value in page.hits[0].text, key


async def test_archival_hybrid_ranks_meaning(store: Store) -> None:
    state = await make_agent(store)
    await store.insert_passages(
        state.id,
        [
            Passage(text="Photosynthesis converts sunlight, water and carbon dioxide into glucose in plants."),
            Passage(text="The stock exchange closed higher after the central bank decision."),
            Passage(text="Marathon runners train by gradually increasing their weekly distance."),
        ],
    )
    page = await store.search_passages(state.id, "how do plants make food from light")
    assert page.hits[0].text.startswith("Photosynthesis")
    assert page.hits[0].score >= page.hits[-1].score


async def test_oversized_or_empty_passage_writes_nothing(store: Store) -> None:
    state = await make_agent(store)
    with pytest.raises(ValidationError):
        await store.insert_passages(state.id, [Passage(text="fine"), Passage(text="x" * 1_000_001)])
    with pytest.raises(ValidationError):
        await store.insert_passages(state.id, [Passage(text="fine"), Passage(text="  ")])
    assert await store.count_passages(state.id) == 0


# ------------------------------------------------------------------ transactions
async def test_transaction_rolls_back_everything(store: Store) -> None:
    state = await make_agent(store)
    with pytest.raises(RuntimeError):
        async with store.transaction():
            await store.append_messages(state.id, [Message(role="user", content="lost")])
            await store.insert_passages(state.id, [Passage(text="also lost")])
            state.summary = "changed"
            await store.save_agent(state)
            raise RuntimeError("crash")
    assert await store.count_messages(state.id) == 0
    assert await store.count_passages(state.id) == 0
    assert (await store.get_agent("user-local", "sam")).summary == ""


async def test_transaction_commits_and_sees_its_own_writes(store: Store) -> None:
    state = await make_agent(store)
    async with store.transaction():
        await store.insert_passages(state.id, [Passage(text="zebra crossing on elm street")])
        page = await store.search_passages(state.id, "zebra")
        assert page.hits and "zebra" in page.hits[0].text
    assert await store.count_passages(state.id) == 1
    page = await store.search_passages(state.id, "zebra")
    assert page.hits[0].text == "zebra crossing on elm street"
