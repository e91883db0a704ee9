"""The sandbox custom tools run in: a separate Python process per call, never the agent's own.

Each call gets a fresh process (:mod:`memgpt.tools.sandbox_runner`) with

- a wall-clock timeout, after which its whole process group is killed;
- resource limits it sets on itself before the tool's code runs: address space (``RLIMIT_AS``), CPU seconds
  (``RLIMIT_CPU``), file size (``RLIMIT_FSIZE``), open files, processes (``RLIMIT_NPROC``, not for root), no
  core dumps;
- an environment of its own: ``PATH``, ``HOME`` and ``TMPDIR`` (its working directory), ``LANG``, plus the
  agent's tool variables; nothing of memgpt's environment (API keys, database URL) reaches it;
- a working directory of its own, removed afterwards;
- capped output: what it prints (stdout and stderr together) is read as it comes and the process is stopped
  once it passes the cap, so 100 MB of output never sits in memory.

``strict`` mode runs the same process under bubblewrap (``bwrap``): no network (a new network namespace),
its own PID namespace, a read-only view of only what Python needs (the interpreter, its libraries and
site-packages), a size-limited tmpfs as its working directory and ``/tmp``, and nothing else of the
filesystem (no home directories, no memgpt database). See the README for what neither mode protects against.

Warm workers: a process started ahead of time waits for its request, so a call skips interpreter start-up
(measured in ``benchmarks/tools.py``: see ``benchmarks/results/tools.md``). Each worker still serves one
call only: nothing of one call (its variables, files, imported state) can reach the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
from collections import deque
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from memgpt.errors import ConfigError
from memgpt.memory.agent_state import LOCAL_USER_ID
from memgpt.memory.tools import SandboxMode, ToolSettings

log = logging.getLogger(__name__)

RUNNER = Path(__file__).with_name("sandbox_runner.py")
SCHEMA_MODULE = Path(__file__).with_name("schema.py")
BASE_PATH = "/usr/local/bin:/usr/bin:/bin"
RESULT_CHARS = 100_000  # a result is cut here in the sandbox (the model sees far less: tool_result_limit)
REPLY_BYTES = 4 * RESULT_CHARS + 65_536  # the reply channel's cap (UTF-8 and JSON escaping included)
OUTPUT_KEEP = 8_192  # bytes of printed output kept (the first ones, and as many of the last)
FILE_BYTES = 64 * 1024 * 1024
OPEN_FILES = 256
PROCESSES = 64  # beyond those the user already runs (RLIMIT_NPROC counts all of them)
STRICT_TMPFS_BYTES = 256 * 1024 * 1024
REAP_S = 2.0
STRICT_HOME = "/sandbox"  # the working directory inside bubblewrap (a tmpfs)
RESERVED_VARIABLES = frozenset({"PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "PWD"})
FailureKind = Literal["timeout", "output", "memory", "cpu", "crash", "exception", "arguments", "invalid", "sandbox"]


class SandboxUnavailableError(ConfigError):
    """The strict sandbox was asked for but bubblewrap cannot run here."""


@dataclass(slots=True)
class SandboxOutcome:
    """What a sandboxed call produced: a result (None: the tool returned None), or a failure with a reason."""

    ok: bool
    result: str | None = None
    error: str = ""
    kind: FailureKind | None = None
    output: str = ""  # what the tool printed (its first and last bytes, when it printed much)
    result_chars: int = 0  # the full result's length, when it was cut at RESULT_CHARS
    extra: dict[str, Any] = field(default_factory=dict)  # describe: the schema and the function names


def base_environment(home: str) -> dict[str, str]:
    return {"PATH": BASE_PATH, "HOME": home, "TMPDIR": home, "LANG": "C.UTF-8"}


# ----------------------------------------------------------------------------- strict mode (bubblewrap)
_strict_checked: str | None = None  # None: not probed yet; "": works; otherwise why not


def strict_problem() -> str | None:
    """Why the strict sandbox cannot run here (None if it can); probed once per process."""
    global _strict_checked
    if _strict_checked is None:
        _strict_checked = _probe_bwrap()
    return _strict_checked or None


def _probe_bwrap() -> str:
    import subprocess

    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bubblewrap is not installed (Debian/Ubuntu: apt install bubblewrap; Fedora: dnf install bubblewrap)"
    try:
        done = subprocess.run(
            [bwrap, *_strict_arguments(), sys.executable, "-I", "-c", "pass"],
            capture_output=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap failed to start ({exc})"
    if done.returncode != 0:
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
        last = reason[-1] if reason else done.returncode
        return f"bubblewrap cannot create a sandbox here ({last}); user namespaces may be disabled"
    return ""


def check_strict() -> None:
    problem = strict_problem()
    if problem:
        raise SandboxUnavailableError(
            f"The strict tool sandbox is not available: {problem}. Use the default sandbox (--sandbox process), "
            "or install bubblewrap."
        )


def _strict_arguments() -> list[str]:
    """bwrap's arguments: the interpreter's files read-only, a tmpfs to work in, no network, nothing else."""
    args = ["--die-with-parent", "--unshare-all", "--new-session", "--cap-drop", "ALL", "--hostname", "sandbox"]
    args += ["--proc", "/proc", "--dev", "/dev"]
    # the tmpfs first: a folder bound afterwards inside one (a virtualenv under /tmp) stays visible
    args += ["--size", str(STRICT_TMPFS_BYTES), "--tmpfs", "/tmp", "--size", str(STRICT_TMPFS_BYTES)]
    args += ["--tmpfs", STRICT_HOME]
    for top in ("/bin", "/lib", "/lib64", "/sbin"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    args += ["--ro-bind", "/usr", "/usr"]
    for etc in ("/etc/ld.so.cache", "/etc/localtime", "/etc/ssl", "/etc/ca-certificates", "/etc/alternatives"):
        args += ["--ro-bind-try", etc, etc]
    for folder in _python_folders():
        args += ["--ro-bind", folder, folder]
    args += ["--chdir", STRICT_HOME]
    return args


def import_path() -> list[str]:
    """This interpreter's import path (standard library, site-packages, editable installs) for the tool's
    process, without the current directory."""
    cwd = os.path.realpath(os.getcwd())
    return [p for p in sys.path if p and os.path.isdir(p) and os.path.realpath(p) != cwd]


def _python_folders() -> list[str]:
    """The interpreter, its standard library, site-packages and memgpt's own folder (read-only in the sandbox)."""
    wanted = {sys.base_prefix, sys.prefix, os.path.dirname(os.path.realpath(sys.executable)), str(RUNNER.parent)}
    wanted |= set(import_path())
    folders = sorted({os.path.realpath(p) for p in wanted if not p.startswith("/usr/")})
    # a folder inside another one is bound with it
    return [f for f in folders if not any(f != o and f.startswith(o.rstrip("/") + "/") for o in folders)]


