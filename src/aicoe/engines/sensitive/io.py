"""Reading files for scanning and rewriting: format detection, streaming readers, and one error type with a reason.

Formats are recognised by extension and confirmed by magic bytes (``PAR1`` for Parquet, a zip holding
``xl/workbook.xml`` for Excel, ``1f8b`` for gzip — gzip is detected by content, so ``data.csv.gz`` and a gzipped
file without the suffix both work). Tabular files come back as pyarrow ``RecordBatch`` streams: CSV/TSV and Excel as
all-string columns (a spreadsheet or CSV has no trustworthy types, and a phone number must stay text), Parquet and
JSON Lines and JSON arrays (:mod:`.jsondoc`) with their own types. Text is strict UTF-8. Anything that cannot be
read raises ``UnreadableFile`` whose ``reason`` is one of the message constants below — never a library message,
because those can quote the file's content (pyarrow's CSV errors do) and reasons end up in logs and reports. Size
limits are the caller's (``check_size``); a gzip's size is its size on disk.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import json
import mmap
import os
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from io import BufferedReader, RawIOBase, StringIO
from itertools import islice, zip_longest
from pathlib import Path
from typing import IO, Any, Literal
from xml.etree import ElementTree

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from aicoe.engines.sensitive import jsondoc

Kind = Literal["csv", "tsv", "parquet", "jsonl", "json", "excel", "text"]
TABULAR_KINDS: tuple[str, ...] = ("csv", "tsv", "parquet", "jsonl", "json", "excel")
EXTENSIONS: dict[str, str] = {
    ".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".parquet": "parquet", ".pq": "parquet",
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".jsonlines": "jsonl", ".json": "json",
    ".xlsx": "excel", ".xlsm": "excel",
    ".txt": "text", ".text": "text", ".log": "text", ".md": "text", ".yaml": "text", ".yml": "text",
    ".ini": "text", ".cfg": "text", ".conf": "text", ".env": "text", ".properties": "text", ".toml": "text",
    ".xml": "text", ".html": "text", ".sql": "text",
}
GZIP_SUFFIXES: tuple[str, ...] = (".gz", ".gzip")
TABLE_METADATA_KEY = b"aicoe.table"
SNIFF_BYTES = 8192
# Field separators a ".csv" file may use, in the order that breaks a tie, and how many rows decide.
CSV_DELIMITERS: tuple[str, ...] = (",", ";", "\t", "|")
SNIFF_ROWS = 50
TEXT_CHUNK_BYTES = 1 << 20
# The CSV reader's block, and the largest it grows to for a record longer than a block.
CSV_BLOCK_BYTES = 1 << 20
CSV_MAX_BLOCK_BYTES = 1 << 28
JSONL_BATCH_ROWS = 1 << 16
# Workbooks up to this size are read by calamine, which holds a sheet in memory; larger ones stream (openpyxl).
CALAMINE_MAX_BYTES = 64 << 20
# Rows of a sheet per batch: as many as a table scan finds repeated values across.
EXCEL_BATCH_ROWS = 1 << 16

CANNOT_OPEN = "cannot open: {error}"
NOT_A_FILE = "not a regular file"
TOO_LARGE = "file is {size} bytes, over the limit of {limit} bytes"
UNKNOWN_FORMAT = "unknown format: not a supported table format and not UTF-8 text"
BINARY_FILE = "binary file: NUL byte at byte offset {offset}"
NOT_UTF8 = "not UTF-8: invalid byte 0x{byte:02x} at byte offset {offset}"
CORRUPT_FILE = "corrupt or truncated {kind} file"
TRUNCATED_GZIP = "truncated gzip stream: the compressed data ends early"
CORRUPT_GZIP = "corrupt gzip stream"
ENCRYPTED_WORKBOOK = "password-protected or encrypted workbook"
LEGACY_OFFICE = "legacy OLE2 Office document (.xls/.doc): save it as .xlsx"
NOT_A_WORKBOOK = "zip archive that is not an Excel workbook"
CSV_FIELD_COUNT = "malformed {kind}: a row has {actual} fields where the header has {expected}"
CSV_MALFORMED = "malformed {kind}: unbalanced quotes or unparseable rows"
INVALID_JSON = "invalid JSON on line {line}"
NOT_JSON_OBJECT = "line {line} is not a JSON object"
JSON_TOO_DEEP = "JSON nested too deeply to read"

_KIND_LABELS = {"csv": "CSV", "tsv": "TSV", "parquet": "Parquet", "jsonl": "JSON Lines", "json": "JSON",
                "excel": "Excel", "text": "text"}
_GZIP_MAGIC = b"\x1f\x8b"
_UTF8_BOM = b"\xef\xbb\xbf"
_PARQUET_MAGIC = b"PAR1"
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")


class UnreadableFile(Exception):
    """A file that cannot be scanned; ``reason`` is one of this module's message constants, filled in."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")

    def __reduce__(self) -> tuple[type[UnreadableFile], tuple[str, str]]:
        return UnreadableFile, (self.path, self.reason)


