"""``aicoe scan``: formats, exit codes (the CI gate), usage errors, skipped files and the output file."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aicoe.cli.main import app
from aicoe.engines.sensitive import io, scanner
from aicoe.sensitive import cli_scan

runner = CliRunner()
AWS_KEY = "AKIAQ3EGUJ5KXW7ZP2MB"


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("COLUMNS", "250")
    root = tmp_path / "data"
    (root / "conf").mkdir(parents=True)
    with (root / "customers.csv").open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["name", "email", "card"])
        writer.writerow(["Ann", "ann@example.com", "4111 1111 1111 1111"])
        writer.writerow(["Bob", "bob@example.org", ""])
    (root / "conf" / "app.env").write_text(f"region=eu\naws_access_key_id = {AWS_KEY}\n", encoding="utf-8")
    (root / "photo.bin").write_bytes(bytes(range(256)))
    return root


def scan(*args: str | Path):  # noqa: ANN201
    return runner.invoke(app, ["scan", *map(str, args)], catch_exceptions=False)


def test_json_report_and_exit_code_one_for_high_findings(tree: Path) -> None:
    result = scan(tree, "--format", "json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert [(Path(g["path"]).name, g["column"], g["entity"], g["severity"], g["count"],
             [(s["row"], s["start"], s["end"]) for s in g["samples"]]) for g in report["findings"]] == [
        ("app.env", None, "AWS_ACCESS_KEY_ID", "high", 1, [(2, 20, 40)]),
        ("customers.csv", "email", "EMAIL_ADDRESS", "medium", 2, [(1, 0, 15), (2, 0, 15)]),
        ("customers.csv", "card", "CREDIT_CARD", "high", 1, [(1, 0, 19)]),
    ]
    assert report["summary"]["skipped"] == [{"path": str(tree / "photo.bin"), "status": "skipped",
                                             "reason": io.UNKNOWN_FORMAT}]
    assert report["summary"]["by_severity"] == {"low": 0, "medium": 2, "high": 2, "critical": 0}
    assert AWS_KEY not in result.stdout and "ann@example.com" not in result.stdout


@pytest.mark.parametrize(("args", "code"), [
    ((), 1),
    (("--fail-on", "critical"), 0),
    (("--entities", "email_address"), 0),
    (("--entities", "EMAIL_ADDRESS", "--fail-on", "medium"), 1),
    (("--entities", "EMAIL_ADDRESS,PHONE_NUMBER", "--fail-on", "low"), 1),
    (("--min-score", "1.0", "--fail-on", "medium", "--entities", "AWS_ACCESS_KEY_ID"), 1),
])
def test_exit_code_follows_fail_on(tree: Path, args: tuple[str, ...], code: int) -> None:
    result = scan(tree, "--format", "json", *args)
    assert result.exit_code == code, result.output


def test_table_format_lists_findings_classification_and_skipped_files(tree: Path) -> None:
    result = scan(tree)
    assert result.exit_code == 1
    out = result.stdout
    for expected in ("Findings", "AWS_ACCESS_KEY_ID", "CREDIT_CARD", "Column classification", "EMAIL_ADDRESS",
                     "100.0%", "Not scanned in full", io.UNKNOWN_FORMAT,
                     "2 files scanned, 0 partly, 1 skipped; 4 rows, 6 cells"):
        assert expected in out, expected
    assert AWS_KEY not in out and "4111" not in out


def test_sarif_output_to_a_file(tree: Path, tmp_path: Path) -> None:
    target = tmp_path / "scan.sarif"
    result = scan(tree, "--format", "sarif", "--output", target)
    assert result.exit_code == 1 and result.stdout == ""
    log = json.loads(target.read_text(encoding="utf-8"))
    assert log["version"] == "2.1.0"
    assert [rule["id"] for rule in log["runs"][0]["tool"]["driver"]["rules"]] == [
        "AWS_ACCESS_KEY_ID", "CREDIT_CARD", "EMAIL_ADDRESS"]
    assert len(log["runs"][0]["results"]) == 4


def test_sample_workers_and_size_limit(tree: Path) -> None:
    result = scan(tree, "--format", "json", "--sample", "1", "--seed", "5", "--workers", "2",
                  "--max-file-size", "60")
    report = json.loads(result.stdout)
    by_name = {Path(f["path"]).name: f for f in report["files"]}
    assert (by_name["customers.csv"]["status"], by_name["customers.csv"]["reason"]) == (
        "skipped", io.TOO_LARGE.format(size=(tree / "customers.csv").stat().st_size, limit=60))
    assert by_name["app.env"]["sample"] == {"requested": 1, "rows": 1, "rows_total": 2,
                                            "prevalence_upper_95": 0.95}
    assert report["summary"]["run"]["workers"] == 2


@pytest.mark.parametrize(("args", "message"), [
    (("--entities", "EMAIL,US_SSN"), cli_scan.UNKNOWN_ENTITY.format(entity="EMAIL", supported="").rstrip()),
    (("--entities", " , "), cli_scan.EMPTY_ENTITIES),
    (("--workers", "0"), "--workers"),
    (("--format", "xml"), "--format"),
    (("--min-score", "1.5"), "--min-score"),
])
def test_usage_errors_exit_two(tree: Path, args: tuple[str, ...], message: str) -> None:
    result = scan(tree, *args)
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


def test_missing_path_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    result = scan(tmp_path / "absent")
    assert result.exit_code == 2
    assert f"path '{tmp_path / 'absent'}' does not exist" in result.output


def test_ray_engine_without_ray_is_explained(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(__import__("sys").modules, "ray", None)
    result = scan(tree, "--engine", "ray")
    assert result.exit_code == 2
    assert f"Cannot scan: {scanner.RAY_MISSING}" in " ".join(result.output.split())
