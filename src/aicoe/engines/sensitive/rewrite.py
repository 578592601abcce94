"""Write a de-identified (or decrypted) copy of a file in the same format, never touching the input.

Only string values change; everything else about the file is kept. CSV/TSV: the header and every unchanged row are
copied byte for byte, and a changed row keeps its line ending and quoting style. Parquet: schema (with its
metadata), row groups and per-column compression. JSON Lines: lines without a finding are copied verbatim, and in
the others only the changed string literals are re-encoded, so keys, numbers and spacing stay; a JSON array document
the same, element by element, with the text between elements copied. Excel: every sheet, cell positions, styles and
the header row; a cell is judged by the text the scanner reads for it, so a number or date holding an identifier is
replaced too (by text). Gzip input gives gzip output. Values are scanned a column (or a JSON key) at a time with
``Analyzer.scan_texts`` — one pass over the cells joined by "\\n" — with the column name as context (the analyzer
splits it into words). The copy is written to a temporary file beside the target (readable by its owner only) and
renamed into place when complete.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import re
import tempfile
import zipfile
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import IO, Any, Protocol
from xml.etree import ElementTree

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from aicoe.engines.sensitive import analyzer as analyzer_module
from aicoe.engines.sensitive import io as sensitive_io
from aicoe.engines.sensitive import jsondoc, tables
from aicoe.engines.sensitive.redact import DEFAULT_OPERATOR, Encrypt, Operator, anonymize

CHUNK_ROWS = 65_536

TARGET_IS_SOURCE = "refusing to write {target}: it is the input file"
TARGET_EXISTS = "refusing to overwrite {target}: it exists (pass --force to replace it)"
TARGET_IS_DIRECTORY = "{target} is a directory"
TARGET_PARENT_MISSING = "the folder {parent} does not exist"


class RewriteError(ValueError):
    """The copy cannot be written; the input is untouched and no target file is left behind."""


class CellTransform(Protocol):
    """Rewrite a column's values, given its name (or JSON key) as context; return them with counts per entity."""

    def __call__(self, values: Sequence[str], context: tuple[str, ...]) -> tuple[list[str], Counter[str]]: ...


@dataclass(frozen=True, slots=True)
class RewriteResult:
    """What was written: ``records`` are data rows (CSV, TSV, Parquet, Excel sheets below their header) or lines
    (JSON Lines, text); ``counts`` are values replaced (or decrypted) per entity."""

    source: Path
    target: Path
    format: sensitive_io.FileFormat
    records: int
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


class Deidentify:
    """Scan the values of one column together and apply the operators to what is found."""

    def __init__(self, *, operators: Mapping[str, Operator] | None = None, default: Operator = DEFAULT_OPERATOR,
                 entities: Sequence[str] | None = None, min_score: float = analyzer_module.DEFAULT_MIN_SCORE,
                 language: str = "en", analyzer: analyzer_module.Analyzer | None = None) -> None:
        self._operators = dict(operators or {})
        self._default = default
        self._analyzer = analyzer or analyzer_module.default_analyzer()
        self._options: dict[str, Any] = {"entities": entities, "min_score": min_score, "language": language}
        self._analyzer.scan_text("", **self._options)  # refuses unknown entities or a bad score before any writing

    def __call__(self, values: Sequence[str], context: tuple[str, ...]) -> tuple[list[str], Counter[str]]:
        out = list(values)
        counts: Counter[str] = Counter()
        if not values:
            return out, counts
        found = self._analyzer.scan_texts(values, extra_context=context, **self._options)
        entities: list[str] = []
        for cell, findings in enumerate(found):
            if findings:
                out[cell] = anonymize(values[cell], findings, self._operators, self._default).text
                entities += (finding.entity for finding in findings)
        counts.update(entities)
        return out, counts