@dataclass(frozen=True, slots=True)
class FileFormat:
    """What a file holds: ``kind``, whether it is gzip-compressed and, for a CSV file whose fields are not
    separated by commas (a semicolon, a tab or a pipe: what spreadsheets export in many locales), ``delimiter``."""

    kind: Kind
    compressed: bool = False
    delimiter: str | None = None

    @property
    def separator(self) -> str:
        """The field separator of a CSV or TSV file."""
        return self.delimiter or ("\t" if self.kind == "tsv" else ",")

    @property
    def tabular(self) -> bool:
        return self.kind in TABULAR_KINDS

    @property
    def label(self) -> str:
        """For messages: "CSV", "Parquet (gzip)"."""
        return _KIND_LABELS[self.kind] + (" (gzip)" if self.compressed else "")


@dataclass(frozen=True, slots=True)
class ByteRange:
    """Bytes ``start`` to ``end`` of an uncompressed file, from a record start to a record start (or the end),
    with ``line`` newlines before ``start`` (so messages can name a line of the file)."""

    start: int
    end: int
    line: int = 0


def check_size(path: str | os.PathLike[str], max_bytes: int | None) -> int:
    """The file's size on disk; ``UnreadableFile`` when it is over ``max_bytes`` (None: no limit)."""
    try:
        size = os.stat(path).st_size
    except OSError as exc:
        raise UnreadableFile(path, CANNOT_OPEN.format(error=exc.strerror or exc)) from None
    if max_bytes is not None and size > max_bytes:
        raise UnreadableFile(path, TOO_LARGE.format(size=size, limit=max_bytes))
    return size


def open_binary(path: str | os.PathLike[str]) -> IO[bytes]:
    """Open for reading, decompressing transparently when the content is gzip (by magic bytes, not name)."""
    try:
        raw = open(path, "rb")  # the caller closes it
    except OSError as exc:
        raise UnreadableFile(path, CANNOT_OPEN.format(error=exc.strerror or exc)) from None
    if raw.read(2) == _GZIP_MAGIC:
        raw.seek(0)
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    raw.seek(0)
    return raw


def detect_format(path: str | os.PathLike[str]) -> FileFormat:
    """The file's format from its extension, confirmed (or overruled) by its first bytes."""
    path = Path(path)
    if not path.is_file():
        if not path.exists():
            raise UnreadableFile(path, CANNOT_OPEN.format(error="No such file or directory"))
        raise UnreadableFile(path, NOT_A_FILE)
    name = path.name.lower()
    with open_binary(path) as stream:
        compressed = isinstance(stream, gzip.GzipFile)
        with _translated(path, "text"):
            head = stream.read(SNIFF_BYTES)
    if compressed:
        for suffix in GZIP_SUFFIXES:
            if name.endswith(suffix):
                name = name[: -len(suffix)]
                break
    by_extension = EXTENSIONS.get(Path(name).suffix)
    kind = _kind_from_magic(path, head, by_extension, compressed)
    if kind == "text" and b"\x00" in head:
        raise UnreadableFile(path, BINARY_FILE.format(offset=head.index(b"\x00")))
    delimiter = sniff_delimiter(head, complete=len(head) < SNIFF_BYTES) if kind == "csv" else None
    return FileFormat(kind, compressed, delimiter if delimiter != "," else None)  # type: ignore[arg-type]


def sniff_delimiter(head: bytes, *, complete: bool) -> str:
    """The field separator of a CSV file that starts with ``head`` (the whole file when ``complete``): of
    :data:`CSV_DELIMITERS`, the one that splits the header into two or more fields and the most of the first rows
    into as many fields as the header (quotes respected); more header fields, then the earlier in that tuple, break
    a tie. A comma when none splits the header. A value may hold another candidate ("Smith, John" in a
    semicolon file): the header rarely does, and the rows that agree with it decide."""
    text = head.decode("utf-8", "replace")
    best, best_key = ",", (0.0, 0)
    for delimiter in CSV_DELIMITERS:
        try:
            rows = [row for row in islice(csv.reader(StringIO(text, newline=""), delimiter=delimiter),
                                          SNIFF_ROWS + 1) if row]
        except csv.Error:
            continue
        if not complete and len(rows) > 1:
            rows.pop()  # cut off by the end of ``head``
        if not rows or len(rows[0]) < 2:
            continue
        key = (sum(len(row) == len(rows[0]) for row in rows) / len(rows), len(rows[0]))
        if key > best_key:
            best, best_key = delimiter, key
    return best


