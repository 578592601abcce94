"""Which files aicoe accepts, and the check that their content is what their name says.

The type comes from the file name's extension; a declared content type that contradicts it is refused. Binary
formats must start (Parquet: also end) with their signature; text formats must be UTF-8 without NUL bytes. The
check runs on the stream, chunk by chunk, so it costs no second pass over a large upload.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from aicoe.core.errors import FieldError, UnsupportedMediaType, ValidationFailed

ZIP_SIGNATURE = b"PK\x03\x04"
OOXML = "application/vnd.openxmlformats-officedocument."
GENERIC_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream", "application/unknown"})


@dataclass(frozen=True)
class FileType:
    label: str
    extensions: tuple[str, ...]
    content_type: str
    aliases: frozenset[str] = field(default_factory=frozenset)
    head: bytes | None = None
    tail: bytes | None = None
    text: bool = False

    @property
    def media_type(self) -> str:
        """The Content-Type to serve the file with."""
        return f"{self.content_type}; charset=utf-8" if self.text else self.content_type

    def accepts_declared(self, declared: str) -> bool:
        return declared in GENERIC_TYPES or declared == self.content_type or declared in self.aliases


TYPES: tuple[FileType, ...] = (
    FileType("PDF document", (".pdf",), "application/pdf", frozenset({"application/x-pdf"}), head=b"%PDF-"),
    FileType("PNG image", (".png",), "image/png", head=b"\x89PNG\r\n\x1a\n"),
    FileType("JPEG image", (".jpg", ".jpeg"), "image/jpeg", frozenset({"image/pjpeg"}), head=b"\xff\xd8\xff"),
    FileType("Word document", (".docx",), OOXML + "wordprocessingml.document", head=ZIP_SIGNATURE),
    FileType("Excel workbook", (".xlsx",), OOXML + "spreadsheetml.sheet", head=ZIP_SIGNATURE),
    FileType("PowerPoint presentation", (".pptx",), OOXML + "presentationml.presentation", head=ZIP_SIGNATURE),
    FileType("Parquet file", (".parquet",), "application/vnd.apache.parquet",
             frozenset({"application/x-parquet", "application/parquet"}), head=b"PAR1", tail=b"PAR1"),
    FileType("gzip archive", (".gz",), "application/gzip", frozenset({"application/x-gzip"}), head=b"\x1f\x8b"),
    FileType("CSV file", (".csv",), "text/csv",
             frozenset({"application/csv", "text/comma-separated-values", "application/vnd.ms-excel", "text/plain"}),
             text=True),
    FileType("JSON file", (".json",), "application/json", frozenset({"text/json", "text/plain"}), text=True),
    FileType("JSON Lines file", (".jsonl", ".ndjson"), "application/x-ndjson",
             frozenset({"application/jsonl", "application/json", "text/plain"}), text=True),
    FileType("text file", (".txt", ".log"), "text/plain", text=True),
    FileType("Markdown file", (".md", ".markdown"), "text/markdown", frozenset({"text/x-markdown", "text/plain"}),
             text=True),
)
BY_EXTENSION = {ext: t for t in TYPES for ext in t.extensions}
BY_CONTENT_TYPE = {t.content_type: t for t in TYPES}
ALLOWED_EXTENSIONS = ", ".join(sorted(BY_EXTENSION))


def _refuse(detail: str) -> UnsupportedMediaType:
    return UnsupportedMediaType(detail, errors=[FieldError("file", detail)])


def detect(filename: str, declared: str | None) -> FileType:
    """The type named by the extension, provided the declared content type (if any) agrees with it."""
    ext = PurePosixPath(filename.lower()).suffix
    filetype = BY_EXTENSION.get(ext)
    if filetype is None:
        shown = ext or "(no extension)"
        raise _refuse(f"files of type {shown} are not accepted; allowed: {ALLOWED_EXTENSIONS}")
    base = (declared or "").split(";", 1)[0].strip().lower()
    if not filetype.accepts_declared(base):
        raise _refuse(f"{filename!r} is sent as {base} but its name says {filetype.label} ({filetype.content_type})")
    return filetype


class ContentCheck:
    """Fed every chunk of an upload; raises 415 as soon as the content contradicts the type."""

    def __init__(self, filetype: FileType, filename: str) -> None:
        self.filetype = filetype
        self.filename = filename
        self.size = 0
        self._head = b""
        self._tail = b""
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict") if filetype.text else None

    def feed(self, chunk: bytes) -> None:
        head = self.filetype.head
        if head is not None and len(self._head) < len(head):
            self._head += chunk[: len(head) - len(self._head)]
            if not head.startswith(self._head):
                raise self._mismatch()
        tail = self.filetype.tail
        if tail is not None:
            self._tail = (self._tail + chunk)[-len(tail):]
        if self._decoder is not None:
            nul = chunk.find(b"\x00")
            if nul >= 0:
                raise _refuse(f"{self.filename!r} contains binary data (a NUL byte at offset {self.size + nul}); "
                              f"a {self.filetype.label} must be UTF-8 text")
            start = self.size - len(self._decoder.getstate()[0])  # where the bytes being decoded begin
            try:
                self._decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                raise self._not_utf8(start + exc.start) from None
        self.size += len(chunk)

    def finish(self) -> None:
        if self.size == 0:
            raise ValidationFailed("the file is empty", errors=[FieldError("file", "The file is empty.")])
        if self.filetype.head is not None and self._head != self.filetype.head:
            raise self._mismatch()
        if self.filetype.tail is not None and self._tail != self.filetype.tail:
            raise self._mismatch()
        if self._decoder is not None:
            start = self.size - len(self._decoder.getstate()[0])
            try:
                self._decoder.decode(b"", final=True)
            except UnicodeDecodeError as exc:
                raise self._not_utf8(start + exc.start) from None

    def _mismatch(self) -> UnsupportedMediaType:
        return _refuse(f"the content of {self.filename!r} is not a {self.filetype.label} "
                       "(its signature bytes do not match)")

    def _not_utf8(self, offset: int) -> UnsupportedMediaType:
        return _refuse(f"{self.filename!r} is not UTF-8 text (invalid byte sequence at offset {offset}); "
                       f"save the {self.filetype.label} as UTF-8")
