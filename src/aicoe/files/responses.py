"""Serving a stored file: one streaming response for every area that offers downloads (files, evidence)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

from fastapi.responses import StreamingResponse

from aicoe.config import Settings
from aicoe.files.service import media_type, store_for
from aicoe.files.store import CHUNK_SIZE
from aicoe.models.files import StoredFile


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback name and the exact UTF-8 name (RFC 6266 / RFC 5987)."""
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\' else "_" for ch in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def download(settings: Settings, row: StoredFile) -> StreamingResponse:
    """The stored bytes, always as an attachment (never rendered inline by the browser)."""
    handle = store_for(settings).open(row.sha256)

    def chunks() -> Iterator[bytes]:
        with handle:
            while chunk := handle.read(CHUNK_SIZE):
                yield chunk

    return StreamingResponse(chunks(), media_type=media_type(row), headers={
        "Content-Length": str(row.size),
        "Content-Disposition": content_disposition(row.filename),
        "ETag": f'"{row.sha256}"',
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-cache",
    })
