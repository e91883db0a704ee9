"""The sandbox on its own: each misbehaviour ends as a Failed outcome with a reason, within the tool's limits,
and nothing of memgpt's process (environment, files, network in strict mode) reaches the tool."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from memgpt.memory.tools import ToolSettings
from memgpt.tools.sandbox import OUTPUT_KEEP, Sandbox, strict_problem
from tests.tools.tool_sources import MISBEHAVING

LIMITS = ToolSettings(timeout_s=3, cpu_s=2, memory_mb=256)

PROBE = '''
import json, os, socket, subprocess, sys


def environment() -> str:
    """What the tool's process sees."""
    return json.dumps({"env": dict(os.environ), "cwd": os.getcwd(), "argv": sys.argv})


def remember() -> str:
    """Leaves state behind in an imported module, and reports state left by an earlier call."""
    before = getattr(json, "left_behind", None)
    json.left_behind = os.getpid()
    return json.dumps({"pid": os.getpid(), "before": before})


def spawn_child() -> str:
    """Starts a process and returns while it runs."""
    return str(subprocess.Popen(["sleep", "1000"]).pid)


def spin() -> str:
    """Burns CPU."""
    while True:
        pass


def divide(x: int) -> str:
    """Divides."""
    return str(10 / x)


def read_file(path: str) -> str:
    """Reads a file."""
    with open(path) as f:
        return f.read()


def connect(port: int) -> str:
    """Connects to a local port."""
    socket.create_connection(("127.0.0.1", port), timeout=2).close()
    return "connected"


def write_here(name: str) -> str:
    """Writes a file in its working directory."""
    with open(name, "w") as f:
        f.write("hello")
    return open(name).read()
