"""Shared blocks and agent files through the server: Letta's SDK (``letta-client``) against a real
``memgpt server`` process, and another user's key against every new route."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from memgpt.testing import FakeLLMServer
from tests.agentfile.test_shared_files import FILES, NAMES
from tests.server.harness import ServerProcess, say
from tests.server.test_auth import app_with_keys, bearer  # noqa: F401 - the fixture

letta_client = pytest.importorskip("letta_client", reason="letta-client is a dev dependency: pip install -e '.[dev]'")


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeLLMServer]:
    with FakeLLMServer({"replies": [], "default": say("Hello.")}) as server:
        yield server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, llm: FakeLLMServer) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path_factory.mktemp("blocks-home"), llm).start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def letta(server: ServerProcess) -> Any:
    return letta_client.Letta(base_url=server.url)


def test_a_block_attached_to_two_agents_with_the_letta_sdk(letta: Any, llm: FakeLLMServer) -> None:
    team = letta.blocks.create(label="team", value="The team.", limit=500, description="shared")
    assert team.id.startswith("block-") and team.limit == 500
    sam = letta.agents.create(name="sam-sdk", model="openai-compatible/fake")
    bo = letta.agents.create(name="bo-sdk", model="openai-compatible/fake", block_ids=[team.id])
    attached = letta.agents.blocks.attach(team.id, agent_id=sam.id)
    assert "team" in [b.label for b in attached.memory.blocks]
    updated = letta.blocks.update(team.id, value="The team. Ada joined.")
    assert updated.value == "The team. Ada joined."
    for agent in (sam, bo):
        assert letta.agents.blocks.retrieve("team", agent_id=agent.id).value == "The team. Ada joined."
    letta.agents.messages.create(agent_id=bo.id, messages=[{"role": "user", "content": "Who is on the team?"}])
    assert "The team. Ada joined." in llm.requests[-1]["messages"][0]["content"]
    # an edit through one agent's label is the same block for the other
    letta.agents.blocks.update("team", agent_id=sam.id, value="The team: Ada, Bo.")
    assert letta.blocks.retrieve(team.id).value == "The team: Ada, Bo."
    assert [b.id for b in letta.blocks.list(label="team")] == [team.id]
    assert sorted(a.id for a in letta.blocks.agents.list(team.id)) == sorted([sam.id, bo.id])
    detached = letta.agents.blocks.detach(team.id, agent_id=sam.id)
    assert "team" not in [b.label for b in detached.memory.blocks]
    letta.blocks.delete(team.id)
    assert "team" not in [b.label for b in letta.agents.blocks.list(agent_id=bo.id)]
    with pytest.raises(letta_client.NotFoundError):
        letta.blocks.retrieve(team.id)


@pytest.mark.skipif(not NAMES, reason=f"the shared agent files are not in {FILES}")
def test_import_and_export_with_the_letta_sdk(letta: Any) -> None:
    with (FILES / "evie.af").open("rb") as handle:
        imported = letta.agents.import_file(file=handle)
    assert len(imported.agent_ids) == 2
    agents = [letta.agents.retrieve(agent_id) for agent_id in imported.agent_ids]
    assert [a.name for a in agents] == ["Evie_copy", "companion-sleeptime_copy_copy"]  # Letta's default suffix
    shared = {b.id for b in agents[0].blocks} & {b.id for b in agents[1].blocks}
    assert len(shared) == 12
    text = letta.agents.export_file(agents[0].id)
    exported = json.loads(text)
    assert [a["name"] for a in exported["agents"]] == ["Evie_copy"] and len(exported["blocks"]) == 12
    again = letta.agents.import_file(file=("evie.af", text.encode(), "application/json"), name="evie-again")
    assert letta.agents.retrieve(again.agent_ids[0]).name == "evie-again"
    with pytest.raises(letta_client.BadRequestError):
        letta.agents.import_file(file=("broken.af", text.encode()[:1000], "application/json"))
    with pytest.raises(letta_client.BadRequestError):
        letta.agents.export_file(agents[0].id, use_legacy_format=True)


def test_another_users_blocks_and_agents_answer_404(app_with_keys: tuple[TestClient, dict[str, str]]) -> None:  # noqa: F811
    http, keys = app_with_keys
    ada, bo = bearer(keys["ada"]), bearer(keys["bo"])
    block = http.post("/v1/blocks/", json={"label": "secret", "value": "Ada's secret"}, headers=ada)
    assert block.status_code == 200, block.text
    block_id = block.json()["id"]
    agent_id = http.post("/v1/agents/", json={"name": "private"}, headers=ada).json()["id"]
    mine = http.post("/v1/agents/", json={"name": "bos"}, headers=bo).json()["id"]
    routes: list[tuple[str, str, Any]] = [
        ("GET", f"/v1/blocks/{block_id}", None),
        ("PATCH", f"/v1/blocks/{block_id}", {"value": "stolen"}),
        ("DELETE", f"/v1/blocks/{block_id}", None),
        ("GET", f"/v1/blocks/{block_id}/agents", None),
        ("PATCH", f"/v1/agents/{mine}/core-memory/blocks/attach/{block_id}", None),
        ("PATCH", f"/v1/agents/{agent_id}/core-memory/blocks/attach/{block_id}", None),
        ("PATCH", f"/v1/agents/{agent_id}/core-memory/blocks/detach/{block_id}", None),
        ("GET", f"/v1/agents/{agent_id}/export", None),
    ]
    for method, path, body in routes:
        answer = http.request(method, path, json=body, headers=bo)
        assert answer.status_code == 404, (method, path, answer.status_code, answer.text)
        assert "secret" not in answer.text
    assert [b["label"] for b in http.get("/v1/blocks/", headers=bo).json()] == ["persona", "human"]  # bo's own
    assert http.get(f"/v1/blocks/{block_id}", headers=ada).json()["value"] == "Ada's secret"


@pytest.mark.skipif(not NAMES, reason=f"the shared agent files are not in {FILES}")
def test_the_with_tools_form_field_with_the_letta_sdk(letta: Any) -> None:
    """letta-client has no with_tools parameter: the SDK's extra_body puts memgpt's field into its multipart form."""
    custom = ["terminate_chat", "escalate", "cancel_order", "check_order_status"]
    with (FILES / "customer_service.af").open("rb") as handle:
        plain = letta.agents.import_file(file=handle, name="shop-plain")
    assert not {t.name for t in letta.agents.tools.list(agent_id=plain.agent_ids[0])} & set(custom)
    with (FILES / "customer_service.af").open("rb") as handle:
        imported = letta.agents.import_file(file=handle, name="shop-tools", extra_body={"with_tools": True})
    names = [t.name for t in letta.agents.tools.list(agent_id=imported.agent_ids[0])]
    assert [n for n in names if n in custom] == custom
