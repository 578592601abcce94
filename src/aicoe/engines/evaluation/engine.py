"""The orchestrator: read the input in partitions, collect each partition's sufficient statistics, merge them in
partition order, finalise the sections and run the policy.

Every work unit goes through one function, :func:`collect`, whether it runs here, in a process pool or as a Ray
task; its statistics are merged left to right in unit order whatever order the workers finish in, so the
floating-point sums, and hence every number of the result, are the same bit for bit on every engine. A file unit
(:class:`io.FilePart`: a file's path and a row-group or record-batch range) is read by the worker itself, which
returns only statistics: the orchestrator never reads rows of a file, so it does not compete with the workers for
CPU. A partition of a table in memory travels as Arrow IPC bytes (a slice pickles with its parent's buffers, IPC
with only its rows). At most ``2 × workers`` units are in flight, which bounds memory however large the input.
"""

from __future__ import annotations

import multiprocessing
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import pyarrow as pa

from aicoe.engines.evaluation import io
from aicoe.engines.evaluation.batch import infer_task, prepare, timestamps
from aicoe.engines.evaluation.drift import DriftStats, drift_section, parse_window
from aicoe.engines.evaluation.errors import EvaluationError
from aicoe.engines.evaluation.fairness import FairnessStats
from aicoe.engines.evaluation.performance import PerformanceStats
from aicoe.engines.evaluation.policy import Policy, load_policy
from aicoe.engines.evaluation.result import EvaluationResult
from aicoe.engines.evaluation.spec import ColumnSpec, Options, Task

BAD_ENGINE = "engine must be 'local' or 'ray', got {value!r}"
BAD_WORKERS = "workers must be 1 or more, got {value}"
BAD_PARTITION_ROWS = "options.partition_rows must be 1 or more, got {value}"
RAY_MISSING = "engine 'ray' needs the ray package: pip install 'aicoe[ray]'"
LABEL_WITHOUT_PREDICTION = "the column spec names a label ({label!r}) but no prediction column"
FAIRNESS_NEEDS_LABEL = "fairness by {features} needs a label and a prediction column"
NOTHING_TO_EVALUATE = "nothing to evaluate: name a label and a prediction column, or give a reference for drift"
WINDOW_NEEDS_TIMESTAMP = "drift windows ({window}) need a timestamp column in the spec"
FEATURE_TYPE = "feature column {column!r} has type {type}: drift compares numbers, booleans or strings"
DRIFT_TYPES_DIFFER = "column {column!r} is {reference} in the reference data but {current} in the current data"

Progress = Callable[[int, int | None], None]
DEFAULT_OPTIONS = Options()
Kind = Literal["numeric", "categorical"]


@dataclass(frozen=True)
class Plan:
    """What :func:`collect` computes for a partition; picklable, sent once with every task."""

    spec: ColumnSpec
    task: Task | None
    options: Options
    drift: dict[str, Kind] | None   # drift columns, None without a reference
    reference: bool                 # a reference partition: drift statistics only
    windows: bool                   # keep per-window drift sketches (current data with options.drift_window)


@dataclass
class PartitionStats:
    """The statistics of one partition, or of several merged."""

    rows: int
    performance: PerformanceStats | None
    fairness: FairnessStats | None
    drift: DriftStats | None

    def merge(self, other: PartitionStats) -> PartitionStats:
        return PartitionStats(self.rows + other.rows, _merged(self.performance, other.performance),
                              _merged(self.fairness, other.fairness), _merged(self.drift, other.drift))


