"""``memgpt eval`` and ``memgpt bench``: evaluations on public data sets and speed benchmarks.

Only click is imported here at start-up; the evaluation code loads when a command runs.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from memgpt.evals.runner import CostEstimate, EvalSettings

RESULTS_DIR = Path("eval-results")


# --------------------------------------------------------------------------- shared options
def _llm_options(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "--model",
            envvar="MEMGPT_MODEL",
            help="Agent model, e.g. openai-compatible/llama3.1 (default $MEMGPT_MODEL).",
        ),
        click.option("--judge-model", default=None, help="Judge model (default: the agent's model)."),
        click.option("--concurrency", type=click.IntRange(1, 64), default=1, show_default=True),
        click.option("--context-window", type=click.IntRange(min=1000), default=None, help="Override (tokens)."),
        click.option("--embedding", default=None, help="Embedding model (default $MEMGPT_EMBEDDING or local)."),
        click.option(
            "--output",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            help=f"Results JSON (default {RESULTS_DIR}/TASK-MODEL.json); per-question cache beside it.",
        ),
        click.option(
            "--report",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            help="Markdown report (default: the output with .md); the PNG plot goes beside it.",
        ),
        click.option("--price-in", type=float, default=None, help="USD per million input tokens, for the estimate."),
        click.option("--price-out", type=float, default=None, help="USD per million output tokens, for the estimate."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _settings(task: str, options: dict[str, Any], limit: int | None, **extra: Any) -> tuple[EvalSettings, Path]:
    from memgpt.cli.main import EXIT_CONFIG
    from memgpt.errors import ConfigError
    from memgpt.evals.runner import EvalSettings
    from memgpt.llm.models import resolve_model

    try:
        model = resolve_model(options["model"])
        judge_model = resolve_model(options["judge_model"]) if options["judge_model"] else None
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(EXIT_CONFIG) from None
    output = options["output"] or RESULTS_DIR / f"{task}-{re.sub(r'[^A-Za-z0-9._-]+', '_', model)}.json"
    settings = EvalSettings(
        model=model,
        judge_model=judge_model,
        limit=limit,
        concurrency=options["concurrency"],
        cache=output.with_name(output.name + ".partial.jsonl"),
        context_window=options["context_window"],
        embedding=options["embedding"],
        on_estimate=lambda e: _print_estimate(e, options["price_in"], options["price_out"]),
        options={k: v for k, v in extra.items() if v is not None},
    )
    return settings, output


def _print_estimate(estimate: CostEstimate, price_in: float | None, price_out: float | None) -> None:
    cached = f", {estimate.cached:,} already done (cached)" if estimate.cached else ""
    dollars = estimate.dollars(price_in, price_out)
    cost = f", about ${dollars:,.2f} at the given prices" if dollars is not None else ""
    click.echo(
        f"Estimate: {estimate.questions:,} questions{cached}; about {estimate.llm_calls:,} LLM calls, "
        f"{estimate.tokens_in:,} input and {estimate.tokens_out:,} output tokens{cost} "
        f"({estimate.assumptions}).",
        err=True,
    )


def _run_eval(task: str, settings: EvalSettings, output: Path, report: Path | None, work: Callable[[], Any]) -> None:
    """Run with a progress bar, write JSON + Markdown + PNG, print the table; exit 1 if questions failed."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from memgpt.cli.main import EXIT_ERROR, run
    from memgpt.cli.output import console
    from memgpt.evals.report import write_report

    columns = (TextColumn(task), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console(), transient=True) as progress:
        bar = progress.add_task(task, total=None)
        settings.on_progress = lambda done, total: progress.update(bar, completed=done, total=total)
        result = run(work())
    written = write_report(result, output, report)
    accuracy_table(result)
    for path in written:
        click.echo(f"Wrote {path}" if not path.startswith("plots skipped") else path)
    if result["failed"]:
        click.echo(f"error: {result['failed']} questions failed; run the same command again to retry them.", err=True)
        raise SystemExit(EXIT_ERROR)


