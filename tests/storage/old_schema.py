"""Databases as older versions of memgpt wrote them, built from the shipped migration scripts."""

from __future__ import annotations

import sqlite3

from memgpt.storage.sqlite.connection import statements
from memgpt.storage.sqlite.migrations import migration_scripts


def old_schema(conn: sqlite3.Connection, version: int) -> None:
    """Apply the SQLite migration scripts up to ``version`` (an empty store of that schema version)."""
    for number, script in migration_scripts():
        if number <= version:
            for statement in statements(script):
                conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {version:d}")
