"""Scanning files and directory trees for sensitive data, in full or by sampling, on one core, many, or a Ray cluster.

The work is split into units — a file, a run of row groups of a large Parquet file, or a byte range of a large
uncompressed CSV, TSV, JSON Lines or text file starting at a record start (see :mod:`.ranges`) — that are scanned
independently and merged in plan order, so one process, a process pool and Ray give the same result. Each unit
reads with :mod:`.io`, scans tables column by column with :mod:`.tables` (text files as a table of lines) and
aggregates findings per (file, table, column, entity): occurrences, highest score, severity and at most
``max_samples`` locations (row, column, offsets; the first ones in row order). A raw value never leaves the unit:
``on_sample`` may turn a sampled value into a preview (a mask) while it is in memory, and that is all. The
findings of repeated column values are remembered per process for one ``scan_paths`` call (:class:`.tables.ValueMemo`:
the units scanned in this process, or by one pool worker, which ends with the call) and forgotten with it.

Sampling takes ``sample`` rows per file uniformly at random with a seeded generator: Parquet by choosing row
indices from the footer's row count and reading only the row groups that hold them, other formats by bottom-k
sampling (each row gets a random key; the k smallest keys win) in one streaming pass. With n rows sampled and
no finding of a type, the prevalence of that type in the file is below 1 - 0.05^(1/n) with 95% confidence (the
"rule of three": about 3/n), reported per file.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Literal

import numpy as np
import pyarrow as pa

from aicoe.engines.sensitive import io, ranges, tables
from aicoe.engines.sensitive.analyzer import DEFAULT_MIN_SCORE, default_analyzer
from aicoe.engines.sensitive.model import SEVERITIES, Finding

DEFAULT_MAX_SAMPLES = 10
DEFAULT_UNIT_BYTES = 64 << 20
CONFIDENCE = 0.95

SYMLINK_SKIPPED = "symbolic link not followed"
BAD_WORKERS = "workers must be 1 or more, got {value}"
BAD_SAMPLE = "sample must be 1 or more rows, got {value}"
BAD_MAX_SAMPLES = "max_samples must be 0 or more, got {value}"
BAD_ENGINE = "engine must be 'local' or 'ray', got {value!r}"
RAY_MISSING = "engine 'ray' needs the ray package: pip install 'aicoe[ray]'"

Progress = Callable[[int, int], None]


class EngineUnavailable(RuntimeError):
    """The requested engine cannot run here (Ray is not installed)."""

SEVERITY_RANK = {severity: rank for rank, severity in enumerate(SEVERITIES)}


@dataclass(frozen=True, slots=True)
class ScanOptions:
    """How to scan. ``on_sample(value) -> preview`` must be picklable when scanning in several processes."""

    entities: tuple[str, ...] | None = None
    min_score: float = DEFAULT_MIN_SCORE
    language: str = "en"
    sample: int | None = None
    seed: int = 0
    max_samples: int = DEFAULT_MAX_SAMPLES
    max_file_bytes: int | None = None
    batch_rows: int = 65_536
    label_threshold: float = tables.DEFAULT_LABEL_THRESHOLD
    unit_bytes: int = DEFAULT_UNIT_BYTES
    on_sample: Callable[[str], str] | None = None


@dataclass(frozen=True, slots=True)
class Location:
    """Where one occurrence is: ``row`` is 1-based among the data rows (a text file's line number; the header of
    a CSV or sheet is not counted), ``start``/``end`` are offsets in the cell (or line). Never the value."""

    row: int
    column: str | None
    start: int
    end: int
    preview: str | None = None


@dataclass(slots=True)
class FindingGroup:
    """All occurrences of one entity type in one column of one table of one file."""

    path: str
    table: str | None
    column: str | None
    entity: str
    category: str
    severity: str
    count: int = 0
    max_score: float = 0.0
    recognizers: list[str] = field(default_factory=list)
    samples: list[Location] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["max_score"] = round(self.max_score, 4)
        return data


@dataclass(slots=True)
class ColumnReport:
    """A column's classification: its profile and the entity label it earns."""

    path: str
    table: str | None
    profile: tables.ColumnProfile

    def as_dict(self, threshold: float) -> dict[str, object]:
        return {"path": self.path, "table": self.table, **self.profile.as_dict(threshold)}


