"""Every agent file of ../shared/data/agent_files (Letta's public agent-file repository) imports: its blocks,
message count and in-context messages are the file's, the agent answers with the scripted LLM, and the
report lists what could not be mapped."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from memgpt.client import Client
from memgpt.llm.openai_compat import OpenAICompatibleClient
from memgpt.testing import FakeLLMServer
from tests.agent.test_agent import call, say
from tests.conftest import SHARED_DATA

FILES = SHARED_DATA / "agent_files"
NAMES = sorted(p.name for p in FILES.glob("*.af")) if FILES.is_dir() else []
# What each file holds that memgpt cannot map (a substring of each expected report line's "what")
NOT_MAPPED = {
    "customer_service.af": [
        "custom tool terminate_chat",
        "custom tool escalate",
        "custom tool cancel_order",
        "custom tool check_order_status",
    ],
    "deep_research_agent.af": [
        "custom tool create_research_plan",
        "custom tool reset_research",
        "tool web_search",
        "tool memory (letta_memory_core)",
    ],
    "evie.af": [
        "sleeptime group of Evie, companion-sleeptime_copy",
        "tool web_search",
        "tool fetch_webpage",
        "tool open_files",
        "tool grep_files",
        "tool semantic_search_files",
        "tool memory_finish_edits",
        "tool memory_apply_patch",
        "tool rule exit_loop on memory_finish_edits",
    ],
    "memgpt_agent.af": ["temperature 0.7"],
    "memgpt_agent_with_convo.af": ["temperature 0.7"],
    "memgpt_agent_with_convo.v1.af": ["temperature 0.7"],
    "outreach_workflow_agent.af": [
        "custom tool retrieve_candidate",
        "custom tool evaluate_candidate",
        "custom tool reject",
        "custom tool send_email",
        "tool rule run_first on retrieve_candidate",
        "tool rule conditional on evaluate_candidate",
    ],
}
# The tool rules each agent gets (imported without --with-tools: rules on the file's custom tools are reported)
RULES: dict[str, list[list[tuple[str, str]]]] = {
    "evie.af": [
        [("continue_loop", "conversation_search")],
        [("continue_loop", "core_memory_append"), ("continue_loop", "core_memory_replace")],  # memory_* mapped
    ],
    "memgpt_agent_with_convo.v1.af": [
        [
            ("continue_loop", "conversation_search"),
            ("continue_loop", "archival_memory_search"),
            ("continue_loop", "archival_memory_insert"),
        ]
    ],
}
pytestmark = pytest.mark.skipif(not NAMES, reason=f"the shared agent files are not in {FILES}")


def read_file(name: str) -> dict[str, Any]:
    """The file's document, read here on its own (not with memgpt's parser): the expectations."""
    document: Any = json.loads((FILES / name).read_text(encoding="utf-8"))
    while isinstance(document, str):
        document = json.loads(document)
    assert isinstance(document, dict)
    if "agents" in document:
        return document
    messages = document["messages"]  # Letta 0.6: one agent at the top, blocks inline, in-context by index
    for i, m in enumerate(messages):
        m["id"] = f"m{i}"
    agent = {**document, "block_ids": [b["label"] for b in document["core_memory"]], "messages": messages, "id": None}
    agent["in_context_message_ids"] = [f"m{i}" for i in document["in_context_message_indices"]]
    blocks = [{**b, "id": b["label"]} for b in document["core_memory"]]
    return {"agents": [agent], "blocks": blocks}


def when(value: str) -> datetime:
    found = datetime.fromisoformat(value)
    return found if found.tzinfo else found.replace(tzinfo=UTC)


def is_summary_alert(message: dict[str, Any]) -> bool:
    text = "".join(part.get("text", "") for part in message["content"] or [])
    return '"system_alert"' in text and "The following is a summary" in text


@pytest.fixture
async def scripted(tmp_path: Path) -> AsyncIterator[tuple[Client, FakeLLMServer]]:
    with FakeLLMServer({"replies": [], "default": say("Hello, I am here.")}) as server:
        llm = OpenAICompatibleClient("fake", base_url=server.base_url, max_retries=0)
        client = await Client.open(f"sqlite:///{tmp_path / 'import.db'}", embedder=None, llm=llm)
        try:
            yield client, server
        finally:
            await client.close()


@pytest.mark.parametrize("name", NAMES)
async def test_a_shared_file_imports_whole_and_its_agent_answers(
    name: str, scripted: tuple[Client, FakeLLMServer]
) -> None:
    client, server = scripted
    report = await client.import_agent_file(FILES / name)
    document = read_file(name)
    blocks = {b["id"]: b for b in document["blocks"]}
    file_ids = [a["id"] for a in document["agents"]]  # None: the 0.6 format has no ids
    assert len(report.agents) == len(file_ids)
    assert all(i is None or a.file_id == i for a, i in zip(report.agents, file_ids, strict=True))
    for imported, expected in zip(report.agents, document["agents"], strict=True):
        state = await client.get_agent(imported.id)
        wanted = [blocks[i] for i in expected["block_ids"]]
        assert [(b.label, b.value, b.limit, b.read_only, b.description) for b in state.blocks] == [
            (b["label"], b["value"], b["limit"], b.get("read_only", False), b.get("description") or "") for b in wanted
        ]
        conversation = [m for m in expected["messages"] if m["role"] != "system"]  # system: Letta's compiled prompt
        stored = await client.list_messages(state.id, limit=10_000)
        assert len(stored) == len(conversation) == imported.messages
        assert [m.created_at for m in stored] == sorted(when(m["created_at"]) for m in conversation)
        by_id = {m["id"]: m for m in expected["messages"]}
        in_context = [by_id[i] for i in expected["in_context_message_ids"] if by_id[i]["role"] != "system"]
        summary = [m for m in in_context if is_summary_alert(m)]
        fifo = await client.store.get_messages(state.id, state.fifo_ids)
        assert [m.created_at for m in fifo] == [when(m["created_at"]) for m in in_context if m not in summary]
        assert (state.summary != "") == bool(summary)
        assert (await client.check_agent(state.id)).ok  # its stored context compiles into a request as it is

        wanted_rules = RULES[name][report.agents.index(imported)] if name in RULES else []
        assert state.settings.tool_rules == [{"type": t, "tool_name": n} for t, n in wanted_rules]
        events = await client.send_message(state.id, "Hi there!")
        assert [e.content for e in events if e.type == "assistant_message"] == ["Hello, I am here."]
        sent = server.requests[-1]["messages"]
        assert all(b.value.strip()[:40] in sent[0]["content"] for b in state.blocks)
        if expected.get("system"):
            assert expected["system"].strip()[:60] in sent[0]["content"]  # the agent's own instructions
    found = [item.what for item in report.not_mapped]
    for expected_what in NOT_MAPPED[name]:
        assert any(expected_what in what for what in found), (expected_what, found)
    assert all(item.reason for item in report.not_mapped)


async def test_the_older_single_agent_format_keeps_its_conversation(scripted: tuple[Client, FakeLLMServer]) -> None:
    """Letta 0.6 (which Letta 0.16 refuses): packaged user messages unpacked, heartbeats and logins as events,
    tool calls answered by their results, the summary alert as the recursive summary."""
    client, _ = scripted
    report = await client.import_agent_file(FILES / "memgpt_agent_with_convo.v1.af", name="sam")
    assert report.format == "Letta 0.6 single-agent file (0.6.47)"
    state = await client.get_agent("sam")
    assert state.model == "openai/gpt-4-0613" and state.context_window == 8192
    assert state.settings.system_prompt is not None and state.settings.system_prompt.startswith("You are Letta")
    assert state.summary.startswith("During the conversation, the user, Sarah, corrected her name")
    stored = await client.list_messages("sam", limit=1000)
    users = [m.content for m in stored if m.role == "user"]
    assert users[0] == "hi my name is actually sarah not chad " and len(users) == 23
    events = {m.metadata.get("kind") for m in stored if m.role == "system"}
    assert {"login", "heartbeat", "summary"} <= events
    calls = [c for m in stored for c in m.tool_calls]
    results = {m.tool_call_id: m.name for m in stored if m.role == "tool"}
    assert all(results[c.id] == c.name for c in calls)  # every call has its result, named by the call
    assert "core_memory_replace" in {c.name for c in calls}
    fifo = await client.store.get_messages(state.id, state.fifo_ids)
    assert fifo[0].content == "am I your friend? " and fifo[-1].role == "tool"
    human = {b.label: b.value for b in state.blocks}["human"]
    assert "First name: Sam" in human and "Sailing partner: Jean-Luc" in human


async def test_the_companion_and_its_sleep_time_agent_share_their_blocks(tmp_path: Path) -> None:
    arguments = {"label": "server_rules", "content": "No spoilers in #general.", "request_heartbeat": False}
    script = [call("core_memory_append", arguments), say("Done."), say("Hi.")]
    with FakeLLMServer({"replies": script}) as server:
        llm = OpenAICompatibleClient("fake", base_url=server.base_url, max_retries=0)
        client = await Client.open(f"sqlite:///{tmp_path / 'evie.db'}", embedder=None, llm=llm)
        try:
            report = await client.import_agent_file(FILES / "evie.af")
            evie, sleeper = [await client.get_agent(a.id) for a in report.agents]
            shared = {b.id for b in evie.blocks} & {b.id for b in sleeper.blocks}
            assert len(shared) == 12 and len(sleeper.blocks) == 13
            assert report.agents[1].shared_blocks == [b.label for b in sleeper.blocks if b.id in shared]
            edits = await client.send_message(sleeper.id, "Reorganise the rules.")
            # its continue_loop rule on memory_insert (memgpt's core_memory_append) gave it a step though none was asked
            assert [e.content for e in edits if e.type == "assistant_message"] == ["Done."]
            await client.send_message(evie.id, "What are the rules?")
            assert "No spoilers in #general." in server.requests[-1]["messages"][0]["content"]
            await client.delete_agent(sleeper.id)  # Evie keeps every block it shows
            assert [b.id for b in (await client.get_agent(evie.id)).blocks] == [b.id for b in evie.blocks]
            labels = {r.block.label for r in await client.list_blocks()}
            assert "memory_persona" not in labels  # the sleep-time agent's own block went with it
        finally:
            await client.close()
