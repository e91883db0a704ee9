"""The reply script shared by the scripted LLM server and its in-process twin.

A script is a JSON list of replies consumed in order, or an object::

    {"replies": [...], "default": {...}, "no_tools_reply": {...}, "context_window": 3000}

Each reply is an object with any of:

- ``content``: text (the agent's inner monologue, or a summary);
- ``tool_calls``: ``[{"name": "send_message", "arguments": {...}}]``; ``arguments`` given as a string
  is sent verbatim, which lets a test send invalid JSON;
- ``error``: ``{"status": 400, "code": "context_length_exceeded", "message": "..."}`` answers with an
  error instead;
- ``delay``: seconds to wait before answering;
- ``interval``: seconds between the chunks of a streamed reply (to watch a client render it as it comes);
- ``raw``: ``{"status": 200, "content_type": "application/json", "body": "..."}`` answers with exactly these
  bytes (``body`` as text, ``body_base64`` for bytes that are not UTF-8, or ``bytes`` from Python), plain or
  streamed alike: for testing what a client does with a broken endpoint.

``default`` answers once the list is used up (without it, an exhausted script is an HTTP 500 error).
``no_tools_reply`` answers every request that carries no tools (such as the summariser's) without
consuming the list. With ``context_window``, a request whose estimated tokens exceed it is refused
with ``context_length_exceeded``, as a real provider would.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from memgpt.llm.tokens import estimate_message_tokens, estimate_tokens, estimate_tools_tokens

Policy = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(slots=True)
class Reply:
    content: str | None = None
    tool_calls: list[tuple[str, str]] = field(default_factory=list)  # (name, raw arguments)
    error: dict[str, Any] | None = None
    delay: float = 0.0
    interval: float = 0.0
    raw: RawReply | None = None

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Reply:
        calls = []
        for call in data.get("tool_calls") or []:
            arguments = call.get("arguments", {})
            calls.append((str(call["name"]), arguments if isinstance(arguments, str) else json.dumps(arguments)))
        return cls(
            content=data.get("content"),
            tool_calls=calls,
            error=data.get("error"),
            delay=float(data.get("delay", 0)),
            interval=float(data.get("interval", 0)),
            raw=RawReply.parse(data["raw"]) if data.get("raw") is not None else None,
        )


@dataclass(frozen=True, slots=True)
class RawReply:
    """A reply sent byte for byte as given, whatever the request asked for."""

    body: bytes
    status: int = 200
    content_type: str = "application/json"

    @classmethod
    def parse(cls, data: dict[str, Any]) -> RawReply:
        body = data.get("body", b"")
        if "body_base64" in data:
            body = base64.b64decode(data["body_base64"])
        elif isinstance(body, str):
            body = body.encode("utf-8", "surrogatepass")
        return cls(bytes(body), int(data.get("status", 200)), str(data.get("content_type", "application/json")))


class ScriptExhaustedError(Exception):
    """The script has no reply left and no default."""


def request_tokens(body: dict[str, Any]) -> int:
    """The estimated prompt tokens of a chat request (what usage reports and context_window checks)."""
    return estimate_message_tokens(body.get("messages", [])) + estimate_tools_tokens(body.get("tools") or [])


def reply_tokens(reply: Reply) -> int:
    return estimate_tokens(reply.content or "") + sum(estimate_tokens(a) + 8 for _, a in reply.tool_calls)


class ScriptPlayer:
    """Hands out replies in order (thread-safe); a policy function may stand in for the list."""

    def __init__(self, script: Any) -> None:
        self._lock = threading.Lock()
        self._policy: Policy | None = script if callable(script) else None
        if callable(script):
            script = {}
        data: dict[str, Any] = {"replies": script} if isinstance(script, list) else dict(script)
        self.replies = [Reply.parse(r) for r in data.get("replies", [])]
        self.default = Reply.parse(data["default"]) if data.get("default") else None
        self.no_tools = Reply.parse(data["no_tools_reply"]) if data.get("no_tools_reply") else None
        self.context_window: int | None = data.get("context_window")
        self.position = 0

    def next(self, body: dict[str, Any]) -> tuple[int, Reply]:
        """The reply to ``body`` and its index in the script (-1 for default / no-tools / policy replies)."""
        if self.context_window and request_tokens(body) > self.context_window:
            return -1, Reply(
                error={
                    "status": 400,
                    "code": "context_length_exceeded",
                    "message": f"This model's maximum context length is {self.context_window} tokens.",
                }
            )
        if self._policy is not None:
            return -1, Reply.parse(self._policy(body))
        if self.no_tools is not None and not body.get("tools"):
            return -1, self.no_tools
        with self._lock:
            if self.position < len(self.replies):
                self.position += 1
                return self.position - 1, self.replies[self.position - 1]
        if self.default is not None:
            return -1, self.default
        raise ScriptExhaustedError(f"the script's {len(self.replies)} replies are used up and it has no default")


_WORD = re.compile(r"\w+")


def pseudo_embedding(text: str, dim: int = 64) -> list[float]:
    """A deterministic hashed bag-of-words vector (unit length): texts sharing words are close."""
    vector = [0.0] * dim
    for word in _WORD.findall(text.lower()):
        digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
        vector[int.from_bytes(digest[:4], "little") % dim] += 1.0 if digest[4] & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]
