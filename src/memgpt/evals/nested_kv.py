"""The MemGPT paper's nested key-value retrieval task (Packer et al. 2023, §3.2.2, Fig. 7).

For each task a fresh agent gets the 140 pairs in archival memory, one passage each, as the paper
writes them: ``Key-value pair: key = K, value = V``. Some values are themselves keys; the agent is
asked for the value of the query key and must follow the chain until a value is not a key. A task is
correct when the gold final value appears in what the agent sends (exact UUID match). Accuracy is
reported per nesting level 0-4 (30 tasks each in the shared data).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from memgpt.errors import ConfigError
from memgpt.evals.data import shared_data_dir
from memgpt.evals.runner import (
    CostEstimate,
    EvalSettings,
    Question,
    create_agent,
    estimate,
    eval_client,
    replies,
    run_questions,
    summarize,
)
from memgpt.memory.types import Passage

TASK = "nested-kv"
QUESTION = (
    "Your archival memory holds key-value pairs. Some values are themselves keys. Find the value of the key "
    "below; if that value is also a key, look up its value, and repeat until you reach a value that is not a "
    "key. Reply with that final value only.\nQuestion: What is the final value for key {key}?"
)


def pair_text(key: str, value: str) -> str:
    return f"Key-value pair: key = {key}, value = {value}"


def load_tasks(path: Path, limit: int | None = None) -> list[Question]:
    """The tasks of ``path`` (JSONL); with ``limit``, the first ``limit`` tasks of each nesting level."""
    questions: list[Question] = []
    per_level: dict[int, int] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"Cannot read the nested key-value tasks {path}: {exc.strerror}.") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            task = json.loads(line)
            level = int(task["nesting_levels"])
            data = {
                "key": str(task["query_key"]),
                "gold": str(task["gold_value"]),
                "pairs": [(str(k), str(v)) for k, v in task["ordered_kv_records"]],
            }
            seed = task.get("seed", number)
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{path}:{number} is not a nested key-value task ({exc}).") from None
        if limit is not None and per_level.get(level, 0) >= limit:
            continue
        per_level[level] = per_level.get(level, 0) + 1
        questions.append(Question(f"L{level}-s{seed}", str(level), data))
    return questions


async def run_nested_kv(settings: EvalSettings, data: Path | None = None) -> dict[str, Any]:
    """Run the task (``settings.limit`` tasks per level) and return the result document."""
    path = data or shared_data_dir("nested_kv") / "nested_kv_tasks.jsonl"
    questions = load_tasks(path, settings.limit)
    async with eval_client(settings) as client:

        async def answer(question: Question) -> dict[str, Any]:
            name = f"kv-{question.id}"
            await create_agent(client, name, settings)
            try:
                await client.insert_passages(name, [Passage(text=pair_text(k, v)) for k, v in question.data["pairs"]])
                events = await client.send_message(name, QUESTION.format(key=question.data["key"]))
            finally:
                await client.delete_agent(name)
            reply = replies(events)
            searches = sum(e.type == "function_call" and e.content == "archival_memory_search" for e in events)
            return {
                "question": question.data["key"],
                "gold": question.data["gold"],
                "response": reply,
                "correct": question.data["gold"].lower() in reply.lower(),
                "searches": searches,
            }

        outcome = await run_questions(TASK, questions, answer, settings, cost=_cost)
    result = summarize(TASK, outcome, settings, breakdown="by_level")
    result["metric"] = "exact match: the gold final value appears in the agent's reply"
    return result


def _cost(todo: list[Question], cached: int) -> CostEstimate:
    # Level n: n + 1 links to follow, one more search to see the last value is no key, then the answer.
    levels = [int(q.group) for q in todo]
    calls = sum(level + 3 for level in levels) / max(1, len(levels))
    return estimate(len(todo), cached, calls_per_question=calls, context_per_call=2600, judged=False)
