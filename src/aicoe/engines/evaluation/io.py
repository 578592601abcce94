"""Reading prediction logs: files (CSV/TSV, gzipped or not, Parquet, Arrow IPC/Feather), directories of them, or
tables already in memory, as a stream of pyarrow Tables of at most ``Options.partition_rows`` rows.

A file source is cut into :class:`FilePart` work units (runs of whole Parquet row groups or Arrow IPC record
batches of at most ``partition_rows`` rows; a CSV file or an IPC stream whole) that a worker process or Ray task
reads by itself, so the orchestrator never reads or ships rows. Files are never loaded whole: a part is read in
partitions, CSV through pyarrow's streaming reader, Arrow IPC memory-mapped, and only the columns the evaluation
needs. A directory is read
recursively in name order, ignoring hidden names (``.`` or ``_`` first, as Spark's ``_SUCCESS``); ``key=value``
directories (a hive-partitioned dataset) become columns (int64 when every value is an integer, else string).
Column types must agree between files; the one tolerated difference is integers in one file and floats in
another (common in CSV), read as float64. Errors never quote a library message: those can quote file content.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from aicoe.engines.evaluation.errors import EvaluationError
from aicoe.engines.evaluation.spec import Options

MISSING_FILE = "input not found: {path!r}"
UNKNOWN_FORMAT = ("unknown input format: {name!r} (expected .csv, .tsv, .csv.gz, .tsv.gz, .parquet, .pq, .arrow, "
                  ".feather or .ipc)")
UNKNOWN_INPUT = ("cannot read a {kind} as prediction logs: pass a path, a list of paths, a pyarrow, pandas or "
                 "polars table, or a dict of arrays")
NO_FILES = "no files in directory {path!r}"
UNREADABLE = "cannot read {name!r}: not a readable {format} file (corrupt, truncated or of another format)"
EMPTY = "the input has no rows"
MISSING_COLUMN = "missing column {column!r} (available: {available})"
SCHEMA_DIFFERS = "schema differs between files: column {column!r} is {first} in {first_name!r} but {other} in {name!r}"
LENGTHS_DIFFER = "columns have different lengths: {lengths}"

FORMATS: dict[str, str] = {".csv": "csv", ".tsv": "tsv", ".csv.gz": "csv", ".tsv.gz": "tsv",
                           ".parquet": "parquet", ".pq": "parquet", ".arrow": "arrow", ".feather": "arrow",
                           ".ipc": "arrow"}
FORMAT_LABELS = {"csv": "CSV", "tsv": "TSV", "parquet": "Parquet", "arrow": "Arrow IPC"}
CSV_BLOCK_BYTES = 16 << 20  # CSV types are inferred from the first block: a large one sees more values
_HIVE = re.compile(r"^([^=/]+)=(.*)$")
_INTEGER = re.compile(r"^-?\d+$")


class Source(Protocol):
    """An opened input: its (selected) schema, its row count when cheap to know, its partitions, and its work
    units: partitions in memory, :class:`FilePart` descriptions of files."""

    schema: pa.Schema
    num_rows: int | None

    def partitions(self, columns: Sequence[str] | None = None) -> Iterator[pa.Table]: ...

    def units(self) -> Iterator[pa.Table | FilePart]: ...

    def describe(self) -> str: ...

    def fingerprint(self) -> str: ...


def open_source(data: Any, columns: Sequence[str] | None, options: Options) -> Source:
    """Open ``data`` reading only ``columns`` (every column when None), in that order.

    Missing columns, unknown formats and unreadable files fail here, before any row is read."""
    table = _in_memory(data, columns)
    if table is not None:
        return TableSource(table, options.partition_rows, _kind(data))
    files = list(_expand(data))
    if not files:
        raise EvaluationError(EMPTY)
    return FileSource.open(files, columns, options.partition_rows, _root_label(data))


@dataclass
class TableSource:
    """A table in memory, sliced into partitions without copying."""

    table: pa.Table
    partition_rows: int
    kind: str

    @property
    def schema(self) -> pa.Schema:
        return self.table.schema

    @property
    def num_rows(self) -> int:
        return self.table.num_rows

    def partitions(self, columns: Sequence[str] | None = None) -> Iterator[pa.Table]:
        """Slices of ``partition_rows`` rows (of ``columns`` only, when given)."""
        if self.table.num_rows == 0:
            raise EvaluationError(EMPTY)
        table = self.table.select(list(columns)) if columns is not None else self.table
        for start in range(0, table.num_rows, self.partition_rows):
            yield table.slice(start, self.partition_rows)

    def units(self) -> Iterator[pa.Table]:
        return self.partitions()

    def describe(self) -> str:
        return f"in-memory {self.kind} ({self.table.num_rows:,} rows, {self.table.num_columns} columns)"

    def fingerprint(self) -> str:
        """sha256 over each column's name, type and the sha256 of its Arrow IPC serialisation (chunks combined).

        Hashing column by column lets threads share the work (hashlib releases the GIL)."""
        columns = self.table.columns
        names = self.table.column_names
        with ThreadPoolExecutor(max_workers=min(len(columns), os.cpu_count() or 1) or 1) as pool:
            digests = list(pool.map(_column_digest, names, columns))
        total = hashlib.sha256(f"rows={self.table.num_rows}\n".encode())
        for name, column, digest in zip(names, columns, digests, strict=True):
            total.update(f"{name}\0{column.type}\0{digest}\n".encode())
        return total.hexdigest()


@dataclass(frozen=True)
class InputFile:
    """One file of the input: where it is, how it is named in messages and fingerprints, its hive keys."""

    path: Path
    name: str
    fmt: str
    keys: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class FilePart:
    """A work unit: blocks ``[start, stop)`` of a file (Parquet row groups, Arrow IPC file record batches), or the
    whole file (CSV, IPC streams) when ``stop`` is None, read as partitions of at most ``partition_rows`` rows with
    the source's columns and types. Small and picklable: it travels to workers instead of rows."""

    file: InputFile
    columns: tuple[str, ...]
    schema: pa.Schema
    partition_rows: int
    start: int = 0
    stop: int | None = None

    def tables(self) -> Iterator[pa.Table]:
        batches = _read_file(self.file, self.columns, self.partition_rows, self.start, self.stop)
        for table in _rechunk(batches, self.partition_rows):
            table = _add_keys(table, self.file.keys, self.schema).select(list(self.columns))
            yield table.cast(self.schema) if table.schema != self.schema else table


