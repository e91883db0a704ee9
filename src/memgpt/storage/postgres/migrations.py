"""Connecting to PostgreSQL with clear errors, checking pgvector and applying versioned migrations.

Migrations live in ``migrations/postgres/NNNN_*.sql`` and are recorded in ``memgpt_migrations``. They run
in one transaction under an advisory lock, so concurrent processes migrate once and a failure leaves the
database as it was.
"""

from __future__ import annotations

from importlib import resources
from urllib.parse import urlsplit

import psycopg
from psycopg import errors as pg_errors

from memgpt.errors import ConfigError, StorageError

MIGRATION_LOCK_KEY = 0x6D656D677074  # "memgpt": one migrator at a time
MIN_PGVECTOR = (0, 5, 0)
CONNECT_TIMEOUT = 10


def describe(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "the configured PostgreSQL database"
    host = info.get("host") or "localhost"
    port = info.get("port") or "5432"
    where = host if str(host).startswith("/") else f"{host}:{port}"
    return f"database {info.get('dbname') or info.get('user') or '?'} on {where}"


def check_url(url: str) -> str:
    """Validate a ``postgresql://`` URL; returns it unchanged."""
    if not url.startswith(("postgresql://", "postgres://")):
        raise ConfigError(f"Not a PostgreSQL URL: {url.split('://')[0]!r}; use postgresql://user:password@host/db.")
    try:
        psycopg.conninfo.conninfo_to_dict(url)
        urlsplit(url).port  # noqa: B018 - raises ValueError on a bad port
    except (psycopg.ProgrammingError, ValueError) as exc:
        raise ConfigError(f"MEMGPT_DATABASE_URL is not a valid PostgreSQL URL: {exc}.") from None
    return url


def connection_error(exc: psycopg.Error, url: str) -> ConfigError:
    """One message saying what went wrong connecting and what to do about it."""
    text = str(exc).strip()
    where = describe(url)
    lowered = text.lower()
    if "password authentication failed" in lowered or "no password supplied" in lowered:
        advice = "The user name or password is wrong: fix them in MEMGPT_DATABASE_URL."
    elif "does not exist" in lowered and "database" in lowered:
        advice = "The database does not exist: create it (createdb NAME) or fix the name in MEMGPT_DATABASE_URL."
    elif "role" in lowered and "does not exist" in lowered:
        advice = "The user does not exist on that server: fix the user in MEMGPT_DATABASE_URL."
    elif "timeout" in lowered or "refused" in lowered or "no such file" in lowered or "could not" in lowered:
        advice = "Start the PostgreSQL server or fix the host and port in MEMGPT_DATABASE_URL."
    else:
        advice = "Check MEMGPT_DATABASE_URL and that the server accepts connections."
    first_line = text.splitlines()[0].strip().rstrip(".") if text else type(exc).__name__
    return ConfigError(f"Cannot connect to PostgreSQL ({where}): {first_line}. {advice}")


async def connect(url: str, *, autocommit: bool = True) -> psycopg.AsyncConnection[tuple[object, ...]]:
    """A new connection, or ConfigError explaining why there is none."""
    try:
        return await psycopg.AsyncConnection.connect(url, autocommit=autocommit, connect_timeout=CONNECT_TIMEOUT)
    except psycopg.OperationalError as exc:
        raise connection_error(exc, url) from None


def migration_scripts() -> list[tuple[int, str, str]]:
    """(version, name, SQL) of every shipped migration, in order."""
    folder = resources.files("memgpt.storage") / "migrations" / "postgres"
    scripts = [
        (int(entry.name.split("_", 1)[0]), entry.name, entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    ]
    return sorted(scripts)


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".") if part.isdigit())


async def check_pgvector(conn: psycopg.AsyncConnection[tuple[object, ...]], url: str) -> None:
    """ConfigError unless pgvector >= 0.5 is installed in the database, or installable by this user."""
    row = await (
        await conn.execute(
            "SELECT (SELECT extversion FROM pg_extension WHERE extname = 'vector'),"
            " (SELECT default_version FROM pg_available_extensions WHERE name = 'vector'),"
            " (SELECT rolsuper FROM pg_roles WHERE rolname = current_user),"
            " has_database_privilege(current_database(), 'CREATE')"
        )
    ).fetchone()
    assert row is not None
    installed, available, superuser, can_create = row
    where = describe(url)
    version = installed or available
    if version is None:
        raise ConfigError(
            f"The PostgreSQL server of {where} has no pgvector extension. Install pgvector >= 0.5 on the server "
            "(e.g. apt install postgresql-16-pgvector, or see github.com/pgvector/pgvector), then retry."
        )
    if _version_tuple(str(version)) < MIN_PGVECTOR:
        raise ConfigError(
            f"pgvector {version} in {where} is too old: memgpt needs >= 0.5 (HNSW indexes). "
            "Install a newer pgvector and run ALTER EXTENSION vector UPDATE as a superuser."
        )
    if installed is None and not (superuser and can_create):
        raise ConfigError(
            f"pgvector is available but not enabled in {where}, and this user may not enable it. "
            "Ask a superuser to run CREATE EXTENSION vector; in that database, then retry."
        )


async def schema_version(conn: psycopg.AsyncConnection[tuple[object, ...]]) -> int:
    """The highest applied migration, 0 for an empty database."""
    exists = await (await conn.execute("SELECT to_regclass('memgpt_migrations') IS NOT NULL")).fetchone()
    if not exists or not exists[0]:
        return 0
    row = await (await conn.execute("SELECT coalesce(max(version), 0) FROM memgpt_migrations")).fetchone()
    return int(row[0]) if row else 0  # type: ignore[call-overload]


def _too_new(current: int, latest: int, url: str) -> StorageError:
    return StorageError(
        f"The {describe(url)} has memgpt schema version {current}, newer than this memgpt knows ({latest}). "
        "Upgrade memgpt (pip install -U memgpt) to open it; nothing was changed."
    )


async def migrate(conn: psycopg.AsyncConnection[tuple[object, ...]], url: str) -> tuple[int, int]:
    """Apply pending migrations atomically; returns (version before, version after)."""
    scripts = migration_scripts()
    latest = scripts[-1][0]
    current = await schema_version(conn)
    if current > latest:
        raise _too_new(current, latest, url)
    if current == latest:
        return current, current
    await check_pgvector(conn, url)
    try:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS memgpt_migrations (version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            before = await schema_version(conn)  # another process may have migrated meanwhile
            if before > latest:
                raise _too_new(before, latest, url)
            for version, name, script in scripts:
                if version > before:
                    await conn.execute(script.encode())
                    await conn.execute("INSERT INTO memgpt_migrations (version, name) VALUES (%s, %s)", (version, name))
    except pg_errors.InsufficientPrivilege as exc:
        raise ConfigError(
            f"Cannot create memgpt's tables in {describe(url)}: {exc}. Grant this user CREATE on the database "
            "(or its schema), or run `memgpt db migrate` once as its owner; nothing was changed."
        ) from None
    except psycopg.Error as exc:
        raise StorageError(f"Migrating {describe(url)} failed, nothing was changed: {exc}") from exc
    return current, latest
