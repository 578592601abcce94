"""Performance metrics (classification and regression) from sufficient statistics that merge exactly.

Each partition is reduced to per-segment *cells*: weighted confusion matrices, sums of per-row losses, calibration
bins, score tables (``ranking.py``) or regression moments. Cells are keyed by segment value and matrices by class
value, so partitions that saw different segments or classes merge, and every metric is computed once from the
merged cells; ``overall`` is the merge of all segment cells. Undefined values are NaN with a reason (see
docs/evaluation-performance.md), never the 0 that scikit-learn substitutes with a warning. Score tables past
``Options.exact_distinct_limit`` distinct scores are compacted onto a grid, and the section's ``approximate`` lists
the metrics computed from one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from aicoe.engines.evaluation.errors import EvaluationError
from aicoe.engines.evaluation.ranking import ScoreTable, average_precision, roc_auc, score_tables
from aicoe.engines.evaluation.spec import Batch, Options, Task

BINARY_LABELS = ("0", "1")  # confusion-matrix labels of a binary task: negative, positive
ALL_ROWS = ""               # the key of the one cell kept without a segment column
EPS = float(np.finfo(np.float64).eps)  # scikit-learn's clipping for log loss and its floor for MAPE

NO_WEIGHT = "total weight is zero"
NO_PREDICTED_POSITIVES = "no predicted positives"
NO_POSITIVE_LABELS = "no positive labels"
NO_POSITIVES_AT_ALL = "no positive labels and no predicted positives"
ONE_CLASS = "only one class present in the labels"
CONSTANT_LABELS = "labels are constant"
NO_DEFINED_CLASS = "no class has a defined {metric}"
OVR_UNDEFINED = "one-vs-rest ROC AUC is undefined for class(es) {classes}: only one class present in the labels"

MERGE_MISMATCH = "cannot merge performance statistics: {what} differ ({left} vs {right})"
SCORE_CLASSES_DIFFER = "multiclass scores need the same classes in every partition: {left} vs {right}"
SCORES_SHAPE = "multiclass scores have {got} column(s) for {expected} class(es)"


def _by(codes: np.ndarray, size: int, values: np.ndarray | None = None) -> np.ndarray:
    return np.bincount(codes, weights=values, minlength=size)


@dataclass
class _Classification:
    """One segment of a classification task. Matrices are over ``PerformanceStats.labels`` (true x predicted);
    ``calibration`` rows are weight, sum of w*score and sum of w*label per ECE bin (binary with a score)."""

    counts: np.ndarray
    weights: np.ndarray
    log_loss: float = 0.0
    brier: float = 0.0
    calibration: np.ndarray = field(default_factory=lambda: np.zeros((3, 0)))
    calibration_counts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    tables: dict[str, ScoreTable] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return int(self.counts.sum())

    def aligned(self, labels: tuple[str, ...], union: tuple[str, ...]) -> _Classification:
        """The same cell with its matrices over ``union`` (a superset of ``labels``)."""
        if labels == union:
            return self
        at = np.array([union.index(label) for label in labels], dtype=np.intp)
        counts = np.zeros((len(union), len(union)), dtype=np.int64)
        weights = np.zeros((len(union), len(union)))
        counts[np.ix_(at, at)] = self.counts
        weights[np.ix_(at, at)] = self.weights
        return _Classification(counts, weights, self.log_loss, self.brier, self.calibration,
                               self.calibration_counts, self.tables)

    def merge(self, other: _Classification, limit: int) -> _Classification:
        tables = dict(self.tables)
        for key, table in other.tables.items():
            tables[key] = tables[key].merge(table, limit) if key in tables else table
        return _Classification(self.counts + other.counts, self.weights + other.weights,
                               self.log_loss + other.log_loss, self.brier + other.brier,
                               self.calibration + other.calibration,
                               self.calibration_counts + other.calibration_counts, tables)


@dataclass
class _Regression:
    """One segment of a regression task: weighted sums of |e|, e², |e|/max(|y|, eps) and the prediction
    (``sums``), and the label's weighted mean and M2 for R² (merged with Chan et al.'s parallel update, which
    stays exact to rounding even when the label mean is large). ``low``/``high``: label range over rows of
    positive weight, to tell constant labels apart from rounding in M2."""

    count: int
    weight: float
    sums: np.ndarray
    mean: float
    m2: float
    low: float
    high: float

    def merge(self, other: _Regression) -> _Regression:
        total = self.weight + other.weight
        if other.weight == 0:
            mean, m2 = self.mean, self.m2 + other.m2
        elif self.weight == 0:
            mean, m2 = other.mean, self.m2 + other.m2
        else:
            delta = other.mean - self.mean
            mean = self.mean + delta * (other.weight / total)
            m2 = self.m2 + other.m2 + delta * delta * (self.weight * other.weight / total)
        return _Regression(self.count + other.count, total, self.sums + other.sums, mean, m2,
                           min(self.low, other.low), max(self.high, other.high))


Cell = _Classification | _Regression


def _merge(cell: Cell, other: Cell, limit: int) -> Cell:
    """Merge two cells of one task (``PerformanceStats.merge`` checks the tasks); ``limit`` bounds the score
    tables of classification cells."""
    if isinstance(cell, _Classification):
        return cell.merge(other, limit)  # type: ignore[arg-type]
    return cell.merge(other)  # type: ignore[arg-type]


@dataclass
class PerformanceStats:
    """Mergeable performance statistics of some partitions (see the module docstring)."""

    task: Task
    labels: tuple[str, ...]
    segmented: bool
    scored: bool
    bins: int
    limit: int                # Options.exact_distinct_limit: distinct scores a table keeps before compacting
    cells: dict[str, Cell]

    @classmethod
    def collect(cls, batch: Batch, options: Options) -> PerformanceStats:
        if batch.segment is None:
            codes, keys = np.zeros(batch.n, dtype=np.intp), (ALL_ROWS,)
        else:
            codes, keys = batch.segment.codes.astype(np.intp, copy=False), batch.segment.categories
        scored = batch.scores is not None and batch.task != "regression"
        if batch.task == "regression":
            labels: tuple[str, ...] = ()
            cells: list[Cell] = list(_collect_regression(batch, codes, len(keys)))
        else:
            labels = BINARY_LABELS if batch.task == "binary" else tuple(batch.classes)
            cells = list(_collect_classification(batch, labels, codes, len(keys), options))
        present = _by(codes, len(keys)) > 0 if batch.segment is not None else np.ones(1, dtype=bool)
        return cls(batch.task, labels, batch.segment is not None, scored, options.ece_bins,
                   options.exact_distinct_limit, {keys[i]: cells[i] for i in np.flatnonzero(present)})

    def merge(self, other: PerformanceStats) -> PerformanceStats:
        for what, left, right in (("tasks", self.task, other.task), ("segment columns", self.segmented,
                                  other.segmented), ("score columns", self.scored, other.scored),
                                  ("calibration bins", self.bins, other.bins),
                                  ("distinct-score limits", self.limit, other.limit)):
            if left != right:
                raise EvaluationError(MERGE_MISMATCH.format(what=what, left=left, right=right))
        if self.scored and self.task == "multiclass" and self.labels != other.labels:
            raise EvaluationError(SCORE_CLASSES_DIFFER.format(left=list(self.labels), right=list(other.labels)))
        union = self.labels + tuple(label for label in other.labels if label not in self.labels)
        mine = {k: _align(c, self.labels, union) for k, c in self.cells.items()}
        for key, cell in other.cells.items():
            cell = _align(cell, other.labels, union)
            mine[key] = _merge(mine[key], cell, self.limit) if key in mine else cell
        return PerformanceStats(self.task, union, self.segmented, self.scored, self.bins, self.limit, mine)

    @property
    def nbytes(self) -> int:
        """Memory held by the score tables, the part that grows with the number of distinct scores (up to
        ``limit`` per table)."""
        return sum(t.nbytes for c in self.cells.values() if isinstance(c, _Classification)
                   for t in c.tables.values())

    def finalize(self, options: Options) -> dict[str, Any]:
        """The "performance" section (docs/evaluation-performance.md)."""
        keys = sorted(self.cells)
        overall = self._empty() if not keys else self.cells[keys[0]]
        for key in keys[1:]:
            overall = _merge(overall, self.cells[key], self.limit)
        section: dict[str, Any] = {
            "task": self.task, "overall": self._metrics(overall),
            "by_segment": {k: self._metrics(self.cells[k]) for k in keys} if self.segmented else {},
            "confusion_matrix": {}, "calibration": [], "per_class": {},
            "approximate": self._approximate([overall, *self.cells.values()])}
        if isinstance(overall, _Classification):
            section["confusion_matrix"] = {"labels": list(self.labels), "counts": overall.counts.tolist(),
                                           "weights": overall.weights.tolist()}
            if self.task == "binary" and self.scored:
                section["calibration"] = _calibration(overall, self.bins)
            if self.task == "multiclass":
                section["per_class"] = _per_class(overall, self.labels)
        return section

    def _approximate(self, cells: list[Cell]) -> list[str]:
        """The metrics computed from a compacted score table in any of ``cells``."""
        if not any(t.approximate for c in cells if isinstance(c, _Classification) for t in c.tables.values()):
            return []
        return ["roc_auc", "pr_auc"] if self.task == "binary" else ["roc_auc_ovr"]

    def _empty(self) -> Cell:
        if self.task == "regression":
            return _Regression(0, 0.0, np.zeros(4), 0.0, 0.0, float("inf"), float("-inf"))
        k = len(self.labels)
        return _Classification(np.zeros((k, k), dtype=np.int64), np.zeros((k, k)))

    def _metrics(self, cell: Cell) -> dict[str, Any]:
        if isinstance(cell, _Regression):
            values, undefined = _regression_metrics(cell)
            count, weight = cell.count, cell.weight
        else:
            metrics = _binary_metrics if self.task == "binary" else _multiclass_metrics
            values, undefined = metrics(cell, self.labels, self.scored)
            count, weight = cell.count, float(cell.weights.sum())
        if not weight > 0:
            undefined = dict.fromkeys(undefined, NO_WEIGHT)
        return {"count": count, "weight": weight, **values, "undefined": undefined}


def _align(cell: Cell, labels: tuple[str, ...], union: tuple[str, ...]) -> Cell:
    return cell.aligned(labels, union) if isinstance(cell, _Classification) else cell


def _collect_classification(batch: Batch, labels: tuple[str, ...], codes: np.ndarray, size: int,
                            options: Options) -> list[_Classification]:
    k = len(labels)
    y = batch.y.astype(np.intp)  # type: ignore[union-attr]
    yhat = batch.yhat.astype(np.intp)  # type: ignore[union-attr]
    w = batch.weight
    index = (codes * k + y) * k + yhat
    counts = _by(index, size * k * k).astype(np.int64).reshape(size, k, k)
    weights = _by(index, size * k * k, w).reshape(size, k, k) if batch.weighted else counts.astype(np.float64)
    cells = [_Classification(counts[s], weights[s]) for s in range(size)]
    if batch.scores is None:
        return cells
    scores, bins, limit = batch.scores, options.ece_bins, options.exact_distinct_limit
    if batch.task == "binary":
        positive = y == 1
        loss = -np.log(np.clip(np.where(positive, scores, 1.0 - scores), EPS, 1.0 - EPS))
        brier = _by(codes, size, w * (scores - y) ** 2)
        edges = np.linspace(0.0, 1.0, bins + 1)
        slot = codes * bins + np.clip(np.searchsorted(edges, scores, side="right") - 1, 0, bins - 1)
        calibration = np.stack([_by(slot, size * bins, v) for v in (w, w * scores, np.where(positive, w, 0.0))])
        calibration = calibration.reshape(3, size, bins)
        calibration_counts = _by(slot, size * bins).astype(np.int64).reshape(size, bins)
        tables = {"1": score_tables(scores, positive, w, codes, size, limit)}
    else:
        if scores.ndim != 2 or scores.shape[1] != k:
            raise EvaluationError(SCORES_SHAPE.format(got=scores.shape[-1] if scores.ndim == 2 else 1, expected=k))
        loss = -np.log(np.clip(scores[np.arange(len(y)), y], EPS, 1.0 - EPS))
        tables = {labels[c]: score_tables(scores[:, c], y == c, w, codes, size, limit) for c in range(k)}
    log_loss = _by(codes, size, w * loss)
    for s, cell in enumerate(cells):
        cell.log_loss = float(log_loss[s])
        cell.tables = {label: per_segment[s] for label, per_segment in tables.items()}
        if batch.task == "binary":
            cell.brier = float(brier[s])
            cell.calibration = calibration[:, s]
            cell.calibration_counts = calibration_counts[s]
    return cells


def _collect_regression(batch: Batch, codes: np.ndarray, size: int) -> list[_Regression]:
    y, yhat, w = batch.y, batch.yhat, batch.weight
    error = yhat - y  # type: ignore[operator]
    absolute = np.abs(error)
    count = _by(codes, size)
    weight = _by(codes, size, w)
    sums = np.stack([_by(codes, size, w * v) for v in (absolute, error * error,
                                                        absolute / np.maximum(np.abs(y), EPS), yhat)])  # type: ignore[arg-type]
    mean = np.divide(_by(codes, size, w * y), weight, out=np.zeros(size), where=weight > 0)
    m2 = _by(codes, size, w * (y - mean[codes]) ** 2)  # type: ignore[operator]
    low, high = np.full(size, np.inf), np.full(size, -np.inf)
    kept = w > 0
    np.minimum.at(low, codes[kept], y[kept])  # type: ignore[index]
    np.maximum.at(high, codes[kept], y[kept])  # type: ignore[index]
    return [_Regression(int(count[s]), float(weight[s]), sums[:, s], float(mean[s]), float(m2[s]),
                        float(low[s]), float(high[s])) for s in range(size)]


class _Values:
    """Collects metric values and, for each NaN, its reason."""

    def __init__(self) -> None:
        self.values: dict[str, float] = {}
        self.undefined: dict[str, str] = {}

    def ratio(self, name: str, numerator: float, denominator: float, reason: str) -> None:
        self.put(name, numerator / denominator if denominator > 0 else float("nan"), reason)

    def put(self, name: str, value: float, reason: str) -> None:
        self.values[name] = float(value)
        if np.isnan(value):
            self.undefined[name] = reason


def _binary_metrics(cell: _Classification, labels: tuple[str, ...],
                    scored: bool) -> tuple[dict[str, float], dict[str, str]]:
    """``labels`` is always ``BINARY_LABELS`` here (the signature is shared with the multiclass metrics)."""
    (tn, fp), (fn, tp) = cell.weights
    total = tn + fp + fn + tp
    out = _Values()
    out.ratio("accuracy", tp + tn, total, NO_WEIGHT)
    both = tp + fn > 0 and tn + fp > 0
    out.put("balanced_accuracy", (tp / (tp + fn) + tn / (tn + fp)) / 2 if both else float("nan"), ONE_CLASS)
    out.ratio("precision", tp, tp + fp, NO_PREDICTED_POSITIVES)
    out.ratio("recall", tp, tp + fn, NO_POSITIVE_LABELS)
    out.ratio("f1", 2 * tp, 2 * tp + fp + fn, NO_POSITIVES_AT_ALL)
    if scored:
        table = cell.tables["1"]
        out.put("roc_auc", roc_auc(table), ONE_CLASS)
        out.put("pr_auc", average_precision(table), NO_POSITIVE_LABELS)
        out.ratio("log_loss", cell.log_loss, total, NO_WEIGHT)
        out.ratio("brier", cell.brier, total, NO_WEIGHT)
        out.ratio("ece", float(np.abs(cell.calibration[1] - cell.calibration[2]).sum()), total, NO_WEIGHT)
    return out.values, out.undefined


def _class_rates(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per class (one-vs-rest): precision, recall, F1 (NaN where the denominator is 0) and weighted support."""
    diag, support, predicted = np.diag(weights), weights.sum(axis=1), weights.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return diag / predicted, diag / support, 2 * diag / (support + predicted), support


