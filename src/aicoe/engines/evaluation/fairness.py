"""Fairness: group metrics per intersection of the sensitive features and per feature, Fairlearn's disparity
metrics, the four-fifths rule and bootstrap intervals, all from per-cell sufficient statistics.

A cell is one intersection of sensitive-feature values. Classification keeps, per cell, the row count and the
weighted sum of each (label, prediction) pair — tn, fp, fn, tp — so every rate, every per-feature marginal and
every bootstrap replicate is arithmetic on a (cells × 4) array; regression keeps count, weight and the
weighted sums of |error|, error², prediction and label. One ``np.bincount`` over a combined code fills a
partition; partitions merge by adding cells keyed by their values. Definitions follow ``fairlearn.metrics``
0.15 except that an undefined rate is NaN with a reason rather than Fairlearn's 0 (docs/evaluation-fairness.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from aicoe.engines.evaluation.bootstrap import percentile_interval, resample_sums
from aicoe.engines.evaluation.errors import EvaluationError
from aicoe.engines.evaluation.spec import Batch, Categorical, Options

NEEDS_SENSITIVE = "fairness needs at least one sensitive feature"
NEEDS_LABEL_AND_PREDICTION = "fairness needs a label and a prediction column (missing: {missing})"
MULTICLASS_REFUSED = ("fairness needs binary outcomes or a regression: the task is multiclass with {count} "
                      "classes ({classes}); evaluate one class against the rest as a binary label")
MERGE_MISMATCH = "cannot merge fairness statistics of {left} with {right}"
NO_ROWS = "fairness has no rows to evaluate"
AMBIGUOUS_LABELS = "sensitive values containing ', ' make intersection labels ambiguous: {labels}"

ZERO_WEIGHT = "the group has zero total weight"
NO_POSITIVES = "no positive labels (label 1 has zero weight)"
NO_NEGATIVES = "no negative labels (label 0 has zero weight)"
NO_PREDICTED_POSITIVES = "no positive predictions (prediction 1 has zero weight)"
UNDEFINED_IN_GROUPS = "{metric} is undefined for {count} group(s): {groups}"
ZERO_IN_EVERY_GROUP = "{metric} is 0 in every group, so the ratio is 0/0"
FOUR_FIFTHS_UNDEFINED = "four-fifths ratio undefined: {reason}"

CLASSIFICATION_METRICS = ("selection_rate", "tpr", "fpr", "fnr", "tnr", "precision", "accuracy")
REGRESSION_METRICS = ("mae", "rmse", "mean_prediction", "mean_label")
REASONS = {"selection_rate": ZERO_WEIGHT, "accuracy": ZERO_WEIGHT, "tpr": NO_POSITIVES, "fnr": NO_POSITIVES,
           "fpr": NO_NEGATIVES, "tnr": NO_NEGATIVES, "precision": NO_PREDICTED_POSITIVES,
           "mae": ZERO_WEIGHT, "rmse": ZERO_WEIGHT, "mean_prediction": ZERO_WEIGHT, "mean_label": ZERO_WEIGHT}
# Disparity family -> the group metrics it compares (several: worst case, as fairlearn's agg="worst_case").
CLASSIFICATION_DISPARITIES = {"demographic_parity": ("selection_rate",), "equalized_odds": ("tpr", "fpr"),
                              "equal_opportunity": ("tpr",)}
REGRESSION_DISPARITIES = {"mae": ("mae",)}
FOUR_FIFTHS = 0.8
_DENSE_CELLS = 1 << 22  # above this many feature-value combinations, cells are compacted with np.unique
_SHOWN_GROUPS = 5       # undefined-disparity reasons name at most this many groups


def _divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, NaN where den is 0 (an undefined rate, never a silent 0)."""
    out = np.full(np.broadcast(num, den).shape, np.nan)
    return np.divide(num, den, out=out, where=den > 0)


def classification_metrics(sums: np.ndarray) -> dict[str, np.ndarray]:
    """Group metrics from weighted [tn, fp, fn, tp] sums in the last axis (any leading shape)."""
    tn, fp, fn, tp = np.moveaxis(sums, -1, 0)
    total, positives, negatives, selected = tn + fp + fn + tp, fn + tp, tn + fp, fp + tp
    return {"selection_rate": _divide(selected, total), "tpr": _divide(tp, positives),
            "fpr": _divide(fp, negatives), "fnr": _divide(fn, positives), "tnr": _divide(tn, negatives),
            "precision": _divide(tp, selected), "accuracy": _divide(tn + tp, total)}


