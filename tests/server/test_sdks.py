"""Code written for Letta and for OpenAI, unchanged, against a real ``memgpt server`` process.

The real ``letta-client`` 1.x and ``openai`` SDKs talk to the server over HTTP; the server's agents talk to
the scripted LLM server (also over HTTP), whose policy answers each request from what it was sent.
"""

from __future__ import annotations

import http.client
import io
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from memgpt.testing import FakeLLMServer
from tests.server.harness import ServerProcess, call, say

letta_client = pytest.importorskip("letta_client", reason="letta-client is a dev dependency: pip install -e '.[dev]'")
openai = pytest.importorskip("openai")


def policy(body: dict[str, Any]) -> dict[str, Any]:
    """Replies from the request: "remember X" edits memory; "search X" searches archival; else an echo."""
    messages = body["messages"]
    last = messages[-1]
    if last["role"] == "tool":
        if "remember" in _last_user(messages) or "search" in _last_user(messages):
            return say(f"Done: {last['content'][:2000]}")
        return say("ok")
    text = last.get("content") or ""
    spoken = text.split("] ", 1)[-1]  # the compiler prefixes user messages with their time
    if spoken.startswith("remember "):
        return call("core_memory_append", label="human", content=spoken.removeprefix("remember "))
    if spoken.startswith("search "):
        return call("archival_memory_search", query=spoken.removeprefix("search "))
    if spoken.startswith("what do you know"):
        human = messages[0]["content"].split("<human", 1)[-1][:400]
        return say(f"I know: {human}")
    return say(f"You said: {spoken}", thought=f"The user said {spoken!r}; I will echo it.")


def _last_user(messages: list[dict[str, Any]]) -> str:
    return next((m.get("content") or "" for m in reversed(messages) if m["role"] == "user"), "")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    home = tmp_path_factory.mktemp("server-home")
    with FakeLLMServer(policy) as llm:
        process = ServerProcess(home, llm).start()
        try:
            yield process
        finally:
            process.stop()


@pytest.fixture
def letta(server: ServerProcess) -> Any:
    return letta_client.Letta(base_url=server.url)


def test_letta_agents_messages_streams_and_pages(letta: Any) -> None:
    agent = letta.agents.create(
        name="ada-helper",
        memory_blocks=[
            {"label": "human", "value": "Name: Ada", "limit": 2000},
            {"label": "persona", "value": "I help."},
        ],
        model="openai-compatible/fake",
    )
    assert {b.label: b.value for b in agent.memory.blocks} == {"persona": "I help.", "human": "Name: Ada"}
    assert letta.agents.retrieve(agent.id).name == "ada-helper"
    reply = letta.agents.messages.create(agent_id=agent.id, messages=[{"role": "user", "content": "hello there"}])
    kinds = [type(m).__name__ for m in reply.messages]
    assert kinds == ["ReasoningMessage", "AssistantMessage"]
    assert reply.messages[1].content == "You said: hello there"
    assert reply.stop_reason.stop_reason == "end_turn" and reply.usage.step_count == 1

    # streamed whole, streamed token by token, and through the dedicated stream route
    whole = list(
        letta.agents.messages.create(agent_id=agent.id, messages=[{"role": "user", "content": "one"}], streaming=True)
    )
    assert [type(c).__name__ for c in whole] == [
        "ReasoningMessage",
        "AssistantMessage",
        "LettaStopReason",
        "LettaUsageStatistics",
    ]
    pieces = list(
        letta.agents.messages.create(
            agent_id=agent.id, messages=[{"role": "user", "content": "two"}], streaming=True, stream_tokens=True
        )
    )
    said = [c for c in pieces if type(c).__name__ == "AssistantMessage"]
    assert len(said) > 1 and "".join(c.content for c in said) == "You said: two"
    assert len({c.id for c in said}) == 1  # the pieces of one message share its id
    with pytest.warns(DeprecationWarning):
        routed = list(
            letta.agents.messages.stream(agent_id=agent.id, messages=[{"role": "user", "content": [{"text": "three"}]}])
        )
    assert any(getattr(c, "content", None) == "You said: three" for c in routed)

    # every message across pages of two, oldest first, each once
    paged = list(letta.agents.messages.list(agent_id=agent.id, order="asc", limit=2))
    users = [m.content for m in paged if type(m).__name__ == "UserMessage"]
    assert users == ["hello there", "one", "two", "three"]
    assert len({(m.id, type(m).__name__) for m in paged}) == len(paged)
    newest = list(letta.agents.messages.list(agent_id=agent.id, limit=1))
    assert type(newest[-1]).__name__ == "AssistantMessage" and newest[-1].content == "You said: three"
    assert list(letta.agents.messages.list(agent_id=agent.id, after=newest[-1].id)) == []

    renamed = letta.agents.update(agent.id, name="ada-helper-2")
    assert renamed.name == "ada-helper-2" and [a.name for a in letta.agents.list() if a.id == agent.id] == [
        "ada-helper-2"
    ]
    letta.agents.delete(agent.id)
    with pytest.raises(letta_client.NotFoundError):
        letta.agents.retrieve(agent.id)


