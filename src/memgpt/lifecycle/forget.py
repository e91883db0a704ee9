"""Forgetting: removing messages and passages from everywhere they lived, and what was derived from them.

A selection (message ids, passage ids, everything before a date, or every message and passage whose text
contains a query, case-insensitively) is first *planned*: the rows it names, widened so that a tool call
never loses its results (nor a result its call), the core-memory blocks that still contain the forgotten
text, and whether the recursive summary must be rewritten. Applying the plan, under the agent's lock and in
one transaction: the rows go (with their full-text entries, embeddings and vector-index entries), the FIFO
drops them, the summary is replaced by its rewrite (one LLM call made before the transaction; without an LLM,
or when the rewrite still quotes the forgotten text, by a note, and the report says so), the blocks the
caller chose are edited, and the forgotten text is scrubbed from the blocks' edit history. After the commit
the engine erases what it can of the deleted bytes (:meth:`memgpt.memory.protocols.LifecycleStore.erase_deleted`).
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from memgpt.errors import ConfigError, LLMError, ValidationError
from memgpt.llm.base import ChatRequest, LLMClient
from memgpt.memory.agent_state import AgentState
from memgpt.memory.blocks import Block
from memgpt.memory.history import EditCause, scrub
from memgpt.memory.protocols import Store
from memgpt.memory.types import Message, Passage, utcnow

log = logging.getLogger(__name__)
SCAN_BATCH = 500
GROUP_REACH = 64  # messages looked at around a selected one for the rest of its tool-call group
MIN_NEEDLE = 12  # a forgotten text this long or longer is looked for verbatim in blocks and the summary
PREVIEW_CHARS = 160
SummaryAction = Literal["unchanged", "rewritten", "replaced"]

REWRITE_INSTRUCTIONS = (
    "You maintain the running summary of a conversation between an AI agent and a user. The user asked the "
    "agent to forget some messages. Rewrite the summary so that it no longer contains, paraphrases or implies "
    "anything that came from the forgotten messages listed below; keep everything else as it is. Reply with the "
    "summary only."
)


@dataclass(frozen=True, slots=True)
class Selection:
    """What to forget; at least one of the four."""

    message_ids: tuple[str, ...] = ()
    passage_ids: tuple[str, ...] = ()
    before: datetime | None = None
    query: str | None = None

    def check(self) -> None:
        if not (self.message_ids or self.passage_ids or self.before or self.query):
            raise ValidationError("Say what to forget: message ids, passage ids, a date (before) or a query.")
        if self.query is not None and len(self.query.strip()) < 3:
            raise ValidationError("A forget query must have at least 3 characters (it matches text verbatim).")
        if self.before is not None and self.before.tzinfo is None:
            raise ValidationError("The date to forget before must have a time zone (e.g. 2026-01-31T00:00:00+00:00).")


@dataclass(frozen=True, slots=True)
class ForgetItem:
    kind: Literal["message", "passage"]
    id: str
    text: str  # the start of the text, for the preview
    created_at: datetime
    role: str | None = None
    in_context: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.id,
            "role": self.role,
            "text": self.text,
            "created_at": self.created_at.isoformat(),
            "in_context": self.in_context,
        }


@dataclass(frozen=True, slots=True)
class BlockMatch:
    """A core-memory block that contains forgotten text."""

    label: str
    block_id: str
    value: str

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "block_id": self.block_id, "value": self.value}


@dataclass(slots=True)
class ForgetReport:
    """What a forget removes (a preview) or removed (``applied``)."""

    agent: str
    items: list[ForgetItem]
    blocks: list[BlockMatch]  # blocks that contain forgotten text (after the edits, if applied)
    summary_affected: bool
    applied: bool = False
    summary: SummaryAction = "unchanged"
    summary_flagged: bool = False  # the summary was replaced by a note: no LLM, or its rewrite still quoted it
    blocks_edited: list[str] = field(default_factory=list)
    history_scrubbed: int = 0

    @property
    def messages(self) -> int:
        return sum(1 for i in self.items if i.kind == "message")

    @property
    def passages(self) -> int:
        return sum(1 for i in self.items if i.kind == "passage")

    def to_dict(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "applied": self.applied,
            "messages": self.messages,
            "passages": self.passages,
            "items": [i.to_dict() for i in self.items],
            "blocks": [b.to_dict() for b in self.blocks],
            "summary_affected": self.summary_affected,
            "summary": self.summary,
            "summary_flagged": self.summary_flagged,
            "blocks_edited": self.blocks_edited,
            "history_scrubbed": self.history_scrubbed,
        }


@dataclass(slots=True)
class Plan:
    state: AgentState
    messages: list[Message]
    passages: list[Passage]
    needles: list[str]

    @property
    def message_ids(self) -> list[str]:
        return [m.id for m in self.messages]

    @property
    def passage_ids(self) -> list[str]:
        return [p.id for p in self.passages]


# ----------------------------------------------------------------------------- planning
async def plan(store: Store, state: AgentState, selection: Selection) -> Plan:
    """The rows ``selection`` names (widened to whole tool-call groups) and the texts to look for elsewhere."""
    selection.check()
    messages: dict[str, Message] = {}
    passages: dict[str, Passage] = {}
    if selection.message_ids:
        messages |= {m.id: m for m in await store.get_messages(state.id, list(dict.fromkeys(selection.message_ids)))}
    if selection.passage_ids:
        passages |= {p.id: p for p in await store.get_passages(state.id, list(dict.fromkeys(selection.passage_ids)))}
    if selection.before is not None:
        for ids in _batches(await store.ids_before("messages", state.id, selection.before)):
            messages |= {m.id: m for m in await store.get_messages(state.id, ids)}
        for ids in _batches(await store.ids_before("passages", state.id, selection.before)):
            passages |= {p.id: p for p in await store.get_passages(state.id, ids)}
    if selection.query is not None:
        needle = selection.query.strip().casefold()
        async for message in _all_messages(store, state.id):
            if any(needle in text.casefold() for text in message_texts(message)):
                messages[message.id] = message
        async for passage in _all_passages(store, state.id):
            if needle in passage.text.casefold():
                passages[passage.id] = passage
    for message in await _group_members(store, state.id, list(messages.values())):
        messages.setdefault(message.id, message)
    ordered = sorted(messages.values(), key=lambda m: (m.created_at, m.id))
    return Plan(state, ordered, list(passages.values()), _needles(selection, ordered, list(passages.values())))


def message_texts(message: Message) -> list[str]:
    """Every text a message holds: its content and the string values of its tool calls' arguments."""
    texts = [message.content] if message.content else []
    for call in message.tool_calls:
        texts.append(call.arguments)
        with contextlib.suppress(ValueError, RecursionError):
            texts.extend(_strings(json.loads(call.arguments)))
    return texts


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _needles(selection: Selection, messages: Sequence[Message], passages: Sequence[Passage]) -> list[str]:
    """The texts whose copies elsewhere (blocks, the summary, the blocks' history) count as forgotten text:
    the query, and what the forgotten passages and messages say (when long enough to be told apart)."""
    said = [p.text for p in passages]
    for m in messages:
        if m.role in ("user", "assistant"):
            said += [t for t in message_texts(m) if not t.lstrip().startswith("{")]
    found = [selection.query.strip()] if selection.query else []
    found += [t.strip() for t in said if len(t.strip()) >= MIN_NEEDLE]
    return list(dict.fromkeys(found))


