"""A user's data: ``users delete`` of one of three users changes nothing another can read; ``users export``
writes every agent as an agent file with archival passages, blocks, history and sources."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from memgpt.client import Client
from memgpt.errors import NotFoundError, ValidationError
from memgpt.identity import hash_key
from memgpt.memory.types import Message
from tests.cli.test_cli import env, memgpt  # noqa: F401 - the env fixture

NAMES = ("ada", "bo", "cy")


@pytest.fixture(autouse=True)
def any_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    """These users' tools are data to keep apart, not code under test: they may run where bubblewrap cannot
    (other users' tools run strict by default; tests/tools/test_sandbox.py tests that)."""
    monkeypatch.setenv("MEMGPT_TOOL_SANDBOX", "process")


TOOL = '''def greet(person: str) -> str:
    """Greet someone for NAME.

    Args:
        person: Who.
    """
    return "hi " + person
'''


async def fill(client: Client, tmp_path: Path, name: str) -> None:
    """Everything a user can own: agents with messages, passages, edited and shared blocks, a source, a key."""
    user = await client.create_user(name)
    mine = client.as_user(user.id)
    for agent in ("helper", "second"):  # the same agent names for every user
        await mine.create_agent(agent, model="openai/gpt-4o-mini", human=f"{name}'s human")
        await mine.import_messages(agent, [Message(role="user", content=f"{name} says hello to {agent}")], embed=False)
        await mine.insert_passages(agent, [f"{name}'s note for {agent}"])
        await mine.update_block(agent, "human", f"{name} edited {agent}")
    await mine.create_block("team", f"{name}'s team", agents=["helper", "second"])
    await mine.create_block("loose", f"{name}'s loose block")
    doc = tmp_path / f"{name}.md"
    doc.write_text(f"# {name}'s document\n\n{name} keeps notes about tea and pilots.\n")
    await mine.create_source("docs")
    await mine.load([doc], source="docs")
    await mine.attach_source("helper", "docs")
    await mine.add_tool(None, TOOL.replace("NAME", name))
    await mine.attach_tool("helper", "greet")
    await mine.set_secret("helper", "GREETING", f"hello-from-{name}")
    await client.create_api_key(name, name="laptop")


async def readable(client: Client, name: str) -> str:
    """Everything user ``name`` can read through the Client, as canonical JSON."""
    user = await client.get_user(name)
    mine = client.as_user(user.id)
    seen: dict[str, Any] = {"user": [user.id, user.name, user.created_at.isoformat()]}
    for state in await mine.list_agents():
        info = await mine.agent_info(state.id)
        info["messages"] = [(m.id, m.role, m.content) for m in await mine.list_messages(state.id)]
        info["passages"] = [(p.id, p.text, p.metadata) for p in await mine.passage_window(state.id)]
        info["history"] = [c.to_dict() for c in await mine.block_history(state.id)]
        info["search"] = [h.text for h in (await mine.search(state.id, "hello notes", mode="text")).hits]
        info["archival"] = [
            h.text for h in (await mine.search(state.id, "tea pilots", archival=True, mode="text")).hits
        ]
        seen[state.name] = info
    seen["blocks"] = [
        (r.block.id, r.block.label, r.block.value, r.block.version, r.agent_ids) for r in await mine.list_blocks()
    ]
    seen["sources"] = [(s.id, s.name, s.file_count, s.passage_count) for s in await mine.list_sources()]
    seen["files"] = [
        (f.id, f.path, f.content_hash) for s in await mine.list_sources() for f in await mine.list_source_files(s.id)
    ]
    seen["tools"] = [(t.id, t.name, t.source) for t in await mine.list_tools()]
    for state in await mine.list_agents():
        seen[state.name]["tools"] = [t.id for t in await mine.list_agent_tools(state.id)]
        seen[state.name]["secrets"] = await mine.list_secrets(state.id)
        seen[state.name]["secret_values"] = await client.store.secrets(state.id)
    seen["keys"] = [(k.id, k.prefix, k.key_hash) for _, k in await client.list_api_keys(name)]
    return json.dumps(seen, sort_keys=True, default=str)


async def test_deleting_one_of_three_users_leaves_the_others_byte_for_byte(store_url: str, tmp_path: Path) -> None:
    client = await Client.open(store_url, embedder=None)
    try:
        for name in NAMES:
            await fill(client, tmp_path, name)
        before = {name: await readable(client, name) for name in NAMES}
        bo = await client.get_user("bo")
        bo_agents = [a.id for a in await client.as_user(bo.id).list_agents()]
        await client.delete_user("bo")
        assert {name: await readable(client, name) for name in ("ada", "cy")} == {n: before[n] for n in ("ada", "cy")}
        with pytest.raises(NotFoundError):
            await client.get_user("bo")
        for table in ("agents", "blocks", "block_history", "sources", "api_keys", "tools"):
            rows = [row for _, row in await client.store.read_rows(table)]
            assert rows and not [r for r in rows if r.get("user_id") == bo.id], table
        for table in ("messages", "passages"):
            for agent_id in bo_agents:
                assert await client.store.read_rows(table, owner=agent_id) == []
        assert await client.store.find_api_key(hash_key("nothing")) is None
    finally:
        await client.close()


async def test_a_users_export_has_every_agent_with_passages_blocks_history_and_sources(
    store_url: str, tmp_path: Path
) -> None:
    client = await Client.open(store_url, embedder=None)
    try:
        for name in ("ada", "bo"):
            await fill(client, tmp_path, name)
        done = await client.export_user("ada", tmp_path / "out")
        assert sorted(p.name for p in done.agent_files) == ["helper.af", "second.af"]
        helper = json.loads((tmp_path / "out" / "agents" / "helper.af").read_text())
        text = json.dumps(helper)
        assert "ada's note for helper" in text and "ada says hello to helper" in text
        assert "bo's" not in text and "bo says" not in text
        history = helper["agents"][0]["memgpt"]["history"]
        assert [(c["label"], c["new_value"], c["cause"]) for c in history] == [("human", "ada edited helper", "user")]
        assert [s["name"] for s in helper["sources"]] == ["docs"]
        chunks = helper["files"][0]["memgpt"]["chunks"]
        assert any("tea and pilots" in c["text"] for c in chunks)
        summary = json.loads((tmp_path / "out" / "user.json").read_text())
        assert summary["user"]["name"] == "ada" and [b["label"] for b in summary["blocks_shown_by_no_agent"]] == [
            "loose"
        ]
        assert [k["name"] for k in summary["api_keys"]] == ["laptop"] and "key_hash" not in json.dumps(summary)
        # the agent file imports back (as another user's agents, say)
        report = await client.as_user((await client.get_user("bo")).id).import_agent_file(
            tmp_path / "out" / "agents" / "helper.af", name="ada-helper", embed=False
        )
        assert report.agents
        with pytest.raises(ValidationError, match="not an empty folder"):
            await client.export_user("ada", tmp_path / "out")
    finally:
        await client.close()


def test_users_export_and_delete_from_the_command_line(env: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    memgpt("users", "create", "ada", env=env)
    out = memgpt("users", "export", "local", "-o", str(tmp_path / "mine"), "--json", env=env).stdout
    assert json.loads(out)["agent_files"] == []
    shown = memgpt("users", "export", "ada", "-o", str(tmp_path / "ada"), env=env).stdout
    assert "Exported 0 agent(s)" in shown and (tmp_path / "ada" / "user.json").exists()
    again = memgpt("users", "export", "ada", "-o", str(tmp_path / "ada"), env=env, check=False)
    assert again.returncode == 1 and "not an empty folder" in again.stderr
