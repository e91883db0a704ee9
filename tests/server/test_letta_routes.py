"""Letta routes in process (FastAPI's TestClient): what each accepts and refuses, and what it leaves behind."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from memgpt.config import ServerSettings
from memgpt.server.app import create_app
from memgpt.testing import FakeLLMServer
from tests.server.harness import say

JSON = {"content-type": "application/json"}


@pytest.fixture
def http(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The app on a fresh SQLite store, the local user (no keys), the scripted LLM answering "hi"."""
    with FakeLLMServer({"replies": [], "default": say("hi")}) as llm:
        monkeypatch.setenv("MEMGPT_MODEL", "openai-compatible/fake")
        monkeypatch.setenv("MEMGPT_LLM_BASE_URL", llm.base_url)
        monkeypatch.setenv("MEMGPT_EMBEDDING", "none")
        app = create_app(ServerSettings(database_url=f"sqlite:///{tmp_path / 'routes.db'}"))
        with TestClient(
            app, base_url="http://127.0.0.1:8283", client=("127.0.0.1", 40000), raise_server_exceptions=False
        ) as client:
            yield client


def test_persona_and_human_blocks_are_created_as_asked_or_not_at_all(http: TestClient) -> None:
    blocks = [
        {"label": "persona", "value": "I am Sam.", "limit": 500, "description": "who I am", "read_only": True},
        {"label": "human", "value": "Ada", "limit": 300},
        {"label": "tasks", "value": "- none", "limit": 200},
    ]
    made = http.post("/v1/agents/", json={"name": "sam", "memory_blocks": blocks})
    assert made.status_code == 200, made.text
    shown = {b["label"]: b for b in http.get(f"/v1/agents/{made.json()['id']}/core-memory/blocks").json()}
    assert (shown["persona"]["limit"], shown["persona"]["description"], shown["persona"]["read_only"]) == (
        500,
        "who I am",
        True,
    )
    assert (shown["human"]["value"], shown["human"]["limit"]) == ("Ada", 300)
    assert shown["tasks"]["limit"] == 200
    too_long = [{"label": "persona", "value": "x" * 50, "limit": 10}]
    refused = http.post("/v1/agents/", json={"name": "eve", "memory_blocks": too_long})
    assert refused.status_code in (400, 422) and "limit" in refused.json()["detail"]
    twice = [{"label": "human", "value": "a"}, {"label": "human", "value": "b"}]
    assert http.post("/v1/agents/", json={"name": "eve", "memory_blocks": twice}).status_code in (400, 422)
    assert [a["name"] for a in http.get("/v1/agents/").json()] == ["sam"]  # no half-made agent


def test_a_bad_message_among_several_refuses_the_request_before_any_runs(http: TestClient) -> None:
    agent = http.post("/v1/agents/", json={"name": "sam"}).json()["id"]
    for bad in ("   ", "nul \x00 inside", "\u200b"):
        body = {"messages": [{"role": "user", "content": "first, fine"}, {"role": "user", "content": bad}]}
        for path, extra in ((f"/v1/agents/{agent}/messages", {}), (f"/v1/agents/{agent}/messages/stream", {})):
            answer = http.post(path, json=body | extra)
            assert answer.status_code == 400, (bad, path, answer.text)
            assert answer.headers["content-type"].startswith("application/json")
            assert answer.headers["x-should-retry"] == "false"
    assert http.get(f"/v1/agents/{agent}/messages").json() == []  # "first, fine" was never sent


async def test_an_agent_busy_after_the_first_inputs_ran_is_not_retriable() -> None:
    from memgpt.errors import AgentBusyError, PartlyAnsweredError
    from memgpt.server.letta.messages import send_all

    class BusyAfter:
        """A client whose agent another process takes after ``free`` inputs."""

        def __init__(self, free: int) -> None:
            self.free = free

        async def send_message(self, agent: str, text: str, **_: object) -> list[object]:
            if self.free == 0:
                raise AgentBusyError("Agent sam is busy with another step.")
            self.free -= 1
            return []

    two = [("user", "one", None), ("user", "two", None)]
    with pytest.raises(PartlyAnsweredError, match="The first 1 of the 2 messages were answered"):
        await send_all(BusyAfter(1), "agent-x", two, lambda e: None, stream=False)  # type: ignore[arg-type]
    with pytest.raises(AgentBusyError):  # nothing ran: retriable as it is
        await send_all(BusyAfter(0), "agent-x", two, lambda e: None, stream=False)  # type: ignore[arg-type]


async def test_a_cancelled_openai_stream_ends_with_an_error_not_a_stop() -> None:
    import asyncio
    import json

    from memgpt.server.openai_api import completion_chunks

    step = asyncio.ensure_future(asyncio.sleep(60))
    step.cancel()
    frames = [f async for f in completion_chunks(step, asyncio.Queue(), {"id": "c", "model": "memgpt/sam"}, False)]
    bodies = [json.loads(f.removeprefix("data: ")) for f in frames if f.startswith("data: {")]
    assert bodies[-1]["error"]["type"] == "cancelled"
    assert all(c.get("finish_reason") != "stop" for b in bodies for c in b.get("choices", []))
    assert frames[-1] == "data: [DONE]\n\n"


