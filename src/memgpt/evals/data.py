"""Locating the evaluation data sets (``../shared/data`` beside the project, or ``$MEMGPT_DATA_DIR``)."""

from __future__ import annotations

import os
from pathlib import Path

from memgpt.errors import ConfigError


def shared_data_dir(name: str) -> Path:
    """The folder of data set ``name``; ConfigError naming the places looked in if it is missing."""
    candidates = []
    if os.environ.get("MEMGPT_DATA_DIR"):
        candidates.append(Path(os.environ["MEMGPT_DATA_DIR"]) / name)
    candidates += [Path.cwd() / ".." / "shared" / "data" / name, Path.cwd() / "shared" / "data" / name]
    for folder in candidates:
        if folder.is_dir():
            return folder.resolve()
    looked = ", ".join(str(c) for c in candidates)
    raise ConfigError(f"Data set {name!r} not found (looked in {looked}); pass --data or set MEMGPT_DATA_DIR.")
