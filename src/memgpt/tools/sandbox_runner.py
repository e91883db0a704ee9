"""The program a sandboxed tool process runs (``python -I -S sandbox_runner.py``): standard library only.

It never runs inside memgpt's own process. The parent (:mod:`memgpt.tools.sandbox`) starts it, possibly
ahead of time (a warm worker waits on stdin), and writes one JSON request line::

    {"op": "call" | "describe", "source": ..., "function": ..., "arguments": {...}, "env": {...},
     "path": [...], "limits": {...}, "coerce": false, "result_chars": 100000, "schema_module": "schema.py"}

Before any of the tool's code runs, the runner lowers its own resource limits (address space, CPU
seconds, file size, processes, open files, no core dumps), replaces its environment with the request's
(so an agent's tool variables exist only in its tool's process), and points its stdout at its stderr: what
the tool prints goes to the parent's capped output pipe, and the one JSON reply goes to the original stdout,
which nothing the tool starts inherits. ``describe`` runs the source and returns the chosen function's JSON
schema (made by memgpt's ``tools/schema.py``, loaded by path).
"""

from __future__ import annotations

import builtins
import json
import os
import resource
import signal
import sys
import types

TYPE_CHECKING = False  # not typing's: importing typing (and re with it) costs start-up time
if TYPE_CHECKING:
    from typing import Any

# Only what every call needs is imported here (this program's start-up is each cold call's overhead: asyncio
# alone took 15-50 ms to import on the benchmark machine); the rest is imported where it is used.
REQUEST_MAX = 8 * 1024 * 1024


def main() -> None:
    reply_fd = os.dup(1)  # the reply channel (not inheritable): the tool's prints go to stderr from here on
    os.dup2(2, 1)
    # The interpreter's first compile() sets up the compiler (about 1 ms): a warm worker does it while it waits.
    compile("def warm_up(a: int = 0) -> str:\n    return ''\n", "<warm-up>", "exec")
    line = sys.stdin.buffer.readline(REQUEST_MAX)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)  # the tool cannot read (or wait on) the request channel
    try:
        request = json.loads(line)
    except ValueError:
        _reply(reply_fd, {"ok": False, "kind": "protocol", "error": "the sandbox received no request"})
        return
    # started with -S (no site processing at start-up): the parent's import path, site-packages included
    sys.path[:] = [p for p in request.get("path") or sys.path if isinstance(p, str)]
    _limit(request.get("limits") or {})
    os.environ.clear()
    os.environ.update(request.get("env") or {})
    try:
        outcome = _describe(request) if request.get("op") == "describe" else _call(request)
    except BaseException as exc:  # the tool's code raised (or exited): never a traceback of ours
        outcome = _failure(exc, request)
    _reply(reply_fd, outcome)


def _limit(limits: dict[str, int]) -> None:
    """Lower this process's limits (soft and hard: nothing the tool runs can raise them again)."""
    memory = limits.get("memory_bytes")
    if memory:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    cpu = limits.get("cpu_s")
    if cpu:
        used = resource.getrusage(resource.RUSAGE_SELF)
        soft = int(used.ru_utime + used.ru_stime) + cpu
        resource.setrlimit(resource.RLIMIT_CPU, (soft, soft + 1))  # SIGXCPU at soft, SIGKILL one second later
    size = limits.get("file_bytes")
    if size:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized write fails with EFBIG instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    files = limits.get("open_files")
    if files:
        resource.setrlimit(resource.RLIMIT_NOFILE, (files, files))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    processes = limits.get("processes")
    if processes and os.getuid() != 0:  # RLIMIT_NPROC counts every process of the user; root is exempt anyway
        current = _processes_of(os.getuid())
        resource.setrlimit(resource.RLIMIT_NPROC, (current + processes, current + processes))


def _processes_of(uid: int) -> int:
    count = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                count += entry.stat().st_uid == uid
            except OSError:
                continue
    return count


