"""Scoring answers: an LLM judge, token F1 and ROUGE-L recall.

The judge prompt follows the convention of the mem0 and Zep LoCoMo evaluations (which most published
LoCoMo accuracies use): the judge sees the question, the gold answer and the agent's answer, is told
to be generous about wording and date formats as long as the answer refers to the same thing, and
returns ``{"reasoning": ..., "label": "CORRECT" | "WRONG"}``. Questions without an answer in the
conversation (LoCoMo category 5, "adversarial") use a second prompt: CORRECT only when the agent says
it does not know or that the information was never mentioned. The fields are wrapped in tags
(``<question>``, ``<gold_answer>``, ``<response>``) so a judge cannot confuse them; the scripted
:func:`memgpt.testing.policy.judge_policy` reads the same tags. The exact text is
:data:`JUDGE_PROMPT` / :data:`UNANSWERABLE_PROMPT` below.

Token F1 is SQuAD/LoCoMo style: lower-case, punctuation, articles and "and" removed, multiset overlap
of whitespace tokens. Unlike LoCoMo's script it does not stem (no NLTK dependency), so its F1 runs a
little lower than theirs on inflected answers. ROUGE-L recall (the DMR metric of the MemGPT paper) is
the longest common token subsequence divided by the gold answer's length.
"""

from __future__ import annotations

import json
import re
import string
from collections import Counter
from dataclasses import dataclass

from memgpt.errors import LLMError
from memgpt.llm.base import ChatRequest, LLMClient

JUDGE_PROMPT = """Your task is to label an answer to a question as CORRECT or WRONG.
You are given a question about a long conversation, the gold (ground truth) answer, and the answer
to grade. The gold answer is usually short; the answer to grade may be longer. Be generous: if the
answer refers to the same thing, fact, person or time as the gold answer, it is CORRECT, even if it
is worded differently, more detailed, or uses another date format ("May 7th" vs "7 May 2023"), or a
relative time that resolves to the same date. It is WRONG if it names something else, contradicts the
gold answer, or does not answer.

<question>{question}</question>
<gold_answer>{gold}</gold_answer>
<response>{response}</response>

First give a one-sentence explanation, then the label. Reply with JSON only:
{{"reasoning": "...", "label": "CORRECT"}} or {{"reasoning": "...", "label": "WRONG"}}"""

UNANSWERABLE_PROMPT = """Your task is to label an answer to a question as CORRECT or WRONG.
The question below asks about something that was never mentioned in the conversation, so it has no
answer. The answer to grade is CORRECT if it says the information is not available, was not
mentioned, or that it does not know. It is WRONG if it asserts an answer, such as the tempting
wrong answer shown for reference.

<question>{question}</question>
<gold_answer>{gold}</gold_answer>
<wrong_answer>{trap}</wrong_answer>
<response>{response}</response>

First give a one-sentence explanation, then the label. Reply with JSON only:
{{"reasoning": "...", "label": "CORRECT"}} or {{"reasoning": "...", "label": "WRONG"}}"""

UNANSWERABLE_GOLD = "Not mentioned in the conversation"
_LABEL = re.compile(r"\b(CORRECT|WRONG)\b")
_ARTICLES = re.compile(r"\b(a|an|the|and)\b")
_DECLINE = re.compile(
    r"not (been )?mentioned|no (information|mention|record)|(don't|do not|can't|cannot|could not|couldn't) "
    r"(know|find|recall|remember|say)|not (available|sure|known)|unknown",
    re.I,
)


@dataclass(slots=True)
class Verdict:
    """The judge's label (None when its reply had no label) and its raw reply."""

    correct: bool
    label: str | None
    raw: str


def parse_label(text: str) -> str | None:
    """``CORRECT`` or ``WRONG`` from a judge reply: the JSON ``label`` field, else the last label word."""
    match = re.search(r"\{.*\}", text, re.S)
    if match:
        try:
            label = json.loads(match.group(0)).get("label")
        except (ValueError, AttributeError):
            label = None
        if isinstance(label, str) and label.strip().upper() in ("CORRECT", "WRONG"):
            return label.strip().upper()
    words = _LABEL.findall(text.upper())
    return words[-1] if words else None


async def judge(llm: LLMClient, question: str, gold: str, response: str, *, answerable: bool = True) -> Verdict:
    """Ask ``llm`` whether ``response`` answers ``question`` as ``gold`` does (one retry on an unreadable reply).

    With ``answerable=False`` the question has no answer and ``gold`` is the tempting wrong one.
    """
    if answerable:
        prompt = JUDGE_PROMPT.format(question=question, gold=gold, response=response or "(no answer)")
    else:
        prompt = UNANSWERABLE_PROMPT.format(
            question=question, gold=UNANSWERABLE_GOLD, trap=gold, response=response or "(no answer)"
        )
    request = ChatRequest(messages=[{"role": "user", "content": prompt}], temperature=0.0, max_tokens=300)
    raw = ""
    for _ in range(2):
        reply = await llm.chat(request)
        raw = reply.content or ""
        label = parse_label(raw)
        if label is not None:
            return Verdict(label == "CORRECT", label, raw)
    if not raw:
        raise LLMError("The judge model returned empty replies.")
    return Verdict(False, None, raw)


def normalize_answer(text: str) -> str:
    """Lower-case, strip punctuation, articles and extra whitespace (SQuAD / LoCoMo normalisation)."""
    text = text.lower().replace(",", " ")
    text = "".join(ch for ch in text if ch not in string.punctuation)
    return " ".join(_ARTICLES.sub(" ", text).split())


def token_f1(prediction: str, gold: str) -> float:
    """Token-overlap F1 between the normalised prediction and gold answer."""
    predicted, expected = normalize_answer(prediction).split(), normalize_answer(gold).split()
    if not predicted or not expected:
        return float(predicted == expected)
    common = sum((Counter(predicted) & Counter(expected)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(expected)
    return 2 * precision * recall / (precision + recall)


def rouge_l_recall(prediction: str, gold: str) -> float:
    """Longest common subsequence of normalised tokens over the gold answer's length."""
    predicted, expected = normalize_answer(prediction).split(), normalize_answer(gold).split()
    if not expected:
        return 0.0
    previous = [0] * (len(predicted) + 1)
    for word in expected:
        current = [0]
        for j, other in enumerate(predicted):
            current.append(previous[j] + 1 if word == other else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1] / len(expected)


def declines(response: str) -> bool:
    """Whether a response says it does not know (LoCoMo scores category 5 F1 this way)."""
    return bool(_DECLINE.search(response))


def contains_answer(response: str, answers: list[str]) -> bool:
    """Any gold answer string in the response, after normalisation (the NQ / "Lost in the Middle" metric)."""
    normalized = normalize_answer(response)
    return any(normalize_answer(a) and normalize_answer(a) in normalized for a in answers)
