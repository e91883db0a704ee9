"""Letta's agent-file routes: ``POST /v1/agents/import`` (multipart) and ``GET /v1/agents/{agent_id}/export``."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, HTTPException, Query, UploadFile
from fastapi.responses import Response

from memgpt.server.auth import Caller

router = APIRouter(prefix="/v1/agents", tags=["agents"])
COPY_SUFFIX = "_copy"  # Letta's append_copy_suffix, on by default


@router.post("/import")
async def import_agent(
    client: Caller,
    file: Annotated[UploadFile, File()],
    name: Annotated[str | None, Form()] = None,
    override_name: Annotated[str | None, Form()] = None,
    model: Annotated[str | None, Form()] = None,
    override_model_handle: Annotated[str | None, Form()] = None,
    append_copy_suffix: Annotated[bool, Form()] = True,
    strip_messages: Annotated[bool, Form()] = False,
    with_tools: Annotated[bool, Form(description="memgpt: also import the file's custom tools' code")] = False,
) -> dict[str, Any]:
    """Import the agents of an agent file, all or nothing: ``{"agent_ids": [...]}`` plus memgpt's import
    report (what was mapped differently and what not at all). Letta's form fields are read as Letta reads
    them: ``name`` over ``override_name``, ``model`` over ``override_model_handle``, and without a name every
    agent's name gets ``_copy`` unless ``append_copy_suffix`` is false. The file's custom tools (code) are
    imported only with memgpt's ``with_tools`` field; MCP servers never (the report says how to add them)."""
    data = await file.read()
    given = name or override_name
    suffix = COPY_SUFFIX if append_copy_suffix else ""
    chosen_model = model or override_model_handle
    report = await client.import_agent_file(
        data,
        name=given or None,
        name_suffix=suffix,
        model=chosen_model,
        strip_messages=strip_messages,
        with_tools=with_tools,
    )
    return {"agent_ids": report.agent_ids, "report": report.to_dict()}


@router.get("/{agent_id}/export")
async def export_agent(
    agent_id: str,
    client: Caller,
    scrub_messages: bool = False,
    use_legacy_format: bool = False,
    with_archival: Annotated[bool, Query(description="memgpt: include archival passages")] = False,
) -> Response:
    """The agent (and its shared blocks) as an agent file in Letta's current format, as JSON text."""
    if use_legacy_format:
        raise HTTPException(400, "The legacy agent file format is not written; export the current format.")
    data = await client.export_agent_file(agent_id, with_archival=with_archival, with_messages=not scrub_messages)
    return Response(json.dumps(data, ensure_ascii=False, indent=2), media_type="application/json")
