"""Saving an edit of a core-memory block that other agents may be editing at the same time.

A block can be shown by several agents (shared blocks); each keeps a copy in its context. An edit is
applied to the agent's copy and saved compare-and-set on the copy's version. If another agent (or a user)
saved the block since, the save changes nothing: the block is read again, the same edit is applied to the
new text and saved again. So two agents appending to one block both keep their lines; an edit that no
longer applies (the text it replaces is gone) fails with a message saying the block changed, which the
agent loop returns to the model as a ``Failed`` result.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable

from memgpt.errors import BlockChangedError, MemoryEditError
from memgpt.memory.blocks import Block, CoreMemory
from memgpt.memory.history import EditCause
from memgpt.memory.protocols import BlockStore

log = logging.getLogger(__name__)
Edit = Callable[[CoreMemory], Block]
RETRIES = 20  # saves of one edit before giving up: each failed one means another save landed in between
BACKOFF_S = 0.005  # a conflict waits up to this times the attempt number (random), so a crowd spreads out


async def save_edit(
    store: BlockStore,
    user_id: str,
    memory: CoreMemory,
    edit: Edit,
    *,
    agent_id: str | None = None,
    cause: EditCause | None = None,
) -> Block:
    """Apply ``edit`` (a :class:`CoreMemory` method call that returns the block it changed) and save it.

    ``memory`` changes only once the save succeeded, to the stored version. ``agent_id``: the agent whose
    copy this is (the block must still be attached to it); ``cause``: what made the edit, for the block's history.
    Raises MemoryEditError when the edit is refused,
    also after re-reading a block someone else changed (the message says so).
    """
    changed_by_other = False
    for attempt in range(RETRIES):
        trial = memory.copy()
        try:
            block = edit(trial)
        except MemoryEditError as exc:
            if changed_by_other:
                raise MemoryEditError(f"The block was just changed by another agent or user, and then: {exc}") from None
            raise
        try:
            saved = await store.update_block(user_id, block, agent_id=agent_id, cause=cause)
        except BlockChangedError:
            log.debug("block %s changed since it was read; applying the edit to the stored version", block.id)
            changed_by_other = True
            await asyncio.sleep(random.uniform(0, BACKOFF_S * (attempt + 1)))
            await _reload(store, user_id, memory, agent_id, block)
            continue
        memory.put(saved)
        return saved
    raise MemoryEditError("The block is being changed by others right now; nothing was saved. Try again.")


async def _reload(store: BlockStore, user_id: str, memory: CoreMemory, agent_id: str | None, block: Block) -> None:
    """Read the stored blocks into ``memory``: all of the agent's (another agent may have changed any), or the one."""
    if agent_id is not None:
        memory.load(await store.agent_blocks(agent_id))
    else:
        memory.put((await store.get_block(user_id, block.id)).block)
