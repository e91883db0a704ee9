"""File kind -> text, as a stream of segments (pages, sections, record groups) that chunks never cross.

Parsers are well-kept libraries, imported only when a file of their kind is read: ``pypdf`` (pure
Python) for PDF, ``python-docx`` for DOCX, ``selectolax`` for HTML, the standard library for JSON,
JSONL and CSV. For HTML, selectolax (MIT, one wheel, no dependencies, the Lexbor HTML5 engine in C)
was chosen over beautifulsoup4 (pure Python, ~10x slower on large pages, needs soupsieve) and
html2text (GPL-3, would taint this Apache-2.0 package; and it renders Markdown, not plain text).

Text-like files are read line by line (bounded memory for large files; a line longer than
``MAX_LINE_CHARS`` is refused). Anything that cannot be read raises :class:`FileSkipError` with a
reason a user can act on; it may be raised mid-stream, so callers must discard what they stored.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO, cast

from memgpt.errors import ValidationError

MAX_LINE_CHARS = 200_000
SEGMENT_CHARS = 64_000  # text is handed to the chunker in pieces of about this size, cut at blank lines
RECORD_GROUP_CHARS = 1_200  # CSV rows are grouped into segments of about one chunk
SNIFF_BYTES = 8192

TEXT_SUFFIXES = {".txt": "text", ".text": "text", ".log": "text", ".rst": "text"}
KINDS: dict[str, str] = {
    **TEXT_SUFFIXES,
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".pdf": "pdf",
    ".docx": "docx",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".tsv": "csv",
}
GZIP_KINDS = frozenset({"text", "markdown", "json", "jsonl", "csv"})
PACKAGES = {"pdf": ("pypdf", "pypdf"), "docx": ("docx", "python-docx"), "html": ("selectolax", "selectolax")}


class FileSkipError(ValidationError):
    """A file that cannot be loaded; the message says why (and, where possible, what to do)."""


@dataclass(frozen=True, slots=True)
class Segment:
    """A piece of a document: a page or a section, or one record of a data file.

    Chunks do not span a segment boundary, except that short pages or sections are packed together
    (see :func:`memgpt.sources.chunking.chunk_segments`). Records (JSON items, JSONL lines, CSV row
    groups) are never packed: one record, one passage.
    """

    text: str
    page: int | None = None
    section: str | None = None
    record: bool = False


@dataclass(slots=True)
class Document:
    """A file opened for reading: its kind, title and a lazy stream of segments."""

    kind: str
    title: str
    segments: Iterator[Segment]


def file_kind(path: Path) -> str | None:
    """The kind of a file from its name (``report.pdf`` -> ``pdf``, ``notes.txt.gz`` -> ``text``), or None."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        kind = KINDS.get(suffixes[-2]) if len(suffixes) > 1 else None
        return kind if kind in GZIP_KINDS else None
    return KINDS.get(suffixes[-1]) if suffixes else None


def _title_from_name(path: Path) -> str:
    name = path.name
    for suffix in reversed(path.suffixes):
        name = name.removesuffix(suffix)
    return name or path.name


def open_document(path: Path, *, kind: str | None = None, encoding: str = "utf-8") -> Document:
    """Open ``path`` for reading as ``kind`` (default: from its name; unknown names are read as text)."""
    kind = kind or file_kind(path) or "text"
    package = PACKAGES.get(kind)
    if package is not None:
        _require(*package, kind)
    reader = _READERS[kind]
    return reader(path, encoding)