class Decrypt:
    """Decrypt every ``Encrypt`` token in the values; a damaged token is a ``DecryptionError``."""

    def __init__(self, key: bytes) -> None:
        self._encrypt = Encrypt(key)

    def __call__(self, values: Sequence[str], context: tuple[str, ...]) -> tuple[list[str], Counter[str]]:
        out: list[str] = []
        counts: Counter[str] = Counter()
        for value in values:
            opened = self._encrypt.decrypt(value)
            out.append(opened.text)
            counts.update(opened.entities)
        return out, counts


def rewrite_file(source: Path, target: Path, transform: CellTransform, *, force: bool = False) -> RewriteResult:
    """Write ``transform`` applied to every string value of ``source`` into ``target``, in the same format.

    Refuses when ``target`` is ``source`` (whatever ``force`` says) or exists without ``force``.
    Raises ``RewriteError`` or ``io.UnreadableFile``; on any error no target file is left behind.
    """
    source, target = Path(source), Path(target)
    _check_target(source, target, force=force)
    fmt = sensitive_io.detect_format(source)
    writers = {"csv": _rewrite_csv, "tsv": _rewrite_csv, "parquet": _rewrite_parquet, "jsonl": _rewrite_jsonl,
               "json": _rewrite_json, "excel": _rewrite_excel, "text": _rewrite_text}
    counts: Counter[str] = Counter()
    with _atomic(target, compressed=fmt.compressed) as sink, _read_errors(source, fmt), \
            sensitive_io.nesting_limit(source):
        records = writers[fmt.kind](source, fmt, sink, transform, counts)
    return RewriteResult(source, target, fmt, records, dict(sorted(counts.items())))


def redact_file(source: Path, target: Path, *, operators: Mapping[str, Operator] | None = None,
                default: Operator = DEFAULT_OPERATOR, entities: Sequence[str] | None = None,
                min_score: float = analyzer_module.DEFAULT_MIN_SCORE, language: str = "en",
                analyzer: analyzer_module.Analyzer | None = None, force: bool = False) -> RewriteResult:
    """A de-identified copy: each found value replaced by its entity's operator (``operators``) or ``default``."""
    transform = Deidentify(operators=operators, default=default, entities=entities, min_score=min_score,
                           language=language, analyzer=analyzer)
    return rewrite_file(source, target, transform, force=force)


def decrypt_file(source: Path, target: Path, *, key: bytes, force: bool = False) -> RewriteResult:
    """The copy with every encrypted token made by ``Encrypt(key)`` turned back into its value."""
    return rewrite_file(source, target, Decrypt(key), force=force)


def _check_target(source: Path, target: Path, *, force: bool) -> None:
    if target.resolve() == source.resolve() or (target.exists() and source.exists()
                                                 and os.path.samefile(source, target)):
        raise RewriteError(TARGET_IS_SOURCE.format(target=target))
    if target.is_dir():
        raise RewriteError(TARGET_IS_DIRECTORY.format(target=target))
    if target.exists() and not force:
        raise RewriteError(TARGET_EXISTS.format(target=target))
    if not target.resolve().parent.is_dir():
        raise RewriteError(TARGET_PARENT_MISSING.format(parent=target.parent))


@contextmanager
def _read_errors(source: Path, fmt: sensitive_io.FileFormat) -> Iterator[None]:
    """Reading failures met while streaming, as ``io.UnreadableFile`` with io's reasons (never the content)."""
    try:
        yield
    except UnicodeDecodeError:
        for _ in sensitive_io.iter_text_chunks(source, fmt):  # raises with the offending byte's offset
            pass
        raise
    except csv.Error:
        raise sensitive_io.UnreadableFile(source, sensitive_io.CSV_MALFORMED.format(kind=fmt.label)) from None
    except EOFError:
        raise sensitive_io.UnreadableFile(source, sensitive_io.TRUNCATED_GZIP) from None
    except (gzip.BadGzipFile, zlib.error):
        raise sensitive_io.UnreadableFile(source, sensitive_io.CORRUPT_GZIP) from None


