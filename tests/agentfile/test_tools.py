"""An agent file's custom tools, tool rules, MCP servers and tool variables, on both engines: code is taken
in only with with_tools and then runs in the real sandbox; rules become memgpt's and are enforced; a name
clash keeps the user's tool; MCP servers are reported with their command, never started; an export never
holds a secret."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from memgpt.client import Client
from memgpt.errors import AlreadyExistsError
from memgpt.llm.openai_compat import OpenAICompatibleClient
from memgpt.memory.tools import Tool
from memgpt.testing import FakeLLMServer
from tests.agentfile.test_shared_files import FILES, NAMES, read_file

pytestmark = pytest.mark.skipif(not NAMES, reason=f"the shared agent files are not in {FILES}")
CUSTOMER_TOOLS = ["terminate_chat", "escalate", "cancel_order", "check_order_status"]
SECRET_VALUE = "s3cr3t-value-4f1e9a7c"
MCP_TOKEN = "mcp-token-77d1c0b2"


def call(name: str, *, heartbeat: bool = True, **arguments: Any) -> dict[str, Any]:
    return {"tool_calls": [{"name": name, "arguments": {**arguments, "request_heartbeat": heartbeat}}]}


def say(text: str) -> dict[str, Any]:
    return {"tool_calls": [{"name": "send_message", "arguments": {"message": text}}]}


def results(events: list[Any]) -> list[tuple[str, str, str]]:
    return [(e.data["name"], e.data["status"], e.content) for e in events if e.type == "function_result"]


def file_sources(name: str) -> dict[str, str]:
    return {t["name"]: t["source_code"] for t in read_file(name)["tools"] if t.get("source_code")}


class Scripted:
    """A client of the engine under test whose agents talk to a scripted LLM server."""

    def __init__(self, store_url: str) -> None:
        self.store_url = store_url
        self.server: FakeLLMServer | None = None
        self.llm: OpenAICompatibleClient | None = None
        self.client: Client | None = None

    async def open(self, script: list[dict[str, Any]]) -> Client:
        self.server = FakeLLMServer({"replies": script, "default": say("Ok.")})
        self.llm = OpenAICompatibleClient("fake", base_url=self.server.start(), max_retries=0)
        self.client = await Client.open(self.store_url, embedder=None, llm=self.llm)
        return self.client

    @property
    def requests(self) -> list[dict[str, Any]]:
        assert self.server is not None
        return self.server.requests


@pytest.fixture
async def scripted(store_url: str) -> AsyncIterator[Scripted]:
    made = Scripted(store_url)
    yield made
    if made.client is not None:
        await made.client.close()
    if made.llm is not None:
        await made.llm.close()
    if made.server is not None:
        made.server.stop()


async def test_with_tools_the_files_python_tools_run_in_the_sandbox(scripted: Scripted) -> None:
    client = await scripted.open([call("check_order_status", order_number=1187), say("It is on its way.")])
    report = await client.import_agent_file(FILES / "customer_service.af", with_tools=True)
    [agent] = report.agents
    assert agent.tools == CUSTOMER_TOOLS and agent.functions[-4:] == CUSTOMER_TOOLS
    sources = file_sources("customer_service.af")
    attached = await client.list_agent_tools(agent.id)
    assert [(t.name, t.kind, t.source) for t in attached] == [(n, "python", sources[n]) for n in CUSTOMER_TOOLS]
    assert not [i for i in report.not_mapped if "custom tool" in i.what]

    events = await client.send_message(agent.id, "Where is order 1187?")
    assert results(events)[0] == ("check_order_status", "OK", "Order 1187 is currently processing.")
    assert [e.content for e in events if e.type == "assistant_message"] == ["It is on its way."]
    offered = {t["function"]["name"] for t in scripted.requests[0]["tools"]}
    assert set(CUSTOMER_TOOLS) <= offered
    tool_messages = [m for m in scripted.requests[1]["messages"] if m["role"] == "tool"]
    assert "Order 1187 is currently processing." in tool_messages[-1]["content"]  # the model got the result


async def test_without_with_tools_no_code_is_taken_in_and_the_report_names_the_flag(scripted: Scripted) -> None:
    client = await scripted.open([])
    report = await client.import_agent_file(FILES / "customer_service.af")
    assert await client.list_tools() == [] and report.agents[0].tools == []
    assert await client.list_agent_tools(report.agents[0].id) == []
    reported = {i.what.split(" (")[0]: i.reason for i in report.not_mapped if i.what.startswith("custom tool")}
    assert sorted(reported) == sorted(f"custom tool {n}" for n in CUSTOMER_TOOLS)
    assert all("--with-tools" in reason and "with_tools=True" in reason for reason in reported.values())


async def test_the_workflows_run_first_and_exit_loop_rules_are_enforced(scripted: Scripted) -> None:
    client = await scripted.open(
        [
            call("send_email", candidate_name="Ada", email_subject="Hi", email_content="Join us"),
            call("retrieve_candidate", candidate_name="Ada"),
            call("reject", candidate_name="Ada"),  # asks for a heartbeat: exit_loop ends the chain anyway
        ]
    )
    report = await client.import_agent_file(FILES / "outreach_workflow_agent.af", with_tools=True)
    [agent] = report.agents
    assert agent.tool_rules == [
        {"type": "run_first", "tool_name": "retrieve_candidate"},
        {"type": "exit_loop", "tool_name": "reject"},
        {"type": "exit_loop", "tool_name": "send_email"},
    ]
    assert [r.to_dict() for r in await client.get_tool_rules(agent.id)] == agent.tool_rules
    not_mapped = {i.what: i.reason for i in report.not_mapped}
    assert (
        "memgpt has no constrain_child_tools rule"
        in not_mapped["tool rule constrain_child_tools on retrieve_candidate"]
    )
    assert "memgpt has no conditional rule" in not_mapped["tool rule conditional on evaluate_candidate"]

    events = await client.send_message(agent.id, "Evaluate Ada.")
    first, second, third = results(events)
    assert first[:2] == ("send_email", "Failed") and "Tool rule run_first: call retrieve_candidate" in first[2]
    assert second[:2] == ("retrieve_candidate", "OK") and "software engineer working at Letta" in second[2]
    assert third[:2] == ("reject", "OK")
    assert len([r for r in scripted.requests if r.get("tools")]) == 3  # no step after reject: exit_loop


async def test_without_its_tools_a_files_rules_on_them_are_reported(scripted: Scripted) -> None:
    client = await scripted.open([])
    report = await client.import_agent_file(FILES / "outreach_workflow_agent.af")
    assert report.agents[0].tool_rules == []
    reason = {i.what: i.reason for i in report.not_mapped}["tool rule run_first on retrieve_candidate"]
    assert "its tool retrieve_candidate was not imported" in reason


async def test_a_clash_keeps_the_users_tool_and_the_same_code_is_reused(scripted: Scripted) -> None:
    client = await scripted.open([])
    mine = '''def check_order_status(order_number: int) -> str:
    """My own order lookup.

    Args:
        order_number: The order.
    """
    return "mine"
'''
    await client.add_tool(None, mine)
    same = await client.add_tool(None, file_sources("customer_service.af")["escalate"])
    report = await client.import_agent_file(FILES / "customer_service.af", with_tools=True)
    [agent] = report.agents
    assert agent.tools == ["terminate_chat", "escalate", "cancel_order"]
    assert (await client.get_tool("check_order_status")).source == mine  # the user's tool is kept
    clash = next(i for i in report.not_mapped if i.what.startswith("custom tool check_order_status"))
    assert "you already have a tool named check_order_status with other code; yours is kept" in clash.reason
    attached = {t.name: t.id for t in await client.list_agent_tools(agent.id)}
    assert "check_order_status" not in attached and attached["escalate"] == same.id  # the same code: the user's
    assert sorted(t.name for t in await client.list_tools()) == sorted(CUSTOMER_TOOLS)


async def test_a_tool_that_cannot_be_used_is_reported_and_the_import_goes_on(scripted: Scripted) -> None:
    client = await scripted.open([])
    document = read_file("customer_service.af")
    tools = {t["name"]: t for t in document["tools"]}
    tools["escalate"]["source_code"] = "x = 1\n"  # defines no function
    tools["cancel_order"]["name"] = "pause_heartbeats"  # named like one of memgpt's functions
    report = await client.import_agent_file(json.dumps(document).encode(), with_tools=True)
    [agent] = report.agents
    assert agent.tools == ["terminate_chat", "check_order_status"]
    reasons = {i.what.split(" (")[0]: i.reason for i in report.not_mapped if i.what.startswith("custom tool")}
    assert reasons["custom tool escalate"].startswith("not imported: The tool's source cannot be used")
    assert "named like memgpt's pause_heartbeats" in reasons["custom tool pause_heartbeats"]
    assert sorted(t.name for t in await client.list_tools()) == ["check_order_status", "terminate_chat"]


async def test_an_import_refused_later_registers_no_tool(scripted: Scripted) -> None:
    client = await scripted.open([])
    await client.import_agent_file(FILES / "customer_service.af", with_tools=True)
    for tool in CUSTOMER_TOOLS:
        await client.delete_tool(tool)
    with pytest.raises(AlreadyExistsError, match="already exists; nothing was imported"):
        await client.import_agent_file(FILES / "customer_service.af", with_tools=True)  # the agent's name is taken
    assert await client.list_tools() == []


async def test_an_export_holds_no_secret_and_the_import_says_what_to_set(scripted: Scripted, tmp_path: Path) -> None:
    client = await scripted.open([])
    await client.create_agent("sam", model="openai-compatible/fake", context_window=16_000)
    await client.add_tool(None, file_sources("customer_service.af")["check_order_status"])
    await client.attach_tool("sam", "check_order_status")
    await client.set_secret("sam", "SHOP_TOKEN", SECRET_VALUE)
    server = await client.add_mcp_server(
        "files", command=["python", "-m", "files_server", "--root", "/srv/my docs"], env={"TOKEN": MCP_TOKEN},
        check=False,
    )  # fmt: skip
    remote = Tool(
        name="mcp:files/read_file",
        user_id=client.user_id,
        kind="mcp",
        json_schema={"name": "read_file", "description": "Read a file.", "parameters": {"type": "object"}},
        mcp_server_id=server.id,
    )
    await client.store.create_tool(remote)
    await client.store.attach_tool((await client.get_agent("sam")).id, remote.id)

    exported = await client.export_agent_file("sam")
    text = json.dumps(exported)
    assert SECRET_VALUE not in text and MCP_TOKEN not in text
    [agent] = exported["agents"]
    assert agent["memgpt"]["tool_variables"] == ["SHOP_TOKEN"]
    [mcp] = exported["mcp_servers"]
    assert mcp["stdio_config"]["command"] == "python" and mcp["memgpt"] == {"env": ["TOKEN"], "headers": []}

    report = await client.import_agent_file(text.encode(), name="sam2", with_tools=True)
    not_mapped = {i.what: i.reason for i in report.not_mapped}
    assert "memgpt agents secrets set sam2 NAME" in not_mapped["tool variables SHOP_TOKEN"]
    server_line = next(r for w, r in not_mapped.items() if w.startswith("MCP server files"))
    assert (
        "add it yourself: memgpt mcp add files --env TOKEN -- python -m files_server --root '/srv/my docs'"
        in server_line
    )
    assert "memgpt agents tools attach sam2 mcp:files/read_file" in not_mapped["MCP tool read_file"]
    assert [s.name for s in await client.list_mcp_servers()] == ["files"]  # the import added no server
    assert await client.list_secrets("sam2") == []
    assert [t.name for t in await client.list_agent_tools("sam2")] == ["check_order_status"]  # the same code: reused


async def test_a_letta_mcp_server_is_reported_with_its_command_and_never_reached(scripted: Scripted) -> None:
    client = await scripted.open([])
    document = read_file("memgpt_agent.af")
    document["mcp_servers"] = [
        {
            "id": "mcp_server-0",
            "server_name": "docs search",
            "server_type": "streamable_http",
            "server_url": "http://127.0.0.1:9/mcp",  # nothing listens: an import that connected would fail
            "auth_token": MCP_TOKEN,
            "custom_headers": {"X-Team": "sailing"},
        }
    ]
    document["tools"].append(
        {"id": "tool-9", "name": "search_docs", "tool_type": "external_mcp", "tags": ["mcp:docs search"],
         "json_schema": {"name": "search_docs", "parameters": {"type": "object", "properties": {}}}}
    )  # fmt: skip
    document["agents"][0]["tool_ids"].append("tool-9")
    report = await client.import_agent_file(json.dumps(document).encode(), name="sam")
    not_mapped = {i.what: i.reason for i in report.not_mapped}
    server = not_mapped["MCP server docs search (streamable_http: http://127.0.0.1:9/mcp)"]
    assert (
        "memgpt mcp add docs-search --url http://127.0.0.1:9/mcp --header 'X-Team: <value>' "
        "--header 'Authorization: <value>'" in server
    )
    assert MCP_TOKEN not in json.dumps(report.to_dict())
    assert "memgpt agents tools attach sam mcp:docs-search/search_docs" in not_mapped["MCP tool search_docs"]
    assert await client.list_mcp_servers() == [] and await client.list_tools() == []
