"""The HTML report: well-formed, self-contained, escaped, with its charts and undefined values shown as such."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest

from aicoe.engines.evaluation.policy import load_policy
from aicoe.engines.evaluation.report import render_html
from tests.test_evaluation_policy import POLICY_YAML, sample_result

VOID = {"meta", "br", "rect", "line", "circle", "polyline", "img", "input", "hr", "link"}
HOSTILE = '<script>alert("x")</script>'


class Tree(HTMLParser):
    """Checks that every opened tag is closed in order and records tags, attributes and text."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(document: str) -> Tree:
    tree = Tree()
    tree.feed(document)
    tree.close()
    assert tree.errors == []
    assert tree.stack == []
    return tree


def full_result() -> dict[str, Any]:
    result = sample_result()
    result["checks"] = load_policy(POLICY_YAML).check(result)
    result["passed"] = all(c["passed"] for c in result["checks"])
    result["performance"]["calibration"] = [
        {"lower": 0.0, "upper": 0.5, "count": 500, "weight": 500.0, "mean_score": 0.2, "fraction_positive": 0.25},
        {"lower": 0.5, "upper": 1.0, "count": 570, "weight": 570.0, "mean_score": 0.8,
         "fraction_positive": 0.7}]
    result["fairness"]["intervals"] = {"demographic_parity_difference": {"between_groups": [0.31, 0.49]},
                                       "selection_rate": {"F, A": [0.25, 0.35]}}
    for feature in [*result["drift"]["features"], result["drift"]["prediction"]]:
        feature["histogram"] = {"edges": [0, 1, 2], "categories": None, "reference": [10, 20], "current": [20, 5]}
    result["drift"]["windows"] = [
        {"start": "2024-01-01T00:00:00", "end": "2024-01-08T00:00:00", "rows": 500, "drift_share": 0.0,
         "dataset_drift": False, "features": {}},
        {"start": "2024-01-08T00:00:00", "end": "2024-01-15T00:00:00", "rows": 570, "drift_share": 0.67,
         "dataset_drift": True, "features": {}}]
    return result


def test_the_report_is_well_formed_and_has_every_section() -> None:
    document = render_html(full_result(), title="Credit model, Q3")
    tree = parse(document)
    text = " ".join(tree.text)
    headings = [tag for tag, _ in tree.tags if tag in ("h1", "h2", "h3")]
    assert headings[0] == "h1"
    for expected in ("Credit model, Q3", "Policy checks", "Performance", "Fairness", "Drift", "Confusion matrix",
                     "Calibration", "Metrics per segment", "Disparities over the intersections",
                     "Four-fifths rule", "Drift over time", "Drift per feature", "1,070", "ab" * 32, "FAIL", "PASS",
                     "DRIFTED", "DATASET DRIFT", "[0.310, 0.490]", "[0.250, 0.350]", "small"):
        assert expected in text, expected
    assert document.startswith("<!DOCTYPE html>")


def test_the_report_is_self_contained() -> None:
    document = render_html(full_result())
    tree = parse(document)
    for tag, attrs in tree.tags:
        assert tag not in ("script", "link", "iframe", "img", "object"), tag
        for name in ("src", "href", "xmlns"):
            assert name not in attrs, (tag, name)
    assert "http" not in document
    assert "url(" not in document
    assert "<style>" in document


def test_charts_are_accessible_svgs() -> None:
    document = render_html(full_result())
    tree = parse(document)
    svgs = [attrs for tag, attrs in tree.tags if tag == "svg"]
    # reliability diagram, selection rate / TPR / FPR bars, one sparkline per feature and prediction, windows
    assert len(svgs) == 1 + 3 + 4 + 1
    assert all(attrs.get("role") == "img" for attrs in svgs)
    assert document.count("<title>") == 1 + len(svgs)
    assert "Reliability diagram" in document and "selection_rate per group" in document
    assert "Share of drifted features per time window" in document


