"""Test doubles shipped with memgpt: the scripted LLM, over HTTP and in process."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from memgpt.testing.fake_llm import FakeLLMServer
    from memgpt.testing.scripted import ScriptedLLM

__all__ = ["FakeLLMServer", "ScriptedLLM"]


def __getattr__(name: str) -> Any:
    if name == "FakeLLMServer":
        from memgpt.testing.fake_llm import FakeLLMServer

        return FakeLLMServer
    if name == "ScriptedLLM":
        from memgpt.testing.scripted import ScriptedLLM

        return ScriptedLLM
    raise AttributeError(name)
