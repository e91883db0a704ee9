"""What a streamed response says when its step fails after the response has begun (the status is sent)."""

from __future__ import annotations

import asyncio
import logging
import uuid

from memgpt.errors import LLMError, MemgptError

log = logging.getLogger("memgpt.server")
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}  # no proxy may hold the stream back


def step_failure(error: BaseException) -> tuple[str, str]:
    """(kind, message) of a failed step: ``llm_error``, ``cancelled``, ``invalid_request`` or ``internal_error``.

    An error memgpt did not raise on purpose is logged with a reference the message names; the log line
    holds no request body: it can hold users' memories.
    """
    if isinstance(error, asyncio.CancelledError):
        return "cancelled", "The step was cancelled (the server is shutting down); nothing of it was saved."
    if isinstance(error, LLMError):
        return "llm_error", str(error)
    if isinstance(error, MemgptError):
        return ("invalid_request" if isinstance(error, ValueError) else "internal_error"), str(error)
    reference = uuid.uuid4().hex[:12]
    log.error("internal error %s in a streamed step", reference, exc_info=error)
    return "internal_error", f"Internal error (reference {reference} in the server log)."


def outcome(step: asyncio.Task[object]) -> BaseException | None:
    """The step's error (a cancellation counts as one), or None if it ended well."""
    return asyncio.CancelledError() if step.cancelled() else step.exception()
