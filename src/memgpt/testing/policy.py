"""Small scripted policies for the scripted LLM: enough behaviour to run an evaluation end to end.

A policy is a function from the request body (OpenAI chat format) to one reply of the script format
(:mod:`memgpt.testing.script`); pass it to :class:`~memgpt.testing.scripted.ScriptedLLM` or to
:class:`~memgpt.testing.fake_llm.FakeLLMServer`. Policies are stateless: everything they need is read
from the messages of the request, so one policy serves many agents at once.

- :func:`search_policy`: on a question, call a search function with the question's text; on the
  search result, ``send_message`` quoting the top hit (skipping the question itself). Other user
  messages (a conversation played to the agent) are saved to archival memory, or acknowledged.
- :func:`kv_chain_policy`: the nested key-value task: search the key, then search each value found
  until a value is not itself a key, and answer with that value.
- :func:`judge_policy`: an LLM judge that says CORRECT when the gold answer appears in the response;
  :func:`with_judge` serves agent and judge requests from one endpoint.

None of these is a model: a score produced with them measures the pipeline, not an LLM.
"""

from __future__ import annotations

import json
import re
from typing import Any

from memgpt.testing.script import Policy

NOT_FOUND = "I could not find that in my memory."
SUMMARY = "Earlier messages were moved to recall memory."
_STAMP = re.compile(r"^\[\d{4}-\d{2}-\d{2} \d{2}:\d{2}\] ")
_HIT = re.compile(r"^- \[\d{4}-\d{2}-\d{2} \d{2}:\d{2}\] (?:(?:user|assistant|tool|system): )?(.*)$")
_KV = re.compile(r"key = ([0-9a-fA-F-]{36}), value = ([0-9a-fA-F-]{36})")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_TAG = "<{0}>(.*?)</{0}>"


def _call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"tool_calls": [{"name": name, "arguments": arguments}]}


def _send(text: str) -> dict[str, Any]:
    return _call("send_message", message=text)


def _pending(messages: list[dict[str, Any]]) -> tuple[dict[str, Any] | None, str | None]:
    """What the agent must react to: ``(last assistant message, tool result)`` or ``(None, user text)``.

    System alerts (rendered as user messages tagged ``[System alert]``) are skipped, so a memory-pressure
    alert inserted after a question does not hide the question.
    """
    for index in range(len(messages) - 1, 0, -1):
        message = messages[index]
        if message["role"] == "tool":
            assistant = next((m for m in reversed(messages[:index]) if m["role"] == "assistant"), None)
            return assistant, str(message.get("content") or "")
        if message["role"] == "assistant":
            return message, None
        if message["role"] == "user":
            text = _STAMP.sub("", str(message.get("content") or ""))
            if not text.startswith("[System alert]"):
                return None, text
    return None, None


def _last_question(messages: list[dict[str, Any]]) -> str:
    """The text of the last user message that is not a system alert."""
    for message in reversed(messages):
        text = _STAMP.sub("", str(message.get("content") or "")) if message["role"] == "user" else ""
        if text and not text.startswith("[System alert]"):
            return text
    return ""


def _tool_message(content: str) -> tuple[str, str]:
    """``(status, message)`` of a tool result's JSON content."""
    try:
        data = json.loads(content)
    except ValueError:
        return "Failed", content
    return str(data.get("status", "Failed")), str(data.get("message", ""))


def _hits(result: str) -> list[str]:
    """The hit texts of a search result page, best first, without timestamp and role (multi-line hits kept)."""
    hits: list[str] = []
    for line in result.splitlines()[1:]:  # the first line is the "Showing ... of N" header
        match = _HIT.match(line)
        if match:
            hits.append(match.group(1))
        elif hits:
            hits[-1] += "\n" + line
    return hits


