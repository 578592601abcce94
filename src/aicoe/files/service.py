"""Recording uploads: check the type, store the bytes, add the StoredFile row and its audit event.

The bytes are written before the row; if the transaction then rolls back, the content stays in the store
unreferenced (harmless: it is addressed by its hash and reused by the next identical upload).
A caller with CoE-wide ``file:read`` sees every file; one limited to business units sees the files they uploaded.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from aicoe.audit import ledger
from aicoe.auth.principal import Principal
from aicoe.config import Settings
from aicoe.core.errors import DomainError, FieldError, NotFound, ValidationFailed
from aicoe.files import types
from aicoe.files.store import FileStore, LocalFileStore
from aicoe.models.files import StoredFile

MAX_FILENAME = 255


class LengthRequired(DomainError):
    status, code, title = 411, "length-required", "Length required"


def store_for(settings: Settings) -> FileStore:
    return LocalFileStore(settings.data_dir / "files")


def clean_filename(raw: str | None) -> str:
    """The last path component, without control characters, at most 255 characters (extension kept)."""
    name = re.split(r"[\\/]", raw or "")[-1]
    name = "".join(ch for ch in unicodedata.normalize("NFC", name) if unicodedata.category(ch)[0] != "C").strip()
    if name in {"", ".", ".."}:
        raise ValidationFailed("the upload has no file name", errors=[FieldError("file", "The file needs a name.")])
    if len(name) > MAX_FILENAME:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: MAX_FILENAME - len(ext) - 1] + dot + ext) if dot and len(ext) < 16 else name[:MAX_FILENAME]
    return name


def save(session: Session, actor: Principal | ledger.AuditActor, store: FileStore, stream: BinaryIO, *,
         filename: str | None, declared_type: str | None, max_bytes: int) -> StoredFile:
    name = clean_filename(filename)
    filetype = types.detect(name, declared_type)
    blob = store.put(stream, max_bytes=max_bytes, check=types.ContentCheck(filetype, name))
    row = StoredFile(sha256=blob.sha256, size=blob.size, filename=name, content_type=filetype.content_type,
                     created_by_id=actor.user.id if isinstance(actor, Principal) else None)
    session.add(row)
    session.flush()
    audit_actor = actor.audit_actor if isinstance(actor, Principal) else actor
    ledger.append(session, audit_actor, "upload", "stored_file", row.id, ledger.created(row))
    return row


def files_query(principal: Principal) -> Select[tuple[StoredFile]]:
    stmt = select(StoredFile)
    if principal.scope("file:read") is not None:
        stmt = stmt.where(StoredFile.created_by_id == principal.user.id)
    return stmt


def get(session: Session, principal: Principal, file_id: int) -> StoredFile:
    row = session.scalar(files_query(principal).where(StoredFile.id == file_id))
    if row is None:
        raise NotFound(f"no file {file_id}")
    return row


def media_type(row: StoredFile) -> str:
    """The Content-Type to serve with: text types carry their (always UTF-8) charset."""
    filetype = types.BY_CONTENT_TYPE.get(row.content_type)
    return filetype.media_type if filetype else row.content_type


@contextmanager
def private_workdir(settings: Settings, prefix: str) -> Iterator[Path]:
    """A directory of one's own under the data directory, removed afterwards (uploads may hold personal data:
    never the shared /tmp)."""
    parent = settings.data_dir / "tmp"
    parent.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def copy_out(settings: Settings, stored: StoredFile, directory: Path) -> Path:
    """The stored file copied into ``directory`` under its own (cleaned) name, so readers that tell formats by
    extension recognise it."""
    target = directory / clean_filename(stored.filename)
    with store_for(settings).open(stored.sha256) as source, target.open("wb") as out:
        shutil.copyfileobj(source, out)
    return target
