"""The server's schedule: every agent's retention policy applied every ``MEMGPT_MAINTENANCE_INTERVAL`` seconds
(default 3600; 0 turns it off), the first time a minute after start. Each run is logged at INFO: per agent,
how many messages and passages went (ids and counts only, never contents)."""

from __future__ import annotations

import asyncio
import logging
import os

from memgpt.client import Client
from memgpt.errors import ConfigError, MemgptError

log = logging.getLogger(__name__)
DEFAULT_INTERVAL_S = 3600.0
FIRST_RUN_S = 60.0


def interval() -> float:
    raw = os.environ.get("MEMGPT_MAINTENANCE_INTERVAL", "").strip()
    if not raw:
        return DEFAULT_INTERVAL_S
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"MEMGPT_MAINTENANCE_INTERVAL must be seconds (0 turns it off), got {raw!r}.") from None
    if value < 0:
        raise ConfigError(f"MEMGPT_MAINTENANCE_INTERVAL must be 0 or more seconds, got {raw!r}.")
    return value


async def run_once(client: Client) -> int:
    """Apply every retention policy; how many agents lost something."""
    results = await client.maintenance()
    changed = [r for r in results if r.messages or r.passages]
    for r in changed:
        log.info("retention: agent %s: %d message(s), %d passage(s) deleted", r.agent_id, r.messages, r.passages)
    log.info("retention: %d agent(s) with a policy, %d changed", len(results), len(changed))
    return len(changed)


async def run_periodically(client: Client, every: float) -> None:
    await asyncio.sleep(min(FIRST_RUN_S, every))
    while True:
        try:
            await run_once(client)
        except MemgptError as exc:  # the next run tries again
            log.warning("retention run failed: %s", type(exc).__name__)
        await asyncio.sleep(every)
