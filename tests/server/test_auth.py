"""Users and API keys on the server: no key, a wrong key, another user's key, a revoked key."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from memgpt.client import Client
from memgpt.config import ServerSettings
from memgpt.server.app import create_app
from memgpt.testing import FakeLLMServer
from tests.server.harness import ServerProcess, say


def make_users(url: str) -> dict[str, str]:
    """Users ada and bo with a key each (through Client, as `memgpt users/keys create` does)."""

    async def work() -> dict[str, str]:
        client = await Client.open(url, embedder=None)
        try:
            keys = {}
            for name in ("ada", "bo"):
                await client.create_user(name)
                keys[name] = (await client.create_api_key(name, name="test")).secret
            keys["revoked"] = (await client.create_api_key("ada", name="old")).secret
            await client.revoke_api_key(keys["revoked"][:12], user="ada")
            return keys
        finally:
            await client.close()

    return asyncio.run(work())


@pytest.fixture
def app_with_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, dict[str, str]]]:
    url = f"sqlite:///{tmp_path / 'auth.db'}"
    keys = make_users(url)
    with FakeLLMServer({"replies": [], "default": say("hi")}) as llm:
        monkeypatch.setenv("MEMGPT_MODEL", "openai-compatible/fake")
        monkeypatch.setenv("MEMGPT_LLM_BASE_URL", llm.base_url)
        monkeypatch.setenv("MEMGPT_EMBEDDING", "none")
        app = create_app(ServerSettings(database_url=url))
        with TestClient(app, client=("127.0.0.1", 40000), raise_server_exceptions=False) as http:
            yield http, keys


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_no_key_a_wrong_key_and_a_revoked_key_are_refused(app_with_keys: tuple[TestClient, dict[str, str]]) -> None:
    http, keys = app_with_keys
    assert http.get("/v1/health/").status_code == 200  # open, for load balancers
    for headers in ({}, bearer("mgpt_not-a-real-key"), bearer(keys["revoked"]), {"Authorization": keys["ada"]}):
        answer = http.get("/v1/agents/", headers=headers)
        assert answer.status_code == 401, headers
        assert answer.json()["detail"]
    assert http.get("/v1/agents/", headers=bearer(keys["ada"])).json() == []


def test_another_users_objects_answer_404_on_every_route(app_with_keys: tuple[TestClient, dict[str, str]]) -> None:
    http, keys = app_with_keys
    ada, bo = bearer(keys["ada"]), bearer(keys["bo"])
    agent = http.post(
        "/v1/agents/", json={"name": "private", "memory_blocks": [{"label": "human", "value": "x"}]}, headers=ada
    )
    assert agent.status_code == 200, agent.text
    agent_id = agent.json()["id"]
    passage = http.post(f"/v1/agents/{agent_id}/archival-memory", json={"text": "Ada's secret"}, headers=ada).json()[0]
    folder_id = http.post("/v1/folders/", json={"name": "ada-docs"}, headers=ada).json()["id"]
    upload = http.post(f"/v1/folders/{folder_id}/upload", files={"file": ("a.txt", b"secret text")}, headers=ada)
    file_id = upload.json()["id"]
    message = {"messages": [{"role": "user", "content": "hi"}]}
    routes: list[tuple[str, str, Any]] = [
        ("GET", f"/v1/agents/{agent_id}", None),
        ("PATCH", f"/v1/agents/{agent_id}", {"name": "stolen"}),
        ("POST", f"/v1/agents/{agent_id}/messages", message),
        ("POST", f"/v1/agents/{agent_id}/messages", message | {"streaming": True}),
        ("POST", f"/v1/agents/{agent_id}/messages/stream", message),
        ("GET", f"/v1/agents/{agent_id}/messages", None),
        ("GET", f"/v1/agents/{agent_id}/core-memory/blocks", None),
        ("GET", f"/v1/agents/{agent_id}/core-memory/blocks/human", None),
        ("PATCH", f"/v1/agents/{agent_id}/core-memory/blocks/human", {"value": "y"}),
        ("POST", f"/v1/agents/{agent_id}/archival-memory", {"text": "z"}),
        ("GET", f"/v1/agents/{agent_id}/archival-memory", None),
        ("GET", f"/v1/agents/{agent_id}/archival-memory/search?query=secret", None),
        ("DELETE", f"/v1/agents/{agent_id}/archival-memory/{passage['id']}", None),
        ("GET", f"/v1/agents/{agent_id}/folders", None),
        ("PATCH", f"/v1/agents/{agent_id}/folders/attach/{folder_id}", None),
        ("GET", f"/v1/folders/{folder_id}", None),
        ("GET", f"/v1/folders/{folder_id}/files", None),
        ("GET", f"/v1/folders/{folder_id}/files/{file_id}", None),
        ("DELETE", f"/v1/folders/{folder_id}/{file_id}", None),
        ("DELETE", f"/v1/folders/{folder_id}", None),
        ("DELETE", f"/v1/agents/{agent_id}", None),
        ("POST", "/v1/chat/completions", {"model": "memgpt/private", "messages": [{"role": "user", "content": "hi"}]}),
        ("POST", "/v1/chat/completions", {"model": agent_id, "messages": [{"role": "user", "content": "hi"}]}),
    ]
    for method, path, body in routes:
        answer = http.request(method, path, json=body, headers=bo)
        assert answer.status_code == 404, (method, path, answer.status_code, answer.text)
        assert "secret" not in answer.text
    assert http.get("/v1/agents/", headers=bo).json() == [] and http.get("/v1/folders/", headers=bo).json() == []
    assert [m["id"] for m in http.get("/v1/models", headers=bo).json()["data"]] == []
    # nothing of Ada's was changed by any of those
    mine = http.get(f"/v1/agents/{agent_id}", headers=ada).json()
    assert mine["name"] == "private" and {b["label"]: b["value"] for b in mine["blocks"]}["human"] == "x"
    assert [p["text"] for p in http.get(f"/v1/agents/{agent_id}/archival-memory", headers=ada).json()] == [
        "Ada's secret"
    ]
    assert len(http.get(f"/v1/folders/{folder_id}/files", headers=ada).json()) == 1


def test_without_keys_only_this_machine_is_served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMGPT_EMBEDDING", "none")
    app = create_app(ServerSettings(database_url=f"sqlite:///{tmp_path / 'open.db'}"))
    with TestClient(app, base_url="http://localhost:8283", client=("127.0.0.1", 40000)) as local:
        assert local.get("/v1/agents/").status_code == 200
        assert local.get("/v1/agents/", headers=bearer("anything")).status_code == 200  # the OpenAI SDK insists
    with TestClient(app, client=("10.0.0.7", 40000)) as remote:
        answer = remote.get("/v1/agents/")
        assert answer.status_code == 401 and "only on this machine" in answer.json()["detail"]
    with TestClient(app, base_url="http://127.0.0.1:8283", client=("127.0.0.1", 40000)) as local:
        assert local.get("/v1/agents/", headers={"Host": "[::1]:8283"}).status_code == 200
        refused = [
            {"Host": "evil.example:8283"},  # a page whose name was rebound to 127.0.0.1
            {"Origin": "http://evil.example"},  # a page elsewhere posting to localhost
            {"X-Forwarded-For": "203.0.113.9"},  # a proxy on this machine forwarding the world
            {"Forwarded": "for=203.0.113.9"},
        ]
        for headers in refused:
            assert local.get("/v1/agents/", headers=headers).status_code == 401, headers
        assert local.get("/v1/agents/", headers={"Origin": "http://localhost:3000"}).status_code == 200


def test_keys_are_printed_once_never_logged_and_a_public_address_needs_one(tmp_path: Path) -> None:
    with FakeLLMServer({"replies": [], "default": say("hello")}) as llm:
        server = ServerProcess(tmp_path / "home", llm)
        refused = server.memgpt("server", "--host", "0.0.0.0", "--port", str(server.port))
        assert refused.returncode == 2 and "no API keys" in refused.stderr and "Traceback" not in refused.stderr
        assert server.memgpt("users", "create", "ada").returncode == 0
        made = server.memgpt("keys", "create", "--user", "ada", "--name", "laptop")
        secret = made.stdout.strip()
        assert made.returncode == 0 and secret.startswith("mgpt_") and "only time" in made.stderr
        listed = server.memgpt("keys", "list")
        assert secret not in listed.stdout and secret[:12] in listed.stdout and "ada" in listed.stdout
        server.start()
        try:
            import httpx

            headers = bearer(secret)
            created = httpx.post(f"{server.url}/v1/agents/", json={"name": "sam"}, headers=headers)
            assert created.status_code == 200, created.text
            agent_id = created.json()["id"]
            sent = httpx.post(
                f"{server.url}/v1/agents/{agent_id}/messages", json={"input": "my secret plan"}, headers=headers
            )
            assert sent.status_code == 200
            assert httpx.get(f"{server.url}/v1/agents/").status_code == 401
            httpx.get(f"{server.url}/v1/agents/agent-00000000-0000-4000-8000-000000000000", headers=headers)
        finally:
            log = server.stop()
        assert secret not in log and secret[5:20] not in log
        assert "my secret plan" not in log
    assert server.memgpt("keys", "revoke", secret[:12]).returncode == 0
    assert "revoked" in server.memgpt("keys", "list").stdout