def _kind_from_magic(path: Path, head: bytes, by_extension: str | None, compressed: bool) -> str:
    if head.startswith(_PARQUET_MAGIC):
        return "parquet"
    if head.startswith(_ZIP_MAGIC):
        return _zip_kind(path, compressed, by_extension)
    if head.startswith(_OLE_MAGIC):
        raise UnreadableFile(path, ENCRYPTED_WORKBOOK if _has_encrypted_package(path, compressed) else LEGACY_OFFICE)
    if by_extension in ("parquet", "excel"):
        raise UnreadableFile(path, CORRUPT_FILE.format(kind=_KIND_LABELS[by_extension]))
    if by_extension == "json":  # an array of records, one record per line, or a document read as text
        if head.removeprefix(_UTF8_BOM).lstrip(b" \t\r\n").startswith(b"["):
            return "json"
        return "jsonl" if _first_line_is_object(head) else "text"
    if by_extension is not None:
        return by_extension
    if b"\x00" in head or not _looks_utf8(head):
        raise UnreadableFile(path, UNKNOWN_FORMAT)
    return "text"


def _zip_kind(path: Path, compressed: bool, by_extension: str | None) -> str:
    with _seekable(path, FileFormat("excel", compressed)) as source:
        try:
            with zipfile.ZipFile(source) as archive:
                is_workbook = "xl/workbook.xml" in archive.namelist()
        except zipfile.BadZipFile:
            kind = "Excel" if by_extension == "excel" else "zip"
            raise UnreadableFile(path, CORRUPT_FILE.format(kind=kind)) from None
    if is_workbook:
        return "excel"
    raise UnreadableFile(path, NOT_A_WORKBOOK if by_extension == "excel" else UNKNOWN_FORMAT)


def _has_encrypted_package(path: Path, compressed: bool) -> bool:
    """An Office file encrypted with a password is an OLE2 container holding an ``EncryptedPackage`` stream."""
    with _seekable(path, FileFormat("excel", compressed)) as source:
        with open(source, "rb") if isinstance(source, str) else source as file:
            file.seek(0)
            with mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as view:
                return view.find(_ENCRYPTED_PACKAGE) >= 0


def _first_line_is_object(head: bytes) -> bool:
    line = head.lstrip().split(b"\n", 1)[0]
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def _looks_utf8(head: bytes) -> bool:
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return True


@contextmanager
def _translated(path: str | os.PathLike[str], kind: str) -> Iterator[None]:
    """Turn the libraries' exceptions into ``UnreadableFile`` reasons that never quote the content."""
    try:
        yield
    except UnreadableFile:
        raise
    except EOFError:
        raise UnreadableFile(path, TRUNCATED_GZIP) from None
    except (gzip.BadGzipFile, zlib.error):
        raise UnreadableFile(path, CORRUPT_GZIP) from None
    except (pa.ArrowException, zipfile.BadZipFile, KeyError, OSError):
        raise UnreadableFile(path, CORRUPT_FILE.format(kind=_KIND_LABELS[kind])) from None


@contextmanager
def _seekable(path: str | os.PathLike[str], fmt: FileFormat) -> Iterator[str | IO[bytes]]:
    """A seekable source for formats that need random access (Parquet, zip): the path, or a decompressed temp file."""
    if not fmt.compressed:
        yield str(path)
        return
    with tempfile.TemporaryFile() as spool:
        with open_binary(path) as stream, _translated(path, fmt.kind):
            shutil.copyfileobj(stream, spool, 1 << 20)
        spool.seek(0)
        yield spool


def iter_text_chunks(path: str | os.PathLike[str], fmt: FileFormat | None = None, *,
                     chunk_bytes: int = TEXT_CHUNK_BYTES, on_position: Callable[[int], None] | None = None,
                     byte_range: ByteRange | None = None) -> Iterator[str]:
    """Decode a text file (or its ``byte_range``) strictly as UTF-8 in chunks that end at a line break (except
    the last one).

    Bounded memory for large logs; a NUL byte means a binary file and an invalid sequence names its byte offset
    in the file (in the decompressed stream for gzip files). ``on_position`` as for :func:`read_batches`.
    One block is read ahead, so the last block goes out whole with the lines before it: a file that fits in
    one block (most files) is one chunk, whether or not it ends with a line break.
    """
    consumed = 0 if byte_range is None else byte_range.start
    carry = b""
    with _positioned(path, byte_range) as (stream, tell), _translated(path, fmt.kind if fmt else "text"):

        def read() -> bytes:
            block = stream.read(chunk_bytes)
            if on_position is not None:
                on_position(tell())
            return block

        block = read()
        while block:
            following = read()
            data = carry + block
            if not following:
                yield _decode(path, data, consumed)
                return
            cut = data.rfind(b"\n") + 1
            if cut:
                yield _decode(path, data[:cut], consumed)
                consumed += cut
            carry = data[cut:]
            block = following


