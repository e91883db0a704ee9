"""``memgpt db copy`` and ``memgpt db migrate`` between real SQLite files and a real PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from memgpt.errors import ValidationError
from memgpt.memory.agent_state import AgentState
from memgpt.memory.blocks import Block
from memgpt.memory.protocols import Source, SourceFile
from memgpt.memory.types import Message, Passage, ToolCall
from memgpt.storage import open_store
from memgpt.storage.copy import copy_store
from tests.conftest import local_embedder

pytestmark = pytest.mark.postgres


async def fill(url: str) -> None:
    """Two agents of two users with messages (tool calls, metadata), passages and embeddings."""
    store: Any = await open_store(url, embedder=local_embedder())
    try:
        for user, name, n in (("user-local", "sam", 23), ("user-other", "eve", 7)):
            state = AgentState(
                name=name,
                model="openai/gpt-4o-mini",
                context_window=8000,
                user_id=user,
                blocks=[Block("persona", f"I am {name}."), Block("human", "Name: Ada", read_only=True)],
                summary=f"{name} talked about cats",
                summary_updated_at=datetime(2024, 5, 1, tzinfo=UTC),
            )
            await store.create_agent(state)
            start = datetime(2024, 5, 1, 12, tzinfo=UTC)
            messages = [
                Message(
                    role="user", content=f"{name} message {i} about cat {i}", created_at=start + timedelta(minutes=i)
                )
                for i in range(n)
            ]
            messages.append(
                Message(
                    role="assistant",
                    content=None,
                    tool_calls=[ToolCall(id="c1", name="send_message", arguments='{"message": "hi"')],
                    metadata={"kind": "reply"},
                )
            )
            await store.append_messages(state.id, messages)
            await store.embed_pending_messages(state.id, limit=10_000)
            state.fifo_ids = [m.id for m in messages[-3:]]
            await store.save_agent(state)
            passages = [
                Passage(text=f"{name} fact {i}: the cat sleeps in box {i}", metadata={"i": i}) for i in range(n)
            ]
            await store.insert_passages(state.id, passages)
        bare = AgentState(name="bare", model="none", context_window=1000, user_id="user-other")
        await store.create_agent(bare)
        house = Block("house", "The cats' house rules.", limit=300)  # shared by eve and bare, edited once
        await store.create_block("user-other", house)
        for owner in (await store.get_agent("user-other", "eve"), bare):
            await store.attach_block(owner.id, house.id)
        await store.update_block("user-other", replace(house, value="The cats' house rules, v2."))
        await store.create_block("user-local", Block("spare", "shown by no agent"))
        manual = Source(name="manual", user_id="user-local", description="the cat manual")
        await store.create_source(manual)
        for path, state_of, chunks in (("/docs/cats.md", "done", 9), ("/docs/draft.md", "loading", 2)):
            file = await store.begin_source_file(
                SourceFile(source_id=manual.id, path=path, content_hash="h", size=100, metadata={"title": path})
            )
            texts = [
                Passage(text=f"{path} chunk {i}: cats nap in sunny boxes", metadata={"chunk": i}) for i in range(chunks)
            ]
            await store.add_source_passages(file.id, 0, texts)
            if state_of == "done":
                await store.commit_source_file(file.id)
        sam = await store.get_agent("user-local", "sam")
        await store.attach_source(sam.id, manual.id)
    finally:
        await store.close()


async def snapshot(url: str) -> dict[str, Any]:
    """Everything a user could see of the store, plus its raw embeddings' search results."""
    store: Any = await open_store(url, embedder=local_embedder())
    try:
        seen: dict[str, Any] = {}
        for user in ("user-local", "user-other"):
            for agent in await store.list_agents(user):
                messages = await store.list_messages(agent.id, limit=1000)
                passages = await store.list_passages(agent.id, limit=1000)
                semantic = await store.search_passages(
                    agent.id, "where does the cat sleep", mode="semantic", page_size=20
                )
                recall = await store.search_messages(agent.id, "cat 3", mode="semantic")
                seen[agent.id + ":sources"] = [
                    (src.id, src.name, src.description, src.file_count, src.passage_count)
                    for src in await store.list_agent_sources(agent.id)
                ]
                seen[agent.id] = {
                    "agent": (agent.name, agent.user_id, agent.summary, agent.summary_updated_at, agent.fifo_ids),
                    "blocks": [(b.id, b.label, b.value, b.read_only, b.version) for b in agent.blocks],
                    "messages": [(m.id, m.role, m.content, m.tool_calls, m.metadata, m.created_at) for m in messages],
                    "passages": [(p.id, p.text, p.metadata, p.created_at) for p in passages],
                    "semantic": [(h.id, round(h.score, 5)) for h in semantic.hits],
                    "recall": [(h.id, round(h.score, 5)) for h in recall.hits],
                }
            seen[user + ":blocks"] = [
                (r.block.id, r.block.label, r.block.value, r.block.version, r.standalone, r.agent_ids)
                for r in await store.list_blocks(user)
            ]
            for src in await store.list_sources(user):
                files = await store.list_source_files(src.id)
                seen[src.id] = [(f.id, f.path, f.state, f.passage_count, f.metadata, f.content_hash) for f in files]
        return seen
    finally:
        await store.close()


