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
from memgpt.memory.protocols import Source, SourceChunks, SourceFile, Store
from memgpt.memory.types import Passage
from memgpt.sources.chunking import CHUNKING_VERSION, MAX_TOKENS, OVERLAP_TOKENS, Chunk, chunk_segments
from memgpt.sources.parsers import KINDS, FileSkipError, open_document

BATCH_SIZE = 64
HASH_BLOCK = 1 << 20
DEFAULT_INCLUDE = tuple(
    sorted({f"*{suffix}" for suffix in KINDS} | {f"*{s}.gz" for s in (".txt", ".md", ".json", ".jsonl", ".csv")})
)

T = TypeVar("T")
Status = Literal["loaded", "replaced", "resumed", "unchanged", "skipped", "removed"]


@dataclass(frozen=True, slots=True)
class LoadOptions:
    """How files are found and cut. Explicitly named files are loaded whatever ``include`` says.

    With ``prune``, files of the source under the given paths that are gone from disk or now match
    ``exclude`` are removed from the source. Nothing is pruned under a path that is missing or a folder
    that could not be read (an unmounted drive must not empty a source), and files of the source
    elsewhere are never touched.
    """

    include: Sequence[str] = ()
    exclude: Sequence[str] = ()
    max_tokens: int = MAX_TOKENS
    overlap_tokens: int = OVERLAP_TOKENS
    batch_size: int = BATCH_SIZE
    encoding: str = "utf-8"
    prune: bool = False
    cite_as: str | None = None  # the name search results cite for a single file (an upload's own name)


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
    """The outcome of a load: the paths that were not found, then one entry per file in the order found."""

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
    """Files to load under ``paths`` (folders recursively, hidden entries skipped) and paths that failed:
    missing paths, folders that could not be read and, without ``include``, files of a kind not read."""
    include = tuple(options.include) or DEFAULT_INCLUDE
    found: dict[Path, FoundFile] = {}
    missing: list[FileOutcome] = []
    for given in paths:
        root = Path(given).expanduser()
        if root.is_file():
            _add(found, root, options.cite_as or str(given))
        elif root.is_dir():
            for path in _walk(root, missing):
                relative = path.relative_to(root).as_posix()
                if _matches(relative, options.exclude):
                    continue
                display = str(Path(str(given)) / relative)
                if _matches(relative, include):
                    _add(found, path, display)
                elif not options.include:  # the default kinds: say why the others are left out
                    missing.append(FileOutcome(display, "skipped", reason=_unsupported(path)))
        else:
            reason = "no such file or folder" if not root.exists() else "not a regular file"
            missing.append(FileOutcome(str(given), "skipped", reason=reason))
    files = [f for f in found.values() if not _matches(f.display, options.exclude)]
    return files, missing


def _unsupported(path: Path) -> str:
    suffix = "".join(path.suffixes[-2:]) if path.suffix.lower() == ".gz" else path.suffix
    if not suffix:
        return f"no file name extension, so not a kind memgpt reads; to read it as text: --include '{path.name}'"
    return f"not a kind of file memgpt reads ({suffix}); to read such files as text: --include '*{suffix}'"


def _add(found: dict[Path, FoundFile], path: Path, display: str) -> None:
    resolved = path.resolve()
    if resolved not in found:
        try:
            size = resolved.stat().st_size
        except OSError:
            size = 0
        found[resolved] = FoundFile(resolved, display, size)


