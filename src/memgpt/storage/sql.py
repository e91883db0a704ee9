"""Statements written once for both engines, and the operations that run them (the stores' "sans-IO" core).

An operation (:data:`Op`) is a generator that yields :class:`Query` objects and receives each one's
:class:`Result`; whatever it returns is the operation's result. Each engine drives operations its own
way: SQLite runs the whole generator in the worker thread that owns the connection (one thread hop per
operation, and row decoding off the event loop), PostgreSQL awaits each statement on an async connection.
So the logic of every read and write (which statements, in what order, what is checked in between) is
written once, in :mod:`memgpt.storage.records`, while connections, transactions and errors stay with the
engines.

Statements use PostgreSQL's syntax with ``?`` placeholders; each engine rewrites the few spots where
SQLite differs (see :func:`sqlite_sql` and :func:`postgres_sql`):

- ``?`` placeholders: PostgreSQL's driver wants ``%s`` (and literal ``%`` doubled);
- ``= ANY(?)`` with a list parameter: SQLite has no arrays, so it becomes ``IN (SELECT value FROM
  json_each(?))`` with the list passed as JSON (one parameter whatever the length: no 999-variable limit);
- ``greatest(a, b)``: SQLite's two-argument ``max(a, b)``.

Parameters are plain Python values, plus :class:`Json` and :class:`Vector` for the two column types the
engines store differently; each engine encodes them (and datetimes: SQLite stores seconds since the epoch).
Read values are decoded with the engine-independent functions :func:`as_time`, :func:`as_json` and
:func:`as_vector`.

A write starts the transaction: statements before an operation's (or a step's) first write run on their
own, and the first ``INSERT``/``UPDATE``/``DELETE`` (or ``SELECT ... FOR UPDATE``) opens the transaction
that every later statement joins. On SQLite that is also when the process-wide write lock is taken, so a
transaction that only reads never blocks a writer.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
from collections.abc import Awaitable, Callable, Generator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import numpy as np

from memgpt.errors import StorageError

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Json:
    """A JSON column's value (``jsonb`` on PostgreSQL, text on SQLite)."""

    value: Any


@dataclass(frozen=True, slots=True)
class Vector:
    """An embedding column's value (pgvector's ``vector``, float32 bytes on SQLite)."""

    value: np.ndarray


@dataclass(frozen=True, slots=True)
class Query:
    """One statement. ``many``: run it once per parameter row in ``params`` (executemany).

    A constraint violation raises :class:`ConstraintError`, which operations turn into the user's error; on
    PostgreSQL it also ends the surrounding transaction, so no operation may catch one and carry on writing.
    """

    sql: str
    params: Sequence[Any] = ()
    many: bool = False

    @property
    def writes(self) -> bool:
        return is_write(self.sql)


@dataclass(slots=True)
class Result:
    """What a statement returned: its rows (``SELECT``, ``RETURNING``) and how many rows it changed."""

    rows: list[tuple[Any, ...]] = field(default_factory=list)
    rowcount: int = 0

    def one(self) -> tuple[Any, ...] | None:
        return self.rows[0] if self.rows else None

    def scalar(self) -> Any:
        return self.rows[0][0] if self.rows else None


Op = Generator[Query, Result, T]


class ConstraintError(StorageError):
    """A unique, foreign-key or check constraint refused a write (thrown into the operation that caused it)."""


class Stepper(Generic[T]):
    """Steps an operation for a driver: the next statement to run, until it is done with :attr:`value`.

    A driver runs ``query = steps.first()`` and then, while ``query`` is not None, runs it and passes the
    outcome (its :class:`Result`, or the :class:`ConstraintError` it raised) to :meth:`advance`.
    """

    def __init__(self, op: Op[T]) -> None:
        self._op = op
        self._value: Any = None

    @property
    def value(self) -> T:
        """What the operation returned (once :meth:`advance` returned None)."""
        result: T = self._value
        return result

    def first(self) -> Query | None:
        return self._step(lambda: next(self._op))

    def advance(self, outcome: Result | ConstraintError) -> Query | None:
        if isinstance(outcome, ConstraintError):
            return self._step(lambda: self._op.throw(outcome))
        return self._step(lambda: self._op.send(outcome))

    def close(self) -> None:
        """End an operation its driver will not finish (an engine error): its ``finally`` clauses run."""
        self._op.close()

    def _step(self, resume: Any) -> Query | None:
        try:
            query: Query = resume()
            return query
        except StopIteration as stop:
            self._value = stop.value
            return None
        except BaseException:
            self._op.close()
            raise