def test_hostile_names_are_escaped() -> None:
    result = full_result()
    result["fairness"]["groups"][0]["label"] = HOSTILE
    result["fairness"]["four_fifths"]["lowest_group"] = HOSTILE
    result["performance"]["by_segment"][HOSTILE] = result["performance"]["by_segment"].pop("web")
    result["drift"]["features"][0]["feature"] = HOSTILE
    result["checks"][0]["failing"] = [{"group": HOSTILE, "value": 0.5}]
    result["warnings"] = [HOSTILE]
    document = render_html(result, title=HOSTILE)
    tree = parse(document)
    assert "<script" not in document
    assert not any(tag == "script" for tag, _ in tree.tags)
    assert document.count("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;") >= 7


def test_undefined_values_show_a_dash_with_the_reason() -> None:
    document = render_html(full_result())
    parse(document)
    assert '<span class="undef" title="a score of exactly 0">\u2014</span>' in document
    assert '<span class="undef" title="no positive labels in the group">\u2014</span>' in document
    assert '<span class="undef" title="TPR undefined in group F, B">\u2014</span>' in document
    assert "<strong>log_loss</strong>: a score of exactly 0" in document
    assert "<strong>region.psi</strong>: all values missing in the current data" in document
    assert "nan" not in document.lower().replace("nanum", "")


def test_metrics_from_compacted_score_tables_are_marked_approximate() -> None:
    result = full_result()
    exact = render_html(result)
    result["performance"]["approximate"] = ["roc_auc"]
    document = render_html(result)
    assert "roc_auc (approx.)" in document and "roc_auc (approx.)" not in exact


@pytest.mark.parametrize("drop", ["performance", "fairness", "drift", "checks"])
def test_sections_that_the_result_lacks_are_left_out(drop: str) -> None:
    result = full_result()
    result[drop] = [] if drop == "checks" else None
    document = render_html(result)
    parse(document)
    heading = {"performance": "Performance</h2>", "fairness": "Fairness</h2>", "drift": "Drift</h2>",
               "checks": "Policy checks</h2>"}[drop]
    assert heading not in document


def test_multiclass_and_regression_results_render() -> None:
    multiclass = {"task": "multiclass", "rows": 3, "fingerprint": "f", "performance": {
        "task": "multiclass", "overall": {"count": 3, "weight": 3.0, "accuracy": 2 / 3, "roc_auc_ovr": None,
                                          "undefined": {"roc_auc_ovr": "no scores"}},
        "by_segment": {}, "calibration": [],
        "confusion_matrix": {"labels": ["a", "b", "c"], "counts": [[1, 0, 0], [0, 1, 0], [0, 1, 0]],
                             "weights": [[1.0, 0, 0], [0, 1.0, 0], [0, 1.0, 0]]},
        "per_class": {"a": {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1},
                      "c": {"precision": None, "recall": 0.0, "f1": None, "support": 1}}}}
    text = " ".join(parse(render_html(multiclass)).text)
    assert "Per class" in text and "0.6667" in text
    regression = {"task": "regression", "rows": 2, "fingerprint": "f",
                  "performance": {"task": "regression", "overall": {"count": 2, "weight": 2.0, "mae": 1.5,
                                                                    "rmse": 2.0, "r2": None,
                                                                    "undefined": {"r2": "constant label"}},
                                  "by_segment": {}, "confusion_matrix": {}, "calibration": [], "per_class": {}},
                  "fairness": {"features": ["sex"], "min_group_size": 1,
                               "overall": {"count": 2, "weight": 2.0, "mae": 1.5, "undefined": {}},
                               "groups": [{"group": {"sex": "F"}, "label": "F", "count": 1, "weight": 1.0,
                                           "mae": 1.0, "small": False, "undefined": {}},
                                          {"group": {"sex": "M"}, "label": "M", "count": 1, "weight": 1.0,
                                           "mae": 2.0, "small": False, "undefined": {}}],
                               "by_feature": {}, "disparities": {"mae_difference": {"between_groups": 1.0,
                                                                                    "to_overall": 0.5}},
                               "disparities_by_feature": {}, "four_fifths": {}, "intervals": {}, "undefined": {}}}
    document = render_html(regression)
    text = " ".join(parse(document).text)
    assert "mae per group" in document and "mae_difference" in text and "constant label" in text
