"""Engine errors reach users as one clear line that says what to do, never as a raw exception or a traceback."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from memgpt.client import Client
from memgpt.errors import StorageError
from memgpt.memory.agent_state import AgentState
from memgpt.memory.types import Message
from memgpt.storage import open_store
from memgpt.storage.sqlite import connection as sqlite_connection
from memgpt.testing.scripted import ScriptedLLM


def memgpt(tmp_path: Path, *args: str, url: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMGPT_")}
    env.update(MEMGPT_HOME=str(tmp_path / "home"), MEMGPT_DATABASE_URL=url, MEMGPT_EMBEDDING="none")
    return subprocess.run(
        [sys.executable, "-m", "memgpt.cli.main", *args], env=env, capture_output=True, text=True, timeout=120
    )


async def test_a_database_error_inside_a_tool_fails_the_call_and_the_step_still_commits(store_url: str) -> None:
    """On PostgreSQL a failed statement aborts the step's transaction; each tool call runs in a savepoint, so
    the call becomes a Failed result and the rest of the step (the other call, the messages) is saved."""
    calls = [
        {"name": "archival_memory_insert", "arguments": {"content": "a forbidden note", "request_heartbeat": True}},
        {"name": "archival_memory_insert", "arguments": {"content": "an allowed note", "request_heartbeat": True}},
    ]
    reply = {"tool_calls": [{"name": "send_message", "arguments": {"message": "one of two saved"}}]}
    client = await Client.open(store_url, embedder=None, llm=ScriptedLLM([{"tool_calls": calls}, reply]))
    try:
        await client.create_agent("sam", model="openai/gpt-4o-mini", context_window=8000)
        refuse_passages_saying(store_url, "forbidden")
        events = await client.send_message("sam", "save both notes")
        statuses = [e.data["status"] for e in events if e.type == "function_result"]
        assert statuses == ["Failed", "OK", "OK"]
        failed = next(e for e in events if e.type == "function_result")
        assert "Cannot store passages" in failed.content
        agent = await client.get_agent("sam")
        assert [p.text for p in await client.store.list_passages(agent.id)] == ["an allowed note"]
        roles = [m.role for m in await client.list_messages("sam")]
        assert roles == ["user", "assistant", "tool", "tool", "assistant", "tool"]
    finally:
        await client.close()


def refuse_passages_saying(url: str, word: str) -> None:
    """A trigger that makes the database itself refuse some passages (as a tool's failing SQL would)."""
    if url.startswith("postgresql"):
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"ALTER TABLE passages ADD CONSTRAINT no_{word} CHECK (text NOT LIKE '%%{word}%%') NOT VALID")
        return
    conn = sqlite3.connect(url.removeprefix("sqlite:///"))
    conn.execute(
        f"CREATE TRIGGER no_{word} BEFORE INSERT ON passages WHEN new.text LIKE '%{word}%'"
        f" BEGIN SELECT RAISE(ABORT, 'passages may not say {word}'); END"
    )
    conn.commit()
    conn.close()


# ------------------------------------------------------------------ SQLite
async def test_a_locked_database_says_who_to_look_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_connection, "BUSY_TIMEOUT_S", 0.3)
    path = tmp_path / "locked.db"
    store = await open_store(f"sqlite:///{path}", embedder=None)
    try:
        state = AgentState(name="sam", model="none", context_window=8000)
        await store.create_agent(state)
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process writing, for longer than the busy timeout
        try:
            with pytest.raises(StorageError, match=r"is busy: another process .*fuser"):
                await store.append_messages(state.id, [Message(role="user", content="hello")])
        finally:
            other.execute("ROLLBACK")
            other.close()
        await store.append_messages(state.id, [Message(role="user", content="hello")])
        assert await store.count_messages(state.id) == 1
    finally:
        await store.close()


def test_a_full_disk_says_nothing_was_saved(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "full.db")
    conn.execute("CREATE TABLE t (x TEXT)")
    conn.execute("PRAGMA max_page_count = 3")  # as full as a full disk, for this connection
    with pytest.raises(sqlite3.OperationalError) as raised:
        for _ in range(100):
            conn.execute("INSERT INTO t VALUES (?)", ("x" * 4000,))
    conn.close()
    error = sqlite_connection.storage_error(raised.value, tmp_path / "full.db")
    assert isinstance(error, StorageError)
    assert "is full; nothing of this write was saved" in str(error)


async def test_a_damaged_database_says_how_to_check_and_restore(tmp_path: Path) -> None:
    path = tmp_path / "damaged.db"
    store = await open_store(f"sqlite:///{path}", embedder=None)
    state = AgentState(name="sam", model="none", context_window=8000)
    await store.create_agent(state)
    await store.append_messages(state.id, [Message(role="user", content=f"message {i} " * 50) for i in range(500)])
    await store.close()
    with path.open("r+b") as handle:  # scribble over the middle of the file, keeping the header
        handle.seek(8 * 4096)
        handle.write(b"\xde\xad\xbe\xef" * 4096)
    result = memgpt(tmp_path, "search", "--agent", "sam", "--recall", "message", url=f"sqlite:///{path}")
    assert result.returncode == 1
    assert "is damaged" in result.stderr and "PRAGMA integrity_check" in result.stderr and ".recover" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("content", "says"),
    [(b"", "is empty (0 bytes)"), (b"name,age\nAda,36\n", "is not an SQLite database")],
)
def test_a_file_that_is_not_our_database_is_refused_not_replaced(tmp_path: Path, content: bytes, says: str) -> None:
    path = tmp_path / "memgpt.db"
    path.write_bytes(content)
    result = memgpt(tmp_path, "agents", "list", url=f"sqlite:///{path}")
    assert result.returncode == 1 and says in result.stderr and "Traceback" not in result.stderr
    assert path.read_bytes() == content  # left as it was


def test_a_home_that_is_a_file_is_one_clear_error(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.write_text("not a folder")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMGPT_")}
    env.update(MEMGPT_HOME=str(home), MEMGPT_EMBEDDING="none")
    result = subprocess.run(
        [sys.executable, "-m", "memgpt.cli.main", "agents", "list"], env=env, capture_output=True, text=True
    )
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert str(home) in result.stderr and "MEMGPT_HOME" in result.stderr


@pytest.mark.postgres
async def test_an_old_store_with_unstorable_text_copies_with_it_repaired(tmp_path: Path, postgres_url: str) -> None:
    """A NUL written by an older memgpt made `db copy` to PostgreSQL fail at that row on every retry."""
    from memgpt.storage.copy import copy_store

    source = tmp_path / "old.db"
    store: Any = await open_store(f"sqlite:///{source}", embedder=None)
    state = AgentState(name="sam", model="none", context_window=8000)
    await store.create_agent(state)
    await store.append_messages(state.id, [Message(role="user", content="placeholder")])
    await store.close()
    conn = sqlite3.connect(source)  # what older versions let through
    conn.execute("UPDATE messages SET content = ?, metadata = ?", ("a\x00b", json.dumps({"k": "\udc80"})))
    conn.commit()
    conn.close()
    report = await copy_store(f"sqlite:///{source}", postgres_url)
    assert (report.messages, report.repaired) == (1, 2)
    target: Any = await open_store(postgres_url, embedder=None)
    try:
        [message] = await target.list_messages(state.id)
        assert (message.content, message.metadata) == ("a\ufffdb", {"k": "\ufffd"})
    finally:
        await target.close()