# ----------------------------------------------------------------------------- one process
class _Worker:
    """One sandbox process, started (and possibly waiting for its request) but not yet used."""

    def __init__(self, process: asyncio.subprocess.Process, workdir: str | None, mode: SandboxMode) -> None:
        self.process = process
        self.workdir = workdir
        self.mode = mode

    @classmethod
    async def start(cls, mode: SandboxMode) -> _Worker:
        # -S: no site processing at start-up (the request carries the import path): ~10 ms less per cold call
        command = [sys.executable, "-I", "-S", "-B", "-X", "utf8", str(RUNNER)]
        if mode == "strict":
            check_strict()
            bwrap = shutil.which("bwrap")
            assert bwrap is not None
            workdir, home = None, STRICT_HOME
            command = [bwrap, *_strict_arguments(), *command]
        else:
            workdir = home = tempfile.mkdtemp(prefix="memgpt-tool-")
        try:
            process = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                cwd=workdir or "/",
                env=base_environment(home),
                start_new_session=True,  # its own process group: everything it starts is killed with it
                limit=65_536,
            )
        except BaseException:
            if workdir is not None:
                shutil.rmtree(workdir, ignore_errors=True)
            raise
        return cls(process, workdir, mode)

    @property
    def home(self) -> str:
        return self.workdir or STRICT_HOME

    async def run(
        self, request: dict[str, Any], settings: ToolSettings, later: Callable[[Coroutine[Any, Any, None]], None]
    ) -> SandboxOutcome:
        """Send the request and collect the outcome within the tool's limits. The process group is killed
        before this returns; reaping it and removing its directory are handed to ``later``."""
        output = _Output(settings.output_bytes, self.kill)
        reply = bytearray()
        readers = [
            asyncio.ensure_future(output.read(self.process.stderr)),
            asyncio.ensure_future(_read_reply(self.process.stdout, reply, self.kill)),
        ]
        timed_out = False
        try:
            await self._send(request)
            # The reply channel ends when the runner does (only it holds that pipe). Not process.wait(): in
            # asyncio it also waits for every pipe to close, which a process the tool started may hold open.
            try:
                await asyncio.wait_for(asyncio.shield(readers[1]), settings.timeout_s)
            except TimeoutError:
                timed_out = True
            self.kill()  # whatever it started goes too
            answer = _answer(reply)
            if answer is None or answer.get("result") is None:  # what it printed is the result, or explains
                with contextlib.suppress(TimeoutError):  # the last of it (a killed holder of the pipe lets go)
                    await asyncio.wait_for(asyncio.shield(readers[0]), REAP_S)
            if answer is None:  # its exit status says what happened
                with contextlib.suppress(ProcessLookupError, TimeoutError):
                    await asyncio.wait_for(asyncio.shield(self.process.wait()), REAP_S)
        finally:
            self.kill()  # also when the call is cancelled
            later(self._reap(readers))
        return _outcome(self.process.returncode, answer, output, timed_out, settings)

    async def _send(self, request: dict[str, Any]) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        try:
            stdin.write(json.dumps(request, ensure_ascii=False).encode("utf-8") + b"\n")
            await stdin.drain()
            stdin.close()
        except (BrokenPipeError, ConnectionResetError):  # it died first: the outcome says how
            pass

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)

    async def _reap(self, readers: Sequence[asyncio.Future[None]]) -> None:
        # A process that left the group (setsid) may keep a pipe open: then neither its end nor the pipe's is
        # waited for longer than REAP_S.
        with contextlib.suppress(ProcessLookupError, TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.process.wait()), REAP_S)
        _, pending = await asyncio.wait(readers, timeout=REAP_S)
        for task in pending:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        if self.workdir is not None:
            await asyncio.to_thread(shutil.rmtree, self.workdir, True)

    async def discard(self) -> None:
        """End a worker that was never used."""
        self.kill()
        with contextlib.suppress(ProcessLookupError):
            await self.process.wait()
        if self.workdir is not None:
            await asyncio.to_thread(shutil.rmtree, self.workdir, True)


