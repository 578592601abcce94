"""Evaluation policies: both syntaxes, every load-time error exactly, and checks over hand-made result dicts
(every scope, undefined values, small groups, missing sections)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aicoe.engines.evaluation import policy as pol
from aicoe.engines.evaluation.errors import EvaluationError
from aicoe.engines.evaluation.policy import Check, load_policy, load_template, templates


def _group(sex: str, race: str | None, count: int, small: bool, **metrics: float | None) -> dict[str, Any]:
    features = {"sex": sex} if race is None else {"sex": sex, "race": race}
    undefined = {k: "no positive labels in the group" for k, v in metrics.items() if v is None}
    return {"group": features, "label": ", ".join(features.values()), "count": count, "weight": float(count),
            "small": small, **metrics, "undefined": undefined}


def sample_result() -> dict[str, Any]:
    """A binary result with a segment, two sensitive features and drift, shaped as ``EvaluationResult.to_dict``."""
    groups = [
        _group("F", "A", 400, False, selection_rate=0.30, tpr=0.70, fpr=0.10, accuracy=0.86),
        _group("F", "B", 20, True, selection_rate=0.10, tpr=None, fpr=0.05, accuracy=0.60),
        _group("M", "A", 500, False, selection_rate=0.50, tpr=0.90, fpr=0.20, accuracy=0.88),
        _group("M", "B", 150, False, selection_rate=0.45, tpr=0.80, fpr=0.25, accuracy=0.84),
    ]
    return {
        "schema": "aicoe.evaluation/1", "task": "binary", "rows": 1070, "weighted": False,
        "fingerprint": "ab" * 32, "options": {"min_group_size": 30}, "engine": "local", "elapsed_s": 0.01,
        "performance": {
            "task": "binary",
            "overall": {"count": 1070, "weight": 1070.0, "accuracy": 0.86, "roc_auc": 0.91, "f1": 0.7,
                        "precision": 0.66, "log_loss": None, "undefined": {"log_loss": "a score of exactly 0"}},
            "by_segment": {
                "web": {"count": 1000, "weight": 1000.0, "accuracy": 0.87, "roc_auc": 0.92, "f1": 0.71,
                        "precision": 0.67, "log_loss": 0.3, "undefined": {}},
                "branch": {"count": 50, "weight": 50.0, "accuracy": 0.70, "roc_auc": None, "f1": 0.5,
                           "precision": 0.5, "log_loss": 0.4, "undefined": {"roc_auc": "a single class"}},
                "phone": {"count": 20, "weight": 20.0, "accuracy": 0.40, "roc_auc": 0.5, "f1": 0.2,
                          "precision": 0.2, "log_loss": 0.9, "undefined": {}},
            },
            "confusion_matrix": {"labels": ["0", "1"], "counts": [[600, 100], [50, 320]],
                                 "weights": [[600.0, 100.0], [50.0, 320.0]]},
            "calibration": [], "per_class": {},
        },
        "fairness": {
            "features": ["sex", "race"], "min_group_size": 30,
            "overall": {"count": 1070, "weight": 1070.0, "selection_rate": 0.42, "tpr": 0.82, "fpr": 0.18,
                        "accuracy": 0.86, "undefined": {}},
            "groups": groups,
            "by_feature": {
                "sex": [_group("F", None, 420, False, selection_rate=0.29, tpr=0.69, fpr=0.10, accuracy=0.85),
                        _group("M", None, 650, False, selection_rate=0.49, tpr=0.88, fpr=0.21, accuracy=0.87)],
                "race": [],
            },
            "disparities": {
                "demographic_parity_difference": {"between_groups": 0.40, "to_overall": 0.32},
                "demographic_parity_ratio": {"between_groups": 0.20, "to_overall": 0.85},
                "equalized_odds_difference": {"between_groups": None, "to_overall": 0.2},
            },
            "disparities_by_feature": {
                "sex": {"demographic_parity_difference": {"between_groups": 0.2, "to_overall": 0.13},
                        "equalized_odds_ratio": {"between_groups": None, "to_overall": None}},
            },
            "four_fifths": {"ratio": 0.20, "passes": False, "lowest_group": "F, B", "highest_group": "M, A"},
            "intervals": {}, "confidence": 0.95, "bootstrap": 0,
            "undefined": {"equalized_odds_difference": "TPR undefined in group F, B",
                          "equalized_odds_ratio[sex]": "FPR is 0 in every group"},
        },
        "drift": {
            "reference_rows": 1000, "current_rows": 1070, "drift_share": 0.5, "dataset_drift": True,
            "share_threshold": 0.5,
            "features": [
                {"feature": "age", "kind": "numeric", "method": "ks", "statistic": 0.05, "p_value": 0.2,
                 "threshold": 0.05, "drifted": False, "psi": 0.05, "ks": 0.05, "ks_p_value": 0.2},
                {"feature": "income", "kind": "numeric", "method": "ks", "statistic": 0.3, "p_value": 0.001,
                 "threshold": 0.05, "drifted": True, "psi": 0.35, "ks": 0.3, "ks_p_value": 0.001},
                {"feature": "region", "kind": "categorical", "method": "chi2", "statistic": None,
                 "p_value": None, "threshold": 0.05, "drifted": False, "psi": None, "chi2_p_value": None},
            ],
            "prediction": {"feature": "yhat", "kind": "categorical", "method": "chi2", "statistic": 1.0,
                           "p_value": 0.3, "threshold": 0.05, "drifted": False, "psi": 0.01},
            "windows": [], "undefined": {"region.psi": "all values missing in the current data",
                                        "region.statistic": "all values missing in the current data"},
        },
        "checks": [], "passed": None, "warnings": [],
    }


def run(*checks: Any, result: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return load_policy({"name": "t", "checks": list(checks)}).check(result or sample_result())


def one(check: Any, result: dict[str, Any] | None = None) -> dict[str, Any]:
    return run(check, result=result)[0]


# --- loading ----------------------------------------------------------------------------------------------------

POLICY_YAML = """
name: Credit decisioning fairness
checks:
  - metric: equalized_odds_difference      # between_groups by default
    "<=": 0.1
  - metric: demographic_parity_ratio
    method: to_overall
    ">=": 0.8
  - metric: accuracy
    ">=": 0.85
    scope: every_group
    min_group_size: 100
  - "roc_auc >= 0.75"
  - "accuracy >= 0.85 in every group of size >= 100"
  - "psi <= 0.2 for every feature"
  - "drift_share < 0.3"
