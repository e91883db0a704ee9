"""PostgreSQL-only behaviour: clear errors, migrations, the advisory agent lock, dropped connections, HNSW."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator

import psycopg
import pytest

from memgpt.errors import AgentBusyError, ConfigError, EmbeddingMismatchError, StorageError
from memgpt.evals.bench import SyntheticEmbedder
from memgpt.memory.agent_state import AgentState
from memgpt.memory.types import Message, Passage
from memgpt.storage import open_store
from memgpt.storage.postgres import PostgresStore
from memgpt.storage.postgres import migrations as pg_schema
from memgpt.storage.postgres import vectors as pg_vectors
from tests.conftest import local_embedder
from tests.storage.pgserver_fixture import with_database

pytestmark = pytest.mark.postgres


@pytest.fixture
async def pg_store(postgres_url: str) -> AsyncIterator[PostgresStore]:
    store = await PostgresStore.open(postgres_url, embedder=SyntheticEmbedder())
    yield store
    await store.close()


def sql(url: str, statement: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(statement)
        return cursor.fetchall() if cursor.description else []


async def new_agent(store: PostgresStore, name: str = "a") -> AgentState:
    state = AgentState(name=name, model="none", context_window=8000)
    await store.create_agent(state)
    return state


# ------------------------------------------------------------------ opening: clear errors, nothing half-written
async def test_unreachable_server_is_one_clear_config_error(tmp_path: object) -> None:
    with pytest.raises(ConfigError, match=r"Cannot connect to PostgreSQL .*Start the PostgreSQL server"):
        await open_store("postgresql://memgpt@127.0.0.1:1/memgpt")
    with pytest.raises(ConfigError, match="not a valid PostgreSQL URL"):
        await open_store("postgresql://memgpt@localhost:notaport/memgpt")


async def test_unknown_database_and_user_say_what_to_fix(postgres_url: str) -> None:
    with pytest.raises(ConfigError, match="database does not exist: create it"):
        await open_store(with_database(postgres_url, "memgpt_no_such_db"))
    stranger = postgres_url.replace("postgresql://postgres", "postgresql://nobody_here", 1)
    if stranger == postgres_url:
        pytest.skip("the test server URL does not name the postgres user")
    with pytest.raises(ConfigError, match="user does not exist"):
        await open_store(stranger)


def test_wrong_password_message_names_the_fix() -> None:
    error = pg_schema.connection_error(
        psycopg.OperationalError('FATAL:  password authentication failed for user "ada"'),
        "postgresql://ada:secret@db.example:5433/mem",
    )
    assert "secret" not in str(error)
    assert "db.example:5433" in str(error) and "password is wrong" in str(error)


async def test_missing_pgvector_privilege_explains_and_creates_nothing(postgres_url: str) -> None:
    role = "memgpt_plain_user"
    sql(postgres_url, f"DROP ROLE IF EXISTS {role}")
    sql(postgres_url, f"CREATE ROLE {role} LOGIN")
    try:
        plain = postgres_url.replace("postgresql://postgres", f"postgresql://{role}", 1)
        if plain == postgres_url:
            pytest.skip("the test server URL does not name the postgres user")
        with pytest.raises(ConfigError, match="Ask a superuser to run CREATE EXTENSION vector"):
            await open_store(plain)
        assert sql(postgres_url, "SELECT to_regclass('agents')") == [(None,)]
    finally:
        sql(postgres_url, f"DROP OWNED BY {role}")
        sql(postgres_url, f"DROP ROLE {role}")


async def test_migrations_are_idempotent_and_a_newer_schema_is_refused(postgres_url: str) -> None:
    async with await pg_schema.connect(postgres_url) as conn:
        latest = pg_schema.migration_scripts()[-1][0]
        assert await pg_schema.migrate(conn, postgres_url) == (0, latest)
        assert await pg_schema.migrate(conn, postgres_url) == (latest, latest)
        await conn.execute("INSERT INTO memgpt_migrations (version, name) VALUES (9999, 'from the future')")
    with pytest.raises(StorageError, match=r"schema version 9999, newer .*Upgrade memgpt"):
        await open_store(postgres_url)


async def test_processes_opening_a_new_database_at_once_migrate_it_once(postgres_url: str) -> None:
    stores = await asyncio.gather(*(PostgresStore.open(postgres_url) for _ in range(4)))
    for store in stores:
        await store.close()
    versions = sql(postgres_url, "SELECT version FROM memgpt_migrations ORDER BY version")
    assert versions == [(v,) for v, _, _ in pg_schema.migration_scripts()]


async def test_failed_migration_leaves_nothing_behind(postgres_url: str) -> None:
    sql(postgres_url, "CREATE TABLE passages (x int)")  # a clash half-way through the first migration
    with pytest.raises(StorageError, match="nothing was changed"):
        await open_store(postgres_url)
    assert sql(postgres_url, "SELECT to_regclass('agents'), to_regclass('memgpt_migrations')") == [(None, None)]


async def test_another_embedding_model_is_refused_until_reembedded(postgres_url: str) -> None:
    store = await PostgresStore.open(postgres_url, embedder=local_embedder())
    state = await new_agent(store)
    await store.insert_passages(state.id, [Passage(text="the lighthouse keeper feeds the gulls")])
    await store.close()
    with pytest.raises(EmbeddingMismatchError, match="memgpt db reembed"):
        await PostgresStore.open(postgres_url, embedder=SyntheticEmbedder())
    store = await PostgresStore.open(postgres_url, embedder=SyntheticEmbedder(), reembed=True)
    assert await store.count_unembedded() == 1
    assert await store.embed_all_pending() == 1
    page = await store.search_passages(state.id, "lighthouse keeper", mode="semantic")
    assert page.hits[0].text.startswith("the lighthouse")
    await store.close()


# ------------------------------------------------------------------ vector search through the HNSW index
async def test_large_agents_use_the_hnsw_index_and_match_exact_search(
    pg_store: PostgresStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    big, small = await new_agent(pg_store, "big"), await new_agent(pg_store, "small")
    texts = [f"passage number {i} about topic {i % 37}" for i in range(600)]
    await pg_store.insert_passages(big.id, [Passage(text=t) for t in texts])
    await pg_store.insert_passages(small.id, [Passage(text="a lonely passage about topic 3")])
    exact = await pg_store.search_passages(big.id, texts[123], mode="semantic", page_size=10)
    monkeypatch.setattr(pg_vectors, "EXACT_TABLE_MAX", 100)
    monkeypatch.setattr(pg_vectors, "EXACT_OWNER_MAX", 100)
    plan = sql(
        pg_store.url,
        "EXPLAIN SELECT seq FROM passages ORDER BY embedding::vector(384) <=>"
        " (SELECT embedding FROM passages LIMIT 1)::vector(384) LIMIT 10",
    )
    assert any("passages_embedding_hnsw_384" in str(row[0]) for row in plan)
    approximate = await pg_store.search_passages(big.id, texts[123], mode="semantic", page_size=10)
    assert approximate.hits[0].text == texts[123] == exact.hits[0].text
    assert len({h.id for h in approximate.hits} & {h.id for h in exact.hits}) >= 9
    # A small agent among many rows falls back to exact search instead of returning too little.
    lonely = await pg_store.search_passages(small.id, "topic", mode="semantic")
    assert [h.text for h in lonely.hits] == ["a lonely passage about topic 3"]


# ------------------------------------------------------------------ agent lock across processes
HOLDER = textwrap.dedent(
    """
    import asyncio, sys
    from memgpt.storage.postgres import PostgresStore

    async def main():
        store = await PostgresStore.open(sys.argv[1])
        async with store.lock_agent("agent-x"):
            print("locked", flush=True)
            await asyncio.to_thread(sys.stdin.readline)
        await store.close()

    asyncio.run(main())
    """
)


def start_holder(url: str) -> subprocess.Popen[str]:
    """A process that holds agent-x's lock until it reads a line."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "locked"
    return holder


