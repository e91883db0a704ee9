"""Logging for the ``memgpt`` command and server: a level from ``MEMGPT_LOG_LEVEL`` and no secrets or contents.

Memories are sensitive, so what memgpt logs never carries message or memory text, and every line (and
traceback) written goes through :class:`SecretFilter` first: API keys from the environment, memgpt's own
keys (``mgpt_...``), bearer tokens and ``sk-``-style keys are masked. The libraries underneath log request
bodies at DEBUG (the OpenAI and Anthropic SDKs log every message they send, httpx/httpcore their headers),
so they stay at WARNING whatever the level, unless ``MEMGPT_LOG_LIBRARIES=1`` (for debugging a provider;
those lines then carry contents, though keys are still masked).
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterable

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DEFAULT_LEVEL = "WARNING"
# libraries that log request bodies or headers at DEBUG/INFO
QUIET_LIBRARIES = (
    *("openai", "anthropic", "httpx", "httpcore", "httpx2", "httpcore2", "hpack"),
    *("psycopg", "psycopg.pool", "urllib3", "mcp"),
)
MASK = "[secret]"
_SECRET_ENV = re.compile(r"(API_KEY|_TOKEN|_SECRET|PASSWORD)$")
_PATTERNS = (
    re.compile(r"mgpt_[A-Za-z0-9_-]{8,}"),  # memgpt API keys (memgpt.identity.KEY_PREFIX)
    re.compile(r"\b(?:sk|pk|rk)-[A-Za-z0-9_-]{12,}"),  # OpenAI/Anthropic-style keys
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"(?i)((?:api[_-]?key|token|secret|password)[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]{6,}"),
    re.compile(r"(?<=://)[^/\s:@]+:[^/\s@]+(?=@)"),  # user:password in URLs
)
_HANDLER_NAME = "memgpt"
MAX_KNOWN = 10_000  # secrets remembered for masking (tool variables, MCP credentials); the oldest go first
_known: dict[str, None] = {}  # insertion-ordered set


def remember_secrets(values: Iterable[str]) -> None:
    """Mask these values in every later log line too (an agent's tool variables, an MCP server's credentials)."""
    for value in values:
        if isinstance(value, str) and len(value) >= 6:
            _known.pop(value, None)
            _known[value] = None
    while len(_known) > MAX_KNOWN:
        del _known[next(iter(_known))]


def env_secrets() -> list[str]:
    """Values of environment variables that hold secrets (``*_API_KEY``, ``*_TOKEN``, ``*_SECRET``...), and
    those given to :func:`remember_secrets`, longest first."""
    found = {v for k, v in os.environ.items() if _SECRET_ENV.search(k) and len(v) >= 6} | set(_known)
    return sorted(found, key=len, reverse=True)


def mask(text: str, secrets: list[str] | None = None) -> str:
    """``text`` with every known secret and every secret-shaped token replaced by ``[secret]``."""
    for secret in env_secrets() if secrets is None else secrets:
        text = text.replace(secret, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + MASK, text)
    return text


class SecretFilter(logging.Filter):
    """Masks secrets in a record's message and traceback before any handler writes it."""

    def __init__(self) -> None:
        super().__init__()
        self._formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = env_secrets()
        record.msg = mask(record.getMessage(), secrets)
        record.args = None
        if record.exc_info:
            record.exc_text = mask(self._formatter.formatException(record.exc_info), secrets)
            record.exc_info = None
        if record.stack_info:
            record.stack_info = mask(record.stack_info, secrets)
        return True


def log_level() -> int:
    name = (os.environ.get("MEMGPT_LOG_LEVEL") or DEFAULT_LEVEL).strip().upper()
    if name not in LEVELS:
        levels = ", ".join(LEVELS)
        print(f"memgpt: MEMGPT_LOG_LEVEL={name!r} is not one of {levels}; using {DEFAULT_LEVEL}.", file=sys.stderr)
        name = DEFAULT_LEVEL
    return int(getattr(logging, name))


def configure_logging() -> int:
    """Log to stderr at ``MEMGPT_LOG_LEVEL`` (default WARNING) through :class:`SecretFilter`; the level set.
    Calling it again changes nothing but the level."""
    level = log_level()
    root = logging.getLogger()
    handler = next((h for h in root.handlers if h.get_name() == _HANDLER_NAME), None)
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
        handler.set_name(_HANDLER_NAME)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.addFilter(SecretFilter())
        root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):  # uvicorn's own handlers do not propagate
        for other in logging.getLogger(name).handlers:
            if not any(isinstance(f, SecretFilter) for f in other.filters):
                other.addFilter(SecretFilter())
    libraries = level if os.environ.get("MEMGPT_LOG_LIBRARIES") == "1" else max(level, logging.WARNING)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(libraries)
    return level
