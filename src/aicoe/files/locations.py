"""Where the server may read data named by a path: the one rule every area that reads server-side files follows.

The server never reads a path a user merely typed. A location is read only when it is a local path or a
``file://`` URI that resolves (symbolic links followed) inside ``data_dir/datasets`` or one of the ``scan_roots``
directories; a relative path is taken inside ``data_dir/datasets``. Anything else (``s3://``, ``https://``, a
path elsewhere) is refused with the reason, on the field the caller names. Dataset scans and evaluation runs
both read through here, so an operator widens (or narrows) what the server may read in one setting.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from aicoe.config import Settings
from aicoe.core.errors import FieldError, ValidationFailed

DATASETS_DIR = "datasets"

NOT_LOCAL = "only local paths and file:// URIs can be read; {uri!r} is neither"
OUTSIDE_ROOTS = ("{uri!r} is outside the directories the server may read (data_dir/datasets and the directories in "
                 "the scan_roots setting)")
MISSING_PATH = "{uri!r} does not exist on the server"
BAD_PATH = "{uri!r} is not a valid path on the server"


def allowed_roots(settings: Settings) -> list[Path]:
    return [(settings.data_dir / DATASETS_DIR).resolve(), *(Path(r).resolve() for r in settings.scan_roots)]


def refuse(field: str, message: str) -> ValidationFailed:
    """A 422 whose field error is the message as a sentence."""
    return ValidationFailed(message, errors=[FieldError(field, message[0].upper() + message[1:] + ".")])


def resolve_location(uri: str, settings: Settings, field: str = "location_uri") -> Path:
    """The local path a location names, provided it lies inside an allowed root and exists."""
    raw = uri.strip()
    try:
        parts = urlsplit(raw)
    except ValueError:  # e.g. an unclosed IPv6 bracket: not a URI we read
        raise refuse(field, NOT_LOCAL.format(uri=raw)) from None
    if parts.scheme == "file" and parts.netloc in ("", "localhost"):
        path = Path(unquote(parts.path))
    elif parts.scheme == "" and raw:
        path = Path(raw)
    else:
        raise refuse(field, NOT_LOCAL.format(uri=raw))
    if not path.is_absolute():
        path = settings.data_dir / DATASETS_DIR / path
    try:
        resolved = path.resolve()
        if not any(resolved.is_relative_to(root) for root in allowed_roots(settings)):
            raise refuse(field, OUTSIDE_ROOTS.format(uri=raw))
        exists = resolved.exists()
    except (OSError, ValueError):  # a NUL byte, a name too long for the file system
        raise refuse(field, BAD_PATH.format(uri=raw)) from None
    if not exists:
        raise refuse(field, MISSING_PATH.format(uri=raw))
    return resolved