def test_letta_memory_blocks_and_archival(letta: Any, server: ServerProcess) -> None:
    agent = letta.agents.create(
        name="mem", memory_blocks=[{"label": "human", "value": "Name: Bo"}], model="openai-compatible/fake"
    )
    assert letta.agents.blocks.retrieve("human", agent_id=agent.id).value == "Name: Bo"
    updated = letta.agents.blocks.update("human", agent_id=agent.id, value="Name: Bo. Likes sailing.", limit=3000)
    assert (updated.value, updated.limit) == ("Name: Bo. Likes sailing.", 3000)
    assert [b.label for b in letta.agents.blocks.list(agent_id=agent.id)] == ["persona", "human"]
    with pytest.raises(letta_client.NotFoundError):
        letta.agents.blocks.retrieve("nonexistent", agent_id=agent.id)

    letta.agents.messages.create(
        agent_id=agent.id, messages=[{"role": "user", "content": "remember Bo's boat is the Kestrel"}]
    )
    assert "Kestrel" in letta.agents.blocks.retrieve("human", agent_id=agent.id).value  # the agent wrote it

    created = letta.agents.passages.create(agent_id=agent.id, text="The Kestrel has a red hull.", tags=["boat"])
    letta.agents.passages.create(agent_id=agent.id, text="Bo sails on Sundays.")
    assert [p.text for p in letta.agents.passages.list(agent_id=agent.id)] == [
        "The Kestrel has a red hull.",
        "Bo sails on Sundays.",
    ]
    found = letta.agents.passages.search(agent_id=agent.id, query="red hull")
    assert found.count >= 1 and found.results[0].content == "The Kestrel has a red hull."
    assert letta.agents.passages.search(agent_id=agent.id, query="hull", tags=["boat"]).results[0].tags == ["boat"]
    letta.agents.passages.delete(created[0].id, agent_id=agent.id)
    assert [p.text for p in letta.agents.passages.list(agent_id=agent.id)] == ["Bo sails on Sundays."]
    # the agent searches its archival memory through the same store
    reply = letta.agents.messages.create(agent_id=agent.id, messages=[{"role": "user", "content": "search sundays"}])
    assert "Bo sails on Sundays." in reply.messages[-1].content


