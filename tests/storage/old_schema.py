"""Databases as older versions of memgpt wrote them, built from the shipped migration scripts."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from memgpt.storage.sqlite.connection import statements
from memgpt.storage.sqlite.migrations import migration_scripts


def old_schema(conn: sqlite3.Connection, version: int) -> None:
    """Apply the SQLite migration scripts up to ``version`` (an empty store of that schema version)."""
    for number, script in migration_scripts():
        if number <= version:
            for statement in statements(script):
                conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {version:d}")


def write_unchecked(path: str | Path, state: Any, messages: Sequence[Any]) -> None:
    """Store ``messages`` and ``state``'s FIFO and summary as older versions could: without checks (a call
    named 5, NUL characters), straight into an SQLite file. (Blocks older versions stored with invalid
    Unicode are repaired by the migration that made them rows: ``tests/storage/test_block_migration.py``.)"""
    conn = sqlite3.connect(path)
    try:
        for m in messages:
            calls = json.dumps([[c.id, c.name, c.arguments] for c in m.tool_calls]) if m.tool_calls else None
            conn.execute(
                "INSERT INTO messages (id, agent_id, role, content, tool_calls, tool_call_id, name, metadata,"
                " search_text, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, '', ?)",
                (m.id, state.id, m.role, m.content, calls, m.tool_call_id, m.name, m.created_at.timestamp()),
            )
        conn.execute(
            "UPDATE agents SET fifo_ids = ?, summary = ?, updated_at = updated_at + 1 WHERE id = ?",
            (json.dumps(state.fifo_ids), state.summary, state.id),
        )
        conn.commit()
    finally:
        conn.close()