def _walk(root: Path, failed: list[FileOutcome]) -> Iterator[Path]:
    def unreadable(error: OSError) -> None:
        failed.append(FileOutcome(str(error.filename), "skipped", reason=f"cannot read folder: {error.strerror}"))

    for folder, dirs, files in os.walk(root, onerror=unreadable):  # does not follow symlinked folders: no loops
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
    writer = _BatchWriter(store, options.batch_size, progress, on_progress)
    for found in files:
        progress.current = found.display
        _notify(on_progress, progress)
        opened = await _open_file(store, source, found, options, loaded.get(str(found.path)))
        if isinstance(opened, FileOutcome):
            writer.finished(opened, found.size)
            continue
        # Only the file's own faults skip it. Anything else (embedding service down, Ctrl-C) propagates and
        # keeps the stored batches, so the next load resumes there.
        try:
            await _queue_chunks(writer, opened, options)
        except FileSkipError as exc:
            writer.discard(opened)
            await store.delete_source_file(opened.record.id)
            writer.finished(FileOutcome(found.display, "skipped", reason=str(exc)), found.size)
    await writer.flush()
    progress.current = None
    _notify(on_progress, progress)
    order = {found.display: i for i, found in enumerate(files)}  # files finish out of order when batched
    failed = [Path(o.path) for o in outcomes]  # missing paths and unreadable folders: nothing pruned there
    outcomes += sorted(writer.outcomes, key=lambda o: order[o.path])
    if options.prune:
        outcomes += await _prune(store, source, paths, failed, options)
    return LoadReport(source, outcomes, progress.elapsed)


async def _prune(
    store: Store, source: Source, paths: Sequence[str | Path], failed: Sequence[Path], options: LoadOptions
) -> list[FileOutcome]:
    """Remove the source's files under ``paths`` that are gone or excluded; one outcome per file removed."""
    stored = await store.list_source_files(source.id)
    doomed = await asyncio.to_thread(_prunable, stored, paths, failed, options.exclude)
    removed: list[FileOutcome] = []
    for file in doomed:
        await store.delete_source_file(file.id)
        if file.state == "done":  # an abandoned partial version was never searchable: not news
            removed.append(FileOutcome(file.path, "removed", passages=file.passage_count))
    return removed


def _prunable(
    stored: Sequence[SourceFile], paths: Sequence[str | Path], failed: Sequence[Path], exclude: Sequence[str]
) -> list[SourceFile]:
    """The stored files under a readable given path that no longer exist or now match ``exclude``."""
    skip = [path.expanduser().resolve() for path in failed]
    roots = [root for given in paths if (root := Path(given).expanduser().resolve()).exists()]
    doomed = []
    for file in stored:
        path = Path(file.path)
        under = next((r for r in roots if path.is_relative_to(r)), None)  # a path is relative to itself
        if under is None or any(path.is_relative_to(s) for s in skip):
            continue
        relative = path.relative_to(under).as_posix() if path != under else path.name
        if not path.exists() or _matches(relative, exclude):
            doomed.append(file)
    return doomed


def _notify(callback: ProgressCallback | None, progress: LoadProgress) -> None:
    if callback is not None:
        callback(progress)


@dataclass(slots=True)
class _OpenFile:
    """A file version being loaded: its chunks go through the batch writer, then it is committed."""

    found: FoundFile
    record: SourceFile
    status: Status
    chunks: int = 0  # chunks produced so far
    parsed: bool = False  # every chunk was produced
    queued: int = 0  # batches of it waiting in the writer


async def _open_file(
    store: Store, source: Source, found: FoundFile, options: LoadOptions, previous_hash: str | None
) -> _OpenFile | FileOutcome:
    """Hash the file and open (or resume) its version in the store; an outcome if there is nothing to load."""
    try:
        size, digest = await asyncio.to_thread(_hash_file, found.path)
    except OSError as exc:
        return FileOutcome(found.display, "skipped", reason=f"cannot read it: {exc.strerror or exc}")
    if size == 0:
        return FileOutcome(found.display, "skipped", reason="empty file")
    cut = {"max_tokens": options.max_tokens, "overlap_tokens": options.overlap_tokens, "version": CHUNKING_VERSION}
    spec = SourceFile(source.id, str(found.path), digest, size, metadata={"chunking": cut})
    record = await store.begin_source_file(spec)
    if record.state == "done":
        return FileOutcome(found.display, "unchanged", record.passage_count)
    if record.metadata.get("chunking") != cut:  # cut differently: its stored chunks cannot be continued
        await store.delete_source_file(record.id)
        record = await store.begin_source_file(spec)
    status: Status = (
        "resumed" if record.passage_count else "replaced" if previous_hash not in (None, digest) else "loaded"
    )
    return _OpenFile(found, record, status)


