"""Fairness section: group metrics, disparities and the four-fifths rule against Fairlearn 0.15 (the oracle, to
1e-9), undefined values with their reasons, exact merging of partitions, and the cell-count bootstrap."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from fairlearn import metrics as flm
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score, mean_absolute_error, precision_score, root_mean_squared_error

from aicoe.engines.evaluation import fairness as fx
from aicoe.engines.evaluation.bootstrap import percentile_interval, resample_sums
from aicoe.engines.evaluation.errors import EvaluationError
from aicoe.engines.evaluation.fairness import FairnessStats
from aicoe.engines.evaluation.result import json_safe
from aicoe.engines.evaluation.spec import Batch, Categorical, Options

TOL = {"rel": 1e-9, "abs": 1e-12}
OPTIONS = Options(bootstrap=200, seed=7)
NO_BOOTSTRAP = Options(bootstrap=0)
FAIRLEARN_METRICS = {"selection_rate": flm.selection_rate, "tpr": flm.true_positive_rate,
                     "fpr": flm.false_positive_rate, "fnr": flm.false_negative_rate,
                     "tnr": flm.true_negative_rate, "precision": precision_score, "accuracy": accuracy_score}
DISPARITY_FUNCTIONS = {name: getattr(flm, name) for name in (
    "demographic_parity_difference", "demographic_parity_ratio", "equalized_odds_difference",
    "equalized_odds_ratio", "equal_opportunity_difference", "equal_opportunity_ratio")}


def categorical(values: np.ndarray, extra: tuple[str, ...] = ()) -> Categorical:
    """Codes into sorted categories; ``extra`` categories have no rows (as an unused pandas category)."""
    categories, codes = np.unique(np.asarray(values, dtype=str), return_inverse=True)
    return Categorical(codes.astype(np.int32), (*extra, *categories.tolist()))


def make_batch(y: np.ndarray, yhat: np.ndarray, sensitive: dict[str, np.ndarray], weight: np.ndarray | None = None,
               task: str = "binary", extra: tuple[str, ...] = ()) -> Batch:
    n = len(y)
    cats = {}
    for name, values in sensitive.items():
        cat = categorical(values, extra)
        cats[name] = Categorical(cat.codes + len(extra), cat.categories)
    dtype = np.int8 if task == "binary" else np.float64
    return Batch(n=n, task=task, y=np.asarray(y, dtype=dtype), yhat=np.asarray(yhat, dtype=dtype), scores=None,
                 weight=np.ones(n) if weight is None else np.asarray(weight, dtype=np.float64),
                 weighted=weight is not None, sensitive=cats)


def random_data(n: int, seed: int, features: int = 2, weighted: bool = True) -> tuple:
    rng = np.random.default_rng(seed)
    sensitive = {"sex": rng.choice(["F", "M", "X"], n, p=[0.55, 0.4, 0.05])}
    if features > 1:
        sensitive["race"] = rng.choice(["A", "B", "C", "D"], n, p=[0.5, 0.3, 0.15, 0.05])
    y = rng.integers(0, 2, n)
    yhat = np.where(rng.random(n) < 0.75, y, 1 - y)
    weight = rng.uniform(0.2, 3.0, n) if weighted else None
    return y, yhat, sensitive, weight


def section(y, yhat, sensitive, weight=None, options: Options = NO_BOOTSTRAP, **kw) -> dict:
    return FairnessStats.collect(make_batch(y, yhat, sensitive, weight, **kw), options).finalize(options)


def frame(y, yhat, sensitive, weight) -> flm.MetricFrame:
    params = {"sample_weight": weight}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return flm.MetricFrame(metrics=FAIRLEARN_METRICS, y_true=y, y_pred=yhat,
                               sensitive_features=pd.DataFrame(sensitive),
                               sample_params={name: params for name in FAIRLEARN_METRICS})


def by_group_rows(mf: flm.MetricFrame) -> dict[str, dict[str, float]]:
    """Fairlearn's by_group, keyed by our group label, without the empty intersections it reindexes in."""
    table = mf.by_group.dropna(how="all")
    return {", ".join(np.atleast_1d(key).astype(str)): row.to_dict() for key, row in table.iterrows()}


# --- the oracle: Fairlearn 0.15 -------------------------------------------------------------------------------

