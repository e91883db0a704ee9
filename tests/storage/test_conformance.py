"""The storage conformance suite: every backend must pass these tests unchanged."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from memgpt.errors import AgentChangedError, AlreadyExistsError, NotFoundError, ValidationError
from memgpt.memory import search as memory_search
from memgpt.memory.agent_state import AgentState
from memgpt.memory.blocks import Block
from memgpt.memory.protocols import Source, SourceChunks, SourceFile
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
    await store.save_agent(state)
    state.blocks[1].value = "Name: Ada"
    await store.update_block("user-local", state.blocks[1], agent_id=state.id)  # blocks are saved on their own
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


async def test_a_stale_copy_of_an_agent_cannot_overwrite_a_newer_save(store: Store) -> None:
    """Saves compare-and-set: a process that lost its lock while another one stepped cannot write over it."""
    state = await make_agent(store)
    ours = await store.get_agent("user-local", state.id)
    theirs = await store.get_agent("user-local", state.id)
    theirs.summary = "theirs"
    await store.append_and_save(theirs, [Message(role="user", content="from them")])
    ours.summary = "ours"
    read_as = ours.updated_at
    with pytest.raises(AgentChangedError, match="changed by another process"):
        await store.append_and_save(ours, [Message(role="user", content="from us")])
    assert ours.updated_at == read_as  # a failed write leaves the copy as it was read
    with pytest.raises(AgentChangedError):
        await store.save_agent(ours)
    assert (await store.get_agent("user-local", state.id)).summary == "theirs"
    assert [m.content for m in await store.list_messages(state.id)] == ["from them"]
    # re-read, the copy saves again, as often as needed
    fresh = await store.get_agent("user-local", state.id)
    fresh.summary = "ours, after a re-read"
    await store.save_agent(fresh)
    await store.append_and_save(fresh, [Message(role="user", content="from us")])
    assert (await store.get_agent("user-local", state.id)).summary == "ours, after a re-read"
    assert [m.content for m in await store.list_messages(state.id)] == ["from them", "from us"]


async def test_saving_a_deleted_agent_says_it_is_gone(store: Store) -> None:
    state = await make_agent(store)
    await store.delete_agent("user-local", state.id)
    with pytest.raises(NotFoundError, match="no longer exists"):
        await store.save_agent(state)


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


async def test_recall_hybrid_search_finds_the_reply_to_a_matching_question(store: Store) -> None:
    state = await make_agent(store)
    filler = [f"Had a quiet day number {i}, mostly gardening and cooking." for i in range(30)]
    call = ToolCall(id="c1", name="send_message", arguments='{"message": "It taught me self-acceptance."}')
    await store.append_messages(
        state.id,
        [
            *(Message(role="user", content=text) for text in filler[:15]),
            Message(role="user", content="What did you take away from the book Becoming Nicole?"),
            Message(role="assistant", content=None, tool_calls=[call]),
            Message(role="tool", content='{"status": "OK", "message": "Sent."}', tool_call_id="c1"),
            Message(role="user", content="I lent Becoming Nicole to a friend and she loved the book too."),
            *(Message(role="user", content=text) for text in filler[15:]),
        ],
    )
    page = await store.search_messages(state.id, "What did the assistant take away from Becoming Nicole?")
    assert "self-acceptance" in page.hits[0].text  # the answer, though it shares no word with the query
    assert page.hits[0].role == "assistant"


async def test_recall_hybrid_search_favours_messages_from_a_date_the_query_names(store: Store) -> None:
    state = await make_agent(store)
    days = (2, 9, 16, 23)
    months = (3, 5, 7)
    await store.append_messages(
        state.id,
        [
            Message(role="user", content="Went hiking in the hills today.", created_at=datetime(2024, m, d, tzinfo=UTC))
            for m in months
            for d in days
        ],
    )
    page = await store.search_messages(state.id, "hiking in May 2024", page_size=4)
    assert {h.created_at.month for h in page.hits} == {5}


async def test_recall_hybrid_search_names_senders_and_favours_the_one_a_query_names(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = await make_agent(store)
    said = "I finally finished the painting of the lake at sunset."
    others = [Message(role="user", content=said, name=name, created_at=at(day)) for day, name in ((2, "Bo"), (3, "Cy"))]
    ann = Message(role="user", content=said, name="Ann", created_at=at(1))  # oldest: last of equal scores
    await store.append_messages(state.id, [*others, ann])
    page = await store.search_messages(state.id, "what painting did ann finish?", page_size=3)
    assert page.hits[0].name == "Ann"
    assert {hit.name for hit in page.hits} == {"Ann", "Bo", "Cy"}
    # the boost itself, apart from the name being indexed as "Ann: ...": only Ann's score moves
    monkeypatch.setattr(memory_search, "SENDER_BOOST", 0.0)
    without = {
        hit.name: hit.score for hit in (await store.search_messages(state.id, "ann's painting", page_size=3)).hits
    }
    monkeypatch.undo()
    boosted = {
        hit.name: hit.score for hit in (await store.search_messages(state.id, "ann's painting", page_size=3)).hits
    }
    assert boosted["Ann"] > without["Ann"]
    assert boosted["Bo"] == pytest.approx(without["Bo"]) and boosted["Cy"] == pytest.approx(without["Cy"])


async def test_recall_search_leaves_out_excluded_messages_and_keeps_pages_full(store: Store) -> None:
    state = await make_agent(store)
    asked = Message(role="user", content="Which bakery sells the rye bread?", created_at=at(9))
    older = [
        Message(role="user", content=f"Note {i}: the rye bread at bakery {i} was good.", created_at=at(1))
        for i in range(8)
    ]
    await store.append_messages(state.id, [*older, asked])
    for mode in ("hybrid", "text"):
        every = await store.search_messages(state.id, "rye bread bakery", page_size=9, mode=mode)
        assert asked.id in {hit.id for hit in every.hits}
        page = await store.search_messages(state.id, "rye bread bakery", page_size=8, mode=mode, exclude_ids=[asked.id])
        assert asked.id not in {hit.id for hit in page.hits}
        assert {hit.id for hit in page.hits} == {m.id for m in older}
        assert page.total == 8


async def test_an_excluded_question_still_lifts_its_reply(store: Store) -> None:
    state = await make_agent(store)
    question = Message(role="user", content="What did you think of the pottery class?", created_at=at(2))
    reply = Message(role="user", content="Honestly it calmed me down a lot.", created_at=at(2))
    noise = [Message(role="user", content=f"Weather report {i}: rain.", created_at=at(3)) for i in range(6)]
    await store.append_messages(state.id, [question, reply, *noise])
    page = await store.search_messages(state.id, "pottery class", page_size=3, exclude_ids=[question.id])
    assert page.hits[0].id == reply.id


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


# ------------------------------------------------------------------ sources
async def make_source(store: Store, name: str = "manual", user_id: str = "user-local") -> Source:
    source = Source(name=name, user_id=user_id, description="the product manual")
    await store.create_source(source)
    return source


async def load_file(
    store: Store, source: Source, path: str, chunks: list[str], content_hash: str = "h1", *, commit: bool = True
) -> SourceFile:
    """Load one file version the way the loader does: begin, add its chunks, commit."""
    file = await store.begin_source_file(
        SourceFile(source_id=source.id, path=path, content_hash=content_hash, size=sum(map(len, chunks)))
    )
    passages = [Passage(text=t, metadata={"source": path, "chunk": i}) for i, t in enumerate(chunks)]
    await store.add_source_passages(file.id, 0, passages)
    return await store.commit_source_file(file.id) if commit else file


async def test_sources_are_named_per_user_and_deleted_with_everything(store: Store) -> None:
    source = await make_source(store)
    with pytest.raises(AlreadyExistsError):
        await make_source(store)
    other = await make_source(store, user_id="user-other")
    for key in (source.id, "manual"):
        got = await store.get_source("user-local", key)
        assert (got.id, got.description, got.file_count, got.passage_count) == (source.id, "the product manual", 0, 0)
    with pytest.raises(NotFoundError):
        await store.get_source("user-local", other.id)
    with pytest.raises(NotFoundError):
        await store.delete_source("user-local", other.id)
    second = await make_source(store, "faq")
    assert [s.name for s in await store.list_sources("user-local")] == ["manual", "faq"]
    await load_file(store, source, "/docs/a.txt", ["alpha one", "alpha two"])
    listed = {s.name: s for s in await store.list_sources("user-local")}
    assert (listed["manual"].file_count, listed["manual"].passage_count) == (1, 2)
    agent = await make_agent(store)
    await store.attach_source(agent.id, source.id)
    await store.delete_source("user-local", source.id)
    with pytest.raises(NotFoundError):
        await store.get_source("user-local", "manual")
    assert await store.list_agent_sources(agent.id) == []
    assert await store.count_passages(agent.id) == 0
    assert (await store.search_passages(agent.id, "alpha", mode="text")).hits == []
    assert [s.id for s in await store.list_sources("user-local")] == [second.id]


async def test_attached_source_is_searched_by_every_agent_until_detached(store: Store) -> None:
    source = await make_source(store)
    await load_file(store, source, "/docs/tower.txt", ["The lighthouse keeper logs the tide every night."])
    sam, ada = await make_agent(store, "sam"), await make_agent(store, "ada")
    assert await store.attach_source(sam.id, source.id) is True
    assert await store.attach_source(sam.id, source.id) is False
    assert await store.attach_source(ada.id, source.id) is True
    for agent in (sam, ada):
        page = await store.search_passages(agent.id, "lighthouse keeper")
        assert page.hits[0].text.startswith("The lighthouse keeper")
        assert page.hits[0].metadata == {"source": "/docs/tower.txt", "chunk": 0}
        assert await store.count_passages(agent.id) == 1
        assert [s.name for s in await store.list_agent_sources(agent.id)] == ["manual"]
    assert await store.detach_source(sam.id, source.id) is True
    assert await store.detach_source(sam.id, source.id) is False
    assert (await store.search_passages(sam.id, "lighthouse keeper", mode="text")).hits == []
    assert await store.count_passages(sam.id) == 0
    assert (await store.search_passages(ada.id, "lighthouse keeper", mode="text")).total == 1
    stranger = await make_agent(store, "sam", user_id="user-other")
    with pytest.raises(NotFoundError):
        await store.attach_source(stranger.id, source.id)
    await store.delete_agent("user-local", ada.id)
    assert (await store.get_source("user-local", "manual")).passage_count == 1  # sources outlive agents


async def test_archival_search_ranks_own_and_source_passages_in_one_list(store: Store) -> None:
    agent = await make_agent(store)
    await store.insert_passages(agent.id, [Passage(text=f"My note {i}: the volcano trip was great.") for i in range(3)])
    source = await make_source(store)
    await load_file(
        store,
        source,
        "/docs/geo.md",
        [f"Chapter {i}: volcano eruptions release lava and ash." for i in range(4)]
        + ["Photosynthesis converts sunlight into sugar in green plants."],
    )
    await store.attach_source(agent.id, source.id)
    text = await store.search_passages(agent.id, "volcano", mode="text", page_size=5)
    assert text.total == 7 and len(text.hits) == 5
    rest = await store.search_passages(agent.id, "volcano", mode="text", page=1, page_size=5)
    assert len(rest.hits) == 2
    assert {h.id for h in text.hits}.isdisjoint(h.id for h in rest.hits)
    sources = {h.metadata.get("source") for h in text.hits + rest.hits}
    assert sources == {None, "/docs/geo.md"}
    hybrid = await store.search_passages(agent.id, "how do plants make food from light")
    assert hybrid.hits[0].text.startswith("Photosynthesis")
    own = await store.search_passages(agent.id, "my volcano trip note")
    assert own.hits[0].text.startswith("My note")


async def test_loading_file_is_invisible_until_commit_which_replaces_the_old_version(store: Store) -> None:
    agent = await make_agent(store)
    source = await make_source(store)
    await store.attach_source(agent.id, source.id)
    await load_file(store, source, "/docs/a.txt", ["old walrus text", "more old walrus"], "v1")
    new = await load_file(store, source, "/docs/a.txt", ["new narwhal text"], "v2", commit=False)
    assert new.state == "loading"
    page = await store.search_passages(agent.id, "walrus narwhal", mode="text")
    assert sorted(h.text for h in page.hits) == ["more old walrus", "old walrus text"]
    assert await store.count_passages(agent.id) == 2
    done = await store.commit_source_file(new.id)
    assert (done.state, done.passage_count) == ("done", 1)
    assert await store.commit_source_file(new.id) == done  # committing twice changes nothing
    page = await store.search_passages(agent.id, "walrus narwhal")
    assert [h.text for h in page.hits] == ["new narwhal text"]
    files = await store.list_source_files(source.id)
    assert [(f.path, f.content_hash, f.state) for f in files] == [("/docs/a.txt", "v2", "done")]
    assert await store.count_passages(agent.id) == 1


async def test_begin_source_file_resumes_and_a_retried_batch_adds_nothing(store: Store) -> None:
    source = await make_source(store)
    spec = SourceFile(source_id=source.id, path="/docs/big.txt", content_hash="h", size=10)
    file = await store.begin_source_file(spec)
    assert (file.state, file.passage_count) == ("loading", 0)
    assert await store.add_source_passages(file.id, 0, [Passage(text="chunk 0"), Passage(text="chunk 1")]) == 2
    again = await store.begin_source_file(
        SourceFile(source_id=source.id, path="/docs/big.txt", content_hash="h", size=10)
    )
    assert (again.id, again.state, again.passage_count) == (file.id, "loading", 2)
    assert await store.add_source_passages(file.id, 1, [Passage(text="chunk 1"), Passage(text="chunk 2")]) == 3
    with pytest.raises(ValidationError):
        await store.add_source_passages(file.id, 5, [Passage(text="chunk 5")])  # a gap
    with pytest.raises(ValidationError):
        await store.add_source_passages(file.id, 3, [Passage(text=" ")])
    await store.commit_source_file(file.id)
    agent = await make_agent(store)
    await store.attach_source(agent.id, source.id)
    page = await store.search_passages(agent.id, "chunk", mode="text", page_size=10)
    assert sorted(h.text for h in page.hits) == ["chunk 0", "chunk 1", "chunk 2"]
    loaded = await store.begin_source_file(
        SourceFile(source_id=source.id, path="/docs/big.txt", content_hash="h", size=1)
    )
    assert (loaded.id, loaded.state) == (file.id, "done")
    with pytest.raises(ValidationError):
        await store.add_source_passages(file.id, 3, [Passage(text="late chunk")])
    with pytest.raises(NotFoundError):
        await store.add_source_passages("file-missing", 0, [Passage(text="x")])
    with pytest.raises(NotFoundError):
        await store.begin_source_file(SourceFile(source_id="source-missing", path="/x", content_hash="h", size=1))


async def test_add_source_chunks_stores_several_files_at_once_or_nothing(store: Store) -> None:
    source = await make_source(store)
    a, b = [
        await store.begin_source_file(SourceFile(source_id=source.id, path=p, content_hash="h", size=1))
        for p in ("/docs/a.txt", "/docs/b.txt")
    ]
    counts = await store.add_source_chunks(
        [
            SourceChunks(a.id, 0, [Passage(text="a0 heron"), Passage(text="a1 heron")]),
            SourceChunks(b.id, 0, [Passage(text="b0 heron")]),
            SourceChunks(a.id, 2, [Passage(text="a2 heron")]),  # a later part of the same file
        ]
    )
    assert counts == [2, 1, 3]
    with pytest.raises(ValidationError):  # b's part leaves a gap: a's part is not stored either
        await store.add_source_chunks(
            [SourceChunks(a.id, 3, [Passage(text="a3 heron")]), SourceChunks(b.id, 5, [Passage(text="b5")])]
        )
    assert await store.add_source_chunks([]) == []
    for file in (a, b):
        await store.commit_source_file(file.id)
    agent = await make_agent(store)
    await store.attach_source(agent.id, source.id)
    page = await store.search_passages(agent.id, "heron", mode="text", page_size=10)
    assert sorted(h.text for h in page.hits) == ["a0 heron", "a1 heron", "a2 heron", "b0 heron"]
    around = await store.read_passage_context(agent.id, next(h.id for h in page.hits if h.text == "a1 heron"))
    assert [p.text for p in around] == ["a1 heron", "a2 heron"]


async def test_a_new_load_of_other_content_discards_an_abandoned_one(store: Store) -> None:
    agent = await make_agent(store)
    source = await make_source(store)
    await store.attach_source(agent.id, source.id)
    abandoned = await load_file(store, source, "/docs/a.txt", ["half loaded zebra"], "v1", commit=False)
    await load_file(store, source, "/docs/a.txt", ["complete okapi"], "v2")
    files = await store.list_source_files(source.id)
    assert [(f.content_hash, f.state) for f in files] == [("v2", "done")]
    with pytest.raises(NotFoundError):
        await store.commit_source_file(abandoned.id)
    assert [h.text for h in (await store.search_passages(agent.id, "zebra okapi")).hits] == ["complete okapi"]
    await load_file(store, source, "/docs/a.txt", ["edit that was abandoned"], "v3", commit=False)
    reverted = await store.begin_source_file(
        SourceFile(source_id=source.id, path="/docs/a.txt", content_hash="v2", size=1)
    )
    assert reverted.state == "done"  # the file is back to the loaded content: the abandoned edit is dropped
    assert [(f.content_hash, f.state) for f in await store.list_source_files(source.id)] == [("v2", "done")]
    failed = await load_file(store, source, "/docs/b.txt", ["failed file giraffe"], "v1", commit=False)
    await store.delete_source_file(failed.id)
    await store.delete_source_file(failed.id)  # no error when already gone
    assert [f.path for f in await store.list_source_files(source.id)] == ["/docs/a.txt"]


async def test_read_passage_context_returns_neighbouring_chunks_in_order(store: Store) -> None:
    agent = await make_agent(store)
    source = await make_source(store)
    await load_file(store, source, "/docs/story.txt", [f"part {i} of the story" for i in range(5)])
    await load_file(store, source, "/docs/other.txt", ["another document"])
    hit = (await store.search_passages(agent.id, "part 2", mode="text")).hits
    assert hit == []  # not attached yet
    await store.attach_source(agent.id, source.id)
    middle = next(
        h
        for h in (await store.search_passages(agent.id, "part", mode="text", page_size=10)).hits
        if h.text.startswith("part 2")
    )
    around = await store.read_passage_context(agent.id, middle.id, before=1, after=1)
    assert [p.text for p in around] == ["part 1 of the story", "part 2 of the story", "part 3 of the story"]
    assert around[1].metadata == {"source": "/docs/story.txt", "chunk": 2}
    tail = await store.read_passage_context(agent.id, middle.id, before=0, after=10)
    assert [p.text[:6] for p in tail] == ["part 2", "part 3", "part 4"]
    [own_id] = await store.insert_passages(agent.id, [Passage(text="my own note")])
    assert [p.text for p in await store.read_passage_context(agent.id, own_id, before=2, after=2)] == ["my own note"]
    with pytest.raises(ValidationError):
        await store.read_passage_context(agent.id, middle.id, before=-1)
    other = await make_agent(store, "ada")
    with pytest.raises(NotFoundError):
        await store.read_passage_context(other.id, middle.id)
    with pytest.raises(NotFoundError):
        await store.read_passage_context(agent.id, "passage-missing")