@dataclass(slots=True)
class FileReport:
    """One file: ``status`` is scanned, skipped (nothing read; ``reason`` says why) or partial (an error after
    some rows; findings up to there are kept). ``sample`` states the sampling and its confidence."""

    path: str
    format: str | None
    status: Literal["scanned", "skipped", "partial"]
    reason: str | None
    bytes: int
    rows: int
    cells: int
    values: int
    sha256: str | None
    sample: dict[str, object] | None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(slots=True)
class ScanResult:
    """Findings, per-file reports, column classifications and a summary (see :meth:`as_dict`)."""

    findings: list[FindingGroup]
    files: list[FileReport]
    columns: list[ColumnReport]
    summary: dict[str, object]
    label_threshold: float = tables.DEFAULT_LABEL_THRESHOLD

    def at_or_above(self, severity: str) -> list[FindingGroup]:
        """The finding groups whose severity is ``severity`` or worse."""
        floor = SEVERITY_RANK[severity]
        return [group for group in self.findings if SEVERITY_RANK[group.severity] >= floor]

    def as_dict(self) -> dict[str, object]:
        return {"summary": dict(self.summary), "files": [f.as_dict() for f in self.files],
                "columns": [c.as_dict(self.label_threshold) for c in self.columns],
                "findings": [g.as_dict() for g in self.findings]}


@dataclass(frozen=True, slots=True)
class WorkUnit:
    """A file, the row groups ``row_groups`` of a Parquet file whose first row is ``first_row``, or the records in
    ``byte_range`` of a file, numbered from 0 (the rows before a range are known only once the units before it
    are read, so ``_merge`` renumbers them)."""

    index: int
    file_index: int
    path: str
    fmt: io.FileFormat | None
    bytes: int
    error: str | None = None
    row_groups: tuple[int, ...] | None = None
    first_row: int = 0
    part: int = 0
    byte_range: io.ByteRange | None = None


@dataclass(slots=True)
class UnitResult:
    """What a unit found; findings keyed by (table, column, entity), profiles by (table, column)."""

    unit: WorkUnit
    groups: dict[tuple[str | None, str | None, str], FindingGroup] = field(default_factory=dict)
    profiles: dict[tuple[str | None, str], tables.ColumnProfile] = field(default_factory=dict)
    rows: int = 0
    rows_total: int = 0
    cells: int = 0
    values: int = 0
    error: str | None = None
    sha256: str | None = None


def scan_paths(paths: Iterable[str | os.PathLike[str]] | str | os.PathLike[str], *,
               entities: Iterable[str] | None = None, min_score: float = DEFAULT_MIN_SCORE, language: str = "en",
               sample: int | None = None, seed: int = 0,
               max_samples: int = DEFAULT_MAX_SAMPLES, max_file_bytes: int | None = None, workers: int = 1,
               engine: Literal["local", "ray"] = "local", on_sample: Callable[[str], str] | None = None,
               progress: Progress | None = None, batch_rows: int = 65_536,
               label_threshold: float = tables.DEFAULT_LABEL_THRESHOLD,
               unit_bytes: int = DEFAULT_UNIT_BYTES) -> ScanResult:
    """Scan files and directory trees (recursively, in name order, symlinks inside trees not followed).

    A file that cannot be read is reported with its reason while the rest are scanned. ``progress(done, total)``
    is called with bytes of the files on disk. ``workers`` > 1 scans units in that many processes;
    ``engine="ray"`` runs them as Ray tasks (on the cluster ``ray.init`` connects to, or a local one; the paths
    must be readable where the tasks run).
    """
    if workers < 1:
        raise ValueError(BAD_WORKERS.format(value=workers))
    if sample is not None and sample < 1:
        raise ValueError(BAD_SAMPLE.format(value=sample))
    if max_samples < 0:
        raise ValueError(BAD_MAX_SAMPLES.format(value=max_samples))
    if engine not in ("local", "ray"):
        raise ValueError(BAD_ENGINE.format(value=engine))
    wanted = tuple(sorted(set(entities))) if entities is not None else None
    default_analyzer().scan_text("", entities=wanted, min_score=min_score, language=language)  # validates options
    options = ScanOptions(wanted, min_score, language, sample, seed, max_samples, max_file_bytes, batch_rows,
                          label_threshold, unit_bytes, on_sample)
    started = time.perf_counter()
    files = list(_expand(paths))
    ray = _ray() if engine == "ray" else None
    parallelism = int(ray.cluster_resources().get("CPU", 1)) if ray is not None else workers
    units = _plan(files, options, parallelism=parallelism)
    total = sum(unit.bytes for unit in units)
    if ray is not None:
        results = _run_ray(ray, units, options, progress, total)
    elif workers > 1 and sum(unit.error is None for unit in units) > 1:  # one unit: a pool only adds start-up
        results = _run_pool(units, options, progress, total, workers)
    else:
        results = _run_local(units, options, progress, total)
    return _merge(files, results, options, time.perf_counter() - started, workers, engine)


