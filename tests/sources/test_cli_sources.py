"""`memgpt load` and `memgpt sources` as real processes on a real SQLite file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.sources.files import write_broken_files, write_every_kind


def memgpt(*args: str, env: dict[str, str], code: int = 0) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "memgpt.cli.main", *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == code, f"memgpt {' '.join(args)} exited {result.returncode}:\n{result.stderr}"
    return result


@pytest.fixture
def env(memgpt_home: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MEMGPT_", "OPENAI_", "ANTHROPIC_"))}
    return {**clean, "MEMGPT_HOME": str(memgpt_home), "MEMGPT_EMBEDDING": "none", "COLUMNS": "200"}


def test_load_reports_progress_skips_and_sources_can_be_managed(env: dict[str, str], tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    expected = write_every_kind(docs)
    (docs / "locked").mkdir()
    broken = write_broken_files(docs / "locked")
    for name in ("sam", "ada"):
        memgpt("agents", "create", name, "--model", "openai/gpt-4o-mini", env=env)

    shown = memgpt("load", str(docs), "--agent", "sam", env=env)
    assert f"Source docs: {len(expected)} loaded, {len(broken)} skipped" in " ".join(shown.stdout.split())
    assert "needs a password" in shown.stdout and "locked.pdf" in shown.stdout
    assert "files" in shown.stderr and "passages" in shown.stderr  # the progress bar

    again = json.loads(memgpt("load", str(docs), "--agent", "sam", "--json", env=env).stdout)
    assert again["passages_added"] == 0
    assert {f["status"] for f in again["files"] if f["reason"] is None} == {"unchanged"}

    hits = json.loads(memgpt("search", "--agent", "sam", "--archival", "--json", "glassblowing", env=env).stdout)
    assert hits["hits"][0]["source"] == str(docs / "report.pdf") and hits["hits"][0]["metadata"]["page"] == 2

    listed = json.loads(memgpt("sources", "list", "--json", env=env).stdout)
    assert [(s["name"], s["file_count"]) for s in listed] == [("docs", len(expected))]
    info = json.loads(memgpt("sources", "show", "docs", "--json", env=env).stdout)
    assert info["agents"] == ["sam"] and {f["state"] for f in info["files"]} == {"done"}

    memgpt("sources", "attach", "docs", "--agent", "ada", env=env)
    assert json.loads(memgpt("sources", "show", "docs", "--json", env=env).stdout)["agents"] == ["sam", "ada"]
    memgpt("sources", "detach", "docs", "--agent", "ada", env=env)
    failed = memgpt("sources", "detach", "docs", "--agent", "ada", env=env, code=1)
    assert "not attached" in failed.stderr and "Traceback" not in failed.stderr
    memgpt("sources", "delete", "docs", "--yes", env=env)
    assert json.loads(memgpt("sources", "list", "--json", env=env).stdout) == []
    gone = json.loads(memgpt("search", "--agent", "sam", "--archival", "--json", "glassblowing", env=env).stdout)
    assert gone["hits"] == []


def test_load_exit_codes(env: dict[str, str], tmp_path: Path) -> None:
    write_broken_files(tmp_path / "bad")
    memgpt("agents", "create", "sam", "--model", "openai/gpt-4o-mini", env=env)
    usage = memgpt("load", str(tmp_path / "bad"), env=env, code=2)
    assert "--agent" in usage.stderr
    report = json.loads(memgpt("load", str(tmp_path / "bad"), "--agent", "sam", "--json", env=env, code=1).stdout)
    assert {f["status"] for f in report["files"]} == {"skipped"}
    missing = memgpt("load", str(tmp_path / "bad"), "--agent", "nobody", env=env, code=1)
    assert "No agent named 'nobody'" in missing.stderr


def test_load_prune_mirrors_the_folder(env: dict[str, str], tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "a.txt").write_text("The walrus sleeps on the ice floe.", encoding="utf-8")
    (folder / "b.txt").write_text("The heron fishes at dawn.", encoding="utf-8")
    memgpt("agents", "create", "sam", "--model", "openai/gpt-4o-mini", env=env)
    memgpt("load", str(folder), "--agent", "sam", env=env)
    (folder / "b.txt").unlink()
    shown = memgpt("load", str(folder), "--agent", "sam", "--prune", env=env)
    assert "Source notes: 1 unchanged, 1 removed" in " ".join(shown.stdout.split())
    assert "no longer there" in shown.stdout and str(folder / "b.txt") in shown.stdout
    (folder / "a.txt").unlink()
    emptied = json.loads(memgpt("load", str(folder), "--agent", "sam", "--prune", "--json", env=env).stdout)
    assert [(Path(f["path"]).name, f["status"], f["passages"]) for f in emptied["files"]] == [("a.txt", "removed", 1)]
    assert emptied["source"]["passage_count"] == 0  # removing everything is not a failure: exit code 0