@pytest.mark.parametrize(("features", "weighted"), [(1, False), (1, True), (2, False), (2, True)])
def test_group_metrics_and_disparities_match_fairlearn(features: int, weighted: bool) -> None:
    y, yhat, sensitive, weight = random_data(4000, seed=features * 10 + weighted, features=features,
                                             weighted=weighted)
    result = section(y, yhat, sensitive, weight)
    mf = frame(y, yhat, sensitive, weight)

    expected = by_group_rows(mf)
    assert [g["label"] for g in result["groups"]] == sorted(expected)
    for group in result["groups"]:
        for name in fx.CLASSIFICATION_METRICS:
            assert group[name] == pytest.approx(expected[group["label"]][name], **TOL), (group["label"], name)
        assert group["undefined"] == {}
        rows = np.all([sensitive[f] == v for f, v in group["group"].items()], axis=0)
        assert group["count"] == int(rows.sum())
        assert group["weight"] == pytest.approx(rows.sum() if weight is None else weight[rows].sum(), **TOL)
    for name, value in mf.overall.items():
        assert result["overall"][name] == pytest.approx(value, **TOL)
    assert result["overall"]["count"] == len(y)

    for name, function in DISPARITY_FUNCTIONS.items():
        for method in ("between_groups", "to_overall"):
            oracle = function(y, yhat, sensitive_features=pd.DataFrame(sensitive), sample_weight=weight,
                              method=method)
            assert result["disparities"][name][method] == pytest.approx(oracle, **TOL), (name, method)
    assert result["undefined"] == {}


def test_per_feature_groups_and_disparities_match_fairlearn_on_each_feature_alone() -> None:
    y, yhat, sensitive, weight = random_data(3000, seed=3)
    result = section(y, yhat, sensitive, weight)
    assert list(result["by_feature"]) == ["sex", "race"]
    for feature, values in sensitive.items():
        expected = by_group_rows(frame(y, yhat, {feature: values}, weight))
        groups = result["by_feature"][feature]
        assert [g["label"] for g in groups] == sorted(expected)
        for group in groups:
            assert group["group"] == {feature: group["label"]}
            for name in fx.CLASSIFICATION_METRICS:
                assert group[name] == pytest.approx(expected[group["label"]][name], **TOL)
        for name, function in DISPARITY_FUNCTIONS.items():
            for method in ("between_groups", "to_overall"):
                oracle = function(y, yhat, sensitive_features=values, sample_weight=weight, method=method)
                assert result["disparities_by_feature"][feature][name][method] == pytest.approx(oracle, **TOL)


def test_intersections_with_no_rows_and_unused_categories_are_not_groups() -> None:
    y, yhat, sensitive, weight = random_data(2000, seed=5)
    keep = ~((sensitive["sex"] == "X") & (sensitive["race"] == "D"))  # one intersection left empty
    y, yhat, weight = y[keep], yhat[keep], weight[keep]
    sensitive = {k: v[keep] for k, v in sensitive.items()}
    result = section(y, yhat, sensitive, weight, extra=("unused",))
    labels = [g["label"] for g in result["groups"]]
    assert "X, D" not in labels and not any("unused" in label for label in labels)
    assert len(labels) == 11
    assert all("unused" not in g["label"] for gs in result["by_feature"].values() for g in gs)
    series = {k: pd.Series(pd.Categorical(v, categories=[*np.unique(v), "unused"])) for k, v in sensitive.items()}
    for name, function in DISPARITY_FUNCTIONS.items():
        oracle = function(y, yhat, sensitive_features=pd.DataFrame(series), sample_weight=weight)
        assert result["disparities"][name]["between_groups"] == pytest.approx(oracle, **TOL)


def test_four_fifths_is_the_demographic_parity_ratio_over_intersections() -> None:
    y, yhat, sensitive, weight = random_data(3000, seed=11)
    result = section(y, yhat, sensitive, weight)
    rates = {g["label"]: g["selection_rate"] for g in result["groups"]}
    ratio = flm.demographic_parity_ratio(y, yhat, sensitive_features=pd.DataFrame(sensitive), sample_weight=weight)
    assert result["four_fifths"]["ratio"] == pytest.approx(ratio, **TOL)
    assert result["four_fifths"]["passes"] is bool(ratio >= 0.8)
    assert result["four_fifths"]["lowest_group"] == min(rates, key=rates.get)
    assert result["four_fifths"]["highest_group"] == max(rates, key=rates.get)


