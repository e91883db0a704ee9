"""A store written before blocks were rows of their own (agents.blocks, a JSON list per agent) migrates to the
blocks / agent_blocks tables without losing a block, its order, limit, description or read-only flag."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import psycopg
import pytest

from memgpt.memory.agent_state import LOCAL_USER_ID
from memgpt.storage import open_store
from memgpt.storage.postgres import migrations as pg_migrations
from memgpt.storage.records import looks_like_id
from memgpt.storage.sqlite.migrations import migration_scripts as sqlite_scripts
from tests.storage.old_schema import old_schema

# the migration that made blocks rows, found by name (numbers may change when branches merge)
SQLITE_BLOCKS = next(v for v, script in sqlite_scripts() if "agent_blocks" in script)
POSTGRES_BLOCKS = next(v for v, name, _ in pg_migrations.migration_scripts() if "shared_blocks" in name)

SAM_BLOCKS = [
    {"label": "persona", "value": "I am Sam 🎉, curious.", "limit": 5000, "read_only": False, "description": ""},
    {"label": "human", "value": "Name: Ada", "limit": 300, "read_only": True, "description": "who I talk to"},
    {"label": "rules", "value": "Be kind.", "limit": 100, "read_only": False},  # an older row: no description
]
BO_BLOCKS = [{"label": "human", "value": "", "limit": 5000, "read_only": False, "description": ""}]
AGENT_SQL = (
    "INSERT INTO agents (id, user_id, name, model, context_window, system_prompt_version, blocks, fifo_ids,"
    " summary, settings, created_at, updated_at) VALUES (?, ?, ?, 'openai/gpt-4o-mini', 8000, 'v1', ?, '[]', '',"
    " '{}', ?, ?)"
)
SAM_ID, BO_ID = "agent-00000000-0000-4000-8000-000000000001", "agent-00000000-0000-4000-8000-000000000002"


async def migrated_blocks(url: str) -> dict[str, list[Any]]:
    store = await open_store(url, embedder=None)
    try:
        found = {}
        for name in ("sam", "bo"):
            state = await store.get_agent(LOCAL_USER_ID, name)
            found[name] = [(b.label, b.value, b.limit, b.read_only, b.description, b.version) for b in state.blocks]
            assert all(looks_like_id(b.id) and b.id.startswith("block-") for b in state.blocks)
        records = await store.list_blocks(LOCAL_USER_ID)
        assert len({r.block.id for r in records}) == 4  # one row per stored block, none shared
        assert all(not r.standalone and len(r.agent_ids) == 1 for r in records)
        return found
    finally:
        await store.close()


EXPECTED = {
    "sam": [
        ("persona", "I am Sam 🎉, curious.", 5000, False, "", 1),
        ("human", "Name: Ada", 300, True, "who I talk to", 1),
        ("rules", "Be kind.", 100, False, "", 1),
    ],
    "bo": [("human", "", 5000, False, "", 1)],
}


async def test_sqlite_moves_every_agents_blocks_into_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    old_schema(conn, SQLITE_BLOCKS - 1)  # the last schema with agents.blocks
    conn.execute(AGENT_SQL, (SAM_ID, LOCAL_USER_ID, "sam", json.dumps(SAM_BLOCKS), 1.0, 2.0))
    conn.execute(AGENT_SQL, (BO_ID, LOCAL_USER_ID, "bo", json.dumps(BO_BLOCKS), 3.0, 4.0))
    conn.commit()
    conn.close()
    assert await migrated_blocks(f"sqlite:///{path}") == EXPECTED
    columns = [r[1] for r in sqlite3.connect(path).execute("PRAGMA table_info(agents)")]
    assert "blocks" not in columns


async def test_sqlite_repairs_text_older_versions_stored_that_cannot_be_read_back(tmp_path: Path) -> None:
    """json_extract would have made an escaped lone surrogate invalid UTF-8 and cut a value at an escaped NUL."""
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    old_schema(conn, SQLITE_BLOCKS - 1)
    dirty = [{"label": "human", "value": "Ada \ud800 and\u0000 more", "limit": 5000, "description": "x\udfff"}]
    conn.execute(AGENT_SQL, (SAM_ID, LOCAL_USER_ID, "sam", json.dumps(dirty), 1.0, 2.0))
    conn.commit()
    conn.close()
    store = await open_store(f"sqlite:///{path}", embedder=None)
    try:
        [block] = (await store.get_agent(LOCAL_USER_ID, "sam")).blocks
        assert (block.value, block.description) == ("Ada \ufffd and\ufffd more", "x\ufffd")
    finally:
        await store.close()


@pytest.mark.postgres
async def test_postgres_moves_every_agents_blocks_into_rows(postgres_url: str) -> None:
    async with await pg_migrations.connect(postgres_url, autocommit=False) as conn:
        await conn.execute(
            "CREATE TABLE memgpt_migrations (version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for version, name, script in pg_migrations.migration_scripts():
            if version < POSTGRES_BLOCKS:  # up to the last schema with agents.blocks
                await conn.execute(script.encode())
                await conn.execute("INSERT INTO memgpt_migrations (version, name) VALUES (%s, %s)", (version, name))
        for agent_id, name, blocks in ((SAM_ID, "sam", SAM_BLOCKS), (BO_ID, "bo", BO_BLOCKS)):
            await conn.execute(
                AGENT_SQL.replace("?", "%s"),
                (agent_id, LOCAL_USER_ID, name, json.dumps(blocks), "2024-05-01T12:00:00Z", "2024-05-01T12:00:01Z"),
            )
        await conn.commit()
    assert await migrated_blocks(postgres_url) == EXPECTED
    with psycopg.connect(postgres_url) as check:
        columns = check.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'agents'")
        assert "blocks" not in {r[0] for r in columns}
