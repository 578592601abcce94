"""Performance metrics against scikit-learn (to 1e-9, with and without sample weights), exact merging of
partition statistics, per-segment metrics, calibration, every undefined case with its reason, and score tables
compacted past ``Options.exact_distinct_limit`` (bounded size, bounded error, merge-order independent)."""

from __future__ import annotations

import json
import math
import pickle
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from aicoe.engines.evaluation import performance as perf
from aicoe.engines.evaluation.errors import EvaluationError
from aicoe.engines.evaluation.performance import PerformanceStats
from aicoe.engines.evaluation.ranking import ScoreTable, average_precision, grid_step, roc_auc, score_tables
from aicoe.engines.evaluation.result import json_safe
from aicoe.engines.evaluation.spec import Batch, Categorical, Options

OPTIONS = Options()
LIMIT = OPTIONS.exact_distinct_limit
SMALL = Options(exact_distinct_limit=1000)   # compacts score tables past 1000 distinct scores
STEP = grid_step(1000)
CLASSES = ("a", "b", "c", "d")


def approx(value: float) -> Any:
    return pytest.approx(value, rel=1e-9, abs=1e-12)


def make_batch(task: str, y: Any, yhat: Any, scores: Any = None, weight: Any = None, classes: tuple[str, ...] = (),
               segment: Any = None) -> Batch:
    """A Batch as batch.prepare builds it: codes for classes and segments, float64 weights."""
    dtype = {"binary": np.int8, "multiclass": np.int32, "regression": np.float64}[task]
    n = len(y)
    seg = None
    if segment is not None:
        categories, codes = np.unique(np.asarray(segment).astype(str), return_inverse=True)
        seg = Categorical(codes.astype(np.int32), tuple(str(c) for c in categories))
    return Batch(n=n, task=task, y=np.asarray(y, dtype=dtype), yhat=np.asarray(yhat, dtype=dtype),  # type: ignore[arg-type]
                 scores=None if scores is None else np.asarray(scores, dtype=np.float64),
                 weight=np.ones(n) if weight is None else np.asarray(weight, dtype=np.float64),
                 weighted=weight is not None, classes=classes, segment=seg)


def section(batch: Batch, options: Options = OPTIONS) -> dict[str, Any]:
    return PerformanceStats.collect(batch, options).finalize(options)


def binary_data(n: int, seed: int, weighted: bool) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(int)
    scores = np.clip(np.round(0.3 * y + 0.7 * rng.random(n), 2), 0, 1)  # rounded: many tied scores
    yhat = (scores > 0.5).astype(int)
    weight = rng.exponential(size=n) if weighted else None
    return {"y": y, "yhat": yhat, "scores": scores, "weight": weight}


def multiclass_data(n: int, k: int, seed: int, weighted: bool) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    palette = rng.dirichlet(np.ones(k), size=25)  # few distinct rows: ties within every class's scores
    scores = palette[rng.integers(0, 25, n)]
    scores[np.arange(n), y] += 0.5
    scores /= scores.sum(axis=1, keepdims=True)
    yhat = np.where(rng.random(n) < 0.7, scores.argmax(axis=1), rng.integers(0, k, n))
    weight = rng.exponential(size=n) if weighted else None
    return {"y": y, "yhat": yhat, "scores": scores, "weight": weight}