@dataclass
class FileSource:
    """Files read one after another; partitions never span two files."""

    files: list[InputFile]
    columns: list[str]
    schema: pa.Schema
    num_rows: int | None
    partition_rows: int
    root: str
    blocks: list[list[int] | None]  # per file: rows of each row group / record batch, None when unknown

    @classmethod
    def open(cls, files: list[InputFile], columns: Sequence[str] | None, partition_rows: int,
             root: str) -> FileSource:
        schemas = [_file_schema(f) for f in files]
        hive_types = _hive_types(files)
        schemas = [_with_keys(schema, f.keys, hive_types) for schema, f in zip(schemas, files, strict=True)]
        wanted = list(columns) if columns is not None else list(schemas[0].names)
        first = schemas[0]
        for column in wanted:
            if column not in first.names:
                raise EvaluationError(MISSING_COLUMN.format(column=column, available=", ".join(first.names)))
        fields = {name: first.field(name).type for name in wanted}
        for schema, file in zip(schemas[1:], files[1:], strict=True):
            names = wanted if columns is not None else list(dict.fromkeys([*wanted, *schema.names]))
            for column in names:
                other = schema.field(column).type if column in schema.names else None
                unified = _unify(fields.get(column), other)
                if unified is None:
                    raise EvaluationError(SCHEMA_DIFFERS.format(
                        column=column, first=fields.get(column) or "missing", first_name=files[0].name,
                        other=other or "missing", name=file.name))
                fields[column] = unified
        blocks = [_file_blocks(f) for f in files]
        num_rows = None if any(b is None for b in blocks) else sum(sum(b) for b in blocks)  # type: ignore[arg-type]
        schema = pa.schema([(name, fields[name]) for name in wanted])
        return cls(files, wanted, schema, num_rows, partition_rows, root, blocks)

    def units(self, columns: Sequence[str] | None = None) -> Iterator[FilePart]:
        """Runs of whole blocks of at most ``partition_rows`` rows (a larger block alone), never spanning files;
        files without rows (by their metadata) are left out. ``columns`` reads only those."""
        names = tuple(columns if columns is not None else self.columns)
        schema = pa.schema([self.schema.field(name) for name in names])
        for file, sizes in zip(self.files, self.blocks, strict=True):
            part = partial(FilePart, file, names, schema, self.partition_rows)
            if sizes is None:
                yield part()
                continue
            if sum(sizes) == 0:
                continue
            start, rows = 0, 0
            for index, size in enumerate(sizes):
                if index > start and rows + size > self.partition_rows:
                    yield part(start, index)
                    start, rows = index, 0
                rows += size
            yield part(start, len(sizes))

    def partitions(self, columns: Sequence[str] | None = None) -> Iterator[pa.Table]:
        """The units' partitions in order (of ``columns`` only, when given), read here."""
        rows = 0
        for part in self.units(columns):
            for table in part.tables():
                rows += table.num_rows
                yield table
        if rows == 0:
            raise EvaluationError(EMPTY)

    def describe(self) -> str:
        formats = ", ".join(sorted({FORMAT_LABELS[f.fmt] for f in self.files}))
        rows = f", {self.num_rows:,} rows" if self.num_rows is not None else ""
        count = f"{len(self.files)} files" if len(self.files) > 1 else "1 file"
        return f"{self.root} ({count}, {formats}{rows})"

    def fingerprint(self) -> str:
        """sha256 over (relative name, size, sha256 of the bytes) of each file, in reading order."""
        with ThreadPoolExecutor(max_workers=min(len(self.files), os.cpu_count() or 1)) as pool:
            digests = list(pool.map(_file_digest, [f.path for f in self.files]))
        total = hashlib.sha256()
        for file, (size, digest) in zip(self.files, digests, strict=True):
            total.update(f"{file.name}\0{size}\0{digest}\n".encode())
        return total.hexdigest()


