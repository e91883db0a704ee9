"""The queue manager: token budget, memory-pressure warning, eviction and the recursive summary.

Token accounting: each request is estimated locally (``memgpt.llm.tokens``, which errs high) and
scaled by a calibration ratio learned from the ``prompt_tokens`` the provider reports. A reserve
for the reply is kept free, since providers count the completion against the same window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from memgpt.llm.base import ChatRequest, LLMClient
from memgpt.llm.tokens import TokenCalibrator, estimate_tokens
from memgpt.memory.agent_state import AgentSettings
from memgpt.memory.types import Message
from memgpt.validation import to_text

SUMMARY_INSTRUCTIONS = (
    "You maintain the running summary of a long conversation between an AI agent and a user. "
    "Rewrite the previous summary together with the newer messages below into one updated summary. "
    "Keep what matters later: names, facts about the user, preferences, plans and decisions, dates, "
    "open questions and what the agent promised. Drop greetings and filler. Write plain prose in the "
    "third person, at most {words} words. Reply with the summary only."
)


@dataclass(slots=True)
class Budget:
    """The thresholds of one agent's window, in tokens."""

    context_window: int
    warning: int
    flush: int
    target: int
    reply_reserve: int

    @classmethod
    def of(cls, context_window: int, settings: AgentSettings) -> Budget:
        reserve = min(2048, context_window // 8)
        return cls(
            context_window=context_window,
            warning=int(context_window * settings.warning_fraction),
            flush=min(int(context_window * settings.flush_fraction), context_window - reserve),
            target=int(context_window * settings.target_fraction),
            reply_reserve=reserve,
        )


def groups(fifo: Sequence[Message]) -> list[int]:
    """Indices where an evictable group starts: a tool result is never split from its call."""
    return [i for i, m in enumerate(fifo) if m.role != "tool"]


def group_of(fifo: Sequence[Message], index: int) -> Sequence[Message]:
    """The group holding ``fifo[index]``: a message with the tool results that follow it."""
    starts = groups(fifo)
    start = max((s for s in starts if s <= index), default=0)
    end = min((s for s in starts if s > index), default=len(fifo))
    return fifo[start:end]


def eviction_count(
    fifo: Sequence[Message], token_counts: Sequence[int], fixed_tokens: int, target: int, keep_last: int
) -> int:
    """How many messages to evict from the front so the prompt fits ``target`` tokens.

    Evicts whole groups only and always keeps at least the last ``keep_last`` messages (or the last
    group, if that is longer).
    """
    total = fixed_tokens + sum(token_counts)
    boundaries = [b for b in groups(fifo) if b > 0] + [len(fifo)]
    limit = max(0, len(fifo) - keep_last)
    evict = 0
    for boundary in boundaries:
        if total <= target or boundary > limit:
            break
        total -= sum(token_counts[evict:boundary])
        evict = boundary
    return evict


def transcript_line(message: Message) -> str:
    """One message as the summariser reads it (clean text, whatever is stored)."""
    when = f"{message.created_at:%Y-%m-%d %H:%M}"
    if message.role == "assistant":
        parts = [f"(thinking) {message.content}"] if message.content else []
        parts += [f"called {c.name}({c.arguments})" for c in message.tool_calls]
        return to_text(f"[{when}] assistant: " + " ".join(parts))
    if message.role == "tool":
        return to_text(f"[{when}] function result: {message.content}")
    sender = f"{message.role} ({message.name})" if message.role == "user" and message.name else message.role
    return to_text(f"[{when}] {sender}: {message.content}")


class QueueManager:
    """Decides when to warn and what to evict, and writes the recursive summary."""

    def __init__(self, context_window: int, settings: AgentSettings) -> None:
        self.budget = Budget.of(context_window, settings)
        self.keep_last = settings.keep_last_messages
        self.calibrator = TokenCalibrator()

    def tokens(self, estimate: int) -> int:
        """Calibrated prompt tokens for a local estimate."""
        return self.calibrator.count(estimate)

    def observe(self, estimate: int, reported_prompt_tokens: int | None) -> None:
        """Learn from what the provider reported for a request we estimated."""
        if reported_prompt_tokens:
            self.calibrator.update(estimate, reported_prompt_tokens)

    def over_flush(self, tokens: int) -> bool:
        return tokens > self.budget.flush

    def over_warning(self, tokens: int) -> bool:
        return tokens >= self.budget.warning

    async def summarize(self, llm: LLMClient, previous: str, evicted: Sequence[Message]) -> str:
        """Fold ``evicted`` into ``previous`` with one LLM call per chunk that fits the window."""
        words = max(60, min(600, self.budget.context_window // 16))
        instructions = SUMMARY_INSTRUCTIONS.format(words=words)
        room = int(self.budget.context_window * 0.6) - estimate_tokens(instructions) - words * 2
        summary = previous
        for chunk in self._chunks([transcript_line(m) for m in evicted], room):
            body = f"Previous summary:\n{to_text(summary) or '(none)'}\n\nNewer messages:\n" + "\n".join(chunk)
            request = ChatRequest(
                messages=[{"role": "system", "content": instructions}, {"role": "user", "content": body}],
                max_tokens=words * 2,
            )
            reply = await llm.chat(request)
            summary = (reply.content or "").strip() or summary
        return summary

    @staticmethod
    def _chunks(lines: list[str], room: int) -> list[list[str]]:
        chunks: list[list[str]] = [[]]
        used = 0
        for line in lines:
            cost = estimate_tokens(line)
            if cost > room:  # one huge message: keep its head, the rest stays in recall memory
                line = line[: room * 3] + " [...]"
                cost = estimate_tokens(line)
            if used + cost > room and chunks[-1]:
                chunks.append([])
                used = 0
            chunks[-1].append(line)
            used += cost
        return [c for c in chunks if c]
