"""Requests generated from the server's own OpenAPI schema (schemathesis): whatever they hold, no 5xx."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from memgpt.testing import FakeLLMServer
from tests.server.harness import ServerProcess, say

pytest.importorskip("schemathesis", reason="schemathesis is a dev dependency: pip install -e '.[dev]'")
EXAMPLES = 12  # per operation: about 35 operations, so a few hundred requests in the test suite


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with FakeLLMServer({"replies": [], "default": say("fine")}) as llm:
        process = ServerProcess(tmp_path_factory.mktemp("fuzz-home"), llm).start()
        try:
            seed(process.url)
            yield process
        finally:
            log = process.stop()
            assert "Traceback" not in log, log[-3000:]


def seed(url: str) -> None:
    """An agent, a passage and a folder, so that generated ids sometimes hit real objects."""
    agent = httpx.post(f"{url}/v1/agents/", json={"name": "fuzzed"}).json()
    httpx.post(f"{url}/v1/agents/{agent['id']}/archival-memory", json={"text": "a passage to find"})
    httpx.post(f"{url}/v1/folders/", json={"name": "fuzzed-folder"})


def test_no_request_makes_the_server_fail(server: ServerProcess, tmp_path: Path) -> None:
    """The schemathesis command (its pytest plugin does not load under pytest 9), every operation, every phase."""
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{server.url}/openapi.json",
        "--checks",
        "not_a_server_error",
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        "20261201",
        "--report",
        "junit",
        "--report-junit-path",
        str(tmp_path / "schemathesis.xml"),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=tmp_path)  # its cache lands there
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    report = (tmp_path / "schemathesis.xml").read_text()
    assert 'failures="0"' in report and 'errors="0"' in report


def test_the_schema_names_every_route(server: ServerProcess, tmp_path: Path) -> None:
    paths = httpx.get(f"{server.url}/openapi.json").json()["paths"]
    for route in (
        "/v1/agents",
        "/v1/agents/{agent_id}/messages",
        "/v1/agents/{agent_id}/messages/stream",
        "/v1/agents/{agent_id}/core-memory/blocks/{label}",
        "/v1/agents/{agent_id}/archival-memory/search",
        "/v1/folders/{folder_id}/upload",
        "/v1/chat/completions",
        "/v1/models",
    ):
        assert route in paths, route
