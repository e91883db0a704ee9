"""Conformance of shared core-memory blocks, on every backend: objects of their own, attachable to several
agents of one user, saved compare-and-set on their version, never deleted while an agent shows them."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest

from memgpt.errors import AlreadyExistsError, BlockChangedError, NotFoundError, ValidationError
from memgpt.memory.block_edits import save_edit
from memgpt.memory.blocks import Block, CoreMemory
from tests.storage.test_conformance import make_agent

Store = Any
LOCAL = "user-local"


async def test_an_agents_blocks_are_rows_of_their_own_in_its_order(store: Store) -> None:
    state = await make_agent(store)
    loaded = await store.get_agent(LOCAL, state.id)
    assert [(b.id, b.label, b.value, b.version) for b in loaded.blocks] == [
        (state.blocks[0].id, "persona", "I am Sam.", 1),
        (state.blocks[1].id, "human", "", 1),
    ]
    records = {r.block.label: r for r in await store.list_blocks(LOCAL)}
    assert records["persona"].agent_ids == [state.id] and not records["persona"].standalone
    assert [r.block.label for r in await store.list_blocks(LOCAL, label="human")] == ["human"]


async def test_one_block_shown_by_two_agents_is_one_row(store: Store) -> None:
    sam, bo = await make_agent(store, "sam"), await make_agent(store, "bo")
    policy = Block("policy", "Be kind.", limit=200)
    await store.create_block(LOCAL, policy)
    assert await store.attach_block(sam.id, policy.id) is True
    assert await store.attach_block(bo.id, policy.id) is True
    assert await store.attach_block(bo.id, policy.id) is False  # already shown
    assert [b.label for b in await store.agent_blocks(bo.id)] == ["persona", "human", "policy"]

    edited = replace((await store.agent_blocks(sam.id))[2], value="Be kind. Be brief.")
    saved = await store.update_block(LOCAL, edited, agent_id=sam.id)
    assert saved.version == 2
    seen_by_bo = (await store.get_agent(LOCAL, bo.id)).blocks[2]
    assert (seen_by_bo.id, seen_by_bo.value, seen_by_bo.version) == (policy.id, "Be kind. Be brief.", 2)
    record = await store.get_block(LOCAL, policy.id)
    assert record.agent_ids == [sam.id, bo.id] and record.standalone


async def test_a_save_of_a_stale_copy_changes_nothing(store: Store) -> None:
    sam = await make_agent(store)
    ours, theirs = sam.blocks[1], replace(sam.blocks[1])
    await store.update_block(LOCAL, replace(theirs, value="Name: Bo"), agent_id=sam.id)
    with pytest.raises(BlockChangedError):
        await store.update_block(LOCAL, replace(ours, value="Name: Ada"), agent_id=sam.id)
    assert (await store.agent_blocks(sam.id))[1].value == "Name: Bo"


async def test_concurrent_appends_to_one_block_both_survive(store: Store) -> None:
    """Two agents appending at the same moment from copies of one version: the later save re-reads and retries."""
    sam, bo = await make_agent(store, "sam"), await make_agent(store, "bo")
    notes = Block("notes", "", limit=10_000)
    await store.create_block(LOCAL, notes)
    for agent in (sam, bo):
        await store.attach_block(agent.id, notes.id)
    copies = {a.id: CoreMemory(await store.agent_blocks(a.id)) for a in (sam, bo)}

    async def append(agent_id: str, line: str) -> None:
        await save_edit(store, LOCAL, copies[agent_id], lambda m: m.append("notes", line), agent_id=agent_id)

    await asyncio.gather(*(append(a.id, f"{a.name} line {i}") for i in range(5) for a in (sam, bo)))
    stored = (await store.agent_blocks(sam.id))[2]
    assert sorted(stored.value.splitlines()) == sorted(f"{n} line {i}" for i in range(5) for n in ("sam", "bo"))
    assert stored.version == 11


async def test_an_edit_that_no_longer_applies_is_refused_saying_why(store: Store) -> None:
    sam, bo = await make_agent(store, "sam"), await make_agent(store, "bo")
    shared = Block("facts", "Ada likes tea.")
    await store.create_block(LOCAL, shared)
    await store.attach_block(sam.id, shared.id)
    await store.attach_block(bo.id, shared.id)
    bos = CoreMemory(await store.agent_blocks(bo.id))
    await store.update_block(LOCAL, replace(shared, value="Ada likes coffee."))
    with pytest.raises(ValidationError, match="just changed by another agent"):
        await save_edit(store, LOCAL, bos, lambda m: m.replace("facts", "tea", "milk"), agent_id=bo.id)
    assert bos.get("facts").value == "Ada likes coffee."  # its copy now shows what is stored


async def test_labels_stay_unique_per_agent_across_shared_blocks(store: Store) -> None:
    sam = await make_agent(store)
    other_human = Block("human", "someone else")
    await store.create_block(LOCAL, other_human)
    with pytest.raises(AlreadyExistsError, match="already has a block labelled 'human'"):
        await store.attach_block(sam.id, other_human.id)
    rules = Block("rules", "x")
    await store.create_block(LOCAL, rules)
    await store.attach_block(sam.id, rules.id)
    with pytest.raises(AlreadyExistsError):
        await store.update_block(LOCAL, replace(rules, label="persona"))
    assert [b.label for b in await store.agent_blocks(sam.id)] == ["persona", "human", "rules"]
    renamed = await store.update_block(LOCAL, replace(rules, label="house_rules"))
    assert [b.label for b in await store.agent_blocks(sam.id)] == ["persona", "human", "house_rules"]
    assert renamed.version == 2


async def test_deleting_an_agent_never_deletes_a_block_another_agent_shows(store: Store) -> None:
    sam, bo = await make_agent(store, "sam"), await make_agent(store, "bo")
    sams_persona = sam.blocks[0]
    team = Block("team", "t")
    await store.create_block(LOCAL, team)
    await store.attach_block(bo.id, team.id)
    await store.detach_block(bo.id, bo.blocks[0].id)  # bo shows sam's persona instead of its own
    await store.attach_block(bo.id, sams_persona.id)
    await store.delete_agent(LOCAL, sam.id)
    left = {r.block.id: r for r in await store.list_blocks(LOCAL)}
    assert sams_persona.id in left and left[sams_persona.id].agent_ids == [bo.id]
    assert sam.blocks[1].id not in left  # sam's own human block went with it
    assert left[bo.blocks[0].id].standalone and left[bo.blocks[0].id].agent_ids == []  # detached, kept
    await store.delete_agent(LOCAL, bo.id)
    left = {r.block.label for r in await store.list_blocks(LOCAL)}
    assert left == {"team", "persona"}  # made on their own (or detached): kept; the agents' own ones: gone


async def test_blocks_are_scoped_by_user(store: Store) -> None:
    mine = await make_agent(store)
    theirs = await make_agent(store, user_id="user-other")
    secret = Block("secret", "theirs")
    await store.create_block("user-other", secret)
    with pytest.raises(NotFoundError):
        await store.get_block(LOCAL, secret.id)
    with pytest.raises(NotFoundError):
        await store.attach_block(mine.id, secret.id)
    with pytest.raises(NotFoundError):
        await store.update_block(LOCAL, replace(secret, value="mine now"))
    with pytest.raises(NotFoundError):
        await store.delete_block(LOCAL, secret.id)
    assert [r.block.label for r in await store.list_blocks(LOCAL)] == ["persona", "human"]
    assert (await store.get_block("user-other", secret.id)).block.value == "theirs"
    assert await store.attach_block(theirs.id, secret.id)


async def test_deleting_a_block_detaches_it_everywhere(store: Store) -> None:
    sam, bo = await make_agent(store, "sam"), await make_agent(store, "bo")
    shared = Block("team", "t")
    await store.create_block(LOCAL, shared)
    for agent in (sam, bo):
        await store.attach_block(agent.id, shared.id)
    assert sorted(await store.delete_block(LOCAL, shared.id)) == sorted([sam.id, bo.id])
    assert [b.label for b in await store.agent_blocks(sam.id)] == ["persona", "human"]
    with pytest.raises(NotFoundError):
        await store.update_block(LOCAL, shared)


async def test_an_edit_of_a_block_detached_meanwhile_is_refused(store: Store) -> None:
    sam = await make_agent(store)
    copy = CoreMemory(await store.agent_blocks(sam.id))
    await store.detach_block(sam.id, sam.blocks[1].id)
    with pytest.raises(NotFoundError, match="no longer in this agent's core memory"):
        await save_edit(store, LOCAL, copy, lambda m: m.append("human", "x"), agent_id=sam.id)


async def test_block_writes_inside_a_transaction_roll_back_with_it(store: Store) -> None:
    sam = await make_agent(store)
    with pytest.raises(RuntimeError):
        async with store.transaction():
            await store.update_block(LOCAL, replace(sam.blocks[1], value="Name: Ada"), agent_id=sam.id)
            raise RuntimeError("the step failed")
    assert (await store.agent_blocks(sam.id))[1] == sam.blocks[1]


async def test_deleting_a_user_deletes_their_blocks_only(store: Store) -> None:
    from memgpt.identity import User

    ada = User("ada")
    await store.create_user(ada)
    await make_agent(store, "sam", user_id=ada.id)
    await store.create_block(ada.id, Block("kept", "x"))
    await make_agent(store, "bo")
    await store.delete_user(ada.id)
    assert await store.list_blocks(ada.id) == []
    assert [r.block.label for r in await store.list_blocks(LOCAL)] == ["persona", "human"]