def regression_metrics(sums: np.ndarray) -> dict[str, np.ndarray]:
    """Group metrics from weighted [w, w|e|, w e², w ŷ, w y] sums in the last axis."""
    weight, abs_error, sq_error, prediction, label = np.moveaxis(sums, -1, 0)
    return {"mae": _divide(abs_error, weight), "rmse": np.sqrt(_divide(sq_error, weight)),
            "mean_prediction": _divide(prediction, weight), "mean_label": _divide(label, weight)}


def disparities(groups: dict[str, np.ndarray], overall: dict[str, np.ndarray],
                families: dict[str, tuple[str, ...]]) -> dict[str, dict[str, np.ndarray]]:
    """Fairlearn's differences and ratios, groups along the last axis (leading axes: bootstrap replicates).

    difference: between_groups = max - min, to_overall = max |group - overall|; ratio: between_groups =
    min / max, to_overall = min over groups of group / overall folded below 1. A family of several metrics
    takes the worst (largest difference, smallest ratio). Any undefined group value makes the result NaN."""
    out: dict[str, dict[str, np.ndarray]] = {}
    for family, metrics in families.items():
        diff_between = diff_overall = ratio_between = ratio_overall = None
        for metric in metrics:
            values, whole = groups[metric], overall[metric][..., None]
            high, low = values.max(axis=-1), values.min(axis=-1)
            ratios = _divide(values, whole)
            folded = np.where(ratios > 1, 1 / np.where(ratios > 1, ratios, 1), ratios).min(axis=-1)
            parts = (high - low, np.abs(values - whole).max(axis=-1), _divide(low, high), folded)
            if diff_between is None:
                diff_between, diff_overall, ratio_between, ratio_overall = parts
            else:
                diff_between = np.maximum(diff_between, parts[0])
                diff_overall = np.maximum(diff_overall, parts[1])
                ratio_between = np.minimum(ratio_between, parts[2])
                ratio_overall = np.minimum(ratio_overall, parts[3])
        out[f"{family}_difference"] = {"between_groups": diff_between, "to_overall": diff_overall}
        out[f"{family}_ratio"] = {"between_groups": ratio_between, "to_overall": ratio_overall}
    return out


