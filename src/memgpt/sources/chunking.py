"""Token-bounded chunks with overlap, cut at paragraph, then sentence, then word boundaries.

Tokens are counted with :func:`memgpt.llm.tokens.estimate_tokens`, not the embedding model's
tokenizer: chunk boundaries must not depend on which embedding model is configured (a load resumed
with another ``MEMGPT_EMBEDDING`` must cut the same chunks), and the estimate needs no model files.
It errs high (about chars/3.2), so the default 300-token chunk is ~960 characters: about 220 of
MiniLM's word pieces, inside its 256-token window, and a few hundred tokens of the agent's context
per search hit.

Overlap repeats the last sentences of a chunk at the start of the next one, only where a cut falls
inside a paragraph (a cut between paragraphs needs no bridge).

Short pages and sections (less than half a chunk, as on slides or in notes with many headings) are
packed together into one chunk, which then cites its first page or section and its last page
(``last_page``, ``last_section``). Records of data files are never packed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from memgpt.errors import ValidationError
from memgpt.llm.tokens import estimate_tokens
from memgpt.sources.parsers import Segment

MAX_TOKENS = 300
OVERLAP_TOKENS = 50
MIN_FILL = 0.5  # a chunk at least this full may end early at a paragraph boundary; shorter segments pack
CHUNKING_VERSION = 2  # stored with each file: a load resumed by other code restarts the file (2: packing)

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])[\"')\]”’]*\s+|\n")
_WORD = re.compile(r"\S+\s*")


@dataclass(frozen=True, slots=True)
class Chunk:
    """One passage-to-be: its text and where it came from."""

    text: str
    page: int | None = None
    section: str | None = None
    last_page: int | None = None  # set when the chunk packs several short pages
    last_section: str | None = None  # set when the chunk packs several short sections


@dataclass(frozen=True, slots=True)
class _Unit:
    text: str
    tokens: int


def chunk_segments(
    segments: Iterable[Segment],
    *,
    max_tokens: int = MAX_TOKENS,
    overlap_tokens: int = OVERLAP_TOKENS,
    count: Callable[[str], int] = estimate_tokens,
) -> Iterator[Chunk]:
    """Split each segment into chunks of at most ``max_tokens`` (lazily: segments are read as needed)."""
    if max_tokens < 20:
        raise ValidationError(f"max_tokens must be at least 20, got {max_tokens}.")
    if not 0 <= overlap_tokens <= max_tokens // 2:
        raise ValidationError(f"overlap_tokens must be between 0 and half of max_tokens, got {overlap_tokens}.")
    for segment, last in _packed(segments, max_tokens, count):
        for text in _pack(segment.text, max_tokens, overlap_tokens, count):
            yield Chunk(text, segment.page, segment.section, last.page, last.section)


def _packed(
    segments: Iterable[Segment], max_tokens: int, count: Callable[[str], int]
) -> Iterator[tuple[Segment, Segment]]:
    """The segments, with runs of short non-record ones joined into one; each with the run's last page
    and section where they differ from its first (else a segment with neither)."""
    run: list[Segment] = []
    size = 0
    for segment in segments:
        tokens = count(segment.text)
        short = not segment.record and tokens < MIN_FILL * max_tokens
        if run and (not short or size + tokens > max_tokens):
            yield _joined(run)
            run, size = [], 0
        if short:
            run.append(segment)
            size += tokens
        else:
            yield segment, _NOWHERE
    if run:
        yield _joined(run)


_NOWHERE = Segment("")


def _joined(run: list[Segment]) -> tuple[Segment, Segment]:
    """One segment for a run, cited by its first page and section; and the run's last ones if they differ."""
    if len(run) == 1:
        return run[0], _NOWHERE
    pages = [segment.page for segment in run if segment.page is not None]
    sections = [segment.section for segment in run if segment.section]
    text = "\n\n".join(segment.text.strip() for segment in run)
    first = Segment(text, page=pages[0] if pages else None, section=sections[0] if sections else None)
    last = Segment(
        "",
        page=pages[-1] if pages and pages[-1] != pages[0] else None,
        section=sections[-1] if sections and sections[-1] != sections[0] else None,
    )
    return first, last


def _pack(text: str, max_tokens: int, overlap: int, count: Callable[[str], int]) -> Iterator[str]:
    paragraphs = [p for p in _PARAGRAPH_BREAK.split(text) if p.strip()]
    current: list[list[_Unit]] = []  # the chunk being built: units grouped by paragraph
    size = 0
    for paragraph in paragraphs:
        units = _units(paragraph, max_tokens, count)
        total = sum(u.tokens for u in units)
        if current and size + total > max_tokens and size >= MIN_FILL * max_tokens:
            yield _join(current)  # end at the paragraph boundary: no overlap needed
            current, size = [], 0
        current.append([])
        for unit in units:
            if size + unit.tokens > max_tokens and size:
                yield _join(current)
                carried = _tail(current[-1], min(overlap, max_tokens - unit.tokens))
                current, size = [carried], sum(u.tokens for u in carried)
            current[-1].append(unit)
            size += unit.tokens
    if size:
        yield _join(current)


def _units(paragraph: str, max_tokens: int, count: Callable[[str], int]) -> list[_Unit]:
    """The paragraph as one unit if it fits, else its sentences; over-long sentences become word runs."""
    whole = count(paragraph)
    if whole <= max_tokens:
        return [_Unit(paragraph, whole)]
    units: list[_Unit] = []
    for sentence in _split_keep(paragraph, _SENTENCE_END):
        tokens = count(sentence)
        if tokens <= max_tokens:
            units.append(_Unit(sentence, tokens))
        else:
            units += _word_runs(sentence, max_tokens, count)
    return units


def _split_keep(text: str, pattern: re.Pattern[str]) -> list[str]:
    """``text`` cut after each match of ``pattern``, keeping every character."""
    pieces, start = [], 0
    for match in pattern.finditer(text):
        if match.end() > start:
            pieces.append(text[start : match.end()])
            start = match.end()
    if start < len(text):
        pieces.append(text[start:])
    return [p for p in pieces if p.strip()]


def _word_runs(sentence: str, max_tokens: int, count: Callable[[str], int]) -> list[_Unit]:
    runs: list[_Unit] = []
    words: list[str] = []
    size = 0
    for word in _WORD.findall(sentence):
        tokens = count(word)
        if tokens > max_tokens:  # a "word" without spaces longer than a chunk (URLs, data): cut by characters
            step = max(1, len(word) * max_tokens // (tokens + 1))
            pieces = [word[i : i + step] for i in range(0, len(word), step)]
        else:
            pieces = [word]
        for piece in pieces:
            piece_tokens = count(piece)
            if size + piece_tokens > max_tokens and words:
                runs.append(_Unit("".join(words), size))
                words, size = [], 0
            words.append(piece)
            size += piece_tokens
    if words:
        runs.append(_Unit("".join(words), size))
    return runs


def _tail(units: list[_Unit], overlap: int) -> list[_Unit]:
    """The last units of a paragraph that fit in ``overlap`` tokens."""
    carried: list[_Unit] = []
    size = 0
    for unit in reversed(units):
        if size + unit.tokens > overlap:
            break
        carried.insert(0, unit)
        size += unit.tokens
    return carried


def _join(paragraphs: list[list[_Unit]]) -> str:
    texts = ["".join(u.text for u in units).strip() for units in paragraphs]
    return "\n\n".join(t for t in texts if t)