def test_a_body_sent_in_chunks_over_the_limit_is_413_and_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMGPT_EMBEDDING", "none")
    monkeypatch.setenv("MEMGPT_MODEL", "openai-compatible/fake")  # never called: no message is sent
    monkeypatch.setenv("MEMGPT_LLM_BASE_URL", "http://127.0.0.1:9")
    app = create_app(ServerSettings(database_url=f"sqlite:///{tmp_path / 'limit.db'}", max_body_bytes=10_000))
    with TestClient(app, base_url="http://127.0.0.1:8283", client=("127.0.0.1", 40000)) as http:

        def chunks(head: bytes, filler: int, tail: bytes) -> Iterator[bytes]:  # no length: sent chunked
            yield head
            for _ in range(filler):
                yield b" " * 1000
            yield tail

        small = http.post("/v1/agents/", content=chunks(b'{"name": "sam"', 2, b"}"), headers=JSON)
        assert small.status_code == 200, small.text
        # over the limit, though every byte after the name is whitespace that would still parse
        big = http.post("/v1/agents/", content=chunks(b'{"name": "eve"}', 20, b""), headers=JSON)
        assert big.status_code == 413 and "MEMGPT_SERVER_MAX_BODY" in big.json()["detail"]
        folder = http.post("/v1/folders/", json={"name": "docs"}).json()["id"]
        part = (
            b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\n'
        )
        upload = http.post(
            f"/v1/folders/{folder}/upload",
            content=chunks(part, 30, b"\r\n--b--\r\n"),
            headers={"content-type": "multipart/form-data; boundary=b"},
        )
        assert upload.status_code == 413
        assert [a["name"] for a in http.get("/v1/agents/").json()] == ["sam"]
        assert http.get(f"/v1/folders/{folder}/files").json() == []


def test_uploads_keep_their_bytes_only_while_their_file_exists(http: TestClient, memgpt_home: Path) -> None:
    uploads = memgpt_home / "uploads"
    folder = http.post("/v1/folders/", json={"name": "docs"}).json()["id"]

    def upload(name: str, text: str | bytes, handling: str = "replace") -> dict[str, object]:
        files = {"file": (name, text.encode() if isinstance(text, str) else text, "text/plain")}
        answer = http.post(f"/v1/folders/{folder}/upload", files=files, params={"duplicate_handling": handling})
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    first = upload("notes.txt", "The boiler is serviced every October.")
    assert first["file_path"] == "notes.txt" and str(memgpt_home) not in str(first)
    again = upload("notes.txt", "The boiler is serviced every October.")
    assert again["id"] == first["id"]  # the same bytes: unchanged
    changed = upload("notes.txt", "The boiler is serviced every March.")
    listed = http.get(f"/v1/folders/{folder}/files").json()
    assert [f["id"] for f in listed] == [changed["id"]]  # replaced, not a second notes.txt
    assert [p.read_text() for p in uploads.rglob("notes.txt")] == ["The boiler is serviced every March."]
    skipped = upload("blob.bin", bytes(range(256)) * 4)
    assert skipped["processing_status"] == "error"
    assert not list(uploads.rglob("blob.bin"))  # nothing kept of what was not loaded
    long_name = "é" * 200 + ".txt"  # 200 characters, 404 bytes
    refused = http.post(f"/v1/folders/{folder}/upload", files={"file": (long_name, b"hello", "text/plain")})
    assert refused.status_code == 400 and "bytes long" in refused.json()["detail"]
    assert http.delete(f"/v1/folders/{folder}/{changed['id']}").status_code in (200, 204)
    assert not list(uploads.rglob("notes.txt"))
    upload("other.txt", "Keys are under the mat.")
    assert http.delete(f"/v1/folders/{folder}").status_code in (200, 204)
    assert not (uploads / folder).exists()


async def test_deleting_a_user_deletes_their_uploads_and_no_one_elses(tmp_path: Path, memgpt_home: Path) -> None:
    from memgpt.client import Client

    async with await Client.open(f"sqlite:///{tmp_path / 'users.db'}", embedder=None) as admin:
        kept = {}
        for name in ("ada", "bo"):
            user = await admin.create_user(name)
            client = admin.as_user(user.id)
            source = await client.create_source("docs")
            await client.upload(source.id, "diary.txt", f"{name}'s diary: the safe code is 1234.".encode())
            kept[name] = source.id
        await admin.delete_user("ada")
        assert not (memgpt_home / "uploads" / kept["ada"]).exists()
        assert [p.read_text() for p in (memgpt_home / "uploads" / kept["bo"]).rglob("diary.txt")] == [
            "bo's diary: the safe code is 1234."
        ]
