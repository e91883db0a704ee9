"""The web UI's page weight and time to interactive, in headless Chromium against a real ``memgpt server``.

    python benchmarks/ui_load.py --runs 20          # appends to benchmarks/results/ui.md

Page weight: the bytes of every response the page loads (HTML, JS, CSS) as the server sends them
(uncompressed: the server does not compress), with their gzip size beside. Time to interactive: from the
start of navigation until the agent's last messages are shown, the message box can be typed in and the
memory inspector shows its core memory and context bar (measured in the page with performance.now()),
with an empty cache (a fresh browser profile per run) and with a warm one (a reload: files revalidated).
The agent has 200 messages; the server and the scripted LLM run on this machine.
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.server.harness import ServerProcess, say
from tests.ui.conftest import CHROMIUM, CHROMIUM_FLAGS

from memgpt.evals.bench import write_results
from memgpt.testing import FakeLLMServer

RESULTS = Path("benchmarks/results/ui.md")
READY = """() => {
  window.interactiveAt = null;
  const ready = () => {
    const box = document.querySelector('#composer');
    return box && !box.disabled && document.querySelector('.msg.assistant') && document.querySelector('#block-human')
      && document.querySelector('.bar .part');
  };
  new MutationObserver((_, observer) => {
    if (window.interactiveAt === null && ready()) { window.interactiveAt = performance.now(); observer.disconnect(); }
  }).observe(document, {subtree: true, childList: true, attributes: true});
}"""


def seeded_agent(url: str, messages: int) -> str:
    agent = httpx.post(f"{url}/v1/agents", json={"name": "bench"}, timeout=30).json()["id"]
    for number in range(messages):
        httpx.post(f"{url}/v1/agents/{agent}/messages", json={"input": f"message {number}"}, timeout=60)
    return str(agent)


def summary(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    return {
        "p50_ms": round(statistics.median(ordered), 1),
        "p90_ms": round(ordered[int(0.9 * (len(ordered) - 1))], 1),
        "min_ms": round(ordered[0], 1),
        "n": len(ordered),
    }


def measure(url: str, runs: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    weights: dict[str, dict[str, int]] = {}
    cold: list[float] = []
    warm: list[float] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        for run in range(runs):
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            context.add_init_script(f"({READY})()")
            page = context.new_page()
            if run == 0:
                page.on("response", lambda response: _weigh(response, weights))
            page.goto(url)
            page.wait_for_function("() => window.interactiveAt !== null", timeout=30_000)
            cold.append(page.evaluate("window.interactiveAt"))
            page.reload()
            page.wait_for_function("() => window.interactiveAt !== null", timeout=30_000)
            warm.append(page.evaluate("window.interactiveAt"))
            context.close()
        version = browser.version
        browser.close()
    kinds = {kind: sum(w["bytes"] for w in weights.values() if w["kind"] == kind) for kind in ("html", "js", "css")}
    return {
        "chromium": version,
        "page_weight_bytes": sum(kinds.values()),
        "page_weight_gzip_bytes": sum(w["gzip"] for w in weights.values()),
        "page_weight_by_kind_bytes": kinds,
        "files": {name: w["bytes"] for name, w in sorted(weights.items())},
        "time_to_interactive_cold": summary(cold),
        "time_to_interactive_warm": summary(warm),
    }


def _weigh(response: Any, weights: dict[str, dict[str, int]]) -> None:
    path = response.url.split("//", 1)[1].split("/", 1)[1].split("?")[0] or "index.html"
    kind = "js" if path.endswith(".js") else "css" if path.endswith(".css") else "html" if path == "index.html" else ""
    if kind and response.status == 200:
        body = response.body()
        weights[path] = {"bytes": len(body), "gzip": len(gzip.compress(body, 9)), "kind": kind}  # type: ignore[dict-item]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    with FakeLLMServer({"replies": [], "default": say("A short answer to your message.")}) as llm:
        server = ServerProcess(Path(tempfile.mkdtemp(prefix="memgpt-ui-bench-")), llm).start()
        try:
            agent = seeded_agent(server.url, args.messages)
            result = measure(f"{server.url}/#agent={agent}", args.runs)
        finally:
            server.stop()
    result["agent_messages"] = args.messages
    result["commit_dirty"] = bool(
        subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True).stdout
    )
    write_results(args.output, "web UI: page weight and time to interactive", result)
    print(result)


if __name__ == "__main__":
    main()