def _kind(data: Any) -> str:
    return f"{type(data).__module__.split('.')[0]}.{type(data).__name__}"


def _in_memory(data: Any, columns: Sequence[str] | None) -> pa.Table | None:
    """``data`` as a pyarrow Table with ``columns`` selected, or None when it is not in memory."""
    if isinstance(data, str | os.PathLike) or (isinstance(data, list | tuple)
                                                and all(isinstance(p, str | os.PathLike) for p in data)):
        return None
    if isinstance(data, pa.RecordBatch):
        data = pa.Table.from_batches([data])
    if isinstance(data, dict):
        _check_columns(list(data), columns)
        picked = {name: data[name] for name in (columns if columns is not None else list(data))}
        lengths = {name: len(values) for name, values in picked.items()}
        if len(set(lengths.values())) > 1:
            raise EvaluationError(LENGTHS_DIFFER.format(
                lengths=", ".join(f"{name!r}: {n}" for name, n in lengths.items())))
        return pa.table({name: _as_arrow(values) for name, values in picked.items()})
    pandas, polars = sys.modules.get("pandas"), sys.modules.get("polars")
    if pandas is not None and isinstance(data, pandas.DataFrame):
        _check_columns([str(c) for c in data.columns], columns)
        data = pa.Table.from_pandas(data[list(columns)] if columns is not None else data, preserve_index=False)
    elif polars is not None and isinstance(data, polars.DataFrame):
        _check_columns(data.columns, columns)
        data = (data.select(list(columns)) if columns is not None else data).to_arrow()
    if isinstance(data, pa.Table):
        _check_columns(data.column_names, columns)
        return data.select(list(columns)) if columns is not None else data
    raise EvaluationError(UNKNOWN_INPUT.format(kind=_kind(data)))