def test_letta_folders_upload_attach_and_search(letta: Any) -> None:
    agent = letta.agents.create(name="reader", model="openai-compatible/fake")
    folder = letta.folders.create(name="harbour-docs", embedding="openai/text-embedding-3-small")
    assert folder.id.startswith("source-") and [f.name for f in letta.folders.list()].count("harbour-docs") == 1
    text = b"# Harbour log\n\nThe harbour froze in the winter of 1963. Ships waited outside for three weeks.\n"
    uploaded = letta.folders.files.upload(folder.id, file=("log.md", io.BytesIO(text), "text/markdown"))
    assert uploaded.processing_status == "completed" and uploaded.total_chunks >= 1
    assert [f.file_name for f in letta.folders.files.list(folder.id)] == ["log.md"]
    assert letta.folders.files.retrieve(uploaded.id, folder_id=folder.id).processing_status == "completed"
    letta.agents.folders.attach(folder.id, agent_id=agent.id)
    assert [f.id for f in letta.agents.folders.list(agent_id=agent.id)] == [folder.id]
    reply = letta.agents.messages.create(
        agent_id=agent.id, messages=[{"role": "user", "content": "search harbour froze"}]
    )
    assert "winter of 1963" in reply.messages[-1].content
    letta.agents.folders.detach(folder.id, agent_id=agent.id)
    assert list(letta.agents.folders.list(agent_id=agent.id)) == []


def test_openai_chat_completions_use_the_agents_memory(server: ServerProcess, letta: Any) -> None:
    letta.agents.create(
        name="chatty", memory_blocks=[{"label": "human", "value": "Name: Cy"}], model="openai-compatible/fake"
    )
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="not-needed-on-loopback-without-keys")
    assert "memgpt/chatty" in [m.id for m in client.models.list()]
    first = client.chat.completions.create(
        model="memgpt/chatty", messages=[{"role": "user", "content": "remember Cy's cat is called Miso"}]
    )
    assert first.choices[0].message.content.startswith("Done:")
    history = [{"role": "user", "content": "remember Cy's cat is called Miso"}, {"role": "assistant", "content": "ok"}]
    second = client.chat.completions.create(
        model="memgpt/chatty", messages=[*history, {"role": "user", "content": "what do you know about me?"}]
    )
    assert "Miso" in second.choices[0].message.content  # the memory written by the first call
    streamed = client.chat.completions.create(
        model="memgpt/chatty",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(streamed)
    content = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content) > 1 and "".join(content) == "You said: hi"
    assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens > 0
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="memgpt/nobody", messages=[{"role": "user", "content": "hi"}])


def test_errors_are_json_with_a_reason_and_message_posts_are_never_retried(server: ServerProcess) -> None:
    import httpx

    missing = httpx.post(
        f"{server.url}/v1/agents/agent-00000000-0000-4000-8000-000000000000/messages", json={"input": "hi"}
    )
    assert missing.status_code == 404 and missing.headers["x-should-retry"] == "false"
    assert "No agent" in missing.json()["detail"]
    malformed = httpx.post(
        f"{server.url}/v1/agents/", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 422 and "Invalid request" in malformed.json()["detail"]
    both = httpx.post(f"{server.url}/v1/agents/whoever/messages", json={"input": "a", "messages": []})
    assert both.status_code in (400, 404)
    huge = httpx.post(
        f"{server.url}/v1/agents/", content=b"x" * (33 * 1024 * 1024), headers={"content-type": "application/json"}
    )
    assert huge.status_code == 413 and "limit" in huge.json()["detail"]
    schema = httpx.get(f"{server.url}/openapi.json").json()
    assert "/v1/agents/{agent_id}/messages" in schema["paths"] and "/v1/chat/completions" in schema["paths"]
    json.dumps(schema)


def test_a_connection_idle_longer_than_a_clients_pool_keeps_it_still_serves(server: ServerProcess) -> None:
    """The server keeps idle connections longer than HTTP clients' pools do (httpx: 5 s), so a pooled
    connection a client picks again is never one the server is closing (that was a reset request)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("GET", "/v1/health/")
        assert conn.getresponse().read()
        time.sleep(6)  # past uvicorn's default keep-alive of 5 s
        assert conn.sock is not None  # the same connection, not a new one
        conn.request("GET", "/v1/health/")
        assert conn.getresponse().read()
    finally:
        conn.close()
