"""Mergeable per-column sketches: what drift keeps of a partition instead of its rows.

A numeric sketch is the exact distribution (sorted distinct values and their counts), so every statistic computed
from merged sketches equals the statistic on the raw rows. Past ``limit`` distinct values it compacts into
logarithmic buckets (DDSketch-style, relative accuracy 1e-4). Bucketing is a pure function of each value, so
compacting then merging equals merging then compacting: the final sketch depends only on the multiset of values,
never on how the rows were partitioned. A categorical sketch is a value -> count dict. Both are plain numpy arrays
and dicts, so they pickle to processes and Ray workers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

RELATIVE_ACCURACY = 1e-4
_GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
_LOG_GAMMA = math.log(_GAMMA)
_LOG_MIDPOINT = math.log(2 / (1 + _GAMMA))   # bucket (g^(i-1), g^i] is represented by 2 g^i / (1 + g)
# |ceil(log_gamma x)| stays below 3.8e6 for every positive finite float64, so the offset keeps the keys of
# positive values positive, those of negative values negative, and 0 for zero: key order is value order.
_KEY_OFFSET = 1 << 23


def run_starts(sorted_keys: np.ndarray) -> np.ndarray:
    """Start index of each run of equal values in a sorted array."""
    flag = np.empty(sorted_keys.size, dtype=bool)
    flag[:1] = True
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=flag[1:])
    return np.flatnonzero(flag)


def bucket_keys(values: np.ndarray) -> np.ndarray:
    """The log-bucket key of each finite value (int64, monotone non-decreasing in the value)."""
    keys = np.zeros(values.size, dtype=np.int64)
    pos, neg = values > 0, values < 0
    keys[pos] = _KEY_OFFSET + np.ceil(np.log(values[pos]) / _LOG_GAMMA).astype(np.int64)
    keys[neg] = -(_KEY_OFFSET + np.ceil(np.log(-values[neg]) / _LOG_GAMMA).astype(np.int64))
    return keys


def bucket_values(keys: np.ndarray) -> np.ndarray:
    """The representative value of each bucket key: within 1e-4 (relative) of every value in the bucket."""
    magnitude = np.exp((np.abs(keys) - _KEY_OFFSET) * _LOG_GAMMA + _LOG_MIDPOINT)
    return np.where(keys == 0, 0.0, np.sign(keys) * magnitude)


@dataclass(frozen=True)
class NumericSketch:
    """Distinct values (strictly increasing float64) and their counts (int64); ``keys`` holds the bucket keys
    once compacted, and ``values`` are then the bucket representatives. NaN and ±inf count as ``missing``."""

    values: np.ndarray
    counts: np.ndarray
    missing: int
    limit: int
    keys: np.ndarray | None = None

    @property
    def approximate(self) -> bool:
        return self.keys is not None

    @property
    def count(self) -> int:
        """Non-missing values seen."""
        return int(self.counts.sum())

    @classmethod
    def of(cls, data: np.ndarray, limit: int) -> NumericSketch:
        finite = np.isfinite(data)
        kept = data if finite.all() else data[finite]
        ordered = np.sort(kept)
        np.add(ordered, 0.0, out=ordered)   # -0.0 becomes 0.0: the kept representative must not depend on row order
        starts = run_starts(ordered)
        counts = np.diff(np.append(starts, ordered.size)).astype(np.int64)
        return cls._bounded(ordered[starts], counts, data.size - kept.size, limit)

    @classmethod
    def _bounded(cls, values: np.ndarray, counts: np.ndarray, missing: int, limit: int) -> NumericSketch:
        if values.size <= limit:
            return cls(values, counts, missing, limit)
        return cls._compact(*_bucketed(values, counts), missing, limit)

    @classmethod
    def _compact(cls, keys: np.ndarray, counts: np.ndarray, missing: int, limit: int) -> NumericSketch:
        return cls(bucket_values(keys), counts, missing, limit, keys)

    def _keyed(self) -> tuple[np.ndarray, np.ndarray]:
        return (self.keys, self.counts) if self.keys is not None else _bucketed(self.values, self.counts)

    def merge(self, other: NumericSketch) -> NumericSketch:
        missing = self.missing + other.missing
        if self.approximate or other.approximate:
            keys, counts = _merge_sorted(*self._keyed(), *other._keyed())
            return self._compact(keys, counts, missing, self.limit)
        values, counts = _merge_sorted(self.values, self.counts, other.values, other.counts)
        return self._bounded(values, counts, missing, self.limit)

    def expand(self) -> np.ndarray:
        """The (sorted) sample the sketch stands for: the raw values when exact."""
        return np.repeat(self.values, self.counts)


def _bucketed(values: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct values gathered into their buckets: (distinct keys, summed counts)."""
    keys = bucket_keys(values)   # monotone in the value, so already sorted
    starts = run_starts(keys)
    return keys[starts], np.add.reduceat(counts, starts)


def _merge_sorted(a: np.ndarray, a_counts: np.ndarray, b: np.ndarray,
                  b_counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Union of two strictly increasing arrays with the counts of equal entries added (integers: exact)."""
    both = np.sort(np.concatenate([a, b]))
    union = both[run_starts(both)]
    counts = np.zeros(union.size, dtype=np.int64)
    counts[np.searchsorted(union, a)] += a_counts
    counts[np.searchsorted(union, b)] += b_counts
    return union, counts


@dataclass(frozen=True)
class CategoricalSketch:
    """Count of each category value (str); nulls count as ``missing``."""

    counts: dict[str, int]
    missing: int

    @property
    def count(self) -> int:
        return sum(self.counts.values())

    @classmethod
    def of(cls, column: pa.ChunkedArray | pa.Array) -> CategoricalSketch:
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            column = pc.cast(column, pa.string())
        tallies = pc.value_counts(column)
        values = tallies.field("values").to_pylist()
        counts = tallies.field("counts").to_pylist()
        return cls({v: c for v, c in zip(values, counts, strict=True) if v is not None}, column.null_count)

    def merge(self, other: CategoricalSketch) -> CategoricalSketch:
        counts = dict(self.counts)
        for value, count in other.counts.items():
            counts[value] = counts.get(value, 0) + count
        return CategoricalSketch(counts, self.missing + other.missing)
