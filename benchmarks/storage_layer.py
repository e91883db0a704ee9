"""Hand-written SQL against SQLAlchemy Core for the statements a step runs (issue 13's choice of layer).

A step outside the LLM takes about 4 ms, of which the store's statements are a large part: appending
the step's messages, saving the agent row, reading messages by id. This measures the same statements
on one SQLite connection (the embedded default; PostgreSQL's round trips dwarf either layer's cost)
through plain ``sqlite3`` and through SQLAlchemy Core 2 (compiled-statement cache on), plus the import
time each adds to every CLI command. SQLAlchemy is not a dependency: install it to run this
(``pip install sqlalchemy``).

    python benchmarks/storage_layer.py --rounds 3000 --output benchmarks/results/storage_layer.md
"""

from __future__ import annotations

import argparse
import json
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

DDL = """
CREATE TABLE messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, agent_id TEXT NOT NULL, role TEXT NOT NULL,
    content TEXT, metadata TEXT, search_text TEXT NOT NULL DEFAULT '', created_at REAL NOT NULL
);
CREATE TABLE agents (id TEXT PRIMARY KEY, blocks TEXT NOT NULL, fifo_ids TEXT NOT NULL, updated_at REAL NOT NULL);
"""


def _rows(n: int) -> list[dict[str, object]]:
    now = time.time()
    return [
        {
            "id": f"message-{uuid.uuid4()}",
            "agent_id": "agent-1",
            "role": "user",
            "content": "What did we decide about the harbour project last week?",
            "metadata": None,
            "search_text": "What did we decide about the harbour project last week?",
            "created_at": now,
        }
        for _ in range(n)
    ]


def _time(fn: Callable[[], None], rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter_ns()
        fn()
        samples.append(time.perf_counter_ns() - started)
    return statistics.median(samples) / 1000


def raw_sqlite(path: Path, rounds: int) -> dict[str, float]:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("INSERT INTO agents VALUES ('agent-1', '[]', '[]', 0)")
    ids: list[str] = []

    def append() -> None:
        rows = _rows(3)
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO messages (id, agent_id, role, content, metadata, search_text, created_at)"
            " VALUES (:id, :agent_id, :role, :content, :metadata, :search_text, :created_at)",
            rows,
        )
        conn.execute(
            "UPDATE agents SET blocks = ?, fifo_ids = ?, updated_at = ? WHERE id = ?",
            ("[]", json.dumps(ids[-20:]), time.time(), "agent-1"),
        )
        conn.execute("COMMIT")
        ids.extend(r["id"] for r in rows)  # type: ignore[misc]

    def select() -> None:
        wanted = ids[-20:]
        conn.execute(
            "SELECT id, role, content, created_at FROM messages WHERE agent_id = ? AND id IN"
            " (SELECT value FROM json_each(?))",
            ("agent-1", json.dumps(wanted)),
        ).fetchall()

    result = {"append 3 messages + save agent (one transaction)": _time(append, rounds)}
    result["read 20 messages by id"] = _time(select, rounds)
    conn.close()
    return result


def sqlalchemy_core(path: Path, rounds: int) -> dict[str, float]:
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{path}")
    meta = sa.MetaData()
    messages = sa.Table("messages", meta, autoload_with=engine)
    agents = sa.Table("agents", meta, autoload_with=engine)
    ids: list[str] = []
    with engine.connect() as conn:
        conn.execute(sa.text("PRAGMA journal_mode=WAL"))
        conn.execute(agents.insert(), {"id": "agent-1", "blocks": "[]", "fifo_ids": "[]", "updated_at": 0})
        conn.commit()
        insert = messages.insert()
        update = (
            agents.update()
            .where(agents.c.id == sa.bindparam("agent"))
            .values(blocks=sa.bindparam("b"), fifo_ids=sa.bindparam("f"), updated_at=sa.bindparam("u"))
        )
        select_ids = sa.select(messages.c.id, messages.c.role, messages.c.content, messages.c.created_at).where(
            messages.c.agent_id == sa.bindparam("a"), messages.c.id.in_(sa.bindparam("ids", expanding=True))
        )

        def append() -> None:
            rows = _rows(3)
            conn.execute(insert, rows)
            conn.execute(update, {"agent": "agent-1", "b": "[]", "f": json.dumps(ids[-20:]), "u": time.time()})
            conn.commit()
            ids.extend(r["id"] for r in rows)  # type: ignore[misc]

        def select() -> None:
            conn.execute(select_ids, {"a": "agent-1", "ids": ids[-20:]}).fetchall()

        result = {"append 3 messages + save agent (one transaction)": _time(append, rounds)}
        result["read 20 messages by id"] = _time(select, rounds)
    engine.dispose()
    return result


def import_ms(module: str) -> float:
    samples = []
    for _ in range(5):
        out = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", f"import {module}"], capture_output=True, text=True, check=True
        )
        last = [line for line in out.stderr.splitlines() if line.rstrip().endswith(f"| {module}")][-1]
        samples.append(int(last.split("|")[1]) / 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3000)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    results = {}
    for name, run in (("sqlite3", raw_sqlite), ("SQLAlchemy Core", sqlalchemy_core)):
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "bench.db"
            setup = sqlite3.connect(path)
            setup.executescript(DDL)
            setup.close()
            results[name] = run(path, args.rounds)
    imports = {"sqlite3": import_ms("sqlite3"), "SQLAlchemy Core": import_ms("sqlalchemy")}
    import sqlalchemy

    load = ", ".join(f"{x:.1f}" for x in __import__("os").getloadavg())
    lines = [
        f"## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()} ({platform.machine()}, "
        f"{__import__('os').cpu_count()} cores, load {load}), Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, SQLAlchemy {sqlalchemy.__version__}, {args.rounds} rounds, p50",
        "",
        "| statement | sqlite3 | SQLAlchemy Core |",
        "|---|---|---|",
    ]
    for statement in results["sqlite3"]:
        lines.append(
            f"| {statement} | {results['sqlite3'][statement]:.1f} µs | {results['SQLAlchemy Core'][statement]:.1f} µs |"
        )
    lines.append(f"| import | {imports['sqlite3']:.1f} ms | {imports['SQLAlchemy Core']:.1f} ms |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.output:
        with args.output.open("a", encoding="utf-8") as out:
            out.write(text + "\n")


if __name__ == "__main__":
    main()