def _decode(path: str | os.PathLike[str], data: bytes, consumed: int) -> str:
    """The chunk as text; otherwise the first problem in it, so the reason names the file's first bad byte
    whichever way the file was cut into chunks."""
    nul = data.find(b"\x00")
    try:
        text = data[: nul if nul >= 0 else len(data)].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(path, NOT_UTF8.format(byte=data[exc.start], offset=consumed + exc.start)) from None
    if nul >= 0:
        raise UnreadableFile(path, BINARY_FILE.format(offset=consumed + nul))
    return text


def read_text(path: str | os.PathLike[str], fmt: FileFormat | None = None) -> str:
    """The whole file as a string (strict UTF-8)."""
    return "".join(iter_text_chunks(path, fmt))


def batch_table(batch: pa.RecordBatch) -> str | None:
    """The table a batch came from: the sheet name for Excel, None for single-table formats."""
    metadata = batch.schema.metadata or {}
    value = metadata.get(TABLE_METADATA_KEY)
    return value.decode("utf-8") if value is not None else None


@dataclass(frozen=True, slots=True)
class ParquetLayout:
    """Row and compressed byte counts per row group: the units for parallel scans and row-group sampling."""

    row_group_rows: tuple[int, ...]
    row_group_bytes: tuple[int, ...]

    @property
    def num_rows(self) -> int:
        return sum(self.row_group_rows)


def parquet_layout(path: str | os.PathLike[str], fmt: FileFormat) -> ParquetLayout:
    with _seekable(path, fmt) as source, _translated(path, "parquet"):
        metadata = pq.ParquetFile(source).metadata
        groups = range(metadata.num_row_groups)
        return ParquetLayout(tuple(metadata.row_group(i).num_rows for i in groups),
                             tuple(_compressed_size(metadata, i) for i in groups))


def _compressed_size(metadata: pq.FileMetaData, group: int) -> int:
    row_group = metadata.row_group(group)
    return sum(row_group.column(i).total_compressed_size for i in range(row_group.num_columns))


def read_batches(path: str | os.PathLike[str], fmt: FileFormat, *, batch_rows: int = 65_536,
                 columns: Sequence[str] | None = None, row_groups: Sequence[int] | None = None,
                 byte_range: ByteRange | None = None,
                 on_position: Callable[[int], None] | None = None) -> Iterator[pa.RecordBatch]:
    """Stream a tabular file as record batches of at most ``batch_rows`` rows.

    ``columns`` keeps only those top-level columns (ones the file lacks are ignored); ``row_groups`` reads only
    those Parquet row groups; ``byte_range`` only the records in that range of an uncompressed CSV, TSV or JSON
    Lines file (a CSV range with the file's header names; the CSV reader's blocks are joined into batches of
    ``batch_rows``, the rows before an error still all handed over before it); ``on_position``
    receives the number of bytes of the file (or range) consumed so far (of the compressed file for gzip) after
    each batch, for progress bars. Excel yields each sheet in turn, its name in the schema metadata (see
    ``batch_table``); the first row of a sheet is its header.
    """
    if not fmt.tabular:
        raise ValueError(f"read_batches needs a tabular format, got {fmt.kind!r}")
    if row_groups is not None and fmt.kind != "parquet":
        raise ValueError(f"row_groups applies to Parquet only, got {fmt.kind!r}")
    if byte_range is not None and (fmt.compressed or fmt.kind not in ("csv", "tsv", "jsonl")):
        raise ValueError(f"byte_range applies to uncompressed CSV, TSV and JSON Lines only, got {fmt.label}")
    reader = {"csv": _csv_batches, "tsv": _csv_batches, "parquet": _parquet_batches, "jsonl": _jsonl_batches,
              "json": _json_batches, "excel": _excel_batches}[fmt.kind]
    part = row_groups if fmt.kind == "parquet" else byte_range
    with _translated(path, fmt.kind):
        batches = reader(path, fmt, columns, part, on_position)
        if fmt.kind in ("csv", "tsv"):  # the CSV reader's 1 MiB blocks hold a few thousand rows each
            batches = _coalesced(batches, batch_rows)
        for batch in batches:
            for start in range(0, batch.num_rows, batch_rows):
                yield batch.slice(start, batch_rows)


