"""Every supported file kind parsed from a real file; every kind of bad file refused with a reason."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from memgpt.sources.parsers import FileSkipError, Segment, file_kind, open_document
from tests.sources.files import write_broken_files, write_docx, write_every_kind, write_pdf


def segments(path: Path, **options: str) -> tuple[str, list[Segment]]:
    document = open_document(path, **options)
    return document.title, list(document.segments)


def test_file_kinds_from_names() -> None:
    assert file_kind(Path("a/Report.PDF")) == "pdf"
    assert file_kind(Path("notes.txt.gz")) == "text"
    assert file_kind(Path("data.jsonl.gz")) == "jsonl"
    assert file_kind(Path("photo.png")) is None
    assert file_kind(Path("archive.pdf.gz")) is None
    assert file_kind(Path("README")) is None


def test_every_kind_yields_its_text_with_title_and_place(tmp_path: Path) -> None:
    write_every_kind(tmp_path)
    title, parts = segments(tmp_path / "guide.md")
    assert title == "Harbour guide"
    assert [p.section for p in parts] == ["Harbour guide", "Ferries"]
    assert "pier nine" in parts[1].text

    title, parts = segments(tmp_path / "zoo.html")
    assert title == "City zoo"
    text = "\n".join(p.text for p in parts)
    assert "okapi is a forest giraffe" in text and "secret" not in text and "color" not in text
    assert parts[-1].section == "Animals"

    title, parts = segments(tmp_path / "report.pdf")
    assert title == "Annual report"
    assert [(p.page, p.text.split(".")[0]) for p in parts] == [
        (1, "Annual report introduction"),
        (2, "Revenue from glassblowing doubled in the northern region"),
    ]

    title, parts = segments(tmp_path / "handbook.docx")
    assert title == "Staff handbook"
    assert parts[0].section == "Holidays" and "thirty vacation days" in parts[0].text
    assert "Astronomy | Seventh" in parts[-1].text

    _, parts = segments(tmp_path / "recipes.json")
    assert parts == [
        Segment("dish: borscht\nmain_ingredient: beetroot\norigin: Ukraine", section="item 1", record=True)
    ]
    _, parts = segments(tmp_path / "events.jsonl")
    assert [p.section for p in parts] == ["line 1", "line 2"]
    assert parts[1].text == "event: jazz night\nplace: harbour hall"
    _, parts = segments(tmp_path / "inventory.csv")
    assert parts == [Segment("item: sextant; count: 4\n\nitem: telescope; count: 2", section="rows 2-3", record=True)]
    title, parts = segments(tmp_path / "archive.txt.gz")
    assert title == "archive" and "white marble" in parts[0].text


def test_markdown_headings_inside_code_fences_are_not_sections(tmp_path: Path) -> None:
    path = tmp_path / "code.md"
    path.write_text("Intro text.\n\n```sh\n# not a heading\necho hi\n```\n\n# Real\n\nBody.\n", encoding="utf-8")
    title, parts = segments(path)
    assert title == "code"  # text came before the first heading
    assert [p.section for p in parts] == [None, "Real"]
    assert "# not a heading" in parts[0].text


def test_nested_json_is_flattened_to_dotted_keys(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text('{"title": "Setup", "server": {"port": 8080, "hosts": ["a", "b"]}, "users": [{"n": 1}]}')
    title, parts = segments(path)
    assert title == "Setup"
    assert [(p.section, p.text) for p in parts] == [
        ("title", "title: Setup"),
        ("server", "server.port: 8080\nserver.hosts: a, b"),
        ("users", "users[0].n: 1"),
    ]


def test_large_text_is_streamed_in_segments_cut_at_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    paragraph = "This sentence repeats to fill a long paragraph. " * 40
    path.write_text("\n\n".join(paragraph for _ in range(200)), encoding="utf-8")
    _, parts = segments(path)
    assert len(parts) > 3
    assert all(len(p.text) < 4 * 64_000 + len(paragraph) for p in parts)
    assert "".join(p.text for p in parts).count("This sentence") == 40 * 200


def test_html_tables_lists_and_deep_nesting(tmp_path: Path) -> None:
    path = tmp_path / "deep.html"
    nested = "<div>" * 3000 + "deep text" + "</div>" * 3000
    path.write_text(
        f"<body><h2>Data</h2><table><tr><th>k</th><th>v</th></tr><tr><td>alpha</td><td>1</td></tr></table>"
        f"<ul><li>first</li><li>second</li></ul>{nested}</body>"
    )
    _, parts = segments(path)
    text = parts[0].text
    assert parts[0].section == "Data"
    assert "alpha | 1" in text and "first\nsecond" in text and "deep text" in text


def test_pdf_with_empty_user_password_is_read(tmp_path: Path) -> None:
    from tests.sources.files import write_encrypted_pdf

    plain = write_pdf(tmp_path / "plain.pdf", ["Owner-restricted but readable."])
    locked = write_encrypted_pdf(tmp_path / "restricted.pdf", plain, user_password="")
    _, parts = segments(locked)
    assert parts[0].text.strip() == "Owner-restricted but readable."


def test_broken_files_are_refused_with_a_reason(tmp_path: Path) -> None:
    expected = write_broken_files(tmp_path)
    for name, word in expected.items():
        if name == "empty.txt":
            continue  # the loader skips empty files before parsing
        with pytest.raises(FileSkipError) as caught:
            document = open_document(tmp_path / name)
            list(document.segments)
        assert word.lower() in str(caught.value).lower(), (name, str(caught.value))


def test_wrong_encoding_reads_with_the_right_one(tmp_path: Path) -> None:
    write_broken_files(tmp_path)
    _, parts = segments(tmp_path / "latin1.txt", encoding="latin-1")
    assert parts[0].text == "Café crème brûlée"
    utf16 = tmp_path / "utf16.txt"
    utf16.write_text("Unicode with a byte order mark", encoding="utf-16")
    assert segments(utf16)[1][0].text == "Unicode with a byte order mark"


def test_a_missing_parser_package_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_docx(tmp_path / "a.docx", title="t", sections={"h": "text"})
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "docx" else real(name, *a))
    with pytest.raises(FileSkipError, match="pip install python-docx"):
        open_document(tmp_path / "a.docx")