def _expand(paths: Iterable[str | os.PathLike[str]] | str | os.PathLike[str]) -> Iterator[tuple[str, str | None]]:
    """(path, reason it is skipped or None) for every file under ``paths`` (one path or several), each once, in
    a stable order."""
    seen: set[str] = set()
    for given in [paths] if isinstance(paths, str | os.PathLike) else paths:
        for path, reason in _walk(Path(given)):
            if reason is None:
                key = os.path.realpath(path)
                if key in seen:
                    continue
                seen.add(key)
            yield str(path), reason


def _walk(path: Path) -> Iterator[tuple[Path, str | None]]:
    if not path.is_dir():
        yield path, None
        return
    try:
        entries = sorted(os.scandir(path), key=lambda e: e.name)
    except OSError as exc:
        yield path, io.CANNOT_OPEN.format(error=exc.strerror or exc)
        return
    for entry in entries:
        child = path / entry.name
        if entry.is_symlink():
            yield child, SYMLINK_SKIPPED
        elif entry.is_dir():
            yield from _walk(child)
        else:
            yield child, None


def _plan(files: Sequence[tuple[str, str | None]], options: ScanOptions, *, parallelism: int) -> list[WorkUnit]:
    """Units in file order: one per file, or, when the scan is parallel and full, parts of a file of about
    ``unit_bytes`` and at most a ``parallelism``-th of it, so even one file keeps every worker busy: runs of
    row groups of a Parquet file, byte ranges of an uncompressed CSV, TSV, JSON Lines or text file (sampling
    picks rows across the whole file, so a sampled file stays one unit)."""
    units: list[WorkUnit] = []
    for file_index, (path, reason) in enumerate(files):
        size, fmt = 0, None
        try:
            if reason is None:
                size = io.check_size(path, options.max_file_bytes)
                fmt = io.detect_format(path)
        except io.UnreadableFile as exc:
            reason = exc.reason
        if reason is not None or fmt is None:
            units.append(WorkUnit(len(units), file_index, path, None, size, error=reason))
            continue
        target = min(options.unit_bytes, -(-size // max(parallelism, 1)))
        if options.sample is not None or parallelism < 2 or size <= target:
            units.append(WorkUnit(len(units), file_index, path, fmt, size))
        elif fmt.kind == "parquet" and (parts := _parquet_parts(path, fmt, size, target)):
            units += [WorkUnit(len(units) + part, file_index, path, fmt, part_bytes, row_groups=groups,
                               first_row=first_row, part=part)
                      for part, (groups, first_row, part_bytes) in enumerate(parts)]
        elif spans := ranges.split_lines(path, fmt, size, target):
            units += [WorkUnit(len(units) + part, file_index, path, fmt, span.end - span.start, part=part,
                               byte_range=span) for part, span in enumerate(spans)]
        else:
            units.append(WorkUnit(len(units), file_index, path, fmt, size))
    return units


def _parquet_parts(path: str, fmt: io.FileFormat, size: int,
                   target: int) -> list[tuple[tuple[int, ...], int, int]] | None:
    try:
        layout = io.parquet_layout(path, fmt)
    except io.UnreadableFile:
        return None  # the unit reading the whole file reports it
    parts: list[tuple[tuple[int, ...], int, int]] = []
    groups: list[int] = []
    first_row = rows = part_bytes = 0
    for group, (group_rows, group_bytes) in enumerate(zip(layout.row_group_rows, layout.row_group_bytes,
                                                          strict=True)):
        groups.append(group)
        rows += group_rows
        part_bytes += group_bytes
        if part_bytes >= target:
            parts.append((tuple(groups), first_row, part_bytes))
            groups, first_row, part_bytes = [], rows, 0
    if groups:
        parts.append((tuple(groups), first_row, part_bytes))
    if len(parts) < 2:
        return None
    last_groups, last_first, last_bytes = parts[-1]
    parts[-1] = (last_groups, last_first, last_bytes + size - sum(p[2] for p in parts))
    return parts


def _run_local(units: Sequence[WorkUnit], options: ScanOptions, progress: Progress | None,
               total: int) -> list[UnitResult]:
    results: list[UnitResult] = []
    done = 0
    memo = tables.ValueMemo()
    for unit in units:
        on_position = None
        if progress is not None:
            def on_position(position: int, base: int = done, limit: int = unit.bytes) -> None:
                progress(base + min(position, limit), total)
        results.append(scan_unit(unit, options, on_position, memo))
        done += unit.bytes
        if progress is not None:
            progress(done, total)
    return results


def _run_pool(units: Sequence[WorkUnit], options: ScanOptions, progress: Progress | None, total: int,
              workers: int) -> list[UnitResult]:
    context = multiprocessing.get_context("spawn")  # fork is unsafe with Arrow's and Ray's threads
    results: list[UnitResult | None] = [None] * len(units)
    done = 0
    # The filter's compile started when scan_paths validated its options; each worker adopts it (see prefilter).
    compiled = default_analyzer().dump_filter(options.language)
    with ProcessPoolExecutor(max_workers=min(workers, max(len(units), 1)), mp_context=context,
                             initializer=_start_worker, initargs=(options.language, compiled)) as pool:
        pending: dict[Future[UnitResult], WorkUnit] = {pool.submit(_scan_in_worker, unit, options): unit
                                                       for unit in units}
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                unit = pending.pop(future)
                results[unit.index] = future.result()
                done += unit.bytes
                if progress is not None:
                    progress(done, total)
    return results  # type: ignore[return-value]


# A pool worker's memo of repeated values: it lives as long as the worker, that is, one scan_paths call.
_worker_memo: tables.ValueMemo | None = None


def _start_worker(language: str, compiled: bytes | None) -> None:
    """Build the analyzer and its Hyperscan filter before the first unit: scanning while the filter compiles in
    the background leaves the first batches to the much slower RE2 set, on a core the compile also wants. The
    parent's ``compiled`` filter is adopted when it loads (a second of a core saved per worker); else compiled."""
    global _worker_memo
    _worker_memo = tables.ValueMemo()
    _adopt_filter(language, compiled)
    default_analyzer().prepare(language)


def _adopt_filter(language: str, compiled: bytes | None) -> None:
    if compiled is not None:
        default_analyzer().load_filter(language, compiled)


def _scan_in_worker(unit: WorkUnit, options: ScanOptions) -> UnitResult:
    return scan_unit(unit, options, memo=_worker_memo)


def _ray() -> ModuleType:
    """The ray module, connected: to the cluster ``ray.init`` finds (RAY_ADDRESS), else a local one."""
    try:
        import ray
    except ImportError:
        raise EngineUnavailable(RAY_MISSING) from None
    if not ray.is_initialized():
        ray.init(include_dashboard=False)
    return ray


def _run_ray(ray: ModuleType, units: Sequence[WorkUnit], options: ScanOptions, progress: Progress | None,
             total: int) -> list[UnitResult]:
    remote = ray.remote(num_cpus=1)(_scan_in_ray_task)
    compiled = ray.put(default_analyzer().dump_filter(options.language))  # stored once, fetched once per node
    refs = [remote.remote(unit, options, compiled) for unit in units]
    index_of = {ref: i for i, ref in enumerate(refs)}
    results: list[UnitResult | None] = [None] * len(units)
    pending, done = list(refs), 0
    while pending:
        ready, pending = ray.wait(pending, num_returns=1)
        for ref in ready:
            position = index_of[ref]
            results[position] = ray.get(ref)
            done += units[position].bytes
            if progress is not None:
                progress(done, total)
    return results  # type: ignore[return-value]


def _scan_in_ray_task(unit: WorkUnit, options: ScanOptions, compiled: bytes | None) -> UnitResult:
    """:func:`scan_unit` in a Ray worker process, which adopts the driver's compiled filter on its first task."""
    _adopt_filter(options.language, compiled)
    return scan_unit(unit, options)


def scan_unit(unit: WorkUnit, options: ScanOptions, on_position: Callable[[int], None] | None = None,
              memo: tables.ValueMemo | None = None) -> UnitResult:
    """Scan one work unit; an ``UnreadableFile`` ends it with the reason, keeping what was found before.
    ``memo`` shares repeated values' findings with the other units of the same scan in this process."""
    memo = tables.ValueMemo() if memo is None else memo
    result = UnitResult(unit, error=unit.error)
    if unit.error is not None or unit.fmt is None:
        return result
    try:
        if options.sample is None and unit.part == 0:
            result.sha256 = _sha256(unit.path)
        for table, rows, batch in _row_stream(unit, unit.fmt, options, result, on_position):
            _scan_rows(result, table, rows, batch, unit.fmt, options, memo)
    except io.UnreadableFile as exc:
        result.error = exc.reason
    return result


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


Rows = tuple[str | None, np.ndarray, pa.RecordBatch]


def _row_stream(unit: WorkUnit, fmt: io.FileFormat, options: ScanOptions, result: UnitResult,
                on_position: Callable[[int], None] | None) -> Iterator[Rows]:
    """(table, 0-based row numbers in that table, batch) for the rows to scan, in file order."""
    if options.sample is not None and fmt.kind == "parquet":
        yield from _parquet_sample(unit, fmt, options, options.sample, result)
        return
    stream = _all_rows(unit, fmt, options, on_position)
    if options.sample is None:
        for table, rows, batch in stream:
            result.rows_total += batch.num_rows
            yield table, rows, batch
        return
    yield from _bottom_k(stream, options.sample, _rng(unit.path, options.seed), result)


def _all_rows(unit: WorkUnit, fmt: io.FileFormat, options: ScanOptions,
              on_position: Callable[[int], None] | None) -> Iterator[Rows]:
    if fmt.kind == "text":
        line = 0
        for chunk in io.iter_text_chunks(unit.path, fmt, on_position=on_position, byte_range=unit.byte_range):
            lines = chunk.split("\n")
            if chunk.endswith("\n"):
                lines.pop()
            batch = pa.record_batch([pa.array(lines, type=pa.string())], names=["line"])
            yield None, np.arange(line, line + len(lines)), batch
            line += len(lines)
        return
    counters: dict[str | None, int] = {}
    for batch in io.read_batches(unit.path, fmt, batch_rows=options.batch_rows, row_groups=unit.row_groups,
                                 byte_range=unit.byte_range, on_position=on_position):
        table = io.batch_table(batch)
        first = counters.get(table, unit.first_row)
        counters[table] = first + batch.num_rows
        yield table, np.arange(first, first + batch.num_rows), batch


def _rng(path: str, seed: int) -> np.random.Generator:
    """A generator per (seed, file), so a file's sample does not depend on the other files or the worker."""
    return np.random.default_rng([seed, zlib.crc32(path.encode("utf-8"))])


def _bottom_k(stream: Iterator[Rows], k: int, rng: np.random.Generator, result: UnitResult) -> Iterator[Rows]:
    """A uniform sample of ``k`` rows in one pass: every row draws a key, the k smallest keys are kept.

    Candidates are copied out of their batch at once and pruned whenever they reach 2k (memory stays about 2k
    rows plus one batch); the survivors are yielded in file order.
    """
    kept: list[tuple[str | None, np.ndarray, np.ndarray, pa.RecordBatch]] = []
    held = 0
    bar = np.inf
    for table, rows, batch in stream:
        result.rows_total += batch.num_rows
        keys = rng.random(batch.num_rows)
        chosen = np.flatnonzero(keys < bar)
        if chosen.size:
            kept.append((table, rows[chosen], keys[chosen], batch.take(pa.array(chosen))))
            held += chosen.size
        if held >= 2 * k:
            bar = np.partition(np.concatenate([entry[2] for entry in kept]), k - 1)[k - 1]
            kept, held = _below(kept, bar)
    if held > k:
        bar = np.partition(np.concatenate([entry[2] for entry in kept]), k - 1)[k - 1]
        kept, held = _below(kept, bar)
    for table, rows, _, batch in kept:
        yield table, rows, batch


def _below(kept: list[tuple[str | None, np.ndarray, np.ndarray, pa.RecordBatch]],
           bar: float) -> tuple[list[tuple[str | None, np.ndarray, np.ndarray, pa.RecordBatch]], int]:
    survivors = []
    for table, rows, keys, batch in kept:
        chosen = np.flatnonzero(keys <= bar)
        if chosen.size:
            survivors.append((table, rows[chosen], keys[chosen], batch.take(pa.array(chosen))))
    return survivors, sum(entry[1].size for entry in survivors)


def _parquet_sample(unit: WorkUnit, fmt: io.FileFormat, options: ScanOptions, k: int,
                    result: UnitResult) -> Iterator[Rows]:
    """Row indices drawn from the footer's row count; only the row groups holding them are read, in one pass."""
    layout = io.parquet_layout(unit.path, fmt)
    result.rows_total = layout.num_rows
    picked = np.sort(_rng(unit.path, options.seed).choice(layout.num_rows, size=min(k, layout.num_rows), replace=False))
    bounds = np.concatenate(([0], np.cumsum(layout.row_group_rows)))
    group_of = np.searchsorted(bounds, picked, side="right") - 1
    needed = np.unique(group_of)
    # Where each picked row sits in the stream of the needed row groups read back to back.
    skipped = bounds[needed] - np.concatenate(([0], np.cumsum(np.diff(bounds)[needed])[:-1]))
    positions = picked - skipped[np.searchsorted(needed, group_of)]
    offset = 0
    for batch in io.read_batches(unit.path, fmt, batch_rows=options.batch_rows, row_groups=needed.tolist()):
        lo, hi = np.searchsorted(positions, [offset, offset + batch.num_rows])
        if lo < hi:
            yield None, picked[lo:hi], batch.take(pa.array(positions[lo:hi] - offset))
        offset += batch.num_rows


def _scan_rows(result: UnitResult, table: str | None, rows: np.ndarray, batch: pa.RecordBatch, fmt: io.FileFormat,
               options: ScanOptions, memo: tables.ValueMemo) -> None:
    analyzer = default_analyzer()
    text = fmt.kind == "text"
    scan = tables.scan_batch(batch, analyzer=analyzer, entities=options.entities, min_score=options.min_score,
                             language=options.language, name_context=not text, memo=memo)
    result.rows += batch.num_rows
    result.cells += 0 if text else batch.num_rows * len(scan.columns)
    result.values += sum(p.non_null for p in scan.columns.values() if p.scanned)
    if not text:
        for name, profile in scan.columns.items():
            if (table, name) in result.profiles:
                result.profiles[table, name].merge(profile)
            else:
                result.profiles[table, name] = profile
    for name, located in scan.located.items():
        _add_column(result, table, None if text else name, located, rows, scan.texts[name], options)


def _add_column(result: UnitResult, table: str | None, column: str | None, located: tables.Located,
                rows: np.ndarray, text: pa.Array, options: ScanOptions) -> None:
    """Fold a column's occurrences into the unit's finding groups, as if walking them in row and offset order.

    Counts come from numpy and maxima and recognisers from the column's distinct findings (each occurs at least
    once); only the sample locations kept are built one by one, so the cost does not grow with the occurrences.
    """
    distinct, which = located.distinct, located.which
    members: dict[str, list[int]] = {}
    for index, finding in enumerate(distinct):
        members.setdefault(finding.entity, []).append(index)
    entity_of = np.empty(len(distinct), dtype=np.int64)
    for code, indices in enumerate(members.values()):
        entity_of[indices] = code
    codes = entity_of[which]
    counts = np.bincount(codes, minlength=len(members))
    for code, (entity, indices) in enumerate(members.items()):
        key = (table, column, entity)
        group = result.groups.get(key)
        mine: np.ndarray | None = None
        if group is None:
            mine = np.flatnonzero(codes == code)
            first = distinct[which[mine[0]]]
            group = result.groups[key] = FindingGroup(result.unit.path, table, column, entity, first.category,
                                                      first.severity)
        group.count += int(counts[code])
        group.max_score = max(group.max_score, max(distinct[index].score for index in indices))
        new = {distinct[index].reason.recognizer for index in indices}.difference(group.recognizers)
        if new:
            mine = np.flatnonzero(codes == code) if mine is None else mine
            group.recognizers.extend(_first_seen(new, (distinct[index] for index in which[mine].tolist())))
        wanted = options.max_samples - len(group.samples)
        if wanted > 0:
            mine = np.flatnonzero(codes == code) if mine is None else mine
            for position in mine[:wanted].tolist():
                finding, row = distinct[which[position]], int(located.rows[position])
                preview = None
                if options.on_sample is not None:
                    preview = options.on_sample(text[row].as_py()[finding.start:finding.end])
                group.samples.append(Location(int(rows[row]) + 1, column, finding.start, finding.end, preview))


def _first_seen(names: set[str], findings: Iterable[Finding]) -> list[str]:
    """The recognisers ``names`` in the order their first finding comes in ``findings``."""
    seen: list[str] = []
    for finding in findings:
        name = finding.reason.recognizer
        if name in names and name not in seen:
            seen.append(name)
            if len(seen) == len(names):
                break
    return seen


def _merge(files: Sequence[tuple[str, str | None]], results: Sequence[UnitResult], options: ScanOptions,
           elapsed: float, workers: int, engine: str) -> ScanResult:
    """Combine unit results in plan order into per-file reports, finding groups and column classifications."""
    by_file: dict[int, list[UnitResult]] = {}
    for result in results:
        by_file.setdefault(result.unit.file_index, []).append(result)
    findings: list[FindingGroup] = []
    reports: list[FileReport] = []
    columns: list[ColumnReport] = []
    for file_index, (path, _) in enumerate(files):
        parts = _until_error(by_file[file_index])
        groups: dict[tuple[str | None, str | None, str], FindingGroup] = {}
        profiles: dict[tuple[str | None, str], tables.ColumnProfile] = {}
        rows_before = 0
        for part in parts:
            shift = rows_before if part.unit.byte_range is not None else 0
            for key, group in part.groups.items():
                _add_group(groups, key, _shifted(group, shift, options.max_samples), options.max_samples)
            rows_before += part.rows
            for key, profile in part.profiles.items():
                if key in profiles:
                    profiles[key].merge(profile)
                else:
                    profiles[key] = profile
        reports.append(_file_report(path, parts, sum(part.unit.bytes for part in by_file[file_index]), options))
        columns.extend(ColumnReport(path, table, profile) for (table, _), profile in profiles.items())
        order = {key: rank for rank, key in enumerate(profiles)}
        tables_seen = list(dict.fromkeys([table for table, _ in profiles] + [key[0] for key in groups]))
        findings.extend(sorted(groups.values(), key=lambda g: (tables_seen.index(g.table),
                                                                order.get((g.table, g.column or ""), -1), g.entity)))
    return ScanResult(findings, reports, columns, _summary(reports, findings, options, elapsed, workers, engine),
                      options.label_threshold)


def _until_error(parts: list[UnitResult]) -> list[UnitResult]:
    """The parts up to the first that failed: a one-unit scan stops at the first error, and so does a split one."""
    failed = next((i for i, part in enumerate(parts) if part.error is not None), len(parts) - 1)
    return parts[: failed + 1]


def _shifted(group: FindingGroup, rows: int, max_samples: int) -> FindingGroup:
    """The group with its sample rows moved down by the ``rows`` of the parts before it (at most the samples
    that can be kept)."""
    if not rows:
        return group
    moved = [replace(location, row=location.row + rows) for location in group.samples[:max_samples]]
    return replace(group, samples=moved)


def _add_group(groups: dict[tuple[str | None, str | None, str], FindingGroup],
               key: tuple[str | None, str | None, str], group: FindingGroup, max_samples: int) -> None:
    into = groups.get(key)
    if into is None:
        groups[key] = group
        return
    into.count += group.count
    into.max_score = max(into.max_score, group.max_score)
    into.recognizers.extend(name for name in group.recognizers if name not in into.recognizers)
    into.samples.extend(group.samples[: max_samples - len(into.samples)])


def _file_report(path: str, parts: Sequence[UnitResult], size: int, options: ScanOptions) -> FileReport:
    first = parts[0].unit
    error = next((part.error for part in parts if part.error is not None), None)
    rows = sum(part.rows for part in parts)
    status: Literal["scanned", "skipped", "partial"] = "scanned"
    if error is not None:
        status = "partial" if rows else "skipped"
    fmt = first.fmt
    label = None if fmt is None else fmt.kind + ("+gzip" if fmt.compressed else "")
    sample = None
    if options.sample is not None and status != "skipped":
        sample = _confidence(options.sample, rows, sum(part.rows_total for part in parts))
    scanned = status != "skipped"
    return FileReport(path, label, status, error, size if scanned else 0, rows,
                      sum(part.cells for part in parts), sum(part.values for part in parts),
                      parts[0].sha256 if status == "scanned" else None, sample)


def _confidence(requested: int, rows: int, rows_total: int) -> dict[str, object]:
    """The sample's size and, for an entity type with no finding in it, the 95% upper bound of its prevalence:
    1 - 0.05^(1/n) (zero when every row was read; None when there were no rows)."""
    if rows == 0:
        bound = None
    elif rows >= rows_total:
        bound = 0.0
    else:
        bound = 1 - (1 - CONFIDENCE) ** (1 / rows)
    return {"requested": requested, "rows": rows, "rows_total": rows_total, "prevalence_upper_95": bound}


def _summary(reports: Sequence[FileReport], findings: Sequence[FindingGroup], options: ScanOptions, elapsed: float,
             workers: int, engine: str) -> dict[str, object]:
    by_entity: dict[str, int] = {}
    by_severity = dict.fromkeys(SEVERITIES, 0)
    for group in findings:
        by_entity[group.entity] = by_entity.get(group.entity, 0) + group.count
        by_severity[group.severity] += group.count
    rows = sum(r.rows for r in reports)
    cells = sum(r.cells for r in reports)
    hashed = [r for r in reports if r.sha256 is not None]
    fingerprint = None
    if options.sample is None and hashed:
        fingerprint = hashlib.sha256("".join(f"{r.sha256}  {r.path}\n" for r in hashed).encode("utf-8")).hexdigest()
    highest = max((group.severity for group in findings), key=SEVERITY_RANK.__getitem__, default=None)
    return {
        "files": len(reports),
        "files_scanned": sum(r.status == "scanned" for r in reports),
        "files_partial": sum(r.status == "partial" for r in reports),
        "files_skipped": sum(r.status == "skipped" for r in reports),
        "skipped": [{"path": r.path, "status": r.status, "reason": r.reason} for r in reports if r.reason],
        "rows": rows, "cells": cells, "values": sum(r.values for r in reports), "bytes": sum(r.bytes for r in reports),
        "occurrences": sum(by_entity.values()), "by_entity": dict(sorted(by_entity.items())),
        "by_severity": by_severity, "highest_severity": highest,
        "entities": list(options.entities) if options.entities is not None else None,
        "min_score": options.min_score, "sample": options.sample,
        "seed": options.seed if options.sample is not None else None,
        "fingerprint": fingerprint,
        "run": {"engine": engine, "workers": workers, "elapsed_s": round(elapsed, 6),
                "rows_per_s": round(rows / elapsed, 1) if elapsed > 0 else None,
                "cells_per_s": round(cells / elapsed, 1) if elapsed > 0 else None},
    }