async def uninterrupted(work: Awaitable[T], *, on_cancel: Callable[[], None] | None = None) -> T:
    """Await ``work`` to its end even if this task is cancelled meanwhile; a cancellation is re-raised after.

    For what must not be left half-done: a statement still running in a worker thread, a COMMIT, giving a
    connection back. ``on_cancel`` runs at the first cancellation (to ask the work to stop early).
    """
    inner = asyncio.ensure_future(work)
    interrupted = False
    while not inner.done():
        try:
            await asyncio.wait([inner])
        except asyncio.CancelledError:
            if not interrupted and on_cancel is not None:
                on_cancel()
            interrupted = True
    if interrupted:
        if not inner.cancelled():
            inner.exception()  # retrieved: the cancellation is what the caller hears of
        raise asyncio.CancelledError
    return inner.result()


def query(sql: str, *params: Any) -> Query:
    return Query(sql, params)


def query_many(sql: str, rows: Sequence[Sequence[Any]]) -> Query:
    return Query(sql, rows, many=True)


def run(sql: str, *params: Any) -> Op[Result]:
    """An operation of one statement (``result = yield from run(...)`` inside another operation)."""
    result = yield Query(sql, params)
    return result


def rows(sql: str, *params: Any) -> Op[list[tuple[Any, ...]]]:
    result = yield Query(sql, params)
    return result.rows


def one(sql: str, *params: Any) -> Op[tuple[Any, ...] | None]:
    result = yield Query(sql, params)
    return result.one()


def scalar(sql: str, *params: Any) -> Op[Any]:
    result = yield Query(sql, params)
    return result.scalar()


BEGIN_WRITE = "-- begin the write transaction now"  # a Query that only opens the transaction (see operations)
_WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER)\b|\bFOR\s+UPDATE\b", re.IGNORECASE)


@functools.lru_cache(maxsize=1024)
def is_write(sql: str) -> bool:
    """Whether a statement writes (or locks rows, or is :data:`BEGIN_WRITE`): the first one opens the transaction."""
    return sql == BEGIN_WRITE or _WRITE.search(sql) is not None


@functools.lru_cache(maxsize=1024)
def postgres_sql(sql: str) -> str:
    """A statement as psycopg takes it: ``%s`` placeholders, literal ``%`` doubled."""
    return sql.replace("%", "%%").replace("?", "%s")


_ANY = re.compile(r"=\s*ANY\(\?\)")


@functools.lru_cache(maxsize=1024)
def sqlite_sql(sql: str) -> str:
    """A statement in SQLite's dialect (see the module docstring)."""
    return _ANY.sub("IN (SELECT value FROM json_each(?))", sql).replace("greatest(", "max(")


def as_time(value: float | datetime | None) -> datetime | None:
    """A stored timestamp as an aware UTC datetime (SQLite keeps epoch seconds, PostgreSQL ``timestamptz``)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return datetime.fromtimestamp(value, UTC)


def as_json(value: str | None) -> Any:
    """A stored JSON value (both engines hand JSON columns over as text)."""
    return None if value is None else json.loads(value)


def as_vector(value: bytes | np.ndarray | None) -> np.ndarray | None:
    """A stored embedding as a float32 array."""
    if value is None:
        return None
    if isinstance(value, np.ndarray):
        return value.astype(np.float32, copy=False)
    return np.frombuffer(value, dtype=np.float32)


def timestamp(value: datetime) -> float:
    """SQLite's form of a datetime: seconds since the epoch (naive values are taken as UTC)."""
    return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).timestamp()


def stored_time(value: datetime) -> datetime:
    """``value`` as it reads back from either store (microseconds, UTC), so a saved copy compares equal."""
    return datetime.fromtimestamp(timestamp(value), UTC)
