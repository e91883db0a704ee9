"""The retrieval evaluations end to end on tiny data sets in the published formats."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from memgpt.evals.locomo import evidence_ids, run_locomo_retrieval, score
from memgpt.evals.nq import run_nq_retrieval
from tests.conftest import local_embedder

CONVERSATION = {
    "speaker_a": "Ann",
    "speaker_b": "Bo",
    "session_1_date_time": "1:56 pm on 8 May, 2023",
    "session_1": [
        {"speaker": "Ann", "dia_id": "D1:1", "text": "I started learning the cello last month."},
        {"speaker": "Bo", "dia_id": "D1:2", "text": "Nice! I just got back from hiking in Patagonia."},
        {"speaker": "Ann", "dia_id": "D1:3", "text": "My dog Biscuit hates the vacuum cleaner."},
    ],
    "session_2_date_time": "10:00 am on 20 June, 2023",
    "session_2": [
        {"speaker": "Bo", "dia_id": "D2:1", "text": "I adopted a parrot named Kiwi.", "blip_caption": "a green parrot"},
        {"speaker": "Ann", "dia_id": "D2:2", "text": "I performed my first cello recital yesterday!"},
    ],
    "qa": [
        {"question": "Which instrument does Ann play?", "answer": "cello", "evidence": ["D1:1", "D2:2"], "category": 1},
        {"question": "Where did Bo go hiking?", "answer": "Patagonia", "evidence": ["D1:2"], "category": 4},
        {"question": "What is the name of Bo's parrot?", "answer": "Kiwi", "evidence": ["D2:1"], "category": 4},
        {"question": "What is Ann's cat called?", "adversarial_answer": "Biscuit", "evidence": [], "category": 5},
    ],
}


def test_recall_counts_all_a_share_or_any_of_the_evidence() -> None:
    ranked = [f"D1:{i}" for i in range(1, 30)]
    records = [
        {"category": "1", "evidence": ["D1:1", "D1:7"], "ranked": ranked},  # second turn only at rank 7
        {"category": "4", "evidence": ["D1:2"], "ranked": ranked},
        {"category": "5", "evidence": [], "ranked": ranked},  # nothing to find: not scored
    ]
    result = score(records)
    assert result["n"] == 3 and result["n_scored"] == 2
    assert result["recall_all"]["5"] == {"overall": 0.5, "1": 0.0, "2": 0.0, "3": 0.0, "4": 1.0, "5": 0.0}
    assert result["recall"]["5"]["overall"] == 0.75 and result["recall"]["5"]["1"] == 0.5
    assert result["recall_any"]["5"]["overall"] == 1.0
    assert result["recall_all"]["10"]["overall"] == result["recall"]["10"]["overall"] == 1.0


def test_evidence_ids_are_normalised() -> None:
    assert evidence_ids(["D8:6; D9:17", "D", "D:11:26"]) == {"D8:6", "D9:17", "D11:26"}


async def test_locomo_retrieval_scores_a_small_conversation(tmp_path: Path) -> None:
    local_embedder()
    (tmp_path / "1.json").write_text(json.dumps(CONVERSATION))
    result = await run_locomo_retrieval(tmp_path, mode="hybrid")
    assert result["task"] == "locomo-retrieval" and result["n"] == 4 and result["n_scored"] == 3
    assert set(result["recall_all"]) == {"5", "10", "25"}
    assert result["recall_all"]["5"]["4"] == 1.0
    assert result["recall_all"]["5"]["1"] == 1.0  # both cello turns are among 5 of 5 turns
    assert result["recall_any"]["5"]["overall"] == result["recall"]["5"]["overall"] == 1.0


async def test_nq_retrieval_finds_gold_passages(tmp_path: Path) -> None:
    local_embedder()
    rows = [
        {
            "question": "who wrote the novel moby dick",
            "answers": ["Herman Melville"],
            "ctxs": [
                {
                    "title": "Moby-Dick",
                    "text": "Moby-Dick is an 1851 novel by American writer Herman Melville.",
                    "isgold": True,
                    "hasanswer": True,
                }
            ],
        },
        {
            "question": "what is the capital city of australia",
            "answers": ["Canberra"],
            "ctxs": [
                {
                    "title": "Canberra",
                    "text": "Canberra is the capital city of Australia.",
                    "isgold": True,
                    "hasanswer": True,
                }
            ],
        },
        {
            "question": "how many legs does a spider have",
            "answers": ["eight"],
            "ctxs": [
                {
                    "title": "Spider",
                    "text": "Spiders are arachnids with eight legs and chelicerae with fangs.",
                    "isgold": True,
                    "hasanswer": True,
                }
            ],
        },
    ]
    path = tmp_path / "nq.jsonl.gz"
    with gzip.open(path, "wt") as handle:
        handle.writelines(json.dumps(r) + "\n" for r in rows)
    result = await run_nq_retrieval(path, mode="hybrid")
    assert result["n"] == 3 and result["passages"] == 3
    assert result["recall"]["1"] == 1.0 and result["mrr@10"] == 1.0
