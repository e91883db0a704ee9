"""The routes the web UI's memory inspector and chat read (in process): the context window, message search,
archival hits with scores and sources, memgpt's own event stream; nothing of another user's reachable."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from memgpt.client import Client
from memgpt.config import ServerSettings
from memgpt.server.app import create_app
from memgpt.testing import FakeLLMServer
from tests.server.harness import call, say
from tests.server.test_auth import bearer, make_users

WINDOW = 3000  # small enough that a few messages fill it: evictions and a summary


def policy(body: dict[str, Any]) -> dict[str, Any]:
    """'remember X' appends X to the human block (with a heartbeat); 'fail' is refused; else an echo."""
    messages = body["messages"]
    if not body.get("tools"):
        return {"content": "Summary: the user counted things and shared facts."}
    last = messages[-1]
    if last["role"] == "tool":
        return say("Saved.")
    spoken = (last.get("content") or "").split("] ", 1)[-1]
    if spoken.startswith("remember "):
        return {"content": "I should save this.", **call("core_memory_append", label="human", content=spoken[9:])}
    if spoken == "fail":
        return {"error": {"status": 400, "code": "invalid_request", "message": "scripted refusal"}}
    return say(f"You said: {spoken}", thought="Echo it.")


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, str, FakeLLMServer]]:
    url = f"sqlite:///{tmp_path / 'ui.db'}"
    monkeypatch.setenv("MEMGPT_HOME", str(tmp_path / "home"))
    with FakeLLMServer(policy) as llm:
        monkeypatch.setenv("MEMGPT_MODEL", "openai-compatible/fake")
        monkeypatch.setenv("MEMGPT_LLM_BASE_URL", llm.base_url)
        monkeypatch.setenv("MEMGPT_EMBEDDING", "none")
        server = create_app(ServerSettings(database_url=url))
        with TestClient(
            server, base_url="http://127.0.0.1:8283", client=("127.0.0.1", 40000), raise_server_exceptions=False
        ) as http:
            yield http, url, llm


def new_agent(http: TestClient, name: str = "sam", **extra: Any) -> str:
    body = {"name": name, "memory_blocks": [{"label": "human", "value": "Name: Ada"}]} | extra
    answer = http.post("/v1/agents", json=body)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["id"])


def send(http: TestClient, agent_id: str, text: str) -> None:
    answer = http.post(f"/v1/agents/{agent_id}/messages", json={"input": text})
    assert answer.status_code == 200, answer.text


def events(http: TestClient, agent_id: str, text: str, **extra: Any) -> list[Any]:
    body = {"messages": [{"role": "user", "content": text}]} | extra
    with http.stream("POST", f"/v1/agents/{agent_id}/messages/events", json=body) as answer:
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/event-stream")
        frames = [line[6:] for line in answer.iter_lines() if line.startswith("data: ")]
    assert frames[-1] == "[DONE]"
    return [json.loads(frame) for frame in frames[:-1]]


def stored_breakdown(url: str, agent: str) -> dict[str, int]:
    async def read() -> dict[str, int]:
        client = await Client.open(url, embedder=None)
        try:
            return await client.context(agent)  # what memgpt chat's /context prints
        finally:
            await client.close()

    return asyncio.run(read())


def test_context_window_has_the_cli_figures_thresholds_and_the_summary(app: Any) -> None:
    http, url, _ = app
    agent_id = new_agent(http, context_window_limit=WINDOW)
    before = http.get(f"/v1/agents/{agent_id}/context").json()
    before_sent = datetime.now(UTC).isoformat()
    assert before["summary_memory"] is None and before["summary_updated_at"] is None
    assert (before["warning_tokens"], before["flush_tokens"]) == (int(0.7 * WINDOW), WINDOW - WINDOW // 8)
    for number in range(40):
        send(http, agent_id, f"Message {number}: I learned fact {number} about the number {number * 7}.")
        context = http.get(f"/v1/agents/{agent_id}/context").json()
        if context["summary_memory"]:
            break
    assert context["summary_memory"] == "Summary: the user counted things and shared facts."
    assert datetime.fromisoformat(context["summary_updated_at"]) > datetime.fromisoformat(before_sent)
    cli = stored_breakdown(url, agent_id)
    parts = {
        "system_instructions": context["num_tokens_system"],
        "tool_schemas": context["num_tokens_functions_definitions"],
        "core_memory": context["num_tokens_core_memory"] + context["num_tokens_external_memory_summary"],
        "summary": context["num_tokens_summary_memory"],
        "messages": context["num_tokens_messages"],
    }
    assert parts == {k: v for k, v in cli.items() if k != "context_window"}
    assert context["context_window_size_current"] == sum(parts.values())
    assert context["context_window_size_max"] == cli["context_window"] == WINDOW
    in_window = http.get(f"/v1/agents/{agent_id}").json()["message_ids"]
    assert context["num_recall_memory"] > context["num_messages"] == len(in_window)
    assert {m["id"] for m in context["messages"]} <= set(in_window)
    assert "<human" in context["core_memory"] and "## Memory statistics" in context["external_memory_summary"]
    assert http.get(f"/v1/agents/{agent_id}/context?include_messages=false").json()["messages"] == []


def test_a_block_edited_by_hand_shows_in_the_context_at_once(app: Any) -> None:
    http, _, _ = app
    agent_id = new_agent(http)
    send(http, agent_id, "hello")  # the agent is loaded (and cached) by the server
    before = http.get(f"/v1/agents/{agent_id}/context").json()
    edited = http.patch(f"/v1/agents/{agent_id}/core-memory/blocks/human", json={"value": "Name: Ada. " * 200})
    assert edited.status_code == 200
    after = http.get(f"/v1/agents/{agent_id}/context").json()
    assert after["num_tokens_core_memory"] > before["num_tokens_core_memory"] + 400
    assert "Name: Ada. Name: Ada." in after["core_memory"]


def test_message_search_ranks_one_agents_recall_with_scores_and_dates(app: Any) -> None:
    http, _, _ = app
    agent_id = new_agent(http)
    other = new_agent(http, "other")
    for text in ("my sister Eve sails", "the weather is grey", "Eve and I sail on Sundays"):
        send(http, agent_id, text)
    send(http, other, "Eve sails too")
    found = http.post("/v1/messages/search", json={"agent_id": agent_id, "query": "Eve sails", "search_mode": "fts"})
    assert found.status_code == 200, found.text
    hits = found.json()
    assert hits and all(h["agent_id"] == agent_id for h in hits)
    assert all("Eve" in h["content"] for h in hits) and not any("grey" in h["content"] for h in hits)
    assert {h["message_type"] for h in hits} <= {"user_message", "assistant_message"}
    scores = [h["score"] for h in hits]
    assert scores == sorted(scores, reverse=True) and all(isinstance(h["created_at"], str) for h in hits)
    first = http.post("/v1/messages/search", json={"agent_id": agent_id, "query": "Eve sails", "limit": 1}).json()
    second = http.post(
        "/v1/messages/search", json={"agent_id": agent_id, "query": "Eve sails", "limit": 1, "page": 1}
    ).json()
    assert len(first) == len(second) == 1 and first[0]["message_id"] != second[0]["message_id"]
    for body, wanted in (
        ({"query": "Eve"}, "agent_id"),
        ({"agent_id": agent_id, "query": "x", "start_date": "2024-01-01"}, "date"),
    ):
        refused = http.post("/v1/messages/search", json=body)
        assert refused.status_code == 400 and wanted in refused.json()["detail"]


def test_archival_hits_carry_their_score_and_the_file_they_come_from(app: Any) -> None:
    http, _, _ = app
    agent_id = new_agent(http)
    folder = http.post("/v1/folders", json={"name": "notes"}).json()["id"]
    assert http.patch(f"/v1/agents/{agent_id}/folders/attach/{folder}").status_code == 200
    text = b"The lighthouse keeper's logbook says the lamp was lit at dusk every evening in 1893."
    assert http.post(f"/v1/folders/{folder}/upload", files={"file": ("keeper.txt", text)}).status_code == 200
    http.post(f"/v1/agents/{agent_id}/archival-memory", json={"text": "Ada likes lighthouses."})
    found = http.get(f"/v1/agents/{agent_id}/archival-memory/search", params={"query": "lighthouse lamp logbook"})
    results = found.json()["results"]
    assert results[0]["metadata"]["source"] == "keeper.txt" and "lamp was lit" in results[0]["content"]
    assert all(isinstance(r["score"], float) for r in results) and results[0]["score"] >= results[-1]["score"]
    own = {"inserted_by": {"kind": "user", "via": "api"}}  # the agent's own note, with what inserted it
    assert any(r["metadata"] == own and "Ada likes" in r["content"] for r in results)


def test_the_event_stream_sends_every_agent_event_then_done(app: Any) -> None:
    http, _, _ = app
    agent_id = new_agent(http)
    got = events(http, agent_id, "remember I sail")
    kinds = [e["type"] for e in got]
    assert kinds[0] == "user_message" and got[0]["content"] == "remember I sail" and got[0]["message_id"]
    call_at = kinds.index("function_call")
    assert got[call_at]["content"] == "core_memory_append" and json.loads(got[call_at]["arguments"])["label"] == "human"
    result = got[kinds.index("function_result")]
    assert result["status"] == "OK" and result["id"] == got[call_at]["id"]
    assert "heartbeat" in kinds and kinds.index("heartbeat") > call_at
    assert "inner_monologue_delta" in kinds and "assistant_message_delta" in kinds  # token by token by default
    assert kinds.count("usage") == 2  # one per LLM call
    said = "".join(e["content"] for e in got if e["type"] == "assistant_message_delta")
    assert said == "Saved." == next(e["content"] for e in got if e["type"] == "assistant_message")
    whole = events(http, agent_id, "hello", stream_tokens=False)
    assert not any(e["type"].endswith("_delta") for e in whole)
    blocks = http.get(f"/v1/agents/{agent_id}/core-memory/blocks/human").json()
    assert blocks["value"].endswith("I sail")


def test_a_failed_step_ends_the_stream_with_an_error_and_keeps_the_message(app: Any) -> None:
    http, _, _ = app
    agent_id = new_agent(http)
    got = events(http, agent_id, "fail")
    assert got[0]["type"] == "user_message" and got[-1]["type"] == "error"
    assert "scripted refusal" in got[-1]["content"] and got[-1]["error"]
    listed = http.get(f"/v1/agents/{agent_id}/messages").json()
    assert [m["content"] for m in listed if m["message_type"] == "user_message"] == ["fail"]
    # nothing but an invisible character: refused before the stream begins (a plain 400), nothing stored
    body = {"messages": [{"role": "user", "content": "\u200b"}]}
    refused = http.post(f"/v1/agents/{agent_id}/messages/events", json=body)
    assert refused.status_code == 400 and "empty" in refused.json()["detail"]
    assert refused.headers["x-should-retry"] == "false"
    assert len(http.get(f"/v1/agents/{agent_id}/messages").json()) == len(listed)


def test_another_users_agent_is_not_found_on_the_inspector_routes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'keys.db'}"
    keys = make_users(url)
    with FakeLLMServer(policy) as llm:
        monkeypatch.setenv("MEMGPT_MODEL", "openai-compatible/fake")
        monkeypatch.setenv("MEMGPT_LLM_BASE_URL", llm.base_url)
        monkeypatch.setenv("MEMGPT_EMBEDDING", "none")
        with TestClient(create_app(ServerSettings(database_url=url)), client=("127.0.0.1", 40000)) as http:
            ada, bo = bearer(keys["ada"]), bearer(keys["bo"])
            made = http.post(
                "/v1/agents",
                json={"name": "private", "memory_blocks": [{"label": "human", "value": "secret"}]},
                headers=ada,
            )
            agent_id = made.json()["id"]
            http.post(f"/v1/agents/{agent_id}/messages", json={"input": "my secret plan"}, headers=ada)
            sent_before = len(llm.requests)
            for method, path, body in (
                ("GET", f"/v1/agents/{agent_id}/context", None),
                ("POST", "/v1/messages/search", {"agent_id": agent_id, "query": "secret"}),
                ("POST", f"/v1/agents/{agent_id}/messages/events", {"input": "tell me the plan"}),
            ):
                answer = http.request(method, path, json=body, headers=bo)
                assert answer.status_code == 404, (path, answer.text)
                assert "secret" not in answer.text
                assert http.request(method, path, json=body).status_code == 401  # and none without a key
            assert len(llm.requests) == sent_before  # nothing ran
            assert http.get(f"/v1/agents/{agent_id}/context", headers=ada).status_code == 200
