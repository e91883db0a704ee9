"""Load files into a source: walk paths, skip what is unchanged, stream chunks into the store in batches.

Memory stays bounded by one batch of chunks plus one parsed page or section (text, CSV and JSONL
files are streamed line by line; HTML, JSON and DOCX files are parsed whole, one file at a time).
Each file is one version in the store (:class:`memgpt.memory.protocols.SourceStore`): its passages
become searchable only when the whole file went through, replacing the file's previous version at
once. A load that is killed leaves an invisible partial version that the next load of the same
content continues from its last stored batch; a file that fails leaves nothing.
"""

from __future__ import annotations

import asyncio
import fnmatch
import functools
import hashlib
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Literal, TypeVar

from memgpt.errors import ValidationError
from memgpt.memory.protocols import Source, SourceFile, Store
from memgpt.memory.types import Passage
from memgpt.sources.chunking import MAX_TOKENS, OVERLAP_TOKENS, Chunk, chunk_segments
from memgpt.sources.parsers import KINDS, FileSkipError, open_document

BATCH_SIZE = 64
HASH_BLOCK = 1 << 20
DEFAULT_INCLUDE = tuple(
    sorted({f"*{suffix}" for suffix in KINDS} | {f"*{s}.gz" for s in (".txt", ".md", ".json", ".jsonl", ".csv")})
)

T = TypeVar("T")
Status = Literal["loaded", "replaced", "resumed", "unchanged", "skipped"]


@dataclass(frozen=True, slots=True)
class LoadOptions:
    """How files are found and cut. Explicitly named files are loaded whatever ``include`` says."""

    include: Sequence[str] = ()
    exclude: Sequence[str] = ()
    max_tokens: int = MAX_TOKENS
    overlap_tokens: int = OVERLAP_TOKENS
    batch_size: int = BATCH_SIZE
    encoding: str = "utf-8"


@dataclass(slots=True)
class FileOutcome:
    """What happened to one file; ``reason`` says why it was skipped."""

    path: str
    status: Status
    passages: int = 0  # the file's passages in the source
    reason: str | None = None
    added: int = 0  # passages stored by this load (less than ``passages`` when it resumed)


@dataclass(slots=True)
class LoadProgress:
    """Progress so far, passed to the ``on_progress`` callback after every batch and every file."""

    files_total: int
    files_done: int = 0
    passages: int = 0
    bytes_total: int = 0
    bytes_done: int = 0
    started: float = field(default_factory=time.monotonic)
    current: str | None = None

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def passages_per_second(self) -> float:
        return self.passages / self.elapsed if self.elapsed > 0 else 0.0


@dataclass(slots=True)
class LoadReport:
    """The outcome of a load: one entry per file found, in the order they were loaded."""

    source: Source
    files: list[FileOutcome]
    seconds: float

    @property
    def passages_added(self) -> int:
        return sum(f.added for f in self.files)

    @property
    def skipped(self) -> list[FileOutcome]:
        return [f for f in self.files if f.status == "skipped"]

    def count(self, status: Status) -> int:
        return sum(1 for f in self.files if f.status == status)


ProgressCallback = Callable[[LoadProgress], None]


@dataclass(frozen=True, slots=True)
class FoundFile:
    path: Path  # absolute: the key of the file in its source
    display: str  # as the user named it: what search results cite
    size: int


def find_files(paths: Sequence[str | Path], options: LoadOptions) -> tuple[list[FoundFile], list[FileOutcome]]:
    """Files to load under ``paths`` (folders recursively, hidden entries skipped) and paths that failed."""
    include = tuple(options.include) or DEFAULT_INCLUDE
    found: dict[Path, FoundFile] = {}
    missing: list[FileOutcome] = []
    for given in paths:
        root = Path(given).expanduser()
        if root.is_file():
            _add(found, root, str(given))
        elif root.is_dir():
            for path in _walk(root):
                relative = path.relative_to(root).as_posix()
                if _matches(relative, include) and not _matches(relative, options.exclude):
                    _add(found, path, str(Path(str(given)) / relative))
        else:
            reason = "no such file or folder" if not root.exists() else "not a regular file"
            missing.append(FileOutcome(str(given), "skipped", reason=reason))
    files = [f for f in found.values() if not _matches(f.display, options.exclude)]
    return files, missing


def _add(found: dict[Path, FoundFile], path: Path, display: str) -> None:
    resolved = path.resolve()
    if resolved not in found:
        try:
            size = resolved.stat().st_size
        except OSError:
            size = 0
        found[resolved] = FoundFile(resolved, display, size)


def _walk(root: Path) -> Iterator[Path]:
    for folder, dirs, files in os.walk(root):  # does not follow symlinked folders: no loops
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(folder) / name


def _matches(path: str, patterns: Sequence[str]) -> bool:
    name = path.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatch(path, p) or fnmatch.fnmatch(name, p) for p in patterns)