class _Output:
    """What the tool prints, read as it comes: the first and the last OUTPUT_KEEP bytes are kept."""

    def __init__(self, cap: int, stop: Any) -> None:
        self.cap = cap
        self.stop = stop
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0
        self.exceeded = False

    async def read(self, stream: asyncio.StreamReader | None) -> None:
        assert stream is not None
        while chunk := await stream.read(65_536):
            self.total += len(chunk)
            room = OUTPUT_KEEP - len(self.head)
            if room > 0:
                self.head += chunk[:room]
                chunk = chunk[room:]
            self.tail = (self.tail + chunk)[-OUTPUT_KEEP:]
            if self.total > self.cap and not self.exceeded:
                self.exceeded = True
                self.stop()

    def text(self) -> str:
        head = self.head.decode("utf-8", "replace")
        if not self.tail:
            return head
        skipped = self.total - len(self.head) - len(self.tail)
        gap = f"\n[... {skipped:,} bytes not shown ...]\n" if skipped > 0 else ""
        return head + gap + self.tail.decode("utf-8", "replace")


async def _read_reply(stream: asyncio.StreamReader | None, into: bytearray, stop: Any) -> None:
    assert stream is not None
    while chunk := await stream.read(65_536):
        into += chunk
        if len(into) > REPLY_BYTES:
            stop()
            into.clear()
            return


def _answer(reply: bytearray) -> dict[str, Any] | None:
    """The runner's reply (one JSON line, written just before it exits), or None if it wrote none."""
    if not reply.endswith(b"\n"):
        return None
    try:
        answer = json.loads(bytes(reply))
    except ValueError:
        return None
    return answer if isinstance(answer, dict) else None


