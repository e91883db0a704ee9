from __future__ import annotations

import pytest

from memgpt.errors import MemoryEditError
from memgpt.memory.blocks import Block, CoreMemory


def memory() -> CoreMemory:
    return CoreMemory(
        [
            Block("persona", "I am Sam.", limit=40),
            Block("human", "", limit=40),
            Block("rules", "Be kind.", read_only=True),
        ]
    )


def test_append_and_replace_edit_the_block() -> None:
    core = memory()
    core.append("human", "Name: Ada")
    core.append("human", "Likes tea")
    assert core.get("human").value == "Name: Ada\nLikes tea"
    core.replace("human", "tea", "coffee")
    assert core.get("human").value == "Name: Ada\nLikes coffee"
    core.replace("human", "\nLikes coffee", "")
    assert core.get("human").value == "Name: Ada"


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (lambda c: c.append("nope", "x"), "No core memory block named 'nope'"),
        (lambda c: c.append("rules", "x"), "read-only"),
        (lambda c: c.replace("persona", "Bob", "Ann"), "not found"),
        (lambda c: c.append("persona", "x" * 40), "over its limit of 40"),
        (lambda c: c.append("human", ""), "empty"),
    ],
)
def test_refused_edits_change_nothing(action: object, message: str) -> None:
    core = memory()
    before = [b.value for b in core.blocks]
    with pytest.raises(MemoryEditError, match=message):
        action(core)  # type: ignore[operator]
    assert [b.value for b in core.blocks] == before


def test_invalid_blocks_are_rejected() -> None:
    with pytest.raises(MemoryEditError):
        CoreMemory([Block("bad label!", "")])
    with pytest.raises(MemoryEditError):
        CoreMemory([Block("human", "x" * 10, limit=5)])
