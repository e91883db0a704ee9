"""Model specs (``provider/name``), their context windows, and the client factory."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from memgpt.errors import ConfigError

if TYPE_CHECKING:
    from memgpt.llm.base import LLMClient

PROVIDERS = ("openai", "anthropic", "openai-compatible")
DEFAULT_CONTEXT_WINDOW = 8192

# Longest prefix wins. Figures are the providers' published context windows.
CONTEXT_WINDOWS: dict[str, int] = {
    "gpt-4o": 128_000,
    "gpt-4o-mini": 128_000,
    "gpt-4.1": 1_047_576,
    "gpt-4.1-mini": 1_047_576,
    "gpt-4.1-nano": 1_047_576,
    "gpt-5": 400_000,
    "o3": 200_000,
    "o4-mini": 200_000,
    "gpt-4-turbo": 128_000,
    "gpt-4": 8192,
    "gpt-3.5-turbo": 16_385,
    "claude-sonnet-4": 200_000,
    "claude-opus-4": 200_000,
    "claude-haiku-4": 200_000,
    "claude-3-7-sonnet": 200_000,
    "claude-3-5": 200_000,
    "llama3.1": 131_072,
    "llama3.2": 131_072,
    "llama3.3": 131_072,
    "llama3": 8192,
    "qwen2.5": 32_768,
    "qwen3": 40_960,
    "mistral": 32_768,
    "mixtral": 32_768,
    "gemma2": 8192,
    "gemma3": 131_072,
    "phi4": 16_384,
}

NO_LLM_MESSAGE = (
    "No LLM is configured. Set MEMGPT_MODEL to a model such as openai/gpt-4o-mini (with OPENAI_API_KEY or "
    "MEMGPT_LLM_API_KEY), anthropic/claude-sonnet-4-5 (with ANTHROPIC_API_KEY), or openai-compatible/<name> "
    "with MEMGPT_LLM_BASE_URL for a local server. For Ollama: MEMGPT_MODEL=openai-compatible/llama3.1 "
    "MEMGPT_LLM_BASE_URL=http://localhost:11434/v1"
)


def parse_model_spec(spec: str) -> tuple[str, str]:
    """``"openai/gpt-4o-mini"`` → ``("openai", "gpt-4o-mini")``; bare gpt-*/o*/claude-* names are inferred."""
    spec = spec.strip()
    provider, sep, name = spec.partition("/")
    if sep and provider in PROVIDERS and name:
        return provider, name
    if not sep:
        if spec.startswith("claude"):
            return "anthropic", spec
        if spec.startswith(("gpt-", "o1", "o3", "o4")):
            return "openai", spec
    raise ConfigError(
        f"Model {spec!r} is not understood: use openai/<model>, anthropic/<model> or openai-compatible/<model>."
    )


def resolve_model(spec: str | None) -> str:
    """The canonical ``provider/name`` of ``spec``; ConfigError with setup help when none is given."""
    if not spec:
        raise ConfigError(NO_LLM_MESSAGE)
    provider, name = parse_model_spec(spec)
    return f"{provider}/{name}"


def context_window_for(spec: str) -> int:
    """The context window of a model spec (longest matching prefix in the table, else 8,192)."""
    _, name = parse_model_spec(spec)
    base = name.split(":")[0].lower()
    matches = [prefix for prefix in CONTEXT_WINDOWS if base.startswith(prefix)]
    return CONTEXT_WINDOWS[max(matches, key=len)] if matches else DEFAULT_CONTEXT_WINDOW


def open_llm(spec: str | None = None, *, base_url: str | None = None, api_key: str | None = None) -> LLMClient:
    """A client for ``spec`` (default ``$MEMGPT_MODEL``) with ``MEMGPT_LLM_BASE_URL`` / ``MEMGPT_LLM_API_KEY``."""
    provider, name = parse_model_spec(resolve_model(spec or os.environ.get("MEMGPT_MODEL")))
    base_url = base_url or os.environ.get("MEMGPT_LLM_BASE_URL") or None
    if provider == "anthropic":
        from memgpt.llm.anthropic import AnthropicClient

        key = api_key or os.environ.get("MEMGPT_LLM_API_KEY") or os.environ.get("ANTHROPIC_API_KEY")
        if not key:
            raise ConfigError(f"{provider}/{name} needs an API key: set ANTHROPIC_API_KEY or MEMGPT_LLM_API_KEY.")
        return AnthropicClient(name, api_key=key, base_url=base_url)
    from memgpt.llm.openai_compat import OpenAICompatibleClient

    key = api_key or os.environ.get("MEMGPT_LLM_API_KEY") or os.environ.get("OPENAI_API_KEY")
    if provider == "openai-compatible" and not base_url:
        raise ConfigError(f"{provider}/{name} needs MEMGPT_LLM_BASE_URL, e.g. http://localhost:11434/v1 for Ollama.")
    if provider == "openai" and not key and not base_url:
        raise ConfigError(f"openai/{name} needs an API key: set OPENAI_API_KEY or MEMGPT_LLM_API_KEY.")
    return OpenAICompatibleClient(name, base_url=base_url, api_key=key)
