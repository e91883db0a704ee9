"""In-process asyncio locks by key (an agent, a table and owner), kept only while someone holds or awaits them.

A long-running server meets thousands of agents: a dict of one lock per agent ever seen would grow
without bound, so each entry is removed when its last user leaves.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Hashable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from memgpt.errors import AgentBusyError

K = TypeVar("K", bound=Hashable)


@dataclass
class _Entry:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class KeyedLocks(Generic[K]):
    """``async with locks.hold(key, timeout=..., busy=...)``: one holder per key at a time; ``busy`` is raised
    when the lock was not free within ``timeout`` seconds."""

    def __init__(self) -> None:
        self._entries: dict[K, _Entry] = {}

    def __len__(self) -> int:
        """How many keys are held or awaited right now."""
        return len(self._entries)

    def locked(self, key: K) -> bool:
        entry = self._entries.get(key)
        return entry is not None and entry.lock.locked()

    @asynccontextmanager
    async def hold(
        self,
        key: K,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - a lock wait, bounded where it is awaited
        busy: Exception | None = None,
    ) -> AsyncIterator[None]:
        entry = self._entries.setdefault(key, _Entry())
        entry.users += 1
        try:
            try:
                async with asyncio.timeout(timeout):
                    await entry.lock.acquire()
            except TimeoutError:
                raise (busy or TimeoutError(f"lock {key!r} not free within {timeout} s")) from None
            try:
                yield
            finally:
                entry.lock.release()
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._entries[key]


class AgentLocks(ABC):
    """Per-agent locks: an asyncio lock within the process, then the engine's lock across processes."""

    def __init__(self) -> None:
        self._local: KeyedLocks[str] = KeyedLocks()

    @property
    def held(self) -> int:
        """How many agents are locked or awaited in this process."""
        return len(self._local)

    @asynccontextmanager
    async def hold(self, agent_id: str, *, timeout: float = 60.0) -> AsyncIterator[None]:  # noqa: ASYNC109
        """Hold the agent's lock; AgentBusyError if it was not free within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        busy = AgentBusyError(f"Agent {agent_id} is busy in this process; try again later.")
        async with (
            self._local.hold(agent_id, timeout=timeout, busy=busy),
            self.across_processes(agent_id, max(0.0, deadline - time.monotonic())),
        ):
            yield

    @abstractmethod
    def across_processes(self, agent_id: str, timeout: float) -> AbstractAsyncContextManager[None]:
        """The engine's lock of ``agent_id`` shared with other processes (AgentBusyError after ``timeout``)."""
