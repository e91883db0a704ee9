"""``memgpt load`` and ``memgpt sources``: documents into archival memory. Only click is imported at start-up."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from rich.console import Console

    from memgpt.client import Client
    from memgpt.memory.protocols import Source, SourceFile
    from memgpt.sources.loader import LoadProgress, LoadReport


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--agent", "agent_name", help="Attach the source to this agent.")
@click.option("--source", "source_name", help="Source to load into (created if missing; default: first path's name).")
@click.option("--include", multiple=True, metavar="GLOB", help="Only files matching (default: known kinds).")
@click.option("--exclude", multiple=True, metavar="GLOB", help="Skip files matching (repeatable).")
@click.option("--encoding", default="utf-8", show_default=True, help="Encoding of text files without a BOM.")
@click.option("--chunk-tokens", type=click.IntRange(50, 2000), default=300, show_default=True)
@click.option("--overlap-tokens", type=click.IntRange(0, 1000), default=50, show_default=True)
@click.option(
    "--prune", is_flag=True, help="Remove from the source the files under PATHS that are no longer there (or excluded)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON instead of a progress bar and tables.")
@click.pass_context
def load(
    ctx: click.Context,
    paths: tuple[Path, ...],
    agent_name: str | None,
    source_name: str | None,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    encoding: str,
    chunk_tokens: int,
    overlap_tokens: int,
    prune: bool,
    as_json: bool,
) -> None:
    """Load files and folders (text, Markdown, HTML, PDF, DOCX, JSON, JSONL, CSV) into archival memory.

    Files go into a source, stored once and searchable by every agent it is attached to. Loading again
    skips unchanged files, replaces changed ones and resumes an interrupted load. Missing paths and
    files that cannot be read, or are of a kind memgpt does not read, are listed with a reason; the
    exit code is 1 if nothing could be loaded (and a new source is then not kept). With --prune the
    source mirrors PATHS: its files under them that this load did not find are removed.
    """
    if agent_name is None and source_name is None:
        raise click.UsageError("Give --agent NAME (the agent that will search the documents) or --source NAME.")
    if overlap_tokens > chunk_tokens // 2:
        raise click.BadParameter("must be at most half of --chunk-tokens", param_hint="--overlap-tokens")
    import codecs

    try:
        codecs.lookup(encoding)
    except LookupError:
        raise click.BadParameter(f"unknown encoding {encoding!r} (e.g. utf-8, latin-1, cp1252)") from None
    from memgpt.cli.main import run_with_client
    from memgpt.sources.loader import LoadOptions

    options = LoadOptions(
        include=include,
        exclude=exclude,
        max_tokens=chunk_tokens,
        overlap_tokens=overlap_tokens,
        encoding=encoding,
        prune=prune,
    )

    async def work(client: Client) -> LoadReport:
        if as_json:
            return await client.load(list(paths), agent=agent_name, source=source_name, options=options)
        with _ProgressBar() as bar:
            return await client.load(
                list(paths), agent=agent_name, source=source_name, options=options, on_progress=bar.update
            )

    report = run_with_client(ctx, work, json_errors=as_json)
    if as_json:
        from memgpt.cli.main import print_json

        print_json(report_json(report, agent_name))
    else:
        _print_report(report, agent_name)
    if not any(f.status != "skipped" for f in report.files):
        if not as_json:
            click.echo(f"error: nothing could be loaded from {', '.join(map(str, paths))}.", err=True)
        sys.exit(1)


def report_json(report: LoadReport, agent: str | None) -> dict[str, Any]:
    """The load report as JSON (what ``memgpt load --json`` prints)."""
    return {
        "source": _source_json(report.source),
        "agent": agent,
        "seconds": round(report.seconds, 3),
        "passages_added": report.passages_added,
        "files": [
            {"path": f.path, "status": f.status, "passages": f.passages, "added": f.added, "reason": f.reason}
            for f in report.files
        ],
    }


class _ProgressBar:
    """A rich progress bar on stderr: files done, passages stored and passages per second."""

    def __enter__(self) -> _ProgressBar:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("files · {task.fields[passages]:,} passages · {task.fields[rate]:.1f}/s"),
            TimeElapsedColumn(),
            TextColumn("{task.fields[current]}", style="dim"),
            console=_console(stderr=True),
            transient=False,
        )
        self._progress.start()
        self._task = self._progress.add_task("loading", total=None, passages=0, rate=0.0, current="")
        return self

    def update(self, progress: LoadProgress) -> None:
        current = progress.current or ""
        self._progress.update(
            self._task,
            total=progress.files_total,
            completed=progress.files_done,
            passages=progress.passages,
            rate=progress.passages_per_second,
            current=current if len(current) <= 50 else "…" + current[-49:],
        )

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()


def _console(*, stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(highlight=False, stderr=stderr)


def _print_report(report: LoadReport, agent: str | None) -> None:
    from rich.table import Column, Table

    console = _console()
    counts = ", ".join(
        f"{report.count(status)} {status}"
        for status in ("loaded", "replaced", "resumed", "unchanged", "skipped", "removed")
        if report.count(status)
    )
    rate = report.passages_added / report.seconds if report.seconds > 0 else 0.0
    console.print(
        f"Source [bold]{report.source.name}[/bold]: {counts or 'no files found'}; "
        f"{report.passages_added:,} passages added in {report.seconds:.1f} s ({rate:.1f}/s); "
        f"{report.source.passage_count:,} passages in {report.source.file_count:,} files in total."
    )
    if agent:
        console.print(f"Attached to agent [bold]{agent}[/bold]: it finds them with archival_memory_search.")
    if report.skipped:
        title = f"{len(report.skipped)} file(s) skipped"
        table = Table(Column("skipped file", overflow="fold"), "reason", title=title, title_justify="left")
        for outcome in report.skipped:
            table.add_row(outcome.path, outcome.reason or "")
        console.print(table)
    removed = [f for f in report.files if f.status == "removed"]
    if removed:
        title = f"{len(removed)} file(s) no longer there"
        table = Table(Column("removed file", overflow="fold"), "passages", title=title, title_justify="left")
        for outcome in removed:
            table.add_row(outcome.path, f"{outcome.passages:,}")
        console.print(table)


# --------------------------------------------------------------------------- sources
@click.group()
def sources() -> None:
    """List, show, attach, detach and delete document sources."""


@sources.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def sources_list(ctx: click.Context, as_json: bool) -> None:
    """List your sources with their sizes."""
    from memgpt.cli.main import print_json, run_with_client

    async def work(client: Client) -> list[dict[str, Any]]:
        return [_source_json(s) for s in await client.list_sources()]

    infos = run_with_client(ctx, work, embedder=None)
    if as_json:
        print_json(infos)
        return
    if not infos:
        _console().print("No sources yet. Load documents with `memgpt load PATH --agent NAME`.")
        return
    from rich.table import Table

    table = Table("name", "files", "passages", "created", "description")
    for info in infos:
        table.add_row(
            info["name"],
            f"{info['file_count']:,}",
            f"{info['passage_count']:,}",
            info["created_at"][:16].replace("T", " "),
            info["description"],
        )
    _console().print(table)


@sources.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def sources_show(ctx: click.Context, name: str, as_json: bool) -> None:
    """Show a source: its files (with passages and state) and the agents it is attached to."""
    from memgpt.cli.main import print_json, run_with_client

    async def work(client: Client) -> dict[str, Any]:
        source = await client.get_source(name)
        files = await client.list_source_files(source.id)
        attached = []
        for agent in await client.list_agents():
            if any(s.id == source.id for s in await client.list_agent_sources(agent.id)):
                attached.append(agent.name)
        return {**_source_json(source), "agents": attached, "files": [_file_json(f) for f in files]}

    info = run_with_client(ctx, work, embedder=None)
    if as_json:
        print_json(info)
        return
    from rich.table import Column, Table

    console = _console()
    console.print(
        f"[bold]{info['name']}[/bold] ({info['id']}): {info['file_count']:,} files, {info['passage_count']:,} passages;"
        f" attached to {', '.join(info['agents']) or 'no agent'}."
    )
    table = Table(Column("path", overflow="fold"), "passages", "state", "size", "updated")
    for file in info["files"]:
        state = "loaded" if file["state"] == "done" else "interrupted (resumes on the next load)"
        updated = file["updated_at"][:16].replace("T", " ")
        table.add_row(file["path"], f"{file['passages']:,}", state, f"{file['size']:,} B", updated)
    console.print(table)


@sources.command("attach")
@click.argument("name")
@click.option("--agent", "agent_name", required=True, help="Agent that will search the source.")
@click.pass_context
def sources_attach(ctx: click.Context, name: str, agent_name: str) -> None:
    """Attach source NAME to an agent: its passages join the agent's archival memory."""
    from memgpt.cli.main import run_with_client

    source = run_with_client(ctx, lambda client: client.attach_source(agent_name, name), embedder=None)
    click.echo(f"Attached {source.name} ({source.passage_count:,} passages) to {agent_name}.")


