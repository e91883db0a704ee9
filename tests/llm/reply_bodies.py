"""Adversarial reply bodies (hypothesis strategies) and the harness that feeds them to real agents.

Shared by ``tests/llm/test_fuzz_replies.py`` (a few thousand replies in the suite) and
``benchmarks/fuzz_llm_replies.py`` (10,000+). The harness runs the scripted HTTP server on 127.0.0.1 with
a policy that answers each chat request with the next generated body, byte for byte; the real
OpenAI-compatible client and real memgpt agents on SQLite receive them. It counts what the issue asks
for: internal exceptions escaping (anything but an ``LLMError``), bricked agents (an agent that does
not answer a good reply afterwards, also from a fresh Client, or whose stored context fails the check)
and user messages not in recall exactly once.
"""

from __future__ import annotations

import json
import threading
import traceback
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from memgpt.client import Client
from memgpt.errors import LLMError
from memgpt.llm.openai_compat import OpenAICompatibleClient
from memgpt.testing import FakeLLMServer
from memgpt.tools.executor import ToolExecutor

FUNCTIONS = ToolExecutor().names
GOOD = {"tool_calls": [{"name": "send_message", "arguments": {"message": "ok"}}]}
GOOD_SUMMARY = {"content": "The user sent test messages."}

# --------------------------------------------------------------------------- leaves
NASTY = [
    "\ud800",
    "a\udfffb",
    "\x00",
    "\u200b\u200b",
    "\ufeff",
    "🎉",
    "e\u0301",
    "<tool_call>",
    "</tool_call>",
    '{"name": "send_message"',
    "\\u0000",
    "\r\n",
    "[System alert]",
    "x" * 3000,
]
text = st.one_of(
    st.text(max_size=30),
    st.sampled_from(NASTY),
    st.lists(st.one_of(st.text(max_size=8), st.sampled_from(NASTY)), max_size=5).map("".join),
)
numbers = st.one_of(
    st.integers(-(2**70), 2**70), st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0, -1, 2**63])
)
scalars = st.one_of(st.none(), st.booleans(), numbers, text)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3)
)
dates = st.one_of(st.sampled_from(["2024-05-18", "9999-12-31", "0001-01-01", "2024-02-30", "yesterday"]), text)
pages = st.one_of(st.integers(-3, 3), st.sampled_from([2**53, 2**62, 2**63, 2**64]), scalars)


_HEARTBEAT = st.one_of(st.booleans(), scalars)
_ARGUMENTS: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "send_message": st.fixed_dictionaries({"message": text}),
    "core_memory_append": st.fixed_dictionaries(
        {"label": st.sampled_from(["human", "persona", "nope"]) | text, "content": text}
    ),
    "core_memory_replace": st.fixed_dictionaries(
        {"label": st.sampled_from(["human", "persona"]), "old_content": text, "new_content": text}
    ),
    "conversation_search": st.fixed_dictionaries({"query": text}, optional={"page": pages}),
    "conversation_search_date": st.fixed_dictionaries(
        {"start_date": dates, "end_date": dates}, optional={"page": pages}
    ),
    "archival_memory_insert": st.fixed_dictionaries({"content": text}),
    "archival_memory_search": st.fixed_dictionaries({"query": text}, optional={"page": pages}),
    "archival_memory_read": st.fixed_dictionaries({"passage_id": text}, optional={"before": pages, "after": pages}),
    "pause_heartbeats": st.fixed_dictionaries({"minutes": pages}),
}
_OTHER_ARGUMENTS = st.dictionaries(text, json_values, max_size=3)
_EXTRA = st.dictionaries(text, json_values, max_size=1)


@st.composite
def arguments_for(draw: st.DrawFn, name: str) -> dict[str, Any]:
    """Plausible arguments of one of the agent's functions, with hostile values and extra keys."""
    args = draw(_ARGUMENTS.get(name, _OTHER_ARGUMENTS))
    return {**args, **draw(_EXTRA), "request_heartbeat": draw(_HEARTBEAT)}


