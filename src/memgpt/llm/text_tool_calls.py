"""Tool calls that local models write as text instead of ``tool_calls``.

Served by Ollama or a llama.cpp server, many open models (Llama 3.x, Qwen 2.5, Hermes, Mistral) put a
share of their calls in the message content, in one of two forms:

- the whole content is one JSON object ``{"name": "send_message", "arguments": {...}}`` (``parameters``
  instead of ``arguments`` is Llama 3.1's spelling; a Markdown code fence around it is allowed);
- the content is one or more ``<tool_call>{...}</tool_call>`` blocks (Qwen and Hermes templates).

They are recognised only when the whole content is made of the call(s) and every call names a function
of the request, so a model that talks *about* JSON or quotes a call in prose is left alone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from typing import Any

from memgpt.memory.types import ToolCall, new_id
from memgpt.validation import clean_text

_TAGGED = re.compile(r"<tool_call>(.*?)</tool_call>", re.DOTALL)
_FENCED = re.compile(r"```(?:json)?\s*(.*?)\s*```", re.DOTALL)
_CALL_KEYS = ({"name", "arguments"}, {"name", "parameters"})


def tool_calls_in_text(content: str, functions: Collection[str]) -> list[ToolCall] | None:
    """The calls written as the whole of ``content``, if each names one of ``functions``; else None."""
    text = content.strip()
    if text.startswith("<tool_call>"):
        if _TAGGED.sub("", text).strip():
            return None  # prose beside the blocks: not only calls
        bodies = [body.strip() for body in _TAGGED.findall(text)]
    else:
        fenced = _FENCED.fullmatch(text)
        bodies = [fenced.group(1) if fenced else text]
    calls = [_call(body, functions) for body in bodies]
    if not calls or any(call is None for call in calls):
        return None
    return [call for call in calls if call is not None]


def _call(body: str, functions: Collection[str]) -> ToolCall | None:
    if not body.startswith("{"):
        return None
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, dict):
        return None
    keys = set(value) - {"type"}  # some templates add "type": "function"
    if keys not in _CALL_KEYS or value.get("type", "function") != "function":
        return None
    name = value["name"]
    if not isinstance(name, str) or name not in functions:
        return None
    arguments: Any = value.get("arguments", value.get("parameters"))
    if not isinstance(arguments, str):
        arguments = clean_text(json.dumps(arguments, ensure_ascii=False))
    return ToolCall(id=new_id("call"), name=name, arguments=arguments)
