"""Retention: an agent's policy of how long recall messages are kept and how many archival passages.

``AgentSettings.recall_retention_days``: messages older than that many days that are out of the context window
are deleted (the FIFO is never touched), and counted in a note in the recursive summary, so the agent knows
its recall memory starts later. ``AgentSettings.archival_max_passages``: the oldest passages beyond that many
are deleted. Both None (the default) keep everything. ``memgpt maintenance`` and the server (every
``MEMGPT_MAINTENANCE_INTERVAL`` seconds) apply every agent's policy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from memgpt.memory.agent_state import AgentState
from memgpt.memory.protocols import Store

NOTE = re.compile(r"\n?\(Retention: (\d+) messages? older than (\d+) days? (?:was|were) deleted\.\)")


@dataclass(frozen=True, slots=True)
class RetentionResult:
    agent_id: str
    agent: str
    user_id: str
    messages: int
    passages: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "agent_id": self.agent_id,
            "agent": self.agent,
            "user_id": self.user_id,
            "messages_deleted": self.messages,
            "passages_deleted": self.passages,
        }


def has_policy(state: AgentState) -> bool:
    return state.settings.recall_retention_days is not None or state.settings.archival_max_passages is not None


def summary_with_note(summary: str, deleted: int, days: int) -> str:
    """The summary with its retention note counting ``deleted`` more messages."""
    found = NOTE.search(summary)
    total = deleted + (int(found.group(1)) if found else 0)
    base = NOTE.sub("", summary).rstrip()
    note = f"(Retention: {total} messages older than {days} days were deleted.)"
    return f"{base}\n{note}" if base else note


async def apply_retention(store: Store, state: AgentState, now: datetime) -> RetentionResult:
    """Apply the agent's policy (the caller holds its lock); what was deleted."""
    settings = state.settings
    message_ids: list[str] = []
    passage_ids: list[str] = []
    if settings.recall_retention_days is not None:
        cutoff = now - timedelta(days=settings.recall_retention_days)
        message_ids = await store.ids_before("messages", state.id, cutoff, keep=state.fifo_ids)
    if settings.archival_max_passages is not None:
        passage_ids = await store.oldest_passages_over(state.id, settings.archival_max_passages)
    if message_ids or passage_ids:
        async with store.transaction():
            deleted, removed = await store.forget_rows(state.id, message_ids, passage_ids)
            if deleted:
                current = await store.get_agent(state.user_id, state.id)
                assert settings.recall_retention_days is not None
                current.summary = summary_with_note(current.summary, deleted, settings.recall_retention_days)
                await store.save_agent(current)
        await store.erase_deleted()
        return RetentionResult(state.id, state.name, state.user_id, deleted, removed)
    return RetentionResult(state.id, state.name, state.user_id, 0, 0)
