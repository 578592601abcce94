"""ROC AUC and average precision from mergeable score tables, exact up to a bounded size.

Both metrics depend on the rows only through, for each distinct score, the weight of positive and of negative rows
at that score. A :class:`ScoreTable` keeps exactly that, sorted by score, so partitions merge by a sorted merge
and the curves are computed once from the merged table, ties handled as scikit-learn does (tied scores form one
threshold). Memory is 24 bytes per distinct score, so past ``limit`` distinct scores (``Options.exact_distinct_limit``)
a table is *compacted*: every score is floored onto the dyadic grid of :func:`grid_step`, which has at most
``limit`` points on [0, 1], and scores sharing a grid cell become one tied score. Flooring to a power-of-two step is
exact float arithmetic and a pure function of the score, so compacting commutes with merging and the final table
depends only on the rows, never on how they were partitioned; a compacted table stays compacted in every later
merge. The error this costs is bounded in docs/evaluation-performance.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def grid_step(limit: int) -> float:
    """The finest power-of-two step whose grid on [0, 1] (``1/step + 1`` points) holds at most ``limit`` points
    (two at least): a power of two keeps flooring exact, and the limit then bounds compacted tables as it bounds
    exact ones."""
    return 2.0 ** -max(0, (limit - 1).bit_length() - 1)


@dataclass(frozen=True)
class ScoreTable:
    """Distinct scores (ascending) with the summed weight of positive and negative rows at each; ``step`` is the
    grid step once compacted (the scores are then the lower edges of their grid cells), None while exact."""

    values: np.ndarray
    positive: np.ndarray
    negative: np.ndarray
    step: float | None = None

    @property
    def approximate(self) -> bool:
        return self.step is not None

    @property
    def nbytes(self) -> int:
        return int(self.values.nbytes + self.positive.nbytes + self.negative.nbytes)

    def bounded(self, limit: int) -> ScoreTable:
        """This table, compacted if it holds more than ``limit`` distinct scores."""
        return self if len(self.values) <= limit else self.compacted(limit)

    def compacted(self, limit: int) -> ScoreTable:
        """Scores floored onto the grid of ``grid_step(limit)``, the weights of each grid cell summed (in score
        order). Flooring is monotone, so the table stays sorted; ``+ 0.0`` turns -0.0 into 0.0."""
        step = grid_step(limit)
        if self.step == step:
            return self
        return _collapse(np.floor(self.values / step) * step + 0.0, self.positive, self.negative, step)

    def merge(self, other: ScoreTable, limit: int) -> ScoreTable:
        """Sorted merge; equal scores are collapsed by adding this table's weight then the other's (fixed order).
        Compacted if either side is, or if the merged table holds more than ``limit`` distinct scores."""
        if self.approximate or other.approximate:
            return _merged(self.compacted(limit), other.compacted(limit))
        return _merged(self, other).bounded(limit)


def _merged(left: ScoreTable, right: ScoreTable) -> ScoreTable:
    """The sorted merge of two tables on the same grid (or both exact)."""
    if not len(right.values):
        return left
    if not len(left.values):
        return right
    n = len(left.values) + len(right.values)
    slots = np.searchsorted(left.values, right.values, side="right") + np.arange(len(right.values))
    from_right = np.zeros(n, dtype=bool)
    from_right[slots] = True
    merged = []
    for mine, theirs in ((left.values, right.values), (left.positive, right.positive),
                         (left.negative, right.negative)):
        out = np.empty(n, dtype=np.float64)
        out[from_right] = theirs
        out[~from_right] = mine
        merged.append(out)
    return _collapse(*merged, left.step)


def _collapse(values: np.ndarray, positive: np.ndarray, negative: np.ndarray, step: float | None) -> ScoreTable:
    """Sum the weights of equal neighbouring scores (``values`` sorted)."""
    first = np.empty(len(values), dtype=bool)
    first[:1] = True
    np.not_equal(values[1:], values[:-1], out=first[1:])
    if first.all():
        return ScoreTable(values, positive, negative, step)
    ids = np.cumsum(first) - 1
    size = int(ids[-1]) + 1
    return ScoreTable(values[first], np.bincount(ids, weights=positive, minlength=size),
                      np.bincount(ids, weights=negative, minlength=size), step)


def score_tables(score: np.ndarray, positive: np.ndarray, weight: np.ndarray, groups: np.ndarray,
                 n_groups: int, limit: int) -> list[ScoreTable]:
    """One table per group code in ``range(n_groups)``, from one sort of all rows (by group, then score), each
    compacted past ``limit`` distinct scores."""
    if not len(score):
        empty = np.empty(0, dtype=np.float64)
        return [ScoreTable(empty, empty, empty) for _ in range(n_groups)]
    order = np.argsort(score, kind="stable")
    if n_groups > 1:  # then by group: a stable radix sort on small codes is cheaper than np.lexsort
        codes = groups[order].astype(np.min_scalar_type(n_groups - 1), copy=False)
        order = order[np.argsort(codes, kind="stable")]
    values = score[order].astype(np.float64, copy=False)
    grouped = groups[order]
    w = weight[order]
    pos = np.where(positive[order], w, 0.0)
    first = np.empty(len(values), dtype=bool)
    first[0] = True
    np.not_equal(values[1:], values[:-1], out=first[1:])
    first[1:] |= grouped[1:] != grouped[:-1]
    ids = np.cumsum(first) - 1
    size = int(ids[-1]) + 1
    pos_sum = np.bincount(ids, weights=pos, minlength=size)
    neg_sum = np.bincount(ids, weights=w - pos, minlength=size)
    distinct = values[first]
    bounds = np.searchsorted(grouped[first], np.arange(n_groups + 1))
    return [ScoreTable(distinct[a:b], pos_sum[a:b], neg_sum[a:b]).bounded(limit)
            for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _cumulative(table: ScoreTable) -> tuple[np.ndarray, np.ndarray]:
    """True and false positive weight at each threshold, from the highest score down."""
    return np.cumsum(table.positive[::-1]), np.cumsum(table.negative[::-1])


def roc_auc(table: ScoreTable) -> float:
    """Area under the ROC curve (trapezoids between thresholds); NaN without positive or negative weight."""
    tp, fp = _cumulative(table)
    if not len(tp) or tp[-1] <= 0 or fp[-1] <= 0:
        return float("nan")
    tpr = np.concatenate(([0.0], tp / tp[-1]))
    fpr = np.concatenate(([0.0], fp / fp[-1]))
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1])) / 2.0)


def average_precision(table: ScoreTable) -> float:
    """Sum over thresholds of the recall gained times the precision there (scikit-learn's step-wise definition,
    no interpolation); NaN without positive weight."""
    tp, fp = _cumulative(table)
    if not len(tp) or tp[-1] <= 0:
        return float("nan")
    predicted = tp + fp
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.concatenate(([0.0], tp / tp[-1]))
    return float(np.sum(np.diff(recall) * precision))