"""


def test_both_forms_load_to_the_same_checks() -> None:
    policy = load_policy(POLICY_YAML)
    assert policy.name == "Credit decisioning fairness"
    assert policy.checks == (
        Check("equalized_odds_difference", "equalized_odds_difference", "<=", 0.1),
        Check("demographic_parity_ratio", "demographic_parity_ratio", ">=", 0.8, method="to_overall"),
        Check("accuracy", "accuracy", ">=", 0.85, "every_group", 100),
        Check("roc_auc", "roc_auc", ">=", 0.75),
        Check("accuracy-2", "accuracy", ">=", 0.85, "every_group", 100),
        Check("psi", "psi", "<=", 0.2, "every_feature"),
        Check("drift_share", "drift_share", "<", 0.3),
    )
    assert [c.expression for c in policy.checks] == [
        "equalized_odds_difference <= 0.1", "demographic_parity_ratio (to_overall) >= 0.8",
        "accuracy >= 0.85 in every group of size >= 100", "roc_auc >= 0.75",
        "accuracy >= 0.85 in every group of size >= 100", "psi <= 0.2 for every feature", "drift_share < 0.3"]


def test_load_from_a_path_and_a_dict_and_a_string_is_always_text(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY_YAML, encoding="utf-8")
    expected = load_policy(POLICY_YAML)
    assert load_policy(path) == expected
    with pytest.raises(EvaluationError):  # a file name given as text is read as (invalid) YAML, never opened
        load_policy(str(path))
    assert load_policy(expected) is expected
    assert load_policy({"checks": ["f1 > 0.5"]}) == pol.Policy("Evaluation policy", (Check("f1", "f1", ">", 0.5),))


def test_dict_form_with_comparator_and_threshold_keys_ids_and_features() -> None:
    policy = load_policy({"checks": [
        {"id": "sr", "metric": "selection_rate", "comparator": ">=", "threshold": "1e-3", "scope": "every_group",
         "feature": "sex", "description": "everyone gets loans"},
        {"metric": "psi", "feature": "age", "<": 0.25},
        {"metric": "demographic_parity_difference", "feature": "sex", "<=": 1},
        "selection_rate >= 0.2 in every group of Sex of size >= 10",
        "psi < 0.1 for feature Income",
        "dataset_drift == 0 overall",
    ]})
    assert policy.checks == (
        Check("sr", "selection_rate", ">=", 0.001, "every_group", feature="sex", description="everyone gets loans"),
        Check("psi", "psi", "<", 0.25, "every_feature", feature="age"),
        Check("demographic_parity_difference", "demographic_parity_difference", "<=", 1.0, feature="sex"),
        Check("selection_rate", "selection_rate", ">=", 0.2, "every_group", 10, feature="Sex"),
        Check("psi-2", "psi", "<", 0.1, "every_feature", feature="Income"),
        Check("dataset_drift", "dataset_drift", "==", 0.0),
    )


COMPARATOR = st.sampled_from(sorted(pol.COMPARATORS))
THRESHOLD = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
FEATURE = st.from_regex(r"[A-Za-z][A-Za-z0-9_.-]{0,12}", fullmatch=True).filter(lambda s: s.lower() != "size")


@st.composite
def checks(draw: st.DrawFn) -> Check:
    metric = draw(st.sampled_from(sorted(pol.METRICS)))
    info = pol.METRICS[metric]
    scope = draw(st.sampled_from(info.scopes))
    method = draw(st.sampled_from((None, *info.methods)))
    fits = info.takes_feature and (scope != "overall" or metric in pol.DISPARITIES) and scope != "every_segment"
    feature = draw(st.one_of(st.none(), FEATURE)) if fits else None
    sized = scope in ("every_group", "every_segment")
    size = draw(st.one_of(st.none(), st.integers(0, 10_000))) if sized else None
    return Check(metric, metric, draw(COMPARATOR), draw(THRESHOLD), scope, size, feature, method)


@settings(max_examples=50, deadline=None)
@given(st.lists(checks(), min_size=1, max_size=6))
def test_generated_expressions_parse_back_to_the_same_checks(generated: list[Check]) -> None:
    text_policy = load_policy({"checks": [c.expression for c in generated]})
    dict_policy = load_policy({"checks": [{k: v for k, v in c.to_dict().items() if k not in ("id", "description")
                                           and v is not None} for c in generated]})
    for parsed in (text_policy.checks, dict_policy.checks):
        assert [(c.metric, c.comparator, c.threshold, c.scope, c.min_group_size, c.feature, c.method)
                for c in parsed] == [(c.metric, c.comparator, c.threshold, c.scope, c.min_group_size, c.feature,
                                      c.method) for c in generated]
    assert len({c.id for c in text_policy.checks}) == len(generated)


KNOWN = ", ".join(pol.METRICS)


@pytest.mark.parametrize(("source", "message"), [
    ("name: x\nchecks:\n  - metric: [1\n", "policy is not valid YAML (line 4, column 1): expected ',' or ']', "
                                           "but got '<stream end>'"),
    ("checks: [a: 1]: 2", "policy is not valid YAML (line 1, column 15): mapping values are not allowed here"),
    ("- accuracy > 0.5", "a policy is a mapping with a 'checks' list, got list"),
    ("", "a policy is a mapping with a 'checks' list, got nothing"),
    ({"name": "p", "rules": []}, "policy has unknown key(s) rules; allowed: name, description, checks"),
    ({"name": "p"}, "policy 'p' has no checks"),
    ({"name": "p", "checks": []}, "policy 'p' has no checks"),
    ({"checks": "accuracy > 1"}, "the policy's 'checks' must be a list, got str"),
    ({"checks": [3]}, "check 1: expected a mapping or an expression string, got int"),
    ({"checks": ["accuracy > 0.5", "accuracy is good"]},
     "check 2: cannot read 'accuracy is good'; write e.g. 'accuracy >= 0.85 in every group of size >= 100'"),
    ({"checks": ["accuracy > 0.5 in every group of size >= many"]},
     "check 1: cannot read 'accuracy > 0.5 in every group of size >= many'; write e.g. "
     "'accuracy >= 0.85 in every group of size >= 100'"),
    ({"checks": ["acuracy >= 0.8"]}, f"check 1: unknown metric 'acuracy'; known metrics: {KNOWN}"),
    ({"checks": [{"metric": "auc", ">": 0.5}]}, f"check 1: unknown metric 'auc'; known metrics: {KNOWN}"),
    ({"checks": [{">": 0.5}]}, "check 1: no 'metric'"),
    ({"checks": ["accuracy => 0.8"]}, "check 1: unknown comparator '=>'; use one of <, <=, >, >=, =="),
    ({"checks": [{"metric": "f1", "comparator": "!=", "threshold": 1}]},
     "check 1: unknown comparator '!='; use one of <, <=, >, >=, =="),
    ({"checks": [{"metric": "f1"}]}, "check 1: 'f1' needs exactly one comparator with a threshold, found 0"),
    ({"checks": [{"metric": "f1", ">": 0.1, "<": 0.9}]},
     "check 1: 'f1' needs exactly one comparator with a threshold, found 2"),
    ({"checks": [{"metric": "f1", "=>": 0.1}]},
     "check 1: unknown key(s) =>; allowed: id, description, metric, method, scope, feature, min_group_size, "
     "comparator, threshold, <, <=, >, >=, =="),
    ({"checks": ["f1 > high"]}, "check 1: threshold 'high' for 'f1' is not a finite number"),
    ({"checks": [{"metric": "f1", ">": True}]}, "check 1: threshold True for 'f1' is not a finite number"),
    ({"checks": [{"metric": "f1", ">": float("nan")}]}, "check 1: threshold nan for 'f1' is not a finite number"),
    ({"checks": [{"metric": "f1", ">": None}]}, "check 1: threshold None for 'f1' is not a finite number"),
    ({"checks": [{"metric": "f1", ">": 0.5, "scope": "every_class"}]},
     "check 1: unknown scope 'every_class'; use one of overall, every_group, every_segment, every_feature"),
    ({"checks": ["roc_auc > 0.5 in every group"]},
     "check 1: scope 'every_group' does not fit metric 'roc_auc'; allowed: overall, every_segment"),
    ({"checks": ["psi < 0.2 overall"]}, "check 1: scope 'overall' does not fit metric 'psi'; allowed: every_feature"),
    ({"checks": ["tpr > 0.5 for every feature"]},
     "check 1: scope 'every_feature' does not fit metric 'tpr'; allowed: overall, every_group"),
    ({"checks": ["equalized_odds_ratio (within) > 0.5"]},
     "check 1: method 'within' does not fit metric 'equalized_odds_ratio'; allowed: between_groups, to_overall"),
    ({"checks": ["accuracy (to_overall) > 0.5"]},
     "check 1: method 'to_overall' does not fit metric 'accuracy'; allowed: none"),
    ({"checks": ["roc_auc > 0.5 for feature sex"]},
     "check 1: 'feature' does not fit 'roc_auc' with scope 'overall'; it selects a sensitive feature's groups "
     "(every_group), its disparities, or one drifted feature"),
    ({"checks": [{"metric": "tpr", ">": 0.5, "feature": "sex"}]},
     "check 1: 'feature' does not fit 'tpr' with scope 'overall'; it selects a sensitive feature's groups "
     "(every_group), its disparities, or one drifted feature"),
    ({"checks": [{"metric": "accuracy", ">": 0.5, "scope": "every_group", "min_group_size": -1}]},
     "check 1: min_group_size must be a non-negative integer, got -1"),
    ({"checks": [{"metric": "accuracy", ">": 0.5, "scope": "every_group", "min_group_size": "100"}]},
     "check 1: min_group_size must be a non-negative integer, got '100'"),
    ({"checks": [{"metric": "accuracy", ">": 0.5, "min_group_size": 10}]},
     "check 1: min_group_size applies to scopes every_group and every_segment, not 'overall'"),
    ({"checks": [{"metric": "accuracy", ">": 0.5, "id": ["a"]}]}, "check 1: 'id' must be a non-empty string, "
                                                                  "got ['a']"),
    ({"checks": [{"metric": "f1", ">": 0.5, "id": "x"}, {"metric": "f1", "<": 0.9, "id": "x"}]},
     "check 2: id 'x' is already used by another check"),
])
def test_each_load_error_exactly(source: str | dict[str, Any], message: str) -> None:
    with pytest.raises(EvaluationError) as info:
        load_policy(source)
    assert str(info.value) == message


def test_missing_policy_file_and_unknown_template(tmp_path: Path) -> None:
    with pytest.raises(EvaluationError) as info:
        load_policy(tmp_path / "nope.yaml")
    assert str(info.value) == f"policy file {tmp_path / 'nope.yaml'} does not exist"
    with pytest.raises(EvaluationError) as info:
        load_template("strict")
    assert str(info.value) == ("unknown policy template 'strict'; built-in templates: credit-decisioning, "
                               "drift-monitoring, fairness-baseline")


def test_every_template_loads() -> None:
    assert sorted(templates()) == ["credit-decisioning", "drift-monitoring", "fairness-baseline"]
    for name, text in templates().items():
        assert load_template(name) == load_policy(text)
        assert load_template(name).checks
    assert [c.id for c in load_template("fairness-baseline").checks] == [
        "four-fifths", "demographic-parity", "equalized-odds", "equal-opportunity"]


# --- checking ---------------------------------------------------------------------------------------------------

def test_overall_checks_pass_and_fail_with_values() -> None:
    assert run("accuracy >= 0.85", "roc_auc > 0.95", "drift_share < 0.3", "dataset_drift == 1",
               "four_fifths_ratio >= 0.8", "selection_rate >= 0.4") == [
        {"id": "accuracy", "description": "accuracy >= 0.85", "metric": "accuracy", "comparator": ">=",
         "threshold": 0.85, "scope": "overall", "feature": None, "method": None, "value": 0.86, "passed": True,
         "failing": [], "reason": None},
        {"id": "roc_auc", "description": "roc_auc > 0.95", "metric": "roc_auc", "comparator": ">",
         "threshold": 0.95, "scope": "overall", "feature": None, "method": None, "value": 0.91, "passed": False,
         "failing": [], "reason": None},
        {"id": "drift_share", "description": "drift_share < 0.3", "metric": "drift_share", "comparator": "<",
         "threshold": 0.3, "scope": "overall", "feature": None, "method": None, "value": 0.5, "passed": False,
         "failing": [], "reason": None},
        {"id": "dataset_drift", "description": "dataset_drift == 1.0", "metric": "dataset_drift",
         "comparator": "==", "threshold": 1.0, "scope": "overall", "feature": None, "method": None, "value": 1.0,
         "passed": True, "failing": [], "reason": None},
        {"id": "four_fifths_ratio", "description": "four_fifths_ratio >= 0.8", "metric": "four_fifths_ratio",
         "comparator": ">=", "threshold": 0.8, "scope": "overall", "feature": None, "method": None, "value": 0.2,
         "passed": False, "failing": [], "reason": None},
        {"id": "selection_rate", "description": "selection_rate >= 0.4", "metric": "selection_rate",
         "comparator": ">=", "threshold": 0.4, "scope": "overall", "feature": None, "method": None,
         "value": 0.42, "passed": True, "failing": [], "reason": None},
    ]


def test_disparities_by_method_and_feature_and_undefined() -> None:
    checks = run("demographic_parity_ratio >= 0.8", "demographic_parity_ratio (to_overall) >= 0.8",
                 {"metric": "demographic_parity_difference", "feature": "sex", "<=": 0.25},
                 "equalized_odds_difference <= 0.1", "equal_opportunity_difference <= 0.1",
                 "demographic_parity_difference <= 0.1 for feature region",
                 "equalized_odds_ratio (to_overall) >= 0.8 for feature sex")
    assert [(c["value"], c["passed"], c["reason"]) for c in checks] == [
        (0.2, False, None), (0.85, True, None), (0.2, True, None),
        (None, False, "value undefined: TPR undefined in group F, B"),
        (None, False, "metric 'equal_opportunity_difference' is not in the result's fairness disparities "
                      "(task binary)"),
        (None, False, "the result has no feature 'region' in fairness disparities_by_feature"),
        (None, False, "value undefined: FPR is 0 in every group"),
    ]


def test_every_group_skips_small_groups_and_lists_failing_ones() -> None:
    check = one("accuracy >= 0.85 in every group")
    assert check == {
        "id": "accuracy", "description": "accuracy >= 0.85 in every group (skipped 1 small group(s): F, B)",
        "metric": "accuracy", "comparator": ">=", "threshold": 0.85, "scope": "every_group", "feature": None,
        "method": None, "value": 0.84, "passed": False, "failing": [{"group": "M, B", "value": 0.84}],
        "reason": None}
    sized = one("accuracy >= 0.85 in every group of size >= 400")
    assert (sized["passed"], sized["value"], sized["failing"]) == (True, 0.86, [])
    assert sized["description"] == ("accuracy >= 0.85 in every group of size >= 400 "
                                    "(skipped 2 small group(s): F, B, M, B)")
    every = one("accuracy >= 0.5 in every group of size >= 0")
    assert (every["passed"], every["value"]) == (True, 0.6)


def test_every_group_with_an_undefined_value_fails_with_the_reason() -> None:
    check = one("tpr >= 0.5 in every group of size >= 10")
    assert check["passed"] is False
    assert check["value"] == 0.7
    assert check["failing"] == [{"group": "F, B", "value": None}]
    assert check["reason"] == "value undefined: F, B: no positive labels in the group"


def test_every_group_of_one_feature_and_when_nothing_is_large_enough() -> None:
    check = one("selection_rate >= 0.3 in every group of sex")
    assert (check["passed"], check["value"], check["failing"]) == (False, 0.29, [{"group": "F", "value": 0.29}])
    none_left = one("accuracy >= 0.5 in every group of size >= 1000")
    assert (none_left["passed"], none_left["value"], none_left["reason"]) == (
        False, None, "no group of size >= 1000 to check (4 small group(s) skipped)")
    missing = one("accuracy >= 0.5 in every group of age")
    assert missing["reason"] == "the result has no feature 'age' in fairness by_feature"
    empty = one("accuracy >= 0.5 in every group of race")
    assert empty["reason"] == "no group of size >= 30 to check (0 small group(s) skipped)"


def test_every_segment_uses_the_result_min_group_size_unless_the_check_sets_one() -> None:
    check = one("accuracy >= 0.8 in every segment")
    assert check["failing"] == [{"group": "branch", "value": 0.7}]
    assert check["description"] == "accuracy >= 0.8 in every segment (skipped 1 small segment(s): phone)"
    all_segments = one("accuracy >= 0.5 in every segment of size >= 1")
    assert (all_segments["passed"], all_segments["value"], all_segments["failing"]) == (
        False, 0.4, [{"group": "phone", "value": 0.4}])
    undefined = one("roc_auc >= 0.5 in every segment")
    assert (undefined["passed"], undefined["value"], undefined["reason"]) == (
        False, 0.92, "value undefined: branch: a single class")


def test_every_feature_and_one_feature_of_drift() -> None:
    check = one("psi <= 0.2 for every feature")
    assert check["passed"] is False
    assert check["value"] == 0.35
    assert check["failing"] == [{"group": "income", "value": 0.35}, {"group": "region", "value": None}]
    assert check["reason"] == "value undefined: region: all values missing in the current data"
    assert one("ks_p_value > 0.05 for feature age")["passed"] is True
    prediction = one("psi < 0.1 for feature yhat")
    assert (prediction["passed"], prediction["value"]) == (True, 0.01)
    drifted = one("drifted == 0 for every feature")
    assert [f["group"] for f in drifted["failing"]] == ["income"]
    assert one("wasserstein < 0.1 for feature age")["reason"] == "value undefined: age: no reason recorded"
    assert one("psi < 0.1 for feature zip")["reason"] == "the result has no feature 'zip' in drift features"


def test_an_undefined_overall_value_fails_with_its_reason() -> None:
    check = one("log_loss <= 0.5")
    assert (check["passed"], check["value"], check["reason"]) == (False, None, "value undefined: a score of "
                                                                               "exactly 0")


def test_missing_sections_and_metrics_fail_with_a_clear_reason() -> None:
    bare = {k: v for k, v in sample_result().items() if k not in ("fairness", "drift")}
    bare["performance"] = {**bare["performance"], "by_segment": {}}
    reasons = [c["reason"] for c in run("drift_share < 0.3", "psi < 0.2 for every feature",
                                        "equalized_odds_difference <= 0.1", "tpr > 0.5 in every group",
                                        "four_fifths_ratio >= 0.8", "accuracy > 0.5 in every segment",
                                        "rmse < 1", result=bare)]
    assert reasons == [
        "the result has no drift section (no reference data)",
        "the result has no drift section (no reference data)",
        "the result has no fairness section (no sensitive features)",
        "the result has no fairness section (no sensitive features)",
        "the result has no fairness section (no sensitive features)",
        "the result has no segments (no segment column)",
        "metric 'rmse' is not in the result's performance overall metrics (task binary)",
    ]
    no_perf = one("accuracy > 0.5", result={**bare, "performance": None})
    assert (no_perf["passed"], no_perf["reason"]) == (
        False, "the result has no performance section (no label and prediction columns)")


def test_checks_do_not_change_the_result() -> None:
    result = sample_result()
    before = copy.deepcopy(result)
    load_policy(POLICY_YAML).check(result)
    assert result == before


def test_overall_value_looks_up_one_metric_as_a_check_would() -> None:
    result = sample_result()
    assert pol.overall_value(result, "roc_auc") == (0.91, None)
    assert pol.overall_value(result, "demographic_parity_ratio", method="to_overall") == (0.85, None)
    assert pol.overall_value(result, "demographic_parity_difference", feature="sex") == (0.2, None)
    assert pol.overall_value(result, "equalized_odds_difference") == (None, "TPR undefined in group F, B")
    assert pol.overall_value({**result, "drift": None}, "drift_share") == (
        None, "the result has no drift section (no reference data)")
    with pytest.raises(EvaluationError) as info:
        pol.overall_value(result, "psi")
    assert str(info.value) == "check 1: scope 'overall' does not fit metric 'psi'; allowed: every_feature"
