"""Fuzz memgpt with 10,000+ adversarial LLM replies at the HTTP level and record what escaped.

The harness of ``tests/llm/test_fuzz_replies.py`` (``tests/llm/reply_bodies.py``): an OpenAI-compatible
server on 127.0.0.1 answers every chat request of real agents (SQLite, the real OpenAI-compatible client)
with a generated body, summary calls included; a second part sends generated streamed bodies straight to
the client. Counted: replies served, internal exceptions escaping (anything but an LLMError), bricked
agents (one that does not answer a good reply afterwards, from the same or a fresh Client, or whose stored
context fails ``check_agent``) and user messages not in recall exactly once. Run from the repository root::

    python benchmarks/fuzz_llm_replies.py --replies 10000

and the figures are appended to ``benchmarks/results/fuzz_llm_replies.md`` (machine, date, commit). The
exit code is 1 if anything escaped or an agent was bricked.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the harness lives with the tests

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import seed as hypothesis_seed  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from tests.llm.reply_bodies import FuzzRun, reply_body, stream_body  # noqa: E402
from tests.llm.test_untrusted_replies import TOOLS, assert_well_formed  # noqa: E402

from memgpt.errors import LLMError  # noqa: E402
from memgpt.evals.bench import write_results  # noqa: E402
from memgpt.llm.base import ChatRequest  # noqa: E402
from memgpt.llm.openai_compat import OpenAICompatibleClient  # noqa: E402
from memgpt.testing import FakeLLMServer  # noqa: E402

BATCH = 500  # hypothesis examples (user messages) per batch, each batch with its own seed


def agent_replies(directory: Path, target: int, agents: int, first_seed: int) -> tuple[dict[str, Any], bool]:
    runner = asyncio.Runner()
    run = FuzzRun(directory, agents=agents)
    batches = 0
    started = time.perf_counter()
    try:
        runner.run(run.open())
        while run.tally.replies < target:

            @hypothesis_seed(first_seed + batches)
            @settings(max_examples=BATCH, deadline=None, database=None, suppress_health_check=list(HealthCheck))
            @given(bodies=st.lists(reply_body(), min_size=1, max_size=4), summaries=st.lists(reply_body(), max_size=1))
            def one_message(bodies: list[dict[str, Any]], summaries: list[dict[str, Any]]) -> None:
                runner.run(run.message(bodies, summaries))

            one_message()
            batches += 1
            print(f"  {run.tally.replies:,} replies, {run.tally.messages:,} messages", file=sys.stderr, flush=True)
        runner.run(run.verify())
    finally:
        runner.run(run.close())
        runner.close()
    tally = run.tally
    figures = {
        "replies": tally.replies,
        "of_which_summary_replies": tally.summary_replies,
        "user_messages": tally.messages,
        "agents": agents,
        "messages_answered": tally.outcomes["answered"],
        "messages_ended_by_llm_error": tally.llm_errors,
        "llm_error_kinds": {k: v for k, v in tally.outcomes.items() if k != "answered"},
        "internal_exceptions": len(tally.internal),
        "bricked_agents": len({b.split()[0].rstrip(":") for b in tally.bricked}),
        "user_messages_not_in_recall_exactly_once": len(tally.recall),
        "seeds": f"{first_seed}..{first_seed + batches - 1}",
        "seconds": round(time.perf_counter() - started, 1),
    }
    for problem in tally.internal[:5] + tally.bricked[:5] + tally.recall[:5]:
        print(problem, file=sys.stderr)
    return figures, not (tally.internal or tally.bricked or tally.recall)


def streamed_replies(count: int, first_seed: int) -> tuple[dict[str, Any], bool]:
    bodies: list[bytes] = []

    @hypothesis_seed(first_seed)
    @settings(max_examples=count, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(stream_body())
    def collect(body: bytes) -> None:
        bodies.append(body)

    collect()
    counts = {"streamed_replies": len(bodies), "well_formed": 0, "llm_errors": 0, "internal_exceptions": 0}
    request = ChatRequest(messages=[{"role": "user", "content": "x"}], tools=TOOLS)

    async def main() -> None:
        with FakeLLMServer([{"raw": {"body": b, "content_type": "text/event-stream"}} for b in bodies]) as server:
            client = OpenAICompatibleClient("fuzz", base_url=server.base_url, max_retries=0)
            try:
                for _ in bodies:
                    try:
                        assert_well_formed(await client.chat(request, on_delta=lambda _: None))
                        counts["well_formed"] += 1
                    except LLMError:
                        counts["llm_errors"] += 1
                    except Exception as exc:
                        counts["internal_exceptions"] += 1
                        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
            finally:
                await client.close()

    asyncio.run(main())
    return counts, counts["internal_exceptions"] == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replies", type=int, default=10_000, help="adversarial replies to real agents (at least)")
    parser.add_argument("--streamed", type=int, default=2_000, help="streamed bodies sent straight to the client")
    parser.add_argument("--agents", type=int, default=8)
    parser.add_argument("--seed", type=int, default=random.randrange(1_000_000))
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "fuzz_llm_replies.md")
    args = parser.parse_args()
    logging.getLogger("memgpt.agent").setLevel(logging.ERROR)  # not every "summary call failed": thousands
    with tempfile.TemporaryDirectory() as directory:
        agents, agents_ok = agent_replies(Path(directory), args.replies, args.agents, args.seed)
    streamed, streamed_ok = streamed_replies(args.streamed, args.seed)
    results = {"agents_over_http": agents, "streamed_to_the_client": streamed}
    write_results(args.output, "fuzz LLM replies", results)
    print(f"Appended to {args.output}")
    for part, figures in results.items():
        print(part, {k: v for k, v in figures.items() if not isinstance(v, dict)})
    sys.exit(0 if agents_ok and streamed_ok else 1)


if __name__ == "__main__":
    main()
