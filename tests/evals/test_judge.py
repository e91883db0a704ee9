"""Scoring: the judge's label parsing and retry, token F1, ROUGE-L recall, answer containment."""

from __future__ import annotations

import pytest

from memgpt.errors import LLMError
from memgpt.evals.judge import (
    contains_answer,
    declines,
    judge,
    normalize_answer,
    parse_label,
    rouge_l_recall,
    token_f1,
)
from memgpt.testing.policy import judge_policy
from memgpt.testing.scripted import ScriptedLLM


@pytest.mark.parametrize(
    ("reply", "label"),
    [
        ('{"reasoning": "same city", "label": "CORRECT"}', "CORRECT"),
        ('Sure! ```json\n{"reasoning": "no", "label": "wrong"}\n```', "WRONG"),
        ("The answer names another person. WRONG", "WRONG"),
        ("I am not sure.", None),
    ],
)
def test_parse_label(reply: str, label: str | None) -> None:
    assert parse_label(reply) == label


async def test_judge_retries_an_unreadable_reply_once() -> None:
    llm = ScriptedLLM([{"content": "Let me think."}, {"content": '{"label": "CORRECT"}'}])
    verdict = await judge(llm, "Where?", "Lisbon", "In Lisbon.")
    assert verdict.correct and verdict.label == "CORRECT" and len(llm.requests) == 2
    unreadable = await judge(ScriptedLLM([{"content": "hmm"}, {"content": "maybe"}]), "Where?", "Lisbon", "x")
    assert not unreadable.correct and unreadable.label is None
    with pytest.raises(LLMError, match="empty"):
        await judge(ScriptedLLM([{"content": ""}, {"content": ""}]), "Where?", "Lisbon", "x")


async def test_unanswerable_questions_are_judged_against_not_mentioned() -> None:
    llm = ScriptedLLM(judge_policy())
    wrong = await judge(llm, "What is Ann's cat called?", "Biscuit", "Her cat is Biscuit.", answerable=False)
    right = await judge(
        llm, "What is Ann's cat called?", "Biscuit", "Not mentioned in the conversation.", answerable=False
    )
    assert not wrong.correct and right.correct
    prompt = llm.requests[0]["messages"][0]["content"]
    assert "<wrong_answer>Biscuit</wrong_answer>" in prompt and "never mentioned" in prompt


def test_token_f1_and_normalisation() -> None:
    assert normalize_answer("The Cello, and a Piano!") == "cello piano"
    assert token_f1("the cello", "Cello") == 1.0
    assert token_f1("she plays the cello and piano", "cello") == pytest.approx(2 * (1 / 4) * 1 / (1 / 4 + 1))
    assert token_f1("violin", "cello") == 0.0
    assert token_f1("", "") == 1.0


def test_rouge_l_recall_and_containment() -> None:
    assert rouge_l_recall("I went to Lisbon in May", "Lisbon in May") == 1.0
    assert rouge_l_recall("in Lisbon, May", "Lisbon in May") == pytest.approx(2 / 3)
    assert contains_answer("It was released on May 18, 2018.", ["may 18 2018"])
    assert not contains_answer("It came out in 2019.", ["2018", ""])
    assert declines("I could not find that in my memory.") and not declines("Lisbon.")
