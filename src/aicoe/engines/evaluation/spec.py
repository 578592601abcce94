"""What an evaluation reads and how: the column spec, the options, and the prepared batch every statistics
module consumes.

The orchestrator (``engine.py``) turns each partition of the input into a :class:`Batch` (``batch.py``) once,
then hands it to the performance, fairness and drift collectors. Labels and groups arrive as
:class:`Categorical` codes so the collectors count with ``np.bincount`` and never touch Python strings per row;
categories are keyed by their *values* when statistics merge, so partitions that saw different groups merge
exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Task = Literal["binary", "multiclass", "regression"]
TASKS: tuple[str, ...] = ("binary", "multiclass", "regression")
MISSING_GROUP = "(missing)"  # the group of a row whose sensitive feature or segment is null


@dataclass(frozen=True)
class ColumnSpec:
    """Which columns mean what. ``scores``: one column (binary: P(y = 1)) or one per class (multiclass, in the
    order of ``classes``). ``features``: the columns compared for drift; ``None`` means every column that is not
    named elsewhere in the spec. ``task``: "auto" decides from the label column (see ``batch.infer_task``)."""

    label: str | None = None
    prediction: str | None = None
    scores: tuple[str, ...] = ()
    sensitive: tuple[str, ...] = ()
    weight: str | None = None
    timestamp: str | None = None
    segment: str | None = None
    features: tuple[str, ...] | None = None
    task: Literal["auto", "binary", "multiclass", "regression"] = "auto"
    classes: tuple[str, ...] = ()

    def named_columns(self) -> list[str]:
        """Every column the spec names (in a stable order, without duplicates)."""
        cols = [self.label, self.prediction, *self.scores, *self.sensitive, self.weight, self.timestamp,
                self.segment]
        return list(dict.fromkeys(c for c in cols if c))

    def to_dict(self) -> dict[str, object]:
        return {"label": self.label, "prediction": self.prediction, "scores": list(self.scores),
                "sensitive": list(self.sensitive), "weight": self.weight, "timestamp": self.timestamp,
                "segment": self.segment, "features": None if self.features is None else list(self.features),
                "task": self.task, "classes": list(self.classes)}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> ColumnSpec:
        def tup(key: str) -> tuple[str, ...]:
            value = data.get(key) or ()
            return tuple(str(v) for v in value)  # type: ignore[union-attr]

        features = data.get("features")
        return cls(label=data.get("label"), prediction=data.get("prediction"),  # type: ignore[arg-type]
                   scores=tup("scores"), sensitive=tup("sensitive"), weight=data.get("weight"),  # type: ignore[arg-type]
                   timestamp=data.get("timestamp"), segment=data.get("segment"),  # type: ignore[arg-type]
                   features=None if features is None else tuple(str(f) for f in features),  # type: ignore[union-attr]
                   task=data.get("task") or "auto", classes=tup("classes"))  # type: ignore[arg-type]


@dataclass(frozen=True)
class Options:
    """Tunables with documented defaults (docs/evaluation.md)."""

    min_group_size: int = 30          # groups with fewer rows are flagged "small" (and may be skipped by policies)
    bootstrap: int = 1000             # resamples for confidence intervals; 0 switches intervals off
    confidence: float = 0.95
    seed: int = 0
    ece_bins: int = 10                # equal-width bins for the expected calibration error
    drift_window: str | None = None   # "1D", "7D", "1M"...: time-windowed drift over spec.timestamp
    psi_bins: int = 10                # reference-quantile bins for PSI / Jensen-Shannon on numeric features
    exact_distinct_limit: int = 1_000_000  # numeric sketches stay exact up to this many distinct values
    partition_rows: int = 1_000_000   # rows per partition read from files


@dataclass(frozen=True)
class Categorical:
    """A column as integer codes into ``categories`` (str values; nulls are ``MISSING_GROUP``)."""

    codes: np.ndarray          # int32, shape (n,)
    categories: tuple[str, ...]


@dataclass
class Batch:
    """One partition, validated and converted. Every array has ``n`` rows.

    * binary: ``y``/``yhat`` int8 in {0, 1}; ``scores`` float64 (n,) or None
    * multiclass: ``y``/``yhat`` int32 codes into ``classes``; ``scores`` float64 (n, k) in ``classes`` order or None
    * regression: ``y``/``yhat`` float64
    ``weight`` is float64, all ones without a weight column. ``table`` keeps the partition (pyarrow) for drift.
    """

    n: int
    task: Task
    y: np.ndarray | None
    yhat: np.ndarray | None
    scores: np.ndarray | None
    weight: np.ndarray
    weighted: bool
    classes: tuple[str, ...] = ()
    sensitive: dict[str, Categorical] = field(default_factory=dict)
    segment: Categorical | None = None
    timestamp: np.ndarray | None = None   # datetime64[us] (UTC), or None
    table: object | None = None           # the partition as a pyarrow.Table
