"""The messages of one agent of an agent file, as memgpt stores them: recall, the FIFO, the summary.

Letta keeps a compiled system message (its instructions with the memory of the moment) at the head of the
context and a new one at every rebuild; memgpt compiles its own on every step, so those are not stored.
Letta packages events in user messages (``{"type": "heartbeat" | "login" | "system_alert" | "user_message",
...}``): user messages are unpacked, the others become memgpt's system events, and the last in-context
"summary of the previous N messages" alert becomes the recursive summary. Tool calls keep their ids (made
safe for every provider) and are answered by results named after the function; Letta's memory edits are
stored under memgpt's names, calls of functions memgpt does not have as ``unknown_function`` (how the model
would see them anyway) with the original call in the message's metadata.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import datetime
from typing import Any, Protocol

from memgpt.agent.context import UNKNOWN_FUNCTION, safe_call_id
from memgpt.agentfile.report import ImportReport
from memgpt.agentfile.schema import AgentDoc, ContentPart, MessageDoc, ToolReturnDoc, file_error
from memgpt.errors import ValidationError
from memgpt.memory.types import Message, ToolCall, check_sender_name, new_id, utcnow
from memgpt.tools.base import BASE_TOOLS

MEMGPT_FUNCTIONS = tuple(fn.__name__ for fn in BASE_TOOLS)
# Letta tool calls in a history whose arguments memgpt's function takes under other names
CALL_RENAMES: dict[str, tuple[str, dict[str, str | None]]] = {
    "memory_replace": ("core_memory_replace", {"old_str": "old_content", "new_str": "new_content"}),
    "memory_insert": ("core_memory_append", {"new_str": "content", "insert_line": None}),
}
PACKAGED_TYPES = ("user_message", "system_alert", "heartbeat", "login")
SUMMARY_MARKER = re.compile(r"The following is a summary of the previous (\d+) messages:\s*", re.IGNORECASE)


class Values(Protocol):
    """How the import reads a file's values: text and JSON checked (repairs counted), with its report."""

    report: ImportReport

    def text(self, value: str, path: str) -> str: ...

    def json(self, value: dict[str, Any], path: str) -> dict[str, Any]: ...


