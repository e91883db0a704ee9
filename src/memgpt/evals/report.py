"""Writing results: the JSON document, a Markdown report beside it, and PNG plots.

Plots need matplotlib, an optional extra (``pip install 'memgpt[plots]'``); without it the JSON and
Markdown are still written and :func:`write_report` says which plots were skipped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

PLOTS_HINT = "plots skipped: matplotlib is not installed (pip install 'memgpt[plots]')"


def breakdown_key(result: Mapping[str, Any]) -> str | None:
    return next((k for k in ("by_level", "by_category") if k in result), None)


def markdown(result: Mapping[str, Any]) -> str:
    """A readable report of one evaluation result."""
    lines = [f"# {result['task']} — {result['model']}", ""]
    if result.get("scripted"):
        lines += [
            "> Produced by the **scripted LLM** (a fixed policy, not a language model): these numbers test the",
            "> pipeline and must not be read as any model's score.",
            "",
        ]
    run = result.get("run", {})
    judge = f", judge: `{result['judge_model']}`" if result.get("judge_model") else ""
    failed = f" ({result['failed']} failed, not counted)" if result.get("failed") else ""
    excluded = ", ".join(result.get("excluded_from_overall", []))
    lines += [
        f"- model: `{result['model']}`{judge}",
        f"- questions: {result['n']}{failed}",
        f"- accuracy: **{100 * result['accuracy']:.1f}%**" + (f" (excluding groups {excluded})" if excluded else ""),
    ]
    for extra in ("f1", "rouge_l_recall", "agent_retrieval"):
        if extra in result:
            lines.append(f"- {extra}: {result[extra]:.4f}")
    if "metric" in result:
        lines.append(f"- metric: {result['metric']}")
    if run:
        lines.append(f"- run: {run.get('date')}, commit {run.get('commit')}, {run.get('cpu')}")
    key = breakdown_key(result)
    if key:
        groups: Mapping[str, Mapping[str, Any]] = result[key]
        metrics = [m for m in ("f1", "rouge_l_recall", "agent_retrieval") if any(m in g for g in groups.values())]
        header = [key.removeprefix("by_"), "n", "accuracy", *metrics]
        lines += ["", "| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
        for name, group in groups.items():
            cells = [name, str(group["n"]), f"{100 * group['accuracy']:.1f}%", *(f"{group[m]:.3f}" for m in metrics)]
            lines.append("| " + " | ".join(cells) + " |")
    usage = result.get("usage", {}).get("per_question")
    if usage:
        lines += ["", "| per question | mean |", "|---|---|"]
        judged = bool(usage.get("judge_calls_mean"))
        lines += [f"| {name} | {value} |" for name, value in usage.items() if judged or not name.startswith("judge_")]
    return "\n".join(lines) + "\n"


def write_report(result: Mapping[str, Any], output: Path, report: Path | None = None) -> list[str]:
    """Write ``output`` (JSON), the Markdown ``report`` (default ``output.md``) and a PNG beside the report.

    Returns the paths written, and a note in place of the plot when matplotlib is missing.
    """
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    report = report or output.with_suffix(".md")
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(markdown(result), encoding="utf-8")
    written = [str(output), str(report)]
    key = breakdown_key(result)
    if key:
        groups = result[key]
        points = [(name, 100 * g["accuracy"]) for name, g in groups.items()]
        title = f"{result['task']} accuracy — {result['model']}"
        plotted = plot_bars(report.with_suffix(".png"), title, key.removeprefix("by_"), points, line=key == "by_level")
        written.append(plotted or PLOTS_HINT)
    return written


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_bars(path: Path, title: str, xlabel: str, points: Sequence[tuple[str, float]], *, line: bool) -> str | None:
    """Accuracy (%) per group as bars (categories) or a line (levels); None without matplotlib."""
    plt = _pyplot()
    if plt is None:
        return None
    figure, axes = plt.subplots(figsize=(6, 3.5))
    labels = [p[0] for p in points]
    values = [p[1] for p in points]
    if line:
        axes.plot(labels, values, marker="o")
    else:
        axes.bar(labels, values)
    axes.set(title=title, xlabel=xlabel, ylabel="accuracy (%)", ylim=(0, 105))
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return str(path)


def plot_curves(
    path: Path,
    title: str,
    xlabel: str,
    ylabel: str,
    series: Mapping[str, Sequence[tuple[float, float]]],
    *,
    logx: bool = True,
    logy: bool = False,
) -> str | None:
    """One line per series on shared axes (log x by default); None without matplotlib."""
    plt = _pyplot()
    if plt is None:
        return None
    figure, axes = plt.subplots(figsize=(6, 3.8))
    for name, points in series.items():
        if points:
            axes.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=name)
    if logx:
        axes.set_xscale("log")
    if logy:
        axes.set_yscale("log")
    axes.set(title=title, xlabel=xlabel, ylabel=ylabel)
    axes.grid(alpha=0.3, which="both")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return str(path)
