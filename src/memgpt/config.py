"""Where memgpt keeps its data and which database it uses, from the environment."""

from __future__ import annotations

import os
from pathlib import Path

from memgpt.errors import ConfigError


def memgpt_home() -> Path:
    """``$MEMGPT_HOME``, default ``~/.memgpt``."""
    return Path(os.environ.get("MEMGPT_HOME") or Path.home() / ".memgpt").expanduser()


def database_url() -> str:
    """``$MEMGPT_DATABASE_URL``, default a SQLite file under ``$MEMGPT_HOME``."""
    return os.environ.get("MEMGPT_DATABASE_URL") or f"sqlite:///{memgpt_home() / 'memgpt.db'}"


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
