"""An agent's events as Letta's response messages: whole (a ``LettaResponse``) or as streamed chunks.

With ``stream_tokens`` the inner monologue and the ``send_message`` text go out piece by piece as the model
generates them (chunks of one message share its ``id`` and ``otid``, as Letta's do); the whole message the
agent emits once it is stored is then not sent again. Without it, every message goes out whole, once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from memgpt.agent.events import AgentEvent
from memgpt.server.letta import convert

Json = dict[str, Any]
ASSISTANT_TOOL = convert.ASSISTANT_TOOL


@dataclass
class LettaMessages:
    """Converts one input's events, in order, into Letta messages and keeps its stop reason and usage."""

    stream_tokens: bool = False
    stop_reason: str = "end_turn"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    steps: int = 0
    _streamed: set[tuple[str, str]] = field(default_factory=set)  # (message id, part) already sent in pieces

    def convert(self, event: AgentEvent) -> list[Json]:
        """The Letta messages (or chunks) this event becomes; many events become none."""
        data, kind = event.data, event.type
        message_id = str(data.get("message_id", ""))
        base = {"id": message_id, "date": convert.date(event.time)}
        if kind == "usage":
            self.prompt_tokens += int(data.get("prompt_tokens") or 0)
            self.completion_tokens += int(data.get("completion_tokens") or 0)
            self.steps += 1
            return []
        if kind == "step_limit":
            self.stop_reason = "max_steps"
            return []
        if kind in ("inner_monologue_delta", "assistant_message_delta"):
            return self._piece(kind, base, event.content or "", int(data.get("call") or 0))
        if kind == "inner_monologue" and (message_id, "reasoning") not in self._streamed:
            reasoning = {"message_type": "reasoning_message", "reasoning": event.content or ""}
            return [base | reasoning | {"otid": convert.otid(message_id, 0)}]
        if kind == "assistant_message" and (message_id, "assistant") not in self._streamed:
            assistant = {"message_type": "assistant_message", "content": event.content or ""}
            return [base | assistant | {"otid": convert.otid(message_id, 1)}]
        if kind == "function_call" and event.content != ASSISTANT_TOOL:
            return [base | convert.tool_call(event.content or "", str(data.get("arguments", "")), str(data.get("id")))]
        if kind == "function_result" and data.get("name") != ASSISTANT_TOOL:
            status = "error" if data.get("status") == "Failed" else "success"
            returned = {
                "message_type": "tool_return_message",
                "tool_return": event.content or "",
                "status": status,
                "tool_call_id": str(data.get("id", "")),
                "stdout": [],
                "stderr": [],
            }
            return [base | returned]
        return []

    def _piece(self, kind: str, base: Json, text: str, call: int) -> list[Json]:
        if not self.stream_tokens or not text:
            return []
        message_id = base["id"]
        if kind == "inner_monologue_delta":
            self._streamed.add((message_id, "reasoning"))
            return [
                base | {"message_type": "reasoning_message", "reasoning": text, "otid": convert.otid(message_id, 0)}
            ]
        self._streamed.add((message_id, "assistant"))
        otid = convert.otid(message_id, call + 1)
        return [base | {"message_type": "assistant_message", "content": text, "otid": otid}]

    def stop(self) -> Json:
        return {"message_type": "stop_reason", "stop_reason": self.stop_reason}

    def usage(self) -> Json:
        return {
            "message_type": "usage_statistics",
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "step_count": self.steps,
        }