@sources.command("detach")
@click.argument("name")
@click.option("--agent", "agent_name", required=True, help="Agent that should stop searching the source.")
@click.pass_context
def sources_detach(ctx: click.Context, name: str, agent_name: str) -> None:
    """Detach source NAME from an agent (the source itself is kept)."""
    from memgpt.cli.main import run_with_client

    run_with_client(ctx, lambda client: client.detach_source(agent_name, name), embedder=None)
    click.echo(f"Detached {name} from {agent_name}.")


@sources.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def sources_delete(ctx: click.Context, name: str, yes: bool) -> None:
    """Delete source NAME with all its passages, for every agent."""
    from memgpt.cli.main import run_with_client

    if not yes and not click.confirm(f"Delete source {name} and all its passages?", default=False):
        click.echo("Nothing deleted.")
        return
    run_with_client(ctx, lambda client: client.delete_source(name), embedder=None)
    click.echo(f"Deleted source {name}.")


def _source_json(source: Source) -> dict[str, Any]:
    return {
        "id": source.id,
        "name": source.name,
        "description": source.description,
        "file_count": source.file_count,
        "passage_count": source.passage_count,
        "created_at": source.created_at.isoformat(),
    }


def _file_json(file: SourceFile) -> dict[str, Any]:
    return {
        "path": file.path,
        "state": file.state,
        "passages": file.passage_count,
        "size": file.size,
        "content_hash": file.content_hash,
        "updated_at": file.updated_at.isoformat(),
    }
