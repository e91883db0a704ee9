"""The command line tried as a new user would: every mistake is one line and an exit code, never a traceback.

Real processes, the scripted LLM over HTTP, a real SQLite file; the interactive session runs in a
pseudo-terminal.
"""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from memgpt.memory.agent_state import AgentState
from memgpt.memory.blocks import Block
from memgpt.memory.types import Message, ToolCall
from memgpt.testing import FakeLLMServer
from tests.cli.test_cli import memgpt
from tests.storage.old_schema import write_unchecked


def say(text: str, **extra: Any) -> dict[str, Any]:
    return {"tool_calls": [{"name": "send_message", "arguments": {"message": text}}], **extra}


@pytest.fixture
def env(memgpt_home: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MEMGPT_", "OPENAI_", "ANTHROPIC_"))}
    return {**clean, "MEMGPT_HOME": str(memgpt_home), "MEMGPT_EMBEDDING": "none", "COLUMNS": "80"}


def with_llm(env: dict[str, str], server: FakeLLMServer) -> dict[str, str]:
    return {**env, "MEMGPT_MODEL": "openai-compatible/fake", "MEMGPT_LLM_BASE_URL": server.base_url}


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr + result.stdout


def test_a_mistyped_agent_is_an_error_and_nothing_is_created(env: dict[str, str]) -> None:
    with FakeLLMServer({"default": say("Hi.")}) as server:
        llm = with_llm(env, server)
        memgpt("agents", "create", "sam", env=llm)
        typo = memgpt("chat", "--agent", "sma", "-m", "hello", env=llm, check=False)
        assert typo.returncode == 1 and "No agent named 'sma'" in typo.stderr
        assert "memgpt agents create sma" in typo.stderr
        no_traceback(typo)
        assert [a["name"] for a in json.loads(memgpt("agents", "list", "--json", env=llm).stdout)] == ["sam"]
        asked = memgpt("chat", "--agent", "bo", "--create", "-m", "hello", env=llm)
        assert "Created agent bo" in asked.stderr and "Hi." in asked.stdout


def test_each_reply_is_printed_once(env: dict[str, str]) -> None:
    with FakeLLMServer([say("I'll remember Eve.")]) as server:
        result = memgpt("chat", "-m", "My sister is Eve.", env=with_llm(env, server))
    assert result.stdout.count("I'll remember Eve.") == 1
    assert "Created agent default" in result.stderr


def test_an_html_page_from_the_endpoint_is_one_line(env: dict[str, str]) -> None:
    page = {"raw": {"body": "<!DOCTYPE html><html><body>Login required</body></html>"}}
    with FakeLLMServer({"default": page}) as server:
        llm = with_llm(env, server)
        result = memgpt("chat", "-m", "hello", env=llm, check=False)
        assert result.returncode == 1 and "HTML page" in result.stderr and "MEMGPT_LLM_BASE_URL" in result.stderr
        no_traceback(result)
        as_json = memgpt("chat", "-m", "hello again", "--json", env=llm, check=False)
    events = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert as_json.returncode == 1 and events[-1]["type"] == "error" and "HTML page" in events[-1]["content"]
    assert events[0]["type"] == "user_message"
    no_traceback(as_json)


def test_memgpt_home_that_is_a_file_or_cannot_be_made(env: dict[str, str], tmp_path: Path) -> None:
    home = tmp_path / "home-file"
    home.write_text("not a folder")
    for bad, expected in ((home, "is a file, not a folder"), (home / "below", "Cannot create MEMGPT_HOME")):
        result = memgpt("agents", "list", env={**env, "MEMGPT_HOME": str(bad)}, check=False)
        assert result.returncode == 2 and expected in result.stderr
        no_traceback(result)


def test_search_refuses_both_stores(env: dict[str, str]) -> None:
    result = memgpt("search", "--agent", "sam", "--recall", "--archival", "x", env=env, check=False)
    assert result.returncode == 2 and "not both" in result.stderr


def test_bench_startup_prints_a_table(env: dict[str, str], tmp_path: Path) -> None:
    result = memgpt("bench", "startup", "--runs", "3", "--output", str(tmp_path / "s.md"), env=env)
    assert not result.stdout.lstrip().startswith("{") and "memgpt_help p50_ms" in result.stdout
    figures = memgpt("bench", "startup", "--runs", "3", "--json", "--output", str(tmp_path / "s.md"), env=env)
    assert json.loads(figures.stdout)["memgpt_help"]["n"] == 3


# --------------------------------------------------------------------------- memgpt load
@pytest.fixture
def sam(env: dict[str, str]) -> dict[str, str]:
    memgpt("agents", "create", "sam", "--model", "openai-compatible/x", env=env)
    return env


def test_loading_a_missing_path_leaves_no_source_behind(sam: dict[str, str], tmp_path: Path) -> None:
    result = memgpt("load", str(tmp_path / "nope"), "--agent", "sam", env=sam, check=False)
    assert result.returncode == 1 and "no such file or folder" in result.stdout
    no_traceback(result)
    assert json.loads(memgpt("sources", "list", "--json", env=sam).stdout) == []


def test_a_folder_with_nothing_loadable_fails_and_lists_why(sam: dict[str, str], tmp_path: Path) -> None:
    folder = tmp_path / "a-rather-long-folder-name" / "with-more-levels-below-it" / "pictures-and-archives"
    folder.mkdir(parents=True)
    (folder / "holiday-photo-from-the-beach.png").write_bytes(b"\x89PNG\r\n")
    (folder / "backup.zip").write_bytes(b"PK\x03\x04")
    result = memgpt("load", str(folder), "--agent", "sam", env=sam, check=False)
    assert result.returncode == 1, result.stdout
    flat = "".join(line.strip("│ ") for line in result.stdout.splitlines())  # the table folds long paths
    assert "holiday-photo-from-the-beach.png" in flat and "backup.zip" in flat  # the end of the path is kept
    assert "--include '*.png'" in flat
    empty = tmp_path / "empty"
    empty.mkdir()
    assert memgpt("load", str(empty), "--agent", "sam", env=sam, check=False).returncode == 1


def test_the_encoding_hint_never_repeats_what_was_given(sam: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_bytes(b"caf\x81 au lait\n")  # 0x81 is undefined in cp1252 and invalid UTF-8
    default = memgpt("load", str(bad), "--agent", "sam", "--json", env=sam, check=False)
    assert "--encoding latin-1" in json.loads(default.stdout)["files"][0]["reason"]
    given = memgpt("load", str(bad), "--agent", "sam", "--json", "--encoding", "cp1252", env=sam, check=False)
    reason = json.loads(given.stdout)["files"][0]["reason"]
    assert "not valid cp1252" in reason and "latin-1" not in reason
    unknown = memgpt("load", str(bad), "--agent", "sam", "--encoding", "klingon", env=sam, check=False)
    assert unknown.returncode == 2 and "unknown encoding" in unknown.stderr


# --------------------------------------------------------------------------- memgpt agents check
def test_agents_check_finds_and_repairs_an_older_store(sam: dict[str, str], memgpt_home: Path) -> None:
    healthy = memgpt("agents", "check", "sam", env=sam)
    assert "compiles into a request" in healthy.stdout
    state = json.loads(memgpt("agents", "show", "sam", "--json", env=sam).stdout)
    blocks = [Block(label, b["value"], b["limit"], b["read_only"]) for label, b in state["memory"].items()]
    old = AgentState(name="sam", model="none", context_window=8000, id=state["id"], blocks=blocks)
    messages = [
        Message(role="assistant", content=None, tool_calls=[ToolCall("c1", 5, "{}")]),  # type: ignore[arg-type]
        Message(role="tool", tool_call_id="c1", content="x"),
    ]
    old.fifo_ids = [m.id for m in messages]
    old.summary = "NUL \x00"
    write_unchecked(memgpt_home / "memgpt.db", old, messages)  # as an older version could; today's refuses it
    found = memgpt("agents", "check", "sam", "--json", env=sam, check=False)
    assert found.returncode == 1
    problems = json.loads(found.stdout)["problems"]
    assert {p["part"].split()[0] for p in problems} == {"summary", "message"}
    repaired = memgpt("agents", "check", "sam", "--repair", env=sam)
    assert "Repaired: 2 message(s) left the context window" in repaired.stdout
    assert "compiles into a request" in memgpt("agents", "check", "sam", env=sam).stdout
    assert json.loads(memgpt("agents", "show", "sam", "--json", env=sam).stdout)["recall_messages"] == 2


# --------------------------------------------------------------------------- the interactive session
class Terminal:
    """``memgpt chat`` in a pseudo-terminal: what a person at a keyboard sees and types."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "memgpt.cli.main", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env={**env, "TERM": "xterm", "PROMPT_TOOLKIT_NO_CPR": "1"},
            start_new_session=True,
        )
        os.close(slave)
        self.seen = ""

    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def wait_for(self, text: str, timeout: float = 60, count: int = 1) -> None:
        deadline = time.monotonic() + timeout
        while self.seen.count(text) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.process.poll() is not None:
                raise AssertionError(f"never saw {text!r}; the terminal shows:\n{self.seen[-2000:]}")
            ready, _, _ = select.select([self.master], [], [], min(remaining, 0.5))
            if ready:
                try:
                    self.seen += os.read(self.master, 65536).decode("utf-8", "replace")
                except OSError:  # the child closed the terminal
                    continue

    def close(self) -> int:
        try:
            return self.process.wait(timeout=30)
        finally:
            os.close(self.master)


@pytest.fixture
def terminal() -> Iterator[list[Terminal]]:
    opened: list[Terminal] = []
    yield opened
    for t in opened:
        if t.process.poll() is None:
            t.process.kill()
        t.process.wait()


def test_ctrl_c_cancels_only_the_reply_and_a_paste_is_one_message(
    env: dict[str, str], memgpt_home: Path, terminal: list[Terminal]
) -> None:
    script = [say("too late", delay=30), say("Got both lines.")]
    with FakeLLMServer(script) as server:
        llm = with_llm(env, server)
        memgpt("agents", "create", "sam", env=llm)
        term = Terminal(["chat", "--agent", "sam"], llm)
        terminal.append(term)
        prompt = "\x1b[?2004h"  # each prompt turns bracketed paste on
        term.wait_for(prompt)
        term.type("first question\r")
        deadline = time.monotonic() + 30
        while not [r for r in server.requests if r.get("tools")] and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(term.process.pid, signal.SIGINT)  # Ctrl-C while the reply is on its way
        term.wait_for("reply cancelled")
        term.wait_for(prompt, count=2)
        term.type("\x1b[200~line one\nline two\x1b[201~\r")  # a pasted block (bracketed paste)
        term.wait_for("Got both lines.")
        term.wait_for(prompt, count=3)
        term.type("\x04")  # Ctrl-D
        assert term.close() == 0
    assert "too late" not in term.seen
    messages = memgpt("search", "--agent", "sam", "--recall", "--mode", "text", "--json", "line", env=llm)
    assert [h["text"] for h in json.loads(messages.stdout)["hits"] if h["role"] == "user"] == ["line one\nline two"]
    shown = json.loads(memgpt("agents", "show", "sam", "--json", env=llm).stdout)
    assert shown["recall_messages"] == 1 + 3  # the cancelled question kept once; the paste, its call and result
    history = (memgpt_home / "chat_history").read_text(encoding="utf-8")
    assert "first question" in history and "line one" in history


def test_in_a_terminal_a_missing_agent_is_created_only_when_the_user_says_so(
    env: dict[str, str], terminal: list[Terminal]
) -> None:
    with FakeLLMServer({"default": say("Hello.")}) as server:
        llm = with_llm(env, server)
        for answer, created in (("n", False), ("y", True)):
            term = Terminal(["chat", "--agent", "newbie"], llm)
            terminal.append(term)
            term.wait_for("No agent named 'newbie'. Create it with openai-compatible/fake?")
            term.type(f"{answer}\r")
            if created:
                term.wait_for("Created agent newbie")
                term.wait_for("\x1b[?2004h")  # the prompt
                term.type("\x04")
            assert term.close() == (0 if created else 1)
        assert [a["name"] for a in json.loads(memgpt("agents", "list", "--json", env=llm).stdout)] == ["newbie"]


def test_an_internal_error_is_one_line_with_its_own_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    from memgpt.cli.main import EXIT_INTERNAL, run

    async def broken() -> None:
        raise TypeError("unsupported operand")

    with pytest.raises(SystemExit) as exited:
        run(broken())
    assert exited.value.code == EXIT_INTERNAL
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error (TypeError: unsupported operand)" in err
    with pytest.raises(SystemExit):
        run(broken(), json_errors=True)
    event = json.loads(capsys.readouterr().out)
    assert (event["type"], event["error"], event["exit_code"]) == ("error", "TypeError", EXIT_INTERNAL)
