"""Drift: reference vs current, per feature, for the prediction, over the whole current data and per time window.

``DriftStats.collect`` keeps one mergeable sketch per column of a partition (and per time window when the
current data has timestamps); ``merge`` adds sketches exactly; ``drift_section`` compares the merged reference
with the merged current data. Every statistic is reported for every feature; the method that decides ``drifted``
follows the feature type and the reference size (docs/evaluation-drift.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from aicoe.engines.evaluation import drift_tests as dt
from aicoe.engines.evaluation.errors import EvaluationError
from aicoe.engines.evaluation.sketch import CategoricalSketch, NumericSketch
from aicoe.engines.evaluation.spec import Options

COLUMN_MISSING = "drift feature {column!r} is not in the table (columns: {available})"
KIND_UNKNOWN = "drift feature {column!r} has kind {kind!r}: expected 'numeric' or 'categorical'"
NUMERIC_TYPE = "drift feature {column!r} is declared numeric but its type is {type}"
TIMESTAMPS_LENGTH = "drift timestamps have {got} values for a table of {rows} rows"
WINDOW_INVALID = ("drift window {window!r} is not understood: use a positive count and a unit, h (hours), "
                  "D (days) or M (calendar months), e.g. '1h', '7D', '1M'")
FEATURE_NOT_IN_CURRENT = "drift feature {column!r} is in the reference but not in the current data"
FEATURE_NOT_IN_REFERENCE = "drift feature {column!r} is in the current data but not in the reference"
KIND_MISMATCH = "drift feature {column!r} is {reference} in the reference but {current} in the current data"
PREDICTION_MISSING = "drift prediction column {column!r} is not among the drift features"

SMALL_REFERENCE = 1000          # reference values at or below which the statistical tests decide
P_VALUE_THRESHOLD = 0.05        # KS / chi-square: drifted when p < 0.05
DISTANCE_THRESHOLD = 0.1        # normalised Wasserstein / Jensen-Shannon: drifted when >= 0.1
SHARE_THRESHOLD = 0.5           # dataset drift when at least half the features drifted
HISTOGRAM_CATEGORIES = 20
OTHER = "(other)"

_WINDOW = re.compile(r"([1-9][0-9]*)([hDM])")
_UNIT_US = {"h": 3_600_000_000, "D": 86_400_000_000}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_STATISTICS = ("psi", "ks", "ks_p_value", "wasserstein", "jensen_shannon", "chi2", "chi2_p_value")
_WINDOW_FIELDS = ("method", "statistic", "p_value", "drifted", "psi")

Sketch = NumericSketch | CategoricalSketch


def parse_window(window: str) -> tuple[int, str]:
    """``"7D"`` -> (7, "D"). Units: h (hours), D (days), M (calendar months)."""
    match = _WINDOW.fullmatch(window)
    if not match:
        raise EvaluationError(WINDOW_INVALID.format(window=window))
    return int(match.group(1)), match.group(2)


def window_starts(timestamps: np.ndarray, window: str) -> np.ndarray:
    """Start of each timestamp's window (int64 microseconds since the epoch; windows are aligned to 1970-01-01
    00:00 UTC, months to calendar months); ``np.iinfo(np.int64).min`` (NaT) where the timestamp is missing."""
    count, unit = parse_window(window)
    micros = timestamps.astype("datetime64[us]")
    missing = np.isnat(micros)
    micros = np.where(missing, np.datetime64(0, "us"), micros)
    if unit == "M":
        months = micros.astype("datetime64[M]").astype(np.int64)
        starts = (months // count * count).astype("datetime64[M]").astype("datetime64[us]").astype(np.int64)
    else:
        width = count * _UNIT_US[unit]
        starts = micros.astype(np.int64) // width * width
    return np.where(missing, np.iinfo(np.int64).min, starts)


def window_bounds(start: int, window: str) -> list[str]:
    """ISO 8601 start and end (exclusive) of the window starting at ``start`` microseconds."""
    count, unit = parse_window(window)
    if unit == "M":
        month = np.datetime64(start, "us").astype("datetime64[M]")
        end = int((month + count).astype("datetime64[us]").astype(np.int64))
    else:
        end = start + count * _UNIT_US[unit]
    return [(_EPOCH + timedelta(microseconds=int(t))).isoformat() for t in (start, end)]


def _sketch(table: pa.Table, name: str, kind: str, options: Options) -> Sketch:
    column = table.column(name)
    if kind == "categorical":
        return CategoricalSketch.of(column)
    if pa.types.is_dictionary(column.type):
        column = pc.cast(column, column.type.value_type)
    kind_of = column.type
    if not (pa.types.is_integer(kind_of) or pa.types.is_floating(kind_of) or pa.types.is_boolean(kind_of)
            or pa.types.is_decimal(kind_of)):
        raise EvaluationError(NUMERIC_TYPE.format(column=name, type=kind_of))
    values = pc.fill_null(pc.cast(column, pa.float64(), safe=False), float("nan"))
    return NumericSketch.of(values.to_numpy(), options.exact_distinct_limit)


@dataclass
class DriftStats:
    """Per-column sketches of the rows seen, and per time window (keyed by the window start, microseconds)."""

    rows: int
    kinds: dict[str, str]
    sketches: dict[str, Sketch]
    windows: dict[int, DriftStats] = field(default_factory=dict)

    @classmethod
    def collect(cls, table: pa.Table, columns: dict[str, str], options: Options,
                timestamps: np.ndarray | None = None) -> DriftStats:
        for name, kind in columns.items():
            if name not in table.column_names:
                raise EvaluationError(COLUMN_MISSING.format(column=name, available=", ".join(table.column_names)))
            if kind not in ("numeric", "categorical"):
                raise EvaluationError(KIND_UNKNOWN.format(column=name, kind=kind))
        stats = cls._of(table, columns, options)
        if timestamps is not None and options.drift_window is not None:
            if len(timestamps) != table.num_rows:
                raise EvaluationError(TIMESTAMPS_LENGTH.format(got=len(timestamps), rows=table.num_rows))
            stats.windows = cls._windows(table, columns, options, window_starts(timestamps, options.drift_window))
        return stats

    @classmethod
    def _of(cls, table: pa.Table, columns: dict[str, str], options: Options) -> DriftStats:
        sketches = {name: _sketch(table, name, kind, options) for name, kind in columns.items()}
        return cls(table.num_rows, dict(columns), sketches)

    @classmethod
    def _windows(cls, table: pa.Table, columns: dict[str, str], options: Options,
                 starts: np.ndarray) -> dict[int, DriftStats]:
        order = np.argsort(starts, kind="stable")
        ordered = starts[order]
        grouped = table.take(pa.array(order))
        bounds = np.flatnonzero(np.diff(ordered)) + 1
        windows = {}
        for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, ordered.size], strict=True):
            if hi > lo and ordered[lo] != np.iinfo(np.int64).min:
                windows[int(ordered[lo])] = cls._of(grouped.slice(lo, hi - lo), columns, options)
        return windows

    def merge(self, other: DriftStats) -> DriftStats:
        sketches = dict(self.sketches)
        for name, sketch in other.sketches.items():
            sketches[name] = sketches[name].merge(sketch) if name in sketches else sketch  # type: ignore[arg-type]
        windows = dict(self.windows)
        for start, stats in other.windows.items():
            windows[start] = windows[start].merge(stats) if start in windows else stats
        return DriftStats(self.rows + other.rows, {**self.kinds, **other.kinds}, sketches,
                          dict(sorted(windows.items())))


def _label(value: float) -> str:
    return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)


def _as_categories(sketch: Sketch) -> CategoricalSketch:
    if isinstance(sketch, CategoricalSketch):
        return sketch
    return CategoricalSketch({_label(float(v)): int(c) for v, c in zip(sketch.values, sketch.counts, strict=True)},
                             sketch.missing)


def _decides_as(kind: str, ref: Sketch, cur: Sketch) -> str:
    """Binary-valued (and constant) numeric columns are compared as categories: two values have no shape for a
    distance to measure, and their proportions are what moves."""
    if kind != "numeric" or ref.approximate or cur.approximate:  # type: ignore[union-attr]
        return kind
    if ref.values.size > 2 or cur.values.size > 2:  # type: ignore[union-attr]
        return kind
    return "categorical" if np.union1d(ref.values, cur.values).size <= 2 else kind  # type: ignore[union-attr]


def _numeric_statistics(ref: NumericSketch, cur: NumericSketch, options: Options,
                        undefined: dict[str, str]) -> tuple[dict[str, float], dict[str, Any]]:
    support, f_ref, f_cur = dt.ecdfs(ref, cur)
    ks, ks_p = dt.ks(ref, cur, f_ref, f_cur)
    spread = dt.std(ref)
    if spread > 0:
        wasserstein = dt.wasserstein(support, f_ref, f_cur) / spread
    else:
        wasserstein = float("nan")
        undefined["wasserstein"] = "the reference is constant (standard deviation 0): nothing to normalise by"
    edges = dt.quantile_edges(ref, options.psi_bins)
    ref_bins, cur_bins = dt.bin_counts(ref, edges), dt.bin_counts(cur, edges)
    chi2, chi2_p = dt.chi2(ref_bins, cur_bins)
    values = {"psi": dt.psi(ref_bins, cur_bins), "ks": ks, "ks_p_value": ks_p, "wasserstein": wasserstein,
              "jensen_shannon": dt.jensen_shannon(ref_bins, cur_bins), "chi2": chi2, "chi2_p_value": chi2_p}
    low, high = min(ref.values[0], cur.values[0]), max(ref.values[-1], cur.values[-1])
    histogram = {"edges": [float(low), *edges.tolist(), float(high)], "categories": None,
                 "reference": ref_bins.tolist(), "current": cur_bins.tolist()}
    return values, histogram


def _categorical_statistics(ref: CategoricalSketch, cur: CategoricalSketch,
                            undefined: dict[str, str]) -> tuple[dict[str, float], dict[str, Any]]:
    categories = sorted(ref.counts.keys() | cur.counts.keys())
    ref_counts = np.array([ref.counts.get(c, 0) for c in categories], dtype=np.int64)
    cur_counts = np.array([cur.counts.get(c, 0) for c in categories], dtype=np.int64)
    chi2, chi2_p = dt.chi2(ref_counts, cur_counts)
    values = {"psi": dt.psi(ref_counts, cur_counts), "ks": float("nan"), "ks_p_value": float("nan"),
              "wasserstein": float("nan"), "jensen_shannon": dt.jensen_shannon(ref_counts, cur_counts),
              "chi2": chi2, "chi2_p_value": chi2_p}
    for name in ("ks", "ks_p_value", "wasserstein"):
        undefined[name] = "not defined for a categorical feature: categories have no order"
    top = np.lexsort((np.arange(len(categories)), -(ref_counts + cur_counts)))[:HISTOGRAM_CATEGORIES]
    top.sort()
    shown = [categories[i] for i in top]
    ref_shown, cur_shown = ref_counts[top].tolist(), cur_counts[top].tolist()
    if len(categories) > HISTOGRAM_CATEGORIES:
        shown.append(OTHER)
        ref_shown.append(int(ref_counts.sum()) - sum(ref_shown))
        cur_shown.append(int(cur_counts.sum()) - sum(cur_shown))
    histogram = {"edges": None, "categories": shown, "reference": ref_shown, "current": cur_shown}
    return values, histogram


def _method(kind: str, reference_values: int, wasserstein_defined: bool) -> str:
    """The statistic that decides ``drifted``, by feature kind and reference size."""
    small = reference_values <= SMALL_REFERENCE
    if kind == "categorical":
        return "chi2" if small else "jensen_shannon"
    # also KS when the reference is constant: the normalised distance is undefined there
    return "ks" if small or not wasserstein_defined else "wasserstein"


def compare(name: str, kind: str, ref: Sketch, cur: Sketch, options: Options) -> tuple[dict[str, Any], dict[str, str]]:
    """One feature's drift entry and the reasons for its undefined values (keyed by the entry's field name)."""
    undefined: dict[str, str] = {}
    empty = [side for side, sketch in (("reference", ref), ("current data", cur)) if sketch.count == 0]
    if empty:
        values = dict.fromkeys(_STATISTICS, float("nan"))
        undefined.update(dict.fromkeys(_STATISTICS, f"no non-missing values in the {' and the '.join(empty)}"))
        histogram: dict[str, Any] = {"edges": None, "categories": None, "reference": [], "current": []}
    elif kind == "categorical":
        values, histogram = _categorical_statistics(_as_categories(ref), _as_categories(cur), undefined)
        if isinstance(ref, NumericSketch) and isinstance(cur, NumericSketch):   # binary-valued numeric
            undefined.clear()
            numeric, _ = _numeric_statistics(ref, cur, options, undefined)
            values.update({k: numeric[k] for k in ("ks", "ks_p_value", "wasserstein")})
    else:
        values, histogram = _numeric_statistics(ref, cur, options, undefined)  # type: ignore[arg-type]
    method = _method(kind, ref.count, "wasserstein" not in undefined or bool(empty))
    statistic = values[method]
    p_value = {"chi2": values["chi2_p_value"], "ks": values["ks_p_value"]}.get(method)
    if np.isnan(statistic):
        undefined["statistic"] = undefined[method]
    if p_value is not None and np.isnan(p_value):
        undefined["p_value"] = undefined[f"{method}_p_value"]
    if p_value is None:
        threshold, drifted = DISTANCE_THRESHOLD, bool(statistic >= DISTANCE_THRESHOLD)
    else:
        threshold, drifted = P_VALUE_THRESHOLD, bool(p_value < P_VALUE_THRESHOLD)
    entry = {"feature": name, "kind": kind, "method": method, "statistic": statistic, "p_value": p_value,
             "threshold": threshold, "drifted": drifted, **values, "reference_missing": ref.missing,
             "current_missing": cur.missing,
             "approximate": bool(getattr(ref, "approximate", False) or getattr(cur, "approximate", False)),
             "histogram": histogram}
    return entry, undefined


def _share(entries: list[dict[str, Any]], undefined: dict[str, str], key: str) -> tuple[float, bool]:
    if not entries:
        undefined[key] = "no features to compare"
        return float("nan"), False
    share = sum(e["drifted"] for e in entries) / len(entries)
    return share, bool(share >= SHARE_THRESHOLD)


def _check(reference: DriftStats, current: DriftStats, outputs: tuple[str, ...]) -> None:
    for name, kind in reference.kinds.items():
        if name not in current.kinds:
            raise EvaluationError(FEATURE_NOT_IN_CURRENT.format(column=name))
        if current.kinds[name] != kind:
            raise EvaluationError(KIND_MISMATCH.format(column=name, reference=kind, current=current.kinds[name]))
    for name in current.kinds:
        if name not in reference.kinds:
            raise EvaluationError(FEATURE_NOT_IN_REFERENCE.format(column=name))
    for name in outputs:
        if name not in reference.kinds:
            raise EvaluationError(PREDICTION_MISSING.format(column=name))


def drift_section(reference: DriftStats, current: DriftStats, options: Options,
                  prediction: str | None = None, score: str | None = None) -> dict[str, Any]:
    """The ``drift`` section: every feature of the merged current data vs the merged reference, the model's
    outputs (the ``prediction`` column and a binary task's ``score``) on their own, outside the drift share, the
    dataset drift share, and each time window vs the whole reference."""
    outputs = tuple(c for c in (prediction, score) if c is not None)
    _check(reference, current, outputs)
    kinds = {name: _decides_as(kind, reference.sketches[name], current.sketches[name])
             for name, kind in reference.kinds.items()}
    undefined: dict[str, str] = {}
    features, output_entries = [], {}
    for name, kind in kinds.items():
        entry, reasons = compare(name, kind, reference.sketches[name], current.sketches[name], options)
        undefined.update({f"{name}.{key}": reason for key, reason in reasons.items()})
        if name in outputs:
            output_entries[name] = entry
        else:
            features.append(entry)
    share, dataset_drift = _share(features, undefined, "drift_share")
    windows = []
    for start, stats in current.windows.items():
        window_undefined: dict[str, str] = {}
        entries = {}
        for name, kind in kinds.items():
            if name in outputs:
                continue
            entry, reasons = compare(name, kind, reference.sketches[name], stats.sketches[name], options)
            entries[name] = {key: entry[key] for key in _WINDOW_FIELDS}
            window_undefined.update({f"{name}.{k}": r for k, r in reasons.items() if k in _WINDOW_FIELDS})
        window_share, window_drift = _share(list(entries.values()), window_undefined, "drift_share")
        begin, end = window_bounds(start, options.drift_window or "")
        windows.append({"start": begin, "end": end, "rows": stats.rows, "drift_share": window_share,
                        "dataset_drift": window_drift, "features": entries, "undefined": window_undefined})
    return {"reference_rows": reference.rows, "current_rows": current.rows, "drift_share": share,
            "dataset_drift": dataset_drift, "share_threshold": SHARE_THRESHOLD, "features": features,
            "prediction": output_entries.get(prediction or ""), "score": output_entries.get(score or ""),
            "windows": windows, "undefined": undefined}
