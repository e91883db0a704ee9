"""Real small files of every supported kind (and broken ones), written by the tests that use them."""

from __future__ import annotations

import gzip
import json
from pathlib import Path


def _pdf_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def write_pdf(path: Path, pages: list[str], *, title: str | None = None) -> Path:
    """A valid PDF with one text line per page (Helvetica), written as raw bytes with a correct xref table."""
    objects: list[bytes] = []
    page_ids = [3 + 2 * i for i in range(len(pages))]
    font_id = 3 + 2 * len(pages)
    info_id = font_id + 1
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    kids = " ".join(f"{i} 0 R" for i in page_ids)
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    for i, text in enumerate(pages):
        content_id = page_ids[i] + 1
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {content_id} 0 R"
            f" /Resources << /Font << /F1 {font_id} 0 R >> >> >>".encode()
        )
        stream = f"BT /F1 12 Tf 72 720 Td ({_pdf_escape(text)}) Tj ET".encode()
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    objects.append(f"<< /Title ({_pdf_escape(title or '')}) >>".encode())
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        info_id,
        xref,
    )
    path.write_bytes(bytes(out))
    return path


def write_encrypted_pdf(path: Path, source: Path, *, user_password: str) -> Path:
    """``source`` encrypted with RC4 (pypdf reads that without extra packages)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(source))
    writer.encrypt(user_password=user_password, owner_password="owner-secret", algorithm="RC4-128")
    with path.open("wb") as handle:
        writer.write(handle)
    return path


def write_docx(path: Path, *, title: str, sections: dict[str, str], table: list[list[str]] | None = None) -> Path:
    import docx

    document = docx.Document()
    document.core_properties.title = title
    for heading, text in sections.items():
        document.add_heading(heading, level=1)
        document.add_paragraph(text)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    document.save(str(path))
    return path


def write_every_kind(folder: Path) -> dict[str, tuple[str, str]]:
    """One file of every supported kind; returns {file name: (a query, a phrase its passage contains)}."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "notes.txt").write_text("The lighthouse keeper records the tide twice a day.\n", encoding="utf-8")
    (folder / "guide.md").write_text(
        "# Harbour guide\n\nWelcome.\n\n## Ferries\n\nThe ferry to Skellig leaves from pier nine at dawn.\n",
        encoding="utf-8",
    )
    (folder / "zoo.html").write_text(
        "<html><head><title>City zoo</title><style>p {color: red}</style></head><body>"
        "<h1>Animals</h1><p>The okapi is a forest giraffe from the Congo.</p>"
        "<script>var secret = 'never indexed';</script></body></html>",
        encoding="utf-8",
    )
    write_pdf(
        folder / "report.pdf",
        [  # full pages: short ones would be packed into one chunk
            "Annual report introduction. " + "The year in numbers and people. " * 20,
            "Revenue from glassblowing doubled in the northern region. " + "Kilns ran all year. " * 30,
        ],
        title="Annual report",
    )
    write_docx(
        folder / "handbook.docx",
        title="Staff handbook",
        sections={"Holidays": "Every employee receives thirty vacation days per year."},
        table=[["Team", "Floor"], ["Astronomy", "Seventh"]],
    )
    (folder / "recipes.json").write_text(
        json.dumps([{"dish": "borscht", "main_ingredient": "beetroot", "origin": "Ukraine"}]), encoding="utf-8"
    )
    (folder / "events.jsonl").write_text(
        json.dumps({"event": "eclipse viewing", "place": "observatory hill"})
        + "\n"
        + json.dumps({"event": "jazz night", "place": "harbour hall"})
        + "\n",
        encoding="utf-8",
    )
    (folder / "inventory.csv").write_text("item,count\nsextant,4\ntelescope,2\n", encoding="utf-8")
    with gzip.open(folder / "archive.txt.gz", "wt", encoding="utf-8") as handle:
        handle.write("The quarry of Carrara supplies white marble.\n")
    return {
        "notes.txt": ("who records the tide", "lighthouse keeper"),
        "guide.md": ("ferry to Skellig", "pier nine"),
        "zoo.html": ("okapi forest giraffe", "okapi"),
        "report.pdf": ("glassblowing revenue", "glassblowing doubled"),
        "handbook.docx": ("vacation days", "thirty vacation days"),
        "recipes.json": ("borscht beetroot", "beetroot"),
        "events.jsonl": ("eclipse viewing", "observatory hill"),
        "inventory.csv": ("sextant", "sextant"),
        "archive.txt.gz": ("Carrara marble", "white marble"),
    }


def write_broken_files(folder: Path) -> dict[str, str]:
    """Files that must be skipped; returns {file name: a word the skip reason contains}."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "empty.txt").write_bytes(b"")
    (folder / "blob.txt").write_bytes(bytes(range(256)) * 16)
    (folder / "latin1.txt").write_bytes("Caf\xe9 cr\xe8me br\xfbl\xe9e\n".encode("latin-1"))
    (folder / "minified.txt").write_text("word " * 50_000, encoding="utf-8")  # one 250,000-character line
    plain = write_pdf(folder / "plain.pdf", ["Secret launch codes."])
    write_encrypted_pdf(folder / "locked.pdf", plain, user_password="hunter2")
    plain.unlink()
    (folder / "corrupt.pdf").write_bytes(b"%PDF-1.4\nthis is not really a pdf\n")
    (folder / "corrupt.docx").write_bytes(b"PK\x03\x04 not a zip archive at all")
    (folder / "bad.json").write_text('{"a": 1,', encoding="utf-8")
    (folder / "bad.jsonl").write_text('{"ok": 1}\n{broken\n', encoding="utf-8")
    return {
        "empty.txt": "empty",
        "blob.txt": "binary",
        "latin1.txt": "utf-8",
        "minified.txt": "longer than",
        "locked.pdf": "password",
        "corrupt.pdf": "PDF",
        "corrupt.docx": "DOCX",
        "bad.json": "JSON",
        "bad.jsonl": "line 2",
    }
