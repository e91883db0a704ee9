"""A real ``memgpt server`` process on a free port, talking to the scripted LLM server over HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from memgpt.testing import FakeLLMServer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """``memgpt server`` in a subprocess with its own MEMGPT_HOME (or database), stopped with SIGTERM."""

    def __init__(self, home: Path, llm: FakeLLMServer, *, database_url: str | None = None, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("MEMGPT_", "OPENAI_", "ANTHROPIC_"))}
        self.env = clean | {
            "MEMGPT_HOME": str(home),
            "MEMGPT_MODEL": "openai-compatible/fake",
            "MEMGPT_LLM_BASE_URL": llm.base_url,
            "MEMGPT_EMBEDDING": "none",
            **env,
        }
        if database_url:
            self.env["MEMGPT_DATABASE_URL"] = database_url
        self.process: subprocess.Popen[str] | None = None
        self.stderr = ""

    def start(self, *args: str) -> ServerProcess:
        command = [sys.executable, "-m", "memgpt.cli.main", "server", "--port", str(self.port), *args]
        self.process = subprocess.Popen(command, env=self.env, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"memgpt server exited: {self.process.communicate()[1]}")
            try:
                httpx.get(f"{self.url}/v1/health/", timeout=1)
                return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError("memgpt server did not start within 60 s")

    def stop(self) -> str:
        """SIGTERM, wait, and return what the server wrote to stderr."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.stderr += self.process.communicate(timeout=60)[1]
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.stderr += self.process.communicate()[1]
        return self.stderr

    def memgpt(self, *args: str) -> subprocess.CompletedProcess[str]:
        """A ``memgpt`` command against the server's store (users, keys...)."""
        return subprocess.run(
            [sys.executable, "-m", "memgpt.cli.main", *args], env=self.env, capture_output=True, text=True, timeout=120
        )


def say(text: str, thought: str | None = None) -> dict[str, Any]:
    reply: dict[str, Any] = {"tool_calls": [{"name": "send_message", "arguments": {"message": text}}]}
    if thought:
        reply["content"] = thought
    return reply


def call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"tool_calls": [{"name": name, "arguments": {**arguments, "request_heartbeat": True}}]}