async def load_files(
    store: Store,
    source: Source,
    paths: Sequence[str | Path],
    *,
    options: LoadOptions | None = None,
    on_progress: ProgressCallback | None = None,
) -> LoadReport:
    """Load every file under ``paths`` into ``source``; bad files are skipped with a reason, never fatal."""
    options = options or LoadOptions()
    if options.batch_size < 1:
        raise ValidationError(f"batch_size must be at least 1, got {options.batch_size}.")
    files, outcomes = await asyncio.to_thread(find_files, paths, options)
    progress = LoadProgress(files_total=len(files), bytes_total=sum(f.size for f in files))
    loaded = {f.path: f.content_hash for f in await store.list_source_files(source.id) if f.state == "done"}
    for found in files:
        progress.current = found.display
        _notify(on_progress, progress)
        outcome = await _load_file(store, source, found, options, loaded.get(str(found.path)), progress, on_progress)
        outcomes.append(outcome)
        progress.files_done += 1
        progress.bytes_done += found.size
        _notify(on_progress, progress)
    progress.current = None
    return LoadReport(source, outcomes, progress.elapsed)


def _notify(callback: ProgressCallback | None, progress: LoadProgress) -> None:
    if callback is not None:
        callback(progress)


async def _load_file(
    store: Store,
    source: Source,
    found: FoundFile,
    options: LoadOptions,
    previous_hash: str | None,
    progress: LoadProgress,
    on_progress: ProgressCallback | None,
) -> FileOutcome:
    try:
        size, digest = await asyncio.to_thread(_hash_file, found.path)
    except OSError as exc:
        return FileOutcome(found.display, "skipped", reason=f"cannot read it: {exc.strerror or exc}")
    if size == 0:
        return FileOutcome(found.display, "skipped", reason="empty file")
    cut = {"max_tokens": options.max_tokens, "overlap_tokens": options.overlap_tokens}
    spec = SourceFile(source.id, str(found.path), digest, size, metadata={"chunking": cut})
    record = await store.begin_source_file(spec)
    if record.state == "done":
        return FileOutcome(found.display, "unchanged", record.passage_count)
    if record.metadata.get("chunking") != cut:  # cut differently: its stored chunks cannot be continued
        await store.delete_source_file(record.id)
        record = await store.begin_source_file(spec)
    resumed_from = record.passage_count
    # Only the file's own faults skip it. Anything else (embedding service down, Ctrl-C) propagates and
    # keeps the stored batches, so the next load resumes there.
    try:
        stored = await _store_chunks(store, record, found, options, progress, on_progress)
    except FileSkipError as exc:
        await store.delete_source_file(record.id)
        return FileOutcome(found.display, "skipped", reason=str(exc))
    await store.commit_source_file(record.id)
    status: Status = "resumed" if resumed_from else "replaced" if previous_hash not in (None, digest) else "loaded"
    return FileOutcome(found.display, status, stored, added=stored - resumed_from)


async def _store_chunks(
    store: Store,
    record: SourceFile,
    found: FoundFile,
    options: LoadOptions,
    progress: LoadProgress,
    on_progress: ProgressCallback | None,
) -> int:
    """Parse, chunk and store the file in batches, skipping the chunks an earlier load already stored."""
    opening = functools.partial(open_document, found.path, encoding=options.encoding)
    document = await asyncio.to_thread(_guarded, opening)
    chunks = chunk_segments(document.segments, max_tokens=options.max_tokens, overlap_tokens=options.overlap_tokens)
    next_batch = functools.partial(_take, chunks, options.batch_size)
    index = 0
    while batch := await asyncio.to_thread(_guarded, next_batch):  # parsing and chunking are CPU work
        start = max(index, record.passage_count)
        fresh = batch[start - index :]
        if fresh:
            passages = [_passage(chunk, found, document.title, start + i) for i, chunk in enumerate(fresh)]
            await store.add_source_passages(record.id, start, passages)
            progress.passages += len(fresh)
            _notify(on_progress, progress)
        index += len(batch)
    if index == 0:
        hint = " (a scanned PDF? run OCR on it first)" if document.kind == "pdf" else ""
        raise FileSkipError(f"no text found{hint}")
    return index


def _take(chunks: Iterator[Chunk], n: int) -> list[Chunk]:
    return list(islice(chunks, n))


def _guarded(step: Callable[[], T]) -> T:
    """Run a parsing step; a parser library's own exception skips the file instead of ending the load."""
    try:
        return step()
    except (FileSkipError, MemoryError):
        raise
    except Exception as exc:
        raise FileSkipError(f"cannot be parsed ({type(exc).__name__}: {exc})") from exc


def _passage(chunk: Chunk, found: FoundFile, title: str, index: int) -> Passage:
    metadata: dict[str, object] = {"source": found.display, "title": title, "chunk": index}
    if chunk.page is not None:
        metadata["page"] = chunk.page
    if chunk.section:
        metadata["section"] = chunk.section
    return Passage(text=chunk.text, metadata=metadata)


def _hash_file(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while block := handle.read(HASH_BLOCK):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


def default_source_name(paths: Sequence[str | Path]) -> str:
    """A source name from the first path (``docs/`` -> ``docs``, ``a/report.pdf`` -> ``report.pdf``)."""
    if not paths:
        raise ValidationError("Give at least one file or folder to load.")
    name = Path(paths[0]).expanduser().resolve().name or "documents"
    cleaned = "".join(c if c.isalnum() or c in "-_." else "-" for c in name).strip("-.")
    return cleaned[:100] or "documents"
