"""What both engines store and refuse, identically (the conformance suite's part on untrusted values)."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest

from memgpt.errors import AlreadyExistsError, NotFoundError, ValidationError
from memgpt.memory.agent_state import AgentState
from memgpt.memory.blocks import Block
from memgpt.memory.protocols import Source
from memgpt.memory.types import Message, Passage, ToolCall, new_id

Store = Any
AWKWARD = "emoji 🎉🧠, bell \x07, tab\t, escape \x1b[31m, CJK 漢字, RTL \u202eabc, zero-width \u200b, combining e\u0301"


async def make_agent(store: Store, name: str = "sam") -> AgentState:
    state = AgentState(name=name, model="openai/gpt-4o-mini", context_window=8000, blocks=[Block("human", "")])
    await store.create_agent(state)
    return state


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"a": value}
    return value


BAD_MESSAGES = {
    "NUL in content": Message(role="user", content="a\x00b"),
    "lone surrogate in content": Message(role="user", content="a\ud800b"),
    "over a million characters": Message(role="user", content="x" * 1_000_001),
    "unknown role": Message(role="bogus", content="hi"),  # type: ignore[arg-type]
    "function name not text": Message(
        role="assistant",
        content=None,
        tool_calls=[ToolCall(id="c", name=5, arguments="{}")],  # type: ignore[arg-type]
    ),
    "NUL in function arguments": Message(
        role="assistant", content=None, tool_calls=[ToolCall(id="c", name="send_message", arguments='{"m": "\x00"}')]
    ),
    "surrogate in a sender name": Message(role="user", content="hi", name="\udc80"),
    "NaN in metadata": Message(role="user", content="hi", metadata={"score": math.nan}),
    "metadata nested too deep": Message(role="user", content="hi", metadata=nested(40)),
    "metadata key not text": Message(role="user", content="hi", metadata={1: "x"}),  # type: ignore[dict-item]
    "NUL in metadata": Message(role="user", content="hi", metadata={"k": "\x00"}),
}


@pytest.mark.parametrize("case", list(BAD_MESSAGES))
async def test_unstorable_messages_are_refused_and_nothing_is_stored(store: Store, case: str) -> None:
    state = await make_agent(store)
    good = Message(role="user", content="a good message before it")
    with pytest.raises(ValidationError):
        await store.append_messages(state.id, [good, BAD_MESSAGES[case]])
    assert await store.count_messages(state.id) == 0
    with pytest.raises(ValidationError):
        await store.append_and_save(state, [BAD_MESSAGES[case]])
    assert await store.count_messages(state.id) == 0


@pytest.mark.parametrize("text", ["a\x00b", "\ud83d", "x" * 1_000_001, "   \n "])
async def test_unstorable_passages_are_refused(store: Store, text: str) -> None:
    state = await make_agent(store)
    with pytest.raises(ValidationError):
        await store.insert_passages(state.id, [Passage(text="fine"), Passage(text=text)])
    assert await store.count_passages(state.id) == 0


@pytest.mark.parametrize("value", ["a\x00b", "\udfff"])
async def test_unstorable_block_values_and_summaries_are_refused(store: Store, value: str) -> None:
    state = await make_agent(store)
    state.blocks[0].value = value
    with pytest.raises(ValidationError):
        await store.update_block("user-local", state.blocks[0], agent_id=state.id)
    with pytest.raises(ValidationError):
        await store.create_block("user-local", Block("notes", value))
    state.blocks[0].value = "fine"
    state.summary = value
    with pytest.raises(ValidationError):
        await store.save_agent(state)
    loaded = await store.get_agent("user-local", state.id)
    assert loaded.blocks[0].value == "" and loaded.summary == ""


async def test_awkward_but_valid_text_round_trips_exactly(store: Store) -> None:
    state = await make_agent(store)
    big = "a million characters. " * 45_454 + "end"
    assert len(big) <= 1_000_000
    calls = [ToolCall(id="c1", name="send_message", arguments='{"message": "' + AWKWARD.replace("\x1b", "") + '"')]
    messages = [
        Message(role="user", content=AWKWARD, name="Zoë", metadata={"k": AWKWARD, "n": [1, 2.5, None, True]}),
        Message(role="assistant", content=None, tool_calls=calls),
        Message(role="user", content=big),
    ]
    await store.append_messages(state.id, messages)
    await store.insert_passages(state.id, [Passage(text=AWKWARD, metadata={"title": AWKWARD})])
    state.blocks[0].value = AWKWARD
    state.summary = AWKWARD
    await store.save_agent(state)
    await store.update_block("user-local", state.blocks[0], agent_id=state.id)
    stored = await store.list_messages(state.id)
    assert [(m.content, m.name, m.metadata, m.tool_calls) for m in stored] == [
        (m.content, m.name, m.metadata, m.tool_calls) for m in messages
    ]
    [passage] = await store.list_passages(state.id)
    assert (passage.text, passage.metadata) == (AWKWARD, {"title": AWKWARD})
    loaded = await store.get_agent("user-local", state.id)
    assert (loaded.blocks[0].value, loaded.summary) == (AWKWARD, AWKWARD)
    hits = await store.search_messages(state.id, "Zoë emoji", mode="text")
    assert hits.hits and hits.hits[0].name == "Zoë"


async def test_names_with_the_shape_of_an_id_are_refused(store: Store) -> None:
    """An agent named with another agent's id made that agent unreachable by its name."""
    first = await make_agent(store, "first")
    for name in (first.id, new_id("agent"), new_id("source")):
        with pytest.raises(ValidationError, match="shape of an id"):
            await make_agent(store, name)
        with pytest.raises(ValidationError, match="shape of an id"):
            await store.create_source(Source(name=name, user_id="user-local"))
    assert (await store.get_agent("user-local", first.id)).name == "first"
    assert (await store.get_agent("user-local", "first")).id == first.id
    with pytest.raises(NotFoundError):
        await store.get_agent("user-local", new_id("agent"))
    with pytest.raises(AlreadyExistsError):
        await make_agent(store, "first")