def evaluate(data: Any, spec: ColumnSpec, *, reference: Any = None, policy: Policy | str | Path | None = None,
             options: Options = DEFAULT_OPTIONS, engine: Literal["local", "ray"] = "local", workers: int = 1,
             progress: Progress | None = None) -> EvaluationResult:
    """Evaluate prediction logs ``data`` (a path, a directory, a list of paths, or a pyarrow/pandas/polars table
    or dict of arrays) described by ``spec``: performance with a label and a prediction, fairness with sensitive
    features, drift against ``reference`` (the same kinds of input), then ``policy`` (a Policy, YAML text or a
    path), which is validated before any data is read.

    ``workers`` > 1 collects partitions in that many local processes; ``engine="ray"`` runs them as Ray tasks
    (the cluster at RAY_ADDRESS, else a local one). ``progress(rows_done, total_rows or None)`` is called after
    each partition (reference partitions first)."""
    if engine not in ("local", "ray"):
        raise EvaluationError(BAD_ENGINE.format(value=engine))
    if workers < 1:
        raise EvaluationError(BAD_WORKERS.format(value=workers))
    if options.partition_rows < 1:
        raise EvaluationError(BAD_PARTITION_ROWS.format(value=options.partition_rows))
    checked = load_policy(policy) if policy is not None else None
    _check_spec(spec, reference is not None, options)
    started = time.perf_counter()
    ray = _ray() if engine == "ray" else None
    candidates: list[str] = []
    ref_source = None
    if reference is not None:
        candidates = _drift_candidates(spec, io.open_source(reference, None, options).schema)
        ref_source = io.open_source(reference, candidates, options)
    source = io.open_source(data, _unique([*spec.named_columns(), *candidates]), options)
    counts = [source.num_rows, ref_source.num_rows if ref_source is not None else 0]
    tracker = _Progress(progress, None if None in counts else sum(counts))  # type: ignore[arg-type]
    task = None
    if spec.label is not None:  # "auto" decides from the first partition's label: only that column is read
        first = next(source.partitions([spec.label])) if spec.task == "auto" else None
        task = infer_task(source.schema, first, spec) if first is not None else spec.task
    drift = None
    if ref_source is not None:
        drift = _drift_columns(spec, task, candidates, ref_source.schema, source.schema)
    with _Runner(ray, workers) as runner:
        ref_stats = None
        if ref_source is not None:
            ref_stats = runner.run(ref_source.units(), Plan(spec, task, options, drift, True, False), tracker)
        plan = Plan(spec, task, options, drift, False, drift is not None and options.drift_window is not None)
        stats = runner.run(source.units(), plan, tracker)
    if stats is None or stats.rows == 0 or (ref_stats is not None and ref_stats.rows == 0):
        raise EvaluationError(io.EMPTY)
    result = EvaluationResult(
        task=task, spec=spec.to_dict(), options=asdict(options), rows=stats.rows, weighted=spec.weight is not None,
        fingerprint=source.fingerprint(), engine=runner.label, elapsed_s=0.0,
        performance=stats.performance.finalize(options) if stats.performance is not None else None,
        fairness=stats.fairness.finalize(options) if stats.fairness is not None else None)
    if ref_stats is not None and ref_source is not None:
        assert ref_stats.drift is not None and stats.drift is not None
        prediction = spec.prediction if spec.prediction in candidates else None
        score = next((c for c in _prediction_columns(spec) if c != spec.prediction and c in candidates), None)
        result.drift = drift_section(ref_stats.drift, stats.drift, options, prediction=prediction, score=score)
        result.reference_rows, result.reference_fingerprint = ref_stats.rows, ref_source.fingerprint()
    if checked is not None:
        result.checks = checked.check(result.to_dict())
    result.elapsed_s = time.perf_counter() - started
    return result


@dataclass
class _Progress:
    """Counts rows merged and reports them."""

    callback: Progress | None
    total: int | None
    done: int = 0

    def __call__(self, rows: int) -> None:
        self.done += rows
        if self.callback is not None:
            self.callback(self.done, self.total)


def collect(unit: bytes | pa.Table | io.FilePart, plan: Plan,
            advance: Callable[[int], None] | None = None) -> PartitionStats:
    """The statistics of one work unit: the one function every engine runs. A partition (Arrow IPC bytes or a
    table) is collected; a file part is read here, partition by partition, merged in order. ``advance(rows)``
    after each partition, when given (in this process: a whole CSV file is one unit)."""
    if isinstance(unit, io.FilePart):
        tables: Iterable[pa.Table] = unit.tables()
    else:
        tables = [pa.ipc.open_stream(unit).read_all() if isinstance(unit, bytes) else unit]
    merged = PartitionStats(0, None, None, None)
    for table in tables:
        merged = merged.merge(_collect_table(table, plan))
        if advance is not None:
            advance(table.num_rows)
    return merged


def _collect_table(table: pa.Table, plan: Plan) -> PartitionStats:
    options, spec = plan.options, plan.spec
    if plan.reference:
        return PartitionStats(table.num_rows, None, None, DriftStats.collect(table, plan.drift, options))
    batch = prepare(table, spec, plan.task) if plan.task is not None else None
    performance = PerformanceStats.collect(batch, options) if batch is not None else None
    fairness = FairnessStats.collect(batch, options) if batch is not None and spec.sensitive else None
    drift = None
    if plan.drift is not None:
        stamps = None
        if plan.windows:
            stamps = batch.timestamp if batch is not None else timestamps(table.column(spec.timestamp), spec.timestamp)
        drift = DriftStats.collect(table.select(list(plan.drift)), plan.drift, options, timestamps=stamps)
    return PartitionStats(table.num_rows, performance, fairness, drift)