async def test_copy_sqlite_to_postgres_and_back_keeps_everything(tmp_path: Path, postgres_url: str) -> None:
    source = f"sqlite:///{tmp_path / 'source.db'}"
    await fill(source)
    report = await copy_store(source, postgres_url, batch_size=5)
    assert (report.agents, report.messages, report.passages) == (3, 24 + 8, 23 + 7)
    assert (report.sources, report.source_passages) == (1, 9 + 2)
    original = await snapshot(source)
    assert await snapshot(postgres_url) == original
    back = f"sqlite:///{tmp_path / 'back.db'}"
    await copy_store(postgres_url, back)
    assert await snapshot(back) == original


async def test_copy_refuses_other_agents_of_the_same_name_unless_overwrite(tmp_path: Path, postgres_url: str) -> None:
    source = f"sqlite:///{tmp_path / 'source.db'}"
    await fill(source)
    await copy_store(source, postgres_url)
    other = f"sqlite:///{tmp_path / 'other.db'}"
    await fill(other)  # the same names, other ids
    with pytest.raises(
        ValidationError, match=r"already holds agent bare, agent eve, agent sam, source manual\. Nothing was copied"
    ):
        await copy_store(other, postgres_url)
    first = await snapshot(postgres_url)
    report = await copy_store(other, postgres_url, overwrite=True)
    assert report.replaced == ["bare", "eve", "manual", "sam"]
    copied, wanted = await snapshot(postgres_url), await snapshot(other)
    for user in ("user-local", "user-other"):
        # blocks made on their own are not the replaced agents': the first copy's stay, shown by no agent now
        kept = [(*b[:5], []) for b in first[f"{user}:blocks"] if b[4]]
        assert copied.pop(f"{user}:blocks") == kept + wanted.pop(f"{user}:blocks")
    assert copied == wanted


async def test_running_a_finished_copy_again_brings_only_what_is_new(tmp_path: Path, postgres_url: str) -> None:
    source = f"sqlite:///{tmp_path / 'source.db'}"
    await fill(source)
    await copy_store(source, postgres_url)
    again = await copy_store(source, postgres_url)
    assert (again.rows, again.resumed) == (0, 4)
    store: Any = await open_store(source, embedder=None)
    try:
        sam = await store.get_agent("user-local", "sam")
        await store.append_messages(sam.id, [Message(role="user", content="one more thing about cats")])
    finally:
        await store.close()
    synced = await copy_store(source, postgres_url)
    assert (synced.messages, synced.passages) == (1, 0)
    assert await snapshot(postgres_url) == await snapshot(source)
    target: Any = await open_store(postgres_url, embedder=None)
    try:
        sam = await target.get_agent("user-local", "sam")
        await target.append_messages(sam.id, [Message(role="user", content="written in the copy")])
    finally:
        await target.close()
    with pytest.raises(ValidationError, match="has changed since it was copied"):
        await copy_store(source, postgres_url)


async def test_interrupted_copy_resumes_without_duplicates(tmp_path: Path, postgres_url: str) -> None:
    source = f"sqlite:///{tmp_path / 'source.db'}"
    await fill(source)
    copied = 0

    def crash_after_some(n: int) -> None:
        nonlocal copied
        copied += n
        if copied >= 20:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        await copy_store(source, postgres_url, batch_size=4, on_progress=crash_after_some)
    report = await copy_store(source, postgres_url, batch_size=4)
    assert report.resumed == 4  # the source and the agents were written before the interruption
    # every batch reported before the interruption was committed; the rest came now, nothing twice
    assert report.messages + report.passages + report.source_passages == 24 + 8 + 23 + 7 + 11 - copied
    assert await snapshot(postgres_url) == await snapshot(source)


