"""LoCoMo question answering with a MemGPT agent, in two modes.

- ``recall``: for each question a fresh agent gets the whole conversation in its recall store, one
  message per turn (``"Speaker: text"``, with the shared photo's caption) at its session's real date,
  and answers with its own functions (``conversation_search``, ``conversation_search_date``...).
  Questions are independent, so they run in parallel.
- ``live``: one agent per conversation is played every session turn by turn as user messages
  (``"[date] Speaker: text"``), so it writes its own core and archival memory as it goes; then the
  questions of that conversation are asked to it, one after the other (the agent keeps what it hears,
  including earlier questions, as any deployed agent would). Playing the sessions is metered apart
  (``usage.setup``).

Scoring: LLM-as-judge accuracy (:mod:`memgpt.evals.judge`) and token F1, per category and overall.
Category 5 (adversarial: the answer was never in the conversation) is judged with the "unanswerable"
prompt, reported in ``by_category`` and, as is customary (mem0, Zep, Letta), left out of the overall
figure (``accuracy_all`` includes it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from memgpt.errors import ConfigError
from memgpt.evals.data import shared_data_dir
from memgpt.evals.judge import UNANSWERABLE_GOLD, declines, judge, token_f1
from memgpt.evals.locomo import conversation_messages
from memgpt.evals.runner import (
    CostEstimate,
    EvalSettings,
    Question,
    SharedSetup,
    create_agent,
    estimate,
    eval_client,
    judge_client,
    replies,
    run_questions,
    summarize,
)

TASK = "locomo"
QaMode = Literal["recall", "live"]
RECALL_INTRO = (
    "Your recall memory holds a long conversation between {a} and {b}, with the date of each message. "
    "Search it to answer the question below in a short phrase; give dates as dates."
)
LIVE_INTRO = "Using what you remember of the conversation between {a} and {b}, answer in a short phrase."


def load_conversations(folder: Path, limit: int | None) -> list[tuple[str, dict[str, Any]]]:
    files = sorted(folder.glob("*.json"))[:limit]
    if not files:
        raise ConfigError(f"No LoCoMo conversations (*.json) in {folder}.")
    conversations = []
    for path in files:
        try:
            conversations.append((path.stem, json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"Cannot read the LoCoMo conversation {path}: {exc}.") from None
    return conversations


def questions_of(stem: str, conversation: dict[str, Any], per_conversation: int | None) -> list[Question]:
    """One question per QA item; the gold of category 5 is its adversarial answer."""
    dialogue = conversation.get("conversation", conversation)
    items = conversation["qa"][:per_conversation] if per_conversation else conversation["qa"]
    questions = []
    for index, qa in enumerate(items):
        category = str(qa["category"])
        gold = str(qa.get("answer", qa.get("adversarial_answer", "")))
        if category == "5":
            gold = str(qa.get("adversarial_answer", gold))
        data = {
            "conversation": stem,
            "question": qa["question"],
            "gold": gold,
            "speakers": (dialogue["speaker_a"], dialogue["speaker_b"]),
        }
        questions.append(Question(f"{stem}-{index}", category, data))
    return questions


def live_turns(conversation: dict[str, Any]) -> list[str]:
    """Every turn as the message the live agent receives: ``[session date] Speaker: text``."""
    turns = []
    session = 1
    while f"session_{session}" in conversation:
        when = conversation[f"session_{session}_date_time"]
        for turn in conversation[f"session_{session}"]:
            text = f"[{when}] {turn['speaker']}: {turn['text']}"
            if turn.get("blip_caption"):
                text += f" [shares a photo: {turn['blip_caption']}]"
            turns.append(text)
        session += 1
    return turns


async def run_locomo_qa(
    settings: EvalSettings,
    data: Path | None = None,
    *,
    mode: QaMode = "recall",
    per_conversation: int | None = None,
) -> dict[str, Any]:
    """Answer and judge the questions of ``settings.limit`` conversations (``per_conversation`` each)."""
    conversations = dict(load_conversations(data or shared_data_dir("locomo"), settings.limit))
    questions = [q for stem, c in conversations.items() for q in questions_of(stem, c, per_conversation)]
    setup = SharedSetup()
    async with eval_client(settings) as client, judge_client(settings) as grader:

        async def play(stem: str) -> str:
            name = f"locomo-live-{stem}"
            await create_agent(client, name, settings)
            for text in live_turns(conversations[stem].get("conversation", conversations[stem])):
                await client.send_message(name, text)
            return name

        async def answer(question: Question) -> dict[str, Any]:
            stem = question.data["conversation"]
            a, b = question.data["speakers"]
            if mode == "live":
                name = await setup.get(stem, lambda: play(stem))
                prompt = f"{LIVE_INTRO.format(a=a, b=b)}\nQuestion: {question.data['question']}"
                events = await client.send_message(name, prompt)
            else:
                name = f"locomo-{question.id}"
                await create_agent(client, name, settings)
                try:
                    dialogue = conversations[stem].get("conversation", conversations[stem])
                    await client.import_messages(name, conversation_messages(dialogue))
                    prompt = f"{RECALL_INTRO.format(a=a, b=b)}\nQuestion: {question.data['question']}"
                    events = await client.send_message(name, prompt)
                finally:
                    await client.delete_agent(name)
            return await _score(grader, question, replies(events))

        cost = _live_cost(conversations) if mode == "live" else _recall_cost
        outcome = await run_questions(TASK, questions, answer, settings, cost=cost)
    result = summarize(TASK, outcome, settings, excluded=("5",), metrics=("f1",))
    result["mode"] = mode
    result["usage"]["setup"] = setup.usage()
    result["metric"] = "LLM-as-judge accuracy (memgpt.evals.judge.JUDGE_PROMPT), category 5 apart; token F1"
    return result


async def _score(grader: Any, question: Question, reply: str) -> dict[str, Any]:
    answerable = question.group != "5"
    verdict = await judge(grader, question.data["question"], question.data["gold"], reply, answerable=answerable)
    f1 = token_f1(reply, question.data["gold"]) if answerable else float(declines(reply))
    return {
        "question": question.data["question"],
        "gold": question.data["gold"] if answerable else UNANSWERABLE_GOLD,
        "adversarial_answer": None if answerable else question.data["gold"],
        "response": reply,
        "correct": verdict.correct,
        "judge": verdict.label,
        "f1": round(f1, 4),
    }


def _recall_cost(todo: list[Question], cached: int) -> CostEstimate:
    return estimate(len(todo), cached, calls_per_question=3, context_per_call=2600)


def _live_cost(conversations: dict[str, dict[str, Any]]) -> Any:
    def cost(todo: list[Question], cached: int) -> CostEstimate:
        stems = {q.data["conversation"] for q in todo}
        turns = sum(len(live_turns(conversations[s].get("conversation", conversations[s]))) for s in stems)
        # Playing a turn: ~1.5 calls with a context that fills towards the flush threshold (~6k tokens).
        return estimate(
            len(todo),
            cached,
            calls_per_question=3,
            context_per_call=5000,
            extra_calls=round(1.5 * turns),
            extra_context=5000,
        )

    return cost
