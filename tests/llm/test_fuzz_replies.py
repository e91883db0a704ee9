"""Property-based fuzzing of LLM replies at the HTTP level (hypothesis).

An adversarial OpenAI-compatible server on 127.0.0.1 answers with generated bodies (broken JSON, invalid
UTF-8, deep nesting, HTML, wrong shapes, hostile tool calls and arguments, errors) to the real client and
real agents on SQLite, summary calls included. Nothing but an LLMError may escape, no agent may be
bricked, and every user message is in recall exactly once. ``benchmarks/fuzz_llm_replies.py`` runs the
same harness on 10,000+ replies.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memgpt.errors import LLMError
from memgpt.llm.base import ChatRequest
from memgpt.llm.openai_compat import OpenAICompatibleClient
from memgpt.testing import FakeLLMServer
from tests.llm.reply_bodies import FuzzRun, reply_body, stream_body
from tests.llm.test_untrusted_replies import TOOLS, assert_well_formed

EXAMPLES = 1200  # about 2,000 replies (a message takes 1-4 bodies until one is refused, plus summaries)
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)


@pytest.mark.slow
def test_no_reply_body_crashes_or_bricks_an_agent(tmp_path: Path) -> None:
    runner = asyncio.Runner()
    run = FuzzRun(tmp_path)
    try:
        runner.run(run.open())

        @FUZZ
        @given(
            bodies=st.lists(reply_body(), min_size=1, max_size=4),
            summaries=st.lists(reply_body(), max_size=1),
        )
        def one_message(bodies: list[dict[str, Any]], summaries: list[dict[str, Any]]) -> None:
            runner.run(run.message(bodies, summaries))
            assert not run.tally.internal, run.tally.internal[0]

        one_message()
        runner.run(run.verify())
    finally:
        runner.run(run.close())
        runner.close()
    tally = run.tally
    assert tally.internal == [] and tally.bricked == [] and tally.recall == []
    assert tally.replies >= 1800 and tally.summary_replies > 0  # 2,012 with this seed
    assert 0 < tally.llm_errors < tally.messages  # both kinds happened: refused replies and answered ones


def test_no_streamed_body_escapes_the_client() -> None:
    bodies: list[bytes] = []

    @settings(max_examples=300, deadline=None, database=None, derandomize=True)
    @given(stream_body())
    def collect(body: bytes) -> None:
        bodies.append(body)

    collect()
    script = [{"raw": {"body": b, "content_type": "text/event-stream"}} for b in bodies]

    async def main() -> None:
        with FakeLLMServer(script) as server:
            client = OpenAICompatibleClient("fuzz", base_url=server.base_url, max_retries=0)
            try:
                for _ in bodies:
                    try:
                        reply = await client.chat(
                            ChatRequest(messages=[{"role": "user", "content": "x"}], tools=TOOLS),
                            on_delta=lambda _: None,
                        )
                    except LLMError:
                        continue
                    assert_well_formed(reply)
            finally:
                await client.close()

    asyncio.run(main())
