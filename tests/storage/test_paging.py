"""Search pages are slices of one ranking per query, on every backend: no hit twice, none skipped."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from memgpt.client import Client
from memgpt.llm.openai_compat import OpenAICompatibleClient
from memgpt.memory.agent_state import AgentState
from memgpt.memory.blocks import CoreMemory
from memgpt.memory.protocols import SearchMode, Source, SourceFile
from memgpt.memory.types import Message, Passage, SearchPage, ToolCall
from memgpt.testing import FakeLLMServer
from memgpt.tools.context import ToolContext
from memgpt.tools.executor import ToolExecutor

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
        page: SearchPage = await store.search_messages(state.id, QUERY, mode=mode, exclude_ids=in_view, **paging)
        return page

    pages, whole = await pages_and_whole(search)
    assert_slices_of(pages, whole)
    assert not {hit.id for hit in whole.hits} & set(in_view)


@pytest.mark.parametrize("mode", MODES)
async def test_archival_pages_are_slices_of_one_large_page(store: Store, mode: SearchMode) -> None:
    state = await archival_agent(store)

    async def search(**paging: int) -> SearchPage:
        page: SearchPage = await store.search_passages(state.id, QUERY, mode=mode, **paging)
        return page

    pages, whole = await pages_and_whole(search)
    assert_slices_of(pages, whole)
    assert {"chunk" in hit.metadata for hit in whole.hits} == {True, False}  # one list over both tables


@pytest.mark.parametrize("mode", ["text", "hybrid"])
async def test_paging_to_the_end_shows_every_result_once_and_says_how_many(store: Store, mode: SearchMode) -> None:
    state = await make_agent(store)
    messages = conversation()
    await store.append_messages(state.id, messages)
    matching = {
        m.id for m in messages if mode == "hybrid" or {"ships", "harbour"} & set(re.findall(r"\w+", m.content or ""))
    }
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


# ------------------------------------------------------------------ through the agent loop
MINUTE = timedelta(minutes=1)
WINDOW = 4000  # small: the tool results of the paging chain push the oldest messages out of the context


def _result(message: dict[str, Any]) -> str:
    return str(json.loads(message["content"])["message"])


def pager(query: str, searching: dict[str, bool]) -> Any:
    """A scripted LLM that acknowledges notes and, once ``searching``, pages through ``query`` as a model
    would: page 0, then the page the last result names ("more on page 3."), answering when none is named."""

    def policy(body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("tools"):
            return {"content": "Summary: the user keeps a harbour log and winter notes."}
        if not searching["on"]:
            return {"tool_calls": [{"name": "send_message", "arguments": {"message": "Noted."}}]}
        tool_results = [_result(m) for m in body["messages"] if m["role"] == "tool"]
        searched = [text for text in tool_results if text.startswith(("Showing messages", "No more"))]
        if not searched:
            page = 0
        elif found := re.search(r"more on page (\d+)\.", searched[-1]):
            page = int(found.group(1))
        else:
            return {"tool_calls": [{"name": "send_message", "arguments": {"message": "That is all of it."}}]}
        arguments = {"query": query, "page": page, "request_heartbeat": True}
        return {"tool_calls": [{"name": "conversation_search", "arguments": arguments}]}

    return policy


async def test_conversation_search_pages_never_repeat_a_message_while_evictions_change_the_store(
    store_url: str, tmp_path: Path
) -> None:
    logbook = [
        Message(role="user", content=f"Harbour log {i}: two ships docked at pier {i}.", created_at=START + i * MINUTE)
        for i in range(40)
    ]
    notes = [f"Winter note {j}: in winter the harbour ships stay in the harbour, ships and all." for j in range(6)]
    searching = {"on": False}
    with FakeLLMServer(pager("harbour ships winter", searching), log_path=tmp_path / "requests.jsonl") as server:
        llm = OpenAICompatibleClient("fake", base_url=server.base_url, api_key="k", max_retries=0)
        client = await Client.open(store_url, embedder=None, llm=llm)
        try:
            await client.create_agent("sam", model="openai-compatible/fake", context_window=WINDOW)
            await client.import_messages("sam", logbook)
            for note in notes:  # in the context window, so left out of search, until evicted during the chain
                await client.send_message("sam", note)
            searching["on"] = True
            events = await client.send_message("sam", "What does my log say about harbour ships in winter?")
            agent = await client.get_agent("sam")
            stored = await client.store.list_messages(agent.id, limit=10_000)
        finally:
            await client.close()
            await llm.close()
    assert any(event.type == "summary" for event in events)  # the store changed between two pages
    results = [_result({"content": m.content}) for m in stored if m.role == "tool" and m.name == "conversation_search"]
    shown = [
        line.split("] user: ", 1)[1] for result in results for line in result.splitlines() if line.startswith("- [")
    ]
    assert len(shown) == len(set(shown))  # no message twice
    assert {m.content for m in logbook} <= set(shown)  # none skipped
    assert set(shown) & set(notes)  # evicted mid-chain, they joined the ranking's tail
    headers = [result.splitlines()[0] for result in results]
    assert all(f"of {len(shown)} " in header for header in headers[-1:])
    assert headers[-1].endswith("no more results.")
    assert all("more on page" in header for header in headers[:-1])


async def test_search_results_say_how_many_there_are_and_when_the_ranking_ends(store: Store) -> None:
    state = await make_agent(store)
    await store.append_messages(state.id, conversation()[:7])
    context = ToolContext(agent=state, memory=CoreMemory(state.blocks), store=store)
    executor = ToolExecutor()

    async def search(page: int) -> str:
        arguments = json.dumps({"query": QUERY, "page": page, "request_heartbeat": False})
        result = await executor.execute(ToolCall("c1", "conversation_search", arguments), context)
        assert result.status == "OK", result.message
        return result.message

    first, last, after = await search(0), await search(1), await search(2)
    assert first.startswith("Showing messages 1-5 of 7 (page 0 of 0-1): more on page 1.\n")
    assert last.startswith("Showing messages 6-7 of 7 (page 1 of 0-1): no more results.\n")
    assert after == "No more messages: all 7 results are on pages 0-1."
    assert len(first.splitlines()) == 6 and len(last.splitlines()) == 3