def test_a_visible_disparity_fails_the_four_fifths_rule() -> None:
    group = np.array(["a"] * 100 + ["b"] * 100)
    yhat = np.r_[np.ones(60), np.zeros(40), np.ones(30), np.zeros(70)]
    result = section(np.zeros(200), yhat, {"g": group})
    assert result["four_fifths"] == {"ratio": 0.5, "passes": False, "lowest_group": "b", "highest_group": "a"}


# --- undefined values and small groups ------------------------------------------------------------------------

def test_a_group_with_one_label_has_undefined_rates_and_undefined_disparities() -> None:
    y, yhat, sensitive, weight = random_data(2000, seed=13, features=1)
    y = np.where(sensitive["sex"] == "X", 0, y)  # group X: no positive labels
    result = section(y, yhat, sensitive, weight)
    x = next(g for g in result["groups"] if g["label"] == "X")
    assert np.isnan(x["tpr"]) and np.isnan(x["fnr"])
    assert x["undefined"] == {"tpr": fx.NO_POSITIVES, "fnr": fx.NO_POSITIVES}
    count = int((sensitive["sex"] == "X").sum())
    assert x["fpr"] == pytest.approx(flm.false_positive_rate(y[sensitive["sex"] == "X"],
                                                             yhat[sensitive["sex"] == "X"],
                                                             sample_weight=weight[sensitive["sex"] == "X"]), **TOL)
    reason = fx.UNDEFINED_IN_GROUPS.format(metric="tpr", count=1, groups="X")
    for name in ("equalized_odds_difference", "equalized_odds_ratio", "equal_opportunity_difference",
                 "equal_opportunity_ratio"):
        assert all(np.isnan(v) for v in result["disparities"][name].values())
        assert result["undefined"][name] == reason
        assert result["undefined"][f"{name}[sex]"] == reason
    assert x["count"] == count
    for name in ("demographic_parity_difference", "demographic_parity_ratio"):  # still defined: as Fairlearn
        oracle = DISPARITY_FUNCTIONS[name](y, yhat, sensitive_features=sensitive["sex"], sample_weight=weight)
        assert result["disparities"][name]["between_groups"] == pytest.approx(oracle, **TOL)
    as_dict = json_safe(result)
    json.dumps(as_dict, allow_nan=False)
    assert as_dict["disparities"]["equal_opportunity_ratio"] == {"between_groups": None, "to_overall": None}


def test_no_positive_predictions_leave_precision_and_the_parity_ratio_undefined() -> None:
    group = np.array(["a", "a", "b", "b", "b"])
    result = section(np.array([1, 0, 1, 1, 0]), np.zeros(5), {"g": group})
    assert all(np.isnan(g["precision"]) and g["undefined"]["precision"] == fx.NO_PREDICTED_POSITIVES
               for g in result["groups"])
    assert result["overall"]["undefined"] == {"precision": fx.NO_PREDICTED_POSITIVES}
    assert result["disparities"]["demographic_parity_difference"]["between_groups"] == 0.0
    assert np.isnan(result["disparities"]["demographic_parity_ratio"]["between_groups"])
    zero = fx.ZERO_IN_EVERY_GROUP.format(metric="selection_rate")
    assert result["undefined"]["demographic_parity_ratio"] == zero
    assert result["undefined"]["equalized_odds_ratio"] == fx.ZERO_IN_EVERY_GROUP.format(metric="tpr")
    assert result["four_fifths"]["passes"] is False
    assert result["undefined"]["four_fifths"] == fx.FOUR_FIFTHS_UNDEFINED.format(reason=zero)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.isnan(flm.demographic_parity_ratio(np.array([1, 0, 1, 1, 0]), np.zeros(5),
                                                     sensitive_features=group))


def test_a_group_of_zero_weight_is_undefined_not_zero() -> None:
    result = section(np.array([1, 0, 1, 0]), np.array([1, 0, 0, 1]), {"g": np.array(["a", "a", "b", "b"])},
                     weight=np.array([1.0, 2.0, 0.0, 0.0]))
    b = result["groups"][1]
    assert b["count"] == 2 and b["weight"] == 0.0
    assert b["undefined"] == {name: fx.REASONS[name] for name in fx.CLASSIFICATION_METRICS}
    assert result["undefined"]["demographic_parity_difference"] == fx.UNDEFINED_IN_GROUPS.format(
        metric="selection_rate", count=1, groups="b")


