"""Upload and download: POST /api/v1/files (multipart, part ``file``), GET /api/v1/files/{id}[/content].

The request's Content-Length is checked before the body is read, so an oversized upload is refused without
being received; the exact limit and the type rules are enforced again while the bytes stream into the store.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from aicoe.auth.deps import require
from aicoe.core.deps import SessionDep, SettingsDep
from aicoe.core.errors import FieldError, ValidationFailed
from aicoe.files import responses, service, uploads
from aicoe.files.schemas import FileOut
from aicoe.models.files import StoredFile

router = APIRouter(tags=["files"])

@router.post("/files", response_model=FileOut, status_code=201, dependencies=[Depends(uploads.default_size_guard)])
async def upload(request: Request, session: SessionDep, settings: SettingsDep,
                 principal: require("file:write")) -> StoredFile:
    """Upload one file as the multipart part ``file``; identical content is stored once."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise ValidationFailed("send the file as multipart/form-data", errors=[FieldError("file", "Missing.")])
    form = await request.form(max_files=1, max_fields=10)
    part = form.get("file")
    if not isinstance(part, UploadFile):
        raise ValidationFailed("attach the file as the multipart part named 'file'",
                               errors=[FieldError("file", "Choose a file to upload.")])
    return await run_in_threadpool(
        service.save, session, principal, service.store_for(settings), part.file,
        filename=part.filename, declared_type=part.content_type, max_bytes=settings.max_upload_bytes,
    )


@router.get("/files/{file_id}", response_model=FileOut)
def get_file(session: SessionDep, principal: require("file:read"), file_id: int) -> StoredFile:
    return service.get(session, principal, file_id)


@router.get("/files/{file_id}/content")
def download(session: SessionDep, settings: SettingsDep, principal: require("file:read"),
             file_id: int) -> StreamingResponse:
    """The stored bytes, always as an attachment (never rendered inline by the browser)."""
    return responses.download(settings, service.get(session, principal, file_id))
