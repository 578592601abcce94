"""``aicoe inventory list | show | export-bom`` against a migrated SQLite file, and sync-mlflow being there."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from aicoe.cli.main import app
from tests.test_lineage import World, build

runner = CliRunner()


@pytest.fixture
def world(cli_db: Session) -> World:
    return build(cli_db)


def invoke(*args: str):  # noqa: ANN201
    return runner.invoke(app, ["inventory", *args], catch_exceptions=False)


def test_list_systems_filters_by_unit_and_status(world: World) -> None:
    r = invoke("list")
    assert r.exit_code == 0, r.output
    assert "5 of 5 systems" in r.output
    r = invoke("list", "--unit", "ret", "--status", "in_production")
    assert r.exit_code == 0, r.output
    assert "Claims assistant" in r.output and "Fraud screen" in r.output and "Policy helper" not in r.output
    assert "2 of 2 systems" in r.output


def test_list_other_kinds(world: World) -> None:
    r = invoke("list", "--kind", "models", "--unit", "INS")
    assert r.exit_code == 0 and "claims-ft-u2" in r.output and "1 of 1 models" in r.output
    r = invoke("list", "--kind", "datasets")
    assert r.exit_code == 0 and "3 of 3 datasets" in r.output
    r = invoke("list", "--kind", "vendors", "--status", "active")
    assert r.exit_code == 0 and "Databrokers" in r.output and "2 of 2 vendors" in r.output


def test_list_refuses_options_that_do_not_apply(world: World) -> None:
    r = invoke("list", "--kind", "models", "--status", "in_production")
    assert r.exit_code == 1 and "--status applies to systems and vendors only" in r.output
    r = invoke("list", "--kind", "vendors", "--unit", "RET")
    assert r.exit_code == 1 and "--unit does not apply" in r.output
    r = invoke("list", "--status", "live")
    assert r.exit_code == 1 and "Status must be one of" in r.output
    r = invoke("list", "--unit", "NOPE")
    assert r.exit_code == 1 and "No business unit 'NOPE'" in r.output


def test_show_by_name_or_id(world: World) -> None:
    r = invoke("show", "claims triage")
    assert r.exit_code == 0, r.output
    assert "Retail (RET)" in r.output and "claims-ft" in r.output
    assert "claims-history (Fine-tuning), eval-set (Evaluation)" in r.output and "retrieval corpus" in r.output
    r = invoke("show", str(world.ids["s1"]))
    assert r.exit_code == 0 and "Claims assistant" in r.output and "https://claims.example/api" in r.output
    r = invoke("show", "no such system")
    assert r.exit_code == 1 and "no AI system with id or name 'no such system'" in r.output


def test_export_bom_to_stdout_and_file(world: World, tmp_path: Path) -> None:
    validator = JsonStrictValidator(SchemaVersion.V1_6)
    r = invoke("export-bom")
    assert r.exit_code == 0
    assert validator.validate_str(r.stdout) is None
    assert len(json.loads(r.stdout)["components"]) == 13
    target = tmp_path / "bom.json"
    r = invoke("export-bom", "--system", "Claims assistant", "--output", str(target))
    assert r.exit_code == 0 and "Wrote" in r.output
    doc = json.loads(target.read_text(encoding="utf-8"))
    assert doc["metadata"]["component"]["bom-ref"] == f"system-{world.ids['s1']}"
    assert len(doc["components"]) == 6
    r = invoke("export-bom", "--system", "9999")
    assert r.exit_code == 1 and "no AI system with id or name '9999'" in r.output


def test_sync_mlflow_is_registered(world: World) -> None:
    r = invoke("sync-mlflow", "--help")
    assert r.exit_code == 0 and "--tracking-uri" in r.output