def test_small_groups_are_flagged_and_still_count_in_disparities() -> None:
    y, yhat, sensitive, weight = random_data(1000, seed=17, features=1)
    result = section(y, yhat, sensitive, weight, options=Options(bootstrap=0, min_group_size=100))
    assert result["min_group_size"] == 100
    assert {g["label"]: g["small"] for g in result["groups"]} == {
        g["label"]: g["count"] < 100 for g in result["groups"]}
    assert any(g["small"] for g in result["groups"])
    oracle = flm.demographic_parity_difference(y, yhat, sensitive_features=sensitive["sex"], sample_weight=weight)
    assert result["disparities"]["demographic_parity_difference"]["between_groups"] == pytest.approx(oracle, **TOL)


# --- regression -------------------------------------------------------------------------------------------------

def test_regression_fairness_by_hand() -> None:
    y = np.array([1.0, 2.0, 3.0, 4.0, 10.0])
    yhat = np.array([1.5, 2.0, 2.0, 6.0, 7.0])
    weight = np.array([1.0, 2.0, 1.0, 1.0, 2.0])
    result = section(y, yhat, {"g": np.array(["a", "a", "a", "b", "b"])}, weight, task="regression")
    a, b = result["groups"]
    assert a["mae"] == pytest.approx((0.5 + 0 + 1) / 4, **TOL)
    assert a["rmse"] == pytest.approx(np.sqrt((0.25 + 0 + 1) / 4), **TOL)
    assert a["mean_prediction"] == pytest.approx((1.5 + 4 + 2) / 4, **TOL)
    assert a["mean_label"] == pytest.approx((1 + 4 + 3) / 4, **TOL)
    assert b["mae"] == pytest.approx((2 + 6) / 3, **TOL)
    assert b["rmse"] == pytest.approx(np.sqrt((4 + 18) / 3), **TOL)
    overall_mae = mean_absolute_error(y, yhat, sample_weight=weight)
    assert result["overall"]["mae"] == pytest.approx(overall_mae, **TOL)
    assert result["overall"]["rmse"] == pytest.approx(root_mean_squared_error(y, yhat, sample_weight=weight), **TOL)
    assert result["overall"]["weight"] == 7.0
    mae = result["disparities"]
    assert mae["mae_difference"]["between_groups"] == pytest.approx(8 / 3 - 1.5 / 4, **TOL)
    assert mae["mae_difference"]["to_overall"] == pytest.approx(8 / 3 - overall_mae, **TOL)
    assert mae["mae_ratio"]["between_groups"] == pytest.approx((1.5 / 4) / (8 / 3), **TOL)
    assert mae["mae_ratio"]["to_overall"] == pytest.approx((1.5 / 4) / overall_mae, **TOL)
    assert result["four_fifths"] is None and result["intervals"] == {}


def test_regression_disparities_match_a_fairlearn_metric_frame() -> None:
    rng = np.random.default_rng(23)
    n = 2000
    y = rng.normal(size=n)
    yhat = y + rng.normal(scale=0.5, size=n)
    weight = rng.uniform(0.5, 2, n)
    group = rng.choice(["p", "q", "r"], n)
    result = section(y, yhat, {"g": group}, weight, task="regression")
    mf = flm.MetricFrame(metrics=mean_absolute_error, y_true=y, y_pred=yhat, sensitive_features=group,
                         sample_params={"sample_weight": weight})
    for method in ("between_groups", "to_overall"):
        assert result["disparities"]["mae_difference"][method] == pytest.approx(mf.difference(method=method), **TOL)
        assert result["disparities"]["mae_ratio"][method] == pytest.approx(mf.ratio(method=method), **TOL)


# --- refusals ---------------------------------------------------------------------------------------------------

def test_multiclass_is_refused_with_a_clear_message() -> None:
    batch = make_batch(np.array([0, 1, 2]), np.array([0, 1, 1]), {"g": np.array(["a", "b", "a"])})
    batch.task, batch.classes = "multiclass", ("cat", "dog", "eel")
    with pytest.raises(EvaluationError) as caught:
        FairnessStats.collect(batch, OPTIONS)
    assert str(caught.value) == fx.MULTICLASS_REFUSED.format(count=3, classes="cat, dog, eel")