def _batches(ids: Sequence[str], size: int = SCAN_BATCH) -> Iterable[list[str]]:
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


async def _all_messages(store: Store, agent_id: str) -> Any:
    after = None  # keyset paging: each batch starts after the last one's id (no OFFSET rescans)
    while batch := await store.message_window(agent_id, after=after, limit=SCAN_BATCH):
        for message in batch:
            yield message
        after = batch[-1].id


async def _all_passages(store: Store, agent_id: str) -> Any:
    after = None
    while batch := await store.passage_window(agent_id, after=after, limit=SCAN_BATCH):
        for passage in batch:
            yield passage
        after = batch[-1].id


async def _group_members(store: Store, agent_id: str, selected: list[Message]) -> list[Message]:
    """The other messages of the selected ones' tool-call groups: a call's results, a result's call."""
    found: list[Message] = []
    results = {m.tool_call_id for m in selected if m.role == "tool"}  # groups already whole need no lookup
    calls_selected = {c.id for m in selected for c in m.tool_calls}
    for message in selected:
        if message.role == "assistant" and message.tool_calls and not {c.id for c in message.tool_calls} <= results:
            calls = {c.id for c in message.tool_calls}
            after = await store.message_window(agent_id, after=message.id, limit=GROUP_REACH)
            found += [m for m in after if m.role == "tool" and m.tool_call_id in calls]
        elif message.role == "tool" and message.tool_call_id and message.tool_call_id not in calls_selected:
            before = await store.message_window(agent_id, before=message.id, limit=GROUP_REACH, newest=True)
            owner = next((m for m in reversed(before) if any(c.id == message.tool_call_id for c in m.tool_calls)), None)
            if owner is not None:
                found.append(owner)
                found += await _group_members(store, agent_id, [owner])
    return found


def blocks_containing(blocks: Sequence[Block], needles: Sequence[str]) -> list[BlockMatch]:
    folded = [n.casefold() for n in needles]
    return [BlockMatch(b.label, b.id, b.value) for b in blocks if any(n and n in b.value.casefold() for n in folded)]


def summary_affected(plan_: Plan) -> bool:
    """Whether the summary may hold forgotten text: it quotes some, or a forgotten message was evicted into it."""
    summary = plan_.state.summary
    if not summary:
        return False
    in_context = set(plan_.state.fifo_ids)
    return any(m.id not in in_context for m in plan_.messages) or _quotes(summary, plan_.needles)


def _quotes(text: str, needles: Sequence[str]) -> bool:
    folded = text.casefold()
    return any(n.casefold() in folded for n in needles)


