"""`memgpt eval` and `memgpt bench` as a user runs them: real processes, the scripted LLM over HTTP."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from memgpt.testing import FakeLLMServer
from memgpt.testing.policy import kv_chain_policy, search_policy, with_judge
from tests.cli.test_cli import memgpt
from tests.evals.test_llm_evals import needs_data, nested_kv_slice, write_dmr
from tests.evals.test_retrieval_evals import CONVERSATION

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def env(memgpt_home: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MEMGPT_", "OPENAI_", "ANTHROPIC_"))}
    return {**clean, "MEMGPT_HOME": str(memgpt_home), "MEMGPT_EMBEDDING": "none"}


@needs_data
def test_nested_kv_over_http_writes_results_and_resumes(env: dict[str, str], tmp_path: Path) -> None:
    data, output = nested_kv_slice(tmp_path), tmp_path / "results" / "kv.json"
    args = ("eval", "nested-kv", "--model", "openai-compatible/scripted", "--data", str(data), "--output", str(output))
    with FakeLLMServer(kv_chain_policy()) as server:
        llm_env = {**env, "MEMGPT_LLM_BASE_URL": server.base_url}
        first = memgpt(*args, env=llm_env)
        calls = len(server.requests)
        second = memgpt(*args, env=llm_env)
        assert len(server.requests) == calls == 25  # the rerun found every answer in the cache
    assert "Estimate: 5 questions" in first.stderr and "5 already done (cached)" in second.stderr
    result = json.loads(output.read_text())
    assert result["task"] == "nested-kv" and result["n"] == 5 and result["accuracy"] == 1.0
    assert result["model"] == "scripted" and result["scripted"] is True
    assert set(result["by_level"]) == {"0", "1", "2", "3", "4"}
    for question in result["questions"]:
        assert question["llm_calls"] == int(question["group"]) + 3
        assert question["tokens_in"] > 0 and question["tokens_out"] > 0 and question["latency_s"] > 0
    assert "scripted LLM" in output.with_suffix(".md").read_text()
    assert output.with_suffix(".png").read_bytes().startswith(PNG)
    assert "nested-kv: 100.0% of 5 (scripted)" in first.stdout


def test_dmr_over_http_with_the_judge_on_the_same_endpoint(env: dict[str, str], tmp_path: Path) -> None:
    write_dmr(tmp_path / "msc.jsonl")
    output, report = tmp_path / "dmr.json", tmp_path / "report" / "dmr.md"
    with FakeLLMServer(with_judge(search_policy("conversation_search"))) as server:
        memgpt(
            *("eval", "dmr", "--model", "openai-compatible/scripted", "--data", str(tmp_path / "msc.jsonl")),
            *("--output", str(output), "--report", str(report)),
            env={**env, "MEMGPT_LLM_BASE_URL": server.base_url},
        )
        judged = [r for r in server.requests if "<gold_answer>" in json.dumps(r)]
    result = json.loads(output.read_text())
    assert result["task"] == "dmr" and result["n"] == 2 and result["accuracy"] == 0.5
    assert result["by_category"] == {
        "1": {"n": 1, "accuracy": 1.0, "f1": pytest.approx(result["by_category"]["1"]["f1"]), "rouge_l_recall": 1.0},
        "2": {"n": 1, "accuracy": 0.0, "f1": 0.0, "rouge_l_recall": 0.0},
    }
    assert len(judged) == 2 and result["usage"]["total"]["judge_calls"] == 2
    assert "| category | n | accuracy | f1 | rouge_l_recall |" in report.read_text()
    assert report.with_suffix(".png").read_bytes().startswith(PNG)


def test_locomo_retrieval_keeps_its_command_and_json(env: dict[str, str], tmp_path: Path) -> None:
    folder = tmp_path / "locomo"
    folder.mkdir()
    (folder / "1.json").write_text(json.dumps(CONVERSATION))
    output = tmp_path / "retrieval.json"
    done = memgpt(
        "eval", "locomo", "--retrieval", "--limit", "1", "--data", str(folder), "--output", str(output), env=env
    )
    assert "LoCoMo evidence recall" in done.stdout and f"Wrote {output}" in done.stdout
    result = json.loads(output.read_text())
    assert set(result) == {"task", "n", "n_scored", "recall_all", "recall", "recall_any", "mode", "embedding"}
    assert result["task"] == "locomo-retrieval" and set(result["recall_all"]) == {"5", "10", "25"}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("eval", "nested-kv"), "No LLM is configured"),
        (("eval", "locomo", "--retrieval", "--mode", "live"), "is a QA mode"),
        (("eval", "locomo", "--mode", "text", "--model", "openai-compatible/x"), "is a search mode"),
        (("eval", "dmr", "--model", "openai-compatible/x"), "Missing option '--data'"),
        (("eval", "doc-qa", "--data", "/no/such/file.jsonl.gz"), "does not exist"),
    ],
)
def test_eval_mistakes_exit_2_with_one_line(env: dict[str, str], args: tuple[str, ...], expected: str) -> None:
    done = memgpt(*args, env=env, check=False)
    assert done.returncode == 2 and expected in done.stderr and "Traceback" not in done.stderr


def test_dmr_with_a_malformed_file_names_the_line(env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"self_instruct": {"B": "q", "A": "a"}}\n')
    llm_env = {**env, "MEMGPT_LLM_BASE_URL": "http://127.0.0.1:9/v1"}
    done = memgpt("eval", "dmr", "--model", "openai-compatible/x", "--data", str(bad), env=llm_env, check=False)
    assert done.returncode == 2 and "bad.jsonl:1 is not an MSC-Self-Instruct record" in done.stderr


def test_bench_scale_writes_results_with_machine_and_plots(env: dict[str, str], tmp_path: Path) -> None:
    output = tmp_path / "scale.md"
    memgpt(
        *("bench", "scale", "--recall-sizes", "50,200", "--archival-sizes", "100", "--steps", "10"),
        *("--queries", "10", "--ingest-rows", "100", "--output", str(output)),
        env=env,
    )
    assert "## scale" in output.read_text() and "- commit:" in output.read_text()
    result = json.loads(output.with_suffix(".json").read_text())
    assert {"date", "cpu", "commit"} <= set(result["machine"])
    assert [r["recall_messages"] for r in result["step_vs_recall"]] == [50, 200]
    assert result["archival_hybrid_search"][0]["passages"] == 100
    assert result["agent_memory"][0]["rss_running_mib"] > 0
    assert "no server yet" in result["server_memory"]
    for name in ("scale_step.png", "scale_search.png"):
        assert (tmp_path / name).read_bytes().startswith(PNG)
