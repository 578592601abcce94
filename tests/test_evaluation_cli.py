"""``aicoe evaluate``: the three formats, the output file, exit codes (the CI gate) and bad input."""

from __future__ import annotations

import csv
import json
from io import StringIO
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rich.console import Console
from typer.testing import CliRunner

from aicoe.cli.main import app
from aicoe.engines.evaluation import io, policy
from aicoe.evaluation import cli
from tests.test_evaluation_report import parse

runner = CliRunner()
ROWS = 240


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A small binary prediction log with a disparity between the sexes, and a shifted copy as reference."""
    monkeypatch.setenv("COLUMNS", "250")
    rng = np.random.default_rng(7)
    sex = rng.choice(["F", "M"], ROWS)
    y = rng.integers(0, 2, ROWS)
    score = np.clip(0.35 * y + 0.5 * rng.random(ROWS) + np.where(sex == "M", 0.15, 0.0), 0, 1).round(4)
    yhat = (score >= 0.5).astype(int)
    age = rng.integers(18, 80, ROWS)
    columns = {"y": y, "yhat": yhat, "score": score, "sex": sex, "age": age}
    path = tmp_path / "predictions.csv"
    reference = tmp_path / "reference.csv"
    for target, shift in ((path, 0), (reference, 15)):
        with target.open("w", newline="", encoding="utf-8") as file:
            writer = csv.writer(file)
            writer.writerow(columns)
            for i in range(ROWS):
                writer.writerow([y[i], yhat[i], score[i], sex[i], age[i] + shift])
    return {"path": path, "reference": reference, "tmp": tmp_path, **columns}


def evaluate(*args: str | Path):  # noqa: ANN201
    return runner.invoke(app, ["evaluate", *map(str, args)], catch_exceptions=False)


def base(data: dict[str, Any]) -> list[str | Path]:
    return [data["path"], "--label", "y", "--prediction", "yhat", "--score", "score", "--sensitive", "sex",
            "--bootstrap", "20"]


def write_policy(data: dict[str, Any], text: str) -> Path:
    path = data["tmp"] / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_json_result_to_stdout(data: dict[str, Any]) -> None:
    result = evaluate(*base(data))
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["rows"] == ROWS and document["task"] == "binary" and document["passed"] is None
    y, yhat, sex = data["y"], data["yhat"], data["sex"]
    assert document["performance"]["overall"]["accuracy"] == pytest.approx(np.mean(y == yhat), rel=1e-12)
    groups = {g["label"]: g for g in document["fairness"]["groups"]}
    for group in ("F", "M"):
        assert groups[group]["count"] == int(np.sum(sex == group))
        assert groups[group]["selection_rate"] == pytest.approx(np.mean(yhat[sex == group]), rel=1e-12)
    assert document["drift"] is None and document["checks"] == []


def test_policy_failure_exits_one_and_a_passing_policy_zero(data: dict[str, Any]) -> None:
    failing = write_policy(data, 'checks:\n  - "demographic_parity_difference <= 0.01"\n  - "accuracy >= 0"\n')
    result = evaluate(*base(data), "--policy", failing)
    assert result.exit_code == 1
    checks = json.loads(result.stdout)["checks"]
    assert [(c["metric"], c["passed"]) for c in checks] == [("demographic_parity_difference", False),
                                                            ("accuracy", True)]
    passing = write_policy(data, "checks:\n  - accuracy >= 0\n  - selection_rate >= 0 in every group\n")
    assert evaluate(*base(data), "--policy", passing).exit_code == 0


def test_policy_template_and_drift_against_a_reference(data: dict[str, Any]) -> None:
    result = evaluate(*base(data), "--reference", data["reference"], "--policy-template", "drift-monitoring")
    document = json.loads(result.stdout)
    ages = [f for f in document["drift"]["features"] if f["feature"] == "age"]
    assert ages and ages[0]["drifted"] is True
    psi = next(c for c in document["checks"] if c["id"] == "feature-psi")
    assert psi["passed"] is False and {"group": "age", "value": ages[0]["psi"]} in psi["failing"]
    assert result.exit_code == 1


def test_table_format(data: dict[str, Any]) -> None:
    policy_file = write_policy(data, "checks:\n  - accuracy >= 0.99\n")
    result = evaluate(*base(data), "--format", "table", "--policy", policy_file, "--reference", data["reference"])
    assert result.exit_code == 1
    out = result.stdout
    for expected in ("Performance (binary)", "Groups (sex)", "Disparities", "demographic_parity_difference",
                     "four_fifths_ratio", "Drift: share", "Policy checks", "FAIL", "accuracy >= 0.99",
                     f"{ROWS} rows, fingerprint", "a policy check failed"):
        assert expected in out, expected


def test_html_format_to_a_file(data: dict[str, Any]) -> None:
    target = data["tmp"] / "report.html"
    result = evaluate(*base(data), "--format", "html", "--output", target, "--policy-template", "fairness-baseline")
    assert result.stdout == ""
    document = target.read_text(encoding="utf-8")
    parse(document)
    assert "Policy checks" in document and "Fairness" in document and "http" not in document
    assert result.exit_code in (0, 1)
    json_target = data["tmp"] / "result.json"
    evaluate(*base(data), "--output", json_target)
    assert json.loads(json_target.read_text(encoding="utf-8"))["rows"] == ROWS
    table_target = data["tmp"] / "result.txt"
    evaluate(*base(data), "--format", "table", "--output", table_target)
    assert "Performance (binary)" in table_target.read_text(encoding="utf-8")


def assert_usage_error(result: Any, message: str) -> None:
    assert result.exit_code == 2
    assert result.stdout == ""
    assert f"Cannot evaluate: {message}" in result.stderr
    assert "Traceback" not in result.output


def test_missing_column_exits_two_with_the_message(data: dict[str, Any]) -> None:
    result = evaluate(data["path"], "--label", "label", "--prediction", "yhat")
    assert_usage_error(result, io.MISSING_COLUMN.format(column="label",
                                                        available="y, yhat, score, sex, age"))


def test_unknown_metric_exits_two_before_reading_data(data: dict[str, Any]) -> None:
    bad = write_policy(data, "checks:\n  - acuracy >= 0.9\n")
    result = evaluate(data["path"], "--label", "nope", "--prediction", "yhat", "--policy", bad)
    assert_usage_error(result, policy.UNKNOWN_METRIC.format(index=1, metric="acuracy",
                                                            known=", ".join(policy.METRICS)))


@pytest.mark.parametrize(("args", "message"), [
    (("--policy-template", "strict"), policy.UNKNOWN_TEMPLATE.format(
        name="strict", names="credit-decisioning, drift-monitoring, fairness-baseline")),
    (("--policy-template", "fairness-baseline", "--policy", "POLICY"), cli.POLICY_AND_TEMPLATE),
])
def test_policy_usage_errors(data: dict[str, Any], args: tuple[str, ...], message: str) -> None:
    policy_file = write_policy(data, "checks: [accuracy > 0]\n")
    result = evaluate(*base(data), *(policy_file if a == "POLICY" else a for a in args))
    assert_usage_error(result, message)


@pytest.mark.parametrize(("args", "fragment"), [
    (("--format", "xml"), "--format"),
    (("--engine", "spark"), "--engine"),
    (("--workers", "0"), "--workers"),
    (("--task", "ranking"), "--task"),
])
def test_option_errors_exit_two(data: dict[str, Any], args: tuple[str, ...], fragment: str) -> None:
    result = evaluate(*base(data), *args)
    assert result.exit_code == 2
    assert fragment in result.output


def test_missing_input_path_is_a_usage_error(tmp_path: Path) -> None:
    result = evaluate(tmp_path / "absent.csv", "--label", "y", "--prediction", "yhat")
    assert result.exit_code == 2
    assert "does not exist" in " ".join(result.output.split())


def test_progress_bar_only_on_a_terminal_and_for_large_inputs() -> None:
    piped = StringIO()
    with cli._progress(Console(file=piped)) as update:
        update(5_000_000, 5_000_000)
    assert piped.getvalue() == ""
    terminal = StringIO()
    with cli._progress(Console(file=terminal, force_terminal=True, width=100)) as update:
        update(10_000, 20_000)
        assert terminal.getvalue() == ""
        update(cli.PROGRESS_MIN_ROWS, None)
        update(2 * cli.PROGRESS_MIN_ROWS, None)
    assert "Evaluating" in terminal.getvalue()
