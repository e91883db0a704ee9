"""Writing an import plan into the store: every agent of a file, whole or not at all.

The blocks, custom tools, agents, attachments, tool rules, messages and passages of one file are written in
one store transaction: a file refused halfway (a name already taken, a row the store refuses) leaves
nothing behind. The file's custom tools are described in the sandbox before it (only ``with_tools``; see
:mod:`memgpt.agentfile.tools`), and embedding the new messages and passages happens after the commit (a
long embedding must not hold the write lock); until then they are found by full text.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING

from memgpt.agentfile.mapping import ImportPlan, plan_import
from memgpt.agentfile.messages import MEMGPT_FUNCTIONS
from memgpt.agentfile.report import ImportedAgent, ImportReport
from memgpt.agentfile.schema import parse_agent_file
from memgpt.agentfile.tools import describe_tools, not_imported_reasons, register_tools, resolve_rules
from memgpt.errors import AlreadyExistsError
from memgpt.memory.protocols import Store
from memgpt.memory.tools import Tool

if TYPE_CHECKING:
    from memgpt.tools.sandbox import Sandbox


async def import_agent_file(
    store: Store,
    user_id: str,
    data: bytes | str,
    *,
    source: str,
    name: str | None = None,
    name_suffix: str = "",
    model: str | None = None,
    default_model: str | None = None,
    strip_messages: bool = False,
    embed: bool = True,
    tool_sandbox: Sandbox | None = None,
) -> ImportReport:
    """Import every agent of an agent file for ``user_id``; the report of what was imported and what not.
    (The options are :func:`memgpt.agentfile.mapping.plan_import`'s.) The file's custom tools with Python
    source are imported only given ``tool_sandbox`` (the caller's ``with_tools``), which describes them."""
    started = time.perf_counter()
    doc = parse_agent_file(data, f"The agent file {source}" if source != "upload" else "The uploaded agent file")
    plan = plan_import(
        doc,
        user_id,
        source=source,
        name=name,
        name_suffix=name_suffix,
        model=model,
        default_model=default_model,
        strip_messages=strip_messages,
    )
    await describe_tools(plan.tools, tool_sandbox, user_id, plan.report)
    attached = await write_plan(store, plan)
    if embed and store.semantic_search_available:
        for agent in plan.agents:
            while await store.embed_pending_messages(agent.state.id):
                pass
            while await store.embed_pending_passages(agent.state.id):
                pass
    plan.report.agents = _imported(plan, attached)
    plan.report.seconds = time.perf_counter() - started
    return plan.report


async def write_plan(store: Store, plan: ImportPlan) -> dict[str, list[Tool]]:
    """Store the plan's blocks, tools, agents, messages and passages in one transaction; the custom tools
    attached to each agent (by agent id)."""
    attached: dict[str, list[Tool]] = {}
    async with store.transaction():
        for block in plan.blocks.values():
            await store.create_block(plan.user_id, block, standalone=False)
        await register_tools(store, plan.user_id, plan.tools, plan.report)
        missing = not_imported_reasons(plan.tools)
        for agent in plan.agents:
            state = agent.state
            tools = _agent_tools(plan, agent.tool_ids)
            functions = [*MEMGPT_FUNCTIONS, *(t.function_name for t in tools)]
            rules = resolve_rules(agent.rules, functions, missing, plan.report)
            state.settings.tool_rules = [r.to_dict() for r in rules]
            state.blocks = []
            try:
                await store.create_agent(state)
            except AlreadyExistsError:
                raise AlreadyExistsError(
                    f"An agent named {state.name!r} already exists; nothing was imported. Import the file with "
                    "--name NEW (the first agent of the file), or delete or rename the existing agent."
                ) from None
            for file_id in agent.block_ids:
                await store.attach_block(state.id, plan.blocks[file_id].id)
            state.blocks = [plan.blocks[file_id] for file_id in agent.block_ids]
            for tool in tools:
                await store.attach_tool(state.id, tool.id)
            attached[state.id] = tools
            await store.append_messages(state.id, agent.messages)
            if agent.passages:
                await store.insert_passages(state.id, agent.passages)  # unembedded: inside a transaction
    return attached


def _agent_tools(plan: ImportPlan, file_ids: list[str]) -> list[Tool]:
    """The stored tools of an agent's custom tools, each once (two of the file's may be one of the user's)."""
    found: dict[str, Tool] = {}
    for file_id in file_ids:
        stored = plan.tools[file_id].stored
        if stored is not None:
            found.setdefault(stored.id, stored)
    return list(found.values())


def _imported(plan: ImportPlan, attached: dict[str, list[Tool]]) -> list[ImportedAgent]:
    shown = Counter(file_id for agent in plan.agents for file_id in set(agent.block_ids))
    return [
        ImportedAgent(
            id=agent.state.id,
            name=agent.state.name,
            file_id=agent.file_id,
            model=agent.state.model,
            context_window=agent.state.context_window,
            blocks=[plan.blocks[b].label for b in agent.block_ids],
            shared_blocks=[plan.blocks[b].label for b in agent.block_ids if shown[b] > 1],
            messages=len(agent.messages),
            in_context=len(agent.state.fifo_ids),
            functions=[*MEMGPT_FUNCTIONS, *(t.function_name for t in attached.get(agent.state.id, []))],
            passages=len(agent.passages),
            tools=[t.name for t in attached.get(agent.state.id, [])],
            tool_rules=list(agent.state.settings.tool_rules),
        )
        for agent in plan.agents
    ]
