"""What the server says about itself."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version


def version() -> str:
    try:
        return package_version("memgpt")
    except PackageNotFoundError:
        return "0"
