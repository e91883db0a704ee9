"""Each tool rule enforced against scripted LLM replies that break it (the rule comes back by name)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from memgpt.client import Client
from memgpt.errors import ValidationError
from memgpt.llm.openai_compat import OpenAICompatibleClient
from memgpt.testing import FakeLLMServer
from memgpt.tools.rules import ToolRule, parse_rules
from tests.tools.test_custom_tools import MODEL, call, say
from tests.tools.tool_sources import LOOKUP


def quiet(name: str, **arguments: Any) -> dict[str, Any]:
    """A call that asks for no heartbeat."""
    return {"tool_calls": [{"name": name, "arguments": {**arguments, "request_heartbeat": False}}]}


class RulesHarness:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.server: FakeLLMServer | None = None
        self.llm: OpenAICompatibleClient | None = None

    async def agent(self, script: list[dict[str, Any]], rules: list[dict[str, Any]]) -> Client:
        self.server = FakeLLMServer(script)
        llm = OpenAICompatibleClient("fake", base_url=self.server.start(), api_key="k", max_retries=0)
        self.llm = llm
        client = await Client.open(f"sqlite:///{self.tmp_path / 'rules.db'}", embedder=None, llm=llm)
        await client.create_agent("sam", model=MODEL, context_window=16000)
        await client.add_tool(None, LOOKUP)
        await client.attach_tool("sam", "lookup_order")
        await client.set_tool_rules("sam", rules)
        return client

    @property
    def calls(self) -> int:
        assert self.server is not None
        return len([r for r in self.server.requests if r.get("tools")])


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[RulesHarness]:
    made = RulesHarness(tmp_path)
    yield made
    if made.llm is not None:
        await made.llm.close()
    if made.server is not None:
        made.server.stop()


def results(events: list[Any]) -> list[tuple[str, str, str]]:
    return [(e.data["name"], e.data["status"], e.content) for e in events if e.type == "function_result"]


async def test_run_first_refuses_another_function_first(harness: RulesHarness) -> None:
    client = await harness.agent(
        [say("Hi!"), call("lookup_order", order_id="A-1"), say("Shipped.")],
        [{"type": "run_first", "tool_name": "lookup_order"}],
    )
    try:
        events = await client.send_message("sam", "Where is A-1?")
    finally:
        await client.close()
    first, second, third = results(events)
    assert first[:2] == ("send_message", "Failed")
    assert "Tool rule run_first: call lookup_order before any other function" in first[2]
    assert second[:2] == ("lookup_order", "OK") and third[:2] == ("send_message", "OK")
    assert [e.content for e in events if e.type == "assistant_message"] == ["Shipped."]  # the refused one never showed


async def test_exit_loop_ends_the_chain_even_when_a_heartbeat_is_asked_for(harness: RulesHarness) -> None:
    client = await harness.agent(
        [call("lookup_order", order_id="A-1"), say("never asked for")],
        [{"type": "exit_loop", "tool_name": "lookup_order"}],
    )
    try:
        events = await client.send_message("sam", "Where is A-1?")
    finally:
        await client.close()
    assert results(events) == [("lookup_order", "OK", "Order A-1: shipped")]
    assert harness.calls == 1 and "heartbeat" not in [e.type for e in events]


async def test_continue_loop_gives_another_step_without_a_heartbeat(harness: RulesHarness) -> None:
    client = await harness.agent(
        [quiet("lookup_order", order_id="A-1"), say("Shipped.")],
        [{"type": "continue_loop", "tool_name": "lookup_order"}],
    )
    try:
        events = await client.send_message("sam", "Where is A-1?")
    finally:
        await client.close()
    assert [r[:2] for r in results(events)] == [("lookup_order", "OK"), ("send_message", "OK")]
    assert harness.calls == 2


async def test_max_count_per_step_refuses_the_call_over_the_limit_for_each_input(harness: RulesHarness) -> None:
    client = await harness.agent(
        [
            call("lookup_order", order_id="A-1"),
            call("lookup_order", order_id="A-2"),
            say("Only one."),
            call("lookup_order", order_id="A-3"),
            say("Next input, allowed again."),
        ],
        [{"type": "max_count_per_step", "tool_name": "lookup_order", "max_count_limit": 1}],
    )
    try:
        first = await client.send_message("sam", "Where are A-1 and A-2?")
        second = await client.send_message("sam", "And A-3?")
    finally:
        await client.close()
    ran, refused, _ = results(first)
    assert ran[:2] == ("lookup_order", "OK")
    assert refused[:2] == ("lookup_order", "Failed")
    assert "Tool rule max_count_per_step: lookup_order may run at most 1 time(s) per input" in refused[2]
    assert results(second)[0] == ("lookup_order", "OK", "Order A-3: shipped")


async def test_required_before_exit_keeps_the_chain_going_until_the_tool_ran(harness: RulesHarness) -> None:
    client = await harness.agent(
        [say("Bye!"), call("lookup_order", order_id="A-1"), say("Now done.")],
        [{"type": "required_before_exit", "tool_name": "lookup_order"}],
    )
    try:
        events = await client.send_message("sam", "Where is A-1?")
        stored = await client.list_messages("sam", limit=20)
    finally:
        await client.close()
    alerts = [e.content for e in events if e.type == "system_alert"]
    assert alerts == ["Tool rule required_before_exit: call lookup_order before you finish; your turn goes on."]
    assert [r[0] for r in results(events)] == ["send_message", "lookup_order", "send_message"]
    assert harness.calls == 3
    assert any(m.role == "system" and m.metadata.get("kind") == "tool_rule" for m in stored)  # the model saw it


async def test_rules_are_stored_with_the_agent_and_checked(harness: RulesHarness, tmp_path: Path) -> None:
    client = await harness.agent([], [])
    try:
        with pytest.raises(ValidationError, match="names 'web_search', which is not one of the agent's functions"):
            await client.set_tool_rules("sam", [{"type": "run_first", "tool_name": "web_search"}])
        with pytest.raises(ValidationError, match="cannot both end the chain"):
            await client.set_tool_rules(
                "sam",
                [
                    {"type": "exit_loop", "tool_name": "send_message"},
                    {"type": "continue_loop", "tool_name": "send_message"},
                ],
            )
        with pytest.raises(ValidationError, match="max_count_limit from 1 to 1000"):
            await client.set_tool_rules("sam", [{"type": "max_count_per_step", "tool_name": "lookup_order"}])
        with pytest.raises(ValidationError, match="Unknown tool rule type 'conditional'"):
            await client.set_tool_rules("sam", [{"type": "conditional", "tool_name": "lookup_order"}])
        rules = [{"type": "max_count_per_step", "tool_name": "lookup_order", "max_count_limit": 2}]
        await client.set_tool_rules("sam", rules)
    finally:
        await client.close()
    again = await Client.open(f"sqlite:///{tmp_path / 'rules.db'}", embedder=None)
    try:
        assert [r.to_dict() for r in await again.get_tool_rules("sam")] == rules
        assert (await again.agent_info("sam"))["tool_rules"] == rules
    finally:
        await again.close()


def test_rules_read_letta_json() -> None:
    letta = json.loads(
        '[{"tool_name": "a", "type": "run_first"},'
        ' {"type": "max_count_per_step", "tool_name": "b", "max_count_limit": 3}]'
    )
    assert parse_rules(letta) == [ToolRule("run_first", "a"), ToolRule("max_count_per_step", "b", 3)]