class MessageMapper:
    """The messages of one agent: recall in order, the FIFO, and Letta's summary as the recursive summary."""

    def __init__(self, mapper: Values, doc: AgentDoc, path: str) -> None:
        self.m, self.doc, self.path = mapper, doc, path
        self.call_names: dict[str, str] = {}  # call id -> function name, for the tool messages answering it
        self.dropped = Counter[str]()
        self.unknown_calls = Counter[str]()

    def run(self) -> tuple[list[Message], list[str], tuple[str, datetime] | None]:
        """Recall (in time order), the FIFO (the file's in-context order) and the summary, if Letta made one."""
        in_context = self.doc.in_context_message_ids
        first = in_context[0] if in_context else None
        dates = self._dates()
        order = sorted(range(len(self.doc.messages)), key=lambda i: (dates[i], i))
        messages: list[Message] = []
        made: dict[str, list[str]] = {}  # file message id -> the memgpt messages it became
        prompts = 0
        summary: tuple[str, datetime, str] | None = None
        for index in order:
            doc = self.doc.messages[index]
            if self._is_system_prompt(doc, first):
                prompts += 1
                continue
            stored = self.message(doc, f"{self.path}.messages[{index}]", dates[index])
            text = stored[0].metadata.pop("summary_text", None) if stored else None
            if text is not None and doc.id in in_context:
                summary = (text, stored[0].created_at, doc.id)  # the last one in context is the summary
            made[doc.id] = [m.id for m in stored]
            messages.extend(stored)
        skip = summary[2] if summary else None
        fifo = [mid for ref in in_context if ref != skip for mid in made.get(ref, [])]
        self.summarize(prompts, summary)
        return messages, fifo, (summary[0], summary[1]) if summary else None

    def summarize(self, prompts: int, summary: tuple[str, datetime, str] | None) -> None:
        report, path = self.m.report, self.path
        if prompts and self.doc.memgpt is None:
            report.add(
                f"{path}.messages",
                f"{prompts} system message(s) (Letta's compiled instructions and memory)",
                "not stored as messages: memgpt compiles its system message from the instructions and blocks "
                "on every step",
                "changed",
            )
        if summary is not None:
            report.add(
                f"{path}.messages",
                f"summary alert {summary[2]}",
                "became the agent's recursive summary (the message stays in recall memory, out of the context window)",
                "changed",
            )
        for what, count in self.dropped.items():
            report.add(f"{path}.messages", f"{count} {what}", "memgpt stores text messages and function calls only")
        if self.unknown_calls:
            shown = ", ".join(f"{n} ×{c}" for n, c in self.unknown_calls.most_common())
            report.add(
                f"{path}.messages",
                f"calls of functions memgpt does not have ({shown})",
                "kept as unknown_function calls (how the model sees them); the original calls are in each "
                "message's metadata (letta_tool_calls)",
                "changed",
            )

    def _dates(self) -> list[datetime]:
        """Each message's date; one without takes the date of the message before it (or the import's time)."""
        dates, last = [], None
        for doc in self.doc.messages:
            last = doc.created_at or last or utcnow()
            dates.append(last)
        return dates

    def _is_system_prompt(self, doc: MessageDoc, first: str | None) -> bool:
        if doc.memgpt is not None:
            return doc.memgpt.system_prompt
        if doc.role != "system":
            return False
        text = _text_of(doc.content)
        head = (self.doc.system or "").strip().splitlines()[:1]
        return doc.id == first or not head or text.lstrip().startswith(head[0])

    # ------------------------------------------------------------- one message
    def message(self, doc: MessageDoc, where: str, created: datetime) -> list[Message]:
        if doc.memgpt is not None:
            return [self.exact(doc, where, created)]
        if doc.role == "approval":
            self.dropped["approval message(s) (human-in-the-loop)"] += 1
            return []
        if doc.role in ("tool", "function"):
            return self.tool_results(doc, where, created)
        text = self.content(doc, where)
        if doc.role == "user":
            return [self.user(doc, text, where, created)]
        if doc.role == "system":
            return [Message(role="system", content=text, created_at=created)]
        return [self.assistant(doc, text, where, created)]

    def exact(self, doc: MessageDoc, where: str, created: datetime) -> Message:
        ext = doc.memgpt
        assert ext is not None
        name = ext.name
        if name is not None:
            self._check_name(name, f"{where}.memgpt.name")
        return Message(
            role=ext.role,
            content=None if ext.content is None else self.m.text(ext.content, f"{where}.memgpt.content"),
            name=name,
            tool_calls=[
                ToolCall(self.m.text(i, where), self.m.text(n, where), self.m.text(a, where))
                for i, n, a in ext.tool_calls
            ],
            tool_call_id=ext.tool_call_id,
            metadata=self.m.json(ext.metadata, f"{where}.memgpt.metadata"),
            created_at=created,
        )

    def content(self, doc: MessageDoc, where: str) -> str:
        if doc.content is None or isinstance(doc.content, str):
            return self.m.text(doc.content or "", f"{where}.content")
        parts = []
        for p_index, part in enumerate(doc.content):
            if part.type in ("text", "reasoning"):
                parts.append(self.m.text(part.text or part.reasoning or "", f"{where}.content[{p_index}]"))
            elif part.type not in ("tool_call", "tool_return"):
                self.dropped[f"{part.type} content part(s)"] += 1
        return "\n".join(p for p in parts if p)

    def user(self, doc: MessageDoc, text: str, where: str, created: datetime) -> Message:
        packed = _packaged(text)
        name = doc.name if doc.name and _valid_name(doc.name) else None
        if packed is None:
            return Message(role="user", content=text, name=name, created_at=created)
        kind = str(packed["type"])
        if kind == "user_message":
            sender = packed.get("name")
            return Message(
                role="user",
                content=self.m.text(str(packed.get("message") or ""), f"{where}.content"),
                name=sender if isinstance(sender, str) and _valid_name(sender) else name,
                created_at=created,
            )
        body = packed.get("message") or packed.get("reason")
        if kind == "login":
            body = f"The user logged in (last login: {packed.get('last_login', 'unknown')})."
        metadata: dict[str, Any] = {"kind": kind}
        content = self.m.text(str(body if body is not None else text), f"{where}.content")
        found = SUMMARY_MARKER.search(content) if kind == "system_alert" else None
        if found is not None:
            metadata = {"kind": "summary", "summary_text": content[found.end() :].strip()}
        return Message(role="system", content=content, metadata=metadata, created_at=created)

    def assistant(self, doc: MessageDoc, text: str, where: str, created: datetime) -> Message:
        calls: list[ToolCall] = []
        originals: list[dict[str, str]] = []
        raw = [(c.id, c.function.name, c.function.arguments) for c in doc.tool_calls or []]
        raw += [
            (p.id or "", p.name or "", p.input or {})
            for p in (doc.content if isinstance(doc.content, list) else [])
            if isinstance(p, ContentPart) and p.type == "tool_call"
        ]
        for c_index, (call_id, name, arguments) in enumerate(raw):
            args = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
            args = self.m.text(args, f"{where}.tool_calls[{c_index}].function.arguments")
            call_id = safe_call_id(self.m.text(call_id, f"{where}.tool_calls[{c_index}].id") or new_id("call"))
            stored_name, stored_args = self.call(name, args)
            if (stored_name, stored_args) != (name, args):
                originals.append({"id": call_id, "name": name, "arguments": args})
            self.call_names[call_id] = stored_name
            calls.append(ToolCall(call_id, stored_name, stored_args))
        metadata: dict[str, Any] = {"letta_tool_calls": originals} if originals else {}
        return Message(role="assistant", content=text or None, tool_calls=calls, metadata=metadata, created_at=created)

    def call(self, name: str, arguments: str) -> tuple[str, str]:
        """A history call as memgpt stores it: Letta's memory edits under memgpt's names, calls of functions
        memgpt does not have as UNKNOWN_FUNCTION (the original goes in the message's metadata)."""
        if name in MEMGPT_FUNCTIONS:
            return name, arguments
        renamed = CALL_RENAMES.get(name)
        if renamed is not None:
            try:
                args = json.loads(arguments)
            except ValueError:
                args = None
            if isinstance(args, dict):
                keys = renamed[1]
                moved = {keys.get(k, k): v for k, v in args.items() if keys.get(k, k) is not None}
                return renamed[0], json.dumps(moved, ensure_ascii=False)
        self.unknown_calls[name] += 1
        return UNKNOWN_FUNCTION, arguments

    def tool_results(self, doc: MessageDoc, where: str, created: datetime) -> list[Message]:
        text = self.content(doc, where)
        returns = list(doc.tool_returns or [])
        if doc.tool_call_id is not None or len(returns) <= 1:
            call_id = doc.tool_call_id or (returns[0].tool_call_id if returns else None) or ""
            body = text or (self.returned(returns[0], where) if returns else "")
            return [self.result(call_id, body, where, created)]
        return [self.result(r.tool_call_id or "", self.returned(r, where), where, created) for r in returns]

    def returned(self, ret: ToolReturnDoc, where: str) -> str:
        response = ret.func_response
        if isinstance(response, list):
            response = "\n".join(p.text or "" for p in response)
        status = "OK" if ret.status == "success" else "Failed"
        return json.dumps({"status": status, "message": self.m.text(response or "", f"{where}.tool_returns")})

    def result(self, call_id: str, body: str, where: str, created: datetime) -> Message:
        call_id = safe_call_id(self.m.text(call_id, f"{where}.tool_call_id")) if call_id else ""
        return Message(
            role="tool",
            content=body,
            tool_call_id=call_id or None,
            name=self.call_names.get(call_id),
            created_at=created,
        )

    def _check_name(self, name: str, path: str) -> None:
        if not _valid_name(name):
            raise file_error(f"{path}: {name!r} is not a sender name (1 to 64 characters on one line)")


def _valid_name(name: str) -> bool:
    try:
        check_sender_name(name)
    except ValidationError:
        return False
    return True


def _text_of(content: str | list[ContentPart] | None) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    return "\n".join(p.text or "" for p in content if p.type == "text")


def _packaged(text: str) -> dict[str, Any] | None:
    """Letta's JSON-packaged user-role message (``{"type": "user_message", "message": ...}``), if ``text`` is one."""
    stripped = text.strip()
    if not stripped.startswith("{") or '"type"' not in stripped:
        return None
    try:
        found = json.loads(stripped)
    except ValueError:
        return None
    return found if isinstance(found, dict) and found.get("type") in PACKAGED_TYPES else None