def _require(module: str, package: str, kind: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise FileSkipError(f"reading {kind.upper()} files needs the {package} package: pip install {package}")


# ----------------------------------------------------------------------------- text-like files
def encoding_hint(encoding: str) -> str:
    """What to do about a file that is not valid ``encoding``: name its encoding, unless one was named already."""
    try:
        default = codecs.lookup(encoding).name == "utf-8"
    except LookupError:
        default = False
    if default:
        return "convert it to UTF-8 or give its encoding (e.g. --encoding latin-1)"
    return f"check that {encoding} is its encoding (--encoding), or convert it to UTF-8"


def _open_text(path: Path, encoding: str) -> IO[str]:
    """A text stream; binary content and undecodable bytes are refused with a reason."""
    gz = path.suffix.lower() == ".gz"
    raw = cast(BinaryIO, gzip.open(path, "rb")) if gz else path.open("rb")  # noqa: SIM115
    try:
        head = raw.read(SNIFF_BYTES)
    except (OSError, EOFError) as exc:
        raw.close()
        raise FileSkipError(f"cannot read it: {exc}") from None
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    elif head.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    elif b"\x00" in head:
        raw.close()
        raise FileSkipError("binary content (NUL bytes), not text")
    raw.seek(0)
    return io.TextIOWrapper(raw, encoding=encoding, errors="strict", newline=None)


def _lines(path: Path, encoding: str) -> Iterator[tuple[int, str]]:
    """Numbered lines without their newline; refuses huge lines and undecodable bytes."""
    with _open_text(path, encoding) as stream:
        number = 0
        while True:
            try:
                line = stream.readline(MAX_LINE_CHARS + 1)
            except UnicodeDecodeError as exc:
                raise FileSkipError(
                    f"not valid {encoding} near line {number + 1} (byte 0x{exc.object[exc.start]:02x}); "
                    f"{encoding_hint(encoding)}"
                ) from None
            except (OSError, EOFError) as exc:
                raise FileSkipError(f"cannot read it: {exc}") from None
            if not line:
                return
            number += 1
            if len(line) > MAX_LINE_CHARS and not line.endswith("\n"):
                raise FileSkipError(
                    f"line {number} is longer than {MAX_LINE_CHARS:,} characters "
                    "(minified or encoded data, not prose); split it into lines first"
                )
            yield number, line.rstrip("\r\n")


def _read_text(path: Path, encoding: str) -> Document:
    return Document("text", _title_from_name(path), _text_segments(_lines(path, encoding)))


def _text_segments(lines: Iterator[tuple[int, str]], section: str | None = None) -> Iterator[Segment]:
    """Lines grouped into segments of about SEGMENT_CHARS, cut at blank lines where possible."""
    buffer: list[str] = []
    size = 0
    for _, line in lines:
        buffer.append(line)
        size += len(line) + 1
        if (size >= SEGMENT_CHARS and not line.strip()) or size >= 4 * SEGMENT_CHARS:
            yield Segment("\n".join(buffer), section=section)
            buffer, size = [], 0
    if any(line.strip() for line in buffer):
        yield Segment("\n".join(buffer), section=section)


_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


def _read_markdown(path: Path, encoding: str) -> Document:
    lines = _lines(path, encoding)
    first: list[tuple[int, str]] = []
    title = _title_from_name(path)
    for number, line in lines:  # the title is the first level-1 heading, if it comes before any text
        first.append((number, line))
        match = _HEADING.match(line)
        if match and len(match.group(1)) == 1:
            title = match.group(2)
            break
        if line.strip() and not match:
            break
    return Document("markdown", title, _markdown_segments(iter(first), lines))


def _markdown_segments(*parts: Iterator[tuple[int, str]]) -> Iterator[Segment]:
    """One run of segments per heading section (headings inside code fences do not count)."""
    section: str | None = None
    buffer: list[tuple[int, str]] = []
    fenced = False
    for part in parts:
        for number, line in part:
            if _FENCE.match(line):
                fenced = not fenced
            match = None if fenced else _HEADING.match(line)
            if match:
                yield from _text_segments(iter(buffer), section)
                section, buffer = match.group(2), []
            buffer.append((number, line))
            if len(buffer) > 10_000:  # a long section: hand it over in pieces
                yield from _text_segments(iter(buffer), section)
                buffer = []
    yield from _text_segments(iter(buffer), section)


# ----------------------------------------------------------------------------- records
def _read_json(path: Path, encoding: str) -> Document:
    with _open_text(path, encoding) as stream:
        try:
            value = json.load(stream)
        except UnicodeDecodeError:
            raise FileSkipError(f"not valid {encoding}; {encoding_hint(encoding)}") from None
        except ValueError as exc:
            raise FileSkipError(f"not valid JSON: {exc}") from None
    title = value.get("title") if isinstance(value, dict) else None
    return Document(
        "json", title if isinstance(title, str) and title else _title_from_name(path), _json_segments(value)
    )


def _json_segments(value: Any) -> Iterator[Segment]:
    if isinstance(value, list):
        for i, item in enumerate(value):
            text = render_record(item)
            if text.strip():
                yield Segment(text, section=f"item {i + 1}", record=True)
    elif isinstance(value, dict):
        for key, item in value.items():
            text = render_record(item, str(key))
            if text.strip():
                yield Segment(text, section=str(key), record=True)
    elif str(value).strip():
        yield Segment(str(value))


def render_record(value: Any, prefix: str = "") -> str:
    """A JSON value as readable ``key: value`` lines (nested keys dotted), so it chunks and searches as text."""
    lines: list[str] = []
    _render(value, prefix, lines)
    return "\n".join(lines)


def _render(value: Any, prefix: str, lines: list[str]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _render(item, f"{prefix}.{key}" if prefix else str(key), lines)
    elif isinstance(value, list) and any(isinstance(v, dict | list) for v in value):
        for i, item in enumerate(value):
            _render(item, f"{prefix}[{i}]", lines)
    elif isinstance(value, list):
        joined = ", ".join(str(v) for v in value if v is not None)
        if joined:
            lines.append(f"{prefix}: {joined}" if prefix else joined)
    elif value is not None and str(value) != "":
        lines.append(f"{prefix}: {value}" if prefix else str(value))


def _read_jsonl(path: Path, encoding: str) -> Document:
    return Document("jsonl", _title_from_name(path), _jsonl_segments(_lines(path, encoding)))


def _jsonl_segments(lines: Iterator[tuple[int, str]]) -> Iterator[Segment]:
    for number, line in lines:
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as exc:
            raise FileSkipError(f"line {number} is not valid JSON: {exc}") from None
        text = render_record(value)
        if text.strip():
            yield Segment(text, section=f"line {number}", record=True)


def _read_csv(path: Path, encoding: str) -> Document:
    return Document("csv", _title_from_name(path), _csv_segments(path, encoding))


def _csv_segments(path: Path, encoding: str) -> Iterator[Segment]:
    lines = _lines(path, encoding)
    first = next(lines, None)
    if first is None:
        return
    delimiter = "\t" if ".tsv" in [s.lower() for s in path.suffixes] else _sniff_delimiter(first[1])
    texts = (line for _, line in _chain([first], lines))
    reader = csv.reader(texts, delimiter=delimiter)
    try:
        header = [h.strip() for h in next(reader)]
        group: list[str] = []
        start = size = 0
        for row_number, row in enumerate(reader, start=2):
            cells = [
                f"{header[i] if i < len(header) and header[i] else f'column {i + 1}'}: {c.strip()}"
                for i, c in enumerate(row)
                if c.strip()
            ]
            if not cells:
                continue
            start = start or row_number
            group.append("; ".join(cells))
            size += len(group[-1])
            if size >= RECORD_GROUP_CHARS:
                yield Segment("\n\n".join(group), section=_rows(start, row_number), record=True)
                group, start, size = [], 0, 0
        if group:
            yield Segment("\n\n".join(group), section=_rows(start, row_number), record=True)
    except csv.Error as exc:
        raise FileSkipError(f"not valid CSV: {exc}") from None


def _rows(first: int, last: int) -> str:
    return f"row {first}" if first == last else f"rows {first}-{last}"


def _sniff_delimiter(header: str) -> str:
    try:
        return csv.Sniffer().sniff(header, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _chain(first: list[tuple[int, str]], rest: Iterator[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    yield from first
    yield from rest


# ----------------------------------------------------------------------------- HTML
_SKIPPED_TAGS = ["script", "style", "noscript", "template", "svg", "iframe", "head", "nav", "footer"]
_BLOCK_TAGS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "dd",
        "details",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "thead",
        "tfoot",
        "tr",
        "ul",
    ]
)
_LINE_TAGS = frozenset({"br", "tr", "li", "dt", "dd"})  # end a line, not a paragraph
_CELL_TAGS = frozenset({"td", "th"})
_HEADING_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([\w-]+)""", re.IGNORECASE)


def _read_html(path: Path, encoding: str) -> Document:
    from selectolax.lexbor import LexborHTMLParser

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FileSkipError(f"cannot read it: {exc.strerror or exc}") from None
    if b"\x00" in data[:SNIFF_BYTES]:
        raise FileSkipError("binary content (NUL bytes), not HTML")
    declared = _CHARSET.search(data[:4096])
    charset = declared.group(1).decode("ascii") if declared else encoding
    try:
        html = data.decode(charset)
    except (UnicodeDecodeError, LookupError):
        raise FileSkipError(f"not valid {charset}; {encoding_hint(charset)}") from None
    tree = LexborHTMLParser(html)
    title_node = tree.css_first("title")
    title = " ".join(title_node.text().split()) if title_node is not None else ""
    tree.strip_tags(_SKIPPED_TAGS)
    root = tree.body or tree.root
    segments = list(_html_segments(root)) if root is not None else []
    return Document("html", title or _title_from_name(path), iter(segments))


def _html_segments(root: Any) -> Iterator[Segment]:
    """Walk the DOM (iteratively: deep pages must not hit the recursion limit), one segment per heading."""
    section: str | None = None
    parts: list[str] = []
    stack: list[tuple[Any, int | None]] = [(root, None)]  # (node, None) enters it; (node, start) leaves it
    while stack:
        node, start = stack.pop()
        tag = node.tag
        if start is not None:
            if tag in _HEADING_TAGS:
                heading = " ".join("".join(parts[start:]).split())
                previous = "".join(parts[:start])
                if previous.strip():
                    yield Segment(_tidy(previous), section=section)
                section, parts = heading or section, [heading, "\n\n"]
            elif tag in _BLOCK_TAGS:
                parts.append("\n" if tag in _LINE_TAGS else "\n\n")
            elif tag in _CELL_TAGS:
                parts.append(" | ")
            continue
        if tag == "-text":
            parts.append(node.text_content or "")
            continue
        if tag in _BLOCK_TAGS and tag not in _LINE_TAGS:
            parts.append("\n")
        stack.append((node, len(parts)))
        stack.extend((child, None) for child in reversed(list(node.iter(include_text=True))))
    if "".join(parts).strip():
        yield Segment(_tidy("".join(parts)), section=section)


def _tidy(text: str) -> str:
    """Collapse runs of spaces within lines and of blank lines between them."""
    lines = [" ".join(line.split()).removesuffix(" |") for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# ----------------------------------------------------------------------------- PDF and DOCX
def _read_pdf(path: Path, encoding: str) -> Document:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, PyPdfError

    try:
        reader = PdfReader(path)
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")  # many PDFs only restrict editing, with an empty user password
            except DependencyError:
                raise FileSkipError(
                    "encrypted PDF; opening it needs the cryptography package: pip install cryptography"
                ) from None
            if not opened:
                raise FileSkipError("encrypted PDF that needs a password; decrypt it first (e.g. qpdf --decrypt)")
        title = reader.metadata.title if reader.metadata is not None else None
        pages = len(reader.pages)
    except FileSkipError:
        raise
    except (PyPdfError, OSError, ValueError, KeyError) as exc:
        raise FileSkipError(f"not a readable PDF: {exc}") from None
    return Document("pdf", str(title).strip() if title else _title_from_name(path), _pdf_pages(reader, pages))


def _pdf_pages(reader: Any, pages: int) -> Iterator[Segment]:
    from pypdf.errors import PyPdfError

    for number in range(pages):
        try:
            text = reader.pages[number].extract_text() or ""
        except (PyPdfError, ValueError, KeyError, TypeError) as exc:
            raise FileSkipError(f"page {number + 1} cannot be read: {exc}") from None
        if text.strip():
            yield Segment(text, page=number + 1)


def _read_docx(path: Path, encoding: str) -> Document:
    import zipfile

    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        reason = "encrypted or not a DOCX file" if isinstance(exc, PackageNotFoundError | zipfile.BadZipFile) else exc
        raise FileSkipError(f"not a readable DOCX: {reason}") from None
    title = (document.core_properties.title or "").strip()
    return Document("docx", title or _title_from_name(path), _docx_segments(document))


def _docx_segments(document: Any) -> Iterator[Segment]:
    from docx.table import Table

    section: str | None = None
    parts: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            for row in block.rows:
                cells = [" ".join(cell.text.split()) for cell in row.cells]
                parts.append(" | ".join(dict.fromkeys(c for c in cells if c)))  # merged cells repeat
            parts.append("")
            continue
        text = block.text.strip()
        style = (block.style.name if block.style is not None else "") or ""
        if text and (style.startswith("Heading") or style == "Title"):
            if any(p.strip() for p in parts):
                yield Segment("\n".join(parts).strip(), section=section)
            section, parts = text, [text, ""]
        elif text:
            parts += [text, ""]
    if any(p.strip() for p in parts):
        yield Segment("\n".join(parts).strip(), section=section)


_READERS: dict[str, Callable[[Path, str], Document]] = {
    "text": _read_text,
    "markdown": _read_markdown,
    "html": _read_html,
    "pdf": _read_pdf,
    "docx": _read_docx,
    "json": _read_json,
    "jsonl": _read_jsonl,
    "csv": _read_csv,
}
