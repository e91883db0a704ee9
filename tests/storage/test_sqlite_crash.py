"""SQLite-specific durability: a process killed during a bulk insert leaves a consistent store."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from memgpt.storage.sqlite import SqliteStore

WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from memgpt.memory.agent_state import AgentState
    from memgpt.memory.types import Passage
    from memgpt.storage.sqlite import SqliteStore

    async def main():
        store = await SqliteStore.open(Path(sys.argv[1]))
        state = AgentState(name="bulk", model="none", context_window=8000)
        await store.create_agent(state)
        print("ready", flush=True)
        batch = 0
        while True:
            texts = [f"batch {batch} passage {i} " + "words " * 50 for i in range(500)]
            await store.insert_passages(state.id, [Passage(text=t) for t in texts])
            batch += 1
            print(batch, flush=True)

    asyncio.run(main())
    """
)


def test_kill_during_bulk_insert_keeps_whole_batches(tmp_path: Path) -> None:
    db = tmp_path / "bulk.db"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    committed = 0
    deadline = time.monotonic() + 60
    while committed < 5 and time.monotonic() < deadline:
        committed = int(proc.stdout.readline())
    time.sleep(0.05)  # land the kill in the middle of a later batch
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    count = conn.execute("SELECT count(*) FROM passages").fetchone()[0]
    fts = conn.execute("SELECT count(*) FROM passages_fts").fetchone()[0]
    conn.close()
    assert count >= committed * 500, "a batch reported as committed was lost"
    assert count % 500 == 0, "a batch was half-written"
    assert fts == count

    async def reopen() -> int:
        store = await SqliteStore.open(db)
        try:
            agent = (await store.list_agents("user-local"))[0]
            page = await store.search_passages(agent.id, "batch 3 passage 7", mode="text")
            assert page.hits
            return await store.count_passages(agent.id)
        finally:
            await store.close()

    assert asyncio.run(reopen()) == count
