"""Document QA over NQ-Open gold passages ("Lost in the Middle" oracle set) in archival memory.

Every gold passage of the file (2,655, duplicates stored once) goes into a fresh agent's archival
memory for each question; the first N questions are asked. Accuracy is the NQ-Open metric used by
"Lost in the Middle" and the MemGPT paper: a gold answer string appears in the agent's reply
(after normalisation). Two retrieval figures come with it: ``agent_retrieval`` (the gold passage
appeared in an ``archival_memory_search`` result the agent saw while answering) and
``store_recall@k`` (the rank of the gold passage when archival search is run with the question
itself). ``by_category`` splits accuracy by that rank. This corpus is a small stand-in for the
paper's ~19M Wikipedia passages, so its numbers are not the paper's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from memgpt.errors import ConfigError
from memgpt.evals.data import shared_data_dir
from memgpt.evals.judge import contains_answer
from memgpt.evals.nq import gold_passage, load_questions
from memgpt.evals.runner import (
    CostEstimate,
    EvalSettings,
    Question,
    create_agent,
    estimate,
    eval_client,
    function_results,
    replies,
    run_questions,
    summarize,
)
from memgpt.memory.types import Passage

TASK = "doc-qa"
BATCH = 256
KS = (1, 5, 10)
QUESTION = (
    "Your archival memory holds Wikipedia passages. Search it to answer the question below with a short answer "
    "(a few words).\nQuestion: {question}"
)


def _rank_group(rank: int | None) -> str:
    if rank is None:
        return "gold not in top 10"
    if rank == 1:
        return "gold at rank 1"
    return "gold at rank 2-5" if rank <= 5 else "gold at rank 6-10"


async def run_doc_qa(settings: EvalSettings, data: Path | None = None) -> dict[str, Any]:
    """All gold passages in archival memory, the first ``settings.limit`` questions asked."""
    path = data or shared_data_dir("nq_open_oracle") / "nq-open-oracle.jsonl.gz"
    try:
        rows = load_questions(path)
        golds = [gold_passage(row) for row in rows]
    except (OSError, ValueError, KeyError, StopIteration) as exc:
        raise ConfigError(f"{path} is not an NQ-Open oracle file ({type(exc).__name__}: {exc}).") from None
    corpus = list(dict.fromkeys(golds))
    texts = [f"{title}\n{text}" for title, text in corpus]
    asked = rows[: settings.limit] if settings.limit else rows
    async with eval_client(settings) as client:

        async def answer(question: Question) -> dict[str, Any]:
            name = f"docqa-{question.id}"
            await create_agent(client, name, settings)
            try:
                passages = [
                    Passage(text=t, metadata={"source": title}) for t, (title, _) in zip(texts, corpus, strict=True)
                ]
                for start in range(0, len(passages), BATCH):
                    await client.insert_passages(name, passages[start : start + BATCH])
                events = await client.send_message(name, QUESTION.format(question=question.data["question"]))
                page = await client.search(name, question.data["question"], archival=True, page_size=max(KS))
            finally:
                await client.delete_agent(name)
            gold_text = question.data["gold_text"]
            texts_ranked = [hit.text for hit in page.hits]
            rank = next((i + 1 for i, t in enumerate(texts_ranked) if t == gold_text), None)
            seen = function_results(events, "archival_memory_search")
            reply = replies(events)
            return {
                "question": question.data["question"],
                "gold": question.data["answers"],
                "response": reply,
                "correct": contains_answer(reply, question.data["answers"]),
                "agent_retrieval": any(gold_text.split("\n", 1)[1][:80] in result for result in seen),
                "store_rank": rank,
                "group": _rank_group(rank),  # known only after the search: overrides the question's
            }

        questions = []
        for index, row in enumerate(asked):
            title, text = golds[index]
            item = {"question": row["question"], "answers": list(row["answers"]), "gold_text": f"{title}\n{text}"}
            questions.append(Question(f"q{index}", "", item))
        outcome = await run_questions(TASK, questions, answer, settings, cost=_cost)
    result = summarize(TASK, outcome, settings, metrics=("agent_retrieval",))
    records = outcome.records
    result["passages"] = len(corpus)
    result["store_recall"] = {
        str(k): round(sum(1 for r in records if r["store_rank"] and r["store_rank"] <= k) / max(1, len(records)), 4)
        for k in KS
    }
    result["metric"] = "a gold answer string (normalised) appears in the agent's reply"
    return result


def _cost(todo: list[Question], cached: int) -> CostEstimate:
    return estimate(len(todo), cached, calls_per_question=2.5, context_per_call=3000, judged=False)