async def test_a_sync_compares_ids_not_counts(tmp_path: Path, postgres_url: str) -> None:
    """The source forgot one passage and gained another (the same count): the copy holds a passage the source
    does not, so a sync is refused; --overwrite copies that agent afresh and nothing else."""
    source = f"sqlite:///{tmp_path / 'source.db'}"
    await fill(source)
    await copy_store(source, postgres_url)
    store: Any = await open_store(source, embedder=local_embedder())
    try:
        sam = await store.get_agent("user-local", "sam")
        forgotten = (await store.list_passages(sam.id, limit=1))[0]
        await store.delete_passages(sam.id, [forgotten.id])
        await store.insert_passages(sam.id, [Passage(text="sam fact new: the cat moved to a basket")])
    finally:
        await store.close()
    with pytest.raises(
        ValidationError, match=rf"has changed since it was copied: {sam.id} holds passages .*--overwrite"
    ):
        await copy_store(source, postgres_url)
    report = await copy_store(source, postgres_url, overwrite=True)
    assert report.replaced == ["sam"]
    assert await snapshot(postgres_url) == await snapshot(source)
    target: Any = await open_store(postgres_url, embedder=None)
    try:
        texts = [p.text for p in await target.list_passages(sam.id, limit=1000)]
    finally:
        await target.close()
    assert forgotten.text not in texts and "sam fact new: the cat moved to a basket" in texts


async def test_a_sync_brings_embeddings_written_since_and_detachments(tmp_path: Path, postgres_url: str) -> None:
    source = f"sqlite:///{tmp_path / 'source.db'}"
    await fill(source)
    store: Any = await open_store(source, embedder=local_embedder())
    try:
        sam = await store.get_agent("user-local", "sam")
        late = [Message(role="user", content=f"late message {i} about the cat flap") for i in range(5)]
        await store.append_messages(sam.id, late)  # not embedded yet when the copy runs
    finally:
        await store.close()
    await copy_store(source, postgres_url, batch_size=3)
    store = await open_store(source, embedder=local_embedder())
    try:
        assert await store.embed_pending_messages(sam.id, limit=100) == 5
        manual = await store.get_source("user-local", "manual")
        assert await store.detach_source(sam.id, manual.id)
    finally:
        await store.close()
    synced = await copy_store(source, postgres_url, batch_size=3)
    assert synced.rows == 0
    assert await snapshot(postgres_url) == await snapshot(source)
    target: Any = await open_store(postgres_url, embedder=local_embedder())
    try:
        assert await target.list_agent_sources(sam.id) == []
        hits = await target.search_messages(sam.id, "late message 3 about the cat flap", mode="semantic")
        assert hits.hits[0].text == "late message 3 about the cat flap"
    finally:
        await target.close()


async def test_a_sync_refuses_a_copy_that_holds_a_file_the_source_deleted(tmp_path: Path, postgres_url: str) -> None:
    source = f"sqlite:///{tmp_path / 'source.db'}"
    await fill(source)
    await copy_store(source, postgres_url)
    store: Any = await open_store(source, embedder=None)
    try:
        manual = await store.get_source("user-local", "manual")
        draft = next(f for f in await store.list_source_files(manual.id) if f.path == "/docs/draft.md")
        await store.delete_source_file(draft.id)
    finally:
        await store.close()
    with pytest.raises(ValidationError, match="has changed since it was copied"):
        await copy_store(source, postgres_url)
    assert (await copy_store(source, postgres_url, overwrite=True)).replaced == ["manual"]
    assert await snapshot(postgres_url) == await snapshot(source)


def memgpt(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "memgpt.cli.main", *args], env=env, capture_output=True, text=True, timeout=300
    )


async def test_cli_migrate_and_copy(tmp_path: Path, postgres_url: str) -> None:
    source = f"sqlite:///{tmp_path / 'source.db'}"
    await fill(source)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMGPT_")}
    env.update(MEMGPT_HOME=str(tmp_path / "home"), MEMGPT_DATABASE_URL=postgres_url, MEMGPT_EMBEDDING="none")
    first = memgpt("db", "migrate", env=env)
    assert first.returncode == 0, first.stderr
    assert "from schema version 0 to" in first.stdout
    again = memgpt("db", "migrate", env=env)
    assert "up to date" in again.stdout
    copied = memgpt("db", "copy", "--from", source, "--to", postgres_url, env=env)
    assert copied.returncode == 0, copied.stderr
    assert "Copied 3 agent(s), 32 messages and 30 passages, 1 source(s) with 11 passages" in copied.stdout
    again = memgpt("db", "copy", "--from", source, "--to", postgres_url, env=env)
    assert again.returncode == 0 and "Nothing new to copy" in again.stdout, again.stderr
    other = f"sqlite:///{tmp_path / 'other.db'}"
    await fill(other)
    clash = memgpt("db", "copy", "--from", other, "--to", postgres_url, env=env)
    assert clash.returncode == 1
    assert (
        "already holds agent bare, agent eve, agent sam, source manual" in clash.stderr
        and "Traceback" not in clash.stderr
    )
    listed = memgpt("agents", "list", "--json", env=env)
    assert '"sam"' in listed.stdout
    unreachable = memgpt("db", "migrate", env={**env, "MEMGPT_DATABASE_URL": "postgresql://x@127.0.0.1:1/db"})
    assert unreachable.returncode == 2 and "Start the PostgreSQL server" in unreachable.stderr