def regression_data(n: int, seed: int, weighted: bool, offset: float = 0.0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    y = offset + rng.normal(5.0, 2.0, n)
    yhat = y + rng.normal(0.0, 1.0, n)
    y[:3] = [0.0, -1.5, 1e-18]  # MAPE's eps floor and negative labels
    weight = rng.exponential(size=n) if weighted else None
    return {"y": y, "yhat": yhat, "weight": weight}


def assert_same(actual: Any, expected: Any) -> None:
    """Equal structures; floats to 1e-9 (NaN equal to NaN), everything else exactly."""
    if isinstance(expected, dict):
        assert set(actual) == set(expected)
        for key in expected:
            assert_same(actual[key], expected[key])
    elif isinstance(expected, list):
        assert len(actual) == len(expected)
        for a, e in zip(actual, expected, strict=True):
            assert_same(a, e)
    elif isinstance(expected, float):
        assert (math.isnan(actual) and math.isnan(expected)) or actual == approx(expected)
    else:
        assert actual == expected and type(actual) is type(expected)


@pytest.mark.parametrize("weighted", [False, True])
def test_binary_metrics_match_sklearn(weighted: bool) -> None:
    d = binary_data(3000, 1, weighted)
    y, yhat, s, w = d["y"], d["yhat"], d["scores"], d["weight"]
    result = section(make_batch("binary", y, yhat, s, w))
    overall = result["overall"]
    expected = {
        "accuracy": skm.accuracy_score(y, yhat, sample_weight=w),
        "balanced_accuracy": skm.balanced_accuracy_score(y, yhat, sample_weight=w),
        "precision": skm.precision_score(y, yhat, sample_weight=w),
        "recall": skm.recall_score(y, yhat, sample_weight=w),
        "f1": skm.f1_score(y, yhat, sample_weight=w),
        "roc_auc": skm.roc_auc_score(y, s, sample_weight=w),
        "pr_auc": skm.average_precision_score(y, s, sample_weight=w),
        "log_loss": skm.log_loss(y, y_proba=s, sample_weight=w, labels=[0, 1]),
        "brier": skm.brier_score_loss(y, s, sample_weight=w),
    }
    for name, value in expected.items():
        assert overall[name] == approx(value), name
    assert overall["count"] == 3000 and overall["undefined"] == {}
    assert overall["weight"] == approx(3000.0 if w is None else w.sum())
    cm = result["confusion_matrix"]
    assert cm["labels"] == ["0", "1"]
    assert cm["counts"] == skm.confusion_matrix(y, yhat).tolist()
    np.testing.assert_allclose(cm["weights"], skm.confusion_matrix(y, yhat, sample_weight=w), rtol=1e-9, atol=1e-12)
    assert result["task"] == "binary" and result["by_segment"] == {} and result["per_class"] == {}
    assert len(result["calibration"]) == 10
    assert result["approximate"] == []


def test_binary_without_scores_has_no_score_metrics() -> None:
    d = binary_data(200, 2, False)
    result = section(make_batch("binary", d["y"], d["yhat"]))
    assert set(result["overall"]) == {"count", "weight", "accuracy", "balanced_accuracy", "precision", "recall",
                                      "f1", "undefined"}
    assert result["calibration"] == []


def test_log_loss_clips_extreme_scores_like_sklearn() -> None:
    y, s = np.array([1, 0, 1, 0, 1]), np.array([0.0, 1.0, 1.0, 0.0, 0.5])
    loss = section(make_batch("binary", y, y, s))["overall"]["log_loss"]
    assert loss == approx(skm.log_loss(y, y_proba=s))
    assert math.isfinite(loss)


@pytest.mark.parametrize(("k", "weighted"), [(3, False), (4, True), (5, True)])
def test_multiclass_metrics_match_sklearn(k: int, weighted: bool) -> None:
    d = multiclass_data(2500, k, k, weighted)
    y, yhat, s, w = d["y"], d["yhat"], d["scores"], d["weight"]
    classes = CLASSES[:k] if k <= 4 else (*CLASSES, "e")
    result = section(make_batch("multiclass", y, yhat, s, w, classes))
    overall = result["overall"]
    nan = np.nan
    expected = {
        "accuracy": skm.accuracy_score(y, yhat, sample_weight=w),
        "balanced_accuracy": skm.balanced_accuracy_score(y, yhat, sample_weight=w),
        "roc_auc_ovr": skm.roc_auc_score(y, s, sample_weight=w, multi_class="ovr", average="macro"),
        "log_loss": skm.log_loss(y, y_proba=s, sample_weight=w),
    }
    for avg in ("macro", "weighted"):
        expected[f"precision_{avg}"] = skm.precision_score(y, yhat, average=avg, sample_weight=w, zero_division=nan)
        expected[f"recall_{avg}"] = skm.recall_score(y, yhat, average=avg, sample_weight=w, zero_division=nan)
        expected[f"f1_{avg}"] = skm.f1_score(y, yhat, average=avg, sample_weight=w, zero_division=nan)
    for name, value in expected.items():
        assert overall[name] == approx(value), name
    assert overall["undefined"] == {}
    cm = result["confusion_matrix"]
    assert cm["labels"] == list(classes)
    assert cm["counts"] == skm.confusion_matrix(y, yhat).tolist()
    np.testing.assert_allclose(cm["weights"], skm.confusion_matrix(y, yhat, sample_weight=w), rtol=1e-9, atol=1e-12)
    p, r, f, support = skm.precision_recall_fscore_support(y, yhat, sample_weight=w, zero_division=nan)
    for i, label in enumerate(classes):
        entry = result["per_class"][label]
        assert entry["precision"] == approx(p[i]) and entry["recall"] == approx(r[i]) and entry["f1"] == approx(f[i])
        assert entry["weight"] == approx(support[i])
        assert entry["support"] == int((y == i).sum())
    assert result["calibration"] == []


def test_multiclass_macro_skips_classes_sklearn_would_zero() -> None:
    # class "c" is never predicted: its precision is undefined and left out of the averages (zero_division=nan)
    y = np.array([0, 0, 1, 1, 2, 2, 2])
    yhat = np.array([0, 1, 1, 1, 0, 0, 1])
    w = np.array([1, 2, 3, 1, 2, 1, 0.5])
    result = section(make_batch("multiclass", y, yhat, weight=w, classes=("a", "b", "c")))
    overall = result["overall"]
    for avg in ("macro", "weighted"):
        assert overall[f"precision_{avg}"] == approx(
            skm.precision_score(y, yhat, average=avg, sample_weight=w, zero_division=np.nan))
        assert overall[f"f1_{avg}"] == approx(skm.f1_score(y, yhat, average=avg, sample_weight=w,
                                                           zero_division=np.nan))
    with pytest.warns(UserWarning, match="ill-defined"):
        skm.precision_score(y, yhat, average=None, sample_weight=w)  # sklearn's 0 with a warning
    c = result["per_class"]["c"]
    assert math.isnan(c["precision"]) and c["undefined"] == {"precision": perf.NO_PREDICTED_POSITIVES}
    assert c["recall"] == 0.0 and c["f1"] == 0.0


@pytest.mark.parametrize("weighted", [False, True])
def test_regression_metrics_match_sklearn(weighted: bool) -> None:
    d = regression_data(3000, 3, weighted)
    y, yhat, w = d["y"], d["yhat"], d["weight"]
    result = section(make_batch("regression", y, yhat, weight=w))
    overall = result["overall"]
    expected = {
        "mae": skm.mean_absolute_error(y, yhat, sample_weight=w),
        "rmse": skm.root_mean_squared_error(y, yhat, sample_weight=w),
        "r2": skm.r2_score(y, yhat, sample_weight=w),
        "mape": skm.mean_absolute_percentage_error(y, yhat, sample_weight=w),
        "mean_prediction": np.average(yhat, weights=w),
        "mean_label": np.average(y, weights=w),
    }
    for name, value in expected.items():
        assert overall[name] == approx(value), name
    assert result["confusion_matrix"] == {} and result["calibration"] == [] and result["per_class"] == {}


def test_r2_merged_across_partitions_is_stable_with_a_large_label_mean() -> None:
    d = regression_data(4000, 4, True, offset=1e8)
    y, yhat, w = d["y"], d["yhat"], d["weight"]
    y[:3] = 1e8
    stats = [PerformanceStats.collect(make_batch("regression", y[a:b], yhat[a:b], weight=w[a:b]), OPTIONS)
             for a, b in ((0, 7), (7, 1500), (1500, 1501), (1501, 4000))]
    merged = stats[0].merge(stats[1]).merge(stats[2]).merge(stats[3])
    r2 = merged.finalize(OPTIONS)["overall"]["r2"]
    assert r2 == approx(skm.r2_score(y, yhat, sample_weight=w))


def test_ece_and_calibration_bins_by_hand() -> None:
    y = np.array([0, 1, 1, 0, 1])
    s = np.array([0.05, 0.15, 0.55, 0.6, 1.0])
    w = np.array([1.0, 1.0, 2.0, 2.0, 4.0])
    result = section(make_batch("binary", y, (s > 0.5).astype(int), s, w), Options(ece_bins=4))
    # bins [0, .25): w 2, sum wp .2, sum wy 1 ; [.5, .75): w 4, wp 2.3, wy 2 ; [.75, 1]: w 4, wp 4, wy 4
    assert result["overall"]["ece"] == approx((0.8 + 0.3 + 0.0) / 10.0)
    assert result["calibration"] == [
        {"lower": 0.0, "upper": 0.25, "count": 2, "weight": 2.0, "mean_score": approx(0.1), "fraction_positive": 0.5},
        {"lower": 0.5, "upper": 0.75, "count": 2, "weight": 4.0, "mean_score": approx(0.575),
         "fraction_positive": 0.5},
        {"lower": 0.75, "upper": 1.0, "count": 1, "weight": 4.0, "mean_score": 1.0, "fraction_positive": 1.0}]


def test_a_score_on_an_inner_edge_belongs_to_the_upper_bin() -> None:
    result = section(make_batch("binary", [1, 0], [1, 0], [0.5, 0.25]), Options(ece_bins=4))
    assert [(b["lower"], b["count"]) for b in result["calibration"]] == [(0.25, 1), (0.5, 1)]


def test_tied_scores_are_one_threshold_as_in_sklearn() -> None:
    y = np.array([0, 1, 0, 1, 1, 0, 0])
    s = np.array([0.5, 0.5, 0.2, 0.8, 0.5, 0.8, 0.2])
    overall = section(make_batch("binary", y, s > 0.4, s))["overall"]
    assert overall["roc_auc"] == approx(skm.roc_auc_score(y, s))
    assert overall["pr_auc"] == approx(skm.average_precision_score(y, s))
    assert overall["roc_auc"] == approx((4 + 0.5 * 4 + 2 * 1 + 0.5 * 1) / 12)  # wins + half the ties, / (P * N)


def test_by_segment_equals_the_segments_own_rows() -> None:
    d = binary_data(2000, 5, True)
    segment = np.random.default_rng(55).choice(["north", "south", "west"], 2000, p=[0.5, 0.3, 0.2])
    result = section(make_batch("binary", d["y"], d["yhat"], d["scores"], d["weight"], segment=segment))
    assert list(result["by_segment"]) == ["north", "south", "west"]
    for name, part in result["by_segment"].items():
        rows = segment == name
        alone = section(make_batch("binary", d["y"][rows], d["yhat"][rows], d["scores"][rows], d["weight"][rows]))
        assert_same(part, alone["overall"])
        assert part["roc_auc"] == approx(skm.roc_auc_score(d["y"][rows], d["scores"][rows],
                                                           sample_weight=d["weight"][rows]))
    whole = section(make_batch("binary", d["y"], d["yhat"], d["scores"], d["weight"]))
    assert_same(result["overall"], whole["overall"])


def test_regression_by_segment_matches_sklearn() -> None:
    d = regression_data(1000, 6, True, offset=1e6)
    segment = np.where(np.arange(1000) % 3 == 0, "x", "y")
    result = section(make_batch("regression", d["y"], d["yhat"], weight=d["weight"], segment=segment))
    for name in ("x", "y"):
        rows = segment == name
        assert result["by_segment"][name]["r2"] == approx(
            skm.r2_score(d["y"][rows], d["yhat"][rows], sample_weight=d["weight"][rows]))
        assert result["by_segment"][name]["count"] == int(rows.sum())


def _split_merge(batch_of: Any, n: int, cuts: list[int]) -> PerformanceStats:
    bounds = [0, *sorted(set(cuts)), n]
    parts = [PerformanceStats.collect(batch_of(a, b), OPTIONS) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    merged = parts[0]
    for part in parts[1:]:
        merged = merged.merge(part)
    return merged


@settings(max_examples=30, deadline=None)
@given(cuts=st.lists(st.integers(1, 399), max_size=5), seed=st.integers(0, 10_000),
       task=st.sampled_from(["binary", "multiclass", "regression"]), weighted=st.booleans())
def test_merged_partitions_equal_the_whole(cuts: list[int], seed: int, task: str, weighted: bool) -> None:
    n = 400
    segment = np.random.default_rng(seed + 1).choice(["p", "q", "r"], n)
    if task == "binary":
        d = binary_data(n, seed, weighted)
    elif task == "multiclass":
        d = multiclass_data(n, 4, seed, weighted)
    else:
        d = regression_data(n, seed, weighted, offset=1e4)
    w = d["weight"] if weighted else np.ones(n)

    def batch_of(a: int, b: int) -> Batch:
        scores = None if "scores" not in d else d["scores"][a:b]
        return make_batch(task, d["y"][a:b], d["yhat"][a:b], scores, w[a:b] if weighted else None,
                          CLASSES if task == "multiclass" else (), segment[a:b])

    merged = _split_merge(batch_of, n, cuts).finalize(OPTIONS)
    assert_same(merged, section(batch_of(0, n)))


def test_partitions_with_different_classes_and_segments_merge_by_value() -> None:
    first = make_batch("multiclass", [0, 1, 1], [1, 1, 0], classes=("a", "b"), segment=["s1", "s1", "s2"])
    second = make_batch("multiclass", [0, 1, 0], [1, 0, 0], classes=("b", "c"), segment=["s3", "s1", "s3"])
    merged = PerformanceStats.collect(first, OPTIONS).merge(PerformanceStats.collect(second, OPTIONS))
    result = merged.finalize(OPTIONS)
    y, yhat = ["a", "b", "b", "b", "c", "b"], ["b", "b", "a", "c", "b", "b"]
    assert result["confusion_matrix"]["labels"] == ["a", "b", "c"]
    assert result["confusion_matrix"]["counts"] == skm.confusion_matrix(y, yhat, labels=["a", "b", "c"]).tolist()
    assert result["overall"]["accuracy"] == approx(skm.accuracy_score(y, yhat))
    assert {k: v["count"] for k, v in result["by_segment"].items()} == {"s1": 3, "s2": 1, "s3": 2}


def test_stats_survive_pickling() -> None:
    d = multiclass_data(300, 3, 7, True)
    stats = PerformanceStats.collect(make_batch("multiclass", d["y"], d["yhat"], d["scores"], d["weight"],
                                                CLASSES[:3], segment=d["y"] % 2), OPTIONS)
    assert_same(pickle.loads(pickle.dumps(stats)).finalize(OPTIONS), stats.finalize(OPTIONS))
    assert stats.nbytes > 0


def test_section_is_json_safe_with_nan_as_null() -> None:
    result = section(make_batch("binary", [0, 0, 0], [0, 0, 0], [0.1, 0.2, 0.3]))
    data = json.loads(json.dumps(json_safe(result), allow_nan=False))
    assert data["overall"]["precision"] is None
    assert data["overall"]["undefined"]["precision"] == perf.NO_PREDICTED_POSITIVES


def test_binary_undefined_cases_have_their_reasons() -> None:
    overall = section(make_batch("binary", [0, 0, 0, 0], [0, 0, 0, 0], [0.1, 0.2, 0.2, 0.9]))["overall"]
    assert overall["undefined"] == {
        "balanced_accuracy": perf.ONE_CLASS, "precision": perf.NO_PREDICTED_POSITIVES,
        "recall": perf.NO_POSITIVE_LABELS, "f1": perf.NO_POSITIVES_AT_ALL, "roc_auc": perf.ONE_CLASS,
        "pr_auc": perf.NO_POSITIVE_LABELS}
    for name in overall["undefined"]:
        assert math.isnan(overall[name])
    assert overall["accuracy"] == 1.0
    assert overall["log_loss"] == approx(skm.log_loss([0, 0, 0, 0], y_proba=[0.1, 0.2, 0.2, 0.9], labels=[0, 1]))


def test_we_are_nan_where_sklearn_warns_and_substitutes() -> None:
    y, yhat = np.array([1, 1, 0]), np.array([0, 0, 0])
    overall = section(make_batch("binary", y, yhat))["overall"]
    with pytest.warns(UserWarning, match="ill-defined"):
        assert skm.precision_score(y, yhat) == 0.0
    assert math.isnan(overall["precision"]) and overall["undefined"] == {"precision": perf.NO_PREDICTED_POSITIVES}
    assert overall["f1"] == skm.f1_score(y, yhat, zero_division=np.nan) == 0.0
    only_positive = section(make_batch("binary", [1, 1], [1, 0], [0.7, 0.2]))["overall"]
    with pytest.warns(UserWarning, match="not in y_true"):
        assert skm.balanced_accuracy_score([1, 1], [1, 0]) == 0.5
    assert only_positive["undefined"] == {"balanced_accuracy": perf.ONE_CLASS, "roc_auc": perf.ONE_CLASS}
    assert only_positive["pr_auc"] == approx(skm.average_precision_score([1, 1], [0.7, 0.2]))


def test_zero_total_weight_makes_every_ratio_undefined() -> None:
    overall = section(make_batch("binary", [0, 1], [0, 1], [0.2, 0.7], weight=[0.0, 0.0]))["overall"]
    assert overall["count"] == 2 and overall["weight"] == 0.0
    assert set(overall["undefined"].values()) == {perf.NO_WEIGHT}
    assert set(overall["undefined"]) == set(overall) - {"count", "weight", "undefined"}


def test_regression_constant_labels_leave_r2_undefined() -> None:
    y = np.full(5, 0.1)
    result = section(make_batch("regression", y, [0.1, 0.2, 0.0, 0.1, 0.3], weight=[1, 2, 3, 0.5, 7]))
    assert math.isnan(result["overall"]["r2"])
    assert result["overall"]["undefined"] == {"r2": perf.CONSTANT_LABELS}
    assert result["overall"]["mae"] == approx(skm.mean_absolute_error(y, [0.1, 0.2, 0.0, 0.1, 0.3],
                                                                      sample_weight=[1, 2, 3, 0.5, 7]))


def test_multiclass_undefined_cases() -> None:
    # class "c" never occurs in the labels: its one-vs-rest AUC is undefined, so is the macro
    y, yhat = np.array([0, 1, 0, 1]), np.array([0, 1, 2, 1])
    scores = np.array([[0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.3, 0.2, 0.5], [0.1, 0.8, 0.1]])
    result = section(make_batch("multiclass", y, yhat, scores, classes=("a", "b", "c")))
    assert result["overall"]["undefined"] == {"roc_auc_ovr": perf.OVR_UNDEFINED.format(classes="'c'")}
    assert result["per_class"]["c"]["undefined"] == {"recall": perf.NO_POSITIVE_LABELS}
    with pytest.warns(UserWarning, match="not in y_true"):
        assert result["overall"]["balanced_accuracy"] == approx(skm.balanced_accuracy_score(y, yhat))
    single = section(make_batch("multiclass", [2, 2], [2, 0], classes=("a", "b", "c")))["overall"]
    assert single["undefined"] == {"balanced_accuracy": perf.ONE_CLASS}


def test_merge_refuses_mismatched_statistics() -> None:
    binary = PerformanceStats.collect(make_batch("binary", [0, 1], [0, 1]), OPTIONS)
    regression = PerformanceStats.collect(make_batch("regression", [0.0, 1.0], [0.0, 1.0]), OPTIONS)
    with pytest.raises(EvaluationError) as info:
        binary.merge(regression)
    assert str(info.value) == perf.MERGE_MISMATCH.format(what="tasks", left="binary", right="regression")
    scored = PerformanceStats.collect(make_batch("binary", [0, 1], [0, 1], [0.1, 0.9]), OPTIONS)
    with pytest.raises(EvaluationError) as info:
        binary.merge(scored)
    assert str(info.value) == "cannot merge performance statistics: score columns differ (False vs True)"
    left = PerformanceStats.collect(make_batch("multiclass", [0], [1], [[0.4, 0.6]], classes=("a", "b")), OPTIONS)
    right = PerformanceStats.collect(make_batch("multiclass", [0], [1], [[0.4, 0.6]], classes=("b", "c")), OPTIONS)
    with pytest.raises(EvaluationError) as info:
        left.merge(right)
    assert str(info.value) == "multiclass scores need the same classes in every partition: ['a', 'b'] vs ['b', 'c']"


def test_multiclass_scores_need_one_column_per_class() -> None:
    with pytest.raises(EvaluationError) as info:
        PerformanceStats.collect(make_batch("multiclass", [0, 1], [0, 1], [[0.5, 0.5], [0.1, 0.9]],
                                            classes=("a", "b", "c")), OPTIONS)
    assert str(info.value) == "multiclass scores have 2 column(s) for 3 class(es)"


@settings(max_examples=50, deadline=None)
@given(scores=st.lists(st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.9, 1.0]), min_size=1, max_size=60),
       labels=st.lists(st.booleans(), min_size=60, max_size=60), cut=st.integers(0, 60))
