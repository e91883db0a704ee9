"""Letta's folder routes (memgpt's sources): create, list, delete, upload a file and read its status."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Query, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict

from memgpt.errors import NotFoundError
from memgpt.server.auth import Caller
from memgpt.server.letta import convert
from memgpt.server.letta.paging import Order, window

router = APIRouter(prefix="/v1/folders", tags=["folders"])
Json = dict[str, Any]


class FolderCreate(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str
    description: str | None = None


@router.post("/", include_in_schema=False)
@router.post("")
async def create_folder(body: FolderCreate, client: Caller) -> Json:
    return convert.folder(await client.create_source(body.name, description=body.description or ""))


@router.get("/", include_in_schema=False)
@router.get("")
async def list_folders(
    client: Caller,
    after: str | None = None,
    before: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    order: Order = "asc",
    name: str | None = None,
) -> list[Json]:
    sources = [s for s in await client.list_sources() if name is None or s.name == name]
    return [convert.folder(s) for s in window(sources, lambda s: s.id, after, before, limit, order)]


@router.get("/{folder_id}")
async def get_folder(folder_id: str, client: Caller) -> Json:
    return convert.folder(await client.get_source(folder_id))


@router.delete("/{folder_id}")
async def delete_folder(folder_id: str, client: Caller) -> None:
    await client.delete_source(folder_id)


@router.post("/{folder_id}/upload")
async def upload_file(
    folder_id: str,
    client: Caller,
    file: Annotated[UploadFile, File()],
    duplicate_handling: Literal["skip", "error", "suffix", "replace"] = "suffix",
    name: str | None = None,
) -> Json:
    """The file is loaded before the answer (``processing_status`` is final: ``completed`` or ``error``)."""
    source = await client.get_source(folder_id)
    data = await file.read()
    stored, outcome = await client.upload(
        source.id, name or file.filename or "upload", data, duplicates=duplicate_handling
    )
    if stored is None:  # skipped: unreadable, empty, a kind memgpt does not read
        failed = _unstored(source.id, name or file.filename or "upload", len(data), outcome.reason or "not loaded")
        return failed
    return convert.file(source.id, stored)


def _unstored(source_id: str, name: str, size: int, reason: str) -> Json:
    from memgpt.memory.protocols import SourceFile

    record = SourceFile(source_id=source_id, path=name, content_hash="", size=size)
    return convert.file(source_id, record, status="error", error=reason)


@router.get("/{folder_id}/files")
async def list_files(
    folder_id: str,
    client: Caller,
    after: str | None = None,
    before: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
    order: Order = "desc",
) -> list[Json]:
    source = await client.get_source(folder_id)
    files = [f for f in await client.list_source_files(source.id) if f.state == "done"]
    return [convert.file(source.id, f) for f in window(files, lambda f: f.id, after, before, limit, order)]


@router.get("/{folder_id}/files/{file_id}")
async def get_file(folder_id: str, file_id: str, client: Caller) -> Json:
    source = await client.get_source(folder_id)
    for found in await client.list_source_files(source.id):
        if found.id == file_id and found.state == "done":
            return convert.file(source.id, found)
    raise NotFoundError(f"No file {file_id!r} in folder {source.name!r}.")


@router.delete("/{folder_id}/{file_id}", status_code=204)
async def delete_file(folder_id: str, file_id: str, client: Caller) -> Response:
    await client.delete_source_file(folder_id, file_id)
    return Response(status_code=204)
