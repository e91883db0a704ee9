"""The web UI's files: served with a policy that allows only this server, all shipped as package data,
the vendored libraries exactly as published."""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import re
import tomllib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from memgpt.config import ServerSettings
from memgpt.server.app import create_app
from memgpt.server.ui import STATIC

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def http(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    monkeypatch.setenv("MEMGPT_EMBEDDING", "none")
    return TestClient(create_app(ServerSettings(database_url=f"sqlite:///{tmp_path / 'ui.db'}")))


def test_the_page_and_every_asset_it_names_are_served_from_this_server(http: TestClient) -> None:
    page = http.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy and "frame-ancestors 'none'" in policy
    [import_map] = re.findall(r'<script type="importmap">(.*?)</script>', page.text, re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(import_map.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in policy  # the only inline script, allowed by its hash
    named = re.findall(r'(?:src|href)="([^"]+)"', page.text) + re.findall(r'"(\./ui/[^"]+)"', import_map)
    assert not [url for url in named if "//" in url]  # no other host, not even a protocol-relative one
    for url in {u for u in named if u.startswith("./ui/")}:
        answer = http.get(url[1:])
        assert answer.status_code == 200, url
        wanted = "text/css" if url.endswith(".css") else "javascript"
        assert wanted in answer.headers["content-type"] and answer.headers["x-content-type-options"] == "nosniff"
    preloaded = set(re.findall(r'<link rel="modulepreload" href="\./ui/([^"]+)">', page.text)) | {"js/app.js"}
    assert preloaded == {p.relative_to(STATIC).as_posix() for p in STATIC.rglob("*.js")}  # one round trip for all
    for module in (STATIC / "js").glob("*.js"):
        imports = re.findall(r'^import .* from "([^"]+)";', module.read_text(), re.MULTILINE)
        assert all(name.startswith("./") or name in ("preact", "preact/hooks", "htm") for name in imports), module


def test_every_file_of_the_ui_is_package_data() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["memgpt"]
    package = ROOT / "src" / "memgpt"
    files = [p.relative_to(package).as_posix() for p in STATIC.rglob("*") if p.is_file()]
    assert files and all(any(fnmatch.fnmatchcase(f, pattern) for pattern in patterns) for f in files), files


def test_the_vendored_libraries_are_the_published_files() -> None:
    table = (STATIC / "vendor" / "README.md").read_text()
    listed = dict(re.findall(r"^\| `([^`]+)` \|.*\| `([0-9a-f]{64})` \|$", table, re.MULTILINE))
    shipped = {p.name for p in (STATIC / "vendor").glob("*.js")}
    assert set(listed) == shipped
    for name, digest in listed.items():
        assert hashlib.sha256((STATIC / "vendor" / name).read_bytes()).hexdigest() == digest, name
