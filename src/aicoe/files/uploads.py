"""Refusing an upload before it is received: a route dependency that checks the declared size."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request

from aicoe.config import Settings
from aicoe.core.deps import SettingsDep
from aicoe.core.errors import FieldError, PayloadTooLarge
from aicoe.files.service import LengthRequired
from aicoe.files.store import human_size

MULTIPART_OVERHEAD = 64 * 1024  # boundaries, part headers and the form fields around the file itself


def size_guard(limit_of: Callable[[Settings], int]) -> Callable[[Request, Settings], None]:
    """A dependency for upload routes. It runs before authentication reads any form, and refuses bodies of unknown
    size and bodies that cannot fit under ``limit_of(settings)``, so an oversized upload is never received."""

    def guard(request: Request, settings: SettingsDep) -> None:
        raw = request.headers.get("content-length")
        if raw is None or not raw.isdigit():
            raise LengthRequired("send the upload with a Content-Length header")
        limit = limit_of(settings)
        if int(raw) > limit + MULTIPART_OVERHEAD:
            size = human_size(limit)
            raise PayloadTooLarge(f"the upload is larger than the limit of {size}", limit_bytes=limit,
                                  errors=[FieldError("file", f"The file is larger than the limit of {size}.")])

    return guard


default_size_guard = size_guard(lambda settings: settings.max_upload_bytes)
"""For uploads to the general file store (``AICOE_MAX_UPLOAD_BYTES``)."""
