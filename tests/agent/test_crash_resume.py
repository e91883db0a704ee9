"""kill -9 in the middle of a conversation: nothing received is lost, and the agent resumes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from memgpt.client import Client
from memgpt.llm.openai_compat import OpenAICompatibleClient
from memgpt.testing import FakeLLMServer

CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from memgpt.client import Client
    from memgpt.llm.openai_compat import OpenAICompatibleClient

    async def main():
        llm = OpenAICompatibleClient("fake", base_url=sys.argv[2], max_retries=0)
        client = await Client.open(sys.argv[1], embedder=None, llm=llm)
        for i in range(1000):
            print(f"start {i}", flush=True)
            await client.send_message("sam", f"fact number {i}")
            print(f"done {i}", flush=True)

    asyncio.run(main())
    """
)


def remember(i: int) -> dict[str, object]:
    args = {"label": "human", "content": f"fact {i}", "request_heartbeat": True}
    return {"tool_calls": [{"name": "core_memory_append", "arguments": args}], "delay": 0.05}


def kill_child_mid_step(url: str, base_url: str) -> int:
    """Run the chatting child, SIGKILL it inside a step, and return the index of the message in flight."""
    child = subprocess.Popen([sys.executable, "-c", CHILD, url, base_url], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    started = -1
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = child.stdout.readline().split()
        if line[0] == "start":
            started = int(line[1])
        if started >= 4:
            break
    time.sleep(0.07)  # inside the step: between the LLM calls of message `started`
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    return started


async def test_kill_mid_conversation_then_resume(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'agent.db'}"
    replies = []
    for i in range(200):
        replies += [
            remember(i),
            {"tool_calls": [{"name": "send_message", "arguments": {"message": f"ok {i}"}}], "delay": 0.05},
        ]
    with FakeLLMServer(replies) as server:
        setup = await Client.open(url, embedder=None)
        await setup.create_agent("sam", model="openai-compatible/fake", context_window=100_000, human="")
        await setup.close()
        started = kill_child_mid_step(url, server.base_url)

    llm_script = [{"tool_calls": [{"name": "send_message", "arguments": {"message": "back again"}}]}]
    with FakeLLMServer(llm_script) as server:
        llm = OpenAICompatibleClient("fake", base_url=server.base_url, max_retries=0)
        client = await Client.open(url, embedder=None, llm=llm)
        agent = await client.get_agent("sam")
        messages = await client.list_messages("sam", limit=10_000)
        user_texts = [m.content for m in messages if m.role == "user"]
        # every message the agent received is in the recall store, the one in flight included
        assert user_texts == [f"fact number {i}" for i in range(started + 1)]
        # the FIFO only references stored messages and never starts with an orphan tool result
        fifo = await client.store.get_messages(agent.id, agent.fifo_ids)
        calls = {c.id for m in fifo for c in m.tool_calls}
        assert all(m.tool_call_id in calls for m in fifo if m.role == "tool")
        # each core-memory edit exists exactly when its call and result were committed
        ok_appends = sum(
            1
            for m in messages
            if m.role == "tool"
            and m.name == "core_memory_append"
            and json.loads(m.content or "{}").get("status") == "OK"
        )
        human = {b.label: b.value for b in agent.blocks}["human"]
        assert len(human.splitlines()) == ok_appends >= started
        # and the agent resumes
        events = await client.send_message("sam", "are you there?")
        assert [e.content for e in events if e.type == "assistant_message"] == ["back again"]
        await client.close()
        await llm.close()
