"""SQLite-only behaviour: embedding-model bookkeeping and the cross-process agent lock."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from memgpt.errors import AgentBusyError, EmbeddingMismatchError
from memgpt.evals.bench import SyntheticEmbedder
from memgpt.memory.agent_state import AgentState
from memgpt.memory.types import Passage
from memgpt.storage.sqlite import SqliteStore
from tests.conftest import local_embedder


async def test_another_embedding_model_is_refused_until_reembedded(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    store = await SqliteStore.open(db, embedder=local_embedder())
    state = AgentState(name="a", model="none", context_window=8000)
    await store.create_agent(state)
    await store.insert_passages(state.id, [Passage(text="the lighthouse keeper feeds the gulls")])
    await store.close()
    with pytest.raises(EmbeddingMismatchError, match="memgpt db reembed"):
        await SqliteStore.open(db, embedder=SyntheticEmbedder())
    store = await SqliteStore.open(db, embedder=SyntheticEmbedder(), reembed=True)
    assert await store.embed_all_pending() == 1
    page = await store.search_passages(state.id, "lighthouse keeper", mode="semantic")
    assert page.hits[0].text.startswith("the lighthouse")
    await store.close()
    with pytest.raises(EmbeddingMismatchError):
        await SqliteStore.open(db, embedder=local_embedder())


async def test_text_search_works_without_any_embedder(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "s.db", embedder=None)
    assert not store.semantic_search_available
    state = AgentState(name="a", model="none", context_window=8000)
    await store.create_agent(state)
    await store.insert_passages(state.id, [Passage(text="the lighthouse keeper feeds the gulls")])
    page = await store.search_passages(state.id, "lighthouse")  # hybrid falls back to full text
    assert page.hits and page.total == 1
    await store.close()


HOLDER = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from memgpt.storage.sqlite import SqliteStore

    async def main():
        store = await SqliteStore.open(Path(sys.argv[1]))
        async with store.lock_agent("agent-x"):
            print("locked", flush=True)
            sys.stdin.readline()

    asyncio.run(main())
    """
)


def start_holder(db: Path) -> subprocess.Popen[str]:
    """A process that holds agent-x's lock until it reads a line."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "locked"
    return holder


async def test_agent_lock_excludes_other_processes(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    store = await SqliteStore.open(db)
    holder = start_holder(db)
    assert holder.stdin is not None
    try:
        with pytest.raises(AgentBusyError, match="busy in another process"):
            async with store.lock_agent("agent-x", timeout=0.3):
                pass
        async with store.lock_agent("agent-y", timeout=0.3):  # other agents are not blocked
            pass
    finally:
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(timeout=30)
    async with store.lock_agent("agent-x", timeout=5):  # released when the holder ends
        pass
    await store.close()
