"""``memgpt ui``: the browser opens at the server's page, and a server is started when none is running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from memgpt.testing import FakeLLMServer
from tests.server.harness import ServerProcess, free_port, say


def fake_browser(tmp_path: Path) -> tuple[str, Path]:
    """A $BROWSER command that writes the URL it was asked to open to a file."""
    opened = tmp_path / "opened.txt"
    script = tmp_path / "browser"
    script.write_text(f'#!/bin/sh\nprintf "%s" "$1" > {opened}\n')
    script.chmod(0o755)
    return str(script), opened


def memgpt_ui(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "memgpt.cli.main", "ui", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


def test_ui_opens_the_browser_at_a_running_server_or_prints_the_url(tmp_path: Path) -> None:
    browser, opened = fake_browser(tmp_path)
    with FakeLLMServer({"replies": [], "default": say("hi")}) as llm:
        server = ServerProcess(tmp_path / "home", llm).start()
        try:
            shown = memgpt_ui(server.env | {"BROWSER": browser}, "--port", str(server.port))
            assert shown.returncode == 0, shown.stderr
            assert opened.read_text() == f"{server.url}/" and f"memgpt UI: {server.url}/" in shown.stderr
            nowhere = memgpt_ui(server.env | {"BROWSER": "false"}, "--port", str(server.port))
            assert nowhere.returncode == 0 and f"open {server.url}/ in yours" in nowhere.stderr
        finally:
            server.stop()
    with FakeLLMServer({"replies": [], "default": say("hi")}) as other:  # a port where something else answers
        taken = memgpt_ui(server.env | {"BROWSER": browser}, "--port", other.base_url.rsplit(":", 1)[1].split("/")[0])
    assert taken.returncode == 1 and "not memgpt server" in taken.stderr and "Traceback" not in taken.stderr


def test_ui_starts_a_server_when_none_is_running(tmp_path: Path) -> None:
    browser, opened = fake_browser(tmp_path)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEMGPT_", "OPENAI_"))}
    env |= {"MEMGPT_HOME": str(tmp_path / "home"), "MEMGPT_EMBEDDING": "none", "BROWSER": browser}
    command = [sys.executable, "-m", "memgpt.cli.main", "ui", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not opened.exists() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.1)
        assert opened.exists(), process.stderr.read() if process.poll() is not None else "no browser opened"
        url = f"http://127.0.0.1:{port}/"
        assert opened.read_text() == url  # opened once the server listened
        page = httpx.get(url)
        assert page.status_code == 200 and "<title>memgpt</title>" in page.text
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    # uvicorn ends by raising the signal it handled again (as memgpt server does): a clean stop either way
    assert process.returncode in (0, -signal.SIGTERM) and "Traceback" not in stderr
