"""The shared text and JSON checks: what every store refuses and what the LLM boundary repairs."""

from __future__ import annotations

import pytest

from memgpt.errors import ValidationError
from memgpt.validation import check_json, check_text, clean_json, clean_text, is_blank, normalize_name


@pytest.mark.parametrize("bad", ["a\x00b", "\ud800", "x\udfffy"])
def test_unstorable_text_is_refused_and_cleaned(bad: str) -> None:
    with pytest.raises(ValidationError, match="position"):
        check_text(bad, "A message")
    cleaned = clean_text(bad)
    cleaned.encode("utf-8")  # sendable
    assert "\x00" not in cleaned and "\ufffd" in cleaned


def test_ordinary_text_passes_unchanged() -> None:
    text = "emoji 🎉, tab\t, control \x07, CJK 漢字"
    assert check_text(text, "A message") is text
    assert clean_text(text) is text


def test_limits_and_types() -> None:
    with pytest.raises(ValidationError, match="over the limit"):
        check_text("x" * 11, "A name", max_chars=10)
    with pytest.raises(ValidationError, match="must be text"):
        check_text(5, "A name")


def test_blank_counts_invisible_characters() -> None:
    assert is_blank("\u200b\u200b \n\ufeff")
    assert not is_blank("\u200bx")


def test_names_are_nfc() -> None:
    assert normalize_name("Cafe\u0301", "A name") == "Caf\u00e9"


@pytest.mark.parametrize(
    "bad",
    [{"k": "\x00"}, {1: "x"}, [float("nan")], {"a": object()}, {"\ud800": 1}],
)
def test_json_checks(bad: object) -> None:
    with pytest.raises(ValidationError):
        check_json(bad, "Metadata")


def test_json_depth_is_bounded() -> None:
    deep: list[object] = []
    for _ in range(40):
        deep = [deep]
    with pytest.raises(ValidationError, match="nested"):
        check_json(deep, "Metadata")
    check_json({"a": [1, 2.5, True, None, "ok"]}, "Metadata")


def test_clean_json_repairs_strings() -> None:
    assert clean_json({"a\x00": ["\ud800", 1]}) == {"a\ufffd": ["\ufffd", 1]}
