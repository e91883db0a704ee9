"""Exceptions raised by memgpt. Every one carries a message a user can act on."""

from __future__ import annotations


class MemgptError(Exception):
    """Base class of every error memgpt raises on purpose."""


class ConfigError(MemgptError):
    """The configuration (environment, flags, files) is missing or wrong."""


class NotFoundError(MemgptError):
    """An agent, block, message or passage does not exist (or belongs to another user)."""


class AlreadyExistsError(MemgptError):
    """An object with that name or id already exists."""


class ValidationError(MemgptError, ValueError):
    """Input was rejected before anything was written."""


class MemoryEditError(ValidationError):
    """A core-memory edit was refused (unknown label, read-only, not found, over the limit)."""


class StorageError(MemgptError):
    """The database could not be opened, migrated or written."""


class EmbeddingMismatchError(StorageError):
    """The store was embedded with another model than the one configured."""


class EmbeddingUnavailableError(MemgptError):
    """No embedding backend could be loaded; semantic search is off."""


class LLMError(MemgptError):
    """The LLM endpoint failed (unreachable, bad key, bad reply after retries)."""


class ContextWindowExceededError(LLMError):
    """The provider refused the request because the prompt is longer than the context window."""


class AgentBusyError(MemgptError):
    """Another process is running a step of this agent and the lock could not be taken in time."""


class PartlyAnsweredError(MemgptError):
    """A request of several inputs failed after the first ones were answered (and saved): sending it again
    would send those twice."""


class AgentChangedError(StorageError):
    """The agent was saved by someone else since this copy of it was read; nothing of this write was saved."""

    def __init__(self, agent_name: str) -> None:
        super().__init__(
            f"Agent {agent_name!r} was changed by another process since this one read it (its lock was lost, or "
            "it was edited without the lock); nothing of this write was saved. Try again."
        )


class BlockChangedError(StorageError):
    """A core-memory block was changed by someone else (another agent sharing it, a user) since it was read."""

    def __init__(self, label: str) -> None:
        super().__init__(
            f"Block {label!r} was changed by someone else (another agent sharing it, or a user) since it was read; "
            "nothing of this edit was saved. Read it again and retry."
        )
