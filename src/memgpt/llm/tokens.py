"""Token counting without network access.

``tiktoken`` downloads its encoding files on first use, which fails offline, so memgpt estimates:
``max(chars / 3.2, words * 1.35 + punctuation)`` per text. GPT-4o's and Claude's BPE tokenizers produce
about chars/4 on English prose, chars/3.5 on code and JSON, so the estimate errs on the high side (it
is a budget: over-counting flushes a little early, under-counting overflows the window). The queue
manager scales it with :class:`TokenCalibrator`, learned from the ``prompt_tokens`` providers report.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

MESSAGE_OVERHEAD = 4
TOOL_OVERHEAD = 8
_PUNCTUATION = frozenset("{}[]\":,.;!?()<>=/\\-_'`*#@$%^&|~+")


def estimate_tokens(text: str) -> int:
    """An estimate of the tokens of ``text`` that errs on the high side."""
    if not text:
        return 0
    by_chars = len(text) / 3.2
    words = text.count(" ") + text.count("\n") + 1
    punctuation = sum(text.count(p) for p in ("{", "}", '"', ":", ",", "[", "]"))
    return int(max(by_chars, words * 1.35 + punctuation * 0.5)) + 1


def estimate_message_tokens(messages: Sequence[dict[str, Any]]) -> int:
    """Tokens of OpenAI-format messages, tool calls included, plus per-message overhead."""
    total = 0
    for message in messages:
        total += MESSAGE_OVERHEAD
        content = message.get("content")
        if isinstance(content, str):
            total += estimate_tokens(content)
        elif isinstance(content, list):  # content parts
            total += estimate_tokens(json.dumps(content, ensure_ascii=False))
        for call in message.get("tool_calls") or ():
            function = call.get("function", {})
            total += (
                TOOL_OVERHEAD
                + estimate_tokens(function.get("name", ""))
                + estimate_tokens(function.get("arguments", ""))
            )
    return total


def estimate_tools_tokens(tools: Sequence[dict[str, Any]]) -> int:
    """Tokens of the ``tools`` array as providers render it (schemas as compact JSON)."""
    return sum(TOOL_OVERHEAD + estimate_tokens(json.dumps(t, separators=(",", ":"))) for t in tools)


class TokenCalibrator:
    """Scales local estimates by what the provider reports (an exponential moving average of the ratio)."""

    def __init__(self, *, smoothing: float = 0.5, low: float = 0.5, high: float = 1.5) -> None:
        self.ratio = 1.0
        self._smoothing = smoothing
        self._low, self._high = low, high

    def update(self, estimate: int, reported: int) -> None:
        """Learn from one request: we estimated ``estimate``, the provider counted ``reported``."""
        if estimate <= 0 or reported <= 0:
            return
        observed = min(self._high, max(self._low, reported / estimate))
        self.ratio = self._smoothing * observed + (1 - self._smoothing) * self.ratio

    def count(self, estimate: int) -> int:
        """The calibrated token count of a local estimate."""
        return int(estimate * self.ratio + 0.999)
