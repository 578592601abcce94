"""Where file bytes live: a small interface, and a local implementation content-addressed by SHA-256.

The interface is what an object store (S3, Azure Blob, GCS) would implement to replace the local one: put a
stream and learn its hash and size, open, test and delete by hash. Identical content is stored once.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import BinaryIO, NamedTuple, Protocol

from aicoe.core.errors import NotFound, PayloadTooLarge

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
CHUNK_SIZE = 1 << 20


class Blob(NamedTuple):
    sha256: str
    size: int


class ContentCheck(Protocol):
    """Sees every chunk as it is stored (``feed``) and the end of the stream (``finish``); raises to refuse."""

    def feed(self, chunk: bytes) -> None: ...

    def finish(self) -> None: ...


class FileStore(Protocol):
    def put(self, stream: BinaryIO, *, max_bytes: int | None = None, check: ContentCheck | None = None) -> Blob:
        """Store the stream; refuse (``PayloadTooLarge`` or the check's error) leaving nothing behind."""
        ...

    def open(self, sha256: str) -> BinaryIO: ...

    def exists(self, sha256: str) -> bool: ...

    def delete(self, sha256: str) -> bool: ...


def human_size(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    value, unit = n / 1024, "KiB"
    for bigger in ("MiB", "GiB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{value:.1f}".removesuffix(".0") + f" {unit}"


class LocalFileStore:
    """Files under ``root/ab/cd/<sha256>``, written to ``root/tmp`` first and renamed into place atomically."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.tmp = self.root / "tmp"

    def path_for(self, sha256: str) -> Path:
        if not SHA256_RE.match(sha256):
            raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, stream: BinaryIO, *, max_bytes: int | None = None, check: ContentCheck | None = None) -> Blob:
        self.tmp.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=self.tmp, prefix="upload-")
        digest, size = hashlib.sha256(), 0
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK_SIZE):
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise PayloadTooLarge(f"the file is larger than the upload limit of {human_size(max_bytes)}",
                                              limit_bytes=max_bytes)
                    if check is not None:
                        check.feed(chunk)
                    digest.update(chunk)
                    out.write(chunk)
                if check is not None:
                    check.finish()
                out.flush()
                os.fsync(out.fileno())
            sha = digest.hexdigest()
            final = self.path_for(sha)
            if final.exists():  # the same content is already stored
                os.unlink(tmp_name)
            else:
                final.parent.mkdir(parents=True, exist_ok=True)
                os.chmod(tmp_name, 0o444)
                os.replace(tmp_name, final)
            return Blob(sha, size)
        except BaseException:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)
            raise

    def open(self, sha256: str) -> BinaryIO:
        try:
            return self.path_for(sha256).open("rb")
        except FileNotFoundError:
            raise NotFound(f"the content {sha256} is missing from the file store") from None

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def delete(self, sha256: str) -> bool:
        """Remove the content; False when it was not there. Callers check no record still refers to it."""
        try:
            self.path_for(sha256).unlink()
            return True
        except FileNotFoundError:
            return False
