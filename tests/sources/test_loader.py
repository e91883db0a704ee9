"""Loading files into sources with a real SQLite store: search finds them, reloads are idempotent, loads resume."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from memgpt.client import Client
from memgpt.embeddings.base import Embedder
from memgpt.sources.chunking import chunk_segments
from memgpt.sources.loader import LoadOptions, LoadProgress
from memgpt.sources.parsers import open_document
from memgpt.tools.base import _passage_line
from tests.sources.files import write_broken_files, write_every_kind, write_pdf
from tests.storage.old_schema import old_schema


@pytest.fixture
async def client(tmp_path: Path) -> Any:
    opened = await Client.open(f"sqlite:///{tmp_path / 'docs.db'}", embedder=None)
    await opened.create_agent("sam", model="openai/gpt-4o-mini")
    yield opened
    await opened.close()


def rows(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


def write_folder(folder: Path, files: dict[str, str]) -> Path:
    """``folder`` with the given files (relative path -> text), parents made as needed."""
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    return folder


async def test_every_kind_is_found_by_search_with_its_source(tmp_path: Path, embedder: Embedder) -> None:
    expected = write_every_kind(tmp_path / "docs")
    broken = write_broken_files(tmp_path / "docs" / "broken")
    client = await Client.open(f"sqlite:///{tmp_path / 'docs.db'}", embedder=embedder)
    try:
        await client.create_agent("sam", model="openai/gpt-4o-mini")
        report = await client.load([tmp_path / "docs"], agent="sam")
        statuses = {Path(f.path).name: (f.status, f.reason) for f in report.files}
        assert {n for n, (s, _) in statuses.items() if s == "loaded"} == set(expected)
        for name, word in broken.items():
            status, reason = statuses[name]
            assert status == "skipped" and reason is not None and word.lower() in reason.lower(), (name, reason)
        for name, (query, phrase) in expected.items():
            page = await client.search("sam", query, archival=True, page_size=3)
            hit = next((h for h in page.hits if h.metadata["source"].endswith(name)), None)
            assert hit is not None and phrase.lower() in hit.text.lower(), (name, [h.text for h in page.hits])
            assert hit.metadata["source"] == str(tmp_path / "docs" / name)
        pdf = (await client.search("sam", "glassblowing revenue", archival=True)).hits[0]
        assert (pdf.metadata["title"], pdf.metadata["page"], pdf.metadata["chunk"]) == ("Annual report", 2, 1)
        files = await client.list_source_files("docs")
        assert sorted(Path(f.path).name for f in files) == sorted(expected)  # nothing kept of failed files
        assert all(f.state == "done" for f in files)
        source = await client.get_source("docs")
        assert source.passage_count == report.passages_added == sum(f.passage_count for f in files)
        assert (await client.agent_info("sam"))["archival_passages"] == source.passage_count
    finally:
        await client.close()


async def test_loading_again_adds_nothing_and_a_changed_file_replaces_its_passages(
    client: Client, tmp_path: Path
) -> None:
    folder = write_folder(
        tmp_path / "notes", {"a.txt": "The walrus sleeps on the ice floe.", "b.md": "# B\n\nThe heron fishes at dawn."}
    )
    first = await client.load([folder], agent="sam")
    assert [f.status for f in first.files] == ["loaded", "loaded"]
    again = await client.load([folder], agent="sam")
    assert [f.status for f in again.files] == ["unchanged", "unchanged"] and again.passages_added == 0
    (folder / "a.txt").write_text("The narwhal dives under the ice.", encoding="utf-8")
    changed = await client.load([folder], agent="sam")
    assert [(Path(f.path).name, f.status) for f in changed.files] == [("a.txt", "replaced"), ("b.md", "unchanged")]
    assert (await client.search("sam", "walrus", archival=True, mode="text")).hits == []
    assert "narwhal" in (await client.search("sam", "narwhal", archival=True, mode="text")).hits[0].text
    assert (await client.get_source("notes")).passage_count == 2


async def test_prune_removes_files_gone_from_the_folder_and_only_those(client: Client, tmp_path: Path) -> None:
    folder = write_folder(
        tmp_path / "notes",
        {
            "a.txt": "The walrus sleeps on the ice floe.",
            "sub/b.txt": "The heron fishes at dawn.",
            "c.txt": "The otter cracks clams on its belly.",
        },
    )
    elsewhere = write_folder(tmp_path / "other", {"d.txt": "The badger digs at dusk."})
    await client.load([folder, elsewhere], agent="sam", source="zoo")
    (folder / "sub" / "b.txt").unlink()
    kept = await client.load([folder], agent="sam", source="zoo")  # without --prune: nothing removed
    assert kept.count("removed") == 0 and (await client.get_source("zoo")).file_count == 4

    pruned = await client.load([folder], agent="sam", source="zoo", options=LoadOptions(exclude=["c.txt"], prune=True))
    assert sorted((Path(f.path).name, f.status, f.passages) for f in pruned.files if f.status == "removed") == [
        ("b.txt", "removed", 1),  # deleted from disk
        ("c.txt", "removed", 1),  # now excluded
    ]
    assert (await client.search("sam", "heron", archival=True, mode="text")).hits == []
    assert (await client.search("sam", "otter", archival=True, mode="text")).hits == []
    assert {Path(f.path).name for f in await client.list_source_files("zoo")} == {"a.txt", "d.txt"}  # d: elsewhere
    assert (await client.get_source("zoo")).passage_count == 2


async def test_prune_never_empties_a_source_for_a_missing_folder_or_drops_files_named_by_hand(
    client: Client, tmp_path: Path
) -> None:
    folder = write_folder(
        tmp_path / "notes", {"a.txt": "The walrus sleeps on the ice floe.", ".hidden.md": "The heron fishes at dawn."}
    )
    await client.load([folder, folder / ".hidden.md"], agent="sam", source="notes")  # the hidden one by name
    assert (await client.get_source("notes")).file_count == 2

    same = await client.load([folder], agent="sam", source="notes", options=LoadOptions(prune=True))
    assert same.count("removed") == 0  # the walk skips hidden files, but this one is still there

    folder.rename(tmp_path / "unmounted")
    gone = await client.load([folder], agent="sam", source="notes", options=LoadOptions(prune=True))
    assert [(f.status, f.reason) for f in gone.files] == [("skipped", "no such file or folder")]
    assert (await client.get_source("notes")).file_count == 2  # a typo or an unmounted drive removes nothing


async def test_short_slides_become_one_passage_citing_the_page_range(client: Client, tmp_path: Path) -> None:
    write_pdf(tmp_path / "deck.pdf", [f"Slide {i}: the kiln schedule, part {i}." for i in range(1, 4)], title="Deck")
    report = await client.load([tmp_path / "deck.pdf"], agent="sam")
    assert report.passages_added == 1
    hit = (await client.search("sam", "kiln schedule", archival=True, mode="text")).hits[0]
    assert (hit.metadata["page"], hit.metadata["last_page"]) == (1, 3)
    assert "Slide 3" in hit.text
    assert "deck.pdf, page 1-3, chunk 0" in _passage_line(hit.id, hit.text, hit.metadata)


async def test_globs_hidden_files_and_missing_paths(client: Client, tmp_path: Path) -> None:
    folder = tmp_path / "tree"
    (folder / "keep").mkdir(parents=True)
    (folder / ".git").mkdir()
    (folder / "keep" / "a.md").write_text("alpha", encoding="utf-8")
    (folder / "keep" / "b.txt").write_text("bravo", encoding="utf-8")
    (folder / "draft.md").write_text("charlie", encoding="utf-8")
    (folder / ".git" / "c.txt").write_text("delta", encoding="utf-8")
    (folder / "image.png").write_bytes(b"\x89PNG")
    (tmp_path / "README").write_text("echo", encoding="utf-8")
    options = LoadOptions(include=["*.md", "*.txt"], exclude=["draft*"])
    report = await client.load([folder, tmp_path / "README", tmp_path / "nope.txt"], agent="sam", options=options)
    assert sorted((Path(f.path).name, f.status) for f in report.files) == [
        ("README", "loaded"),  # named explicitly: loaded whatever its name
        ("a.md", "loaded"),
        ("b.txt", "loaded"),
        ("nope.txt", "skipped"),
    ]
    assert report.skipped[0].reason == "no such file or folder"
    defaults = await client.load([folder], source="everything")
    assert sorted((Path(f.path).name, f.status) for f in defaults.files) == [
        ("a.md", "loaded"),
        ("b.txt", "loaded"),
        ("draft.md", "loaded"),
        ("image.png", "skipped"),  # not a kind memgpt reads: listed with the reason, never left out silently
    ]
    assert "--include '*.png'" in (defaults.skipped[0].reason or "")


async def test_a_source_is_stored_once_for_several_agents(client: Client, tmp_path: Path) -> None:
    folder = tmp_path / "manual"
    write_every_kind(folder)
    await client.create_agent("ada", model="openai/gpt-4o-mini")
    first = await client.load([folder], agent="sam")
    second = await client.load([folder], agent="ada")
    assert second.source.id == first.source.id
    assert {f.status for f in second.files} == {"unchanged"}
    db = tmp_path / "docs.db"
    assert rows(db, "SELECT count(*) FROM source_passages")[0][0] == first.passages_added
    for agent in ("sam", "ada"):
        assert (await client.search(agent, "okapi", archival=True, mode="text")).total == 1
        assert [s.name for s in await client.list_agent_sources(agent)] == ["manual"]
    await client.detach_source("ada", "manual")
    assert (await client.search("ada", "okapi", archival=True, mode="text")).hits == []
    assert (await client.search("sam", "okapi", archival=True, mode="text")).total == 1
    await client.delete_source("manual")
    assert rows(db, "SELECT count(*) FROM source_passages")[0][0] == 0


def big_text(path: Path, paragraphs: int) -> Path:
    body = "\n\n".join(
        f"Paragraph {i} describes harbour {i % 13} and its {i % 5} lighthouses in some detail. "
        f"The keeper of harbour {i % 13} counts {i} ships."
        for i in range(paragraphs)
    )
    path.write_text(body, encoding="utf-8")
    return path


def expected_chunks(path: Path, options: LoadOptions) -> list[str]:
    document = open_document(path)
    return [
        c.text
        for c in chunk_segments(document.segments, max_tokens=options.max_tokens, overlap_tokens=options.overlap_tokens)
    ]


class Interrupted(Exception):
    pass


async def test_an_interrupted_load_resumes_without_duplicates(client: Client, tmp_path: Path) -> None:
    path = big_text(tmp_path / "harbours.txt", 400)
    options = LoadOptions(max_tokens=60, overlap_tokens=10, batch_size=16)

    def stop_after_three_batches(progress: LoadProgress) -> None:
        if progress.passages >= 48:
            raise Interrupted

    with pytest.raises(Interrupted):
        await client.load([path], agent="sam", options=options, on_progress=stop_after_three_batches)
    assert (await client.search("sam", "harbour", archival=True, mode="text")).hits == []  # nothing published
    [partial] = await client.list_source_files("harbours.txt")
    assert (partial.state, partial.passage_count) == ("loading", 48)
    report = await client.load([path], agent="sam", options=options)
    expected = expected_chunks(path, options)
    assert [(f.status, f.passages, f.added) for f in report.files] == [("resumed", len(expected), len(expected) - 48)]
    stored = rows(tmp_path / "docs.db", "SELECT chunk_index, text, committed FROM source_passages ORDER BY chunk_index")
    assert [r[0] for r in stored] == list(range(len(expected)))
    assert [r[1] for r in stored] == expected and {r[2] for r in stored} == {1}


async def test_a_file_failing_midway_leaves_nothing_and_keeps_its_previous_version(
    client: Client, tmp_path: Path
) -> None:
    path = tmp_path / "log.txt"
    path.write_text("First version mentions the albatross.\n", encoding="utf-8")
    await client.load([path], agent="sam")
    good = "".join(f"Line {i} of the second version mentions the cormorant.\n\n" for i in range(3000))
    path.write_bytes(good.encode() + b"\xff\xfe broken tail\n")
    report = await client.load([path], agent="sam", options=LoadOptions(max_tokens=40, overlap_tokens=0, batch_size=8))
    [outcome] = report.files
    assert outcome.status == "skipped" and outcome.reason is not None and "utf-8" in outcome.reason
    files = await client.list_source_files("log.txt")
    assert [(f.state, f.passage_count) for f in files] == [("done", 1)]
    assert rows(tmp_path / "docs.db", "SELECT count(*) FROM source_passages")[0][0] == 1
    assert "albatross" in (await client.search("sam", "albatross", archival=True, mode="text")).hits[0].text


@pytest.mark.slow
async def test_memory_does_not_grow_with_the_file(client: Client, tmp_path: Path) -> None:
    peaks = []
    for paragraphs in (15_000, 60_000):  # about 1.8 MB and 7 MB
        path = big_text(tmp_path / f"large-{paragraphs}.txt", paragraphs)
        tracemalloc.start()
        try:
            report = await client.load([path], agent="sam")
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        assert report.files[0].status == "loaded" and report.passages_added > 1000
    assert peaks[1] < 1.25 * peaks[0], f"Python memory peaks {peaks} grew with the file size"
    assert peaks[1] < path.stat().st_size / 3


@pytest.mark.slow
def test_a_killed_load_resumes_without_duplicates(tmp_path: Path, memgpt_home: Path) -> None:
    path = big_text(tmp_path / "huge.txt", 40_000)
    db = memgpt_home / "memgpt.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEMGPT_", "OPENAI_", "ANTHROPIC_"))}
    env.update(MEMGPT_HOME=str(memgpt_home), MEMGPT_EMBEDDING="none")
    command = [sys.executable, "-m", "memgpt.cli.main", "load", str(path), "--source", "huge", "--json"]
    command += ["--chunk-tokens", "50", "--overlap-tokens", "10"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    stored = 0
    while time.monotonic() < deadline and process.poll() is None:
        if db.exists():
            try:
                found = rows(db, "SELECT passage_count FROM source_files WHERE state = 'loading'")
            except sqlite3.OperationalError:  # not migrated yet
                found = []
            stored = found[0][0] if found else 0
            if stored >= 256:
                break
        time.sleep(0.02)
    assert process.poll() is None, "the load finished before it could be killed; make the file larger"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    assert stored >= 256
    resumed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    import json

    [outcome] = json.loads(resumed.stdout)["files"]
    options = LoadOptions(max_tokens=50, overlap_tokens=10)
    expected = expected_chunks(path, options)
    assert outcome["status"] == "resumed" and outcome["passages"] == len(expected)
    assert 0 < outcome["added"] <= len(expected) - 256
    indexes = rows(db, "SELECT chunk_index, text FROM source_passages ORDER BY chunk_index")
    assert [i for i, _ in indexes] == list(range(len(expected)))
    assert [t for _, t in indexes] == expected
    assert rows(db, "SELECT state FROM source_files") == [("done",)]


async def test_a_database_of_schema_version_2_migrates_without_loss(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:  # what version 2 wrote, with its column names
        old_schema(conn, 2)
        conn.execute(
            "INSERT INTO agents (id, user_id, name, model, context_window, system_prompt_version, blocks_json,"
            " fifo_json, settings_json, created_at, updated_at) VALUES ('agent-00000000-0000-4000-8000-000000000001',"
            " 'user-local', 'sam', 'openai/gpt-4o-mini', 8000, 'v1', '[]', '[]', '{}', 1.0, 1.0)"
        )
        conn.execute(
            "INSERT INTO passages (id, agent_id, text, created_at) VALUES"
            " ('passage-1', 'agent-00000000-0000-4000-8000-000000000001', 'An old note about the kestrel.', 1.0)"
        )
    client = await Client.open(f"sqlite:///{path}", embedder=None)
    try:
        assert "kestrel" in (await client.search("sam", "kestrel", archival=True)).hits[0].text
        note = tmp_path / "new.txt"
        note.write_text("A new document about the osprey.", encoding="utf-8")
        await client.load([note], agent="sam")
        assert (await client.agent_info("sam"))["archival_passages"] == 2
    finally:
        await client.close()
    assert rows(path, "PRAGMA user_version")[0][0] >= 3
