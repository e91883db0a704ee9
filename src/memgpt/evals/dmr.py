"""Deep Memory Retrieval (DMR) on MSC-Self-Instruct, as in the MemGPT paper (§3.1.1, Table 2).

The data file is the JSONL published with the paper (not shipped): each record has
``previous_dialogs`` (``[{"dialog": [{"text"}], "time_num", "time_unit", ...}]``), ``dialog``,
``personas`` and ``self_instruct`` (``{"B": question, "A": answer}``). For each record a fresh agent
gets the previous sessions in its recall store, turns alternating user (speaker 1) and assistant
(speaker 2), each session dated ``time_num time_unit`` before the next one (the last before now);
its persona block holds speaker 2's persona. The user then asks the question in a new session. As in
the paper, an LLM judge decides whether the reply answers as the gold answer does; token F1 and
ROUGE-L recall (the paper's "R") are reported beside it. ``by_category`` groups records by their
number of previous sessions.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from memgpt.errors import ConfigError
from memgpt.evals.judge import judge, rouge_l_recall, token_f1
from memgpt.evals.runner import (
    CostEstimate,
    EvalSettings,
    Question,
    create_agent,
    estimate,
    eval_client,
    judge_client,
    replies,
    run_questions,
    summarize,
)
from memgpt.memory.types import Message, Role, utcnow

TASK = "dmr"
QUESTION = "Question: {question}"
_UNITS = {"minute": 60, "hour": 3600, "day": 86_400, "week": 7 * 86_400, "month": 30 * 86_400, "year": 365 * 86_400}


def _gap(dialog: dict[str, Any]) -> timedelta:
    unit = str(dialog.get("time_unit") or "day").lower().rstrip("s")
    seconds = _UNITS.get(unit)
    if seconds is None:
        raise ValueError(f"unknown time_unit {dialog.get('time_unit')!r}")
    return timedelta(seconds=float(dialog.get("time_num") or 0) * seconds)


def session_messages(previous: list[dict[str, Any]], now: datetime) -> list[Message]:
    """The previous sessions as messages, oldest first, turns 30 s apart."""
    starts: list[datetime] = []
    moment = now
    for dialog in reversed(previous):
        moment -= _gap(dialog) + timedelta(seconds=30 * len(dialog.get("dialog", [])))
        starts.append(moment)
    messages = []
    for dialog, start in zip(previous, reversed(starts), strict=True):
        for i, turn in enumerate(dialog.get("dialog", [])):
            role: Role = "user" if i % 2 == 0 else "assistant"
            messages.append(Message(role=role, content=str(turn["text"]), created_at=start + timedelta(seconds=30 * i)))
    return messages


def load_records(path: Path, limit: int | None = None) -> list[Question]:
    """Questions of an MSC-Self-Instruct JSONL file; ConfigError naming the line of a malformed record."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"Cannot read the DMR data {path}: {exc.strerror}.") from None
    questions: list[Question] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            previous = record["previous_dialogs"]
            for dialog in previous:
                _gap(dialog)
                [str(turn["text"]) for turn in dialog["dialog"]]
            personas = record.get("personas") or [[], []]
            data = {
                "question": str(record["self_instruct"]["B"]),
                "answer": str(record["self_instruct"]["A"]),
                "previous": previous,
                "persona": "\n".join(personas[1]) if len(personas) > 1 else "",
            }
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise ConfigError(f"{path}:{number} is not an MSC-Self-Instruct record ({exc}).") from None
        questions.append(Question(f"dmr{number}", str(len(previous)), data))
        if limit is not None and len(questions) >= limit:
            break
    if not questions:
        raise ConfigError(f"{path} holds no records.")
    return questions


async def run_dmr(settings: EvalSettings, data: Path) -> dict[str, Any]:
    """Ask every record's question (``settings.limit`` records) and judge the replies."""
    questions = load_records(data, settings.limit)
    async with eval_client(settings) as client, judge_client(settings) as grader:

        async def answer(question: Question) -> dict[str, Any]:
            name = f"dmr-{question.id}"
            await create_agent(client, name, settings, persona=question.data["persona"])
            try:
                await client.import_messages(name, session_messages(question.data["previous"], utcnow()))
                events = await client.send_message(name, QUESTION.format(question=question.data["question"]))
            finally:
                await client.delete_agent(name)
            reply = replies(events)
            verdict = await judge(grader, question.data["question"], question.data["answer"], reply)
            return {
                "question": question.data["question"],
                "gold": question.data["answer"],
                "response": reply,
                "correct": verdict.correct,
                "judge": verdict.label,
                "f1": round(token_f1(reply, question.data["answer"]), 4),
                "rouge_l_recall": round(rouge_l_recall(reply, question.data["answer"]), 4),
            }

        outcome = await run_questions(TASK, questions, answer, settings, cost=_cost)
    result = summarize(TASK, outcome, settings, metrics=("f1", "rouge_l_recall"))
    result["metric"] = "LLM-as-judge accuracy (memgpt.evals.judge.JUDGE_PROMPT); token F1; ROUGE-L recall"
    return result


def _cost(todo: list[Question], cached: int) -> CostEstimate:
    return estimate(len(todo), cached, calls_per_question=3, context_per_call=2500)
