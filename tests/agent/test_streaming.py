"""Decoding the text of a send_message call while its JSON arguments stream in."""

from __future__ import annotations

import json

import pytest

from memgpt.agent.streaming import StringField

TEXTS = [
    "plain",
    'quotes " and \\ backslashes, a tab\t and\nnew lines',
    "emoji 🎉🧠 and accents é, CJK 漢字",
    "",
]


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("piece", [1, 2, 3, 7, 1000])
@pytest.mark.parametrize("ascii_only", [True, False])
def test_any_split_decodes_to_the_value(text: str, piece: int, ascii_only: bool) -> None:
    arguments = json.dumps({"request_heartbeat": False, "message": text, "after": "x"}, ensure_ascii=ascii_only)
    field = StringField()
    out = "".join(field.feed(arguments[i : i + piece]) for i in range(0, len(arguments), piece))
    assert out == text and field.done


def test_other_fields_and_non_strings_yield_nothing() -> None:
    field = StringField()
    assert field.feed('{"message_count": 3, "messages": "no", "message": 5}') == ""
    assert not field.done


def test_lone_surrogates_become_replacement_characters() -> None:
    field = StringField()
    assert field.feed('{"message": "a\\ud800b\\udc00c"}') == "a\ufffdb\ufffdc"
