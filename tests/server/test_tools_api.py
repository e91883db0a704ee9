"""Letta's tool routes with Letta's own SDK (``letta-client``) against a real ``memgpt server`` process: a tool
created from source, attached, called by the agent; agents created with tools, rules and secrets."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from memgpt.testing import FakeLLMServer
from tests.server.harness import ServerProcess, call, say
from tests.tools.tool_sources import LOOKUP, SECRET

letta_client = pytest.importorskip("letta_client", reason="letta-client is a dev dependency: pip install -e '.[dev]'")
TOKEN = "tok-0123456789-secret"


def policy(body: dict[str, Any]) -> dict[str, Any]:
    """Call the tool the user names ("use NAME"), then report its result."""
    last = body["messages"][-1]
    if last["role"] == "tool":
        return say(f"Result: {last['content']}")
    spoken = (last.get("content") or "").split("] ", 1)[-1]
    if spoken.startswith("use lookup_order"):
        return call("lookup_order", order_id="A-9")
    if spoken.startswith("use "):
        return call(spoken.removeprefix("use "))
    return say("ok")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with FakeLLMServer(policy) as llm:
        process = ServerProcess(tmp_path_factory.mktemp("tools-home"), llm).start()
        try:
            yield process
        finally:
            process.stop()


@pytest.fixture
def letta(server: ServerProcess) -> Any:
    return letta_client.Letta(base_url=server.url)


def test_create_a_tool_attach_it_and_the_agent_calls_it(letta: Any) -> None:
    tool = letta.tools.create(source_code=LOOKUP, tags=["shop"])
    assert tool.id.startswith("tool-") and tool.name == "lookup_order" and tool.tool_type == "custom"
    assert tool.json_schema["parameters"]["properties"]["order_id"]["type"] == "string"
    assert letta.tools.retrieve(tool.id).source_code == LOOKUP
    assert tool.id in [t.id for t in letta.tools.list()]  # the SDK pages until an empty page: it ends
    agent = letta.agents.create(name="shopkeeper", model="openai-compatible/fake")
    attached = letta.agents.tools.attach(tool.id, agent_id=agent.id)
    assert tool.id in [t.id for t in attached.tools]
    assert "lookup_order" in [t.name for t in letta.agents.tools.list(agent_id=agent.id)]
    reply = letta.agents.messages.create(agent_id=agent.id, messages=[{"role": "user", "content": "use lookup_order"}])
    returns = [m for m in reply.messages if m.message_type == "tool_return_message"]
    assert returns and "Order A-9: shipped" in returns[0].tool_return
    again = letta.tools.create(source_code=LOOKUP.replace("shop.", "store."), description="Find an order.")
    assert again.id == tool.id and again.description == "Find an order."  # create updates a tool of that name
    detached = letta.agents.tools.detach(tool.id, agent_id=agent.id)
    assert tool.id not in [t.id for t in detached.tools]
    letta.tools.delete(tool.id)
    with pytest.raises(letta_client.NotFoundError):
        letta.tools.retrieve(tool.id)


def test_a_source_that_is_not_a_tool_is_a_400_with_the_reason(letta: Any) -> None:
    with pytest.raises(letta_client.BadRequestError, match="has no docstring"):
        letta.tools.create(source_code="def f(x: int) -> str:\n    return ''\n")


def test_an_agent_created_with_tools_rules_and_secrets_never_shows_a_secret(letta: Any, server: ServerProcess) -> None:
    check = letta.tools.create(source_code=SECRET.split("def leak_token")[0])
    agent = letta.agents.create(
        name="vault",
        model="openai-compatible/fake",
        tool_ids=[check.id],
        tool_rules=[{"type": "run_first", "tool_name": "check_token"}],
        secrets={"SHOP_TOKEN": TOKEN},
    )
    assert [r.type for r in agent.tool_rules] == ["run_first"]
    assert check.id in [t.id for t in agent.tools]
    reply = letta.agents.messages.create(agent_id=agent.id, messages=[{"role": "user", "content": "use check_token"}])
    returns = [m.tool_return for m in reply.messages if m.message_type == "tool_return_message"]
    assert returns == [f"the token has {len(TOKEN)} characters and starts with to"]
    raw = [
        httpx.get(f"{server.url}/v1/agents/{agent.id}", timeout=30).text,
        httpx.get(f"{server.url}/v1/agents/", timeout=30).text,
        httpx.get(f"{server.url}/v1/agents/{agent.id}/messages", timeout=30).text,
        httpx.get(f"{server.url}/v1/agents/{agent.id}/tools", timeout=30).text,
    ]
    assert all(TOKEN not in body for body in raw)
    with pytest.raises(letta_client.BadRequestError, match="not one of the agent's functions"):
        letta.agents.update(agent.id, tool_rules=[{"type": "exit_loop", "tool_name": "nowhere"}])
    with pytest.raises(letta_client.NotFoundError):
        letta.agents.create(
            name="missing-tool", model="openai-compatible/fake", tool_ids=["tool-00000000-0000-4000-8000-000000000000"]
        )
    assert "missing-tool" not in [a.name for a in letta.agents.list()]  # a create that failed left nothing behind
