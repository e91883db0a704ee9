"""The base function set: the agent's only way to act on the user and on its memory."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

from memgpt.memory.block_edits import save_edit
from memgpt.memory.redaction import redact_for
from memgpt.memory.search import RESULTS_MAX
from memgpt.memory.types import Passage, SearchHit, SearchPage
from memgpt.tools.context import ToolContext, ToolError
from memgpt.validation import check_page

MAX_PAUSE_MINUTES = 360
MAX_NEIGHBOURS = 5


async def send_message(ctx: ToolContext, message: str) -> str:
    """Send a message to the user. This is the only way the user sees what you say.

    Args:
        message: The text to send, in your persona's voice.
    """
    if not message.strip():
        raise ToolError("message is empty: write what the user should read.")
    ctx.sent_messages.append(message)
    return "Sent."


async def core_memory_append(ctx: ToolContext, label: str, content: str) -> str:
    """Append a line to a core memory block (always in your context).

    Args:
        label: The block to edit, e.g. "human" or "persona".
        content: The text to add.
    """
    content = redact_for(ctx.agent.settings, content).text
    block = await save_edit(
        ctx.store,
        ctx.agent.user_id,
        ctx.memory,
        lambda memory: memory.append(label, content),
        agent_id=ctx.agent.id,
        cause=ctx.edit_cause("core_memory_append"),
    )
    ctx.memory_edited = True
    return f"Appended to {label!r} ({len(block.value)}/{block.limit} characters used)."


async def core_memory_replace(ctx: ToolContext, label: str, old_content: str, new_content: str) -> str:
    """Replace text in a core memory block; an empty new_content deletes old_content.

    Args:
        label: The block to edit, e.g. "human" or "persona".
        old_content: The exact text to replace, as it appears in the block.
        new_content: The replacement text.
    """
    new_content = redact_for(ctx.agent.settings, new_content).text
    block = await save_edit(
        ctx.store,
        ctx.agent.user_id,
        ctx.memory,
        lambda memory: memory.replace(label, old_content, new_content),
        agent_id=ctx.agent.id,
        cause=ctx.edit_cause("core_memory_replace"),
    )
    ctx.memory_edited = True
    return f"Replaced in {label!r} ({len(block.value)}/{block.limit} characters used)."


async def conversation_search(ctx: ToolContext, query: str, page: int = 0) -> str:
    """Search past messages (recall memory) by words and meaning, best match first; those in view are left out.

    Args:
        query: What to look for.
        page: Result page, starting at 0.
    """
    check_page(page, ctx.agent.settings.page_size)

    async def first(depth: int) -> SearchPage:
        return await ctx.store.search_messages(
            ctx.agent.id,
            query,
            page_size=depth,
            exclude_ids=ctx.agent.fifo_ids,  # already in the context window: results bring in what is not
        )

    # pages are slices of one ranking; within one input later pages continue what the agent was shown
    # (ChainSearches: no message twice as messages arrive or are evicted), page 0 searches afresh
    results = await ctx.searches.page("messages", query, page, ctx.agent.settings.page_size, first)
    return _format_page(results, "messages", lambda h: f"{h.role}: {h.text}")


async def conversation_search_date(ctx: ToolContext, start_date: str, end_date: str, page: int = 0) -> str:
    """Search past messages sent between two dates (inclusive), oldest first.

    Args:
        start_date: First day, ISO format YYYY-MM-DD.
        end_date: Last day, ISO format YYYY-MM-DD.
        page: Result page, starting at 0.
    """
    check_page(page, ctx.agent.settings.page_size)
    start = datetime.combine(_parse_date(start_date, "start_date"), time.min, UTC)
    end = _end_of_day(_parse_date(end_date, "end_date"))
    if end <= start:
        raise ToolError(f"end_date {end_date} is before start_date {start_date}.")
    results = await ctx.store.search_messages_by_date(
        ctx.agent.id, start, end, page=page, page_size=ctx.agent.settings.page_size
    )
    return _format_page(results, "messages", lambda h: f"{h.role}: {h.text}")


async def archival_memory_insert(ctx: ToolContext, content: str) -> str:
    """Save a passage to archival memory, for facts and notes too long or too many for core memory.

    Args:
        content: The text to store; make it self-contained so it reads well when found later.
    """
    origin = {"kind": "tool_call", "tool_call_id": ctx.call_id, "message_id": ctx.message_id}
    redacted = redact_for(ctx.agent.settings, content)
    metadata: dict[str, object] = {"inserted_by": origin}
    if redacted.total:
        metadata["redactions"] = dict(redacted.counts)
    passage = Passage(text=redacted.text, created_at=ctx.now, metadata=metadata)
    await ctx.store.insert_passages(ctx.agent.id, [passage])
    ctx.passages_added += 1
    return "Saved to archival memory."


async def archival_memory_search(ctx: ToolContext, query: str, page: int = 0) -> str:
    """Search archival memory (your notes and loaded documents) by meaning and exact words, best match first.

    Args:
        query: What to look for.
        page: Result page, starting at 0.
    """
    check_page(page, ctx.agent.settings.page_size)

    async def first(depth: int) -> SearchPage:
        return await ctx.store.search_passages(ctx.agent.id, query, page_size=depth)

    results = await ctx.searches.page("passages", query, page, ctx.agent.settings.page_size, first)
    return _format_page(results, "passages", lambda h: _passage_line(h.id, h.text, h.metadata))


async def archival_memory_read(ctx: ToolContext, passage_id: str, before: int = 0, after: int = 1) -> str:
    """Read a document passage found by archival_memory_search together with the chunks around it.

    Args:
        passage_id: The id shown with the search result.
        before: How many earlier chunks of the same document to include, 0 to 5.
        after: How many later chunks of the same document to include, 0 to 5.
    """
    for name, value in (("before", before), ("after", after)):
        if not 0 <= value <= MAX_NEIGHBOURS:
            raise ToolError(f"{name} must be between 0 and {MAX_NEIGHBOURS}, got {value}.")
    passages = await ctx.store.read_passage_context(ctx.agent.id, passage_id.strip(), before=before, after=after)
    if len(passages) == 1 and "chunk" not in passages[0].metadata:
        return f"{passages[0].text}\n(This is one of your own notes: it has no neighbouring chunks.)"
    return "\n\n".join(f"{_passage_line(p.id, '', p.metadata).rstrip()}\n{p.text}" for p in passages)


async def pause_heartbeats(ctx: ToolContext, minutes: int) -> str:
    """Ask not to be woken by timed heartbeats for a while.

    Args:
        minutes: How long to pause, 1 to 360.
    """
    if not 1 <= minutes <= MAX_PAUSE_MINUTES:
        raise ToolError(f"minutes must be between 1 and {MAX_PAUSE_MINUTES}, got {minutes}.")
    return (
        f"Paused for {minutes} minutes. Timed heartbeats are not enabled in this deployment, "
        "so you will next run when a message or event arrives."
    )


BASE_TOOLS = (
    send_message,
    core_memory_append,
    core_memory_replace,
    conversation_search,
    conversation_search_date,
    archival_memory_insert,
    archival_memory_search,
    archival_memory_read,
    pause_heartbeats,
)
NO_HEARTBEAT_TOOLS = frozenset({"send_message", "pause_heartbeats"})


def _parse_date(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        raise ToolError(f"{name} {value!r} is not an ISO date; use YYYY-MM-DD, e.g. 2024-05-18.") from None


def _end_of_day(day: date) -> datetime:
    """The first instant after ``day`` (the last instant there is for 9999-12-31, the last day there is)."""
    if day == date.max:
        return datetime.max.replace(tzinfo=UTC)
    return datetime.combine(day, time.min, UTC) + timedelta(days=1)


def _passage_line(passage_id: str, text: str, metadata: dict[str, object]) -> str:
    """A passage with its citation: source path, title, page or section, chunk, and (for documents) its id."""
    source = metadata.get("source") or metadata.get("title")
    if not source:
        return text
    where = [str(source)]
    title = metadata.get("title")
    if title and title != source and str(title).lower() not in str(source).lower():
        where.append(f'"{title}"')
    for key in ("page", "section", "chunk"):
        if metadata.get(key) is not None:
            where.append(f"{key} {metadata[key]}")
            last = metadata.get(f"last_{key}")
            if key in ("page", "section") and last is not None:
                where[-1] += f"-{last}" if key == "page" else f" … {last}"
    if "chunk" in metadata:
        where.append(f"id {passage_id}")
    return f"[{', '.join(where)}] {text}"


def _format_page(results: SearchPage, what: str, line: Callable[[SearchHit], str]) -> str:
    """A page of hits under a header that says where the page lies in the ranking and whether more follow."""
    if not results.hits:
        if results.page > 0 and results.total:
            return f"No more {what}: all {results.total} results are on pages 0-{results.pages - 1}."
        return f"No {what} found."
    first = results.page * results.page_size + 1
    last = first + len(results.hits) - 1
    if last < results.total:
        ending = f"more on page {results.page + 1}."
    elif results.total >= RESULTS_MAX:
        ending = f"no more results (a search returns its best {RESULTS_MAX})."
    else:
        ending = "no more results."
    header = (
        f"Showing {what} {first}-{last} of {results.total} (page {results.page} of 0-{results.pages - 1}): {ending}"
    )
    rows = [f"- [{hit.created_at:%Y-%m-%d %H:%M}] {line(hit)}" for hit in results.hits]
    return "\n".join([header, *rows])