@contextmanager
def _atomic(target: Path, *, compressed: bool) -> Iterator[IO[bytes]]:
    """A binary sink that becomes ``target`` only when the block completes (gzip-wrapped when asked)."""
    handle = tempfile.NamedTemporaryFile(dir=target.resolve().parent, prefix=f".{target.name}.", suffix=".part",
                                         delete=False)
    temp = Path(handle.name)
    try:
        with handle:
            if compressed:
                with gzip.GzipFile(filename="", mode="wb", fileobj=handle, mtime=0) as zipped:
                    yield zipped
            else:
                yield handle
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)


def _apply_column(values: list[str], context: tuple[str, ...], transform: CellTransform,
                  counts: Counter[str]) -> list[str]:
    new, found = transform(values, context)
    counts.update(found)
    return new


# --- CSV and TSV -------------------------------------------------------------------------------------------------

def _rewrite_csv(source: Path, fmt: sensitive_io.FileFormat, sink: IO[bytes], transform: CellTransform,
                 counts: Counter[str]) -> int:
    """Rows that do not change are copied from the input as they were; a changed row is written in the style of
    its original text: its line ending, and every field quoted when it was written that way."""
    delimiter = fmt.separator
    if csv.field_size_limit() < sensitive_io.CSV_MAX_BLOCK_BYTES:  # the longest record a scan reads (128 KiB else)
        csv.field_size_limit(sensitive_io.CSV_MAX_BLOCK_BYTES)
    records = 0
    with sensitive_io.open_binary(source) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", errors="strict", newline="")
        try:
            lines = _Lines(text)
            reader = csv.reader(lines, delimiter=delimiter, strict=True)
            header = next(reader, None)
            if header is None:
                return 0
            sink.write(lines.take().encode("utf-8"))
            contexts = [(name,) for name in header]
            while chunk := [(row, lines.take()) for row in islice(reader, CHUNK_ROWS)]:
                records += len(chunk)
                originals = [list(row) for row, _ in chunk]
                _transform_rows([row for row, _ in chunk], contexts, transform, counts)
                out = [raw_row if row == before else _render_like(raw_row, before, row, delimiter)
                       for (row, raw_row), before in zip(chunk, originals, strict=True)]
                sink.write("".join(out).encode("utf-8"))
        finally:
            text.detach()
    return records


