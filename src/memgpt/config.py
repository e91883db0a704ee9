"""Where memgpt keeps its data and which database it uses, from the environment."""

from __future__ import annotations

import os
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
