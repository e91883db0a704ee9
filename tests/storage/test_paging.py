"""Search pages are slices of one ranking per query, on every backend: no hit twice, none skipped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from memgpt.memory.agent_state import AgentState
from memgpt.memory.protocols import SearchMode, Source, SourceFile
from memgpt.memory.types import Message, Passage, SearchPage

Store = Any
QUERY = "harbour ships in winter"
K = 5
PAGES = 20
MODES: list[SearchMode] = ["text", "semantic", "hybrid"]
START = datetime(2024, 3, 1, 14, 0, tzinfo=UTC)

# Eight texts, thirty times each: whole groups tie on every score. Questions pass their score to the
# message after them; most texts share words with QUERY, so text mode has more than 20 pages of matches.
TEXTS = [
    "The harbour ships sail out every winter morning.",
    "Did the ships leave the harbour before the storm?",
    "Yes, they left at dawn and came back in spring.",
    "Winter storms keep the fishing ships in the harbour.",
    "I painted the old harbour wall last week.",
    "Which ships stay in the harbour over winter?",
    "Only the ferry and two trawlers, I think.",
    "The harbour master counts the ships each night.",
]


async def make_agent(store: Store) -> AgentState:
    state = AgentState(name="sam", model="openai/gpt-4o-mini", context_window=8000)
    await store.create_agent(state)
    return state


def conversation() -> list[Message]:
    """240 messages; ten at a time share a timestamp (ties on time too), turns two minutes apart, a pause
    of a quarter of an hour after every 40 and a day after every 80 (so sessions are found by reading
    the messages between candidates)."""
    messages = []
    for i in range(240):
        when = START + timedelta(minutes=2 * (i // 10) + 15 * (i // 40), days=i // 80)
        messages.append(Message(role="user", content=TEXTS[i % len(TEXTS)], created_at=when))
    return messages


async def archival_agent(store: Store) -> AgentState:
    """An agent with 150 notes of its own and an attached source of 150 chunks, all written at one time:
    the two tables' row ids overlap, and identical texts tie across them."""
    state = await make_agent(store)
    when = START
    await store.insert_passages(state.id, [Passage(text=TEXTS[i % 8], created_at=when) for i in range(150)])
    source = Source(name="harbour", user_id=state.user_id)
    await store.create_source(source)
    file = await store.begin_source_file(
        SourceFile(source_id=source.id, path="/docs/harbour.md", content_hash="h", size=1)
    )
    chunks = [Passage(text=TEXTS[(i + 3) % 8], created_at=when, metadata={"chunk": i}) for i in range(150)]
    await store.add_source_passages(file.id, 0, chunks)
    await store.commit_source_file(file.id)
    await store.attach_source(state.id, source.id)
    return state


async def pages_and_whole(search: Any) -> tuple[list[SearchPage], SearchPage]:
    pages = [await search(page=page, page_size=K) for page in range(PAGES)]
    return pages, await search(page=0, page_size=PAGES * K)


def assert_slices_of(pages: list[SearchPage], whole: SearchPage) -> None:
    paged = [hit.id for page in pages for hit in page.hits]
    assert len(whole.hits) == PAGES * K
    assert paged == [hit.id for hit in whole.hits]  # same hits, same order: none twice, none skipped
    assert len(set(paged)) == len(paged)
    assert {page.total for page in pages} == {whole.total}


@pytest.mark.parametrize("mode", MODES)
async def test_recall_pages_are_slices_of_one_large_page(store: Store, mode: SearchMode) -> None:
    state = await make_agent(store)
    messages = conversation()
    await store.append_messages(state.id, messages)
    in_view = [m.id for m in messages[-12:]]  # as the agent searches: what is in its context is left out

    async def search(**paging: int) -> SearchPage:
        return await store.search_messages(state.id, QUERY, mode=mode, exclude_ids=in_view, **paging)

    pages, whole = await pages_and_whole(search)
    assert_slices_of(pages, whole)
    assert not {hit.id for hit in whole.hits} & set(in_view)


@pytest.mark.parametrize("mode", MODES)
async def test_archival_pages_are_slices_of_one_large_page(store: Store, mode: SearchMode) -> None:
    state = await archival_agent(store)

    async def search(**paging: int) -> SearchPage:
        return await store.search_passages(state.id, QUERY, mode=mode, **paging)

    pages, whole = await pages_and_whole(search)
    assert_slices_of(pages, whole)
    assert {"chunk" in hit.metadata for hit in whole.hits} == {True, False}  # one list over both tables


@pytest.mark.parametrize("mode", ["text", "hybrid"])
async def test_paging_to_the_end_shows_every_result_once_and_says_how_many(store: Store, mode: SearchMode) -> None:
    state = await make_agent(store)
    messages = conversation()
    await store.append_messages(state.id, messages)
    matching = {m.id for m in messages if mode == "hybrid" or "ships" in m.content or "harbour" in m.content}
    seen: list[str] = []
    page = 0
    while (result := await store.search_messages(state.id, QUERY, page=page, page_size=25, mode=mode)).hits:
        assert result.total == len(matching)  # every page says how long the ranking is
        seen += [hit.id for hit in result.hits]
        page += 1
    assert sorted(seen) == sorted(matching)  # each once
    assert page == result.pages and result.total == len(matching)  # the page after the last is empty


async def test_a_strong_match_lifts_its_own_session_not_the_conversation_ten_minutes_later(store: Store) -> None:
    state = await make_agent(store)
    minute = timedelta(minutes=1)
    first = [Message(role="user", content="I finally called the adoption agency today.", created_at=START)]
    first += [Message(role="user", content="It was a long day.", created_at=START + i * minute) for i in range(1, 20)]
    later = START + 30 * minute  # the first conversation ended at 14:19, this one begins at 14:30
    second = [Message(role="user", content="It was a long day.", created_at=later + i * minute) for i in range(20)]
    await store.append_messages(state.id, first + second)
    page = await store.search_messages(state.id, "what did she say about the adoption agency?", page_size=21)
    assert page.hits[0].id == first[0].id
    # equal texts: only the session tells them apart (before, within the hour counted as one session, the
    # newer second conversation came first)
    assert {hit.id for hit in page.hits[1:20]} == {m.id for m in first[1:]}
