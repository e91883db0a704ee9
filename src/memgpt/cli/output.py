"""Readable terminal output: tables and panels with rich (imported only when something is printed)."""

from __future__ import annotations

import json
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from memgpt.agent.check import ContextCheck
    from memgpt.memory.blocks import Block
    from memgpt.memory.types import SearchPage


@cache
def console() -> Console:
    from rich.console import Console

    return Console(highlight=False)


def agents_table(infos: list[dict[str, Any]]) -> None:
    from rich.table import Table

    if not infos:
        console().print("No agents yet. Create one with `memgpt agents create NAME`.")
        return
    table = Table("name", "model", "context", "recall msgs", "archival", "created")
    for info in infos:
        table.add_row(
            info["name"],
            info["model"],
            f"{info['context_window']:,}",
            f"{info['recall_messages']:,}",
            f"{info['archival_passages']:,}",
            info["created_at"][:16].replace("T", " "),
        )
    console().print(table)


def agent_details(info: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(show_header=False, box=None)
    for key in ("name", "id", "model", "context_window", "recall_messages", "archival_passages", "in_context_messages"):
        table.add_row(f"[bold]{key}[/bold]", str(info[key]))
    console().print(table)
    for label, block in info["memory"].items():
        console().print(f"\n[bold]{label}[/bold] ({len(block['value'])}/{block['limit']} chars)")
        console().print(block["value"], markup=False)
    for key in ("tools", "secrets"):  # tool variables by name only
        if info.get(key):
            console().print(f"\n[bold]{key}[/bold] {', '.join(info[key])}", markup=True)
    if info.get("tool_rules"):
        rules = ", ".join(f"{r['type']} {r['tool_name']}" for r in info["tool_rules"])
        console().print(f"\n[bold]tool rules[/bold] {rules}")
    if info.get("summary"):
        console().print("\n[bold]summary[/bold]")
        console().print(info["summary"], markup=False)


def memory_panel(blocks: list[Block]) -> None:
    from rich.panel import Panel

    for block in blocks:
        flags = ", read-only" if block.read_only else ""
        title = f"{block.label} ({len(block.value)}/{block.limit}{flags})"
        console().print(Panel(block.value or "(empty)", title=title, title_align="left"))


def context_table(breakdown: dict[str, int]) -> None:
    from rich.table import Table

    window = breakdown.pop("context_window")
    table = Table("part", "tokens (est.)", "share")
    total = sum(breakdown.values())
    for part, tokens in breakdown.items():
        table.add_row(part, f"{tokens:,}", f"{100 * tokens / window:.1f}%")
    table.add_row("[bold]total[/bold]", f"{total:,}", f"{100 * total / window:.1f}% of {window:,}")
    console().print(table)


def search_results(page: SearchPage, *, as_json: bool) -> None:
    if as_json:
        print(
            json.dumps(
                {
                    "page": page.page,
                    "page_size": page.page_size,
                    "total": page.total,
                    "hits": [
                        {
                            "id": h.id,
                            "score": h.score,
                            "time": h.created_at.isoformat(),
                            "role": h.role,
                            "source": h.metadata.get("source"),
                            "text": h.text,
                            "metadata": h.metadata,
                        }
                        for h in page.hits
                    ],
                },
                ensure_ascii=False,
            )
        )
        return
    from rich.table import Table

    if not page.hits:
        console().print("No results.")
        return
    table = Table(title=f"page {page.page + 1} of {page.pages} ({page.total} hits; --page counts from 0)")
    table.add_column("score")
    table.add_column("time")
    table.add_column("source", overflow="fold")  # a path folds over lines: its file name is what cites it
    table.add_column("text")
    for hit in page.hits:
        source = hit.role or str(hit.metadata.get("source") or "archival")
        text = hit.text if len(hit.text) <= 300 else hit.text[:297] + "..."
        table.add_row(f"{hit.score:.4f}", hit.created_at.strftime("%Y-%m-%d %H:%M"), source, text)
    console().print(table)


def check_report(agent: str, check: ContextCheck) -> None:
    """What ``memgpt agents check`` found and, with ``--repair``, did."""
    from rich.table import Table

    if check.ok:
        console().print(f"Agent [bold]{agent}[/bold]: its stored context compiles into a request any LLM accepts.")
        return
    table = Table(title=f"{len(check.problems)} problem(s) in agent {agent}'s stored context", title_justify="left")
    table.add_column("part", overflow="fold")
    table.add_column("problem")
    table.add_column("repaired" if check.repaired else "--repair will")
    for problem in check.problems:
        table.add_row(problem.part, problem.problem, problem.repair)
    console().print(table)
    if check.repaired:
        left = len(check.drop_ids)
        console().print(f"Repaired: {left} message(s) left the context window (they stay in recall memory).")
    else:
        console().print("The agent still answers (these are cleaned on every request); run with --repair to fix them.")


def simple_table(headers: list[str], rows: list[list[str]], empty: str) -> None:
    """A plain table of text cells (or ``empty`` when there are no rows)."""
    from rich.table import Table

    if not rows:
        console().print(empty)
        return
    table = Table(*headers)
    for row in rows:
        table.add_row(*row)
    console().print(table)


def blocks_table(infos: list[dict[str, Any]]) -> None:
    from rich.table import Table

    if not infos:
        console().print("No blocks yet. Create one with `memgpt blocks create LABEL --value TEXT --agent NAME`.")
        return
    table = Table("id", "label", "chars", "flags", "shown by")
    for info in infos:
        flags = ", ".join(f for f, on in (("read-only", info["read_only"]), ("kept", info["standalone"])) if on)
        table.add_row(
            info["id"],
            info["label"],
            f"{len(info['value']):,}/{info['limit']:,}",
            flags,
            ", ".join(info["agents"]) or "(no agent)",
        )
    console().print(table)


def block_details(info: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(show_header=False, box=None)
    for key in ("id", "label", "limit", "read_only", "version", "updated_at"):
        table.add_row(f"[bold]{key}[/bold]", str(info[key]))
    table.add_row("[bold]shown by[/bold]", ", ".join(info["agents"]) or "(no agent)")
    if info["description"]:
        table.add_row("[bold]description[/bold]", info["description"])
    console().print(table)
    console().print(f"\n[bold]{info['label']}[/bold] ({len(info['value'])}/{info['limit']} chars)")
    console().print(info["value"], markup=False)