def test_score_tables_merge_to_the_table_of_all_rows(scores: list[float], labels: list[bool], cut: int) -> None:
    s = np.array(scores)
    y = np.array(labels[: len(s)])
    w = np.linspace(0.5, 2.0, len(s))
    zeros = np.zeros(len(s), dtype=np.intp)
    cut = min(cut, len(s))
    (whole,) = score_tables(s, y, w, zeros, 1, LIMIT)
    (left,) = score_tables(s[:cut], y[:cut], w[:cut], zeros[:cut], 1, LIMIT)
    (right,) = score_tables(s[cut:], y[cut:], w[cut:], zeros[cut:], 1, LIMIT)
    merged = left.merge(right, LIMIT)
    np.testing.assert_array_equal(merged.values, whole.values)
    np.testing.assert_allclose(merged.positive, whole.positive, rtol=1e-12)
    np.testing.assert_allclose(merged.negative, whole.negative, rtol=1e-12)
    if y.any() and not y.all():
        assert roc_auc(merged) == approx(skm.roc_auc_score(y, s, sample_weight=w))
    if y.any():
        assert average_precision(merged) == approx(skm.average_precision_score(y, s, sample_weight=w))


def test_an_empty_table_has_undefined_curves() -> None:
    empty = ScoreTable(np.empty(0), np.empty(0), np.empty(0))
    assert math.isnan(roc_auc(empty)) and math.isnan(average_precision(empty))
    assert empty.merge(empty, 10).nbytes == 0


