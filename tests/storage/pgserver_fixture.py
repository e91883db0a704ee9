"""A real PostgreSQL with pgvector for the tests: ``$MEMGPT_TEST_POSTGRES_URL``, or a throwaway server.

The throwaway server comes from the ``pgserver`` package (PostgreSQL 16 + pgvector, a dev dependency),
runs in a temporary directory and listens on a Unix socket only. Each test gets a fresh database.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

import pytest

ENV_URL = "MEMGPT_TEST_POSTGRES_URL"
ENV_REQUIRE = "MEMGPT_REQUIRE_POSTGRES"


class PostgresUnavailable(Exception):
    """No test server could be found or started."""


def with_database(url: str, dbname: str) -> str:
    """``url`` pointing at database ``dbname`` instead."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{dbname}", parts.query, parts.fragment))


def start_pgserver() -> tuple[str, Callable[[], None]]:
    """Start a throwaway server; returns its URL and a function that stops it and deletes its files."""
    os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.mkdtemp(prefix="memgpt-xdg-"))
    try:
        import pgserver
    except ImportError as exc:
        raise PostgresUnavailable(f"the pgserver package is not installed ({exc}); pip install -e '.[dev]'") from exc
    pgdata = tempfile.mkdtemp(prefix="memgpt-pg-")
    try:
        server = pgserver.get_server(pgdata, cleanup_mode="delete")
    except Exception as exc:  # pgserver raises assorted errors (CalledProcessError, OSError, AssertionError)
        raise PostgresUnavailable(f"pgserver could not start PostgreSQL in {pgdata}: {exc}") from exc
    return server.get_uri(), server.cleanup


def create_database(admin_url: str) -> str:
    """A new empty database on the server of ``admin_url``; returns its URL."""
    import psycopg

    name = f"memgpt_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return with_database(admin_url, name)


def drop_database(admin_url: str, url: str) -> None:
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def check_server(url: str) -> None:
    """PostgresUnavailable unless ``url`` accepts connections and offers pgvector."""
    import psycopg

    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
            row = conn.execute("SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'").fetchone()
    except psycopg.Error as exc:
        raise PostgresUnavailable(f"cannot connect to {ENV_URL}: {exc}") from exc
    if not row or not row[0]:
        raise PostgresUnavailable(f"the server of {ENV_URL} has no pgvector extension")


def unavailable(reason: str) -> None:
    """Skip the test, or fail it when ``$MEMGPT_REQUIRE_POSTGRES=1`` (CI)."""
    message = f"PostgreSQL tests need a server: {reason}"
    if os.environ.get(ENV_REQUIRE) == "1":
        pytest.fail(f"{message} ({ENV_REQUIRE}=1 forbids skipping)", pytrace=False)
    pytest.skip(message)


class ServerHandle:
    """The session's server: found (or started) on first use, stopped at the end of the session."""

    def __init__(self) -> None:
        self.url: str | None = None
        self.error: str | None = None
        self._stop: Callable[[], None] | None = None

    def admin_url(self) -> str:
        if self.url is None and self.error is None:
            try:
                given = os.environ.get(ENV_URL)
                if given:
                    check_server(given)
                    self.url = given
                else:
                    self.url, self._stop = start_pgserver()
            except PostgresUnavailable as exc:
                self.error = str(exc)
        if self.url is None:
            unavailable(self.error or "unknown reason")
        assert self.url is not None
        return self.url

    def stop(self) -> None:
        if self._stop is not None:
            self._stop()
            self._stop = None