async def test_offsets_and_limits_beyond_sql_integers_are_refused(store: Store) -> None:
    state = await make_agent(store)
    for offset, limit in ((2**62, 10), (0, 2**63), (-1, 10), (0, -1)):
        with pytest.raises(ValidationError):
            await store.list_messages(state.id, offset=offset, limit=limit)
        with pytest.raises(ValidationError):
            await store.list_passages(state.id, offset=offset, limit=limit)


# ------------------------------------------------------------------ users and keys
async def test_users_and_keys(store: Store) -> None:
    from memgpt.identity import User, hash_key, new_key

    ada, bo = User("ada"), User("bo")
    await store.create_user(ada)
    await store.create_user(bo)
    with pytest.raises(AlreadyExistsError):
        await store.create_user(User("ada"))
    assert [u.name for u in await store.list_users()] == ["ada", "bo"]
    made = new_key(ada.id, "laptop")
    await store.create_api_key(made.key)
    assert made.secret not in repr(made) and made.secret.startswith(made.key.prefix)
    found = await store.find_api_key(hash_key(made.secret))
    assert found is not None and found[1].name == "ada" and found[0].name == "laptop"
    assert await store.find_api_key(hash_key(made.secret + "x")) is None
    await store.touch_api_key(made.key.id)
    [listed] = await store.list_api_keys(ada.id)
    assert listed.last_used_at is not None and listed.key_hash == made.key.key_hash
    assert await store.list_api_keys(bo.id) == []
    with pytest.raises(NotFoundError):  # one user cannot revoke another's key
        await store.revoke_api_key(bo.id, made.key.id)
    revoked = await store.revoke_api_key(ada.id, made.key.prefix)
    assert revoked.revoked_at is not None
    assert await store.find_api_key(hash_key(made.secret)) is None


async def test_deleting_a_user_deletes_theirs_and_nothing_of_anyone_else(store: Store) -> None:
    """A "delete all for this user" that wiped every user is what mem0 users reported (mem0#3928)."""
    from memgpt.identity import User, new_key

    ada, bo = User("ada"), User("bo")
    for user in (ada, bo):
        await store.create_user(user)
        await store.create_api_key(new_key(user.id).key)
        state = AgentState(name="sam", model="none", context_window=8000, user_id=user.id)
        await store.create_agent(state)
        await store.append_messages(state.id, [Message(role="user", content=f"I am {user.name}")])
        await store.insert_passages(state.id, [Passage(text=f"a note of {user.name}")])
        await store.create_source(Source(name="docs", user_id=user.id))
    await store.delete_user(ada.id)
    with pytest.raises(NotFoundError):
        await store.get_user("ada")
    assert await store.list_agents(ada.id) == [] and await store.list_sources(ada.id) == []
    assert await store.list_api_keys(ada.id) == []
    [kept] = await store.list_agents(bo.id)
    assert [m.content for m in await store.list_messages(kept.id)] == ["I am bo"]
    assert await store.count_passages(kept.id) == 1
    assert [s.name for s in await store.list_sources(bo.id)] == ["docs"]
    assert len(await store.list_api_keys(bo.id)) == 1


async def test_two_loads_of_the_same_file_at_once_share_one_version(store: Store, store_url: str) -> None:
    """A retried upload, or the CLI loading beside the server: both begin the same version of a file."""
    from memgpt.memory.protocols import SourceFile
    from memgpt.storage import open_store

    source = Source(name="docs", user_id="user-local")
    await store.create_source(source)
    other = await open_store(store_url, embedder=None)
    try:
        versions = [SourceFile(source_id=source.id, path="/a.txt", content_hash="h1", size=3) for _ in range(6)]
        begun = await asyncio.gather(
            *(s.begin_source_file(v) for s, v in zip([store, other] * 3, versions, strict=True))
        )
    finally:
        await other.close()
    assert len({b.id for b in begun}) == 1
    assert [f.id for f in await store.list_source_files(source.id)] == [begun[0].id]
