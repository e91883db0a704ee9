"""The scripted LLM server as users run it: a subprocess on a free port, logging JSON lines."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx


def test_server_process_replays_script_and_logs(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps([{"tool_calls": [{"name": "send_message", "arguments": {"message": "hi"}}]}]))
    log = tmp_path / "log.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "memgpt.testing.fake_llm", "--script", str(script), "--port", "0", "--log", str(log)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("listening on http://127.0.0.1:")
        base = line.split()[-1] + "/v1"
        body = {"model": "m", "messages": [{"role": "user", "content": "hello"}]}
        first = httpx.post(f"{base}/chat/completions", json=body, timeout=10).json()
        call = first["choices"][0]["message"]["tool_calls"][0]
        assert json.loads(call["function"]["arguments"]) == {"message": "hi"}
        assert first["usage"]["prompt_tokens"] > 0
        exhausted = httpx.post(f"{base}/chat/completions", json=body, timeout=10)
        assert exhausted.status_code == 500 and "used up" in exhausted.json()["error"]["message"]
        vectors = httpx.post(
            f"{base}/embeddings", json={"model": "e", "input": ["red apple", "red apple pie", "tax law"]}, timeout=10
        ).json()
        a, b, c = (v["embedding"] for v in vectors["data"])
        assert sum(x * y for x, y in zip(a, b, strict=True)) > sum(x * y for x, y in zip(a, c, strict=True))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    logged = [json.loads(x) for x in log.read_text().splitlines()]
    assert [entry["path"] for entry in logged] == ["/v1/chat/completions"] * 2 + ["/v1/embeddings"]
    assert logged[0]["body"]["messages"][0]["content"] == "hello"
    assert logged[0]["reply_index"] == 0
