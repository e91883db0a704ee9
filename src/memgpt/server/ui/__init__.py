"""The web UI's files, served by ``memgpt server`` at ``/`` (the page) and ``/ui/`` (its scripts and styles).

Everything is in the package (``static/``): no CDN, no build step, no Node.js. The page talks to the same
API as any client, with the user's key if the server has keys. Its Content-Security-Policy allows nothing
but this server, so a page that tried to reach another address would be stopped by the browser.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from functools import cache
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC = Path(__file__).parent / "static"
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",  # revalidated (ETag) on every load: an upgraded memgpt serves its new files at once
}


@cache
def _page() -> tuple[str, str]:
    """The page and its Content-Security-Policy (the inline import map is allowed by its hash)."""
    text = (STATIC / "index.html").read_text(encoding="utf-8")
    inline = re.findall(r"<script type=\"importmap\">(.*?)</script>", text, re.DOTALL)
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in inline)
    policy = (
        f"default-src 'none'; script-src 'self' {hashes}; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return text, policy


class _Assets(StaticFiles):
    def file_response(
        self, full_path: str | os.PathLike[str], stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers.update(SECURITY_HEADERS)
        return response


def mount_ui(app: FastAPI) -> None:
    """Serve the page at ``/`` and its assets under ``/ui/``."""

    @app.get("/", include_in_schema=False)
    async def index() -> HTMLResponse:
        text, policy = _page()
        return HTMLResponse(text, headers=SECURITY_HEADERS | {"Content-Security-Policy": policy})

    app.mount("/ui", _Assets(directory=STATIC), name="ui")
