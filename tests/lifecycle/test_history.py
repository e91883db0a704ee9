"""The edit history of core memory on both engines: every change with its cause, reverts recorded too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from memgpt.client import Client
from memgpt.errors import NotFoundError
from memgpt.llm.openai_compat import OpenAICompatibleClient
from memgpt.testing import FakeLLMServer
from tests.agent.test_agent import call, say
from tests.cli.test_cli import env, memgpt  # noqa: F401 - the env fixture


def append(text: str) -> dict[str, object]:
    return call("core_memory_append", {"label": "human", "content": text, "request_heartbeat": True})


SCRIPT = {
    "replies": [
        append("Sister: Eve"),
        call(
            "core_memory_replace",
            {
                "label": "human",
                "old_content": "Sister: Eve",
                "new_content": "Sister: Eve (a pilot)",
                "request_heartbeat": True,
            },
        ),
        say("Noted."),
        append("Likes tea"),
        say("Tea it is."),
    ],
    "default": say("Ok."),
}


async def test_three_agent_edits_and_one_by_hand_then_a_revert(store_url: str) -> None:
    with FakeLLMServer(SCRIPT) as server:
        llm = OpenAICompatibleClient("fake", base_url=server.base_url, max_retries=0)
        client = await Client.open(store_url, embedder=None, llm=llm)
        try:
            await client.create_agent("sam", model="openai-compatible/fake", human="Name: Ada")
            first = await client.send_message("sam", "My sister Eve is a pilot.")
            second = await client.send_message("sam", "I like tea.")
            client.via = "cli"  # as the command line's client says
            await client.update_block("sam", "human", "Name: Ada Lovelace")
            changes = await client.block_history("sam", label="human")
            assert [c.version for c in changes] == [2, 3, 4, 5]
            assert [c.cause.kind for c in changes] == ["agent", "agent", "agent", "user"]
            assert [c.new_value for c in changes] == [
                "Name: Ada\nSister: Eve",
                "Name: Ada\nSister: Eve (a pilot)",
                "Name: Ada\nSister: Eve (a pilot)\nLikes tea",
                "Name: Ada Lovelace",
            ]
            assert changes[0].old_value == "Name: Ada"
            calls = [e for e in first + second if e.type == "function_call" and e.content.startswith("core_memory")]
            assert [c.cause.tool_call_id for c in changes[:3]] == [e.data["id"] for e in calls]
            assert [c.cause.message_id for c in changes[:3]] == [e.data["message_id"] for e in calls]
            inputs = [first[0].data["message_id"], first[0].data["message_id"], second[0].data["message_id"]]
            assert [c.cause.detail["input_message_id"] for c in changes[:3]] == inputs
            assert [c.cause.detail["tool"] for c in changes[:3]] == [
                "core_memory_append",
                "core_memory_replace",
                "core_memory_append",
            ]
            assert changes[3].cause.detail == {"via": "cli"}
            stored = {m.id: m for m in await client.list_messages("sam")}
            assert all(stored[c.cause.message_id].role == "assistant" for c in changes[:3])

            reverted = await client.revert_block("sam", "human", to_version=3)
            assert reverted.value == "Name: Ada\nSister: Eve (a pilot)" and reverted.version == 6
            assert (await client.get_block("sam", "human")).value == reverted.value
            last = (await client.block_history("sam", label="human"))[-1]
            assert (last.version, last.cause.kind, last.cause.detail["reverted_to"]) == (6, "revert", 3)
            assert (last.old_value, last.new_value) == ("Name: Ada Lovelace", reverted.value)
            assert (await client.revert_block("sam", "human", to_version=1)).value == "Name: Ada"
            with pytest.raises(NotFoundError, match="No version 99"):
                await client.revert_block("sam", "human", to_version=99)
            assert await client.block_history("sam", label="persona") == []
        finally:
            await client.close()
            await llm.close()


async def test_a_failed_tool_call_leaves_no_history_and_passages_keep_their_origin(tmp_path: Path) -> None:
    script = [
        call(
            "core_memory_replace",
            {"label": "human", "old_content": "nope", "new_content": "x", "request_heartbeat": True},
        ),
        call("archival_memory_insert", {"content": "Ada's sister is Eve.", "request_heartbeat": True}),
        say("Ok."),
    ]
    with FakeLLMServer(script) as server:
        llm = OpenAICompatibleClient("fake", base_url=server.base_url, max_retries=0)
        client = await Client.open(f"sqlite:///{tmp_path / 'a.db'}", embedder=None, llm=llm)
        try:
            await client.create_agent("sam", model="openai-compatible/fake")
            events = await client.send_message("sam", "hi")
            assert await client.block_history("sam") == []
            [passage] = await client.passage_window("sam")
            insert = next(e for e in events if e.type == "function_call" and e.content == "archival_memory_insert")
            assert passage.metadata["inserted_by"] == {
                "kind": "tool_call",
                "tool_call_id": insert.data["id"],
                "message_id": insert.data["message_id"],
            }
            [mine] = await client.insert_passages("sam", ["typed by hand"])
            assert (await client.store.get_passages((await client.get_agent("sam")).id, [mine]))[0].metadata == {
                "inserted_by": {"kind": "user", "via": "python"}
            }
        finally:
            await client.close()
            await llm.close()


def test_history_and_revert_from_the_command_line(env: dict[str, str]) -> None:  # noqa: F811
    memgpt("agents", "create", "sam", "--model", "openai/gpt-4o-mini", env=env)
    memgpt("blocks", "create", "notes", "--value", "v1 text", "--agent", "sam", env=env)
    memgpt("memory", "edit", "--agent", "sam", "--label", "notes", "--value", "v2 text", env=env)
    shown = memgpt("memory", "history", "--agent", "sam", "--label", "notes", env=env).stdout
    assert "notes v2" in shown and "user via cli" in shown and "v1 text" in shown and "v2 text" in shown
    reverted = memgpt("memory", "revert", "--agent", "sam", "--label", "notes", "--to", "1", env=env).stdout
    assert "now version 3" in reverted
    changes = json.loads(memgpt("memory", "history", "--agent", "sam", "--json", env=env).stdout)
    assert [(c["version"], c["cause"], c["new_value"]) for c in changes] == [
        (2, "user", "v2 text"),
        (3, "revert", "v1 text"),
    ]
    wrong = memgpt("memory", "revert", "--agent", "sam", "--label", "notes", "--to", "9", env=env, check=False)
    assert wrong.returncode == 1 and "No version 9" in wrong.stderr and "Traceback" not in wrong.stderr
