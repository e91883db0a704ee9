"""Every Client method checks the types and ranges of its arguments and refuses with ValidationError,
before anything is written (real SQLite, the in-process scripted LLM)."""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from memgpt.client import Client, SyncClient
from memgpt.errors import ValidationError
from memgpt.memory.types import Message, ToolCall
from memgpt.testing import FakeLLMServer
from memgpt.testing.scripted import ScriptedLLM

REPLY = {"tool_calls": [{"name": "send_message", "arguments": {"message": "Hello!"}}]}


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    opened = await Client.open(f"sqlite:///{tmp_path / 'a.db'}", embedder=None, llm=ScriptedLLM({"default": REPLY}))
    await opened.create_agent("sam", model="openai-compatible/fake", context_window=8000)
    yield opened
    await opened.close()


BAD_CALLS: dict[str, tuple[str, tuple[Any, ...], dict[str, Any], str]] = {
    "message None": ("send_message", ("sam", None), {}, "must be text"),
    "message of zero-width spaces": ("send_message", ("sam", "\u200b\u200b\ufeff"), {}, "empty"),
    "message with a lone surrogate": ("send_message", ("sam", "hi \ud800"), {}, "surrogate"),
    "message with NUL": ("send_message", ("sam", "hi \x00"), {}, "NUL"),
    "bogus role": ("send_message", ("sam", "hi"), {"role": "bogus"}, "role must be"),
    "sender name with a surrogate": ("send_message", ("sam", "hi"), {"name": "Ann\ud800"}, "surrogate"),
    "negative limit": ("list_messages", ("sam",), {"limit": -1}, "between 1 and"),
    "offset 2**62": ("list_messages", ("sam",), {"offset": 2**62}, "between 0 and"),
    "page as text": ("search", ("sam", "x"), {"page": "1"}, "whole number"),
    "page 2**62": ("search", ("sam", "x"), {"page": 2**62}, "between 0 and"),
    "page size 0": ("search", ("sam", "x"), {"page_size": 0}, "between 1 and"),
    "bool page": ("search", ("sam", "x"), {"page": True}, "whole number"),
    "query with a surrogate": ("search", ("sam", "x\udfff"), {}, "surrogate"),
    "bogus mode": ("search", ("sam", "x"), {"mode": "fuzzy"}, "mode must be"),
    "passage with a surrogate": ("insert_passages", ("sam", ["ok", "bad \ud800"]), {}, "surrogate"),
    "passages as one string": ("insert_passages", ("sam", "abc"), {}, "must be a list"),
    "blank passage": ("insert_passages", ("sam", ["\u200b"]), {}, "empty"),
    "agent name with a surrogate": ("get_agent", ("sam\ud800",), {}, "surrogate"),
    "agent name shaped like an id": (
        "create_agent",
        ("agent-1f0c3a9e-0b6d-4c59-9a57-0f5b8c2d1e3f",),
        {"model": "openai-compatible/x"},
        "shape of an id",
    ),
    "persona with a surrogate": (
        "create_agent",
        ("bo",),
        {"model": "openai-compatible/x", "persona": "\ud800"},
        "surr",
    ),
    "context window as text": (
        "create_agent",
        ("bo",),
        {"model": "openai-compatible/x", "context_window": "8k"},
        "whole",
    ),
    "imported message of a bogus role": ("import_messages", ("sam", [Message(role="bogus", content="x")]), {}, "role"),  # type: ignore[arg-type]
    "imported message with a surrogate": (
        "import_messages",
        ("sam", [Message(role="user", content="\ud800")]),
        {},
        "surr",
    ),
    "imported call named 5": (
        "import_messages",
        ("sam", [Message(role="assistant", content=None, tool_calls=[ToolCall("c", 5, "{}")])]),  # type: ignore[arg-type]
        {},
        "must be text",
    ),
    "source name with a surrogate": ("create_source", ("docs\ud800",), {}, "surrogate"),
    "source name shaped like an id": ("create_source", ("source-1f0c3a9e-0b6d-4c59-9a57-0f5b8c2d1e3f",), {}, "shape"),
}


@pytest.mark.parametrize(("method", "args", "kwargs", "expected"), BAD_CALLS.values(), ids=BAD_CALLS.keys())
async def test_bad_arguments_are_refused_before_anything_is_written(
    client: Client, method: str, args: tuple[Any, ...], kwargs: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ValidationError, match=expected):
        await getattr(client, method)(*args, **kwargs)
    agent = await client.get_agent("sam")
    assert await client.store.count_messages(agent.id) == 0
    assert await client.store.count_passages(agent.id) == 0
    assert [a.name for a in await client.list_agents()] == ["sam"]


async def test_names_are_one_name_whether_composed_or_decomposed(client: Client) -> None:
    composed, decomposed = "Caf\u00e9", "Cafe\u0301"
    created = await client.create_agent(decomposed, model="openai-compatible/fake", context_window=8000)
    assert created.name == composed
    assert (await client.get_agent(composed)).id == created.id == (await client.get_agent(decomposed)).id
    events = await client.send_message(composed, "hi", name="Zo\u0065\u0308")
    assert events[0].data["name"] == "Zo\u00eb"
    assert [e.content for e in events if e.type == "assistant_message"] == ["Hello!"]


async def test_create_agent_with_exist_ok_returns_the_agent_it_already_has(client: Client) -> None:
    first = await client.get_agent("sam")
    again = await client.create_agent("sam", model="openai-compatible/other", exist_ok=True)
    assert again.id == first.id and again.model == first.model


def test_sync_client_opens_and_mirrors_every_client_method(tmp_path: Path) -> None:
    public = {
        name
        for name, member in inspect.getmembers(Client, inspect.iscoroutinefunction)
        if not name.startswith("_") and name != "open" and name != "close"
    }
    assert public <= set(vars(SyncClient)), public - set(vars(SyncClient))
    url = f"sqlite:///{tmp_path / 's.db'}"
    with SyncClient.open(url, embedder=None, llm=ScriptedLLM({"default": REPLY})) as client:
        state = client.create_agent("sam", model="openai-compatible/fake", context_window=8000)
        events = client.send_message("sam", "hi")
        assert [e.content for e in events if e.type == "assistant_message"] == ["Hello!"]
        assert client.get_agent("sam").id == state.id
        assert client.check_agent("sam").ok
        assert client.send_message.__doc__ == Client.send_message.__doc__


def readme_python_example() -> str:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Python API") :]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match is not None
    return match.group(1)


def test_the_readme_python_example_runs_twice(tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(readme_python_example(), encoding="utf-8")
    with FakeLLMServer({"default": REPLY}) as server:
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("MEMGPT_", "OPENAI_", "ANTHROPIC_"))}
        env = {
            **clean,
            "MEMGPT_HOME": str(tmp_path / "home"),
            "MEMGPT_EMBEDDING": "none",
            "MEMGPT_LLM_BASE_URL": server.base_url,
            "OPENAI_API_KEY": "sk-test",
        }
        for run in (1, 2):
            result = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120)
            assert result.returncode == 0, f"run {run}:\n{result.stderr}"
            assert "Hello!" in result.stdout
    assert len([r for r in server.requests if r.get("tools")]) == 2
