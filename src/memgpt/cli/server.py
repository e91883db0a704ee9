"""``memgpt server``, ``memgpt users`` and ``memgpt keys``. Only click is imported at start-up."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

# Idle connections are kept longer than clients keep theirs (httpx: 5 s, aiohttp: 15 s), so a client is
# the one to close them: with uvicorn's 5 s, a pooled connection picked as the server closed it was reset
# (1 to 4 ReadErrors in 3 of 4 load runs of 200 clients, none in 3 runs with 75 s).
KEEP_ALIVE_S = 75

if TYPE_CHECKING:
    from memgpt.client import Client


@click.command()
@click.option(
    "--host", envvar="MEMGPT_SERVER_HOST", default="127.0.0.1", show_default=True, help="Address to listen on."
)
@click.option("--port", envvar="MEMGPT_SERVER_PORT", type=click.IntRange(1, 65535), default=8283, show_default=True)
@click.option("--workers", envvar="MEMGPT_SERVER_WORKERS", type=click.IntRange(1, 64), default=1, show_default=True)
@click.pass_context
def server(ctx: click.Context, host: str, port: int, workers: int) -> None:
    """Serve Letta's v1 API and OpenAI-compatible chat over HTTP (docs at /docs, schema at /openapi.json).

    Without API keys it serves the local user, on this machine only: listening on another address needs a
    key first (memgpt keys create --user NAME). SIGTERM lets running steps finish (or roll back whole).
    Several workers share one database: use PostgreSQL for more than one process.
    """
    import logging
    import os

    from memgpt.cli.main import EXIT_CONFIG, run_with_client
    from memgpt.server.auth import is_loopback

    async def has_keys(client: Client) -> bool:
        return await client.has_api_keys()

    if not is_loopback(host) and not run_with_client(ctx, has_keys, embedder=None):
        click.echo(
            f"error: refusing to listen on {host} with no API keys: anyone who can reach it would be the local "
            "user. Create a key first (memgpt users create NAME; memgpt keys create --user NAME), or listen on "
            "127.0.0.1.",
            err=True,
        )
        raise SystemExit(EXIT_CONFIG)
    if ctx.obj.get("database_url"):
        os.environ["MEMGPT_DATABASE_URL"] = ctx.obj["database_url"]  # read again by each worker
    import uvicorn

    from memgpt.config import ServerSettings

    settings = ServerSettings.from_environment()
    click.echo(f"memgpt server on http://{host}:{port} ({workers} worker(s)); Ctrl-C or SIGTERM stops it.", err=True)
    uvicorn.run(
        "memgpt.server.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        timeout_graceful_shutdown=int(settings.shutdown_timeout),
        timeout_keep_alive=KEEP_ALIVE_S,
        log_level=logging.getLevelName(logging.getLogger().level).lower(),  # MEMGPT_LOG_LEVEL
        access_log=False,  # request lines carry agent ids and queries, which belong to users
    )


# --------------------------------------------------------------------------- users
@click.group()
def users() -> None:
    """Users: each owns agents, sources and API keys of their own (the local user always exists)."""


@users.command("create")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def users_create(ctx: click.Context, name: str, as_json: bool) -> None:
    """Create user NAME."""
    from memgpt.cli.main import print_json, run_with_client

    async def work(client: Client) -> Any:
        return await client.create_user(name)

    user = run_with_client(ctx, work, embedder=None, json_errors=as_json)
    if as_json:
        print_json({"id": user.id, "name": user.name, "created_at": user.created_at.isoformat()})
    else:
        click.echo(f"Created user {user.name} ({user.id}). Give them a key: memgpt keys create --user {user.name}")


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def users_list(ctx: click.Context, as_json: bool) -> None:
    """List users."""
    from memgpt.cli.main import print_json, run_with_client

    async def work(client: Client) -> Any:
        return await client.list_users()

    found = run_with_client(ctx, work, embedder=None, json_errors=as_json)
    rows = [{"id": u.id, "name": u.name, "created_at": u.created_at.isoformat()} for u in found]
    if as_json:
        print_json(rows)
        return
    from memgpt.cli.output import simple_table

    simple_table(["name", "id", "created"], [[r["name"], r["id"], r["created_at"][:19]] for r in rows], "no users yet")


@users.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def users_delete(ctx: click.Context, name: str, yes: bool) -> None:
    """Delete user NAME with every agent, source and key of theirs (nobody else's)."""
    from memgpt.cli.main import run_with_client

    if not yes:
        click.confirm(f"Delete user {name} with all their agents, memories, sources and keys?", abort=True)

    async def work(client: Client) -> None:
        await client.delete_user(name)

    run_with_client(ctx, work, embedder=None)
    click.echo(f"Deleted user {name}.")


# --------------------------------------------------------------------------- keys
@click.group()
def keys() -> None:
    """API keys for memgpt server: shown once when made, stored only as a hash."""


@keys.command("create")
@click.option("--user", "user", required=True, help="The user the key acts as ('local' for the local user).")
@click.option("--name", default="", help="What the key is for (shown in lists).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def keys_create(ctx: click.Context, user: str, name: str, as_json: bool) -> None:
    """Create an API key; it is printed once and cannot be shown again."""
    from memgpt.cli.main import print_json, run_with_client

    async def work(client: Client) -> Any:
        return await client.create_api_key(user, name=name)

    made = run_with_client(ctx, work, embedder=None, json_errors=as_json)
    if as_json:
        print_json({"id": made.key.id, "user_id": made.key.user_id, "name": made.key.name, "key": made.secret})
        return
    click.echo(made.secret)
    click.echo(f"(key {made.key.id} of user {user}; this is the only time it is shown: store it now)", err=True)


@keys.command("list")
@click.option("--user", "user", default=None, help="Only this user's keys.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def keys_list(ctx: click.Context, user: str | None, as_json: bool) -> None:
    """List keys (their prefixes, never the keys)."""
    from memgpt.cli.main import print_json, run_with_client

    async def work(client: Client) -> Any:
        return await client.list_api_keys(user)

    found = run_with_client(ctx, work, embedder=None, json_errors=as_json)
    rows = [
        {
            "id": k.id,
            "prefix": k.prefix,
            "user": u.name,
            "name": k.name,
            "created_at": k.created_at.isoformat(),
            "last_used_at": k.last_used_at.isoformat() if k.last_used_at else None,
            "revoked": k.revoked_at is not None,
        }
        for u, k in found
    ]
    if as_json:
        print_json(rows)
        return
    from memgpt.cli.output import simple_table

    table = [
        [
            r["prefix"] + "…",
            r["user"],
            r["name"],
            (r["last_used_at"] or "never")[:19],
            "revoked" if r["revoked"] else "",
        ]
        for r in rows
    ]
    simple_table(["key", "user", "name", "last used", ""], table, "no keys yet")


@keys.command("revoke")
@click.argument("key")
@click.option("--user", "user", default=None, help="The key's user (when prefixes could clash).")
@click.pass_context
def keys_revoke(ctx: click.Context, key: str, user: str | None) -> None:
    """Revoke KEY (its id or its shown prefix): requests with it are refused from now on."""
    from memgpt.cli.main import run_with_client

    async def work(client: Client) -> Any:
        return await client.revoke_api_key(key.rstrip("…"), user=user)

    revoked = run_with_client(ctx, work, embedder=None)
    click.echo(f"Revoked key {revoked.prefix}… ({revoked.id}).")
