"""Per-agent locks for the embedded store: an asyncio lock within the process, ``flock`` across processes.

A wait for another process's lock polls a non-blocking ``flock`` from the event loop: it holds no worker
thread (a blocking wait in a thread starved every database call once a few agents waited) and a cancelled
waiter closes its descriptor, so the agent is free for the next caller.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from memgpt.errors import AgentBusyError
from memgpt.storage.keyed_locks import AgentLocks

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: in-process locking only
    fcntl = None  # type: ignore[assignment]

POLL_SECONDS = 0.02


class FileLocks(AgentLocks):
    """Agent locks stored as files in ``folder``; the OS releases them if the process dies."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder

    @asynccontextmanager
    async def across_processes(self, agent_id: str, timeout: float) -> AsyncIterator[None]:  # noqa: ASYNC109
        fd = await self._acquire_file(agent_id, time.monotonic() + timeout, timeout)
        try:
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the flock

    async def _acquire_file(self, key: str, deadline: float, timeout: float) -> int:  # noqa: ASYNC109
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.folder / f"{key}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        if fcntl is None:
            return fd
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return fd
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise AgentBusyError(
                            f"Agent {key} is busy in another process (lock held for over {timeout:.0f} s)."
                        ) from None
                    await asyncio.sleep(POLL_SECONDS)
        except BaseException:
            os.close(fd)
            raise
