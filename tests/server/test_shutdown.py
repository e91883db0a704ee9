"""SIGTERM while a streamed step runs: the step finishes (or, past the timeout, rolls back whole); nothing is lost
or stored twice, and the agent answers after a restart."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from memgpt.client import Client
from memgpt.testing import FakeLLMServer
from tests.server.harness import ServerProcess, say


def stream_in_background(url: str, agent_id: str, text: str) -> tuple[threading.Thread, list[str], threading.Event]:
    lines: list[str] = []
    started = threading.Event()

    def read() -> None:
        body = {"messages": [{"role": "user", "content": text}], "streaming": True, "stream_tokens": True}
        try:
            with httpx.stream("POST", f"{url}/v1/agents/{agent_id}/messages", json=body, timeout=120) as answer:
                for line in answer.iter_lines():
                    started.set()
                    lines.append(line)
        except httpx.HTTPError as exc:
            lines.append(f"transport error: {exc}")
        started.set()

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread, lines, started


def stored(url: str, agent: str) -> list[tuple[str, str | None]]:
    async def read() -> list[tuple[str, str | None]]:
        client = await Client.open(url, embedder=None)
        try:
            return [(m.role, m.content) for m in await client.list_messages(agent)]
        finally:
            await client.close()

    return asyncio.run(read())


@pytest.mark.parametrize("finishes", [True, False], ids=["step-finishes", "step-rolls-back"])
def test_sigterm_during_a_streamed_step_loses_and_duplicates_nothing(tmp_path: Path, finishes: bool) -> None:
    delay, timeout = (2.0, "8") if finishes else (30.0, "1")  # the step takes less, or more, than it is given
    script: dict[str, Any] = {"replies": [say("first"), {**say("slow reply"), "delay": delay}], "default": say("after")}
    url = f"sqlite:///{tmp_path / 'agents.db'}"
    with FakeLLMServer(script) as llm:
        server = ServerProcess(tmp_path / "home", llm, database_url=url, MEMGPT_SERVER_SHUTDOWN_TIMEOUT=timeout)
        server.start()
        agent_id = httpx.post(f"{server.url}/v1/agents/", json={"name": "sam"}).json()["id"]
        assert httpx.post(f"{server.url}/v1/agents/{agent_id}/messages", json={"input": "one"}).status_code == 200
        thread, lines, started = stream_in_background(server.url, agent_id, "two")
        assert started.wait(30)
        time.sleep(0.3)  # the step is waiting for the slow reply now
        assert server.process is not None
        server.stop()
        thread.join(60)
        assert server.process.returncode in (0, -15), server.stderr  # uvicorn re-raises SIGTERM after a clean stop
        assert "Traceback" not in server.stderr
        messages = stored(url, "sam")
        users = [content for role, content in messages if role == "user"]
        assert users == ["one", "two"]  # received once each: the second survives even a rolled-back step
        replies = [m for m in messages if m[0] == "assistant"]
        assert len(replies) == (2 if finishes else 1)
        if finishes:
            assert "data: [DONE]" in lines and any('"slow reply"' in line or "slow" in line for line in lines)
        restarted = ServerProcess(tmp_path / "home", llm, database_url=url).start()
        try:
            answer = httpx.post(f"{restarted.url}/v1/agents/{agent_id}/messages", json={"input": "three"})
            assert answer.status_code == 200 and answer.json()["messages"][-1]["content"] == "after"
        finally:
            restarted.stop()
    final = stored(url, "sam")
    assert [c for r, c in final if r == "user"] == ["one", "two", "three"]
    calls = [c for r, c in final if r == "assistant"]
    assert len(calls) == (3 if finishes else 2)