class _Lines:
    """The lines of a text stream for ``csv.reader``, kept until taken: the reader reads no further than the
    record it returns, so what is taken after each record is that record's text."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._kept: list[str] = []

    def take(self) -> str:
        kept, self._kept = self._kept, []
        return kept[0] if len(kept) == 1 else "".join(kept)

    def __iter__(self) -> Iterator[str]:
        for line in self._stream:
            self._kept.append(line)
            yield line


def _render_like(raw: str, before: list[str], after: list[str], delimiter: str) -> str:
    ending = next((end for end in ("\r\n", "\n", "\r") if raw.endswith(end)), "")
    all_quoted = raw.startswith('"') and raw == _render(before, delimiter, ending, csv.QUOTE_ALL)
    quoting = csv.QUOTE_ALL if all_quoted else csv.QUOTE_MINIMAL
    return _render(after, delimiter, ending, quoting)


def _render(row: list[str], delimiter: str, ending: str, quoting: int) -> str:
    """One row ending with ``ending``; written with "\\r\\n" first, so a field holding either character is quoted."""
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n", quoting=quoting).writerow(row)
    return buffer.getvalue().removesuffix("\r\n") + ending


def _transform_rows(rows: list[list[str]], contexts: list[tuple[str, ...]], transform: CellTransform,
                    counts: Counter[str]) -> None:
    """Transform column by column in place; ragged rows are fine (extra fields are scanned without context)."""
    width = max(len(row) for row in rows)
    for column in range(width):
        holders = [row for row in rows if len(row) > column]
        context = contexts[column] if column < len(contexts) else ()
        new = _apply_column([row[column] for row in holders], context, transform, counts)
        for row, value in zip(holders, new, strict=True):
            row[column] = value


# --- Parquet -----------------------------------------------------------------------------------------------------

_CODECS = {"UNCOMPRESSED": "NONE", "LZ4_RAW": "LZ4"}
_FORMAT_VERSIONS = ("1.0", "2.4", "2.6")  # what the writer accepts; older files may report others


def _rewrite_parquet(source: Path, fmt: sensitive_io.FileFormat, sink: IO[bytes], transform: CellTransform,
                     counts: Counter[str]) -> int:
    with _parquet_errors(source):
        parquet = _open_parquet(source, fmt)
    meta, schema = parquet.metadata, parquet.schema_arrow
    compression: dict[str, str] | str = "snappy"
    if meta.num_row_groups:
        chunks = [meta.row_group(0).column(i) for i in range(meta.num_columns)]
        compression = {chunk.path_in_schema: _CODECS.get(chunk.compression, chunk.compression) for chunk in chunks}
    version = meta.format_version if meta.format_version in _FORMAT_VERSIONS else "2.6"
    with pq.ParquetWriter(sink, schema, compression=compression, version=version) as writer:
        for index in range(meta.num_row_groups):
            with _parquet_errors(source):
                table = parquet.read_row_group(index)
            for position, field in enumerate(schema):
                column = _transformed(table.column(position), field.type, field.name, transform, counts)
                if column is not None:
                    table = table.set_column(position, field, column)
            writer.write_table(table, row_group_size=max(table.num_rows, 1))
    return meta.num_rows


@contextmanager
def _parquet_errors(source: Path) -> Iterator[None]:
    try:
        yield
    except (pa.ArrowException, OSError):  # pyarrow reports a damaged footer as OSError
        raise sensitive_io.UnreadableFile(source, sensitive_io.CORRUPT_FILE.format(kind="Parquet")) from None


def _open_parquet(source: Path, fmt: sensitive_io.FileFormat) -> pq.ParquetFile:
    if not fmt.compressed:
        return pq.ParquetFile(source)
    with sensitive_io.open_binary(source) as raw:
        return pq.ParquetFile(pa.BufferReader(raw.read()))


def _transformed(column: pa.ChunkedArray | pa.Array, kind: pa.DataType, name: str, transform: CellTransform,
                 counts: Counter[str]) -> pa.Array | None:
    """``column`` with its text transformed, the column name as context; a struct's text fields too, at any depth,
    named "parent.child" as the scanner names them (so that what a scan finds there is replaced). None when the
    column holds no text."""
    if _is_text(kind):
        return _transform_array(column, kind, (name,), transform, counts)
    if tables.reads_as_identifier(name, kind):
        return _nulled_where_found(column, kind, name, transform, counts)
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if tables.is_text_list(kind):  # each element, with the list's name as context; lists keep their shape
        elements = _transform_array(array.flatten(), kind.value_type, (name,), transform, counts)
        lengths = pc.fill_null(pc.list_value_length(array), 0).to_numpy(zero_copy_only=False)
        large = pa.types.is_large_list(kind)
        offsets = pa.array(np.concatenate(([0], np.cumsum(lengths))), type=pa.int64() if large else pa.int32())
        return (pa.LargeListArray if large else pa.ListArray).from_arrays(offsets, elements, type=kind,
                                                                          mask=array.is_null())
    if not pa.types.is_struct(kind):
        return None
    fields = [kind.field(i) for i in range(kind.num_fields)]
    children = [_transformed(array.field(i), field.type, f"{name}.{field.name}", transform, counts)
                for i, field in enumerate(fields)]
    if all(child is None for child in children):
        return None
    return pa.StructArray.from_arrays([array.field(i) if child is None else child for i, child in enumerate(children)],
                                      fields=fields, mask=array.is_null())


def _nulled_where_found(column: pa.ChunkedArray | pa.Array, kind: pa.DataType, name: str, transform: CellTransform,
                        counts: Counter[str]) -> pa.Array | None:
    """A number or date column the scanner reads as text (its name suggests an identifier): a value whose text the
    transform changes cannot take the new text and keep the column's type, so it becomes null. None when none
    changes."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    texts = array.cast(pa.string()).to_pylist()  # the scanner's reading
    present = [i for i, value in enumerate(texts) if value is not None]
    new = _apply_column([texts[i] for i in present], (name,), transform, counts)
    found = [i for i, value in zip(present, new, strict=True) if value != texts[i]]
    if not found:
        return None
    hidden = [False] * len(array)
    for i in found:
        hidden[i] = True
    return pc.if_else(pa.array(hidden), pa.nulls(len(array), kind), array)


