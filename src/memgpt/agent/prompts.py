"""The packaged prompt texts (versioned files, read once)."""

from __future__ import annotations

from functools import cache
from importlib import resources

from memgpt.errors import ConfigError


@cache
def load_prompt(name: str) -> str:
    """The text of ``prompts/<name>.txt``, e.g. ``system_v1`` or ``persona_default``."""
    try:
        return (resources.files("memgpt.agent") / "prompts" / f"{name}.txt").read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise ConfigError(f"No packaged prompt named {name!r}; known: system_v1.") from None