async def _queue_chunks(writer: _BatchWriter, file: _OpenFile, options: LoadOptions) -> None:
    """Parse and chunk the file (in a worker thread), queueing the chunks an earlier load did not store."""
    opening = functools.partial(open_document, file.found.path, encoding=options.encoding)
    document = await asyncio.to_thread(_guarded, opening)
    chunks = chunk_segments(document.segments, max_tokens=options.max_tokens, overlap_tokens=options.overlap_tokens)
    while batch := await asyncio.to_thread(_guarded, functools.partial(_take, chunks, writer.room)):
        start = max(file.chunks, file.record.passage_count)
        fresh = batch[start - file.chunks :]
        file.chunks += len(batch)
        if fresh:
            passages = [_passage(chunk, file.found, document.title, start + i) for i, chunk in enumerate(fresh)]
            await writer.add(file, start, passages)
    if file.chunks == 0:
        hint = " (a scanned PDF? run OCR on it first)" if document.kind == "pdf" else ""
        raise FileSkipError(f"no text found{hint}")
    file.parsed = True
    await writer.commit_ready()


class _BatchWriter:
    """Stores chunks of one or several files in batches of ``batch_size`` (one embedding call each).

    Small files share a batch, so loading many of them still embeds in large batches. A file is
    committed once all its chunks were produced and stored.
    """

    def __init__(
        self, store: Store, batch_size: int, progress: LoadProgress, on_progress: ProgressCallback | None
    ) -> None:
        self.store = store
        self.batch_size = batch_size
        self.progress = progress
        self.on_progress = on_progress
        self.outcomes: list[FileOutcome] = []
        self._pending: list[tuple[_OpenFile, SourceChunks]] = []
        self._size = 0
        self._open: list[_OpenFile] = []

    @property
    def room(self) -> int:
        """How many chunks fit before the batch is full (at least one)."""
        return max(1, self.batch_size - self._size)

    async def add(self, file: _OpenFile, first_chunk: int, passages: list[Passage]) -> None:
        if file not in self._open:
            self._open.append(file)
        self._pending.append((file, SourceChunks(file.record.id, first_chunk, passages)))
        file.queued += 1
        self._size += len(passages)
        if self._size >= self.batch_size:
            await self.flush()

    def discard(self, file: _OpenFile) -> None:
        """Forget a failed file's queued chunks."""
        kept = [(f, c) for f, c in self._pending if f is not file]
        self._size = sum(len(c.passages) for _, c in kept)
        self._pending = kept
        if file in self._open:
            self._open.remove(file)

    async def flush(self) -> None:
        """Store the queued chunks, then commit every file that is complete."""
        if self._pending:
            batches = [chunks for _, chunks in self._pending]
            await self.store.add_source_chunks(batches)
            for file, _ in self._pending:
                file.queued -= 1
            self.progress.passages += self._size
            self._pending, self._size = [], 0
            _notify(self.on_progress, self.progress)
        await self.commit_ready()

    async def commit_ready(self) -> None:
        for file in [f for f in self._open if f.parsed and not f.queued]:
            self._open.remove(file)
            await self.store.commit_source_file(file.record.id)
            added = file.chunks - file.record.passage_count
            self.finished(FileOutcome(file.found.display, file.status, file.chunks, added=added), file.found.size)

    def finished(self, outcome: FileOutcome, size: int) -> None:
        self.outcomes.append(outcome)
        self.progress.files_done += 1
        self.progress.bytes_done += size
        _notify(self.on_progress, self.progress)


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
    if chunk.last_page is not None:
        metadata["last_page"] = chunk.last_page
    if chunk.last_section:
        metadata["last_section"] = chunk.last_section
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