def _is_text(kind: pa.DataType) -> bool:
    if pa.types.is_dictionary(kind):
        return _is_text(kind.value_type)
    return pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)


def _transform_array(column: pa.ChunkedArray, kind: pa.DataType, context: tuple[str, ...],
                     transform: CellTransform, counts: Counter[str]) -> pa.Array:
    values = column.to_pylist()
    present = [i for i, value in enumerate(values) if value is not None]
    new = _apply_column([values[i] for i in present], context, transform, counts)
    for i, value in zip(present, new, strict=True):
        values[i] = value
    if pa.types.is_dictionary(kind):
        return pa.array(values, type=kind.value_type).dictionary_encode().cast(kind)
    return pa.array(values, type=kind)


# --- JSON Lines --------------------------------------------------------------------------------------------------

_Slot = tuple[Any, Any]  # (container, key or index) holding one string
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"(\s*:)?')


def _rewrite_jsonl(source: Path, fmt: sensitive_io.FileFormat, sink: IO[bytes], transform: CellTransform,
                   counts: Counter[str]) -> int:
    records = 0
    with sensitive_io.open_binary(source) as raw:
        while batch := list(islice(raw, CHUNK_ROWS)):
            _write_jsonl_batch(source, batch, records, sink, transform, counts)
            records += len(batch)
    return records


def _write_jsonl_batch(source: Path, lines: list[bytes], offset: int, sink: IO[bytes], transform: CellTransform,
                       counts: Counter[str]) -> None:
    """Parse the lines, then write them transformed (:func:`_write_documents`)."""
    holders: list[list[Any]] = []
    for number, line in enumerate(lines):
        holder: list[Any] = []
        if line.strip():
            try:
                holder = [json.loads(line)]  # bytes: a UTF-8 BOM is accepted, as when scanning
            except json.JSONDecodeError:
                raise sensitive_io.UnreadableFile(source, sensitive_io.INVALID_JSON.format(line=offset + number + 1)) \
                    from None
        holders.append(holder)
    _write_documents([(b"", line, holder) for line, holder in zip(lines, holders, strict=True)], sink, transform,
                     counts)


def _write_documents(documents: list[tuple[bytes, bytes, list[Any]]], sink: IO[bytes], transform: CellTransform,
                     counts: Counter[str]) -> None:
    """Each (text before it, JSON text, [its parsed value] or [] for none) written with the values the scanner
    reads (:func:`_read_slots`) transformed, grouped by their key across the documents. Changed strings are spliced
    into the text; a number with a finding becomes the new text, and its document is written whole."""
    line_slots: list[list[_Slot]] = []
    by_key: dict[str, list[_Slot]] = defaultdict(list)
    for _, _, holder in documents:
        slots: list[_Slot] = []
        if holder:
            for key, slot in _read_slots(holder, 0, "", "", in_list=False):
                slots.append(slot)
                by_key[key].append(slot)
        line_slots.append(slots)
    originals = [[container[index] for container, index in slots] for slots in line_slots]
    for key, slots in by_key.items():
        new = _apply_column([str(container[index]) for container, index in slots], (key,) if key else (),
                            transform, counts)
        for (container, index), value in zip(slots, new, strict=True):
            if value != str(container[index]):
                container[index] = value
    for (before, line, holder), slots, old in zip(documents, line_slots, originals, strict=True):
        values = [container[index] for container, index in slots]
        if values == old:
            sink.write(before + line)
        elif any(not isinstance(was, str) and now != was for was, now in zip(old, values, strict=True)):
            sink.write(before + _dumped(line, holder[0]))
        else:
            strings = [(was, now) for was, now in zip(old, values, strict=True) if isinstance(was, str)]
            sink.write(before + _splice(line, holder[0], [was for was, _ in strings], [now for _, now in strings]))


