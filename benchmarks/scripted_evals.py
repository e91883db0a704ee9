"""Run the LLM evaluations against the in-process scripted LLM, to check the pipeline on the full data.

    python benchmarks/scripted_evals.py nested-kv --output benchmarks/results/nested_kv_scripted.json
    python benchmarks/scripted_evals.py doc-qa --limit 50 --output benchmarks/results/doc_qa_scripted.json

The agent is :func:`memgpt.testing.policy.kv_chain_policy` (nested-kv) or
:func:`memgpt.testing.policy.search_policy` (doc-qa: search archival memory with the question, answer
with the top hit). Results are labelled ``scripted``: they measure retrieval and plumbing, not a model.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from memgpt.evals.report import write_report
from memgpt.evals.runner import EvalSettings
from memgpt.testing.policy import kv_chain_policy, search_policy
from memgpt.testing.scripted import ScriptedLLM


async def run(task: str, limit: int | None, embedding: str | None, concurrency: int) -> dict[str, Any]:
    if task == "nested-kv":
        from memgpt.evals.nested_kv import run_nested_kv

        llm = ScriptedLLM(kv_chain_policy())
        settings = EvalSettings("openai-compatible/scripted", llm=llm, limit=limit, embedding=embedding)
        settings.concurrency = concurrency
        return await run_nested_kv(settings)
    from memgpt.evals.doc_qa import run_doc_qa

    llm = ScriptedLLM(search_policy("archival_memory_search"))
    settings = EvalSettings("openai-compatible/scripted", llm=llm, limit=limit, embedding=embedding)
    settings.concurrency = concurrency
    return await run_doc_qa(settings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("task", choices=["nested-kv", "doc-qa"])
    parser.add_argument("--limit", type=int, default=None, help="tasks per level (nested-kv) or questions (doc-qa)")
    parser.add_argument("--embedding", default=None, help="embedding model (default: local)")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()
    result = asyncio.run(run(args.task, args.limit, args.embedding, args.concurrency))
    for written in write_report(result, args.output):
        print(written)
    print(f"{result['task']}: accuracy {result['accuracy']:.4f} over {result['n']} ({result['model']})")


if __name__ == "__main__":
    main()
