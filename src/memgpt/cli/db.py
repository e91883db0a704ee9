"""``memgpt db``: migrate, copy between backends, re-embed. Only click is imported at start-up."""

from __future__ import annotations

import click


@click.group()
def db() -> None:
    """Database maintenance: migrate, copy between SQLite and PostgreSQL, re-embed."""


@db.command("migrate")
@click.pass_context
def db_migrate(ctx: click.Context) -> None:
    """Create or upgrade the schema of the configured database (safe to run again)."""
    from memgpt.cli.main import run

    before, after = run(_migrate(ctx.obj["database_url"]))
    if before == after:
        click.echo(f"The database is up to date (schema version {after}).")
    else:
        click.echo(f"Migrated the database from schema version {before} to {after}.")


async def _migrate(url: str | None) -> tuple[int, int]:
    from memgpt.storage import open_store

    store = await open_store(url, embedder=None)
    try:
        return store.migrated
    finally:
        await store.close()


@db.command("copy")
@click.option("--from", "source", required=True, help="Source database URL (sqlite:///path or postgresql://...).")
@click.option("--to", "target", required=True, help="Destination database URL (created and migrated if needed).")
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace agents and sources the destination already holds (of the same name, or changed since copied).",
)
@click.option("--batch-size", type=click.IntRange(1, 100_000), default=2000, show_default=True)
def db_copy(source: str, target: str, overwrite: bool, batch_size: int) -> None:
    """Copy every agent and source with its memory and embeddings from one store to another.

    Interrupted copies resume when the same command runs again, and a finished one brings over what the
    source gained since; every row id is verified at the end.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from memgpt.cli.main import run
    from memgpt.storage.copy import copy_store

    with Progress(
        TextColumn("copying"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), transient=True
    ) as progress:
        task = progress.add_task("copy", total=None)
        report = run(
            copy_store(
                source,
                target,
                overwrite=overwrite,
                batch_size=batch_size,
                on_start=lambda total: progress.update(task, total=total),
                on_progress=lambda n: progress.advance(task, n),
            )
        )
    if report.rows == 0 and report.resumed == report.agents + report.sources and not report.replaced:
        click.echo(
            f"Nothing new to copy: the destination already holds every row of the source ({report.agents} agent(s), "
            f"{report.sources} source(s)). Counts verified."
        )
        return
    replaced = f" (replaced {', '.join(report.replaced)})" if report.replaced else ""
    resumed = f", {report.resumed} resumed" if report.resumed else ""
    repaired = f" Repaired {report.repaired} unstorable text value(s) (now U+FFFD)." if report.repaired else ""
    sources = f", {report.sources} source(s) with {report.source_passages:,} passages" if report.sources else ""
    click.echo(
        f"Copied {report.agents} agent(s){resumed}, {report.messages:,} messages and {report.passages:,} passages"
        f"{sources} in {report.seconds:.1f} s ({report.rows_per_second:,.0f} rows/s){replaced}. Counts verified."
        f"{repaired}"
    )


@db.command("reembed")
@click.pass_context
def db_reembed(ctx: click.Context) -> None:
    """Re-embed every message and passage with the configured embedding model (MEMGPT_EMBEDDING)."""
    from memgpt.cli.main import run
    from memgpt.cli.maintenance import reembed

    total = run(reembed(ctx.obj["database_url"]))
    click.echo(f"Re-embedded {total:,} rows.")
