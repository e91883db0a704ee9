"""Per-agent locks for the PostgreSQL store: an asyncio lock in the process, an advisory lock across machines.

The advisory lock is a session lock held on a connection of a dedicated pool for as long as the agent
runs a step. If the process dies, or its connection drops, the server releases the lock. In the second
case the step goes on, so the lock alone cannot keep out another process; the fence is the agent row:
every save compares-and-sets its ``updated_at``, so a step that lost its lock to another process's step
fails with :class:`~memgpt.errors.AgentChangedError` and writes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from memgpt.errors import AgentBusyError, StorageError
from memgpt.storage.keyed_locks import AgentLocks
from memgpt.storage.sql import uninterrupted


def lock_key(agent_id: str) -> int:
    """A signed 64-bit advisory lock key for ``agent_id`` (a collision only serialises two agents)."""
    digest = hashlib.blake2b(f"memgpt-agent:{agent_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class AdvisoryLocks(AgentLocks):
    """Agent locks held as PostgreSQL session advisory locks on connections of ``pool``."""

    def __init__(self, pool: AsyncConnectionPool[Any]) -> None:
        super().__init__()
        self.pool = pool

    @asynccontextmanager
    async def across_processes(self, agent_id: str, timeout: float) -> AsyncIterator[None]:  # noqa: ASYNC109
        try:
            conn = await self.pool.getconn(timeout=timeout)
        except PoolTimeout:
            raise AgentBusyError(
                f"No database connection for agent {agent_id}'s lock within {timeout:.0f} s; too many agents "
                "are running at once in this process."
            ) from None
        try:
            key = lock_key(agent_id)
            try:
                await self._acquire(conn, key, agent_id, timeout)
            except BaseException:  # a cancelled wait may have been granted just before it was cancelled
                with suppress(psycopg.Error):
                    await uninterrupted(self._unlock_if_held(conn, key))
                raise
            try:
                yield
            finally:
                with suppress(psycopg.Error):  # a dropped connection has released the lock already
                    await uninterrupted(conn.execute("SELECT pg_advisory_unlock(%s)", (key,)))
        finally:
            await uninterrupted(self.pool.putconn(conn))

    @staticmethod
    async def _unlock_if_held(conn: psycopg.AsyncConnection[Any], key: int) -> None:
        """Release the lock if this connection holds it (unlocking one it does not hold logs a warning)."""
        held = await (
            await conn.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
                " AND classid = ((%s::bigint >> 32) & 4294967295)::oid AND objid = (%s::bigint & 4294967295)::oid",
                (key, key),
            )
        ).fetchone()
        if held and held[0]:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (key,))

    @staticmethod
    async def _acquire(conn: psycopg.AsyncConnection[Any], key: int, agent_id: str, timeout: float) -> None:  # noqa: ASYNC109
        try:
            row = await (await conn.execute("SELECT pg_try_advisory_lock(%s)", (key,))).fetchone()
            if row and row[0]:
                return  # uncontended: one round trip
            # lock_timeout bounds the server-side wait; no polling.
            await conn.execute("SELECT set_config('lock_timeout', %s, false)", (f"{max(1, int(timeout * 1000))}ms",))
            try:
                await conn.execute("SELECT pg_advisory_lock(%s)", (key,))
            finally:
                await conn.execute("SELECT set_config('lock_timeout', '0', false)")
        except pg_errors.LockNotAvailable:
            raise AgentBusyError(
                f"Agent {agent_id} is busy in another process (lock held for over {timeout:.0f} s)."
            ) from None
        except psycopg.OperationalError as exc:
            raise StorageError(f"Lost the database connection while locking agent {agent_id}: {exc}") from exc
