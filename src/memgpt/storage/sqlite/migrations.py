"""Opening an SQLite database: refusing files that are not ours, and applying versioned migrations.

Migrations live in ``migrations/sqlite/NNNN_*.sql`` and are tracked with ``PRAGMA user_version``; they run
in one ``BEGIN IMMEDIATE`` transaction, so concurrent processes migrate once and a failure changes nothing.
"""

from __future__ import annotations

import json
import sqlite3
from importlib import resources
from pathlib import Path

from memgpt.errors import StorageError
from memgpt.storage.sqlite.connection import statements
from memgpt.validation import to_text

SQLITE_HEADER = b"SQLite format 3\x00"


def migration_scripts() -> list[tuple[int, str]]:
    folder = resources.files("memgpt.storage") / "migrations" / "sqlite"
    scripts = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            scripts.append((int(entry.name.split("_", 1)[0]), entry.read_text(encoding="utf-8")))
    return sorted(scripts)


def latest_version() -> int:
    return migration_scripts()[-1][0]


def check_file(path: Path) -> None:
    """StorageError for a path that cannot be our database: a folder, an empty file, another kind of file.

    SQLite treats a zero-byte file as a new empty database; at the configured path that is far more
    likely a store truncated by a failed copy or a full disk than an intended one, so it is refused.
    """
    if path.is_dir():
        raise StorageError(f"The database path {path} is a folder; point MEMGPT_DATABASE_URL at a file.")
    if not path.exists():
        return
    try:
        with path.open("rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise StorageError(f"Cannot read the database {path}: {exc.strerror}. Check its permissions.") from None
    if not header:
        raise StorageError(
            f"The database file {path} is empty (0 bytes). If it held your agents, restore it from a backup; "
            "to start a new store, delete the empty file and run the command again."
        )
    if header != SQLITE_HEADER:
        raise StorageError(
            f"{path} is not an SQLite database (it holds something else). Point MEMGPT_DATABASE_URL at a "
            "memgpt database, or move the file away to start a new store there."
        )


def json_text(value: str | None) -> str | None:
    """A JSON string (as JSON text) decoded into storable text: ``memgpt_json_text`` in migration scripts.

    SQLite's own ``json_extract`` turns an escaped lone surrogate into invalid UTF-8 (which no reader can
    decode) and cuts a string at an escaped NUL; what older versions stored that way is repaired to U+FFFD.
    """
    if value is None:
        return None
    try:
        decoded = json.loads(value)
    except ValueError:
        return to_text(value)
    return to_text(decoded)


def migrate(conn: sqlite3.Connection, path: Path) -> tuple[int, int]:
    """Apply pending migrations atomically; returns (version before, version after)."""
    scripts = migration_scripts()
    latest = scripts[-1][0]
    current = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if current > latest:
        raise StorageError(
            f"The database {path} has schema version {current}, newer than this memgpt knows ({latest}). "
            "Upgrade memgpt (pip install -U memgpt) to open it; nothing was changed."
        )
    if current == latest:
        return current, current
    conn.create_function("memgpt_json_text", 1, json_text, deterministic=True)
    conn.execute("BEGIN IMMEDIATE")
    try:
        before = int(conn.execute("PRAGMA user_version").fetchone()[0])  # another process may have won
        for version, script in scripts:
            if version > before:
                for statement in statements(script):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version={version:d}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return current, latest