'''


def process_state(pid: int) -> str:
    status = Path(f"/proc/{pid}/status")
    return status.read_text().split("State:")[1].split()[0] if status.exists() else "gone"


def write_private(home: Path) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    private = home / "memgpt.db"
    private.write_text("everyone's memories")
    return private


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    made = Sandbox(warm=1)
    yield made
    await made.close()


async def test_a_tool_sees_only_its_own_environment_and_working_directory(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-must-not-leak")
    monkeypatch.setenv("MEMGPT_DATABASE_URL", "postgresql://user:pw@db/memgpt")
    outcome = await sandbox.call(PROBE, "environment", {}, settings=LIMITS, variables={"SHOP_TOKEN": "tok"})
    assert outcome.ok, outcome.error
    seen = json.loads(outcome.result or "")
    assert set(seen["env"]) == {"PATH", "HOME", "TMPDIR", "LANG", "SHOP_TOKEN"}
    assert seen["env"]["SHOP_TOKEN"] == "tok"
    assert seen["env"]["HOME"] == seen["cwd"] == seen["env"]["TMPDIR"]
    assert os.path.basename(seen["cwd"]).startswith("memgpt-tool-")
    await sandbox.close()  # waits for the clean-up that follows each call
    assert not await asyncio.to_thread(os.path.exists, seen["cwd"])  # removed after the call


async def test_each_call_gets_a_fresh_process(sandbox: Sandbox) -> None:
    first = json.loads((await sandbox.call(PROBE, "remember", {}, settings=LIMITS)).result or "")
    second = json.loads((await sandbox.call(PROBE, "remember", {}, settings=LIMITS)).result or "")
    assert first["pid"] != second["pid"]
    assert second["before"] is None  # nothing of the first call reached the second (warm worker or not)


async def test_sleeping_forever_is_stopped_at_the_timeout(sandbox: Sandbox) -> None:
    outcome = await sandbox.call(MISBEHAVING, "sleep_forever", {}, settings=LIMITS)
    assert (outcome.ok, outcome.kind) == (False, "timeout")
    assert "did not finish within 3 s" in outcome.error


async def test_allocating_2_gb_fails_with_the_memory_limit(sandbox: Sandbox) -> None:
    outcome = await sandbox.call(MISBEHAVING, "eat_memory", {}, settings=LIMITS)
    assert (outcome.ok, outcome.kind) == (False, "memory")
    assert "256 MB" in outcome.error


async def test_os_exit_is_a_crash_with_its_exit_code(sandbox: Sandbox) -> None:
    outcome = await sandbox.call(MISBEHAVING, "crash_interpreter", {}, settings=LIMITS)
    assert (outcome.ok, outcome.kind) == (False, "crash")
    assert "exited (code 1)" in outcome.error


async def test_printing_100_mb_is_stopped_and_never_held_in_memory(sandbox: Sandbox) -> None:
    outcome = await sandbox.call(MISBEHAVING, "print_100_mb", {}, settings=LIMITS)
    assert (outcome.ok, outcome.kind) == (False, "output")
    assert "printed more than 1,000,000 bytes" in outcome.error
    assert len(outcome.output.encode()) < 3 * OUTPUT_KEEP  # only its first and last bytes were kept


async def test_burning_cpu_is_stopped_at_the_cpu_limit(sandbox: Sandbox) -> None:
    outcome = await sandbox.call(PROBE, "spin", {}, settings=ToolSettings(timeout_s=20, cpu_s=1))
    assert (outcome.ok, outcome.kind) == (False, "cpu")
    assert "1 s of CPU" in outcome.error


async def test_an_exception_names_its_type_message_and_line(sandbox: Sandbox) -> None:
    outcome = await sandbox.call(PROBE, "divide", {"x": 0}, settings=LIMITS)
    assert (outcome.ok, outcome.kind) == (False, "exception")
    assert "ZeroDivisionError: division by zero" in outcome.error
    assert "return str(10 / x)" in outcome.error


async def test_processes_a_tool_leaves_running_are_killed(sandbox: Sandbox) -> None:
    outcome = await sandbox.call(PROBE, "spawn_child", {}, settings=LIMITS)
    assert outcome.ok, outcome.error
    pid = int(outcome.result or 0)
    state = await asyncio.to_thread(process_state, pid)
    for _ in range(100):  # SIGKILL was sent before the call returned; on a loaded machine dying takes a moment
        if state in ("gone", "Z"):
            break
        await asyncio.sleep(0.1)
        state = await asyncio.to_thread(process_state, pid)
    assert state in ("gone", "Z")  # killed with its process group (a zombie until its new parent reaps it)


# ------------------------------------------------------------------ strict mode
needs_bwrap = pytest.mark.skipif(  # CI sets MEMGPT_REQUIRE_STRICT_SANDBOX=1: there they fail instead
    os.environ.get("MEMGPT_REQUIRE_STRICT_SANDBOX") != "1" and strict_problem() is not None,
    reason=f"the strict sandbox needs bubblewrap here: {strict_problem()}",
)
STRICT = ToolSettings(sandbox="strict", timeout_s=10)


@needs_bwrap
async def test_strict_mode_has_no_network(sandbox: Sandbox) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        allowed = await sandbox.call(PROBE, "connect", {"port": port}, settings=LIMITS)
        assert allowed.ok and allowed.result == "connected"  # the default sandbox does not stop it (documented)
        outcome = await sandbox.call(PROBE, "connect", {"port": port}, settings=STRICT)
    assert (outcome.ok, outcome.kind) == (False, "exception")
    assert "ConnectionRefusedError" in outcome.error or "OSError" in outcome.error


@needs_bwrap
async def test_strict_mode_sees_no_files_but_its_own(sandbox: Sandbox, memgpt_home: Path) -> None:
    private = await asyncio.to_thread(write_private, memgpt_home)
    readable = await sandbox.call(PROBE, "read_file", {"path": str(private)}, settings=LIMITS)
    assert readable.result == "everyone's memories"  # the default sandbox can read it (documented)
    for path in (str(private), "/etc/shadow", "/etc/passwd", str(Path.home() / ".bashrc")):
        outcome = await sandbox.call(PROBE, "read_file", {"path": path}, settings=STRICT)
        assert (outcome.ok, outcome.kind) == (False, "exception"), path
        assert "FileNotFoundError" in outcome.error, outcome.error
    written = await sandbox.call(PROBE, "write_here", {"name": "notes.txt"}, settings=STRICT)
    assert (written.ok, written.result) == (True, "hello")


@needs_bwrap
async def test_a_tool_of_a_user_other_than_the_local_one_runs_strict(
    sandbox: Sandbox, memgpt_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server's users could otherwise read the database (everyone's memories) from a tool of theirs."""
    private = await asyncio.to_thread(write_private, memgpt_home)
    read = {"path": str(private)}
    mine = await sandbox.call(PROBE, "read_file", read, settings=LIMITS)
    theirs = await sandbox.call(PROBE, "read_file", read, settings=LIMITS, owner="user-bob")
    assert mine.result == "everyone's memories"
    assert (theirs.ok, theirs.kind) == (False, "exception") and "FileNotFoundError" in theirs.error
    monkeypatch.setenv("MEMGPT_TOOL_SANDBOX", "process")  # the operator's choice: every tool its own sandbox
    trusting = Sandbox(warm=0)
    try:
        allowed = await trusting.call(PROBE, "read_file", read, settings=LIMITS, owner="user-bob")
    finally:
        await trusting.close()
    assert allowed.result == "everyone's memories"


@needs_bwrap
def test_strict_mode_works_from_a_virtualenv_under_tmp(tmp_path: Path) -> None:
    """The sandbox's own /tmp must not hide an interpreter that lives under /tmp (a CI checkout's .venv)."""
    assert str(tmp_path).startswith("/tmp/")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "venv")], check=True, timeout=120)
    probe = "from memgpt.tools.sandbox import strict_problem; print(strict_problem() or 'usable')"
    done = subprocess.run(
        [str(tmp_path / "venv" / "bin" / "python"), "-c", probe],
        env=os.environ | {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stdout.strip() == "usable", done.stdout + done.stderr


def test_strict_mode_without_bubblewrap_is_a_clear_error(tmp_path: Path) -> None:
    tool = tmp_path / "tool.py"
    tool.write_text("def hello() -> str:\n    '''Say hello.'''\n    return 'hi'\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMGPT_")}
    env |= {"PATH": str(tmp_path), "MEMGPT_HOME": str(tmp_path / "home"), "MEMGPT_EMBEDDING": "none"}
    done = subprocess.run(
        [sys.executable, "-m", "memgpt.cli.main", "tools", "add", str(tool), "--sandbox", "strict"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "bubblewrap is not installed" in done.stderr and "apt install bubblewrap" in done.stderr
    assert "Traceback" not in done.stderr