def _cell_codes(cats: list[Categorical], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-row cell code and the table of per-feature category codes of every cell (row = cell code)."""
    code = np.zeros(n, dtype=np.int64)
    table = np.zeros((1, 0), dtype=np.int64)
    for cat in cats:
        k = len(cat.categories)
        combined = code * k + cat.codes
        if len(table) * k <= _DENSE_CELLS:
            table = np.column_stack([np.repeat(table, k, axis=0), np.tile(np.arange(k), len(table))])
            code = combined
        else:
            unique, code = np.unique(combined, return_inverse=True)
            table = np.column_stack([table[unique // k], unique % k])
    return code, table


def _undefined(values: dict[str, Any], index: int | None = None) -> dict[str, str]:
    """Reasons for the NaN metrics among ``values`` (at ``index`` when the values are arrays of groups)."""
    return {name: REASONS[name] for name, value in values.items()
            if np.isnan(value if index is None else value[index])}


@dataclass(frozen=True)
class FairnessStats:
    """Mergeable per-cell sufficient statistics. ``cells``: sorted tuples of feature values, one per
    ``features``; ``counts``: int64 (cells × 4) rows per [tn, fp, fn, tp] (regression: cells × 1);
    ``sums``: float64 weighted sums, (cells × 4) the same pairs (regression: w, w|e|, w e², w ŷ, w y)."""

    task: str
    features: tuple[str, ...]
    cells: tuple[tuple[str, ...], ...]
    counts: np.ndarray
    sums: np.ndarray

    @classmethod
    def collect(cls, batch: Batch, options: Options) -> FairnessStats:
        """Statistics of one partition: one bincount over ``cell * 4 + label * 2 + prediction``."""
        if not batch.sensitive:
            raise EvaluationError(NEEDS_SENSITIVE)
        missing = [name for name, value in (("label", batch.y), ("prediction", batch.yhat)) if value is None]
        if missing:
            raise EvaluationError(NEEDS_LABEL_AND_PREDICTION.format(missing=", ".join(missing)))
        if batch.task == "multiclass":
            raise EvaluationError(MULTICLASS_REFUSED.format(count=len(batch.classes),
                                                            classes=", ".join(batch.classes)))
        code, table = _cell_codes(list(batch.sensitive.values()), batch.n)
        if batch.task == "binary":
            code = code * 4 + batch.y.astype(np.int64) * 2 + batch.yhat
            size = len(table) * 4
            counts = np.bincount(code, minlength=size).reshape(-1, 4)
            sums = (np.bincount(code, weights=batch.weight, minlength=size).reshape(-1, 4) if batch.weighted
                    else counts.astype(np.float64))
        else:
            error = batch.yhat - batch.y
            w = batch.weight
            counts = np.bincount(code, minlength=len(table))[:, None]
            sums = np.column_stack([np.bincount(code, weights=v, minlength=len(table))
                                    for v in (w, w * np.abs(error), w * error * error, w * batch.yhat, w * batch.y)])
        seen = np.flatnonzero(counts.sum(axis=1) > 0)  # unused categories are not groups (as Fairlearn)
        categories = [cat.categories for cat in batch.sensitive.values()]
        keys = [tuple(categories[j][c] for j, c in enumerate(row)) for row in table[seen].tolist()]
        order = sorted(range(len(keys)), key=keys.__getitem__)
        rows = seen[order]
        return cls(batch.task, tuple(batch.sensitive), tuple(keys[i] for i in order), counts[rows], sums[rows])

    def merge(self, other: FairnessStats) -> FairnessStats:
        """Exact: counts add as integers; each cell's sums add left + right (the caller keeps partition order)."""
        if (self.task, self.features) != (other.task, other.features):
            raise EvaluationError(MERGE_MISMATCH.format(left=(self.task, *self.features),
                                                        right=(other.task, *other.features)))
        cells = sorted(set(self.cells) | set(other.cells))
        index = {cell: i for i, cell in enumerate(cells)}
        counts = np.zeros((len(cells), self.counts.shape[1]), dtype=np.int64)
        sums = np.zeros((len(cells), self.sums.shape[1]))
        for part in (self, other):
            rows = np.array([index[c] for c in part.cells], dtype=np.int64)
            if len(rows):
                counts[rows] += part.counts
                sums[rows] += part.sums
        return type(self)(self.task, self.features, tuple(cells), counts, sums)

    def finalize(self, options: Options) -> dict[str, Any]:
        """The "fairness" section (docs/evaluation-fairness.md)."""
        if not self.cells:
            raise EvaluationError(NO_ROWS)
        classification = self.task == "binary"
        metric_fn = classification_metrics if classification else regression_metrics
        families = CLASSIFICATION_DISPARITIES if classification else REGRESSION_DISPARITIES
        labels = [", ".join(cell) for cell in self.cells]
        order = sorted(range(len(labels)), key=labels.__getitem__)
        labels = [labels[i] for i in order]
        repeated = sorted({label for a, label in zip(labels, labels[1:], strict=False) if a == label})
        if repeated:
            raise EvaluationError(AMBIGUOUS_LABELS.format(labels="; ".join(repeated)))
        cells = [self.cells[i] for i in order]
        counts, sums = self.counts[order], self.sums[order]

        overall_sums = sums.sum(axis=0)
        overall = metric_fn(overall_sums)
        group_values = metric_fn(sums)
        groups = self._groups(cells, counts, sums, group_values, options)
        section: dict[str, Any] = {
            "features": list(self.features), "min_group_size": options.min_group_size,
            "overall": {"count": int(counts.sum()),
                        "weight": float(overall_sums.sum() if classification else overall_sums[0]),
                        **{k: float(v) for k, v in overall.items()}, "undefined": _undefined(overall)},
            "groups": groups, "by_feature": {}, "disparities": {}, "disparities_by_feature": {},
            "four_fifths": None, "intervals": {}, "confidence": options.confidence,
            "bootstrap": options.bootstrap, "undefined": {}}
        undefined: dict[str, str] = section["undefined"]
        section["disparities"] = self._disparities(group_values, overall, families, labels, undefined, "")

        for position, feature in enumerate(self.features):
            values = [cell[position] for cell in cells]
            names = sorted(set(values))
            member = np.searchsorted(np.array(names, dtype=object), np.array(values, dtype=object))
            f_counts = np.zeros((len(names), counts.shape[1]), dtype=np.int64)
            f_sums = np.zeros((len(names), sums.shape[1]))
            np.add.at(f_counts, member, counts)
            np.add.at(f_sums, member, sums)
            f_values = metric_fn(f_sums)
            section["by_feature"][feature] = self._groups([(v,) for v in names], f_counts, f_sums, f_values,
                                                          options, (feature,))
            section["disparities_by_feature"][feature] = self._disparities(f_values, overall, families, names,
                                                                           undefined, f"[{feature}]")
        if classification:
            section["four_fifths"] = self._four_fifths(group_values["selection_rate"], labels,
                                                       section["disparities"], undefined)
            if options.bootstrap > 0:
                section["intervals"] = self._intervals(counts, sums, families, labels, options)
        return section

    def _groups(self, cells: list[tuple[str, ...]], counts: np.ndarray, sums: np.ndarray,
                values: dict[str, np.ndarray], options: Options,
                features: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
        features = features or self.features
        weights = sums.sum(axis=1) if self.task == "binary" else sums[:, 0]
        sizes = counts.sum(axis=1)
        return [{"group": dict(zip(features, cell, strict=True)), "label": ", ".join(cell),
                 "count": int(sizes[i]), "weight": float(weights[i]),
                 **{name: float(v[i]) for name, v in values.items()},
                 "small": bool(sizes[i] < options.min_group_size), "undefined": _undefined(values, i)}
                for i, cell in enumerate(cells)]

    @staticmethod
    def _disparities(values: dict[str, np.ndarray], overall: dict[str, np.ndarray],
                     families: dict[str, tuple[str, ...]], labels: list[str], undefined: dict[str, str],
                     suffix: str) -> dict[str, dict[str, float]]:
        """Point disparities; each NaN gets its reason in ``undefined`` under ``name + suffix``."""
        result = disparities(values, overall, families)
        for family, metrics in families.items():
            reason = None
            for metric in metrics:
                bad = [labels[i] for i in np.flatnonzero(np.isnan(values[metric]))]
                if bad:
                    shown = "; ".join(bad[:_SHOWN_GROUPS]) + ("; ..." if len(bad) > _SHOWN_GROUPS else "")
                    reason = UNDEFINED_IN_GROUPS.format(metric=metric, count=len(bad), groups=shown)
                    break
            for kind in ("difference", "ratio"):
                name = f"{family}_{kind}"
                if any(np.isnan(value) for value in result[name].values()):
                    zero = next((m for m in metrics if not np.any(values[m])), metrics[0])
                    undefined[name + suffix] = reason or ZERO_IN_EVERY_GROUP.format(metric=zero)
        return {name: {method: float(v) for method, v in methods.items()} for name, methods in result.items()}

    @staticmethod
    def _four_fifths(selection: np.ndarray, labels: list[str], point: dict[str, dict[str, float]],
                     undefined: dict[str, str]) -> dict[str, Any]:
        ratio = point["demographic_parity_ratio"]["between_groups"]
        defined = np.flatnonzero(~np.isnan(selection))
        lowest = labels[defined[np.argmin(selection[defined])]] if len(defined) else None
        highest = labels[defined[np.argmax(selection[defined])]] if len(defined) else None
        if np.isnan(ratio):
            undefined["four_fifths"] = FOUR_FIFTHS_UNDEFINED.format(reason=undefined["demographic_parity_ratio"])
        return {"ratio": ratio, "passes": bool(ratio >= FOUR_FIFTHS), "lowest_group": lowest,
                "highest_group": highest}

    @staticmethod
    def _intervals(counts: np.ndarray, sums: np.ndarray, families: dict[str, tuple[str, ...]],
                   labels: list[str], options: Options) -> dict[str, dict[str, list[float]]]:
        """Percentile intervals of every between_groups disparity and every group metric per group."""
        replicates = resample_sums(counts, sums, options.bootstrap, options.seed)  # (B, groups, 4)
        values = classification_metrics(replicates)
        overall = classification_metrics(replicates.sum(axis=1))
        intervals: dict[str, dict[str, list[float]]] = {}
        for name, methods in disparities(values, overall, families).items():
            low, high = percentile_interval(methods["between_groups"], options.confidence)
            intervals[name] = {"between_groups": [float(low), float(high)]}
        for metric, reps in values.items():
            low, high = percentile_interval(reps, options.confidence)
            intervals[metric] = {label: [float(low[i]), float(high[i])] for i, label in enumerate(labels)}
        return intervals
