"""The scripted LLM: an OpenAI-compatible HTTP server on 127.0.0.1 that replays a script of replies.

Run it::

    python -m memgpt.testing.fake_llm --script replies.json --port 8999 --log requests.jsonl

With ``--port 0`` it picks a free port. Its first line on stdout is ``listening on http://127.0.0.1:PORT``.
It serves ``POST /v1/chat/completions`` (plain, and streamed as server-sent events when the request
says ``"stream": true``), ``POST /v1/messages`` (the same script in Anthropic's format, not streamed;
``raw`` replies serve any format), ``POST /v1/embeddings`` (deterministic hashed bag-of-words vectors) and
``GET /v1/models``. Every request is appended to the log as one JSON line
``{"time", "path", "body", "reply_index"}`` so a test can assert on the exact context an agent sent.
Usage tokens are memgpt's own estimates of the request and the reply.

The script format is documented in :mod:`memgpt.testing.script`; in short, a JSON list of replies::

    [{"tool_calls": [{"name": "core_memory_append",
                      "arguments": {"label": "human", "content": "Name: Ada", "request_heartbeat": true}}]},
     {"content": "thinking...", "tool_calls": [{"name": "send_message", "arguments": {"message": "Hi Ada!"}}]},
     {"tool_calls": [{"name": "send_message", "arguments": "{not json"}]},
     {"error": {"status": 400, "code": "context_length_exceeded", "message": "too long"}}]

In tests use :class:`FakeLLMServer` (a context manager running the same server in a thread).
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from memgpt.testing.script import (
    Reply,
    ScriptExhaustedError,
    ScriptPlayer,
    pseudo_embedding,
    reply_tokens,
    request_tokens,
)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, player: ScriptPlayer, log_path: Path | None, embedding_dim: int) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.player = player
        self.log_path = log_path
        self.embedding_dim = embedding_dim
        self.requests: list[dict[str, Any]] = []
        self.log_lock = threading.Lock()
        self.counter = 0

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that hung up (cancelled) is no news
            super().handle_error(request, client_address)

    def record(self, path: str, body: dict[str, Any], index: int | None) -> None:
        with self.log_lock:
            self.requests.append(body)
            if self.log_path is not None:
                line = json.dumps({"time": time.time(), "path": path, "body": body, "reply_index": index})
                with self.log_path.open("a", encoding="utf-8") as handle:
                    handle.write(line + "\n")


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle's algorithm the body then waits for the client's
    # delayed ACK (40 ms on Linux): 90 ms per agent message against 10 ms without.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the JSON log is the record
        return

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            self._json(200, {"object": "list", "data": [{"id": "scripted", "object": "model", "owned_by": "memgpt"}]})
        else:
            self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            self._json(400, {"error": {"message": "request body is not JSON", "type": "invalid_request_error"}})
            return
        if self.path.rstrip("/").endswith(("/chat/completions", "/messages")):
            self._chat(body)
        elif self.path.rstrip("/").endswith("/embeddings"):
            self._embeddings(body)
        else:
            self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})

    def _chat(self, body: dict[str, Any]) -> None:
        try:
            index, reply = self.server.player.next(body)
        except ScriptExhaustedError as exc:
            self.server.record(self.path, body, None)
            self._json(500, {"error": {"message": str(exc), "type": "script_exhausted"}})
            return
        self.server.record(self.path, body, index)
        if reply.delay:
            time.sleep(reply.delay)
        if reply.raw is not None:
            self._send(reply.raw.status, reply.raw.content_type, reply.raw.body)
            return
        if reply.error:
            status = int(reply.error.get("status", 500))
            self._json(
                status,
                {
                    "error": {
                        "message": reply.error.get("message", "scripted error"),
                        "type": "invalid_request_error",
                        "code": reply.error.get("code"),
                    }
                },
            )
            return
        with self.server.log_lock:
            self.server.counter += 1
            number = self.server.counter
        usage = {"prompt_tokens": request_tokens(body), "completion_tokens": reply_tokens(reply)}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        if self.path.rstrip("/").endswith("/messages"):
            self._json(200, _anthropic_message(body, reply, number, usage))
        elif body.get("stream"):
            self._stream(body, reply, number, usage)
        else:
            self._json(200, _completion(body, reply, number, usage))

    def _stream(self, body: dict[str, Any], reply: Reply, number: int, usage: dict[str, int]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        for index, chunk in enumerate(_chunks(body, reply, number, usage)):
            if index and reply.interval:
                time.sleep(reply.interval)
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
        self.close_connection = True

    def _embeddings(self, body: dict[str, Any]) -> None:
        self.server.record(self.path, body, None)
        inputs = body.get("input", [])
        texts = [inputs] if isinstance(inputs, str) else list(inputs)
        dim = int(body.get("dimensions") or self.server.embedding_dim)
        data = [
            {"object": "embedding", "index": i, "embedding": pseudo_embedding(str(t), dim)} for i, t in enumerate(texts)
        ]
        tokens = sum(len(str(t).split()) for t in texts)
        self._json(
            200,
            {
                "object": "list",
                "data": data,
                "model": body.get("model", "scripted"),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
        )

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        self._send(status, "application/json", json.dumps(payload).encode())

    def _send(self, status: int, content_type: str, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _tool_calls(reply: Reply, number: int) -> list[dict[str, Any]]:
    return [
        {"id": f"call_{number}_{i}", "type": "function", "function": {"name": name, "arguments": arguments}}
        for i, (name, arguments) in enumerate(reply.tool_calls)
    ]


def _completion(body: dict[str, Any], reply: Reply, number: int, usage: dict[str, int]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
    if reply.tool_calls:
        message["tool_calls"] = _tool_calls(reply, number)
    return {
        "id": f"chatcmpl-{number}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "scripted"),
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if reply.tool_calls else "stop"}],
        "usage": usage,
    }


def _anthropic_message(body: dict[str, Any], reply: Reply, number: int, usage: dict[str, int]) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "text", "text": reply.content}] if reply.content else []
    for call in _tool_calls(reply, number):
        arguments = call["function"]["arguments"]
        try:
            value = json.loads(arguments)
        except ValueError:
            value = {"_raw_arguments": arguments}
        content.append({"type": "tool_use", "id": call["id"], "name": call["function"]["name"], "input": value})
    return {
        "id": f"msg_{number}",
        "type": "message",
        "role": "assistant",
        "model": body.get("model", "scripted"),
        "content": content,
        "stop_reason": "tool_use" if reply.tool_calls else "end_turn",
        "usage": {"input_tokens": usage["prompt_tokens"], "output_tokens": usage["completion_tokens"]},
    }


def _chunks(body: dict[str, Any], reply: Reply, number: int, usage: dict[str, int]) -> list[dict[str, Any]]:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": f"chatcmpl-{number}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.get("model", "scripted"),
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    chunks = [chunk({"role": "assistant", "content": ""})]
    text = reply.content or ""
    for start in range(0, len(text), 16):
        chunks.append(chunk({"content": text[start : start + 16]}))
    for i, call in enumerate(_tool_calls(reply, number)):
        arguments = call["function"]["arguments"]
        chunks.append(
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": i,
                            "id": call["id"],
                            "type": "function",
                            "function": {"name": call["function"]["name"], "arguments": ""},
                        }
                    ]
                }
            )
        )
        for start in range(0, len(arguments), 24):
            chunks.append(
                chunk({"tool_calls": [{"index": i, "function": {"arguments": arguments[start : start + 24]}}]})
            )
    chunks.append(chunk({}, "tool_calls" if reply.tool_calls else "stop"))
    if (body.get("stream_options") or {}).get("include_usage"):
        chunks.append(
            {
                "id": f"chatcmpl-{number}",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": body.get("model", "scripted"),
                "choices": [],
                "usage": usage,
            }
        )
    return chunks


class FakeLLMServer:
    """The scripted LLM server in a background thread: ``base_url = server.start()``, then ``server.stop()``."""

    def __init__(self, script: Any, *, log_path: Path | None = None, port: int = 0, embedding_dim: int = 64) -> None:
        self._server = _Server(port, ScriptPlayer(script), log_path, embedding_dim)
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Every request body received so far (chat and embeddings), in order."""
        return list(self._server.requests)

    def start(self) -> str:
        if self._thread is None:
            self._thread = threading.Thread(target=self._server.serve_forever, name="fake-llm", daemon=True)
            self._thread.start()
        return self.base_url

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> FakeLLMServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m memgpt.testing.fake_llm", description=__doc__.split("\n\n")[0])
    parser.add_argument("--script", type=Path, required=True, help="JSON script of replies")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--log", type=Path, default=None, help="append every request here as a JSON line")
    parser.add_argument("--embedding-dim", type=int, default=64)
    args = parser.parse_args(argv)
    try:
        script = json.loads(args.script.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        parser.error(f"cannot read the script {args.script}: {exc}")
    server = _Server(args.port, ScriptPlayer(script), args.log, args.embedding_dim)
    print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