def _load(request: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Run the tool's source; its namespace and the names of its top-level functions, in order."""
    source = str(request.get("source", ""))
    module = types.ModuleType("memgpt_tool")  # a real module: dataclasses and type hints look it up by name
    module.__dict__["__builtins__"] = builtins
    module.__dict__["__memgpt_source__"] = source
    sys.modules[module.__name__] = module
    exec(compile(source, _filename(request), "exec"), module.__dict__)
    names = [  # functions defined by the source itself (not imported), in the order they were defined
        name
        for name, value in module.__dict__.items()
        if isinstance(value, types.FunctionType) and value.__module__ == module.__name__
    ]
    return module.__dict__, names


def _filename(request: dict[str, Any]) -> str:
    return f"<tool {request.get('function') or 'source'}>"


def _chosen(namespace: dict[str, Any], names: list[str], wanted: str | None) -> Any:
    if wanted:
        if wanted not in names:
            public = ", ".join(names) or "none"
            raise _Refused(f"the source defines no function {wanted!r} (its functions: {public})")
        return namespace[wanted]
    candidates = [n for n in names if not n.startswith("_")]
    if not candidates:
        raise _Refused("the source defines no function (write `def name(arg: type) -> str:` with a docstring)")
    return namespace[candidates[-1]]  # as Letta does: the last function defined; helpers come before it


class _Refused(Exception):
    """The source cannot be a tool (reported as it is, without a traceback)."""


def _describe(request: dict[str, Any]) -> dict[str, Any]:
    import importlib.util

    namespace, names = _load(request)
    fn = _chosen(namespace, names, request.get("function"))
    spec = importlib.util.spec_from_file_location("memgpt_tool_schema", request["schema_module"])
    assert spec is not None and spec.loader is not None
    schema_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(schema_module)
    if not (fn.__doc__ or "").strip():
        raise _Refused(f"{fn.__name__} has no docstring: say what it does (the model reads it to decide when to call)")
    try:
        schema = schema_module.function_schema(fn, skip=0, heartbeat=False)
        coerce = schema_module.function_needs_coercion(fn)
    except (TypeError, NameError) as exc:
        raise _Refused(str(exc)) from None
    return {"ok": True, "schema": schema, "coerce": coerce, "functions": names}


def _call(request: dict[str, Any]) -> dict[str, Any]:
    namespace, names = _load(request)
    fn = _chosen(namespace, names, request.get("function"))
    if request.get("coerce"):
        import pydantic  # only for tools whose parameters are enums, dataclasses, models...

        fn = pydantic.validate_call(fn)
    value = fn(**(request.get("arguments") or {}))
    if hasattr(value, "__await__"):  # an async tool
        import asyncio

        value = asyncio.run(_awaited(value))
    if value is None:
        return {"ok": True, "result": None}
    text = _render(value)
    limit = int(request.get("result_chars") or 100_000)
    return {"ok": True, "result": text[:limit], "result_chars": len(text)}


async def _awaited(value: Any) -> Any:
    return await value


def _render(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, default=_plain)
    except (TypeError, ValueError):
        return repr(value)


def _plain(value: Any) -> Any:
    import dataclasses
    import enum

    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, enum.Enum):
        return value.value
    return str(value)


def _failure(exc: BaseException, request: dict[str, Any]) -> dict[str, Any]:
    import linecache
    import traceback

    source = str(request.get("source", ""))  # for the line of the tool's code in the message
    filename = _filename(request)
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    if isinstance(exc, _Refused):
        return {"ok": False, "kind": "invalid", "error": str(exc)}
    if isinstance(exc, SyntaxError):
        return {"ok": False, "kind": "invalid", "error": f"syntax error on line {exc.lineno}: {exc.msg}"}
    if isinstance(exc, MemoryError):
        return {"ok": False, "kind": "memory", "error": "ran out of memory"}
    if isinstance(exc, SystemExit):
        return {"ok": False, "kind": "exit", "error": f"called sys.exit({exc.code!r})"}
    if isinstance(exc, RecursionError):
        return {"ok": False, "kind": "exception", "error": "RecursionError: maximum recursion depth exceeded"}
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
    where = f" (line {frames[-1].lineno}: {frames[-1].line})" if frames and frames[-1].line else ""
    message = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    if type(exc).__name__ == "ValidationError" and request.get("coerce"):  # pydantic's, for a converted argument
        return {"ok": False, "kind": "arguments", "error": message.split("\n", 1)[-1][:2000]}
    return {"ok": False, "kind": "exception", "error": f"{message[:2000]}{where}"}


def _reply(fd: int, outcome: dict[str, Any]) -> None:
    for stream in (sys.stdout, sys.stderr):
        try:  # noqa: SIM105 - contextlib would cost start-up time
            stream.flush()
        except (OSError, ValueError):  # the tool closed or broke it
            pass
    data = (json.dumps(outcome, ensure_ascii=False, default=str) + "\n").encode("utf-8", "replace")
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
    os.close(fd)
    os._exit(0)  # the tool's atexit handlers and lingering threads do not get to delay the reply


if __name__ == "__main__":
    main()
