"""The ``memgpt`` command. Imports stay lazy so ``memgpt --help`` starts fast."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from memgpt.client import Client

T = TypeVar("T")

EXIT_ERROR = 1
EXIT_CONFIG = 2


def run_with_client(ctx: click.Context, work: Callable[[Client], Awaitable[T]], *, embedder: Any = "default") -> T:
    """Open a Client on the configured store, run ``work`` and close it; errors become one clear line."""

    async def main() -> T:
        from memgpt.client import Client

        client = await Client.open(ctx.obj["database_url"], embedder=embedder)
        try:
            return await work(client)
        finally:
            await client.close()

    return run(main())


def run(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` with memgpt's errors turned into a message and an exit code, never a traceback."""
    from memgpt.errors import ConfigError, MemgptError

    try:
        return asyncio.run(coro)
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    except MemgptError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)


def read_text_option(value: str | None) -> str | None:
    """``@FILE`` reads the file; anything else is the text itself."""
    if value is None or not value.startswith("@"):
        return value
    path = Path(value[1:]).expanduser()
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise click.BadParameter(f"cannot read {path}: {exc.strerror}") from None


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, default=str))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--database-url",
    envvar="MEMGPT_DATABASE_URL",
    default=None,
    help="Database URL (default: SQLite in $MEMGPT_HOME).",
)
@click.version_option(package_name="memgpt", prog_name="memgpt")
@click.pass_context
def cli(ctx: click.Context, database_url: str | None) -> None:
    """memgpt: an LLM agent with OS-style memory (core memory, recall store, archival store)."""
    ctx.obj = {"database_url": database_url}


# --------------------------------------------------------------------------- agents
@cli.group()
def agents() -> None:
    """Create, list, show and delete agents."""


@agents.command("create")
@click.argument("name")
@click.option("--persona", help="Persona text, or @FILE.")
@click.option("--human", help="What the agent knows about the user, or @FILE.")
@click.option("--model", envvar="MEMGPT_MODEL", help="e.g. openai/gpt-4o-mini (default: $MEMGPT_MODEL).")
@click.option("--context-window", type=click.IntRange(min=1000), help="Override the model's context window (tokens).")
@click.option("--json", "as_json", is_flag=True, help="Print the agent as JSON.")
@click.pass_context
def agents_create(
    ctx: click.Context,
    name: str,
    persona: str | None,
    human: str | None,
    model: str | None,
    context_window: int | None,
    as_json: bool,
) -> None:
    """Create an agent named NAME."""
    persona, human = read_text_option(persona), read_text_option(human)

    async def work(client: Client) -> dict[str, Any]:
        await client.create_agent(name, model=model, persona=persona, human=human, context_window=context_window)
        return await client.agent_info(name)

    info = run_with_client(ctx, work, embedder=None)
    if as_json:
        print_json(info)
    else:
        click.echo(f"Created agent {info['name']} ({info['model']}, {info['context_window']:,} tokens).")


@agents.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def agents_list(ctx: click.Context, as_json: bool) -> None:
    """List your agents."""

    async def work(client: Client) -> list[dict[str, Any]]:
        return [await client.agent_info(a.id) for a in await client.list_agents()]

    infos = run_with_client(ctx, work, embedder=None)
    if as_json:
        print_json(infos)
        return
    from memgpt.cli.output import agents_table

    agents_table(infos)


@agents.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def agents_show(ctx: click.Context, name: str, as_json: bool) -> None:
    """Show an agent: model, memory blocks and store sizes."""
    info = run_with_client(ctx, lambda client: client.agent_info(name), embedder=None)
    if as_json:
        print_json(info)
        return
    from memgpt.cli.output import agent_details

    agent_details(info)


@agents.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def agents_delete(ctx: click.Context, name: str, yes: bool) -> None:
    """Delete an agent with all its messages and passages."""
    if not yes and not click.confirm(f"Delete agent {name} and all its memory?", default=False):
        click.echo("Nothing deleted.")
        return
    run_with_client(ctx, lambda client: client.delete_agent(name), embedder=None)
    click.echo(f"Deleted agent {name}.")


# --------------------------------------------------------------------------- chat
@cli.command()
@click.option(
    "--agent", "agent_name", default="default", show_default=True, help="Agent to talk to (created if missing)."
)
@click.option("--message", "-m", "messages", multiple=True, help="Send this message and exit (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print every event as a JSON line.")
@click.pass_context
def chat(ctx: click.Context, agent_name: str, messages: tuple[str, ...], as_json: bool) -> None:
    """Talk to an agent: an interactive session, or one-shot with --message."""
    from memgpt.cli.chat import chat_session

    run_with_client(ctx, lambda client: chat_session(client, agent_name, list(messages), as_json))