def _multiclass_metrics(cell: _Classification, labels: tuple[str, ...],
                        scored: bool) -> tuple[dict[str, float], dict[str, str]]:
    weights = cell.weights
    total = float(weights.sum())
    precision, recall, f1, support = _class_rates(weights)
    out = _Values()
    out.ratio("accuracy", float(np.trace(weights)), total, NO_WEIGHT)
    present = support > 0
    out.put("balanced_accuracy", recall[present].mean() if present.sum() >= 2 else float("nan"), ONE_CLASS)
    for name, per_class in (("precision", precision), ("recall", recall), ("f1", f1)):
        defined = ~np.isnan(per_class)
        reason = NO_DEFINED_CLASS.format(metric=name)
        out.put(f"{name}_macro", per_class[defined].mean() if defined.any() else float("nan"), reason)
        out.ratio(f"{name}_weighted", float((per_class[defined] * support[defined]).sum()),
                  float(support[defined].sum()), reason)
    if scored:
        aucs = np.array([roc_auc(cell.tables[label]) for label in labels])
        missing = [label for label, auc in zip(labels, aucs, strict=True) if np.isnan(auc)]
        out.put("roc_auc_ovr", aucs.mean(), OVR_UNDEFINED.format(classes=", ".join(map(repr, missing))))
        out.ratio("log_loss", cell.log_loss, total, NO_WEIGHT)
    return out.values, out.undefined