def _outcome(
    code: int | None, answer: dict[str, Any] | None, output: _Output, timed_out: bool, settings: ToolSettings
) -> SandboxOutcome:
    printed = output.text()
    if output.exceeded:
        return _failed("output", f"printed more than {settings.output_bytes:,} bytes; it was stopped", printed)
    if timed_out:
        return _failed("timeout", f"did not finish within {settings.timeout_s:g} s; it was stopped", printed)
    if answer is not None:
        if answer.get("ok"):
            extra = {k: v for k, v in answer.items() if k in ("schema", "coerce", "functions")}
            result = answer.get("result")
            chars = int(answer.get("result_chars") or 0)
            return SandboxOutcome(
                True, None if result is None else str(result), output=printed, result_chars=chars, extra=extra
            )
        kind = answer.get("kind")
        error = str(answer.get("error") or "failed")
        if kind == "memory":
            error = f"ran out of memory (its limit is {settings.memory_mb:,} MB)"
        known: FailureKind = kind if kind in ("memory", "exception", "arguments", "invalid") else "crash"
        return _failed(known, error, printed)
    if code is not None and code < 0:
        number = -code
        if number == signal.SIGXCPU or (number == signal.SIGKILL and not timed_out and _cpu_suspect(settings)):
            return _failed("cpu", f"used more than its {settings.cpu_s} s of CPU; it was stopped", printed)
        name = signal.Signals(number).name if number in signal.Signals._value2member_map_ else str(number)
        return _failed("crash", f"crashed (signal {name}) before returning a result", printed)
    return _failed(
        "crash",
        f"exited (code {code}) before returning a result: the interpreter crashed or the tool called os._exit",
        printed,
    )


def _cpu_suspect(settings: ToolSettings) -> bool:
    return settings.cpu_s < settings.timeout_s


def _failed(kind: FailureKind, error: str, printed: str) -> SandboxOutcome:
    return SandboxOutcome(False, error=error, kind=kind, output=printed)


# ----------------------------------------------------------------------------- the pool
def _configured_warm() -> int:
    raw = os.environ.get("MEMGPT_TOOL_WARM_WORKERS", "1")
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"MEMGPT_TOOL_WARM_WORKERS must be a whole number, got {raw!r}.") from None
    return max(0, min(value, 16))


STRICT_FOR_USERS = (
    " (tools of users other than the local one always run strict; MEMGPT_TOOL_SANDBOX=process lets them"
    " run in the default sandbox, which can read this machine's files, the database's included)"
)
SandboxPolicy = Literal["default", "process", "strict"]


def _configured_policy() -> SandboxPolicy:
    raw = os.environ.get("MEMGPT_TOOL_SANDBOX", "").strip().lower()
    if raw == "":
        return "default"
    if raw in ("process", "strict"):
        return "process" if raw == "process" else "strict"
    raise ConfigError(f"MEMGPT_TOOL_SANDBOX must be 'process' or 'strict', got {raw!r}.")


