"""The lines the recursive summary is written from."""

from __future__ import annotations

from datetime import UTC, datetime

from memgpt.agent.queue import transcript_line
from memgpt.memory.types import Message

WHEN = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)


def test_a_summary_keeps_who_said_what() -> None:
    named = Message(role="user", content="I take the late ferry.", name="Bo", created_at=WHEN)
    plain = Message(role="user", content="Hello.", created_at=WHEN)
    assert transcript_line(named) == "[2024-05-01 09:30] user (Bo): I take the late ferry."
    assert transcript_line(plain) == "[2024-05-01 09:30] user: Hello."
