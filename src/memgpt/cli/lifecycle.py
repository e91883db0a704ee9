"""``memgpt forget`` and ``memgpt memory history|revert``: forgetting, and the edit history of core memory."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from memgpt.client import Client
    from memgpt.lifecycle.forget import ForgetReport


def parse_date(value: str) -> datetime:
    """An ISO date or date-time; without a time zone it is UTC."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date: write it as 2026-01-31 or 2026-01-31T12:00:00+01:00."
        ) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def parse_block_values(values: tuple[str, ...]) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in values:
        label, eq, text = item.partition("=")
        if not eq or not label.strip():
            raise click.BadParameter(f"{item!r}: write --block LABEL=NEW TEXT (or LABEL= to empty it).")
        found[label.strip()] = text
    return found


@click.command("forget")
@click.option("--agent", required=True, help="The agent that forgets.")
@click.option("--message", "message_ids", multiple=True, help="A message id to forget (repeatable).")
@click.option("--passage", "passage_ids", multiple=True, help="An archival passage id to forget (repeatable).")
@click.option("--before", help="Forget every message and passage created before this date (ISO; UTC if no zone).")
@click.option("--query", help="Forget every message and passage whose text contains this (any case).")
@click.option("--block", "block_values", multiple=True, help="Set a core-memory block in the same forget: LABEL=TEXT.")
@click.option("--scrub-blocks", is_flag=True, help="Remove the forgotten text from every core-memory block too.")
@click.option("--yes", is_flag=True, help="Forget without asking (otherwise: a preview, then a question).")
@click.option("--json", "as_json", is_flag=True, help="Print the preview or the result as JSON.")
@click.pass_context
def forget(
    ctx: click.Context,
    agent: str,
    message_ids: tuple[str, ...],
    passage_ids: tuple[str, ...],
    before: str | None,
    query: str | None,
    block_values: tuple[str, ...],
    scrub_blocks: bool,
    yes: bool,
    as_json: bool,
) -> None:
    """Forget messages and passages for good: from recall and archival memory, the search indexes, the
    context window and exports; the summary is rewritten without them. Shows what will go first."""
    from memgpt.cli.main import print_json, run_with_client

    options: dict[str, Any] = {
        "message_ids": message_ids,
        "passage_ids": passage_ids,
        "before": parse_date(before) if before else None,
        "query": query,
        "block_values": parse_block_values(block_values),
        "scrub_blocks": scrub_blocks,
    }

    async def preview(client: Client) -> ForgetReport:
        return await client.forget(agent, **options)

    async def apply(client: Client) -> ForgetReport:
        return await client.forget(agent, apply=True, **options)

    if not yes:
        shown = run_with_client(ctx, preview, embedder=None, json_errors=as_json)
        if as_json:
            print_json(shown.to_dict())
            return
        _print_preview(shown)
        if not shown.items:
            return
        if not sys.stdin.isatty():
            click.echo("Nothing was forgotten: run again with --yes to forget these.")
            return
        if not click.confirm("Forget these for good?", default=False):
            click.echo("Nothing was forgotten.")
            return
    done = run_with_client(ctx, apply, embedder=None, json_errors=as_json)
    if as_json:
        print_json(done.to_dict())
    else:
        _print_result(done)


def _print_preview(report: ForgetReport) -> None:
    if not report.items:
        click.echo(f"Nothing of {report.agent} matches: nothing to forget.")
        return
    click.echo(f"{report.agent} would forget {report.messages} message(s) and {report.passages} passage(s):")
    for item in report.items:
        where = " (in context)" if item.in_context else ""
        click.echo(f"  {item.kind} {item.id} [{item.created_at:%Y-%m-%d %H:%M}] {item.role or ''}{where}: {item.text}")
    if report.summary_affected:
        click.echo("The summary was written from some of them: it will be rewritten without them.")
    for block in report.blocks:
        click.echo(
            f"Core memory block {block.label!r} contains forgotten text (edit it with --block or --scrub-blocks)."
        )


def _print_result(report: ForgetReport) -> None:
    click.echo(f"{report.agent} forgot {report.messages} message(s) and {report.passages} passage(s).")
    if report.summary == "rewritten":
        click.echo("The summary was rewritten without them.")
    elif report.summary_flagged:
        click.echo("No LLM could rewrite the summary: it was replaced by a note (check `memgpt agents show`).")
    if report.blocks_edited:
        click.echo(f"Edited core memory: {', '.join(report.blocks_edited)}.")
    for block in report.blocks:
        click.echo(f"Core memory block {block.label!r} still contains forgotten text: {block.value!r}")


@click.group()
def memory() -> None:
    """The edit history of an agent's core memory: every change with what made it, and reverts."""


