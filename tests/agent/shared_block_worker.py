"""One process of the two-process shared-block race: agent AGENT appends COUNT lines to the block ``notes``.

Run as ``python -m tests.agent.shared_block_worker DATABASE_URL AGENT COUNT``. Each message makes the scripted
LLM (slow on purpose: the other process saves the block meanwhile) call ``core_memory_append`` and then
reply. Prints one JSON line: the status of every append and how many saves found the block changed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys

from memgpt.client import Client
from memgpt.llm.openai_compat import OpenAICompatibleClient
from memgpt.testing import FakeLLMServer


class Counter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


def script(agent: str, count: int) -> list[dict[str, object]]:
    replies: list[dict[str, object]] = []
    for i in range(count):
        line = f"{agent} line {i}"
        arguments = {"label": "notes", "content": line, "request_heartbeat": True}
        append = {"name": "core_memory_append", "arguments": arguments}
        replies.append({"tool_calls": [append], "delay": 0.05})
        replies.append({"tool_calls": [{"name": "send_message", "arguments": {"message": "Noted."}}]})
    return replies


async def main(url: str, agent: str, count: int) -> None:
    counter = Counter()
    logger = logging.getLogger("memgpt.memory.block_edits")
    logger.setLevel(logging.DEBUG)
    logger.addHandler(counter)
    with FakeLLMServer(script(agent, count)) as server:
        llm = OpenAICompatibleClient("fake", base_url=server.base_url, max_retries=0)
        client = await Client.open(url, embedder=None, llm=llm)
        statuses = []
        try:
            for i in range(count):
                events = await client.send_message(agent, f"Note {i}, please.")
                results = [e for e in events if e.type == "function_result" and e.data["name"] != "send_message"]
                statuses += [e.data["status"] for e in results]
        finally:
            await client.close()
    print(json.dumps({"statuses": statuses, "conflicts": counter.count}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