class Sandbox:
    """Runs custom tools' source in sandbox processes, keeping ``warm`` workers started ahead per mode.

    Tools of the local user run in the sandbox they were registered with; tools of any other user (a
    server's users, who could otherwise read the database's files) always run strict, unless
    ``MEMGPT_TOOL_SANDBOX=process`` lets every tool have its own; ``MEMGPT_TOOL_SANDBOX=strict`` puts
    every tool in the strict sandbox.
    ``MEMGPT_TOOL_WARM_WORKERS`` (default 1, 0 for none) is how many workers wait per mode. At most
    ``parallel`` tool processes run at once; further calls wait for one to finish.
    """

    def __init__(self, *, warm: int | None = None, parallel: int | None = None) -> None:
        self.warm = _configured_warm() if warm is None else warm
        self.policy = _configured_policy()
        self._idle: dict[SandboxMode, deque[_Worker]] = {"process": deque(), "strict": deque()}
        self._filling: set[asyncio.Task[None]] = set()
        self._cleaning: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(parallel or max(4, 2 * (os.cpu_count() or 1)))
        self._closed = False

    def mode_for(self, settings: ToolSettings, owner: str = LOCAL_USER_ID) -> SandboxMode:
        """The sandbox a tool of ``owner`` with ``settings`` runs in."""
        if self.policy == "strict" or (self.policy == "default" and owner != LOCAL_USER_ID):
            return "strict"
        return settings.sandbox

    async def call(
        self,
        source: str,
        function: str,
        arguments: Mapping[str, Any],
        *,
        settings: ToolSettings,
        variables: Mapping[str, str] | None = None,
        owner: str = LOCAL_USER_ID,
    ) -> SandboxOutcome:
        """Run ``function`` of ``source`` (a tool of user ``owner``) with ``arguments`` (already checked
        against its schema)."""
        request = {
            "op": "call",
            "source": source,
            "function": function,
            "arguments": dict(arguments),
            "coerce": settings.coerce,
            "result_chars": RESULT_CHARS,
        }
        return await self._run(request, settings, variables or {}, owner)

    async def describe(
        self, source: str, function: str | None, *, settings: ToolSettings, owner: str = LOCAL_USER_ID
    ) -> SandboxOutcome:
        """Run ``source`` and describe ``function`` (default: its last public function): ``extra["schema"]``."""
        request = {"op": "describe", "source": source, "function": function, "schema_module": str(SCHEMA_MODULE)}
        return await self._run(request, settings, {}, owner)

    async def _run(
        self, request: dict[str, Any], settings: ToolSettings, variables: Mapping[str, str], owner: str
    ) -> SandboxOutcome:
        mode = self.mode_for(settings, owner)
        if mode == "strict" and strict_problem():
            why = "" if settings.sandbox == "strict" else STRICT_FOR_USERS
            return _failed("sandbox", f"the strict sandbox is not available here: {strict_problem()}{why}", "")
        async with self._slots:
            worker = await self._take(mode)
            request["env"] = base_environment(worker.home) | dict(variables)
            request["path"] = import_path()
            request["limits"] = {
                "memory_bytes": settings.memory_mb * 1024 * 1024,
                "cpu_s": settings.cpu_s,
                "file_bytes": FILE_BYTES,
                "open_files": OPEN_FILES,
                "processes": PROCESSES,
            }
            try:
                return await worker.run(request, settings, self._later)
            finally:
                # started after the call, not during it: on two cores a process starting beside the call
                # made a warm call 2-3 times slower (measured in benchmarks/tools.py)
                self._refill(mode)

    async def _take(self, mode: SandboxMode) -> _Worker:
        idle = self._idle[mode]
        while idle:
            worker = idle.popleft()
            if worker.process.returncode is None:
                return worker
            await worker.discard()  # died while waiting (killed from outside)
        return await _Worker.start(mode)

    def _refill(self, mode: SandboxMode) -> None:
        if self._closed or self.warm == 0 or len(self._idle[mode]) + len(self._filling) >= self.warm:
            return
        task = asyncio.get_running_loop().create_task(self._start_idle(mode))
        self._filling.add(task)
        task.add_done_callback(self._filling.discard)

    async def _start_idle(self, mode: SandboxMode) -> None:
        try:
            worker = await _Worker.start(mode)
        except Exception as exc:  # the next call starts its own and reports what is wrong
            log.debug("could not start a warm tool worker: %s", exc)
            return
        if self._closed:
            await worker.discard()
        else:
            self._idle[mode].append(worker)

    def _later(self, work: Coroutine[Any, Any, None]) -> None:
        """Run clean-up after a call returned (awaited at :meth:`close`)."""
        task = asyncio.get_running_loop().create_task(work)
        self._cleaning.add(task)
        task.add_done_callback(self._cleaning.discard)

    async def close(self) -> None:
        """Stop the idle workers and finish cleaning up after calls (running calls finish on their own)."""
        self._closed = True
        if self._filling:
            await asyncio.gather(*self._filling, return_exceptions=True)
        if self._cleaning:
            await asyncio.gather(*self._cleaning, return_exceptions=True)
        for idle in self._idle.values():
            while idle:
                await idle.popleft().discard()