def accuracy_table(result: dict[str, Any]) -> None:
    """Accuracy overall and per group, with the model label (and a warning for the scripted LLM)."""
    from rich.table import Table

    from memgpt.cli.output import console
    from memgpt.evals.report import breakdown_key

    key = breakdown_key(result) or "by_category"
    console().print(f"{result['task']}: {100 * result['accuracy']:.1f}% of {result['n']} ({result['model']})")
    table = Table(key.removeprefix("by_"), "n", "accuracy")
    for name, group in result.get(key, {}).items():
        table.add_row(name, str(group["n"]), f"{100 * group['accuracy']:.1f}%")
    console().print(table)
    if result.get("scripted"):
        console().print("[yellow]Scripted LLM: these figures test the pipeline, not a model.[/yellow]")


# --------------------------------------------------------------------------- eval
@click.group(name="eval")
def eval_group() -> None:
    """Evaluations on public data sets: LoCoMo, nested key-value, document QA, DMR, retrieval."""


@eval_group.command("locomo")
@click.option("--retrieval", is_flag=True, help="Measure conversation_search's ranking only (no LLM).")
@click.option(
    "--mode",
    type=click.Choice(["recall", "live", "hybrid", "text", "semantic"]),
    default=None,
    help="QA: recall (history in the recall store, default) or live (sessions played to the agent). "
    "With --retrieval: the search mode (hybrid, default; text; semantic).",
)
@click.option(
    "--data",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="LoCoMo folder (default: ../shared/data/locomo).",
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Only the first N conversations.")
@click.option("--questions", type=click.IntRange(min=1), default=None, help="QA: the first N questions of each.")
@_llm_options
def eval_locomo(
    retrieval: bool, mode: str | None, data: Path | None, limit: int | None, questions: int | None, **options: Any
) -> None:
    """LoCoMo: QA accuracy (LLM judge) and F1 per category, or with --retrieval evidence recall@5/10/25."""
    if retrieval:
        _locomo_retrieval(mode or "hybrid", data, limit, options["output"])
        return
    if mode not in (None, "recall", "live"):
        raise click.BadParameter(f"{mode!r} is a search mode: use it with --retrieval.", param_hint="--mode")
    qa_mode = mode or "recall"
    settings, output = _settings(f"locomo-{qa_mode}", options, limit, mode=qa_mode, questions=questions)

    async def work() -> dict[str, Any]:
        from memgpt.evals.locomo_qa import run_locomo_qa

        return await run_locomo_qa(settings, data, mode=qa_mode, per_conversation=questions)  # type: ignore[arg-type]

    _run_eval("locomo", settings, output, options["report"], work)


def _locomo_retrieval(mode: str, data: Path | None, limit: int | None, output: Path | None) -> None:
    from memgpt.cli.main import run
    from memgpt.evals.locomo import run_locomo_retrieval

    if mode not in ("hybrid", "text", "semantic"):
        raise click.BadParameter(f"{mode!r} is a QA mode: drop --retrieval.", param_hint="--mode")
    results = run(run_locomo_retrieval(data, limit=limit, mode=mode))  # type: ignore[arg-type]
    locomo_retrieval_table(results)
    if output:
        output.write_text(json.dumps(results, indent=2))
        click.echo(f"Wrote {output}")


def _data_file(help_text: str, *, required: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The ``--data FILE`` option of an eval."""
    return click.option(
        "--data",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        required=required,  # no default=None here: with one, click skips the required check
        help=help_text,
    )


def _run_task(task: str, runner: str, data: Path | None, limit: int | None, options: dict[str, Any]) -> None:
    """Run ``runner(settings, data)`` ("module:function", imported only now: start-up stays fast)."""
    settings, output = _settings(task, options, limit)
    module, name = runner.split(":")

    async def work() -> dict[str, Any]:
        run_eval: Callable[[EvalSettings, Path | None], Awaitable[dict[str, Any]]]
        run_eval = getattr(importlib.import_module(module), name)
        return await run_eval(settings, data)

    _run_eval(task, settings, output, options["report"], work)


NQ_DATA_HELP = "nq-open-oracle.jsonl.gz (default: ../shared/data/nq_open_oracle/)."


@eval_group.command("nested-kv")
@_data_file("nested_kv_tasks.jsonl (default: ../shared/data/nested_kv/).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Only the first N tasks of each level.")
@_llm_options
def eval_nested_kv(data: Path | None, limit: int | None, **options: Any) -> None:
    """The paper's nested key-value task: exact-match accuracy per nesting level 0-4."""
    _run_task("nested-kv", "memgpt.evals.nested_kv:run_nested_kv", data, limit, options)


@eval_group.command("doc-qa")
@_data_file(NQ_DATA_HELP)
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="Ask the first N questions.")
@_llm_options
def eval_doc_qa(data: Path | None, limit: int, **options: Any) -> None:
    """Document QA: all NQ-Open gold passages in archival memory; answer accuracy and gold-passage recall."""
    _run_task("doc-qa", "memgpt.evals.doc_qa:run_doc_qa", data, limit, options)


@eval_group.command("dmr")
@_data_file("MSC-Self-Instruct JSONL as published with the MemGPT paper.", required=True)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Only the first N records.")
@_llm_options
def eval_dmr(data: Path, limit: int | None, **options: Any) -> None:
    """Deep Memory Retrieval: previous sessions in the recall store, one question, judged as in the paper."""
    _run_task("dmr", "memgpt.evals.dmr:run_dmr", data, limit, options)


@eval_group.command("nq-retrieval")
@_data_file(NQ_DATA_HELP)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Only the first N questions.")
@click.option("--mode", type=click.Choice(["hybrid", "text", "semantic"]), default="hybrid", show_default=True)
@click.option(
    "--output", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write JSON results here."
)
def eval_nq(data: Path | None, limit: int | None, mode: str, output: Path | None) -> None:
    """NQ-Open oracle passages in archival memory: recall@1/5/10 and MRR of archival search."""
    from memgpt.cli.main import run
    from memgpt.evals.nq import run_nq_retrieval

    results = run(run_nq_retrieval(data, limit=limit, mode=mode))  # type: ignore[arg-type]
    nq_retrieval_table(results)
    if output:
        output.write_text(json.dumps(results, indent=2))
        click.echo(f"Wrote {output}")


def locomo_retrieval_table(result: dict[str, Any]) -> None:
    """The recall table, one row per k and measure, one column per category."""
    from rich.table import Table

    from memgpt.cli.output import console
    from memgpt.evals.locomo import CATEGORIES, CATEGORY_NAMES

    table = Table(
        "recall",
        "k",
        "overall",
        *(f"{c} {CATEGORY_NAMES[c]}" for c in CATEGORIES),
        title=f"LoCoMo evidence recall, % ({result['n_scored']} of {result['n']} questions, {result['mode']})",
        caption="all / any: every / some evidence turn in the top k; share: the mean share of evidence turns"
        " in the top k (the LoCoMo paper's R@k)",
    )
    for name in ("recall_all", "recall", "recall_any"):
        for k, row in result.get(name, {}).items():
            label = "share" if name == "recall" else name.removeprefix("recall_")
            table.add_row(label, k, *(f"{100 * row[c]:.1f}" for c in ("overall", *CATEGORIES)))
    console().print(table)


def nq_retrieval_table(result: dict[str, Any]) -> None:
    from rich.table import Table

    from memgpt.cli.output import console
    from memgpt.evals.nq import KS

    table = Table(
        "recall@1",
        "recall@5",
        "recall@10",
        "MRR@10",
        title=f"NQ-Open archival retrieval ({result['n']} questions, {result['passages']} passages, {result['mode']})",
    )
    table.add_row(*(f"{100 * result['recall'][str(k)]:.1f}" for k in KS), f"{result['mrr@10']:.3f}")
    console().print(table)


# --------------------------------------------------------------------------- bench
@click.group()
def bench() -> None:
    """Speed benchmarks; results are appended to a Markdown file with machine, date and commit."""


_JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON instead of a table.")


def _bench_output(title: str, results: dict[str, Any], output: Path, as_json: bool = False) -> None:
    from memgpt.cli.main import print_json
    from memgpt.evals.bench import write_results

    if as_json:
        print_json(results)
    else:
        _figures_table(title, results)
    write_results(output, title, results)
    click.echo(f"Appended to {output}", err=as_json)


def _figures_table(title: str, results: dict[str, Any]) -> None:
    """The figures of a benchmark, one per row (``memgpt_help p50_ms  101.9``)."""
    from rich.table import Table

    from memgpt.cli.output import console

    table = Table("measure", "value", title=title, title_justify="left")
    for name, value in _flatten(results):
        shown = f"{value:,.3f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)
        table.add_row(name, shown)
    console().print(table)


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [row for key, item in value.items() for row in _flatten(item, f"{prefix} {key}".strip())]
    if isinstance(value, list) and any(isinstance(item, dict) for item in value):
        return [row for i, item in enumerate(value) for row in _flatten(item, f"{prefix} [{i}]")]
    return [(prefix, value)]


@bench.command("store")
@_JSON_OPTION
@click.option("--sizes", default="100000", show_default=True, help="Comma-separated archival sizes.")
@click.option("--recall-size", type=click.IntRange(min=1), default=100_000, show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=Path("benchmarks/results/store.md"))
def bench_store(sizes: str, recall_size: int, output: Path, as_json: bool) -> None:
    """Archival hybrid search p50/p95, vector recall@10, bulk insert; recall full-text search; local embedding."""
    from memgpt.cli.main import run
    from memgpt.evals import bench as b

    async def work() -> dict[str, Any]:
        results: dict[str, Any] = {"archival": [await b.bench_archival(n) for n in _sizes(sizes)]}
        results["recall"] = await b.bench_recall_text(recall_size)
        from memgpt.embeddings import local_model_available

        if local_model_available():
            texts = [b.synthetic_text(i, words=60) for i in range(256)]
            results["local_embedding"] = await b.bench_local_embedding(texts)
        return results

    _bench_output("store", run(work()), output, as_json)


@bench.command("step")
@_JSON_OPTION
@click.option("--recall", "recall_size", type=click.IntRange(min=0), default=10_000, show_default=True)
@click.option("--archival", "archival_size", type=click.IntRange(min=0), default=100_000, show_default=True)
@click.option("--steps", type=click.IntRange(min=10), default=200, show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=Path("benchmarks/results/step.md"))
def bench_step(recall_size: int, archival_size: int, steps: int, output: Path, as_json: bool) -> None:
    """Step time outside the LLM (zero-latency scripted LLM), tokens of a fresh context, HTTP round trip."""
    from memgpt.cli.main import run
    from memgpt.evals import bench as b

    async def work() -> dict[str, Any]:
        return {
            "fresh_context": await b.fresh_context_tokens(),
            "step": await b.bench_step(recall_size, archival_size, steps),
            "http": await b.bench_http_round_trip(),
        }

    _bench_output("step", run(work()), output, as_json)


@bench.command("startup")
@_JSON_OPTION
@click.option("--runs", type=click.IntRange(min=3), default=15, show_default=True)
@click.option(
    "--output", type=click.Path(dir_okay=False, path_type=Path), default=Path("benchmarks/results/startup.md")
)
def bench_startup(runs: int, output: Path, as_json: bool) -> None:
    """Median start-up time of `memgpt --help`."""
    from memgpt.evals.bench import bench_cli_startup

    _bench_output("startup", bench_cli_startup(runs), output, as_json)


@bench.command("scale")
@_JSON_OPTION
@click.option("--recall-sizes", default="1000,10000,100000", show_default=True, help="Comma-separated message counts.")
@click.option("--archival-sizes", default="10000,100000", show_default=True, help="Comma-separated passage counts.")
@click.option("--steps", type=click.IntRange(min=10), default=100, show_default=True)
@click.option("--queries", type=click.IntRange(min=10), default=100, show_default=True)
@click.option("--ingest-rows", type=click.IntRange(min=100), default=20_000, show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=Path("benchmarks/results/scale.md"))
def bench_scale(
    recall_sizes: str, archival_sizes: str, steps: int, queries: int, ingest_rows: int, output: Path, as_json: bool
) -> None:
    """Step time and search latency vs store size, ingest rate, CLI start-up, agent memory; PNG curves."""
    from memgpt.cli.main import run
    from memgpt.evals import bench as b

    work = b.bench_scale(
        _sizes(recall_sizes), _sizes(archival_sizes), steps=steps, queries=queries, ingest_rows=ingest_rows
    )
    results = run(work)
    _bench_output("scale", results, output, as_json)
    output.with_suffix(".json").write_text(json.dumps({"machine": b.machine(), **results}, indent=2) + "\n")
    for written in b.plot_scale(results, output):
        click.echo(f"Wrote {written}" if written.endswith(".png") else written)


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a comma-separated list of integers.") from None
    if not sizes or min(sizes) < 0:
        raise click.BadParameter(f"{text!r}: give one or more sizes >= 0.")
    return sizes
