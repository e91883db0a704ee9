"""Where memgpt keeps its data and which database it uses, from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from memgpt.errors import ConfigError


def memgpt_home(*, create: bool = False) -> Path:
    """``$MEMGPT_HOME``, default ``~/.memgpt``; with ``create`` made if missing (ConfigError if it cannot be)."""
    home = Path(os.environ.get("MEMGPT_HOME") or Path.home() / ".memgpt").expanduser()
    if create:
        if home.exists() and not home.is_dir():
            raise ConfigError(f"MEMGPT_HOME={home} is a file, not a folder: point MEMGPT_HOME at a folder.")
        try:
            home.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"Cannot create MEMGPT_HOME={home} ({exc.strerror}): point MEMGPT_HOME at a folder you can write."
            ) from None
    return home


def database_url() -> str:
    """``$MEMGPT_DATABASE_URL``, default a SQLite file under ``$MEMGPT_HOME`` (created if missing)."""
    return os.environ.get("MEMGPT_DATABASE_URL") or f"sqlite:///{memgpt_home(create=True) / 'memgpt.db'}"


def sqlite_path(url: str) -> Path:
    """The file path of a ``sqlite:///path`` URL (or a plain path)."""
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :]
    elif url.startswith("sqlite://"):
        raise ConfigError(f"SQLite URLs look like sqlite:///path/to/file.db, not {url!r}.")
    elif "://" in url:
        raise ConfigError(
            f"Unsupported database URL scheme in {url.split('://')[0]!r}: use sqlite:/// or postgresql://."
        )
    else:
        path = url
    return Path(path).expanduser()


VECTOR_CACHE_DEFAULT = 2_000_000


def vector_cache_size() -> int:
    """``$MEMGPT_VECTOR_CACHE``: how many vectors the SQLite store keeps in memory over all agents' indexes.

    Default 2,000,000 (about 3.4 GB at 384 dimensions, HNSW graph included: 1M vectors measured 1.8 GB);
    the least recently searched indexes are saved and dropped beyond it.
    """
    raw = os.environ.get("MEMGPT_VECTOR_CACHE")
    if not raw:
        return VECTOR_CACHE_DEFAULT
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        raise ConfigError(f"MEMGPT_VECTOR_CACHE must be a whole number of vectors, got {raw!r}.") from None
    if value < 1000:
        raise ConfigError(f"MEMGPT_VECTOR_CACHE must be at least 1000 vectors, got {value}.")
    return value


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """How ``memgpt server`` runs: flags where it starts, else ``MEMGPT_SERVER_*`` variables, else defaults."""

    host: str = "127.0.0.1"
    port: int = 8283
    workers: int = 1
    database_url: str | None = None  # None: $MEMGPT_DATABASE_URL, or SQLite in $MEMGPT_HOME
    max_body_bytes: int = 32 * 1024 * 1024  # uploads included
    shutdown_timeout: int = 30  # seconds running steps get to finish on SIGTERM before they roll back

    @classmethod
    def from_environment(cls) -> ServerSettings:
        default = cls()
        return cls(
            host=os.environ.get("MEMGPT_SERVER_HOST") or default.host,
            port=_number("MEMGPT_SERVER_PORT", default.port, low=1, high=65535),
            workers=_number("MEMGPT_SERVER_WORKERS", default.workers, low=1, high=64),
            database_url=os.environ.get("MEMGPT_DATABASE_URL") or None,
            max_body_bytes=_number("MEMGPT_SERVER_MAX_BODY", default.max_body_bytes, low=1024, high=2**34),
            shutdown_timeout=_number("MEMGPT_SERVER_SHUTDOWN_TIMEOUT", default.shutdown_timeout, low=0, high=3600),
        )


def _number(name: str, default: int, *, low: int, high: int) -> int:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}.") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}.")
    return value
