"""memgpt: an LLM agent whose context window is managed like an operating system manages memory."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from memgpt.client import Client, SyncClient

__all__ = ["Client", "SyncClient", "__version__"]


def __getattr__(name: str) -> Any:  # lazy, so `memgpt --help` does not import the whole package
    if name in ("Client", "SyncClient"):
        from memgpt import client

        return getattr(client, name)
    raise AttributeError(name)
