"""Custom tools end to end: registered by one process, called by an agent (the scripted LLM over HTTP) in
another; bad arguments and misbehaving tools come back as Failed results while the agent goes on; tool
variables reach the tool and nothing else; only attached tools cost the agent tokens."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from memgpt.client import Client
from memgpt.llm.openai_compat import OpenAICompatibleClient
from memgpt.llm.tokens import estimate_tools_tokens
from memgpt.server.letta import convert
from memgpt.testing import FakeLLMServer
from memgpt.tools.executor import ToolExecutor, with_heartbeat
from tests.tools.tool_sources import LOOKUP, MISBEHAVING, SECRET

MODEL = "openai-compatible/fake"
SECRET_VALUE = "s3cr3t-shop-token-9f8e7d"


def call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"tool_calls": [{"name": name, "arguments": {**arguments, "request_heartbeat": True}}]}


def say(text: str) -> dict[str, Any]:
    return {"tool_calls": [{"name": "send_message", "arguments": {"message": text}}]}


def memgpt(*args: str, env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "memgpt.cli.main", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"memgpt {' '.join(args)}: {done.stderr}"
    return done


@pytest.fixture
def env(memgpt_home: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MEMGPT_", "OPENAI_", "ANTHROPIC_"))}
    return {**clean, "MEMGPT_HOME": str(memgpt_home), "MEMGPT_EMBEDDING": "none"}


class Scripted:
    """The scripted LLM server and a client of the default store whose agents talk to it."""

    def __init__(self, tmp_path: Path) -> None:
        self.log = tmp_path / "requests.jsonl"
        self.server: FakeLLMServer | None = None
        self.llms: list[OpenAICompatibleClient] = []  # closed by the fixture (a client never closes a given LLM)

    async def open(self, script: list[dict[str, Any]]) -> Client:
        self.server = FakeLLMServer(script, log_path=self.log)
        base_url = self.server.start()
        llm = OpenAICompatibleClient("fake", base_url=base_url, api_key="test-key", max_retries=0)
        self.llms.append(llm)
        return await Client.open(None, embedder=None, llm=llm)

    @property
    def requests(self) -> list[dict[str, Any]]:
        assert self.server is not None
        return [r for r in self.server.requests if r.get("tools")]

    def tool_results(self) -> list[dict[str, Any]]:
        """The tool messages of the last request, parsed."""
        return [json.loads(m["content"]) for m in self.requests[-1]["messages"] if m["role"] == "tool"]


@pytest.fixture
async def scripted(tmp_path: Path) -> AsyncIterator[Scripted]:
    made = Scripted(tmp_path)
    yield made
    for llm in made.llms:
        await llm.close()
    if made.server is not None:
        made.server.stop()


@pytest.fixture
async def closing() -> AsyncIterator[list[Client]]:
    clients: list[Client] = []
    yield clients
    for client in clients:
        await client.close()


async def test_a_tool_registered_by_one_process_is_called_by_the_agent_in_another(
    env: dict[str, str], tmp_path: Path, scripted: Scripted, closing: list[Client]
) -> None:
    source = tmp_path / "shop.py"
    source.write_text(LOOKUP)
    memgpt("agents", "create", "sam", "--model", MODEL, "--context-window", "16000", env=env)
    memgpt("tools", "add", str(source), env=env)
    memgpt("agents", "tools", "attach", "sam", "lookup_order", env=env)
    client = await scripted.open([call("lookup_order", order_id="A-17"), say("Your order A-17 has shipped.")])
    closing.append(client)
    events = await client.send_message("sam", "Where is my order A-17?")
    assert [e.content for e in events if e.type == "assistant_message"] == ["Your order A-17 has shipped."]
    first, _ = scripted.requests
    offered = {t["function"]["name"]: t["function"] for t in first["tools"]}
    assert offered["lookup_order"]["parameters"]["properties"]["order_id"] == {
        "type": "string",
        "description": "The order number, such as A-17.",
    }
    assert offered["lookup_order"]["parameters"]["required"] == ["order_id", "request_heartbeat"]
    [result] = scripted.tool_results()
    assert (result["status"], result["message"]) == ("OK", "Order A-17: shipped")


async def test_an_invalid_argument_is_fed_back_and_the_model_fixes_the_call(
    scripted: Scripted, closing: list[Client]
) -> None:
    client = await scripted.open(
        [call("lookup_order", order_id=17), call("lookup_order", order_id="A-17"), say("Shipped.")]
    )
    closing.append(client)
    await client.create_agent("sam", model=MODEL, context_window=16000)
    await client.add_tool(None, LOOKUP)
    await client.attach_tool("sam", "lookup_order")
    events = await client.send_message("sam", "Where is order 17?")
    results = [(e.data["status"], e.content) for e in events if e.type == "function_result"]
    assert results[0][0] == "Failed"
    assert "lookup_order: argument order_id: 17 is not of type 'string'; nothing was done" in results[0][1]
    assert results[1] == ("OK", "Order A-17: shipped")
    assert events[-1].content == "Shipped."


@pytest.mark.parametrize(
    ("function", "reason"),
    [
        ("sleep_forever", "did not finish within 2 s; it was stopped"),
        ("eat_memory", "ran out of memory (its limit is 256 MB)"),
        (
            "crash_interpreter",
            "exited (code 1) before returning a result: the interpreter crashed or the tool called os._exit",
        ),
        ("print_100_mb", "printed more than 1,000,000 bytes; it was stopped"),
    ],
)
async def test_a_misbehaving_tool_is_a_failed_result_and_the_agent_answers_the_next_message(
    scripted: Scripted, closing: list[Client], function: str, reason: str
) -> None:
    client = await scripted.open([call(function), say("That tool failed."), say("Still here.")])
    closing.append(client)
    await client.create_agent("sam", model=MODEL, context_window=16000)
    await client.add_tool(function, MISBEHAVING, timeout=2, memory_mb=256)
    await client.attach_tool("sam", function)
    events = await client.send_message("sam", "Try the tool.")
    [failed] = [e for e in events if e.type == "function_result" and e.data["name"] == function]
    assert failed.data["status"] == "Failed"
    assert failed.content == f"{function} failed: {reason}."
    assert scripted.tool_results()[0]["message"] == failed.content  # the model got the reason
    after = await client.send_message("sam", "Are you there?")
    assert [e.content for e in after if e.type == "assistant_message"] == ["Still here."]


async def test_a_tool_variable_reaches_the_tool_and_nothing_else(
    env: dict[str, str],
    scripted: Scripted,
    closing: list[Client],
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    memgpt("agents", "create", "sam", "--model", MODEL, "--context-window", "16000", env=env)
    setting = memgpt("agents", "secrets", "set", "sam", "SHOP_TOKEN", env=env, stdin=SECRET_VALUE + "\n")
    client = await scripted.open([call("check_token"), call("leak_token"), say("Done.")])
    closing.append(client)
    await client.add_tool("check_token", SECRET)
    await client.add_tool("leak_token", SECRET)
    for name in ("check_token", "leak_token"):
        await client.attach_tool("sam", name)
    events = await client.send_message("sam", "Is the token there?")
    results = [e.content for e in events if e.type == "function_result"]
    assert results[:2] == [
        f"the token has {len(SECRET_VALUE)} characters and starts with s3",
        "token=[secret SHOP_TOKEN]",  # what a careless tool returns is masked before the model sees it
    ]
    runs = [
        memgpt("agents", "show", "sam", "--json", env=env),
        memgpt("agents", "show", "sam", env=env),
        memgpt("agents", "secrets", "list", "sam", "--json", env=env),
        memgpt("tools", "show", "leak_token", env=env),
        setting,
    ]
    assert json.loads(runs[0].stdout)["secrets"] == ["SHOP_TOKEN"] and json.loads(runs[2].stdout) == ["SHOP_TOKEN"]
    shown = [text for run in runs for text in (run.stdout, run.stderr)]
    view = convert.agent(await client.describe_agent("sam"))  # what the REST API returns
    everything = [
        scripted.log.read_text(),  # every request the LLM received
        json.dumps(view),
        json.dumps(await client.agent_info("sam")),
        json.dumps([e.to_dict() for e in events]),
        "\n".join(r.getMessage() for r in caplog.records),
        *capfd.readouterr(),
        *shown,
    ]
    for text in everything:
        assert SECRET_VALUE not in text


async def test_only_attached_tools_cost_the_agent_tokens(scripted: Scripted, closing: list[Client]) -> None:
    client = await scripted.open([])
    closing.append(client)
    await client.create_agent("fresh", model=MODEL, context_window=16000)
    base = await client.context("fresh")
    assert base["tool_schemas"] == estimate_tools_tokens(ToolExecutor().tool_schemas())
    tool = await client.add_tool(None, LOOKUP)
    await client.create_agent("other", model=MODEL, context_window=16000)
    assert await client.context("other") == base  # a registered tool costs nothing until it is attached
    await client.attach_tool("other", tool.name)
    schema = {"type": "function", "function": with_heartbeat(tool.json_schema)}
    with_tool = await client.context("other")
    assert with_tool["tool_schemas"] == base["tool_schemas"] + estimate_tools_tokens([schema])
    assert {k: v for k, v in with_tool.items() if k != "tool_schemas"} == {
        k: v for k, v in base.items() if k != "tool_schemas"
    }
    await client.detach_tool("other", tool.name)
    assert await client.context("other") == base


async def test_a_loaded_agent_picks_up_a_tool_attached_by_another_process(
    env: dict[str, str], tmp_path: Path, scripted: Scripted, closing: list[Client]
) -> None:
    client = await scripted.open([say("Hello."), call("lookup_order", order_id="A-1"), say("Shipped."), say("Yes.")])
    closing.append(client)
    await client.create_agent("sam", model=MODEL, context_window=16000)
    await client.send_message("sam", "Hi")  # the agent is now loaded in this process
    assert "lookup_order" not in {t["function"]["name"] for t in scripted.requests[-1]["tools"]}
    source = tmp_path / "shop.py"
    source.write_text(LOOKUP)
    memgpt("tools", "add", str(source), env=env)
    memgpt("agents", "tools", "attach", "sam", "lookup_order", env=env)
    events = await client.send_message("sam", "Where is A-1?")
    assert [e.data["status"] for e in events if e.type == "function_result"] == ["OK", "OK"]
    memgpt("tools", "add", str(source), "--replace", "--description", "Find an order.", env=env)
    await client.send_message("sam", "Again?")
    offered = {t["function"]["name"]: t["function"] for t in scripted.requests[-1]["tools"]}
    assert offered["lookup_order"]["description"] == "Find an order."  # an updated tool too


async def test_attaching_refuses_a_second_function_of_the_same_name(scripted: Scripted, closing: list[Client]) -> None:
    client = await scripted.open([])
    closing.append(client)
    await client.create_agent("sam", model=MODEL, context_window=16000)
    await client.add_tool(None, LOOKUP)
    await client.attach_tool("sam", "lookup_order")
    await client.attach_tool("sam", "lookup_order")  # attaching twice changes nothing
    assert [t.name for t in await client.list_agent_tools("sam")] == ["lookup_order"]
    with pytest.raises(Exception, match="No tool named 'nothing'"):
        await client.attach_tool("sam", "nothing")