async def test_agent_lock_excludes_other_processes(pg_store: PostgresStore) -> None:
    holder = start_holder(pg_store.url)
    assert holder.stdin is not None
    try:
        with pytest.raises(AgentBusyError, match="busy in another process"):
            async with pg_store.lock_agent("agent-x", timeout=0.3):
                pass
        async with pg_store.lock_agent("agent-y", timeout=0.3):  # other agents are not blocked
            pass
    finally:
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(timeout=30)
    async with pg_store.lock_agent("agent-x", timeout=5):  # released when the holder let go
        pass


async def test_lock_of_a_killed_process_is_released(pg_store: PostgresStore) -> None:
    holder = start_holder(pg_store.url)
    holder.kill()
    holder.wait(timeout=30)
    async with pg_store.lock_agent("agent-x", timeout=10):
        pass


# ------------------------------------------------------------------ dropped connections
def terminate_others(url: str) -> int:
    """Terminate every other connection to the test database; returns how many."""
    rows = sql(
        url,
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    return int(rows[0][0])  # type: ignore[call-overload]


async def test_connections_dropped_while_idle_are_replaced(pg_store: PostgresStore) -> None:
    state = await new_agent(pg_store)
    await pg_store.append_messages(state.id, [Message(role="user", content="before")])
    assert terminate_others(pg_store.url) >= 1
    await pg_store.append_messages(state.id, [Message(role="user", content="after")])
    assert [m.content for m in await pg_store.list_messages(state.id)] == ["before", "after"]


async def test_connection_dropped_inside_a_transaction_saves_nothing(pg_store: PostgresStore) -> None:
    state = await new_agent(pg_store)
    with pytest.raises(StorageError, match="connection to PostgreSQL was lost"):
        async with pg_store.transaction():
            await pg_store.append_messages(state.id, [Message(role="user", content="lost")])
            terminate_others(pg_store.url)
            await pg_store.insert_passages(state.id, [Passage(text="also lost")])
    assert await pg_store.count_messages(state.id) == 0
    assert await pg_store.count_passages(state.id) == 0
