"""Letta's v1 API, the subset ``letta-client`` 1.x uses for agents, messages, memory and folders."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from memgpt.server.app_info import version
from memgpt.server.letta import agentfile, agents, blocks, folders, inspector, lifecycle, messages, tools

router = APIRouter()
router.include_router(agentfile.router)  # before agents': /v1/agents/import is not an agent id
router.include_router(blocks.router)
router.include_router(agents.router)
router.include_router(messages.router)
router.include_router(folders.router)
router.include_router(inspector.router)
router.include_router(tools.router)
router.include_router(lifecycle.router)


@router.get("/v1/health/", tags=["health"])
@router.get("/v1/health", include_in_schema=False)
async def health() -> dict[str, Any]:
    """No key needed: for load balancers and ``client.health()``."""
    return {"status": "ok", "version": version()}
