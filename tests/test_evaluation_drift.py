"""Drift: sketches, statistics against SciPy, merging, compaction, windows, missing values and errors."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.spatial import distance

from aicoe.engines.evaluation import drift, drift_tests
from aicoe.engines.evaluation.drift import DriftStats, drift_section
from aicoe.engines.evaluation.errors import EvaluationError
from aicoe.engines.evaluation.result import json_safe
from aicoe.engines.evaluation.sketch import NumericSketch, bucket_keys
from aicoe.engines.evaluation.spec import Options

OPTIONS = Options()
TIGHT = {"rel": 1e-9, "abs": 1e-12}


def _stats(columns: dict[str, object], kinds: dict[str, str], options: Options = OPTIONS,
           timestamps: np.ndarray | None = None) -> DriftStats:
    return DriftStats.collect(pa.table(columns), kinds, options, timestamps)


def _section(ref: dict[str, object], cur: dict[str, object], kinds: dict[str, str],
             options: Options = OPTIONS, prediction: str | None = None) -> dict[str, object]:
    return drift_section(_stats(ref, kinds, options), _stats(cur, kinds, options), options, prediction)


def _feature(section: dict[str, object], name: str) -> dict[str, object]:
    return next(f for f in section["features"] if f["feature"] == name)  # type: ignore[union-attr,index]


# --- statistics vs SciPy -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "m"), [(300, 450), (400, 400), (9000, 10_000), (20_000, 15_000), (12_000, 40)])
def test_ks_equals_scipy_in_the_exact_and_asymptotic_regimes(n: int, m: int) -> None:
    rng = np.random.default_rng(n + m)
    ref, cur = np.round(rng.normal(0, 1, n), 2), np.round(rng.normal(0.05, 1.1, m), 2)   # ties included
    entry = _feature(_section({"x": ref}, {"x": cur}, {"x": "numeric"}), "x")
    expected = stats.ks_2samp(ref, cur, method="auto")
    assert entry["ks"] == pytest.approx(expected.statistic, **TIGHT)
    assert entry["ks_p_value"] == pytest.approx(expected.pvalue, **TIGHT)


def test_wasserstein_is_scipys_distance_divided_by_the_reference_standard_deviation() -> None:
    rng = np.random.default_rng(3)
    ref, cur = rng.lognormal(0, 1, 5000), np.round(rng.lognormal(0.2, 1, 3000), 1)
    entry = _feature(_section({"x": ref}, {"x": cur}, {"x": "numeric"}), "x")
    assert entry["wasserstein"] == pytest.approx(stats.wasserstein_distance(ref, cur) / np.std(ref), **TIGHT)
    assert entry["method"] == "wasserstein"
    assert entry["p_value"] is None and entry["threshold"] == 0.1
    assert entry["statistic"] == entry["wasserstein"]


def test_numeric_bins_are_reference_quantiles_and_js_psi_chi2_use_them() -> None:
    rng = np.random.default_rng(4)
    ref, cur = rng.normal(0, 1, 2000), rng.normal(0.3, 1, 1500)
    entry = _feature(_section({"x": ref}, {"x": cur}, {"x": "numeric"}), "x")
    interior = np.quantile(ref, np.arange(1, 10) / 10)
    edges = entry["histogram"]["edges"]  # type: ignore[index]
    np.testing.assert_allclose(edges[1:-1], interior, rtol=1e-9, atol=1e-12)
    assert edges[0] == min(ref.min(), cur.min()) and edges[-1] == max(ref.max(), cur.max())
    ref_bins = np.bincount(np.searchsorted(interior, ref, side="right"), minlength=10)
    cur_bins = np.bincount(np.searchsorted(interior, cur, side="right"), minlength=10)
    assert entry["histogram"]["reference"] == ref_bins.tolist()  # type: ignore[index]
    assert entry["histogram"]["current"] == cur_bins.tolist()  # type: ignore[index]
    assert entry["jensen_shannon"] == pytest.approx(distance.jensenshannon(ref_bins, cur_bins, base=2), **TIGHT)
    expected = stats.chi2_contingency(np.vstack([ref_bins, cur_bins]), correction=False)
    assert entry["chi2"] == pytest.approx(expected.statistic, **TIGHT)
    assert entry["chi2_p_value"] == pytest.approx(expected.pvalue, **TIGHT)
    p, q = ref_bins / ref_bins.sum(), cur_bins / cur_bins.sum()
    assert entry["psi"] == pytest.approx(float(np.sum((q - p) * np.log(q / p))), **TIGHT)


def test_psi_by_hand_with_an_empty_bin() -> None:
    # reference 50/30/20 %, current 40/60/0 %: the empty bin counts as 1e-4
    expected = ((0.4 - 0.5) * math.log(0.4 / 0.5) + (0.6 - 0.3) * math.log(0.6 / 0.3)
                + (1e-4 - 0.2) * math.log(1e-4 / 0.2))
    assert drift_tests.psi(np.array([50, 30, 20]), np.array([4, 6, 0])) == pytest.approx(expected, **TIGHT)
    assert drift_tests.psi(np.array([1, 1]), np.array([5, 5])) == 0.0


def test_categorical_chi2_is_the_two_sample_contingency_test_over_categories_of_either_side() -> None:
    ref = ["a"] * 40 + ["b"] * 35 + ["c"] * 25
    cur = ["a"] * 50 + ["b"] * 20 + ["d"] * 10
    entry = _feature(_section({"c": ref}, {"c": cur}, {"c": "categorical"}), "c")
    table = np.array([[40, 35, 25, 0], [50, 20, 0, 10]])
    expected = stats.chi2_contingency(table, correction=False)
    assert entry["chi2"] == pytest.approx(expected.statistic, **TIGHT)
    assert entry["chi2_p_value"] == pytest.approx(expected.pvalue, **TIGHT)
    assert entry["method"] == "chi2" and entry["p_value"] == entry["chi2_p_value"] and entry["drifted"] is True
    assert entry["jensen_shannon"] == pytest.approx(distance.jensenshannon(table[0], table[1], base=2), **TIGHT)
    assert entry["histogram"] == {"edges": None, "categories": ["a", "b", "c", "d"],
                                  "reference": [40, 35, 25, 0], "current": [50, 20, 0, 10]}
    assert math.isnan(entry["ks"]) and math.isnan(entry["wasserstein"])  # type: ignore[arg-type]


def test_large_categorical_references_are_decided_by_jensen_shannon() -> None:
    ref = ["a"] * 600 + ["b"] * 600
    cur = ["a"] * 700 + ["b"] * 500
    entry = _feature(_section({"c": ref}, {"c": cur}, {"c": "categorical"}), "c")
    assert entry["method"] == "jensen_shannon" and entry["p_value"] is None
    assert entry["statistic"] == pytest.approx(distance.jensenshannon([600, 600], [700, 500], base=2), **TIGHT)
    assert entry["drifted"] is False   # 0.059 < 0.1, although chi-square on 2400 rows calls it significant
    assert entry["chi2_p_value"] < 0.05  # type: ignore[operator]


def test_binary_valued_numeric_columns_are_compared_as_categories() -> None:
    ref, cur = np.array([0, 1] * 50), np.array([0] * 70 + [1] * 30)
    entry = _feature(_section({"b": ref}, {"b": cur}, {"b": "numeric"}), "b")
    assert entry["kind"] == "categorical" and entry["method"] == "chi2"
    assert entry["histogram"]["categories"] == ["0", "1"]  # type: ignore[index]
    expected = stats.chi2_contingency(np.array([[50, 50], [70, 30]]), correction=False)
    assert entry["chi2_p_value"] == pytest.approx(expected.pvalue, **TIGHT)
    assert entry["ks"] == pytest.approx(stats.ks_2samp(ref, cur).statistic, **TIGHT)


def test_a_constant_numeric_reference_has_no_normalised_wasserstein_and_ks_decides() -> None:
    ref, cur = np.full(2000, 5.0), np.linspace(4, 6, 2000)
    section = _section({"x": ref}, {"x": cur}, {"x": "numeric"})
    entry = _feature(section, "x")
    assert math.isnan(entry["wasserstein"]) and entry["method"] == "ks"  # type: ignore[arg-type]
    assert section["undefined"] == {
        "x.wasserstein": "the reference is constant (standard deviation 0): nothing to normalise by"}
    assert entry["drifted"] is True


# --- section shape, dataset drift, missing values -----------------------------------------------------------------


def test_dataset_drift_share_and_the_prediction_reported_apart() -> None:
    rng = np.random.default_rng(5)
    ref = {"a": rng.normal(0, 1, 500), "b": rng.normal(0, 1, 500), "c": rng.normal(0, 1, 500),
           "yhat": rng.normal(0, 1, 500)}
    cur = {"a": rng.normal(2, 1, 500), "b": rng.normal(0, 1, 500), "c": rng.normal(0, 1, 500),
           "yhat": rng.normal(3, 1, 500)}
    kinds = dict.fromkeys(ref, "numeric")
    section = _section(ref, cur, kinds, prediction="yhat")
    assert [f["feature"] for f in section["features"]] == ["a", "b", "c"]  # type: ignore[union-attr]
    assert section["prediction"]["feature"] == "yhat" and section["prediction"]["drifted"] is True  # type: ignore[index]
    assert section["drift_share"] == pytest.approx(1 / 3) and section["dataset_drift"] is False
    assert section["share_threshold"] == 0.5 and section["windows"] == []
    assert section["reference_rows"] == 500 and section["current_rows"] == 500


def test_missing_values_are_counted_apart_and_an_all_missing_side_is_undefined() -> None:
    ref = {"x": [1.0, 2.0, float("nan"), 3.0, None], "c": ["a", None, "b", "a", "b"]}
    cur = {"x": [None, None, float("nan"), float("inf"), None], "c": [None] * 5}
    section = _section(ref, cur, {"x": "numeric", "c": "categorical"})
    x, c = _feature(section, "x"), _feature(section, "c")
    assert (x["reference_missing"], x["current_missing"], c["reference_missing"], c["current_missing"]) == (2, 5, 1, 5)
    assert x["drifted"] is False and c["drifted"] is False
    reason = "no non-missing values in the current data"
    assert section["undefined"]["x.statistic"] == reason and section["undefined"]["c.chi2_p_value"] == reason  # type: ignore[index]
    assert section["undefined"]["x.p_value"] == reason  # type: ignore[index]
    assert section["drift_share"] == 0.0
    safe = json_safe(section)
    assert safe["features"][0]["statistic"] is None and safe["features"][0]["histogram"]["edges"] is None


# --- merging and compaction ----------------------------------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(st.data())
def test_merging_random_partitions_equals_the_whole(data: st.DataObject) -> None:
    size = data.draw(st.integers(1, 120))
    floats = st.one_of(st.floats(-1e6, 1e6, allow_nan=False), st.just(float("nan")), st.sampled_from([0.0, 1.5]))
    x = np.array(data.draw(st.lists(floats, min_size=size, max_size=size)))
    c = data.draw(st.lists(st.one_of(st.none(), st.sampled_from("abcde")), min_size=size, max_size=size))
    cuts = sorted(data.draw(st.lists(st.integers(0, size), max_size=4)))
    limit = data.draw(st.sampled_from([3, 1_000_000]))
    options = Options(exact_distinct_limit=limit)
    kinds = {"x": "numeric", "c": "categorical"}
    whole = _stats({"x": x, "c": c}, kinds, options)
    parts = [_stats({"x": x[a:b], "c": c[a:b]}, kinds, options) for a, b in zip([0, *cuts], [*cuts, size], strict=True)]
    merged = parts[0]
    for part in parts[1:]:
        merged = merged.merge(part)
    assert merged.sketches["c"] == whole.sketches["c"] and merged.rows == whole.rows
    sx, wx = merged.sketches["x"], whole.sketches["x"]
    assert np.array_equal(sx.values, wx.values) and np.array_equal(sx.counts, wx.counts)  # type: ignore[union-attr]
    assert sx.missing == wx.missing and sx.approximate == wx.approximate  # type: ignore[union-attr]
    reference = _stats({"x": np.linspace(-5, 5, 50), "c": list("abcde") * 10}, kinds, options)
    assert json_safe(drift_section(reference, merged, options)) == json_safe(drift_section(reference, whole, options))


def test_compaction_past_the_limit_is_deterministic_mergeable_and_flagged_approximate() -> None:
    rng = np.random.default_rng(6)
    values = rng.normal(0, 100, 5000)
    whole = NumericSketch.of(values, limit=1000)
    assert whole.approximate and whole.count == 5000 and whole.values.size == whole.keys.size  # type: ignore[union-attr]
    a, b = NumericSketch.of(values[:800], 1000), NumericSketch.of(values[800:], 1000)
    assert not a.approximate and b.approximate
    for merged in (a.merge(b), b.merge(a)):
        assert np.array_equal(merged.keys, whole.keys) and np.array_equal(merged.counts, whole.counts)  # type: ignore[arg-type]
        assert np.array_equal(merged.values, whole.values)
    assert np.array_equal(NumericSketch.of(values, 1000).values, whole.values)
    # every value is within the relative accuracy of its bucket's representative
    representative = whole.values[np.searchsorted(whole.keys, bucket_keys(values))]  # type: ignore[arg-type]
    assert np.all(np.abs(representative - values) <= 1e-4 * np.abs(values) + 1e-300)
    section = drift_section(DriftStats(5000, {"x": "numeric"}, {"x": whole}),
                            DriftStats(5000, {"x": "numeric"}, {"x": NumericSketch.of(values, 1000)}), OPTIONS)
    assert section["features"][0]["approximate"] is True and section["features"][0]["ks"] == 0.0  # type: ignore[index]


def test_exact_sketches_round_trip_through_pickle() -> None:
    stats_ = _stats({"x": [1.0, 2.0, 2.0, None], "c": ["a", "b", None, "a"]}, {"x": "numeric", "c": "categorical"})
    back = pickle.loads(pickle.dumps(stats_))
    assert back.sketches["c"].counts == {"a": 2, "b": 1} and back.sketches["c"].missing == 1  # type: ignore[union-attr]
    assert back.sketches["x"].values.tolist() == [1.0, 2.0] and back.sketches["x"].counts.tolist() == [1, 2]  # type: ignore[union-attr]


def test_categorical_histograms_keep_the_top_twenty_and_gather_the_rest() -> None:
    ref = [f"k{i:02d}" for i in range(25) for _ in range(i + 1)]
    entry = _feature(_section({"c": ref}, {"c": ref}, {"c": "categorical"}), "c")
    histogram = entry["histogram"]
    assert histogram["categories"] == [f"k{i:02d}" for i in range(5, 25)] + ["(other)"]  # type: ignore[index]
    assert histogram["reference"][-1] == 1 + 2 + 3 + 4 + 5 and sum(histogram["reference"]) == len(ref)  # type: ignore[index]


# --- windows --------------------------------------------------------------------------------------------------------


def _times(*stamps: str) -> np.ndarray:
    return np.array(stamps, dtype="datetime64[us]")


def test_daily_windows_compare_each_day_with_the_whole_reference_and_merge_across_partitions() -> None:
    options = Options(drift_window="1D")
    ref = _stats({"x": np.arange(100.0)}, {"x": "numeric"}, options)
    stamps = _times("2024-03-01T05:00", "2024-03-01T23:59", "2024-03-03T00:00", "NaT", "2024-03-03T10:00")
    values = np.array([1.0, 2.0, 80.0, 3.0, 90.0])
    kinds = {"x": "numeric"}
    first = _stats({"x": values[:3]}, kinds, options, stamps[:3])
    second = _stats({"x": values[3:]}, kinds, options, stamps[3:])
    section = drift_section(ref, first.merge(second), options)
    windows = section["windows"]
    assert [(w["start"], w["end"], w["rows"]) for w in windows] == [  # type: ignore[union-attr]
        ("2024-03-01T00:00:00+00:00", "2024-03-02T00:00:00+00:00", 2),
        ("2024-03-03T00:00:00+00:00", "2024-03-04T00:00:00+00:00", 2)]
    day = windows[0]["features"]["x"]  # type: ignore[index]
    assert set(day) == {"method", "statistic", "p_value", "drifted", "psi"}
    assert day["statistic"] == pytest.approx(stats.ks_2samp(np.arange(100.0), [1.0, 2.0]).statistic, **TIGHT)
    assert windows[0]["drift_share"] == windows[0]["features"]["x"]["drifted"]  # type: ignore[index]
    assert section["current_rows"] == 5


def test_calendar_month_and_hour_windows() -> None:
    stamps = _times("2024-01-31T23:00", "2024-02-29T12:00", "2024-03-01T00:00", "2024-12-15T00:00")
    starts = drift.window_starts(stamps, "1M")
    assert [drift.window_bounds(int(s), "1M") for s in starts] == [
        ["2024-01-01T00:00:00+00:00", "2024-02-01T00:00:00+00:00"],
        ["2024-02-01T00:00:00+00:00", "2024-03-01T00:00:00+00:00"],
        ["2024-03-01T00:00:00+00:00", "2024-04-01T00:00:00+00:00"],
        ["2024-12-01T00:00:00+00:00", "2025-01-01T00:00:00+00:00"]]
    assert drift.window_bounds(int(drift.window_starts(stamps, "3M")[3]), "3M") == [
        "2024-10-01T00:00:00+00:00", "2025-01-01T00:00:00+00:00"]
    assert drift.window_bounds(int(drift.window_starts(stamps, "6h")[1]), "6h") == [
        "2024-02-29T12:00:00+00:00", "2024-02-29T18:00:00+00:00"]


@pytest.mark.parametrize("window", ["1d", "0D", "D", "1W", "1.5h", ""])
def test_an_unknown_window_is_refused(window: str) -> None:
    with pytest.raises(EvaluationError) as caught:
        _stats({"x": [1.0]}, {"x": "numeric"}, Options(drift_window=window), _times("2024-01-01"))
    assert str(caught.value) == (
        f"drift window {window!r} is not understood: use a positive count and a unit, h (hours), D (days) or M "
        "(calendar months), e.g. '1h', '7D', '1M'")


# --- errors --------------------------------------------------------------------------------------------------------


def test_collect_errors_name_the_column() -> None:
    table = {"x": [1.0, 2.0], "s": ["a", "b"]}
    cases = [
        ({"y": "numeric"}, None, "drift feature 'y' is not in the table (columns: x, s)"),
        ({"x": "ordinal"}, None, "drift feature 'x' has kind 'ordinal': expected 'numeric' or 'categorical'"),
        ({"s": "numeric"}, None, "drift feature 's' is declared numeric but its type is string"),
        ({"x": "numeric"}, _times("2024-01-01"), "drift timestamps have 1 values for a table of 2 rows"),
    ]
    for kinds, stamps, message in cases:
        with pytest.raises(EvaluationError) as caught:
            _stats(table, kinds, Options(drift_window="1D"), stamps)
        assert str(caught.value) == message


def test_section_errors_for_mismatched_features() -> None:
    num, cat = _stats({"x": [1.0]}, {"x": "numeric"}), _stats({"x": ["a"]}, {"x": "categorical"})
    other = _stats({"y": [1.0]}, {"y": "numeric"})
    both = _stats({"x": [1.0], "y": [2.0]}, {"x": "numeric", "y": "numeric"})
    cases = [
        (num, cat, None, "drift feature 'x' is numeric in the reference but categorical in the current data"),
        (num, other, None, "drift feature 'x' is in the reference but not in the current data"),
        (num, both, None, "drift feature 'y' is in the current data but not in the reference"),
        (num, num, "yhat", "drift prediction column 'yhat' is not among the drift features"),
    ]
    for ref, cur, prediction, message in cases:
        with pytest.raises(EvaluationError) as caught:
            drift_section(ref, cur, OPTIONS, prediction)
        assert str(caught.value) == message


def test_approximate_statistics_stay_close_to_the_exact_ones() -> None:
    rng = np.random.default_rng(7)
    ref, cur = rng.normal(10, 2, 20_000), rng.normal(10.5, 2, 20_000)
    coarse = Options(exact_distinct_limit=500)
    approx = _feature(_section({"x": ref}, {"x": cur}, {"x": "numeric"}, coarse), "x")
    exact = _feature(_section({"x": ref}, {"x": cur}, {"x": "numeric"}), "x")
    assert approx["approximate"] is True and exact["approximate"] is False
    assert approx["wasserstein"] == pytest.approx(exact["wasserstein"], rel=1e-3)
    assert approx["ks"] == pytest.approx(exact["ks"], abs=2e-3)


def test_dictionary_and_boolean_columns_are_counted_as_categories() -> None:
    column = pa.chunked_array([pa.array(["a", "b", None, "a"]).dictionary_encode(),
                               pa.array(["c"]).dictionary_encode()])
    stats_ = DriftStats.collect(pa.table({"d": column, "f": [True, False, None, True, True]}),
                                {"d": "categorical", "f": "categorical"}, OPTIONS)
    assert stats_.sketches["d"].counts == {"a": 2, "b": 1, "c": 1} and stats_.sketches["d"].missing == 1  # type: ignore[union-attr]
    assert stats_.sketches["f"].counts == {"true": 3, "false": 1} and stats_.sketches["f"].missing == 1  # type: ignore[union-attr]


def test_dictionary_encoded_numbers_are_decoded_for_numeric_sketches() -> None:
    stats_ = DriftStats.collect(pa.table({"d": pa.array([1, 2, None, 2]).dictionary_encode()}), {"d": "numeric"},
                                OPTIONS)
    sketch = stats_.sketches["d"]
    assert sketch.values.tolist() == [1.0, 2.0] and sketch.counts.tolist() == [1, 2] and sketch.missing == 1  # type: ignore[union-attr]
