"""Agent files are untrusted: what is damaged, truncated, refers to ids it does not hold, or would clash is
refused with a message naming what is wrong (its JSON path), and leaves nothing behind."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from memgpt.agentfile import schema
from memgpt.client import Client
from memgpt.errors import AlreadyExistsError, NotFoundError, ValidationError
from tests.agentfile.test_shared_files import FILES, NAMES

pytestmark = pytest.mark.skipif(not NAMES, reason=f"the shared agent files are not in {FILES}")


def document(name: str) -> dict[str, Any]:
    found: Any = json.loads((FILES / name).read_text(encoding="utf-8"))
    while isinstance(found, str):
        found = json.loads(found)
    assert isinstance(found, dict)
    return found


def encoded(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode()


@pytest.fixture
async def client(store_url: str) -> AsyncIterator[Client]:
    opened = await Client.open(store_url, embedder=None)
    try:
        yield opened
    finally:
        await opened.close()


async def nothing_left(client: Client) -> None:
    assert await client.list_agents() == []
    assert await client.list_blocks() == []


async def test_a_truncated_file_is_refused_and_leaves_nothing(client: Client) -> None:
    data = (FILES / "evie.af").read_bytes()
    with pytest.raises(ValidationError, match="looks truncated"):
        await client.import_agent_file(data[: len(data) * 2 // 3])
    await nothing_left(client)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["agents"][0].update(block_ids=["block-9"]), r"agents\[0\]\.block_ids\[0\]: no block 'block-9'"),
        (
            lambda d: d["agents"][0].update(in_context_message_ids=["message-7"]),
            r"agents\[0\]\.in_context_message_ids\[0\]: no message 'message-7' among the agent's messages",
        ),
        (lambda d: d["agents"][0]["tool_ids"].append("tool-99"), r"agents\[0\]\.tool_ids\[3\]: no tool 'tool-99'"),
        (lambda d: d["blocks"].append(dict(d["blocks"][0])), r"blocks: the id 'block-0' is used 2 times"),
        (
            lambda d: d["agents"][0]["messages"][0].update(created_at="yesterday"),
            r"agents\[0\]\.messages\[0\]\.created_at: Input should be a valid datetime",
        ),
        (lambda d: d["blocks"][1].update(limit=0), r"blocks\[1\]\.limit: Input should be greater than or equal to 1"),
        (lambda d: d["agents"][0]["messages"][0].update(role="robot"), r"agents\[0\]\.messages\[0\]\.role"),
        (lambda d: d.update(agents={"not": "a list"}), r"agents: Input should be a valid list"),
        (lambda d: d["blocks"][0].update(value="x" * 1_000_001), r"blocks\[0\]\.value: 1,000,001 characters"),
    ],
)
async def test_a_file_of_the_wrong_shape_is_refused_with_the_path_of_the_problem(
    client: Client, change: Any, message: str
) -> None:
    doc = document("memgpt_agent.af")
    change(doc)
    with pytest.raises(ValidationError, match=message):
        await client.import_agent_file(encoded(doc))
    await nothing_left(client)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "is empty"),
        (b"\xff\xfe not text", "not UTF-8"),
        (b"[1, 2]", "holds a JSON list"),
        (json.dumps(json.dumps(json.dumps({"agents": []}))).encode(), "is a JSON string"),
        (b'{"name": "x"}', "has no 'agents' list"),
        (b'{"agents": []}', "holds no agents"),
        (b"[" * 100_000, "nested too deeply|not valid JSON"),
        (b'{"core_memory": [], "messages": [], "in_context_message_indices": [3]}', r"in_context_message_indices\[0\]"),
    ],
)
async def test_what_is_not_an_agent_file_is_refused(client: Client, data: bytes, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        await client.import_agent_file(data)
    await nothing_left(client)


async def test_a_file_over_the_size_limit_is_refused_before_it_is_read(
    client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(schema, "MAX_FILE_BYTES", 10_000)
    monkeypatch.setattr("memgpt.agentfile.MAX_FILE_BYTES", 10_000)
    with pytest.raises(ValidationError, match=r"over the limit of 0\.0 MB"):
        await client.import_agent_file(FILES / "evie.af")
    with pytest.raises(ValidationError, match="over the limit"):
        await client.import_agent_file((FILES / "evie.af").read_bytes())
    with pytest.raises(ValidationError, match="is a folder"):
        await client.import_agent_file(tmp_path)
    await nothing_left(client)


async def test_a_clash_in_the_middle_of_an_import_leaves_no_partial_agent(client: Client) -> None:
    """The second agent of the file is refused by the store after the first was written: all rolled back."""
    await client.create_agent("companion-sleeptime_copy", model="openai/gpt-4o-mini")
    before = await client.list_blocks()
    with pytest.raises(AlreadyExistsError, match="already exists; nothing was imported"):
        await client.import_agent_file(FILES / "evie.af")
    assert [a.name for a in await client.list_agents()] == ["companion-sleeptime_copy"]
    assert await client.list_blocks() == before
    report = await client.import_agent_file(FILES / "evie.af", name="evie2", name_suffix="_2")
    assert [a.name for a in report.agents] == ["evie2", "companion-sleeptime_copy_2"]


async def test_invalid_unicode_in_a_file_is_repaired_and_counted(client: Client) -> None:
    doc = document("memgpt_agent.af")
    doc["blocks"][0]["value"] = "Name: Ada \ud800"
    data = json.dumps(doc).encode()  # the lone surrogate is escaped: valid JSON that no store may keep
    report = await client.import_agent_file(data)
    assert report.repaired_text == 1
    assert "Name: Ada \ufffd" in [b.value for b in await client.get_memory("memgpt_agent")]


async def test_another_users_agents_and_imports_are_not_reachable(client: Client) -> None:
    ada, bo = await client.create_user("ada"), await client.create_user("bo")
    report = await client.as_user(ada.id).import_agent_file(FILES / "memgpt_agent.af")
    as_bo = client.as_user(bo.id)
    with pytest.raises(NotFoundError):
        await as_bo.export_agent_file(report.agent_ids[0])
    assert await as_bo.list_agents() == [] and await as_bo.list_blocks() == []
    assert (await as_bo.import_agent_file(FILES / "memgpt_agent.af")).agents[0].name == "memgpt_agent"  # own names