def _per_class(cell: _Classification, labels: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    precision, recall, f1, support = _class_rates(cell.weights)
    counts = cell.counts.sum(axis=1)
    result = {}
    for i, label in enumerate(labels):
        out = _Values()
        out.put("precision", precision[i], NO_PREDICTED_POSITIVES)
        out.put("recall", recall[i], NO_POSITIVE_LABELS)
        out.put("f1", f1[i], NO_POSITIVES_AT_ALL)
        result[label] = {**out.values, "support": int(counts[i]), "weight": float(support[i]),
                         "undefined": out.undefined}
    return result


def _calibration(cell: _Classification, bins: int) -> list[dict[str, float]]:
    """Reliability bins that hold weight: equal-width on [0, 1], each [lower, upper) except the last, closed."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    weight, score_sum, positive_sum = cell.calibration
    return [{"lower": float(edges[b]), "upper": float(edges[b + 1]), "count": int(cell.calibration_counts[b]),
             "weight": float(weight[b]), "mean_score": float(score_sum[b] / weight[b]),
             "fraction_positive": float(positive_sum[b] / weight[b])} for b in np.flatnonzero(weight > 0)]


def _regression_metrics(cell: _Regression) -> tuple[dict[str, float], dict[str, str]]:
    absolute, squared, percentage, prediction = cell.sums
    out = _Values()
    out.ratio("mae", absolute, cell.weight, NO_WEIGHT)
    out.put("rmse", np.sqrt(squared / cell.weight) if cell.weight > 0 else float("nan"), NO_WEIGHT)
    out.put("r2", 1.0 - squared / cell.m2 if cell.low < cell.high and cell.m2 > 0 else float("nan"), CONSTANT_LABELS)
    out.ratio("mape", percentage, cell.weight, NO_WEIGHT)
    out.ratio("mean_prediction", prediction, cell.weight, NO_WEIGHT)
    out.put("mean_label", cell.mean if cell.weight > 0 else float("nan"), NO_WEIGHT)
    return out.values, out.undefined
