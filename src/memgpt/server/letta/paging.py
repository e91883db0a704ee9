"""Cursor pagination of Letta's list routes: ``after`` / ``before`` an item's id, in the requested order.

The SDK pages by asking again with ``after=<last id>`` until a page comes back empty, so a route that
ignored the cursor would make it loop for ever; an id that is not in the list is a 404, not a fresh start.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal, TypeVar

from memgpt.errors import NotFoundError

T = TypeVar("T")
Order = Literal["asc", "desc"]


def window(
    items: Sequence[T], key: Callable[[T], str], after: str | None, before: str | None, limit: int, order: Order
) -> list[T]:
    """The page of ``items`` (oldest first as given) in ``order``: after ``after`` and before ``before`` in
    that order, at most ``limit`` (the ones nearest ``before`` when only it is given)."""
    ordered = list(items) if order == "asc" else list(reversed(items))
    ids = [key(item) for item in ordered]
    start, end = 0, len(ordered)
    if after is not None:
        start = _position(ids, after) + 1
    if before is not None:
        end = _position(ids, before)
    chosen = ordered[start:end]
    return chosen[-limit:] if before is not None and after is None else chosen[:limit]


def _position(ids: list[str], cursor: str) -> int:
    try:
        return ids.index(cursor)
    except ValueError:
        raise NotFoundError(f"No item {cursor!r} here: a cursor must be an id a list returned.") from None