def report(plan_: Plan, agent: str) -> ForgetReport:
    in_context = set(plan_.state.fifo_ids)
    items = [
        ForgetItem(
            "message",
            m.id,
            _preview(" ".join(message_texts(m)[:1]) or f"({m.role})"),
            m.created_at,
            m.role,
            m.id in in_context,
        )
        for m in plan_.messages
    ] + [ForgetItem("passage", p.id, _preview(p.text), p.created_at) for p in plan_.passages]
    return ForgetReport(
        agent=agent,
        items=items,
        blocks=blocks_containing(plan_.state.blocks, plan_.needles),
        summary_affected=summary_affected(plan_),
    )


def _preview(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= PREVIEW_CHARS else flat[: PREVIEW_CHARS - 1] + "…"


# ----------------------------------------------------------------------------- the summary
async def rewrite_summary(llm: LLMClient | None, plan_: Plan) -> tuple[str, bool]:
    """The summary without the forgotten messages, and whether it had to be replaced by a note instead."""
    state = plan_.state
    if llm is not None:
        forgotten = "\n".join(f"- {_preview(' '.join(message_texts(m)))}" for m in plan_.messages if m.role != "tool")
        body = f"Summary:\n{state.summary}\n\nForgotten messages:\n{forgotten or '(none)'}"
        if plan_.needles:
            body += "\n\nForgotten text (must not appear):\n" + "\n".join(f"- {n[:200]}" for n in plan_.needles)
        request = ChatRequest(
            messages=[{"role": "system", "content": REWRITE_INSTRUCTIONS}, {"role": "user", "content": body}],
            max_tokens=max(256, len(state.summary) // 2),
        )
        try:
            reply = await llm.chat(request)
        except (LLMError, ConfigError) as exc:
            log.warning("rewriting the summary after a forget failed (%s); replacing it by a note", type(exc).__name__)
        else:
            rewritten = (reply.content or "").strip()
            if rewritten and not _quotes(rewritten, plan_.needles):
                return rewritten, False
            log.warning("the rewritten summary still quoted forgotten text; replacing it by a note")
    note = (
        f"(The summary was removed on {utcnow():%Y-%m-%d} because messages it was written from were forgotten; "
        "older messages that remain are in recall memory.)"
    )
    return note, True


# ----------------------------------------------------------------------------- applying
@dataclass(frozen=True, slots=True)
class BlockEdits:
    """Edits of blocks made by the same forget: new values by label, and/or removing forgotten text from all."""

    values: Mapping[str, str] = field(default_factory=dict)
    scrub: bool = False

    def apply(self, blocks: Sequence[Block], needles: Sequence[str]) -> tuple[list[Block], list[str]]:
        """The changed copies of the blocks, and texts that must also go from the history (replaced values)."""
        known = {b.label for b in blocks}
        unknown = [label for label in self.values if label not in known]
        if unknown:
            raise ValidationError(
                f"The agent has no block labelled {unknown[0]!r}; blocks: {', '.join(sorted(known))}."
            )
        changed: list[Block] = []
        replaced: list[str] = []
        for block in blocks:
            value = self.values.get(block.label, block.value)
            if self.scrub:
                value = _remove(value, needles)
            if value != block.value:
                if len(value) > block.limit:
                    raise ValidationError(f"The new value of block {block.label!r} exceeds its limit of {block.limit}.")
                if block.label in self.values and block.value.strip():
                    replaced.append(block.value.strip())
                copy = Block(
                    block.label, value, block.limit, block.read_only, block.description, block.id, block.version
                )
                changed.append(copy)
        return changed, replaced


def _remove(text: str, needles: Sequence[str]) -> str:
    cleaned = scrub(text, needles).replace("[forgotten]", "")
    lines = [" ".join(line.split()) for line in cleaned.splitlines()]
    return "\n".join(line for line in lines if line.strip())


async def apply(
    store: Store, plan_: Plan, rewritten: tuple[str, bool] | None, edits: BlockEdits, *, via: str
) -> tuple[list[str], int]:
    """Forget the plan's rows in one transaction (the caller holds the agent's lock); the labels of the blocks
    edited and how many history entries were scrubbed."""
    state = plan_.state
    forgotten = set(plan_.message_ids)
    changed, replaced = edits.apply(state.blocks, plan_.needles)
    cause = EditCause("forget", agent_id=state.id, detail={"via": via})
    async with store.transaction():
        await store.forget_rows(state.id, plan_.message_ids, plan_.passage_ids)
        for block in changed:
            await store.update_block(state.user_id, block, agent_id=state.id, cause=cause)
        scrubbed = await store.scrub_block_changes(
            state.user_id, [b.id for b in state.blocks], [*plan_.needles, *replaced]
        )
        current = await store.get_agent(state.user_id, state.id)
        current.fifo_ids = [i for i in current.fifo_ids if i not in forgotten]
        if rewritten is not None:
            current.summary, current.summary_updated_at = rewritten[0], utcnow()
        await store.save_agent(current)
    await store.erase_deleted()
    return [b.label for b in changed], scrubbed
