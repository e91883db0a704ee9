"""The LLM evaluations end to end with the scripted LLM and its small policies.

Every expected score below follows from what the policy does: the chain policy follows every link of
a nested key-value chain, the top-hit policy answers with the first search result only, and the
scripted judge says CORRECT when the gold answer string is in the reply.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from memgpt.errors import ConfigError
from memgpt.evals.dmr import run_dmr
from memgpt.evals.doc_qa import run_doc_qa
from memgpt.evals.locomo import conversation_messages
from memgpt.evals.locomo_qa import run_locomo_qa
from memgpt.evals.nested_kv import run_nested_kv
from memgpt.evals.runner import EvalSettings
from memgpt.memory.types import searchable_text
from memgpt.testing.policy import judge_policy, kv_chain_policy, search_policy
from memgpt.testing.scripted import ScriptedLLM
from tests.conftest import SHARED_DATA, local_embedder
from tests.evals.test_retrieval_evals import CONVERSATION

MODEL = "openai-compatible/scripted"
needs_data = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"evaluation data not found at {SHARED_DATA}")


def nested_kv_slice(tmp_path: Path, per_level: int = 1) -> Path:
    """The first ``per_level`` tasks of each nesting level of the real data, as a small file."""
    rows: dict[int, list[str]] = {}
    for line in (SHARED_DATA / "nested_kv" / "nested_kv_tasks.jsonl").read_text().splitlines():
        level = json.loads(line)["nesting_levels"]
        if len(rows.setdefault(level, [])) < per_level:
            rows[level].append(line)
    path = tmp_path / "kv.jsonl"
    path.write_text("\n".join(line for level in sorted(rows) for line in rows[level]) + "\n")
    return path


def settings(llm: Any, **options: Any) -> EvalSettings:
    return EvalSettings(model=MODEL, llm=llm, **options)


@needs_data
async def test_nested_kv_chain_policy_follows_every_link(tmp_path: Path) -> None:
    llm = ScriptedLLM(kv_chain_policy())
    result = await run_nested_kv(settings(llm, embedding="none"), nested_kv_slice(tmp_path))
    assert result["task"] == "nested-kv" and result["model"] == "scripted" and result["scripted"] is True
    assert result["n"] == 5 and result["accuracy"] == 1.0
    assert result["by_level"] == {str(level): {"n": 1, "accuracy": 1.0} for level in range(5)}
    # Level L: L + 2 searches (the last one finds no key) and one send_message: 3+4+5+6+7 calls.
    assert result["usage"]["total"]["llm_calls"] == 25
    assert result["usage"]["total"]["tokens_in"] > 25 * 1000


@needs_data
async def test_nested_kv_top_hit_policy_only_solves_level_zero(tmp_path: Path) -> None:
    local_embedder()
    llm = ScriptedLLM(search_policy("archival_memory_search"))
    result = await run_nested_kv(settings(llm, embedding="local"), nested_kv_slice(tmp_path))
    assert {level: group["accuracy"] for level, group in result["by_level"].items()} == {
        "0": 1.0,
        "1": 0.0,
        "2": 0.0,
        "3": 0.0,
        "4": 0.0,
    }
    assert result["accuracy"] == 0.2


@needs_data
async def test_interrupted_run_resumes_from_the_cache(tmp_path: Path) -> None:
    data, cache = nested_kv_slice(tmp_path), tmp_path / "kv.partial.jsonl"
    first = ScriptedLLM(kv_chain_policy())
    await run_nested_kv(settings(first, embedding="none", cache=cache, limit=1), data)
    lines = cache.read_text().splitlines()
    assert len(lines) == 6 and json.loads(lines[0])["settings"]["task"] == "nested-kv"
    cache.write_text("\n".join(lines[:3]) + "\n" + lines[3][:40])  # killed while writing the third record
    second = ScriptedLLM(kv_chain_policy())
    result = await run_nested_kv(settings(second, embedding="none", cache=cache, limit=1), data)
    assert result["run"]["cached_questions"] == 2 and result["accuracy"] == 1.0 and result["n"] == 5
    assert len(second.requests) == 5 + 6 + 7  # only levels 2-4 ran again
    with pytest.raises(ConfigError, match="other settings"):
        await run_nested_kv(settings(ScriptedLLM([]), embedding="local", cache=cache, limit=1), data)


async def test_locomo_recall_mode_answers_from_the_dated_history(tmp_path: Path) -> None:
    local_embedder()
    (tmp_path / "1.json").write_text(json.dumps(CONVERSATION))
    agent, judge = ScriptedLLM(search_policy("conversation_search")), ScriptedLLM(judge_policy())
    result = await run_locomo_qa(settings(agent, judge_llm=judge, concurrency=2), tmp_path, mode="recall")
    assert result["task"] == "locomo" and result["mode"] == "recall"
    assert result["n"] == 3 and result["accuracy"] == 1.0  # category 5 is left out of the overall figure
    # The unanswerable question about Ann's cat gets the top hit (her dog): judged WRONG, and F1 0 as it
    # does not decline.
    assert result["by_category"]["5"] == {"n": 1, "accuracy": 0.0, "f1": 0.0}
    assert result["accuracy_all"] == 0.75 and result["excluded_from_overall"] == ["5"]
    assert result["usage"]["total"] == {
        "tokens_in": result["usage"]["total"]["tokens_in"],
        "tokens_out": result["usage"]["total"]["tokens_out"],
        "llm_calls": 8,  # search + answer per question
        "judge_tokens_in": result["usage"]["total"]["judge_tokens_in"],
        "judge_tokens_out": result["usage"]["total"]["judge_tokens_out"],
        "judge_calls": 4,
    }
    tool_results = [m["content"] for body in agent.requests for m in body["messages"] if m["role"] == "tool"]
    assert any("[2023-06-20 10:00] user: Bo: I adopted a parrot named Kiwi." in r for r in tool_results)


async def test_locomo_live_mode_writes_its_own_archival_memory(tmp_path: Path) -> None:
    (tmp_path / "1.json").write_text(json.dumps(CONVERSATION))
    agent = ScriptedLLM(search_policy("archival_memory_search", save_other_messages=True))
    judge = ScriptedLLM(judge_policy())
    result = await run_locomo_qa(settings(agent, judge_llm=judge, embedding="none"), tmp_path, mode="live")
    assert result["mode"] == "live" and result["accuracy"] == 1.0 and result["n"] == 3
    assert result["usage"]["setup"]["llm_calls"] == 5  # one archival_memory_insert per turn
    assert result["usage"]["total"]["llm_calls"] == 8
    inserted = [
        json.loads(call["function"]["arguments"])["content"]
        for body in agent.requests
        for m in body["messages"]
        for call in m.get("tool_calls") or []
        if call["function"]["name"] == "archival_memory_insert"
    ]
    assert "[10:00 am on 20 June, 2023] Bo: I adopted a parrot named Kiwi. [shares a photo: a green parrot]" in inserted


def write_dmr(path: Path) -> None:
    records = [
        {
            "personas": [["I like travelling."], ["I am a chef.", "I live in Rome."]],
            "previous_dialogs": [
                {
                    "dialog": [
                        {"text": "I just got back from a week in Lisbon."},
                        {"text": "Welcome back, how was it?"},
                    ],
                    "time_num": 3,
                    "time_unit": "days",
                }
            ],
            "dialog": [{"text": "Hello again!"}],
            "self_instruct": {"B": "Where did I spend a week?", "A": "Lisbon"},
        },
        {
            "personas": [[], ["I am a chef."]],
            "previous_dialogs": [
                {"dialog": [{"text": "My cat is called Tom."}, {"text": "Cute!"}], "time_num": 2, "time_unit": "weeks"},
                {
                    "dialog": [{"text": "I painted my kitchen."}, {"text": "Nice colour?"}],
                    "time_num": 1,
                    "time_unit": "day",
                },
            ],
            "dialog": [],
            "self_instruct": {"B": "What is my sister called?", "A": "Maria"},
        },
    ]
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")


async def test_dmr_judges_answers_from_previous_sessions(tmp_path: Path) -> None:
    local_embedder()
    write_dmr(tmp_path / "msc.jsonl")
    agent = ScriptedLLM(search_policy("conversation_search"))
    result = await run_dmr(settings(agent, judge_llm=ScriptedLLM(judge_policy())), tmp_path / "msc.jsonl")
    assert result["task"] == "dmr" and result["n"] == 2 and result["accuracy"] == 0.5
    assert result["by_category"]["1"]["accuracy"] == 1.0 and result["by_category"]["2"]["accuracy"] == 0.0
    assert result["by_category"]["1"]["rouge_l_recall"] == 1.0
    first = agent.requests[0]["messages"][0]["content"]
    assert "I am a chef.\nI live in Rome." in first  # speaker 2's persona is the agent's
    three_days_ago = datetime.now(UTC) - timedelta(days=3)
    results = [m["content"] for m in agent.requests[1]["messages"] if m["role"] == "tool"]
    assert any(
        f"{three_days_ago:%Y-%m-%d}" in r or f"{three_days_ago - timedelta(days=1):%Y-%m-%d}" in r for r in results
    )


async def test_dmr_rejects_a_malformed_record_by_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"previous_dialogs": [], "self_instruct": {"A": "x"}}) + "\n")
    with pytest.raises(ConfigError, match=r"bad.jsonl:1 is not an MSC-Self-Instruct record"):
        await run_dmr(settings(ScriptedLLM([])), path)


@needs_data
async def test_doc_qa_scores_what_archival_search_puts_first(tmp_path: Path) -> None:
    local_embedder()
    rows = []
    with gzip.open(SHARED_DATA / "nq_open_oracle" / "nq-open-oracle.jsonl.gz", "rt") as handle:
        for line in handle:
            rows.append(json.loads(line))
            if len(rows) == 12:
                break
    data = tmp_path / "nq.jsonl.gz"
    with gzip.open(data, "wt") as handle:
        handle.writelines(json.dumps(r) + "\n" for r in rows)
    agent = ScriptedLLM(search_policy("archival_memory_search"))
    result = await run_doc_qa(settings(agent, limit=6), data)
    assert result["n"] == 6 and result["passages"] == 12
    # The top-hit policy quotes the first passage its search returned, and the store's own search of the
    # question ranks the same passages: a gold passage ranked first is quoted, so the reply holds its answer.
    for record in result["questions"]:
        if record["store_rank"] == 1:
            assert record["correct"] and record["agent_retrieval"], record
        if record["store_rank"] is None:
            assert not record["agent_retrieval"], record
    assert sum(r["store_rank"] == 1 for r in result["questions"]) >= 4
    assert result["store_recall"]["1"] == sum(r["store_rank"] == 1 for r in result["questions"]) / 6
    assert sum(g["n"] for g in result["by_category"].values()) == 6


@needs_data
async def test_locomo_recall_mode_on_a_slice_of_the_real_data(tmp_path: Path) -> None:
    local_embedder()
    full = json.loads((SHARED_DATA / "locomo" / "26.json").read_text())
    keep = ("speaker_a", "speaker_b", "session_1", "session_1_date_time", "session_2", "session_2_date_time")
    sliced = {key: full[key] for key in keep}
    early = [q for q in full["qa"] if q.get("evidence") and all(e.startswith(("D1:", "D2:")) for e in q["evidence"])]
    sliced["qa"] = early[:4]
    (tmp_path / "26.json").write_text(json.dumps(sliced))
    agent, judge = ScriptedLLM(search_policy("conversation_search")), ScriptedLLM(judge_policy())
    result = await run_locomo_qa(settings(agent, judge_llm=judge), tmp_path, mode="recall")
    turns = {searchable_text(m) for m in conversation_messages(sliced)}
    assert [q["group"] for q in result["questions"]] == [str(q["category"]) for q in early[:4]]
    for record in result["questions"]:
        assert record["response"] in turns  # the policy quotes a real turn found by conversation_search
        assert record["correct"] == (record["gold"].casefold() in record["response"].casefold())
    assert result["n"] == 4 and result["accuracy"] == sum(q["correct"] for q in result["questions"]) / 4
    tool_results = "".join(m["content"] for body in agent.requests for m in body["messages"] if m["role"] == "tool")
    assert "[2023-05-08 13:5" in tool_results  # turns carry their session's real date
