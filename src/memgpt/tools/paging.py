"""The pages of a search within one chain of steps: what the agent was shown stays where it was.

A store's search ranks each query once, whatever the page (:mod:`memgpt.storage.hybrid_search`), but
between two steps the store can change: the agent's own messages join recall, an eviction brings
messages back into the search's reach. :class:`ChainSearches` keeps what the chain has been shown of
each query's ranking, so that its pages never repeat a hit, nor skip one, while the agent handles one
input.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from memgpt.errors import ValidationError
from memgpt.memory.search import RESULTS_MAX
from memgpt.memory.types import SearchHit, SearchPage

Fetch = Callable[[int], Awaitable[SearchPage]]  # the first n results of the store's ranking, as one page


@dataclass(slots=True)
class _Seen:
    hits: list[SearchHit]  # the query's ranking as far as this chain has read it
    total: int
    ended: bool


class ChainSearches:
    """The rankings the agent paged through while handling one input (every step of its chain).

    ``page=0`` starts a query over: it reads the store as it is now (so a passage saved a step earlier is
    found). A later page is cut from the ranking this chain has read so far; only when it reaches past it
    is the store read again, and then the hits not shown yet are appended in the store's order. Across
    inputs nothing is kept: page *n* of a new chain is page *n* of the store's ranking at that time.
    """

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], _Seen] = {}

    async def page(self, kind: str, query: str, page: int, page_size: int, fetch: Fetch) -> SearchPage:
        """Page ``page`` of ``query``'s ranking in the search ``kind`` (``"messages"``, ``"passages"``)."""
        if page < 0:
            raise ValidationError(f"page must be 0 or more, got {page}.")
        start, end = page * page_size, (page + 1) * page_size
        seen = None if page == 0 else self._seen.get((kind, query))
        if seen is None or (len(seen.hits) < end and not seen.ended):
            depth = min(end, RESULTS_MAX) if start < RESULTS_MAX else 1  # past the end: only the count
            seen = _extend(seen, await fetch(depth), depth)
            self._seen[(kind, query)] = seen
        return SearchPage(hits=seen.hits[start:end], page=page, page_size=page_size, total=seen.total)


def _extend(seen: _Seen | None, fresh: SearchPage, depth: int) -> _Seen:
    """What was seen, with the hits of ``fresh`` (the first ``depth`` of the ranking now) not seen yet."""
    shown = {hit.id for hit in seen.hits} if seen is not None else set()
    hits = (seen.hits if seen is not None else []) + [hit for hit in fresh.hits if hit.id not in shown]
    ended = len(fresh.hits) < depth or depth >= RESULTS_MAX
    total = min(RESULTS_MAX, len(hits)) if ended else max(fresh.total, len(hits) + 1)
    return _Seen(hits[:RESULTS_MAX], total, ended)