def _as_arrow(values: Any) -> pa.Array | pa.ChunkedArray:
    if isinstance(values, pa.Array | pa.ChunkedArray):
        return values
    array = np.asarray(values)
    return pa.array(array, from_pandas=array.dtype.kind == "f")  # NaN in a float array is a missing value


def _check_columns(available: Sequence[str], columns: Sequence[str] | None) -> None:
    for column in columns or ():
        if column not in available:
            raise EvaluationError(MISSING_COLUMN.format(column=column, available=", ".join(map(str, available))))


def _root_label(data: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> str:
    if isinstance(data, str | os.PathLike):
        return str(data)
    paths = [str(p) for p in data]
    return paths[0] if len(paths) == 1 else f"{len(paths)} paths"


def _expand(data: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> Iterator[InputFile]:
    """Every file of the input in reading order: the given paths in order, a directory's files by name."""
    given = [data] if isinstance(data, str | os.PathLike) else list(data)
    for item in given:
        path = Path(item)
        if not path.exists():
            raise EvaluationError(MISSING_FILE.format(path=str(path)))
        if not path.is_dir():
            yield InputFile(path, path.name, _format(path.name))
            continue
        found = False
        for file in _walk(path):
            relative = file.relative_to(path)
            keys = tuple(m.groups() for m in map(_HIVE.match, relative.parts[:-1]) if m)
            found = True
            yield InputFile(file, relative.as_posix(), _format(file.name), keys)  # type: ignore[arg-type]
        if not found:
            raise EvaluationError(NO_FILES.format(path=str(path)))


def _walk(directory: Path) -> Iterator[Path]:
    for entry in sorted(os.scandir(directory), key=lambda e: e.name):
        if entry.name.startswith((".", "_")):
            continue
        if entry.is_dir():
            yield from _walk(Path(entry.path))
        else:
            yield Path(entry.path)


def _format(name: str) -> str:
    lowered = name.lower()
    for suffix in sorted(FORMATS, key=len, reverse=True):
        if lowered.endswith(suffix):
            return FORMATS[suffix]
    raise EvaluationError(UNKNOWN_FORMAT.format(name=name))


def _unreadable(file: InputFile) -> EvaluationError:
    return EvaluationError(UNREADABLE.format(name=file.name, format=FORMAT_LABELS[file.fmt]))


def _csv_reader(file: InputFile, columns: Sequence[str] | None) -> pa_csv.CSVStreamingReader:
    try:
        return pa_csv.open_csv(
            file.path, read_options=pa_csv.ReadOptions(block_size=CSV_BLOCK_BYTES),
            parse_options=pa_csv.ParseOptions(delimiter="\t" if file.fmt == "tsv" else ","),
            convert_options=pa_csv.ConvertOptions(include_columns=columns, strings_can_be_null=True))
    except (pa.ArrowException, OSError, EOFError) as exc:
        raise _unreadable(file) from exc


def _ipc_reader(file: InputFile) -> pa.ipc.RecordBatchFileReader | pa.ipc.RecordBatchStreamReader:
    source = pa.memory_map(str(file.path))
    try:
        return pa.ipc.open_file(source)
    except pa.ArrowInvalid:
        return pa.ipc.open_stream(source)


def _file_schema(file: InputFile) -> pa.Schema:
    try:
        if file.fmt == "parquet":
            return pq.ParquetFile(file.path).schema_arrow
        if file.fmt == "arrow":
            return _ipc_reader(file).schema
        return _csv_reader(file, None).schema
    except (pa.ArrowException, OSError, EOFError) as exc:
        raise _unreadable(file) from exc


def _file_blocks(file: InputFile) -> list[int] | None:
    """The rows of each block from metadata (Parquet row groups, Arrow IPC file record batches), None for CSV and
    IPC streams."""
    try:
        if file.fmt == "parquet":
            metadata = pq.ParquetFile(file.path).metadata
            return [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]
        if file.fmt == "arrow":
            reader = _ipc_reader(file)
            if isinstance(reader, pa.ipc.RecordBatchFileReader):
                return [reader.get_batch(i).num_rows for i in range(reader.num_record_batches)]
    except (pa.ArrowException, OSError, EOFError) as exc:
        raise _unreadable(file) from exc
    return None


def _read_file(file: InputFile, columns: Sequence[str], batch_rows: int, start: int = 0,
               stop: int | None = None) -> Iterator[pa.RecordBatch]:
    """Blocks ``[start, stop)`` of the file (all of it when ``stop`` is None), the columns the file holds."""
    keys = {k for k, _ in file.keys}
    wanted = [c for c in columns if c not in keys]
    try:
        if file.fmt == "parquet":
            parquet = pq.ParquetFile(file.path)
            groups = range(start, parquet.metadata.num_row_groups if stop is None else stop)
            yield from parquet.iter_batches(batch_size=batch_rows, row_groups=groups, columns=wanted)
        elif file.fmt == "arrow":
            reader = _ipc_reader(file)
            if isinstance(reader, pa.ipc.RecordBatchFileReader):
                last = reader.num_record_batches if stop is None else stop
                batches: Iterable[pa.RecordBatch] = (reader.get_batch(i) for i in range(start, last))
            else:
                batches = reader
            for batch in batches:
                yield batch.select(wanted)
        else:
            yield from _csv_reader(file, wanted)
    except (pa.ArrowException, OSError, EOFError) as exc:
        raise _unreadable(file) from exc


def _rechunk(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.Table]:
    """Tables of exactly ``rows`` rows (the last one fewer) from batches of any size."""
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        if batch.num_rows == 0:
            continue
        pending.append(batch)
        count += batch.num_rows
        while count >= rows:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, rows)
            rest = table.slice(rows)
            pending, count = rest.to_batches(), rest.num_rows
    if count:
        yield pa.Table.from_batches(pending)


def _hive_types(files: Sequence[InputFile]) -> dict[str, pa.DataType]:
    values: dict[str, set[str]] = {}
    for file in files:
        for key, value in file.keys:
            values.setdefault(key, set()).add(value)
    return {key: pa.int64() if all(_INTEGER.match(v) for v in vals) else pa.string() for key, vals in values.items()}


def _with_keys(schema: pa.Schema, keys: tuple[tuple[str, str], ...], types: dict[str, pa.DataType]) -> pa.Schema:
    for key, _ in keys:
        if key not in schema.names:
            schema = schema.append(pa.field(key, types[key]))
    return schema


def _add_keys(table: pa.Table, keys: tuple[tuple[str, str], ...], schema: pa.Schema) -> pa.Table:
    for key, value in keys:
        if key in schema.names and key not in table.column_names:
            kind = schema.field(key).type
            table = table.append_column(key, pa.repeat(pa.scalar(int(value) if kind == pa.int64() else value,
                                                                 kind), table.num_rows))
    return table


def _unify(first: pa.DataType | None, other: pa.DataType | None) -> pa.DataType | None:
    """The type both files' values are read as, or None when they do not agree."""
    if first is None or other is None:
        return None
    if first == other:
        return first
    numeric = (pa.types.is_integer, pa.types.is_floating)
    if any(p(first) for p in numeric) and any(p(other) for p in numeric):
        return pa.float64()
    if pa.types.is_null(first):
        return other
    if pa.types.is_null(other):
        return first
    return None


def _file_digest(path: Path) -> tuple[int, str]:
    with open(path, "rb") as handle:
        return os.fstat(handle.fileno()).st_size, hashlib.file_digest(handle, "sha256").hexdigest()


def _column_digest(name: str, column: pa.ChunkedArray) -> str:
    array = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    return hashlib.sha256(pa.RecordBatch.from_arrays([array], [name]).serialize()).hexdigest()