async def test_embeddings_survive_the_round_trip_bit_for_bit(tmp_path: Path, postgres_url: str) -> None:
    source = f"sqlite:///{tmp_path / 'source.db'}"
    await fill(source)
    back = f"sqlite:///{tmp_path / 'back.db'}"
    await copy_store(source, postgres_url)
    await copy_store(postgres_url, back)
    stores: list[Any] = [await open_store(url, embedder=None) for url in (source, postgres_url, back)]
    compared = 0
    try:
        for _, agent in await stores[0].read_rows("agents"):
            for table in ("messages", "passages"):
                rows = [await store.read_rows(table, owner=agent["id"], limit=10_000) for store in stores]
                vectors = [[row["embedding"] for _, row in side] for side in rows]
                assert len(vectors[0]) == len(vectors[1]) == len(vectors[2])
                for original, in_postgres, returned in zip(*vectors, strict=True):
                    if original is None:  # a message with only a function call has no searchable text
                        assert in_postgres is None and returned is None
                        continue
                    assert original.dtype == in_postgres.dtype == returned.dtype == np.float32
                    assert np.array_equal(original, in_postgres) and np.array_equal(original, returned)
                    compared += 1
        assert compared == 23 + 7 + 23 + 7  # every user message and passage of sam and eve
    finally:
        for store in stores:
            await store.close()


async def test_every_edge_case_text_round_trips_in_both_directions(tmp_path: Path, postgres_url: str) -> None:
    from tests.storage.test_rows import AWKWARD

    source = f"sqlite:///{tmp_path / 'source.db'}"
    store: Any = await open_store(source, embedder=None)
    try:
        state = AgentState(name="sam", model="none", context_window=8000, blocks=[Block("human", AWKWARD)])
        await store.create_agent(state)
        big = "the longest message. " * 47_000
        await store.append_messages(
            state.id,
            [
                Message(role="user", content=AWKWARD, name="Zoë", metadata={AWKWARD: [AWKWARD, 1.5]}),
                Message(role="user", content=big[:1_000_000]),
                Message(role="assistant", content=None, tool_calls=[ToolCall(id="c", name="x", arguments=AWKWARD)]),
            ],
        )
        await store.insert_passages(state.id, [Passage(text=AWKWARD, metadata={"source": AWKWARD})])
    finally:
        await store.close()
    back = f"sqlite:///{tmp_path / 'back.db'}"
    to_postgres = await copy_store(source, postgres_url)
    to_sqlite = await copy_store(postgres_url, back)
    assert to_postgres.repaired == to_sqlite.repaired == 0
    original = await snapshot(source)
    assert await snapshot(postgres_url) == original
    assert await snapshot(back) == original


async def test_users_and_keys_are_copied_and_a_user_of_the_same_name_is_never_replaced(
    tmp_path: Path, postgres_url: str
) -> None:
    from memgpt.identity import User, hash_key, new_key

    source = f"sqlite:///{tmp_path / 'source.db'}"
    store: Any = await open_store(source, embedder=None)
    try:
        ada = User("ada")
        await store.create_user(ada)
        made = new_key(ada.id, "laptop")
        await store.create_api_key(made.key)
        await store.create_agent(AgentState(name="sam", model="none", context_window=8000, user_id=ada.id))
    finally:
        await store.close()
    await copy_store(source, postgres_url)
    target: Any = await open_store(postgres_url, embedder=None)
    try:
        found = await target.find_api_key(hash_key(made.secret))
        assert found is not None and found[1].id == ada.id  # the same key works against the copy
        assert [a.name for a in await target.list_agents(ada.id)] == ["sam"]
    finally:
        await target.close()
    other = f"sqlite:///{tmp_path / 'other.db'}"
    store = await open_store(other, embedder=None)
    try:
        await store.create_user(User("ada"))  # another user of the same name
    finally:
        await store.close()
    for overwrite in (False, True):
        with pytest.raises(ValidationError, match="other users named ada"):
            await copy_store(other, postgres_url, overwrite=overwrite)