def test_missing_inputs_are_refused() -> None:
    batch = make_batch(np.array([0, 1]), np.array([0, 1]), {})
    with pytest.raises(EvaluationError, match=f"^{fx.NEEDS_SENSITIVE}$"):
        FairnessStats.collect(batch, OPTIONS)
    batch = make_batch(np.array([0, 1]), np.array([0, 1]), {"g": np.array(["a", "b"])})
    batch.y = None
    with pytest.raises(EvaluationError) as caught:
        FairnessStats.collect(batch, OPTIONS)
    assert str(caught.value) == fx.NEEDS_LABEL_AND_PREDICTION.format(missing="label")
    empty = make_batch(np.array([]), np.array([]), {"g": np.array([], dtype=str)})
    with pytest.raises(EvaluationError, match=f"^{fx.NO_ROWS}$"):
        FairnessStats.collect(empty, OPTIONS).finalize(OPTIONS)


def test_intersections_whose_labels_collide_are_refused() -> None:
    batch = make_batch(np.array([1, 0]), np.array([1, 1]),
                       {"a": np.array(["x, y", "x"]), "b": np.array(["z", "y, z"])})
    with pytest.raises(EvaluationError) as caught:
        FairnessStats.collect(batch, OPTIONS).finalize(OPTIONS)
    assert str(caught.value) == fx.AMBIGUOUS_LABELS.format(labels="x, y, z")


def test_statistics_of_different_features_do_not_merge() -> None:
    left = FairnessStats.collect(make_batch(np.array([1]), np.array([1]), {"a": np.array(["x"])}), OPTIONS)
    right = FairnessStats.collect(make_batch(np.array([1]), np.array([1]), {"b": np.array(["x"])}), OPTIONS)
    with pytest.raises(EvaluationError) as caught:
        left.merge(right)
    assert str(caught.value) == fx.MERGE_MISMATCH.format(left=("binary", "a"), right=("binary", "b"))


# --- merging partitions -----------------------------------------------------------------------------------------

def assert_sections_equal(left: dict, right: dict) -> None:
    def walk(a, b, path: str) -> None:
        if isinstance(a, dict):
            assert a.keys() == b.keys(), path
            for key in a:
                walk(a[key], b[key], f"{path}.{key}")
        elif isinstance(a, list):
            assert len(a) == len(b), path
            for i, (x, z) in enumerate(zip(a, b, strict=True)):
                walk(x, z, f"{path}[{i}]")
        elif isinstance(a, float):
            assert a == pytest.approx(b, rel=1e-12, abs=1e-12, nan_ok=True), path
        else:
            assert a == b, path

    walk(left, right, "fairness")


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**16), cuts=st.lists(st.integers(0, 600), max_size=5),
       task=st.sampled_from(["binary", "regression"]))
def test_merging_random_splits_equals_the_whole(seed: int, cuts: list[int], task: str) -> None:
    y, yhat, sensitive, weight = random_data(600, seed=seed)
    if task == "regression":
        y, yhat = y + np.random.default_rng(seed).normal(size=600), yhat * 0.5
    whole = FairnessStats.collect(make_batch(y, yhat, sensitive, weight, task=task), OPTIONS)
    bounds = [0, *sorted(cuts), 600]
    parts = [FairnessStats.collect(make_batch(y[a:b], yhat[a:b], {k: v[a:b] for k, v in sensitive.items()},
                                              weight[a:b], task=task), OPTIONS)
             for a, b in zip(bounds, bounds[1:], strict=False)]
    merged = parts[0]
    for part in parts[1:]:
        merged = merged.merge(part)
    assert merged.cells == whole.cells
    np.testing.assert_array_equal(merged.counts, whole.counts)
    np.testing.assert_allclose(merged.sums, whole.sums, rtol=1e-12, atol=1e-12)
    assert_sections_equal(merged.finalize(OPTIONS), whole.finalize(OPTIONS))


