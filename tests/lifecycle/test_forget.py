"""Forgetting on both engines: a secret told, written to core memory, archived and summarised is gone after
``forget`` from every search, the next request, an export, the blocks' history and (SQLite) the file's bytes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from memgpt.client import Client
from memgpt.embeddings.base import Embedder
from memgpt.errors import NotFoundError, ValidationError
from memgpt.llm.openai_compat import OpenAICompatibleClient
from memgpt.testing import FakeLLMServer
from tests.agent.test_agent import call, say
from tests.cli.test_cli import env, llm_env, memgpt  # noqa: F401 - the fixtures

SECRET = "ZEBRA-4417-QUAIL"
WINDOW = 3000
CLEAN_SUMMARY = "The user talked about facts they learned and the numbers that came with them."


def secret_script() -> dict[str, Any]:
    return {
        "replies": [
            call(
                "core_memory_append", {"label": "human", "content": f"Locker code: {SECRET}", "request_heartbeat": True}
            ),
            call(
                "archival_memory_insert", {"content": f"The user's locker code is {SECRET}.", "request_heartbeat": True}
            ),
            say("Noted, I will remember your locker code."),
        ],
        "default": say("Got it, thanks for telling me that."),
        "no_tools_reply": {"content": f"The user's locker code is {SECRET}; they also shared facts about numbers."},
        "context_window": WINDOW,
    }


async def open_client(url: str, server: FakeLLMServer | None, embedder: Embedder | None) -> tuple[Client, Any]:
    llm = OpenAICompatibleClient("fake", base_url=server.base_url, max_retries=0) if server else None
    return await Client.open(url, embedder=embedder, llm=llm), llm


async def tell_secret_until_summarised(client: Client) -> None:
    await client.create_agent("sam", model="openai-compatible/fake", context_window=WINDOW, human="Name: Ada")
    await client.send_message("sam", f"My locker code is {SECRET}, please remember it.")
    for i in range(60):
        events = await client.send_message("sam", f"Message {i}: today I learned fact {i} about the number {i * 7}.")
        if any(e.type == "summary" for e in events):
            break
    state = await client.get_agent("sam")
    assert SECRET in state.summary  # the eviction summarised it (the scripted summariser quotes it)


def mentions(value: Any) -> bool:
    return SECRET.casefold() in json.dumps(value, default=str).casefold()


async def searches_find_secret(client: Client) -> bool:
    for archival in (False, True):
        for mode in ("hybrid", "text", "semantic"):
            page = await client.search(
                "sam", "locker code ZEBRA-4417-QUAIL", archival=archival, mode=mode, page_size=20
            )
            if any(SECRET.casefold() in h.text.casefold() for h in page.hits):
                return True
    return False


async def test_a_forgotten_secret_is_gone_from_everywhere(store_url: str, embedder: Embedder, tmp_path: Path) -> None:
    with FakeLLMServer(secret_script(), log_path=tmp_path / "chat.jsonl") as server:
        client, llm = await open_client(store_url, server, embedder)
        try:
            await tell_secret_until_summarised(client)
            while await client.store.embed_pending_messages((await client.get_agent("sam")).id):
                pass
            assert await searches_find_secret(client)
            assert (await client.get_block("sam", "human")).value.endswith(SECRET)
            recall_before = await client.store.count_messages((await client.get_agent("sam")).id)

            preview = await client.forget("sam", query=SECRET.lower())
            assert not preview.applied and preview.summary_affected
            assert [b.label for b in preview.blocks] == ["human"]
            roles = sorted(i.role or "passage" for i in preview.items)
            # the user's message, the two assistant calls with their two results, the passage
            assert roles == ["assistant", "assistant", "passage", "tool", "tool", "user"]
            assert await client.store.count_messages((await client.get_agent("sam")).id) == recall_before
        finally:
            await client.close()
            await llm.close()

    rewrite = {"replies": [], "default": say("Hello again."), "no_tools_reply": {"content": CLEAN_SUMMARY}}
    with FakeLLMServer(rewrite, log_path=tmp_path / "after.jsonl") as server:
        client, llm = await open_client(store_url, server, embedder)
        try:
            done = await client.forget("sam", query=SECRET, apply=True, scrub_blocks=True)
            assert done.applied and done.messages == 5 and done.passages == 1
            assert done.summary == "rewritten" and not done.summary_flagged
            assert done.blocks_edited == ["human"] and done.blocks == []
            assert done.history_scrubbed >= 1
            state = await client.get_agent("sam")
            assert state.summary == CLEAN_SUMMARY
            assert (await client.get_block("sam", "human")).value == "Name: Ada\nLocker code:"  # only the text goes
            assert not {i.id for i in done.items} & set(state.fifo_ids)
            assert await client.store.count_messages(state.id) == recall_before - 5
            assert not await searches_find_secret(client)
            assert not mentions(await client.export_agent_file("sam", with_archival=True))
            assert not mentions([c.to_dict() for c in await client.block_history("sam")])
            await client.send_message("sam", "What do you remember?")
            assert not mentions(server.requests[-1])  # the next request: core memory, summary, FIFO
            if store_url.startswith("sqlite"):
                path = Path(store_url.removeprefix("sqlite:///"))
                await client.store.erase_deleted()
                assert_bytes_absent(path)
        finally:
            await client.close()
            await llm.close()
    if store_url.startswith("sqlite"):
        assert_bytes_absent(Path(store_url.removeprefix("sqlite:///")))


def assert_bytes_absent(path: Path) -> None:
    files = [path, path.with_name(path.name + "-wal")]
    files += list(path.with_name(path.name + ".indexes").glob("*"))
    for file in files:
        if file.exists():
            data = file.read_bytes().lower()
            for piece in (b"zebra", b"quail"):  # full-text terms are stored lower-cased, one per word
                assert piece not in data, f"{piece!r} still in {file.name}"


async def test_without_an_llm_the_summary_is_replaced_by_a_note(store_url: str, tmp_path: Path) -> None:
    with FakeLLMServer(secret_script()) as server:
        client, llm = await open_client(store_url, server, None)
        try:
            await tell_secret_until_summarised(client)
        finally:
            await client.close()
            await llm.close()
    client, _ = await open_client(store_url, None, None)  # no LLM configured at all
    try:
        done = await client.forget("sam", query=SECRET, apply=True)
        assert done.summary == "replaced" and done.summary_flagged
        state = await client.get_agent("sam")
        assert SECRET not in state.summary and "forgotten" in state.summary
        # the block still holds it (not edited): reported, not changed
        assert [b.label for b in done.blocks] == ["human"]
        assert SECRET in (await client.get_block("sam", "human")).value
    finally:
        await client.close()


async def test_forget_by_id_and_by_date_and_mistakes(store_url: str) -> None:
    client, _ = await open_client(store_url, None, None)
    try:
        from datetime import UTC, datetime, timedelta

        from memgpt.memory.types import Message, Passage

        await client.create_agent("sam", model="openai-compatible/fake")
        old = datetime.now(UTC) - timedelta(days=30)
        await client.import_messages(
            "sam",
            [Message(role="user", content=f"old message {i}", created_at=old + timedelta(minutes=i)) for i in range(3)]
            + [Message(role="user", content="a recent message")],
        )
        [kept_passage, old_passage] = await client.insert_passages(
            "sam", [Passage(text="kept passage"), Passage(text="old passage", created_at=old)]
        )
        messages = await client.list_messages("sam")
        done = await client.forget("sam", message_ids=[messages[0].id], apply=True)
        assert done.messages == 1
        with pytest.raises(NotFoundError):
            await client.forget("sam", message_ids=[messages[0].id])
        done = await client.forget("sam", before=datetime.now(UTC) - timedelta(days=1), apply=True)
        assert (done.messages, done.passages) == (2, 1)
        assert [m.content for m in await client.list_messages("sam")] == ["a recent message"]
        assert [p.id for p in await client.passage_window("sam")] == [kept_passage]
        with pytest.raises(ValidationError, match="Say what to forget"):
            await client.forget("sam")
        with pytest.raises(ValidationError, match="time zone"):
            await client.forget("sam", before=datetime(2026, 1, 1))
        with pytest.raises(ValidationError, match="no block labelled 'nope'"):
            await client.forget("sam", query="recent", apply=True, block_values={"nope": "x"})
        assert [m.content for m in await client.list_messages("sam")] == ["a recent message"]  # nothing lost
        assert old_passage
        with pytest.raises(NotFoundError):  # deleting passages is forgetting them: all or none
            await client.delete_passages("sam", [kept_passage, "passage-0f0f0f0f-0000-4000-8000-000000000000"])
        assert [p.id for p in await client.passage_window("sam")] == [kept_passage]
        unchanged = (await client.get_agent("sam")).updated_at
        nothing = await client.forget("sam", query="no such text", apply=True)
        assert nothing.applied and not nothing.items and nothing.summary == "unchanged"
        assert (await client.get_agent("sam")).updated_at == unchanged  # nothing was written
    finally:
        await client.close()


def test_forget_from_the_command_line(llm_env: dict[str, str]) -> None:  # noqa: F811
    memgpt("agents", "create", "sam", env=llm_env)
    memgpt("chat", "--agent", "sam", "--message", "My sister is Eve.", env=llm_env)
    shown = memgpt("forget", "--agent", "sam", "--query", "sister", env=llm_env).stdout
    assert "sam would forget 3 message(s) and 0 passage(s)" in shown
    assert "Core memory block 'human' contains forgotten text" in shown and "run again with --yes" in shown
    preview = json.loads(memgpt("forget", "--agent", "sam", "--query", "eve", "--json", env=llm_env).stdout)
    assert not preview["applied"] and preview["messages"] == 5  # "Eve" is in the reply's call too
    done = json.loads(
        memgpt(
            "forget",
            "--agent",
            "sam",
            "--query",
            "eve",
            "--block",
            "human=Name: unknown",
            "--yes",
            "--json",
            env=llm_env,
        ).stdout
    )
    assert done["applied"] and done["messages"] == 5 and done["blocks_edited"] == ["human"] and done["blocks"] == []
    history = memgpt("memory", "history", "--agent", "sam", env=llm_env).stdout
    assert "Eve" not in history and "forget via cli" in history
    again = memgpt("forget", "--agent", "sam", "--query", "eve", env=llm_env).stdout
    assert "nothing to forget" in again
    wrong = memgpt("forget", "--agent", "sam", "--before", "yesterday", env=llm_env, check=False)
    assert wrong.returncode == 2 and "is not a date" in wrong.stderr
    none = memgpt("forget", "--agent", "sam", env=llm_env, check=False)
    assert none.returncode == 1 and "Say what to forget" in none.stderr