def continuous_binary(n: int, seed: int) -> dict[str, Any]:
    """Float scores that are (almost surely) all distinct, with weights."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(int)
    scores = 0.3 * y + 0.7 * rng.random(n)
    return {"y": y, "yhat": (scores > 0.5).astype(int), "scores": scores, "weight": rng.exponential(size=n)}


def on_grid(scores: np.ndarray) -> np.ndarray:
    return np.floor(scores / STEP) * STEP


def auc_bound(table: ScoreTable) -> float:
    """The documented bound: half the weight of positive-negative pairs that share a grid cell, over P * N."""
    return float(0.5 * (table.positive * table.negative).sum() / (table.positive.sum() * table.negative.sum()))


def ap_bound(table: ScoreTable) -> float:
    """The documented bound: sum over cells of (P_c / P) * (cell weight / weight at or above the cell)."""
    mass = table.positive + table.negative
    above = np.cumsum(mass[::-1])[::-1]
    return float((table.positive / table.positive.sum() * mass / above).sum())


def test_grid_step_keeps_the_grid_within_the_limit() -> None:
    assert grid_step(1000) == 2.0**-9 and grid_step(1_000_000) == 2.0**-19 and grid_step(2) == 1.0
    for limit in range(2, 3000):
        points = 1 / grid_step(limit) + 1
        assert points <= limit < 2 * points - 1   # the finest power-of-two grid that fits


def test_compacted_binary_tables_are_bounded_and_within_the_documented_error() -> None:
    d = continuous_binary(5000, 11)
    segment = np.where(np.arange(5000) % 4 == 0, "s", "t")
    batch = make_batch("binary", d["y"], d["yhat"], d["scores"], d["weight"], segment=segment)
    stats = PerformanceStats.collect(batch, SMALL)
    result = stats.finalize(SMALL)
    assert result["approximate"] == ["roc_auc", "pr_auc"]
    exact = section(batch)
    assert exact["approximate"] == []
    for key in ("confusion_matrix", "calibration", "per_class", "task"):
        assert_same(result[key], exact[key])
    for approximate, reference in [(result["overall"], exact["overall"]),
                                   *((result["by_segment"][k], exact["by_segment"][k]) for k in ("s", "t"))]:
        for name in set(reference) - {"roc_auc", "pr_auc"}:
            assert_same(approximate[name], reference[name])
    for cell in stats.cells.values():
        table = cell.tables["1"]  # type: ignore[union-attr]
        assert table.approximate and len(table.values) <= 1 / STEP + 1 <= 1000
        np.testing.assert_array_equal(table.values, on_grid(table.values))
        assert (np.diff(table.values) > 0).all()
    y, s, w = d["y"], d["scores"], d["weight"]
    # the compacted metrics are exactly scikit-learn's on the scores floored onto the grid ...
    for rows, part in [(np.ones(5000, dtype=bool), result["overall"]),
                       *((segment == k, result["by_segment"][k]) for k in ("s", "t"))]:
        assert part["roc_auc"] == approx(skm.roc_auc_score(y[rows], on_grid(s[rows]), sample_weight=w[rows]))
        assert part["pr_auc"] == approx(skm.average_precision_score(y[rows], on_grid(s[rows]), sample_weight=w[rows]))
    # ... and within the documented bound of scikit-learn's on the raw scores
    (whole,) = score_tables(s, y == 1, w, np.zeros(5000, dtype=np.intp), 1, 1000)
    assert 0 < auc_bound(whole) < 1e-3 and 0 < ap_bound(whole) < 0.05
    assert abs(result["overall"]["roc_auc"] - skm.roc_auc_score(y, s, sample_weight=w)) <= auc_bound(whole)
    assert abs(result["overall"]["pr_auc"] - skm.average_precision_score(y, s, sample_weight=w)) <= ap_bound(whole)


def test_compacted_multiclass_tables_mark_the_ovr_auc_approximate() -> None:
    rng = np.random.default_rng(12)
    n, k = 3000, 3
    y = rng.integers(0, k, n)
    scores = rng.dirichlet(np.ones(k), size=n)
    scores[np.arange(n), y] += 0.3
    scores /= scores.sum(axis=1, keepdims=True)
    result = section(make_batch("multiclass", y, scores.argmax(axis=1), scores, classes=CLASSES[:k]), SMALL)
    assert result["approximate"] == ["roc_auc_ovr"]
    on_grid_auc = np.mean([skm.roc_auc_score(y == c, on_grid(scores[:, c])) for c in range(k)])
    assert result["overall"]["roc_auc_ovr"] == approx(on_grid_auc)
    bound = np.mean([auc_bound(score_tables(scores[:, c], y == c, np.ones(n), np.zeros(n, dtype=np.intp), 1,
                                            1000)[0]) for c in range(k)])
    raw = skm.roc_auc_score(y, scores, multi_class="ovr", average="macro")
    assert abs(result["overall"]["roc_auc_ovr"] - raw) <= bound
    assert result["overall"]["log_loss"] == approx(skm.log_loss(y, y_proba=scores))


@settings(max_examples=50, deadline=None)
@given(scores=st.lists(st.one_of(st.floats(0, 1), st.sampled_from([0.0, 0.25, 0.5, 1.0])), min_size=2,
                       max_size=80),
       labels=st.lists(st.booleans(), min_size=80, max_size=80),
       weights=st.lists(st.integers(0, 5), min_size=80, max_size=80),
       cut=st.integers(0, 80), limit=st.integers(2, 40))
def test_compaction_commutes_with_merging(scores: list[float], labels: list[bool], weights: list[int], cut: int,
                                          limit: int) -> None:
    # integer weights: every sum is exact, so the tables must be bit-identical
    n = len(scores)
    s, y, w = np.array(scores), np.array(labels[:n]), np.array(weights[:n], dtype=np.float64)
    zeros = np.zeros(n, dtype=np.intp)
    cut = min(cut, n)
    big = n + 1   # a limit no table reaches: the tables stay exact
    (a,) = score_tables(s[:cut], y[:cut], w[:cut], zeros[:cut], 1, big)
    (b,) = score_tables(s[cut:], y[cut:], w[cut:], zeros[cut:], 1, big)
    (whole,) = score_tables(s, y, w, zeros, 1, big)
    expected = whole.compacted(limit)
    for table in (a.merge(b, big).compacted(limit), a.compacted(limit).merge(b.compacted(limit), limit),
                  a.compacted(limit).merge(b, limit), a.merge(b.compacted(limit), limit)):
        assert table.approximate and table.step == expected.step
        for got, want in ((table.values, expected.values), (table.positive, expected.positive),
                          (table.negative, expected.negative)):
            np.testing.assert_array_equal(got, want)
    assert len(expected.values) <= 1 / grid_step(limit) + 1 <= limit
    merged = a.merge(b, limit)
    assert merged.approximate == (len(whole.values) > limit)
    (direct,) = score_tables(s, y, w, zeros, 1, limit)
    np.testing.assert_array_equal(merged.values, direct.values)
    assert direct.approximate == merged.approximate


@pytest.mark.parametrize("order", [[0, 1, 2, 3, 4, 5], [5, 4, 3, 2, 1, 0], [3, 0, 5, 1, 4, 2]])
def test_compacted_merges_do_not_depend_on_partition_order(order: list[int]) -> None:
    # 6 partitions of 400 rows stay exact alone; their merge (2400 distinct scores) is compacted. Segments of
    # 800 rows stay exact, so only the overall figures are approximate.
    n = 2400
    d = continuous_binary(n, 13)
    segment = np.array(["u", "v", "x"])[np.arange(n) % 3]
    parts = [PerformanceStats.collect(make_batch("binary", d["y"][a:a + 400], d["yhat"][a:a + 400],
                                                 d["scores"][a:a + 400], d["weight"][a:a + 400],
                                                 segment=segment[a:a + 400]), SMALL) for a in range(0, n, 400)]
    assert not any(t.approximate for p in parts for c in p.cells.values() for t in c.tables.values())  # type: ignore[union-attr]
    merged = parts[order[0]]
    for i in order[1:]:
        merged = merged.merge(parts[i])
    result = merged.finalize(SMALL)
    whole = section(make_batch("binary", d["y"], d["yhat"], d["scores"], d["weight"], segment=segment), SMALL)
    assert_same(result, whole)
    assert result["approximate"] == ["roc_auc", "pr_auc"]
    y, s, w = d["y"], d["scores"], d["weight"]
    assert result["overall"]["roc_auc"] == approx(skm.roc_auc_score(y, on_grid(s), sample_weight=w))
    for name in ("u", "v", "x"):
        rows = segment == name
        assert result["by_segment"][name]["roc_auc"] == approx(
            skm.roc_auc_score(y[rows], s[rows], sample_weight=w[rows]))


def test_merge_refuses_different_distinct_limits() -> None:
    batch = make_batch("binary", [0, 1], [0, 1], [0.1, 0.9])
    with pytest.raises(EvaluationError) as info:
        PerformanceStats.collect(batch, SMALL).merge(PerformanceStats.collect(batch, OPTIONS))
    assert str(info.value) == "cannot merge performance statistics: distinct-score limits differ (1000 vs 1000000)"