# --------------------------------------------------------------------------- search
@cli.command()
@click.option("--agent", "agent_name", required=True, help="Agent whose memory to search.")
@click.option("--recall", "store", flag_value="recall", default=True, help="Search the recall store (messages).")
@click.option("--archival", "store", flag_value="archival", help="Search the archival store (passages).")
@click.option("--mode", type=click.Choice(["hybrid", "text", "semantic"]), default="hybrid", show_default=True)
@click.option("--page", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--page-size", type=click.IntRange(1, 1000), default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.argument("query")
@click.pass_context
def search(
    ctx: click.Context, agent_name: str, store: str, mode: str, page: int, page_size: int, as_json: bool, query: str
) -> None:
    """Search an agent's recall or archival memory for QUERY."""

    async def work(client: Client) -> Any:
        return await client.search(
            agent_name,
            query,
            archival=store == "archival",
            page=page,
            page_size=page_size,
            mode=mode,  # type: ignore[arg-type]
        )

    results = run_with_client(ctx, work)
    from memgpt.cli.output import search_results

    search_results(results, as_json=as_json)


# --------------------------------------------------------------------------- db
@cli.group()
def db() -> None:
    """Database maintenance."""


@db.command("reembed")
@click.pass_context
def db_reembed(ctx: click.Context) -> None:
    """Re-embed every message and passage with the configured embedding model (MEMGPT_EMBEDDING)."""
    from memgpt.cli.maintenance import reembed

    total = run(reembed(ctx.obj["database_url"]))
    click.echo(f"Re-embedded {total:,} rows.")


# --------------------------------------------------------------------------- eval / bench
@cli.group(name="eval")
def eval_group() -> None:
    """Evaluations on public data sets (LoCoMo, NQ-Open, ...)."""


@eval_group.command("locomo")
@click.option("--retrieval", is_flag=True, required=True, help="Measure conversation_search's ranking (no LLM).")
@click.option(
    "--data",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="LoCoMo folder (default: ../shared/data/locomo).",
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Only the first N conversations.")
@click.option("--mode", type=click.Choice(["hybrid", "text", "semantic"]), default="hybrid", show_default=True)
@click.option(
    "--output", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write JSON results here."
)
def eval_locomo(retrieval: bool, data: Path | None, limit: int | None, mode: str, output: Path | None) -> None:
    """LoCoMo: evidence recall@5/10/25 of recall search, per question category."""
    from memgpt.evals.locomo import print_table, run_locomo_retrieval

    results = run(run_locomo_retrieval(data, limit=limit, mode=mode))  # type: ignore[arg-type]
    print_table(results)
    if output:
        output.write_text(json.dumps(results, indent=2))
        click.echo(f"Wrote {output}")


@eval_group.command("nq-retrieval")
@click.option(
    "--data",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="nq-open-oracle.jsonl.gz (default: ../shared/data/nq_open_oracle/).",
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Only the first N questions.")
@click.option("--mode", type=click.Choice(["hybrid", "text", "semantic"]), default="hybrid", show_default=True)
@click.option(
    "--output", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write JSON results here."
)
def eval_nq(data: Path | None, limit: int | None, mode: str, output: Path | None) -> None:
    """NQ-Open oracle passages in archival memory: recall@1/5/10 and MRR of archival search."""
    from memgpt.evals.nq import print_table, run_nq_retrieval

    results = run(run_nq_retrieval(data, limit=limit, mode=mode))  # type: ignore[arg-type]
    print_table(results)
    if output:
        output.write_text(json.dumps(results, indent=2))
        click.echo(f"Wrote {output}")


@cli.group()
def bench() -> None:
    """Speed benchmarks; results are appended to a Markdown file with machine, date and commit."""


def _bench_output(title: str, results: dict[str, Any], output: Path) -> None:
    from memgpt.evals.bench import write_results

    print_json(results)
    write_results(output, title, results)
    click.echo(f"Appended to {output}")


@bench.command("store")
@click.option("--sizes", default="100000", show_default=True, help="Comma-separated archival sizes.")
@click.option("--recall-size", type=click.IntRange(min=1), default=100_000, show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=Path("benchmarks/results/store.md"))
def bench_store(sizes: str, recall_size: int, output: Path) -> None:
    """Archival hybrid search p50/p95, vector recall@10, bulk insert; recall full-text search; local embedding."""
    from memgpt.evals import bench as b

    async def work() -> dict[str, Any]:
        results: dict[str, Any] = {"archival": [await b.bench_archival(int(n)) for n in sizes.split(",")]}
        results["recall"] = await b.bench_recall_text(recall_size)
        from memgpt.embeddings import local_model_available

        if local_model_available():
            texts = [b.synthetic_text(i, words=60) for i in range(256)]
            results["local_embedding"] = await b.bench_local_embedding(texts)
        return results

    _bench_output("store", run(work()), output)


@bench.command("step")
@click.option("--recall", "recall_size", type=click.IntRange(min=0), default=10_000, show_default=True)
@click.option("--archival", "archival_size", type=click.IntRange(min=0), default=100_000, show_default=True)
@click.option("--steps", type=click.IntRange(min=10), default=200, show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=Path("benchmarks/results/step.md"))
def bench_step(recall_size: int, archival_size: int, steps: int, output: Path) -> None:
    """Step time outside the LLM (zero-latency scripted LLM), tokens of a fresh context, HTTP round trip."""
    from memgpt.evals import bench as b

    async def work() -> dict[str, Any]:
        return {
            "fresh_context": await b.fresh_context_tokens(),
            "step": await b.bench_step(recall_size, archival_size, steps),
            "http": await b.bench_http_round_trip(),
        }

    _bench_output("step", run(work()), output)


@bench.command("startup")
@click.option("--runs", type=click.IntRange(min=3), default=15, show_default=True)
@click.option(
    "--output", type=click.Path(dir_okay=False, path_type=Path), default=Path("benchmarks/results/startup.md")
)
def bench_startup(runs: int, output: Path) -> None:
    """Median start-up time of `memgpt --help`."""
    from memgpt.evals.bench import bench_cli_startup

    _bench_output("startup", bench_cli_startup(runs), output)


def main() -> None:
    """Entry point of the ``memgpt`` command."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    cli(prog_name="memgpt")


if __name__ == "__main__":
    main()
