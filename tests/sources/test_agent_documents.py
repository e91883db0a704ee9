"""An agent reads a loaded document through its functions, over the scripted LLM's real HTTP API."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from memgpt.client import Client
from memgpt.llm.openai_compat import OpenAICompatibleClient
from memgpt.memory.blocks import CoreMemory
from memgpt.memory.types import ToolCall
from memgpt.testing import FakeLLMServer
from memgpt.tools.context import ToolContext
from memgpt.tools.executor import ToolExecutor, ToolResult
from tests.sources.files import write_pdf


def tool_results(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [json.loads(m["content"]) for m in body["messages"] if m["role"] == "tool"]


def call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"tool_calls": [{"name": name, "arguments": arguments}]}


def reader_policy(body: dict[str, Any]) -> dict[str, Any]:
    """Search, page, read the hit's neighbours, then answer: ids come from the results the agent saw."""
    if not body.get("tools"):
        return {"content": "summary"}
    results = tool_results(body)
    if not results:
        return call("archival_memory_search", query="glassblowing furnace", request_heartbeat=True)
    if len(results) == 1:
        return call("archival_memory_search", query="glassblowing furnace", page=1, request_heartbeat=True)
    if len(results) == 2:
        found = re.search(r"id (passage-[0-9a-f-]+)", results[0]["message"])
        assert found, results[0]["message"]
        return call("archival_memory_read", passage_id=found.group(1), before=1, after=1, request_heartbeat=True)
    return call("send_message", message="The furnace is described on page 3 of glass.pdf.")


async def test_agent_searches_pages_and_reads_neighbouring_chunks(tmp_path: Path) -> None:
    filler = "The workshop is quiet and the glass cools slowly. " * 12  # full pages: one passage each
    pages = [
        f"Chapter {i}: the glassblowing furnace reaches {1000 + i} degrees on day {i}. {filler}" for i in range(1, 9)
    ]
    write_pdf(tmp_path / "glass.pdf", pages, title="Glassworks")
    with FakeLLMServer(reader_policy, log_path=tmp_path / "requests.jsonl") as server:
        llm = OpenAICompatibleClient("fake", base_url=server.base_url, api_key="k", max_retries=0)
        client = await Client.open(f"sqlite:///{tmp_path / 'a.db'}", embedder=None, llm=llm)
        try:
            await client.create_agent("sam", model="openai-compatible/fake", context_window=16000)
            await client.load([tmp_path / "glass.pdf"], agent="sam", source="glass")
            events = await client.send_message("sam", "What temperature does the furnace reach?")
            requests = [r for r in server.requests if r.get("tools")]
        finally:
            await client.close()
            await llm.close()
    assert [e.content for e in events if e.type == "assistant_message"] == [
        "The furnace is described on page 3 of glass.pdf."
    ]
    system = requests[0]["messages"][0]["content"]
    assert "archival_memory_read" in system
    assert "8 passages are in archival memory" in system  # the attached source counts as archival memory
    first, second, read = tool_results(requests[-1])
    assert first["status"] == second["status"] == read["status"] == "OK"
    assert first["message"].startswith("Showing passages 1-5 of 8 (page 0 of 0-1):")
    assert re.search(r'\[.*glass\.pdf, "Glassworks", page \d, chunk \d, id passage-', first["message"])
    assert second["message"].startswith("Showing passages 6-8 of 8 (page 1 of 0-1):")
    hit_page = int(re.search(r"page (\d)", first["message"].split("\n")[1]).group(1))  # type: ignore[union-attr]
    expected = [p for p in (hit_page - 1, hit_page, hit_page + 1) if 1 <= p <= 8]
    assert [int(p) for p in re.findall(r"page (\d), chunk", read["message"])] == expected
    assert f"Chapter {hit_page}:" in read["message"]
    assert "archival_memory_read" in {t["function"]["name"] for t in requests[0]["tools"]}


async def test_read_function_refuses_bad_calls_with_a_reason(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Alpha chunk about the kestrel.", encoding="utf-8")
    client = await Client.open(f"sqlite:///{tmp_path / 'a.db'}", embedder=None)
    try:
        state = await client.create_agent("sam", model="openai/gpt-4o-mini")
        [own] = await client.insert_passages("sam", ["My own note about the kestrel."])
        await client.load([tmp_path / "a.txt"], agent="sam")
        hit = next(h for h in (await client.search("sam", "kestrel", archival=True)).hits if "chunk" in h.metadata)
        executor = ToolExecutor()
        ctx = ToolContext(agent=state, memory=CoreMemory(state.blocks), store=client.store)

        async def read(**arguments: Any) -> ToolResult:
            return await executor.execute(ToolCall("c1", "archival_memory_read", json.dumps(arguments)), ctx)

        ok = await read(passage_id=hit.id, before=2, after=2, request_heartbeat=False)
        assert ok.status == "OK" and ok.message.startswith(f"[{tmp_path / 'a.txt'}, chunk 0, id {hit.id}]")
        assert ok.message.endswith("Alpha chunk about the kestrel.")
        note = await read(passage_id=own, request_heartbeat=False)
        assert note.status == "OK" and "no neighbouring chunks" in note.message
        too_many = await read(passage_id=hit.id, after=50, request_heartbeat=False)
        assert too_many.status == "Failed" and "between 0 and 5" in too_many.message
        missing = await read(passage_id="passage-nope", request_heartbeat=False)
        assert missing.status == "Failed" and "No passage" in missing.message
    finally:
        await client.close()
