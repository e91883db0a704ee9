"""Chunks stay within the token budget, end at sentence or paragraph boundaries and overlap inside paragraphs."""

from __future__ import annotations

import itertools

import pytest

from memgpt.errors import ValidationError
from memgpt.llm.tokens import estimate_tokens
from memgpt.sources.chunking import chunk_segments
from memgpt.sources.parsers import Segment


def sentences(n: int, start: int = 0) -> str:
    return " ".join(f"Sentence number {i} talks about topic {i % 7} in some detail." for i in range(start, start + n))


def test_short_paragraphs_are_packed_and_never_split() -> None:
    text = "\n\n".join(f"Paragraph {i} is short." for i in range(10))
    chunks = list(chunk_segments([Segment(text)], max_tokens=40, overlap_tokens=10))
    assert len(chunks) > 1
    for chunk in chunks:
        assert estimate_tokens(chunk.text) <= 40
        assert all(part.startswith("Paragraph") and part.endswith("short.") for part in chunk.text.split("\n\n"))
    joined = [p for c in chunks for p in c.text.split("\n\n")]
    assert joined == [f"Paragraph {i} is short." for i in range(10)]  # no overlap between paragraphs


def test_long_paragraph_is_cut_at_sentences_with_overlap() -> None:
    text = sentences(40)
    chunks = [
        c.text for c in chunk_segments([Segment(text, page=4, section="Intro")], max_tokens=80, overlap_tokens=20)
    ]
    assert len(chunks) > 3
    for chunk in chunks:
        assert estimate_tokens(chunk) <= 80
        assert chunk.startswith("Sentence number") and chunk.endswith("detail.")
    for first, second in itertools.pairwise(chunks):
        last_sentence = first.rsplit("Sentence number", 1)[1]
        assert second.startswith("Sentence number" + last_sentence)  # the next chunk repeats the last sentence
    covered = " ".join(chunks)
    assert all(f"Sentence number {i} " in covered for i in range(40))


def test_full_pages_keep_their_page_and_section_and_chunks_do_not_cross_them() -> None:
    one, two = ("Page one sentence. " * 40).strip(), ("Page two sentence. " * 40).strip()
    chunks = list(chunk_segments([Segment(one, page=1), Segment(two, page=2, section="B")]))
    assert [(c.text, c.page, c.section, c.last_page) for c in chunks] == [(one, 1, None, None), (two, 2, "B", None)]


def test_short_pages_are_packed_into_one_chunk_that_cites_the_first_and_last_page() -> None:
    slides = [Segment(f"Slide {i}: a short bullet.", page=i) for i in range(1, 4)]
    full = Segment(("A full page of prose. " * 40).strip(), page=4)
    chunks = list(chunk_segments([*slides, full, Segment("A closing note.", page=5)]))
    assert [(c.page, c.last_page) for c in chunks] == [(1, 3), (4, None), (5, None)]
    assert chunks[0].text == "Slide 1: a short bullet.\n\nSlide 2: a short bullet.\n\nSlide 3: a short bullet."


def test_packing_stops_at_a_full_chunk_and_never_joins_records() -> None:
    notes = [Segment(("Note. " * 30).strip(), section=f"s{i}") for i in range(6)]  # about 60 tokens each
    packed = list(chunk_segments(notes, max_tokens=150, overlap_tokens=0))
    assert [c.section for c in packed] == ["s0", "s2", "s4"]  # two per chunk: a third would not fit
    sections = [Segment("Short intro.", section="Intro"), Segment("pip install it.", section="Install", page=None)]
    (packed_sections,) = chunk_segments([*sections, Segment("Run it.", section="Usage")])
    assert (packed_sections.section, packed_sections.last_section, packed_sections.last_page) == (
        "Intro",
        "Usage",
        None,
    )
    (unpaged_tail,) = chunk_segments([Segment("One.", page=1), Segment("Two.", page=2), Segment("Notes.")])
    assert (unpaged_tail.page, unpaged_tail.last_page) == (1, 2)
    records = [Segment(f"id: {i}", section=f"line {i}", record=True) for i in range(3)]
    assert [c.text for c in chunk_segments(records)] == ["id: 0", "id: 1", "id: 2"]


def test_unbroken_text_is_cut_by_words_then_characters() -> None:
    words = " ".join(f"w{i}" for i in range(500))
    blob = "x" * 3000
    chunks = [c.text for c in chunk_segments([Segment(words + " " + blob)], max_tokens=60, overlap_tokens=0)]
    assert all(estimate_tokens(c) <= 60 for c in chunks)
    assert "".join(chunks).replace(" ", "") == (words + blob).replace(" ", "")


def test_chunking_is_deterministic() -> None:
    text = "\n\n".join(sentences(15, i * 15) for i in range(6))
    first = list(chunk_segments([Segment(text)], max_tokens=100, overlap_tokens=25))
    assert first == list(chunk_segments([Segment(text)], max_tokens=100, overlap_tokens=25))


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValidationError):
        list(chunk_segments([Segment("x")], max_tokens=5))
    with pytest.raises(ValidationError):
        list(chunk_segments([Segment("x")], max_tokens=100, overlap_tokens=80))
