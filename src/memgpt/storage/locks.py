"""Per-agent locks for the embedded store: an asyncio lock within the process, ``flock`` across processes."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from memgpt.errors import AgentBusyError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: in-process locking only
    fcntl = None  # type: ignore[assignment]

POLL_SECONDS = 0.02


class FileLocks:
    """Agent locks stored as files in ``folder``; the OS releases them if the process dies."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._local: dict[str, asyncio.Lock] = {}

    @asynccontextmanager
    async def hold(self, key: str, *, timeout: float = 60.0) -> AsyncIterator[None]:  # noqa: ASYNC109
        lock = self._local.setdefault(key, asyncio.Lock())
        try:
            await asyncio.wait_for(lock.acquire(), timeout)
        except TimeoutError:
            raise AgentBusyError(f"Agent {key} is busy in this process; try again later.") from None
        try:
            fd = self._try_file(key)  # uncontended: no thread hop
            if fd is None:
                fd = await asyncio.to_thread(self._acquire_file, key, timeout)
            try:
                yield
            finally:
                os.close(fd)  # closing the descriptor releases the flock
        finally:
            lock.release()

    def _try_file(self, key: str) -> int | None:
        try:
            fd = os.open(self.folder / f"{key}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        except FileNotFoundError:
            return None
        if fcntl is None:
            return fd
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            os.close(fd)
            return None

    def _acquire_file(self, key: str, timeout: float) -> int:
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.folder / f"{key}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        if fcntl is None:
            return fd
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise AgentBusyError(
                        f"Agent {key} is busy in another process (lock held for over {timeout:.0f} s)."
                    ) from None
                time.sleep(POLL_SECONDS)