# --- JSON documents (an array of records) ------------------------------------------------------------------------

def _rewrite_json(source: Path, fmt: sensitive_io.FileFormat, sink: IO[bytes], transform: CellTransform,
                  counts: Counter[str]) -> int:
    """Element by element, a batch at a time; the text around the elements ("[", commas, white space) is copied
    as it was."""
    records = 0
    with sensitive_io.open_binary(source) as raw:
        reader = jsondoc.ArrayReader(raw)
        elements = sensitive_io.json_elements(source, reader)
        while batch := list(islice(elements, CHUNK_ROWS)):
            records += len(batch)
            _write_documents([(e.before.encode("utf-8"), e.text.encode("utf-8"), [e.value]) for e in batch], sink,
                             transform, counts)
        sink.write(reader.tail.encode("utf-8"))
    return records


def _splice(line: bytes, document: Any, old: list[str], new: list[str]) -> bytes:
    """The line with each changed string literal re-encoded in place; everything else stays byte for byte.

    Outside string literals JSON has no quotes, so the literals that are not keys are the string values in
    document order — the order in which they were collected. Only a line with a repeated key breaks that
    correspondence; it is written whole from the parsed document.
    """
    literals = [m.span() for m in _JSON_STRING.finditer(line) if not m.group(1)]
    if len(literals) != len(old):
        return _dumped(line, document)
    pieces, pos = [], 0
    for (start, end), before, after in zip(literals, old, new, strict=True):
        if after != before:
            literal = line[start:end]
            escaped = literal.isascii() and b"\\u" in literal  # keep a writer's ensure_ascii style
            # a lone surrogate (possible from a "\ud800" escape) goes back out as the same escape
            pieces += (line[pos:start], json.dumps(after, ensure_ascii=escaped).encode("utf-8", "backslashreplace"))
            pos = end
    pieces.append(line[pos:])
    return b"".join(pieces)


def _dumped(line: bytes, document: Any) -> bytes:
    """The document written whole from its parsed form, with the line's own line ending."""
    body = json.dumps(document, ensure_ascii=False).encode("utf-8", "backslashreplace")
    return body + line[len(line.rstrip(b"\r\n")):]


def _read_slots(container: Any, index: Any, key: str, path: str, *, in_list: bool) -> Iterator[tuple[str, _Slot]]:
    """The leaves under ``container[index]`` that the scanner reads, with the nearest object key above each (its
    context): every string; and an integer inside a list (the scanner reads a list as its JSON text) or under
    object keys whose dotted ``path`` suggests an identifier (``tables.reads_as_identifier``, as for the scanner's
    integer column of that name)."""
    value = container[index]
    if isinstance(value, str):
        yield key, (container, index)
    elif isinstance(value, int) and not isinstance(value, bool):
        if in_list or tables.reads_as_identifier(path, pa.int64()):
            yield key, (container, index)
    elif isinstance(value, dict):
        for name in value:
            yield from _read_slots(value, name, name, f"{path}.{name}" if path else name, in_list=in_list)
    elif isinstance(value, list):
        for position in range(len(value)):
            yield from _read_slots(value, position, key, path, in_list=True)


# --- plain text --------------------------------------------------------------------------------------------------

