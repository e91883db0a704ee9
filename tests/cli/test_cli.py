"""The `memgpt` command end to end: real processes, the scripted LLM over HTTP, a real SQLite file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from memgpt.testing import FakeLLMServer


def memgpt(*args: str, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "memgpt.cli.main", *args], env=env, capture_output=True, text=True, timeout=120
    )
    if check and result.returncode != 0:
        raise AssertionError(f"memgpt {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return result


@pytest.fixture
def env(memgpt_home: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MEMGPT_", "OPENAI_", "ANTHROPIC_"))}
    return {**clean, "MEMGPT_HOME": str(memgpt_home), "MEMGPT_EMBEDDING": "none"}


@pytest.fixture
def llm_env(env: dict[str, str], tmp_path: Path) -> Iterator[dict[str, str]]:
    def remember(text: str) -> dict[str, object]:
        return {
            "tool_calls": [
                {
                    "name": "core_memory_append",
                    "arguments": {"label": "human", "content": text, "request_heartbeat": True},
                }
            ]
        }

    script = [
        remember("Sister: Eve"),
        {"content": "Saved.", "tool_calls": [{"name": "send_message", "arguments": {"message": "I'll remember Eve."}}]},
        {"tool_calls": [{"name": "send_message", "arguments": {"message": "Your sister is Eve."}}]},
    ]
    with FakeLLMServer(script, log_path=tmp_path / "requests.jsonl") as server:
        yield {**env, "MEMGPT_MODEL": "openai-compatible/fake", "MEMGPT_LLM_BASE_URL": server.base_url}


def test_two_processes_share_memory(llm_env: dict[str, str], tmp_path: Path) -> None:
    created = memgpt(
        "agents", "create", "sam", "--human", "Name: Ada", "--context-window", "8000", "--json", env=llm_env
    )
    assert json.loads(created.stdout)["memory"]["human"]["value"] == "Name: Ada"
    first = memgpt("chat", "--agent", "sam", "--message", "My sister is Eve.", env=llm_env)
    assert "I'll remember Eve." in first.stdout
    second = memgpt("chat", "--agent", "sam", "--message", "Who is my sister?", "--json", env=llm_env)
    events = [json.loads(line) for line in second.stdout.splitlines()]
    assert [e["content"] for e in events if e["type"] == "assistant_message"] == ["Your sister is Eve."]
    # the second process sent the memory the first one wrote
    requests = [json.loads(line)["body"] for line in (tmp_path / "requests.jsonl").read_text().splitlines()]
    assert "Sister: Eve" in requests[-1]["messages"][0]["content"]
    shown = json.loads(memgpt("agents", "show", "sam", "--json", env=llm_env).stdout)
    assert shown["memory"]["human"] == {"value": "Name: Ada\nSister: Eve", "limit": 5000, "read_only": False}
    assert shown["recall_messages"] == 8 and shown["in_context_messages"] == 8
    assert shown["archival_passages"] == 0 and shown["context_window"] == 8000
    found = json.loads(
        memgpt("search", "--agent", "sam", "--recall", "--mode", "text", "--json", "sister", env=llm_env).stdout
    )
    assert {h["text"] for h in found["hits"]} >= {"My sister is Eve.", "Who is my sister?"}


def test_no_llm_configured_exits_2_with_guidance(env: dict[str, str]) -> None:
    result = memgpt("chat", "--message", "hello", env=env, check=False)
    assert result.returncode == 2
    for name in ("MEMGPT_MODEL", "MEMGPT_LLM_BASE_URL", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "Ollama"):
        assert name in result.stderr
    assert "Traceback" not in result.stderr
    result = memgpt("agents", "create", "sam", env=env, check=False)
    assert result.returncode == 2 and "MEMGPT_MODEL" in result.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("agents", "show", "ghost"), "No agent named 'ghost'"),
        (("chat", "--bogus-flag"), "No such option"),
        (("agents", "create", "bad name!", "--model", "openai-compatible/x"), "must be 1-100 letters"),
        (("agents", "create", "x", "--model", "nonsense"), "not understood"),
        (("agents", "create", "x", "--persona", "@/nonexistent/file.txt"), "cannot read"),
        (("search", "--agent", "ghost", "anything"), "No agent named 'ghost'"),
        (("chat", "--as", " Bo ", "-m", "hi"), "A sender name must be 1 to 64 characters"),
    ],
)
def test_user_mistakes_give_one_clear_line(env: dict[str, str], args: tuple[str, ...], expected: str) -> None:
    result = memgpt(*args, env=env, check=False)
    assert result.returncode != 0
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_llm_is_a_clear_error(env: dict[str, str]) -> None:
    bad = {**env, "MEMGPT_MODEL": "openai-compatible/x", "MEMGPT_LLM_BASE_URL": "http://127.0.0.1:9/v1"}
    memgpt("agents", "create", "sam", env=bad)
    result = memgpt("chat", "--agent", "sam", "--message", "hi", env=bad, check=False)
    assert result.returncode == 1
    assert "Cannot reach the LLM endpoint http://127.0.0.1:9/v1" in result.stderr
    assert "Traceback" not in result.stderr
    # the message the agent received is kept
    shown = json.loads(memgpt("agents", "show", "sam", "--json", env=bad).stdout)
    assert shown["recall_messages"] == 1
