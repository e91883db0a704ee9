"""SQLite connections, each used by one thread of its own, and the transactions and savepoints over them.

- Each connection has a single worker thread that ever touches it; an operation (:data:`.sql.Op`) runs
  whole in that thread, so a step's statements cost one thread hop per operation, not per statement.
- A task that is cancelled while its operation runs (Ctrl-C, a timeout, a dropped HTTP request) interrupts
  the statement and *waits for the thread to stop* before the transaction is rolled back and the
  connection goes back to the pool: ``asyncio.to_thread`` work cannot be cancelled, and rolling back while
  the thread still ran statements let the statements after the ROLLBACK autocommit.
- The write transaction starts at the first write (``BEGIN IMMEDIATE``), not at the first statement, and
  that is when the process-wide write lock is taken: reads never wait for writers. Writers of this process
  queue on that lock instead of in SQLite's busy handler, which sleeps in steps of up to 100 ms.
- Every ``sqlite3.Error`` becomes a :class:`~memgpt.errors.StorageError` that says what to do.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from memgpt.errors import MemgptError, StorageError
from memgpt.storage.sql import (
    BEGIN_WRITE,
    ConstraintError,
    Json,
    Op,
    Query,
    Result,
    Stepper,
    Vector,
    sqlite_sql,
    timestamp,
    uninterrupted,
)

T = TypeVar("T")
BUSY_TIMEOUT_S = 30.0
LOCK_POLL_S = 0.05  # how often a thread waiting for the write lock checks whether its task was cancelled


class Interrupted(Exception):
    """The task that ran this operation was cancelled (raised in the worker thread, never seen by callers)."""


def _aborted() -> StorageError:
    return StorageError(
        "An earlier statement failed and SQLite rolled the whole transaction back; nothing of it was saved. Try again."
    )


def storage_error(exc: sqlite3.Error, path: Path) -> MemgptError:
    """The error to raise for an engine error: what went wrong with ``path`` and what to do about it."""
    text = str(exc)
    lowered = text.lower()
    if isinstance(exc, sqlite3.IntegrityError):
        return ConstraintError(text)
    if "locked" in lowered or "busy" in lowered:
        return StorageError(
            f"The database {path} is busy: another process has been writing to it for over {BUSY_TIMEOUT_S:g} s. "
            f"Try again; if it stays busy, find the process that holds it (e.g. `fuser {path}`)."
        )
    if "full" in lowered:
        return StorageError(
            f"The disk holding {path} is full; nothing of this write was saved. Free space, then retry."
        )
    if "malformed" in lowered or "not a database" in lowered or "corrupt" in lowered:
        return StorageError(
            f"The database {path} is damaged ({text}). Check it with `sqlite3 {path} 'PRAGMA integrity_check'`; "
            f"restore it from a backup, or save what can be read with `sqlite3 {path} .recover | sqlite3 "
            "recovered.db` and point MEMGPT_DATABASE_URL at recovered.db."
        )
    if "readonly" in lowered or "read-only" in lowered:
        return StorageError(
            f"The database {path} is read-only: check the permissions of the file and of its folder "
            "(SQLite writes -wal and -shm files beside it)."
        )
    if "unable to open" in lowered:
        return StorageError(f"Cannot open the database {path}: {text}. Check that its folder exists and is writable.")
    return StorageError(f"SQLite failed on {path}: {text}.")


def _encode(value: Any) -> Any:
    kind = type(value)
    if kind is str or kind is int or kind is float or value is None:
        return value
    if kind is bool:
        return int(value)
    if kind is datetime:
        return timestamp(value)
    if kind is Json:
        return json.dumps(value.value, ensure_ascii=False, allow_nan=False)
    if kind is Vector:
        return np.ascontiguousarray(value.value, dtype=np.float32).tobytes()
    if kind is list or kind is tuple:  # the parameter of ``= ANY(?)``
        return json.dumps(list(value), ensure_ascii=False)
    if isinstance(value, np.integer | np.floating):
        return value.item()
    raise TypeError(f"cannot store a {kind.__name__} in SQLite")


@dataclass
class Tx:
    """The state of one transaction on one connection (touched only by that connection's thread)."""

    begun: bool = False
    aborted: bool = False  # SQLite ended it after a failed statement: nothing of it was saved, nothing more runs
    touched: set[tuple[str, str]] = field(default_factory=set)  # vector indexes that saw uncommitted rows


class Connection:
    """One SQLite connection and the single thread that runs its work."""

    def __init__(self, path: Path, write_lock: threading.Lock) -> None:
        self.path = path
        self._write_lock = write_lock
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="memgpt-sqlite")
        self._conn: sqlite3.Connection | None = None
        self._interrupted = False

    # ----------------------------------------------------------------- running work in the thread
    async def call(self, fn: Callable[[sqlite3.Connection], T], *, interruptible: bool = True) -> T:
        """``fn(connection)`` in the connection's thread. A cancelled caller interrupts it (if
        ``interruptible``) and waits for the thread to finish before the cancellation goes on."""
        self._interrupted = False
        future = asyncio.get_running_loop().run_in_executor(self._thread, self._job, fn)
        return await uninterrupted(future, on_cancel=self.interrupt if interruptible else None)

    def interrupt(self) -> None:
        """Stop the running statement (and any wait for the write lock) of this connection's thread."""
        self._interrupted = True
        if self._conn is not None:
            self._conn.interrupt()

    def _job(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._interrupted:  # cancelled before the thread got to it
            raise Interrupted()
        if self._conn is None:
            self._conn = self._connect()
        return fn(self._conn)

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
            for pragma in (
                "journal_mode=WAL",
                "synchronous=NORMAL",
                "foreign_keys=ON",
                f"busy_timeout={int(BUSY_TIMEOUT_S * 1000)}",
                "temp_store=MEMORY",
                "secure_delete=ON",  # deleted rows are overwritten: a forgotten memory does not linger in the file
            ):
                conn.execute(f"PRAGMA {pragma}")
        except sqlite3.Error as exc:
            raise storage_error(exc, self.path) from exc
        return conn

    async def close(self) -> None:
        def close(conn: sqlite3.Connection) -> None:
            conn.close()

        if self._conn is not None:
            with suppress(MemgptError, sqlite3.Error):
                await self.call(close, interruptible=False)
            self._conn = None
        self._thread.shutdown(wait=False)

    # ----------------------------------------------------------------- operations (in the thread)
    def drive(self, conn: sqlite3.Connection, op: Op[T], tx: Tx | None) -> T:
        """Run ``op``: in ``tx``, or (``None``) as a transaction of its own that commits if it wrote."""
        own = Tx() if tx is None else tx
        steps = Stepper(op)
        try:
            query = steps.first()
            while query is not None:
                query = steps.advance(self.outcome(conn, query, own))
        except BaseException:
            steps.close()  # its with-blocks and finally clauses run now, not whenever it is collected
            if tx is None:
                self.rollback(conn, own)
            raise
        if tx is None:
            self.commit(conn, own)
        return steps.value

    def outcome(self, conn: sqlite3.Connection, query: Query, tx: Tx) -> Result | ConstraintError:
        """Run one statement; the first write of ``tx`` takes the write lock and begins it."""
        if tx.aborted:
            raise _aborted()
        if query.writes and not tx.begun:
            self._begin(conn, tx)
        if query.sql == BEGIN_WRITE:
            return Result()
        sql = sqlite_sql(query.sql)
        try:
            if query.many:
                cursor = conn.executemany(sql, [[_encode(v) for v in row] for row in query.params])
                return Result(rowcount=cursor.rowcount)
            cursor = conn.execute(sql, [_encode(v) for v in query.params])
            return Result(cursor.fetchall(), cursor.rowcount)
        except sqlite3.IntegrityError as exc:
            if self._interrupted:
                raise Interrupted() from exc
            return ConstraintError(str(exc))
        except sqlite3.Error as exc:
            self._reconcile(conn, tx)
            raise self._failure(exc) from exc

    def _reconcile(self, conn: sqlite3.Connection, tx: Tx) -> None:
        """After a failed statement: if SQLite ended the transaction itself (an interrupted statement, a full
        disk), say so, so that no later statement runs outside it and no savepoint is rolled back to."""
        if tx.begun and not conn.in_transaction:
            self._end(tx)
            tx.aborted = True

    def _failure(self, exc: sqlite3.Error) -> Exception:
        if self._interrupted:
            return Interrupted()
        return storage_error(exc, self.path)

    def _begin(self, conn: sqlite3.Connection, tx: Tx) -> None:
        waited = 0.0
        while not self._write_lock.acquire(timeout=LOCK_POLL_S):
            waited += LOCK_POLL_S
            if self._interrupted:
                raise Interrupted()
            if waited >= BUSY_TIMEOUT_S:
                raise storage_error(sqlite3.OperationalError("database is locked"), self.path)
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            self._write_lock.release()
            raise self._failure(exc) from exc
        tx.begun = True

    def commit(self, conn: sqlite3.Connection, tx: Tx) -> None:
        if tx.aborted:
            raise _aborted()
        if not tx.begun:
            return
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self.rollback(conn, tx)
            raise storage_error(exc, self.path) from exc
        self._end(tx)

    def rollback(self, conn: sqlite3.Connection, tx: Tx) -> None:
        if not tx.begun:
            return
        try:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # SQLite rolled back already (an interrupted or failed statement can end the transaction)
        finally:
            self._end(tx)

    def _end(self, tx: Tx) -> None:
        tx.begun = False
        self._write_lock.release()

    def control(self, conn: sqlite3.Connection, tx: Tx, sql: str) -> None:
        """A savepoint statement; ending one of a transaction SQLite already ended is nothing to do."""
        if tx.aborted:
            if sql.startswith("SAVEPOINT"):
                raise _aborted()
            return
        try:
            conn.execute(sql)
        except sqlite3.Error as exc:
            self._reconcile(conn, tx)
            raise storage_error(exc, self.path) from exc


def statements(script: str) -> Iterator[str]:
    """Split a SQL script into complete statements (trigger bodies contain semicolons)."""
    buffer = ""
    for line in script.splitlines(keepends=True):
        if line.lstrip().startswith("--"):
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            yield buffer.strip()
            buffer = ""
    if buffer.strip():
        raise StorageError("Migration script ends with an incomplete statement.")