def _rewrite_text(source: Path, fmt: sensitive_io.FileFormat, sink: IO[bytes], transform: CellTransform,
                  counts: Counter[str]) -> int:
    """Streamed in chunks that end at line breaks, which no finding crosses."""
    lines = 0
    for chunk in sensitive_io.iter_text_chunks(source, fmt):
        lines += chunk.count("\n") + (not chunk.endswith("\n"))
        sink.write(_apply_column([chunk], (), transform, counts)[0].encode("utf-8"))
    return lines


# --- Excel -------------------------------------------------------------------------------------------------------

_VBA_PART = "xl/vbaProject.bin"


def _rewrite_excel(source: Path, fmt: sensitive_io.FileFormat, sink: IO[bytes], transform: CellTransform,
                   counts: Counter[str]) -> int:
    """Each sheet column by column below its header row, with the header (as the scanner names it) as context.

    A cell is judged by the text the scanner reads (its value, or a formula's cached result) and a changed cell
    gets the new text as a text cell; other cells, styles, sheet names and the header row stay as they are.
    A formula whose result or own text holds a finding becomes its de-identified result: kept, it would
    compute or show the value again. Charts and images are not carried over (openpyxl cannot keep them).
    """
    import openpyxl

    with sensitive_io.open_binary(source) as raw:
        data = raw.read()
    with _excel_errors(source):
        macros = _VBA_PART in zipfile.ZipFile(io.BytesIO(data)).namelist()
        book = openpyxl.load_workbook(io.BytesIO(data), keep_vba=macros)
        shown = openpyxl.load_workbook(io.BytesIO(data), data_only=True)  # formulas' cached results
    records = 0
    for sheet, results in zip(book.worksheets, shown.worksheets, strict=True):
        bounds = {"min_row": 1, "max_row": sheet.max_row, "min_col": 1, "max_col": sheet.max_column}
        rows = [list(zip(cells, values, strict=True))
                for cells, values in zip(sheet.iter_rows(**bounds), results.iter_rows(**bounds), strict=True)]
        if not rows:
            continue
        records += len(rows) - 1
        names = sensitive_io.header_names([value.value for _, value in rows[0]])
        for column, name in enumerate(names):
            _rewrite_excel_column([row[column] for row in rows[1:]], (name,), transform, counts)
    buffer = io.BytesIO()
    book.save(buffer)
    sink.write(buffer.getvalue())
    return records


def _rewrite_excel_column(cells: list[tuple[Any, Any]], context: tuple[str, ...], transform: CellTransform,
                          counts: Counter[str]) -> None:
    """``cells`` are (cell to write, cell holding the value the scanner reads) pairs of one column."""
    shown = [(cell, text) for cell, value in cells if (text := sensitive_io.cell_text(value.value)) is not None]
    new = _apply_column([text for _, text in shown], context, transform, counts)
    changed = set()
    for (cell, old), text in zip(shown, new, strict=True):
        if text != old:
            cell.value = text
            cell.data_type = "s"  # text, even when it starts with "="
            changed.add(cell.coordinate)
    formulas = [(cell, value.value, _formula_text(cell.value)) for cell, value in cells
                if cell.data_type == "f" and cell.coordinate not in changed]
    new = _apply_column([text for _, _, text in formulas], context, transform, counts)
    for (cell, result, text), after in zip(formulas, new, strict=True):
        if after != text:
            cell.value = result


def _formula_text(value: Any) -> str:
    return value if isinstance(value, str) else str(getattr(value, "text", "") or "")


@contextmanager
def _excel_errors(source: Path) -> Iterator[None]:
    """A workbook openpyxl cannot open is reported as scanning reports it."""
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        yield
    except (InvalidFileException, zipfile.BadZipFile, ElementTree.ParseError, KeyError, OSError, ValueError):
        raise sensitive_io.UnreadableFile(source, sensitive_io.CORRUPT_FILE.format(kind="Excel")) from None
