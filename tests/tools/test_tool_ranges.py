"""Numbers and dates from the LLM at the edges of their types give clean results, never a logged traceback."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from memgpt.client import Client
from memgpt.testing.scripted import ScriptedLLM


def logged_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """memgpt's own errors (other libraries' late clean-up of earlier tests may log here too)."""
    return [r for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith("memgpt")]


def call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"tool_calls": [{"name": name, "arguments": {**arguments, "request_heartbeat": True}}]}


async def results_of(tmp_path: Path, *calls: dict[str, Any]) -> list[dict[str, Any]]:
    done = {"tool_calls": [{"name": "send_message", "arguments": {"message": "done"}}]}
    llm = ScriptedLLM({"replies": list(calls), "default": done})
    client = await Client.open(f"sqlite:///{tmp_path / 'a.db'}", embedder=None, llm=llm)
    try:
        await client.create_agent("sam", model="openai-compatible/fake", context_window=8000)
        await client.send_message("sam", "The heron fishes at dawn.")
        messages = await client.list_messages("sam")
    finally:
        await client.close()
    return [json.loads(m.content or "") for m in messages if m.role == "tool"][: len(calls)]


@pytest.mark.parametrize("tool", ["conversation_search", "archival_memory_search"])
@pytest.mark.parametrize("page", [2**63, 2**62, -1])
async def test_a_page_out_of_range_is_a_failed_result(
    tool: str, page: int, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        [result] = await results_of(tmp_path, call(tool, query="heron", page=page))
    assert result["status"] == "Failed" and "page must be between 0 and" in result["message"]
    assert not logged_errors(caplog)


async def test_the_last_day_there_is_can_end_a_date_range(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        [until_forever, too_far] = await results_of(
            tmp_path,
            call("conversation_search_date", start_date="2000-01-01", end_date="9999-12-31"),
            call("conversation_search_date", start_date="2000-01-01", end_date="9999-12-31", page=2**63),
        )
    assert until_forever["status"] == "OK" and "The heron fishes at dawn." in until_forever["message"]
    assert too_far["status"] == "Failed"
    assert not logged_errors(caplog)
