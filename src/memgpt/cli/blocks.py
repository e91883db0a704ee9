"""``memgpt blocks``: core-memory blocks shared between agents."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from memgpt.client import Client
    from memgpt.memory.protocols import BlockRecord


@click.group()
def blocks() -> None:
    """Core-memory blocks shared between agents: create one, attach it to several agents.

    An edit by one agent (or by you) is in every other agent's context at its next step; two agents
    editing one block at once never lose an edit. BLOCK is a block id, AGENT/LABEL, or a label only one
    of your blocks has.
    """


@blocks.command("create")
@click.argument("label")
@click.option("--value", default="", help="The block's text, or @FILE.")
@click.option("--limit", type=click.IntRange(1, 1_000_000), default=5000, show_default=True, help="Character limit.")
@click.option("--description", default="", help="What the block is for (shown to the agents).")
@click.option("--read-only", is_flag=True, help="Agents may read it but not edit it.")
@click.option("--agent", "agents", multiple=True, help="Attach it to this agent too (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the block as JSON.")
@click.pass_context
def blocks_create(
    ctx: click.Context,
    label: str,
    value: str,
    limit: int,
    description: str,
    read_only: bool,
    agents: tuple[str, ...],
    as_json: bool,
) -> None:
    """Create a block LABEL of its own (kept until you delete it, whichever agents show it)."""
    from memgpt.cli.main import read_text_option, run_with_client

    text = read_text_option(value) or ""

    async def work(client: Client) -> dict[str, Any]:
        block = await client.create_block(
            label, text, limit=limit, description=description, read_only=read_only, agents=agents
        )
        return await _info(client, await client.find_block(block.id))

    info = run_with_client(ctx, work, embedder=None, json_errors=as_json)
    if as_json:
        from memgpt.cli.main import print_json

        print_json(info)
    else:
        shown = f", shown by {', '.join(info['agents'])}" if info["agents"] else ""
        click.echo(f"Created block {info['label']} ({info['id']}){shown}.")


@blocks.command("list")
@click.option("--label", help="Only blocks of this label.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def blocks_list(ctx: click.Context, label: str | None, as_json: bool) -> None:
    """List your blocks with the agents that show each."""
    from memgpt.cli.main import run_with_client

    async def work(client: Client) -> list[dict[str, Any]]:
        names = {a.id: a.name for a in await client.list_agents()}
        return [_as_dict(r, names) for r in await client.list_blocks(label=label)]

    infos = run_with_client(ctx, work, embedder=None, json_errors=as_json)
    if as_json:
        from memgpt.cli.main import print_json

        print_json(infos)
        return
    from memgpt.cli.output import blocks_table

    blocks_table(infos)


@blocks.command("show")
@click.argument("block")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def blocks_show(ctx: click.Context, block: str, as_json: bool) -> None:
    """Show BLOCK: its text, limit, flags and the agents that show it."""
    from memgpt.cli.main import print_json, run_with_client

    async def work(client: Client) -> dict[str, Any]:
        return await _info(client, await client.find_block(block))

    info = run_with_client(ctx, work, embedder=None, json_errors=as_json)
    if as_json:
        print_json(info)
        return
    from memgpt.cli.output import block_details

    block_details(info)


@blocks.command("attach")
@click.argument("block")
@click.option("--agent", "agents", multiple=True, required=True, help="The agent to show it (repeatable).")
@click.pass_context
def blocks_attach(ctx: click.Context, block: str, agents: tuple[str, ...]) -> None:
    """Show BLOCK in the core memory of --agent too (shared: one block, every agent sees its edits)."""
    from memgpt.cli.main import run_with_client

    async def work(client: Client) -> str:
        found = await client.find_block(block)
        for agent in agents:
            await client.attach_block(agent, found.block.id)
        return found.block.label

    label = run_with_client(ctx, work, embedder=None)
    click.echo(f"Block {label} is in the core memory of {', '.join(agents)}.")


@blocks.command("detach")
@click.argument("block")
@click.option("--agent", "agents", multiple=True, required=True, help="The agent to take it from (repeatable).")
@click.pass_context
def blocks_detach(ctx: click.Context, block: str, agents: tuple[str, ...]) -> None:
    """Take BLOCK out of --agent's core memory (other agents keep it; it is kept even when no agent shows it)."""
    from memgpt.cli.main import run_with_client

    async def work(client: Client) -> str:
        found = await client.find_block(block)
        for agent in agents:
            await client.detach_block(agent, found.block.id)
        return found.block.label

    label = run_with_client(ctx, work, embedder=None)
    click.echo(f"Block {label} left the core memory of {', '.join(agents)}.")


@blocks.command("delete")
@click.argument("block")
@click.option("--detach", is_flag=True, help="Delete it even while agents show it (it leaves their core memory).")
@click.pass_context
def blocks_delete(ctx: click.Context, block: str, detach: bool) -> None:
    """Delete BLOCK (refused while agents show it, unless --detach)."""
    from memgpt.cli.main import run_with_client

    async def work(client: Client) -> str:
        label = (await client.find_block(block)).block.label
        await client.delete_block(block, detach=detach)
        return label

    label = run_with_client(ctx, work, embedder=None)
    click.echo(f"Deleted block {label}.")


async def _info(client: Client, record: BlockRecord) -> dict[str, Any]:
    return _as_dict(record, {a.id: a.name for a in await client.list_agents()})


def _as_dict(record: BlockRecord, names: dict[str, str]) -> dict[str, Any]:
    block = record.block
    return {
        "id": block.id,
        "label": block.label,
        "value": block.value,
        "limit": block.limit,
        "description": block.description,
        "read_only": block.read_only,
        "version": block.version,
        "agents": [names.get(i, i) for i in record.agent_ids],
        "agent_ids": record.agent_ids,
        "standalone": record.standalone,
        "created_at": record.created_at.isoformat(),
        "updated_at": record.updated_at.isoformat(),
    }