def _coalesced(batches: Iterator[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch]:
    """Consecutive batches of one schema joined until they hold at least ``rows`` rows, so a table scan pays its
    per-batch costs (and finds a column's repeated values) over that many rows. When ``batches`` fails, the rows
    read before the failure are handed over first and the error is raised after them, as without joining."""
    pending: list[pa.RecordBatch] = []
    held = 0
    try:
        for batch in batches:
            if not batch.num_rows:  # read_batches yields no empty batch anyway
                continue
            pending.append(batch)
            held += batch.num_rows
            if held >= rows:
                yield _joined(pending)
                pending, held = [], 0
    except Exception:
        if pending:
            yield _joined(pending)
        raise
    if pending:
        yield _joined(pending)


def _joined(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    if len(batches) == 1:
        return batches[0]
    return pa.Table.from_batches(batches).combine_chunks().to_batches()[0]  # pa.concat_batches needs pyarrow 19


def _present(columns: Sequence[str] | None, names: Sequence[str]) -> list[str] | None:
    """The requested columns the file has (a column a file lacks is simply not read)."""
    return None if columns is None else [name for name in names if name in columns]


@contextmanager
def _positioned(path: str | os.PathLike[str],
                byte_range: ByteRange | None = None) -> Iterator[tuple[IO[bytes], Callable[[], int]]]:
    """The decompressed stream (or the bytes of ``byte_range``) and a function telling how far into the file on
    disk (or the range) the reading has got."""
    if byte_range is not None:
        try:
            file = open(path, "rb")
        except OSError as exc:
            raise UnreadableFile(path, CANNOT_OPEN.format(error=exc.strerror or exc)) from None
        window = _Window(file, byte_range)
        with BufferedReader(window, 1 << 16) as stream:
            yield stream, window.consumed
        return
    with open_binary(path) as stream:
        raw = stream.fileobj if isinstance(stream, gzip.GzipFile) else stream  # type: ignore[attr-defined]
        yield stream, raw.tell


class _Window(RawIOBase):
    """The bytes of a byte range of an open file, which it closes."""

    def __init__(self, file: IO[bytes], byte_range: ByteRange) -> None:
        super().__init__()
        file.seek(byte_range.start)
        self._file = file
        self._size = self._left = byte_range.end - byte_range.start

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._file.readinto(memoryview(buffer)[: min(len(buffer), self._left)])  # type: ignore[attr-defined]
        self._left -= n
        return n

    def consumed(self) -> int:
        return self._size - self._left

    def close(self) -> None:
        self._file.close()
        super().close()


class _EndAtDamage(RawIOBase):
    """A damaged compressed stream read as if it ended at the last complete line before the damage; the damage is
    raised once the reader has handed over every batch before it. Without this the CSV reader meets the damage (or
    the half line it leaves) while reading ahead, and the readable rows before it are lost, depending on timing."""

    def __init__(self, stream: IO[bytes]) -> None:
        super().__init__()
        self._stream = stream
        self._ready = bytearray()  # complete lines not yet handed over
        self._tail = bytearray()  # a line not yet known to be complete
        self._done = False
        self._damage: BaseException | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._ready and not self._done:
            try:
                chunk = self._stream.read(max(len(buffer), 1 << 16))
            except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
                self._damage, self._done = exc, True
                break
            if not chunk:
                self._ready, self._tail, self._done = self._tail, bytearray(), True
                break
            data = self._tail + chunk
            cut = data.rfind(b"\n") + 1
            self._ready, self._tail = data[:cut], data[cut:]
        n = min(len(buffer), len(self._ready))
        buffer[:n] = self._ready[:n]
        del self._ready[:n]
        return n

    def raise_damage(self) -> None:
        if self._damage is not None:
            raise self._damage


def _csv_batches(path: str | os.PathLike[str], fmt: FileFormat, columns: Sequence[str] | None,
                 byte_range: ByteRange | None,
                 on_position: Callable[[int], None] | None) -> Iterator[pa.RecordBatch]:
    """The CSV reader's batches. It parses blocks of :data:`CSV_BLOCK_BYTES`, and a record longer than a block (a
    big text or encoded blob in one field) stops it; then it starts again with blocks sixteen times larger, up to
    :data:`CSV_MAX_BLOCK_BYTES`, skipping the rows it already handed over."""
    with open_binary(path) as stream:
        if not stream.read(1):
            return
    block, handed = CSV_BLOCK_BYTES, 0
    while True:
        invalid: list[tuple[int, int]] = []
        guards: list[_EndAtDamage] = []
        seen = 0
        try:
            for batch in _csv_read(path, fmt, columns, byte_range, on_position, block, invalid, guards):
                seen += batch.num_rows
                if seen > handed:
                    fresh = batch.slice(max(0, batch.num_rows - (seen - handed)))
                    handed = seen
                    yield fresh
            return
        except pa.ArrowInvalid as exc:
            for guard in reversed(guards):  # damage explains a parse error at the point where the stream was cut
                guard.raise_damage()
            if "straddling" in str(exc) and block < CSV_MAX_BLOCK_BYTES:
                block *= 16
                continue
            label = _KIND_LABELS[fmt.kind]
            if invalid:
                expected, actual = invalid[0]
                raise UnreadableFile(path, CSV_FIELD_COUNT.format(kind=label, expected=expected, actual=actual)) \
                    from None
            if "UTF8" in str(exc):
                for _ in iter_text_chunks(path, fmt, byte_range=byte_range):
                    pass
            raise UnreadableFile(path, CSV_MALFORMED.format(kind=label)) from None


def _csv_read(path: str | os.PathLike[str], fmt: FileFormat, columns: Sequence[str] | None,
              byte_range: ByteRange | None, on_position: Callable[[int], None] | None, block: int,
              invalid: list[tuple[int, int]], guards: list[_EndAtDamage]) -> Iterator[pa.RecordBatch]:
    """One pass of pyarrow's reader with blocks of ``block`` bytes; rows with the wrong number of fields are noted
    in ``invalid`` and each stream's damage guard in ``guards``, for the caller's error."""

    def on_invalid(row: pa_csv.InvalidRow) -> str:
        invalid.append((row.expected_columns, row.actual_columns))
        return "error"

    parse = pa_csv.ParseOptions(delimiter=fmt.separator, newlines_in_values=True, invalid_row_handler=on_invalid)
    # Blocks are parsed in order (no parse-ahead threads), so an error at the end of the file surfaces only after
    # the batches before it; a table scan's cost is in the analyzer, not in CSV parsing.
    read = pa_csv.ReadOptions(block_size=block, use_threads=False)
    with open_binary(path) as stream:
        guards.append(_EndAtDamage(stream))
        names = pa_csv.open_csv(guards[-1], read_options=read, parse_options=parse).schema.names
    convert = pa_csv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=True,
                                    null_values=[""], include_columns=_present(columns, names))
    if byte_range is not None and byte_range.start > 0:  # a range after the header is all records
        read = pa_csv.ReadOptions(block_size=block, use_threads=False, column_names=names)
    with _positioned(path, byte_range) as (stream, tell):
        guards.append(_EndAtDamage(stream))
        reader = pa_csv.open_csv(guards[-1], read_options=read, parse_options=parse, convert_options=convert)
        for batch in reader:
            if on_position is not None:
                on_position(tell())
            yield batch
        guards[-1].raise_damage()


def _parquet_batches(path: str | os.PathLike[str], fmt: FileFormat, columns: Sequence[str] | None,
                     row_groups: Sequence[int] | None,
                     on_position: Callable[[int], None] | None) -> Iterator[pa.RecordBatch]:
    with _seekable(path, fmt) as source:
        parquet = pq.ParquetFile(source)
        groups = list(range(parquet.num_row_groups)) if row_groups is None else list(row_groups)
        wanted = _present(columns, parquet.schema_arrow.names)
        done = 0
        for group in groups:
            yield from parquet.iter_batches(batch_size=1 << 16, row_groups=[group], columns=wanted)
            done += _compressed_size(parquet.metadata, group)
            if on_position is not None:
                on_position(done)


def _jsonl_batches(path: str | os.PathLike[str], fmt: FileFormat, columns: Sequence[str] | None,
                   byte_range: ByteRange | None,
                   on_position: Callable[[int], None] | None) -> Iterator[pa.RecordBatch]:
    """One JSON object per line, in batches (:func:`_record_batches`)."""
    with _positioned(path, byte_range) as (stream, tell), nesting_limit(path):
        yield from _record_batches(_jsonl_records(path, stream, byte_range), columns, tell, on_position)


def _jsonl_records(path: str | os.PathLike[str], stream: IO[bytes],
                   byte_range: ByteRange | None) -> Iterator[dict[str, object]]:
    offset, first = (0, 1) if byte_range is None else (byte_range.start, byte_range.line + 1)
    for number, line in enumerate(stream, start=first):
        start, offset = offset, offset + len(line)
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except UnicodeDecodeError as exc:
            bad = line[exc.start] if exc.start < len(line) else 0
            raise UnreadableFile(path, NOT_UTF8.format(byte=bad, offset=start + exc.start)) from None
        except ValueError:
            raise UnreadableFile(path, INVALID_JSON.format(line=number)) from None
        if not isinstance(record, dict):
            raise UnreadableFile(path, NOT_JSON_OBJECT.format(line=number))
        yield record


def _json_batches(path: str | os.PathLike[str], fmt: FileFormat, columns: Sequence[str] | None,
                  byte_range: ByteRange | None,
                  on_position: Callable[[int], None] | None) -> Iterator[pa.RecordBatch]:
    """A JSON document that is an array, in batches (:func:`_record_batches`): each element a record, an object as
    it is and any other value the record's one field, "value"."""
    with _positioned(path, byte_range) as (stream, tell), nesting_limit(path):
        records = (value if isinstance(value, dict) else {"value": value}
                   for value in (element.value for element in json_elements(path, jsondoc.ArrayReader(stream))))
        yield from _record_batches(records, columns, tell, on_position)


def _record_batches(records: Iterator[dict[str, object]], columns: Sequence[str] | None, tell: Callable[[], int],
                    on_position: Callable[[int], None] | None) -> Iterator[pa.RecordBatch]:
    """The records with nested objects flattened to dotted names and arrays kept as their JSON text (only
    ``columns``, when given), in batches of ``JSONL_BATCH_ROWS`` whose columns take their type from their values."""
    wanted = set(columns) if columns is not None else None
    rows: list[dict[str, object]] = []
    for record in records:
        flat = _flatten(record)
        rows.append(flat if wanted is None else {k: v for k, v in flat.items() if k in wanted})
        if len(rows) == JSONL_BATCH_ROWS:
            yield _records_batch(rows)
            rows = []
            if on_position is not None:
                on_position(tell())
    if rows:
        yield _records_batch(rows)


@contextmanager
def nesting_limit(path: str | os.PathLike[str]) -> Iterator[None]:
    """JSON nested deeper than Python's parser (and any recursion over what it returns) can follow is reported as
    the file's reason, not raised as a ``RecursionError`` that would end the whole scan."""
    try:
        yield
    except RecursionError:
        raise UnreadableFile(path, JSON_TOO_DEEP) from None


def json_elements(path: str | os.PathLike[str], reader: jsondoc.ArrayReader) -> Iterator[jsondoc.Element]:
    """The elements ``reader`` reads from ``path``; a fault raises ``UnreadableFile`` with this module's reasons,
    after the elements before it."""
    try:
        yield from reader
    except jsondoc.DocumentError as exc:
        if exc.byte is not None:
            raise UnreadableFile(path, NOT_UTF8.format(byte=exc.byte, offset=exc.offset)) from None
        raise UnreadableFile(path, INVALID_JSON.format(line=exc.line)) from None


def _flatten(record: dict[str, object], prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        elif isinstance(value, list):
            flat[name] = json.dumps(value, ensure_ascii=False)
        else:
            flat[name] = value
    return flat


def _records_batch(rows: list[dict[str, object]]) -> pa.RecordBatch:
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    arrays = [_column_array([row.get(name) for row in rows]) for name in names]
    return pa.RecordBatch.from_arrays(arrays, names=list(names))


def _column_array(values: list[object]) -> pa.Array:
    """Typed when the values agree on a type (numbers stay numbers), otherwise their JSON text. A lone surrogate
    (JSON's "\\ud800" escape, which Arrow's UTF-8 cannot hold) is read as one "?", as the analyzer reads it."""
    try:
        return pa.array(values)
    except UnicodeEncodeError:
        return _column_array([v.encode("utf-8", "replace").decode("utf-8") if isinstance(v, str) else v
                              for v in values])
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        return pa.array([v if v is None or isinstance(v, str) else json.dumps(v) for v in values], type=pa.string())


def _excel_batches(path: str | os.PathLike[str], fmt: FileFormat, columns: Sequence[str] | None,
                   part: None,
                   on_position: Callable[[int], None] | None) -> Iterator[pa.RecordBatch]:
    """Each worksheet in turn: read by calamine (a compiled reader, about fifteen times faster than openpyxl,
    which holds a sheet in memory) up to :data:`CALAMINE_MAX_BYTES`, and streamed by openpyxl in read-only mode
    beyond. Both give the same rows (tests/test_sensitive_excel_read.py), from cell A1."""
    with _seekable(path, fmt) as source:
        size = os.path.getsize(source) if isinstance(source, str) else source.seek(0, os.SEEK_END)
        sheets = _calamine_sheets if size <= CALAMINE_MAX_BYTES else _openpyxl_sheets
        for title, rows in sheets(path, source):
            yield from _sheet_batches(title, rows, columns)


def _calamine_sheets(path: str | os.PathLike[str],
                     source: str | IO[bytes]) -> Iterator[tuple[str, Iterator[Sequence[object]]]]:
    from python_calamine import CalamineWorkbook, SheetTypeEnum

    try:
        workbook = (CalamineWorkbook.from_path(source) if isinstance(source, str)
                    else CalamineWorkbook.from_filelike(source))
    except Exception:  # noqa: BLE001 - calamine has an error type per layer (zip, XML, its own)
        raise UnreadableFile(path, CORRUPT_FILE.format(kind="Excel")) from None
    try:
        for sheet in workbook.sheets_metadata:
            if sheet.typ == SheetTypeEnum.WorkSheet:
                try:
                    read = workbook.get_sheet_by_name(sheet.name)  # the whole sheet, parsed here
                except Exception:  # noqa: BLE001 - as above
                    raise UnreadableFile(path, CORRUPT_FILE.format(kind="Excel")) from None
                yield sheet.name, _calamine_rows(read)
    finally:
        workbook.close()


def _calamine_rows(sheet: Any) -> Iterator[list[object]]:
    """The rows from row 1 and column A, as openpyxl gives them: calamine starts its rows at the first column that
    holds a value, and reads a cell whose format is a date alone as a ``date`` (openpyxl: midnight that day)."""
    lead = [None] * (sheet.start[1] if sheet.start is not None else 0)
    for row in sheet.iter_rows():
        yield lead + [datetime.combine(value, time()) if type(value) is date else value for value in row]


def _openpyxl_sheets(path: str | os.PathLike[str],
                     source: str | IO[bytes]) -> Iterator[tuple[str, Iterator[Sequence[object]]]]:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = openpyxl.load_workbook(source, read_only=True, data_only=True)
    except InvalidFileException:
        raise UnreadableFile(path, CORRUPT_FILE.format(kind="Excel")) from None
    try:
        for sheet in workbook.worksheets:
            yield str(sheet.title), _parsed_rows(path, sheet.iter_rows(values_only=True))
    finally:
        workbook.close()


def _parsed_rows(path: str | os.PathLike[str], rows: Iterator[Sequence[object]]) -> Iterator[Sequence[object]]:
    """openpyxl's rows; a sheet whose XML breaks off reports the file as corrupt (read-only mode parses as it goes)."""
    try:
        yield from rows
    except (ElementTree.ParseError, zipfile.BadZipFile, zlib.error, EOFError):
        raise UnreadableFile(path, CORRUPT_FILE.format(kind="Excel")) from None


def _sheet_batches(title: str, rows: Iterator[Sequence[object]],
                   columns: Sequence[str] | None) -> Iterator[pa.RecordBatch]:
    header = next(rows, None)
    if header is None:
        return
    names = header_names(header)
    metadata = {TABLE_METADATA_KEY: title.encode("utf-8")}
    chunk: list[Sequence[object]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == EXCEL_BATCH_ROWS:
            names = _widen(names, chunk)
            yield _sheet_batch(names, chunk, columns, metadata)
            chunk = []
    if chunk:
        names = _widen(names, chunk)
        yield _sheet_batch(names, chunk, columns, metadata)


def header_names(header: Sequence[object]) -> list[str]:
    """A sheet's column names from its first row: a blank cell is ``column_N``, a repeated name gets ``_2``…"""
    names: list[str] = []
    for index, value in enumerate(header, start=1):
        name = cell_text(value) or f"column_{index}"
        base, suffix = name, 2
        while name in names:
            name, suffix = f"{base}_{suffix}", suffix + 1
        names.append(name)
    return names


def _widen(names: list[str], rows: list[Sequence[object]]) -> list[str]:
    width = max(len(row) for row in rows)
    return names + [f"column_{i}" for i in range(len(names) + 1, width + 1)]


def _sheet_batch(names: list[str], rows: list[Sequence[object]], columns: Sequence[str] | None,
                 metadata: dict[bytes, bytes]) -> pa.RecordBatch:
    keep = [(i, name) for i, name in enumerate(names) if columns is None or name in columns]
    cells = list(zip_longest(*rows))  # a sheet's rows may differ in length: the missing cells are empty
    arrays = [pa.array([(value or None) if type(value) is str else cell_text(value) for value in cells[i]]
                       if i < len(cells) else [None] * len(rows), type=pa.string())
              for i, _ in keep]
    schema = pa.schema([pa.field(name, pa.string()) for _, name in keep], metadata=metadata)
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def cell_text(value: object) -> str | None:
    """A cell as the text a user sees: integral numbers without ".0", dates in ISO form."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)