@memory.command("history")
@click.option("--agent", required=True, help="The agent.")
@click.option("--label", help="Only this block.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def memory_history(ctx: click.Context, agent: str, label: str | None, as_json: bool) -> None:
    """Every saved change of the agent's core-memory blocks, oldest first, with its cause."""
    from memgpt.cli.main import print_json, run_with_client

    async def work(client: Client) -> list[dict[str, Any]]:
        return [c.to_dict() for c in await client.block_history(agent, label=label)]

    changes = run_with_client(ctx, work, embedder=None, json_errors=as_json)
    if as_json:
        print_json(changes)
        return
    if not changes:
        click.echo("No changes recorded yet.")
    for change in changes:
        when = datetime.fromisoformat(change["created_at"])
        click.echo(f"{change['label']} v{change['version']} [{when:%Y-%m-%d %H:%M:%S}] {change['description']}")
        click.echo(f"  - {_short(change['old_value'])}")
        click.echo(f"  + {_short(change['new_value'])}")


def _short(text: str, limit: int = 200) -> str:
    flat = text.replace("\n", "\\n")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


@memory.command("edit")
@click.option("--agent", required=True, help="The agent.")
@click.option("--label", required=True, help="The block.")
@click.option("--value", required=True, help="The block's new text, or @FILE.")
@click.pass_context
def memory_edit(ctx: click.Context, agent: str, label: str, value: str) -> None:
    """Overwrite a core-memory block of the agent (recorded in its history as your edit)."""
    from memgpt.cli.main import read_text_option, run_with_client

    text = read_text_option(value) or ""

    async def work(client: Client) -> int:
        return (await client.update_block(agent, label, text)).version

    now = run_with_client(ctx, work, embedder=None)
    click.echo(f"Saved {label!r} (version {now}).")


@memory.command("revert")
@click.option("--agent", required=True, help="The agent.")
@click.option("--label", required=True, help="The block.")
@click.option("--to", "version", type=click.IntRange(1), required=True, help="The version to go back to.")
@click.pass_context
def memory_revert(ctx: click.Context, agent: str, label: str, version: int) -> None:
    """Set a block back to its value at VERSION (see `memgpt memory history`); the revert is recorded too."""
    from memgpt.cli.main import run_with_client

    async def work(client: Client) -> int:
        return (await client.revert_block(agent, label, to_version=version)).version

    now = run_with_client(ctx, work, embedder=None)
    click.echo(f"Reverted {label!r} to version {version}'s value (now version {now}).")


@click.command("export")
@click.argument("name")
@click.option(
    "-o", "--output", "folder", required=True, type=click.Path(file_okay=False), help="A new or empty folder."
)
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
@click.pass_context
def users_export(ctx: click.Context, name: str, folder: str, as_json: bool) -> None:
    """Export everything of user NAME: each agent as an agent file (archival passages, blocks, their history,
    sources) and user.json (the user, blocks no agent shows, API keys without secrets)."""
    from memgpt.cli.main import print_json, run_with_client

    async def work(client: Client) -> dict[str, Any]:
        return (await client.export_user(name, folder)).to_dict()

    done = run_with_client(ctx, work, embedder=None, json_errors=as_json)
    if as_json:
        print_json(done)
    else:
        click.echo(
            f"Exported {len(done['agent_files'])} agent(s) and {done['sources']} source(s) of {name} to {folder}."
        )


@click.command("maintenance")
@click.option("--json", "as_json", is_flag=True, help="Print what was deleted as JSON.")
@click.pass_context
def maintenance(ctx: click.Context, as_json: bool) -> None:
    """Apply every agent's retention policy (recall days, archival cap) and report what was deleted."""
    from memgpt.cli.main import print_json, run_with_client

    async def work(client: Client) -> list[dict[str, Any]]:
        return [r.to_dict() for r in await client.maintenance()]

    results = run_with_client(ctx, work, embedder=None, json_errors=as_json)
    if as_json:
        print_json(results)
        return
    if not results:
        click.echo("No agent has a retention policy: everything is kept.")
    for r in results:
        click.echo(f"{r['agent']}: {r['messages_deleted']} message(s) and {r['passages_deleted']} passage(s) deleted.")


@click.command("policy")
@click.argument("agent")
@click.option(
    "--keep-recall-days", type=click.IntRange(0), help="Delete recall messages older than this (0: keep all)."
)
@click.option("--max-archival", type=click.IntRange(0), help="Keep at most this many archival passages (0: no cap).")
@click.option("--redact/--no-redact", default=None, help="Mask keys, e-mails, phones, cards, IBANs before storing.")
@click.option("--redact-pattern", "patterns", multiple=True, help="Also mask NAME=REGEX (repeatable; replaces all).")
@click.option("--json", "as_json", is_flag=True, help="Print the policy as JSON.")
@click.pass_context
def agents_policy(
    ctx: click.Context,
    agent: str,
    keep_recall_days: int | None,
    max_archival: int | None,
    redact: bool | None,
    patterns: tuple[str, ...],
    as_json: bool,
) -> None:
    """Show or set AGENT's retention and redaction policy (by default everything is kept, nothing redacted)."""
    from memgpt.cli.main import print_json, run_with_client

    custom = None
    if patterns:
        custom = {}
        for item in patterns:
            name, eq, regex = item.partition("=")
            if not eq:
                raise click.BadParameter(f"{item!r}: write --redact-pattern NAME=REGEX.")
            custom[name.strip()] = regex

    async def work(client: Client) -> dict[str, Any]:
        settings = await client.set_policy(
            agent,
            recall_retention_days=keep_recall_days,
            archival_max_passages=max_archival,
            redact=redact,
            redact_patterns=custom,
        )
        keys = ("recall_retention_days", "archival_max_passages", "redact", "redact_patterns")
        return {k: getattr(settings, k) for k in keys}

    policy = run_with_client(ctx, work, embedder=None, json_errors=as_json)
    if as_json:
        print_json(policy)
        return
    days, cap = policy["recall_retention_days"], policy["archival_max_passages"]
    click.echo(f"recall: {'kept' if days is None else f'{days} days'}; archival: {'no cap' if cap is None else cap}")
    shown = ", ".join(policy["redact_patterns"]) or "none of your own"
    click.echo(f"redaction: {'on' if policy['redact'] else 'off'} (patterns: {shown})")