def test_partitions_that_saw_different_groups_merge_by_value() -> None:
    first = FairnessStats.collect(make_batch(np.array([1, 0]), np.array([1, 1]), {"g": np.array(["b", "c"])}),
                                  OPTIONS)
    second = FairnessStats.collect(make_batch(np.array([1, 1]), np.array([0, 1]), {"g": np.array(["a", "b"])}),
                                   OPTIONS)
    merged = first.merge(second)
    assert merged.cells == (("a",), ("b",), ("c",))
    np.testing.assert_array_equal(merged.counts, [[0, 0, 1, 0], [0, 0, 0, 2], [0, 1, 0, 0]])


# --- bootstrap --------------------------------------------------------------------------------------------------

def test_bootstrap_is_deterministic_per_seed() -> None:
    y, yhat, sensitive, weight = random_data(2000, seed=29)
    stats = FairnessStats.collect(make_batch(y, yhat, sensitive, weight), OPTIONS)

    def intervals(seed: int) -> str:
        return json.dumps(json_safe(stats.finalize(Options(bootstrap=300, seed=seed))["intervals"]))

    assert intervals(1) == intervals(1)
    assert intervals(1) != intervals(2)


def test_intervals_cover_every_disparity_and_group_metric_and_contain_the_estimate() -> None:
    rng = np.random.default_rng(31)
    n = 20000
    sensitive = {"sex": rng.choice(["F", "M"], n), "age": rng.choice(["young", "old"], n, p=[0.3, 0.7])}
    shift = (sensitive["sex"] == "F") * 0.15 + (sensitive["age"] == "young") * 0.1
    y = (rng.random(n) < 0.3 + shift).astype(int)
    yhat = np.where(rng.random(n) < 0.7 + shift, y, 1 - y)
    weight = rng.uniform(0.5, 2.0, n)
    result = section(y, yhat, sensitive, weight, options=Options(bootstrap=500, seed=3))
    intervals = result["intervals"]
    assert result["bootstrap"] == 500 and result["confidence"] == 0.95
    assert set(intervals) == set(DISPARITY_FUNCTIONS) | set(fx.CLASSIFICATION_METRICS)
    for name in DISPARITY_FUNCTIONS:
        low, high = intervals[name]["between_groups"]
        assert low <= result["disparities"][name]["between_groups"] <= high, name
    for group in result["groups"]:
        for name in fx.CLASSIFICATION_METRICS:
            low, high = intervals[name][group["label"]]
            assert low <= group[name] <= high, (name, group["label"])


def test_interval_width_shrinks_with_more_rows() -> None:
    def width(n: int) -> float:
        y, yhat, sensitive, weight = random_data(n, seed=37, features=1)
        low, high = section(y, yhat, sensitive, weight, options=Options(bootstrap=400))["intervals"]["tpr"]["F"]
        return high - low

    assert width(100_000) < width(10_000) / 2 < width(1_000) / 4


def test_no_intervals_without_resamples() -> None:
    y, yhat, sensitive, weight = random_data(500, seed=41)
    assert section(y, yhat, sensitive, weight, options=Options(bootstrap=0))["intervals"] == {}


def test_cell_resampling_keeps_the_row_count_and_scales_weighted_sums() -> None:
    counts = np.array([[5, 0, 3, 2], [10, 4, 0, 1]])
    sums = counts * np.array([[2.0, 1.0, 0.5, 1.0], [1.0, 3.0, 1.0, 2.0]])
    replicates = resample_sums(counts, sums, 1000, seed=0)
    assert replicates.shape == (1000, 2, 4)
    mean_weight = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
    draws = np.divide(replicates, mean_weight, out=np.zeros_like(replicates), where=mean_weight > 0)
    np.testing.assert_allclose(draws, np.round(draws), atol=1e-9)
    assert np.all(np.round(draws).sum(axis=(1, 2)) == counts.sum())
    assert np.all(replicates[:, 0, 1] == 0) and np.all(replicates[:, 1, 2] == 0)
    np.testing.assert_allclose(replicates.mean(axis=0), sums, rtol=0.05)


def test_percentile_interval_drops_undefined_replicates() -> None:
    replicates = np.array([[0.0, np.nan], [1.0, np.nan], [2.0, np.nan], [np.nan, np.nan], [4.0, np.nan]])
    low, high = percentile_interval(replicates, 0.5)
    np.testing.assert_allclose(low, [np.quantile([0, 1, 2, 4], 0.25), np.nan])
    np.testing.assert_allclose(high, [np.quantile([0, 1, 2, 4], 0.75), np.nan])
