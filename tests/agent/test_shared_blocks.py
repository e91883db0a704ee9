"""Agents sharing a core-memory block, through the Client and the agent loop with the scripted LLM."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from memgpt.client import Client
from memgpt.errors import AlreadyExistsError, NotFoundError, ValidationError
from memgpt.llm.openai_compat import OpenAICompatibleClient
from memgpt.testing import FakeLLMServer
from tests.agent.test_agent import call, say

ROOT = Path(__file__).resolve().parents[2]


def system_text(request: dict[str, Any]) -> str:
    return str(request["messages"][0]["content"])


async def test_an_edit_by_one_agent_is_in_the_others_next_request(tmp_path: Path) -> None:
    arguments = {"label": "team", "content": "Ada's birthday is 3 May.", "request_heartbeat": False}
    append = call("core_memory_append", arguments)
    with FakeLLMServer({"replies": [say("Hello."), append, say("Hi.")]}, log_path=tmp_path / "log.jsonl") as server:
        llm = OpenAICompatibleClient("fake", base_url=server.base_url, max_retries=0)
        client = await Client.open(f"sqlite:///{tmp_path / 'a.db'}", embedder=None, llm=llm)
        try:
            team = await client.create_block("team", "Shared notes.", limit=500, description="what the team knows")
            await client.create_agent("sam", model="openai-compatible/fake", block_ids=[team.id])
            await client.create_agent("bo", model="openai-compatible/fake", block_ids=["team"])
            await client.send_message("bo", "hello")  # bo is loaded (and cached) before sam edits
            await client.send_message("sam", "Remember Ada's birthday.")
            await client.send_message("bo", "What do you know?")
            requests = [r for r in server.requests if r.get("tools")]
            assert "Ada's birthday" not in system_text(requests[0])
            assert "Shared notes.\nAda's birthday is 3 May." in system_text(requests[-1])  # bo's next request
            record = await client.find_block("team")
            assert sorted(record.agent_ids) == sorted([(await client.get_agent(n)).id for n in ("sam", "bo")])
            assert record.block.version == 2
        finally:
            await client.close()


async def test_a_users_edit_reaches_every_agent_without_waiting_for_a_step(tmp_path: Path) -> None:
    with FakeLLMServer({"replies": [], "default": say("Ok.")}) as server:
        llm = OpenAICompatibleClient("fake", base_url=server.base_url, max_retries=0)
        client = await Client.open(f"sqlite:///{tmp_path / 'a.db'}", embedder=None, llm=llm)
        try:
            policy = await client.create_block("policy", "Refunds within 30 days.")
            for name in ("sam", "bo"):
                await client.create_agent(name, model="openai-compatible/fake", block_ids=[policy.id])
                await client.send_message(name, "hi")
            await client.edit_block("sam/policy", value="Refunds within 14 days.")
            for name in ("sam", "bo"):
                await client.send_message(name, "What is the refund policy?")
            last = [r for r in server.requests if r.get("tools")][-2:]
            assert all("Refunds within 14 days." in system_text(r) for r in last)
            assert (await client.get_block("bo", "policy")).value == "Refunds within 14 days."
        finally:
            await client.close()


async def test_block_references_and_mistakes(tmp_path: Path) -> None:
    client = await Client.open(f"sqlite:///{tmp_path / 'a.db'}", embedder=None)
    try:
        await client.create_agent("sam", model="openai/gpt-4o-mini")
        await client.create_agent("bo", model="openai/gpt-4o-mini")
        with pytest.raises(ValidationError, match="2 blocks are labelled 'human'; name one as AGENT/human"):
            await client.find_block("human")
        assert (await client.find_block("bo/human")).agent_ids == [(await client.get_agent("bo")).id]
        with pytest.raises(NotFoundError):
            await client.find_block("nobody")
        with pytest.raises(AlreadyExistsError, match="already has a block labelled 'human'"):
            await client.attach_block("sam", "bo/human")
        notes = await client.create_block("notes", "x")
        await client.attach_block("sam", notes.id)
        with pytest.raises(ValidationError, match="in the core memory of sam"):
            await client.delete_block("notes")
        with pytest.raises(ValidationError, match="letters, digits"):
            await client.edit_block("notes", label="bad label")
        with pytest.raises(ValidationError, match="over its limit"):
            await client.edit_block("notes", limit=1, value="xy")
        renamed = await client.edit_block("notes", label="house_notes")
        assert [b.label for b in await client.get_memory("sam")] == ["persona", "human", "house_notes"]
        assert renamed.version == 2
        assert await client.delete_block("house_notes", detach=True) == [(await client.get_agent("sam")).id]
        assert [b.label for b in await client.get_memory("sam")] == ["persona", "human"]
        await client.detach_block("sam", "sam/human")
        with pytest.raises(NotFoundError):
            await client.detach_block("sam", (await client.find_block("bo/human")).block.id)  # bo's, not sam's
        kept = [r for r in await client.list_blocks() if not r.agent_ids]
        assert [(r.block.label, r.standalone) for r in kept] == [("human", True)]  # detached, kept
    finally:
        await client.close()


async def test_another_users_block_answers_not_found(tmp_path: Path) -> None:
    client = await Client.open(f"sqlite:///{tmp_path / 'a.db'}", embedder=None)
    try:
        ada, bo = await client.create_user("ada"), await client.create_user("bo")
        as_ada, as_bo = client.as_user(ada.id), client.as_user(bo.id)
        secret = await as_ada.create_block("secret", "Ada's")
        await as_bo.create_agent("sam", model="openai/gpt-4o-mini")
        for attempt in (
            as_bo.find_block(secret.id),
            as_bo.edit_block(secret.id, value="mine"),
            as_bo.attach_block("sam", secret.id),
            as_bo.delete_block(secret.id),
        ):
            with pytest.raises(NotFoundError):
                await attempt
        assert await as_bo.list_blocks(label="secret") == []
        assert (await as_ada.find_block("secret")).block.value == "Ada's"
    finally:
        await client.close()


@pytest.mark.slow
async def test_two_processes_appending_to_one_block_lose_no_line(store_url: str) -> None:
    """Two agents in two processes append to one block at the same time; every line survives (a save that
    found the block changed re-reads it and appends again), and the model never saw a Failed append."""
    count = 8
    client = await Client.open(store_url, embedder=None)
    try:
        notes = await client.create_block("notes", "", limit=20_000)
        for name in ("sam", "bo"):
            await client.create_agent(name, model="openai-compatible/fake", context_window=32_000, block_ids=[notes.id])
    finally:
        await client.close()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.agent.shared_block_worker",
            store_url,
            name,
            str(count),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd=ROOT,
        )
        for name in ("sam", "bo")
    ]
    results = []
    for worker in workers:
        out, err = await asyncio.wait_for(worker.communicate(), timeout=300)
        assert worker.returncode == 0, err.decode()
        results.append(json.loads(out.decode().strip().splitlines()[-1]))
    assert all(r["statuses"] == ["OK"] * count for r in results)
    client = await Client.open(store_url, embedder=None)
    try:
        stored = (await client.find_block("notes")).block
    finally:
        await client.close()
    expected = sorted(f"{n} line {i}" for n in ("sam", "bo") for i in range(count))
    assert sorted(stored.value.splitlines()) == expected
    assert stored.version == 1 + 2 * count
    assert sum(r["conflicts"] for r in results) > 0  # the race happened: some saves found the block changed
