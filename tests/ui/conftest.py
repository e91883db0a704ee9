"""Browser tests of the web UI: Debian's Chromium (/usr/bin/chromium) driven by Playwright, never a browser
Playwright downloads. Without Chromium the tests skip, unless ``MEMGPT_REQUIRE_BROWSER=1`` (CI) fails them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ENV_REQUIRE = "MEMGPT_REQUIRE_BROWSER"
# What works in a container as root: no sandbox, no GPU, and nothing that calls home (updates, sync, QUIC).
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 20_000  # Playwright's waits; a loaded 2-core machine can be slow, a wait is not a timing assertion


def unavailable(reason: str) -> None:
    message = f"the browser tests need {reason}"
    if os.environ.get(ENV_REQUIRE) == "1":
        pytest.fail(f"{message} ({ENV_REQUIRE}=1 forbids skipping)", pytrace=False)
    pytest.skip(message)


# Per module, not per session: while Playwright's sync API runs, the main thread has a running event loop,
# and any later test calling asyncio.run() (or a pytest-asyncio test) would fail.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        unavailable(f"Debian's chromium at {CHROMIUM} (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright for Python (pip install -e '.[dev]')")
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        # Playwright makes an empty profile (--user-data-dir) of its own for each launch
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            yield launched
        finally:
            launched.close()