def mostly(good: st.SearchStrategy[Any], *bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``good`` five times in six, one of ``bad`` otherwise: deep enough shapes reach the tools."""
    return st.integers(0, 5).flatmap(lambda i: good if i else st.one_of(*bad))


known_name = st.sampled_from(FUNCTIONS)
any_name = st.one_of(known_name, known_name, text, numbers, st.none(), st.lists(text, max_size=2))


@st.composite
def function(draw: st.DrawFn) -> Any:
    name = draw(any_name)
    args = draw(arguments_for(name if isinstance(name, str) else ""))
    encoded = draw(st.sampled_from(["string", "string", "object", "broken", "value"]))
    if encoded == "string":
        arguments: Any = json.dumps(args, ensure_ascii=draw(st.booleans()))
    elif encoded == "object":
        arguments = args
    elif encoded == "broken":
        arguments = json.dumps(args)[: draw(st.integers(0, 40))]
    else:
        arguments = draw(json_values)
    return draw(mostly(st.just({"name": name, "arguments": arguments}), st.sampled_from([{"name": name}, None, "x"])))


tool_call = mostly(
    st.fixed_dictionaries({"id": st.one_of(text, st.none()), "type": st.just("function"), "function": function()}),
    st.fixed_dictionaries({"id": numbers, "function": function()}),
    scalars,
)
tool_calls = mostly(st.lists(tool_call, min_size=1, max_size=3), st.just([]), scalars)


@st.composite
def text_call(draw: st.DrawFn) -> str:
    """Content a local model writes instead of tool_calls (known functions or not, whole or with prose)."""
    name = draw(st.one_of(known_name, text))
    call = json.dumps({"name": name, "arguments": draw(arguments_for(name))})
    form = draw(st.sampled_from(["bare", "tagged", "two tagged", "prose"]))
    if form == "tagged":
        return f"<tool_call>\n{call}\n</tool_call>"
    if form == "two tagged":
        return f"<tool_call>{call}</tool_call><tool_call>{call}</tool_call>"
    if form == "prose":
        return f"I will call {call} now."
    return call


content = st.one_of(
    text,
    st.none(),
    text_call(),
    st.lists(st.one_of(st.fixed_dictionaries({"type": st.just("text"), "text": text}), text, scalars), max_size=3),
    numbers,
    st.dictionaries(text, scalars, max_size=2),
)
message = mostly(
    st.fixed_dictionaries({"role": st.just("assistant"), "content": content, "tool_calls": tool_calls}),
    st.fixed_dictionaries({"content": content}),
    scalars,
)
choice = mostly(
    st.fixed_dictionaries({"index": st.just(0), "message": message}, optional={"finish_reason": scalars}),
    st.fixed_dictionaries({"finish_reason": scalars}),
    scalars,
)
usage = st.one_of(
    st.fixed_dictionaries({"prompt_tokens": numbers | scalars, "completion_tokens": numbers | scalars}), scalars
)
completion = st.fixed_dictionaries(
    {"choices": mostly(st.lists(choice, min_size=1, max_size=2), st.just([]), scalars)},
    optional={"usage": usage, "model": scalars, "error": mostly(st.none(), json_values)},
)


@st.composite
def reply_body(draw: st.DrawFn) -> dict[str, Any]:
    """One raw reply of the scripted server: status, content type and body bytes."""
    kind = draw(st.sampled_from(["completion"] * 14 + ["mangled", "garbage", "deep", "html", "bare", "error", "sse"]))
    status = 200
    if kind == "completion":
        data = draw(completion)
        body = json.dumps(data, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")
    elif kind == "mangled":
        whole = json.dumps(draw(completion)).encode()
        cut = draw(st.integers(0, len(whole)))
        body = whole[:cut] + draw(st.binary(max_size=8)) + whole[cut + draw(st.integers(0, 4)) :]
    elif kind == "garbage":
        body = draw(st.binary(max_size=64))
    elif kind == "deep":
        depth = draw(st.sampled_from([900, 1200, 5000, 100_000]))
        opener = draw(st.sampled_from(["[", '{"a":']))
        body = (opener * depth).encode()
    elif kind == "html":
        body = b"<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>"
    elif kind == "bare":
        body = json.dumps(draw(json_values)).encode("utf-8", "surrogatepass")
    elif kind == "error":
        status = draw(st.sampled_from([200, 400, 404, 413, 422, 500]))
        message = draw(st.sampled_from(["overloaded", "maximum context length is 10 tokens", "bad"]) | text)
        error = {"error": {"message": message, "code": draw(st.one_of(st.none(), st.just("context_length_exceeded")))}}
        body = json.dumps(error).encode("utf-8", "surrogatepass")
    else:
        events = draw(st.lists(st.one_of(completion, json_values), max_size=3))
        body = "".join(f"data: {json.dumps(e)}\n\n" for e in events).encode("utf-8", "surrogatepass")
    content_type = draw(st.sampled_from(["application/json"] * 6 + ["text/html", "text/event-stream", "text/plain"]))
    return {"status": status, "content_type": content_type, "body": body}


@st.composite
def stream_body(draw: st.DrawFn) -> bytes:
    """A streamed reply: chunks of a completion's deltas, hostile ones mixed in, maybe cut short."""
    chunks = []
    for _ in range(draw(st.integers(0, 5))):
        part = st.fixed_dictionaries({"index": mostly(st.integers(0, 2), scalars), "id": text, "function": function()})
        delta = draw(
            mostly(
                st.one_of(
                    st.fixed_dictionaries({"content": content}),
                    st.fixed_dictionaries({"tool_calls": st.lists(part, max_size=2)}),
                ),
                scalars,
            )
        )
        chunks.append({"choices": draw(mostly(st.just([{"index": 0, "delta": delta}]), scalars))})
    if draw(st.booleans()):
        chunks.append({"choices": [], "usage": draw(usage)})
    lines = [f"data: {json.dumps(c, ensure_ascii=draw(st.booleans()))}\n\n" for c in chunks]
    extra = st.sampled_from([": keep-alive\n\n", "event: x\n", "data: garbage\n\n", "data: [1]\n\n"])
    lines += draw(mostly(st.just([]), st.lists(extra, max_size=2)))
    if draw(st.booleans()):
        lines.append("data: [DONE]\n\n")
    return "".join(lines).encode("utf-8", "surrogatepass")


# --------------------------------------------------------------------------- the harness
@dataclass
class Tally:
    """What a fuzz run found; a run passes when every list is empty."""

    replies: int = 0  # adversarial bodies served to the client
    summary_replies: int = 0  # of which to summary requests
    messages: int = 0
    llm_errors: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    internal: list[str] = field(default_factory=list)  # exceptions other than LLMError that escaped
    bricked: list[str] = field(default_factory=list)
    recall: list[str] = field(default_factory=list)  # user messages not in recall exactly once


class AdversarialLLM:
    """The scripted server answering each chat request with the next queued body (a good reply when none)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.agent_bodies: deque[dict[str, Any]] = deque()
        self.summary_bodies: deque[dict[str, Any]] = deque()
        self.served = 0
        self.served_summaries = 0
        self.server = FakeLLMServer(self._answer)

    def _answer(self, request: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            queue = self.agent_bodies if request.get("tools") else self.summary_bodies
            if not queue:
                return GOOD if request.get("tools") else GOOD_SUMMARY
            self.served += 1
            self.served_summaries += 0 if request.get("tools") else 1
            return {"raw": queue.popleft()}

    def queue(self, bodies: list[dict[str, Any]], summaries: list[dict[str, Any]]) -> None:
        with self._lock:
            self.agent_bodies.clear()
            self.summary_bodies.clear()
            self.agent_bodies.extend(bodies)
            self.summary_bodies.extend(summaries)


class FuzzRun:
    """Real agents on one SQLite file, talking to the adversarial server through the real client."""

    def __init__(self, directory: Path, agents: int = 8, context_window: int = 2000) -> None:
        self.url = f"sqlite:///{directory / 'fuzz.db'}"
        self.names = [f"fuzz{i}" for i in range(agents)]
        self.context_window = context_window
        self.llm = AdversarialLLM()
        self.tally = Tally()
        self.sent: dict[str, list[str]] = {name: [] for name in self.names}
        self.client: Client | None = None
        self._llm_clients: list[OpenAICompatibleClient] = []

    def _open_llm(self) -> OpenAICompatibleClient:
        self._llm_clients.append(OpenAICompatibleClient("fuzz", base_url=self.llm.server.base_url, max_retries=0))
        return self._llm_clients[-1]

    async def open(self) -> None:
        self.llm.server.start()
        self.client = await Client.open(self.url, embedder=None, llm=self._open_llm())
        for name in self.names:
            await self.client.create_agent(
                name, model="openai-compatible/fuzz", context_window=self.context_window, exist_ok=True
            )

    async def message(self, bodies: list[dict[str, Any]], summaries: list[dict[str, Any]]) -> None:
        """Send one user message to the next agent while the server answers with ``bodies``."""
        assert self.client is not None
        name = self.names[self.tally.messages % len(self.names)]
        text = f"message {self.tally.messages} to {name}"
        self.tally.messages += 1
        self.sent[name].append(text)
        self.llm.queue(bodies, summaries)
        before = self.llm.served, self.llm.served_summaries
        try:
            await self.client.send_message(name, text)
            self.tally.outcomes["answered"] += 1
        except LLMError as exc:
            self.tally.llm_errors += 1
            self.tally.outcomes[type(exc).__name__] += 1
        except Exception as exc:  # what the fuzz test exists to find
            self.tally.internal.append(f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=8)}")
        self.tally.replies += self.llm.served - before[0]
        self.tally.summary_replies += self.llm.served_summaries - before[1]
        self.llm.queue([], [])

    async def verify(self) -> None:
        """Every agent answers a good reply, also from a fresh Client; its context checks; recall is exact."""
        assert self.client is not None
        fresh = await Client.open(self.url, embedder=None, llm=self._open_llm())
        try:
            for name in self.names:
                for who, client in (("the same client", self.client), ("a fresh client", fresh)):
                    if not await self._answers(client, name):
                        self.tally.bricked.append(f"{name} does not answer from {who}")
                check = await fresh.check_agent(name)
                if not check.ok:
                    self.tally.bricked.append(f"{name}: {[p.problem for p in check.problems]}")
                users = [m.content for m in await fresh.list_messages(name, limit=100_000) if m.role == "user"]
                counts = Counter(users)
                for text in self.sent[name]:
                    if counts[text] != 1:
                        self.tally.recall.append(f"{text!r} is in recall {counts[text]} times")
        finally:
            await fresh.close()

    async def _answers(self, client: Client, name: str) -> bool:
        self.llm.queue([], [])
        text = f"are you there, {name}? ({len(self.sent[name])})"
        self.sent[name].append(text)
        try:
            events = await client.send_message(name, text)
        except Exception:
            return False
        return any(e.type == "assistant_message" and e.content == "ok" for e in events)

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()
        for llm in self._llm_clients:
            await llm.close()
        self.llm.server.stop()