def _last_call(assistant: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
    calls = (assistant or {}).get("tool_calls") or []
    if not calls:
        return "", {}
    function = calls[-1]["function"]
    try:
        arguments = json.loads(function.get("arguments") or "{}")
    except ValueError:
        arguments = {}
    return str(function["name"]), arguments if isinstance(arguments, dict) else {}


def search_policy(
    function: str = "conversation_search", *, question_marker: str = "Question:", save_other_messages: bool = False
) -> Policy:
    """Search with the question, then answer with the top hit.

    A user message containing ``question_marker`` is a question: the text after the marker is the query.
    Any other user message is saved with ``archival_memory_insert`` when ``save_other_messages`` (so an
    agent played a conversation writes its own archival memory), else acknowledged with ``send_message``.
    Requests without tools (the summariser) get a fixed one-line summary.
    """

    def policy(body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("tools"):
            return {"content": SUMMARY}
        assistant, pending = _pending(body["messages"])
        if pending is None:
            return _send(NOT_FOUND)
        if assistant is not None:
            name, arguments = _last_call(assistant)
            if name == "archival_memory_insert":
                return _send("Noted.")
            status, result = _tool_message(pending)
            query = str(arguments.get("query", "\0"))
            # Recall search also finds the question just asked: the answer is the best hit that is not it.
            hits = [h for h in _hits(result) if query not in h] if status == "OK" else []
            return _send(hits[0] if hits else NOT_FOUND)
        if question_marker in pending:
            query = pending.split(question_marker, 1)[1].strip()
            return _call(function, query=query, request_heartbeat=True)
        if save_other_messages:
            return _call("archival_memory_insert", content=pending, request_heartbeat=False)
        return _send("Noted.")

    return policy


def kv_chain_policy() -> Policy:
    """Nested key-value lookup: search the question's key, then each value found, until a value is no key.

    Reads archival results of the form ``Key-value pair: key = K, value = V``. The query of the last
    search is the candidate answer: if a result has it as a key, its value is searched next; if none
    does, the candidate is the final value. A first key that is not found is answered with NOT_FOUND.
    """

    def policy(body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("tools"):
            return {"content": SUMMARY}
        assistant, pending = _pending(body["messages"])
        if pending is None:
            return _send(NOT_FOUND)
        if assistant is None:
            keys = _UUID.findall(pending)
            if not keys:
                return _send(NOT_FOUND)
            return _call("archival_memory_search", query=keys[0], request_heartbeat=True)
        _, arguments = _last_call(assistant)
        query = str(arguments.get("query", ""))
        status, result = _tool_message(pending)
        pairs = dict(_KV.findall(result)) if status == "OK" else {}
        if query in pairs:
            return _call("archival_memory_search", query=pairs[query], request_heartbeat=True)
        question_keys = _UUID.findall(_last_question(body["messages"]))
        first_search = bool(question_keys) and query == question_keys[0]
        return _send(NOT_FOUND if first_search else f"The final value is {query}.")

    return policy


def judge_policy() -> Policy:
    """Judge by string match: CORRECT when the text in ``<gold_answer>`` occurs (case-folded) in ``<response>``."""

    def policy(body: dict[str, Any]) -> dict[str, Any]:
        prompt = "\n".join(str(m.get("content") or "") for m in body["messages"])
        gold = re.search(_TAG.format("gold_answer"), prompt, re.S)
        response = re.search(_TAG.format("response"), prompt, re.S)
        if gold is None or response is None:
            return {"content": json.dumps({"reasoning": "prompt without answer tags", "label": "WRONG"})}
        correct = gold.group(1).strip().casefold() in response.group(1).casefold()
        label = "CORRECT" if correct else "WRONG"
        return {"content": json.dumps({"reasoning": "string match", "label": label})}

    return policy


def with_judge(agent: Policy, judge: Policy | None = None) -> Policy:
    """One policy for an endpoint that serves both the agent and the judge (e.g. one scripted HTTP server).

    Requests carrying ``<gold_answer>`` go to ``judge`` (default :func:`judge_policy`); the rest to ``agent``.
    """
    grader = judge or judge_policy()

    def policy(body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("tools") and any("<gold_answer>" in str(m.get("content") or "") for m in body["messages"]):
            return grader(body)
        return agent(body)

    return policy