class _Runner:
    """Runs :func:`collect` over partitions here, in a process pool or on Ray, merging in partition order; one
    pool serves the reference and the current data."""

    def __init__(self, ray: ModuleType | None, workers: int) -> None:
        self.ray = ray
        self.workers = int(ray.cluster_resources().get("CPU", 1)) if ray is not None else workers
        self.label = "ray" if ray is not None else ("local" if workers == 1 else f"processes:{workers}")
        self.pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> _Runner:
        if self.ray is None and self.workers > 1:
            context = multiprocessing.get_context("spawn")  # fork is unsafe with Arrow's and Ray's threads
            self.pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=context)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)

    def run(self, units: Iterator[pa.Table | io.FilePart], plan: Plan,
            advance: Callable[[int], None]) -> PartitionStats | None:
        merged: PartitionStats | None = None
        if self.ray is None and self.pool is None:
            for unit in units:
                part = collect(unit, plan, advance)
                merged = part if merged is None else merged.merge(part)
            return merged
        submit = self._ray_submit(plan) if self.ray is not None else self._pool_submit(plan)
        result = self._ray_result if self.ray is not None else Future.result
        pending: deque[Any] = deque()
        for unit in units:
            pending.append(submit(_ipc(unit) if isinstance(unit, pa.Table) else unit))
            while len(pending) >= 2 * self.workers:
                merged = _fold(merged, result(pending.popleft()), advance)
        while pending:
            merged = _fold(merged, result(pending.popleft()), advance)
        return merged

    def _ray_result(self, ref: Any) -> PartitionStats:
        """The task's statistics; an EvaluationError raised in the task as itself (its exact message), not
        wrapped in Ray's error."""
        assert self.ray is not None
        try:
            return self.ray.get(ref)
        except self.ray.exceptions.RayTaskError as exc:
            if isinstance(exc.cause, EvaluationError):
                raise exc.cause from None
            raise

    def _ray_submit(self, plan: Plan) -> Callable[[bytes | io.FilePart], Any]:
        assert self.ray is not None
        remote, plan_ref = self.ray.remote(num_cpus=1)(collect), self.ray.put(plan)
        return lambda data: remote.remote(data, plan_ref)

    def _pool_submit(self, plan: Plan) -> Callable[[bytes | io.FilePart], Future[PartitionStats]]:
        assert self.pool is not None
        pool = self.pool
        return lambda data: pool.submit(collect, data, plan)


def _fold(merged: PartitionStats | None, part: PartitionStats, advance: Callable[[int], None]) -> PartitionStats:
    advance(part.rows)
    return part if merged is None else merged.merge(part)


def _merged(left: Any, right: Any) -> Any:
    return right if left is None else left if right is None else left.merge(right)


def _ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _ray() -> ModuleType:
    """The ray module, connected: to the cluster ``ray.init`` finds (RAY_ADDRESS), else a local one."""
    try:
        import ray
    except ImportError:
        raise EvaluationError(RAY_MISSING) from None
    if not ray.is_initialized():
        ray.init(include_dashboard=False)
    return ray


def _check_spec(spec: ColumnSpec, with_reference: bool, options: Options) -> None:
    if spec.label is not None and spec.prediction is None:
        raise EvaluationError(LABEL_WITHOUT_PREDICTION.format(label=spec.label))
    if spec.sensitive and spec.label is None:
        raise EvaluationError(FAIRNESS_NEEDS_LABEL.format(features=", ".join(spec.sensitive)))
    if spec.label is None and not with_reference:
        raise EvaluationError(NOTHING_TO_EVALUATE)
    if with_reference and options.drift_window is not None:
        parse_window(options.drift_window)
        if spec.timestamp is None:
            raise EvaluationError(WINDOW_NEEDS_TIMESTAMP.format(window=options.drift_window))


def _unique(names: list[str]) -> list[str]:
    return list(dict.fromkeys(names))


def _prediction_columns(spec: ColumnSpec) -> list[str]:
    """The prediction, and a binary task's score, compared for drift beside the features."""
    scores = list(spec.scores) if len(spec.scores) == 1 and spec.task in ("auto", "binary") else []
    return [c for c in (spec.prediction, *scores) if c]


def _drift_candidates(spec: ColumnSpec, schema: pa.Schema) -> list[str]:
    """The features (``spec.features``, else every column the spec does not name, of a comparable type) and the
    prediction columns the reference has (training data may have none)."""
    if spec.features is not None:
        features = list(spec.features)
    else:
        named = set(spec.named_columns())
        features = [f.name for f in schema if f.name not in named and _kind(f.type) is not None]
    return _unique([*features, *(c for c in _prediction_columns(spec) if c in schema.names)])


def _kind(kind: pa.DataType) -> Kind | None:
    kind = kind.value_type if pa.types.is_dictionary(kind) else kind
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return "numeric"
    if (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)
            or pa.types.is_boolean(kind)):
        return "categorical"
    return None


def _drift_columns(spec: ColumnSpec, task: Task | None, candidates: list[str], reference: pa.Schema,
                   current: pa.Schema) -> dict[str, Kind]:
    """name -> "numeric" | "categorical" from the reference schema; a classifier's prediction is categorical."""
    columns: dict[str, Kind] = {}
    for name in candidates:
        kind = _kind(reference.field(name).type)
        if name == spec.prediction and task in ("binary", "multiclass") and kind is not None:
            kind = "categorical"
        if kind is None:
            raise EvaluationError(FEATURE_TYPE.format(column=name, type=reference.field(name).type))
        other = _kind(current.field(name).type)
        if other != kind and not (name == spec.prediction and other is not None):
            raise EvaluationError(DRIFT_TYPES_DIFFER.format(column=name, reference=reference.field(name).type,
                                                            current=current.field(name).type))
        columns[name] = kind
    return columns
