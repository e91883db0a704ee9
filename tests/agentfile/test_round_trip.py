"""memgpt → .af → memgpt gives an equal agent: every field a user can see, on both engines."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from memgpt.client import Client
from memgpt.llm.openai_compat import OpenAICompatibleClient
from memgpt.memory.agent_state import AgentSettings
from memgpt.memory.types import Passage
from memgpt.testing import FakeLLMServer
from tests.agent.test_agent import call, say

LOOKUP = '''def lookup_order(order_id: str) -> str:
    """Look an order up.

    Args:
        order_id: The order number, such as A-17.
    """
    return f"Order {order_id}: shipped"
'''
RULES = [
    {"type": "exit_loop", "tool_name": "lookup_order"},
    {"type": "max_count_per_step", "tool_name": "lookup_order", "max_count_limit": 2},
    {"type": "continue_loop", "tool_name": "conversation_search"},
]
SCRIPT = [
    call("core_memory_append", {"label": "human", "content": "Name: Ada. Sails.", "request_heartbeat": True}),
    {"content": "Ada told me her name.", "tool_calls": [{"name": "send_message", "arguments": {"message": "Hi Ada!"}}]},
    call("archival_memory_insert", {"content": "Ada sails on Sundays.", "request_heartbeat": True}),
    say("Noted."),
    call("conversation_search", {"query": "sails", "request_heartbeat": True}),
    call("core_memory_append", {"label": "team", "content": "Ada is on the team.", "request_heartbeat": True}),
    say("Found it."),
]


async def build(client: Client) -> None:
    """Two agents with a conversation, archival passages, a summary, their own settings and a shared block;
    sam with a custom tool (its own description and sandbox settings) and tool rules."""
    settings = AgentSettings(page_size=7, tool_result_limit=2000, system_prompt="You are Sam, a sailing coach.")
    await client.create_agent("sam", model="openai-compatible/llama3.1", context_window=16_000, settings=settings)
    await client.create_agent("bo", model="anthropic/claude-sonnet-4-5", human="Bo's notes", persona="I am Bo.")
    await client.create_block(
        "team", "The sailing team.", limit=700, description="shared by the team", agents=["sam", "bo"]
    )
    await client.edit_block("bo/human", read_only=True)
    await client.add_tool(None, LOOKUP, description="Find an order.", timeout=5, memory_mb=256)
    await client.attach_tool("sam", "lookup_order")
    await client.set_tool_rules("sam", RULES)
    await client.send_message("sam", "Hi, I'm Ada.", name="Ada")
    await client.send_message("sam", "Remember that I sail on Sundays.")
    await client.send_message("sam", "The storm warning is on.", role="system")
    await client.send_message("sam", "When do I sail?")
    await client.insert_passages("sam", [Passage(text="Chapter 1: knots.", metadata={"source": "book.md", "chunk": 0})])
    state = await client.get_agent("sam")
    state.summary, state.summary_updated_at = "Earlier: Ada introduced herself.", datetime(2025, 5, 1, tzinfo=UTC)
    await client.store.save_agent(state)


async def seen(client: Client, name: str) -> dict[str, Any]:
    """Everything a user can see of an agent (ids of its own objects aside)."""
    info = await client.agent_info(name)
    for key in ("id", "created_at", "updated_at"):
        info.pop(key)
    state = await client.get_agent(name)
    view = await client.describe_agent(state)
    messages = await client.list_messages(name, limit=1000)

    def shown(m: Any) -> tuple[Any, ...]:
        return (m.role, m.content, m.name, [(c.id, c.name, c.arguments) for c in m.tool_calls], m.tool_call_id,
                m.metadata, m.created_at)  # fmt: skip

    fifo = await client.store.get_messages(state.id, state.fifo_ids)
    passages = await client.passage_window(name, limit=1000)
    tools = await client.list_agent_tools(name)
    return {
        "own_tools": [(t.name, t.kind, t.source, t.json_schema, t.description, t.tags, t.settings) for t in tools],
        "tool_rules": [r.to_dict() for r in await client.get_tool_rules(name)],
        "info": info,
        "system": view.system,
        "tools": view.tools,
        "blocks": [(b.label, b.value, b.limit, b.read_only, b.description) for b in state.blocks],
        "settings": state.settings,
        "summary": (state.summary, state.summary_updated_at),
        "last_memory_edit": state.last_memory_edit,
        "pressure_warned": state.pressure_warned,
        "system_prompt_version": state.system_prompt_version,
        "messages": [shown(m) for m in messages],
        "fifo": [shown(m) for m in fifo],
        "passages": [(p.text, p.metadata, p.created_at) for p in passages],
    }


async def test_round_trip_gives_equal_agents_that_still_share_their_block(tmp_path: Path, store_url: str) -> None:
    with FakeLLMServer({"replies": SCRIPT, "default": say("Ok.")}) as server:
        llm = OpenAICompatibleClient("fake", base_url=server.base_url, max_retries=0)
        source = await Client.open(f"sqlite:///{tmp_path / 'source.db'}", embedder=None, llm=llm)
        target = await Client.open(store_url, embedder=None, llm=llm)
        try:
            await build(source)
            exported = await source.export_agent_file(["sam", "bo"], with_archival=True)
            text = json.dumps(exported)
            report = await target.import_agent_file(text.encode(), with_tools=True)
            assert [a.name for a in report.agents] == ["sam", "bo"] and report.not_mapped == []
            assert (await seen(target, "sam"))["tool_rules"] == RULES and report.agents[0].tools == ["lookup_order"]
            for name in ("sam", "bo"):
                assert await seen(target, name) == await seen(source, name), name
            sam, bo = await target.get_agent("sam"), await target.get_agent("bo")
            team = {b.label: b.id for b in sam.blocks}["team"]
            assert team == {b.label: b.id for b in bo.blocks}["team"]  # one block, shown by both
            assert sorted((await target.find_block(team)).agent_ids) == sorted([sam.id, bo.id])

            again = await target.export_agent_file(["sam", "bo"], with_archival=True)
            assert strip_volatile(again) == strip_volatile(exported)  # exporting the import gives the same file
            await target.send_message("sam", "Still there?")  # and the imported agent answers
        finally:
            await source.close()
            await target.close()


def strip_volatile(document: dict[str, Any]) -> dict[str, Any]:
    """The file without what differs between two exports of equal agents: the export time."""
    copied = json.loads(json.dumps(document))
    copied.pop("created_at")
    for agent in copied["agents"]:
        system = agent["messages"][0]
        system.pop("created_at")
    return copied


async def test_without_archival_or_messages_the_file_leaves_them_out(tmp_path: Path) -> None:
    with FakeLLMServer({"replies": SCRIPT, "default": say("Ok.")}) as server:
        llm = OpenAICompatibleClient("fake", base_url=server.base_url, max_retries=0)
        client = await Client.open(f"sqlite:///{tmp_path / 'a.db'}", embedder=None, llm=llm)
        try:
            await build(client)
            plain = await client.export_agent_file("sam")
            assert plain["agents"][0]["memgpt"]["passages"] == []
            assert len(plain["agents"][0]["messages"]) == 1 + await client.store.count_messages(
                (await client.get_agent("sam")).id
            )
            bare = await client.export_agent_file("sam", with_messages=False)
            assert [m["role"] for m in bare["agents"][0]["messages"]] == ["system"]
            report = await client.import_agent_file(json.dumps(bare).encode(), name="sam2")
            assert report.agents[0].messages == 0 and report.agents[0].in_context == 0
            assert [b.value for b in (await client.get_agent("sam2")).blocks] == [
                b.value for b in (await client.get_agent("sam")).blocks
            ]
        finally:
            await client.close()


async def test_the_export_has_letta_shapes(tmp_path: Path) -> None:
    """What Letta's AgentFileSchema requires (letta/schemas/agent_file.py, 0.16.8), checked on an export."""
    client = await Client.open(f"sqlite:///{tmp_path / 'a.db'}", embedder=None)
    try:
        await client.create_agent("sam", model="openai/gpt-4o-mini")
        await client.create_block("team", "x", agents=["sam"])
        document = await client.export_agent_file("sam")
    finally:
        await client.close()
    assert {"agents", "groups", "blocks", "files", "sources", "tools", "mcp_servers"} <= set(document)
    [agent] = document["agents"]
    assert agent["id"] == "agent-0" and agent["in_context_message_ids"][0] == agent["messages"][0]["id"]
    assert agent["messages"][0]["role"] == "system"
    assert agent["llm_config"] == {**agent["llm_config"], "model": "gpt-4o-mini", "model_endpoint_type": "openai"}
    assert set(agent["block_ids"]) == {b["id"] for b in document["blocks"]}
    assert set(agent["tool_ids"]) == {t["id"] for t in document["tools"]}
    assert all(b["id"].startswith("block-") and "label" in b and "value" in b for b in document["blocks"])
    assert all(t["id"].startswith("tool-") and t["json_schema"]["name"] == t["name"] for t in document["tools"])
    assert all(isinstance(m["content"], list) and m["created_at"] for m in agent["messages"])
