"""The drift statistics, computed from merged sketches (``sketch.py``) rather than from rows.

With exact sketches each function returns what SciPy returns on the raw samples: the ECDFs at the merged support
are the same integer counts divided by the same sample sizes. Definitions, defaults and their rationale are in
docs/evaluation-drift.md.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats
from scipy.spatial import distance

from aicoe.engines.evaluation.sketch import NumericSketch, run_starts

KS_EXACT_MAX_N = 10_000   # scipy.stats.ks_2samp(method="auto") computes the exact p-value up to this sample size
PSI_EPSILON = 1e-4        # the proportion an empty bin or category gets in PSI, so its log stays finite
JS_BASE = 2               # Jensen-Shannon distance in bits: bounded by [0, 1]


def _cumulative(sketch: NumericSketch) -> np.ndarray:
    """Values at or below each entry of ``sketch.values``, with a leading 0."""
    return np.concatenate([[0], np.cumsum(sketch.counts)])


def ecdfs(ref: NumericSketch, cur: NumericSketch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The merged support (sorted distinct values of both samples) and each sample's ECDF on it.

    A stable sort of the two sorted value arrays is a single merge; running sums of each side's counts along it,
    read at the last entry of each run of equal values, are the integer counts at or below each support point,
    the same integers SciPy's ``searchsorted`` finds on the raw samples.
    """
    values = np.concatenate([ref.values, cur.values])
    order = np.argsort(values, kind="stable")
    merged = values[order]
    starts = run_starts(merged)
    ends = np.append(starts[1:], merged.size) - 1
    signed = np.concatenate([ref.counts, -cur.counts])[order]    # counts are positive: the sign tells the side
    below_ref = np.cumsum(np.maximum(signed, 0))[ends]
    below_cur = np.cumsum(np.maximum(-signed, 0))[ends]
    return merged[starts], below_ref / ref.count, below_cur / cur.count


def ks(ref: NumericSketch, cur: NumericSketch, f_ref: np.ndarray, f_cur: np.ndarray) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov statistic and p-value, as ``scipy.stats.ks_2samp(method="auto")``.

    SciPy's rule depends on the sample sizes only: exact up to ``KS_EXACT_MAX_N`` values per sample (then the
    samples are small, so they are expanded from the sketch and handed to SciPy itself, which also owns the
    fallback to the asymptotic formula when the exact computation fails), else the asymptotic distribution
    ``kstwo`` at the rounded effective size n m / (n + m).
    """
    n, m = ref.count, cur.count
    if max(n, m) <= KS_EXACT_MAX_N:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)   # SciPy's note when it falls back to asymptotic
            result = stats.ks_2samp(ref.expand(), cur.expand(), method="auto")
        return float(result.statistic), float(result.pvalue)
    statistic = float(np.max(np.abs(f_ref - f_cur)))
    effective = np.round(float(n) * float(m) / (float(n) + float(m)))
    return statistic, float(np.clip(stats.kstwo.sf(statistic, effective), 0.0, 1.0))


def wasserstein(support: np.ndarray, f_ref: np.ndarray, f_cur: np.ndarray) -> float:
    """First Wasserstein distance: the area between the two ECDFs."""
    return float(np.sum(np.abs(f_ref[:-1] - f_cur[:-1]) * np.diff(support)))


def std(sketch: NumericSketch) -> float:
    """Population standard deviation (ddof 0, as ``np.std``); exactly 0 for a single distinct value."""
    if sketch.values.size < 2:
        return 0.0
    mean = float(np.dot(sketch.values, sketch.counts)) / sketch.count
    return float(np.sqrt(np.dot(sketch.counts, (sketch.values - mean) ** 2) / sketch.count))


def quantile_edges(ref: NumericSketch, bins: int) -> np.ndarray:
    """Interior bin edges: the reference's k / bins quantiles (k = 1 .. bins - 1) by linear interpolation between
    order statistics (numpy's default rule), duplicates dropped, so tied values never split across bins."""
    n = ref.count
    position = (n - 1) * np.arange(1, bins) / bins
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, n - 1)
    cumulative = np.cumsum(ref.counts)
    x_low = ref.values[np.searchsorted(cumulative, low, side="right")]
    x_high = ref.values[np.searchsorted(cumulative, high, side="right")]
    return np.unique(x_low + (position - low) * (x_high - x_low))


def bin_counts(sketch: NumericSketch, edges: np.ndarray) -> np.ndarray:
    """Counts in the bins (-inf, e1), [e1, e2), ..., [e_last, inf) of the interior ``edges``."""
    below = _cumulative(sketch)[np.searchsorted(sketch.values, edges, side="left")]
    return np.diff(np.concatenate([[0], below, [sketch.count]]))


def psi(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """Population stability index: sum over bins of (q - p) ln(q / p), an empty bin's proportion set to 1e-4."""
    p = ref_counts / ref_counts.sum()
    q = cur_counts / cur_counts.sum()
    p = np.where(p == 0, PSI_EPSILON, p)
    q = np.where(q == 0, PSI_EPSILON, q)
    return float(np.sum((q - p) * np.log(q / p)))


def jensen_shannon(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """Jensen-Shannon distance (the square root of the divergence) in bits, as ``scipy`` computes it."""
    return float(distance.jensenshannon(ref_counts, cur_counts, base=JS_BASE))


def chi2(ref_counts: np.ndarray, cur_counts: np.ndarray) -> tuple[float, float]:
    """Two-sample chi-square test of homogeneity on the 2 x k contingency table (no continuity correction), over
    the bins or categories seen in either sample. One category in all gives statistic 0, p-value 1."""
    table = np.vstack([ref_counts, cur_counts])
    result = stats.chi2_contingency(table[:, table.sum(axis=0) > 0], correction=False)
    return float(result.statistic), float(result.pvalue)
