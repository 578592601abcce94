"""The aicoe command: init, user, token, db, config and the demo seed (idempotent)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from aicoe.cli.main import app
from aicoe.core.db import make_engine, make_sessionmaker
from aicoe.models.audit import AuditEvent
from aicoe.models.inventory import AISystem, Dataset, Model, Vendor
from aicoe.models.org import BusinessUnit, User
from aicoe.models.portfolio import UseCase, ValueEntry
from aicoe.models.strategy import Kpi, Objective
from aicoe.portfolio.constants import ALL_STAGES

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path}/cli.db"
    for key, value in {"AICOE_DATABASE_URL": url, "AICOE_DATA_DIR": str(tmp_path / "data"),
                       "AICOE_ARGON2_TIME_COST": "1", "AICOE_ARGON2_MEMORY_KIB": "64",
                       "AICOE_SECRET_KEY": "c" * 40}.items():
        monkeypatch.setenv(key, value)
    return url


def count(url: str, model: type) -> int:
    engine = make_engine(url)
    with make_sessionmaker(engine)() as s:
        n = s.scalar(select(func.count()).select_from(model)) or 0
    engine.dispose()
    return n


def invoke(*args: str, input: str | None = None):  # noqa: ANN201, A002
    return runner.invoke(app, list(args), input=input, catch_exceptions=False)


def test_db_current_reports_empty_then_latest(env: str) -> None:
    r = invoke("db", "current")
    assert r.exit_code == 1 and "(empty database)" in r.output
    assert invoke("db", "upgrade").exit_code == 0
    r = invoke("db", "current")
    assert r.exit_code == 0 and "(latest)" in r.output


def test_init_creates_schema_and_first_admin_from_flags(env: str) -> None:
    r = invoke("init", "--email", "root@example.com", "--password", "Sturdy-Admin-Pass-1")
    assert r.exit_code == 0, r.output
    assert "Created administrator root@example.com" in r.output
    again = invoke("init", "--email", "x@example.com", "--password", "Sturdy-Admin-Pass-1")
    assert "already exists" in again.output
    assert count(env, User) == 1


def test_init_prompts_and_refuses_a_weak_password(env: str) -> None:
    r = runner.invoke(app, ["init"], input="root@example.com\nshort\nshort\n")
    assert r.exit_code == 1
    assert "password: Password must be at least 12 characters." in r.output
    assert count(env, User) == 0


def test_user_commands(env: str) -> None:
    invoke("init", "--email", "root@example.com", "--password", "Sturdy-Admin-Pass-1")
    r = invoke("user", "create", "ana@example.com", "--name", "Ana", "--role", "practitioner", "--no-login")
    assert r.exit_code == 0, r.output
    r = invoke("user", "create", "bo@example.com", "--name", "Bo", "--role", "wizard", "--no-login")
    assert r.exit_code == 1 and "unknown role 'wizard'" in r.output
    assert invoke("user", "set-role", "ana@example.com", "--role", "auditor").exit_code == 0
    assert invoke("user", "disable", "ana@example.com").exit_code == 0
    listing = invoke("user", "list", "--all")
    assert "ana@example.com" in listing.output and "auditor" in listing.output
    r = invoke("user", "disable", "root@example.com")
    assert r.exit_code == 1 and "last active administrator" in r.output
    r = invoke("token", "create", "root@example.com", "--name", "ci", "--scope", "audit:read")
    assert r.exit_code == 0 and "aicoe_" in r.output


def test_config_show_masks_secrets(env: str) -> None:
    r = invoke("config", "show")
    assert r.exit_code == 0
    assert "c" * 40 not in r.output and "********" in r.output


def test_demo_seeds_idempotently(env: str) -> None:
    r = invoke("demo", "--no-serve")
    assert r.exit_code == 0, r.output
    assert "admin@meridian.example" in r.output and "Meridian-Demo-2026" in r.output
    units, people, events = count(env, BusinessUnit), count(env, User), count(env, AuditEvent)
    assert units >= 8 and people >= 30
    assert (count(env, UseCase), count(env, Objective), count(env, Kpi)) == (40, 5, 6)
    engine = make_engine(env)
    with make_sessionmaker(engine)() as s:
        stages = set(s.scalars(select(UseCase.stage)))
        consistent = s.execute(select(func.count()).select_from(UseCase).where(
            UseCase.realised_benefit + UseCase.realised_cost > 0)).scalar()
        entries = s.scalar(select(func.count()).select_from(ValueEntry))
    engine.dispose()
    assert stages == set(ALL_STAGES) and consistent >= 9 and entries > 200
    assert (count(env, AISystem), count(env, Model), count(env, Dataset), count(env, Vendor)) == (30, 16, 20, 6)
    r = invoke("demo", "--no-serve")
    assert "nothing to add" in r.output
    assert (count(env, BusinessUnit), count(env, User), count(env, AuditEvent)) == (units, people, events)
    assert invoke("audit", "verify").exit_code == 0


def test_business_unit_and_person_crud_from_the_cli(env: str) -> None:
    invoke("init", "--email", "root@example.com", "--password", "Sturdy-Admin-Pass-1")
    assert invoke("unit", "create", "RET", "--name", "Retail").exit_code == 0
    assert invoke("unit", "create", "CARDS", "--name", "Cards", "--parent", "RET").exit_code == 0
    r = invoke("unit", "create", "X", "--name", "X", "--parent", "NOPE")
    assert r.exit_code == 1 and "no business unit with code 'NOPE'" in r.output
    r = invoke("unit", "update", "RET", "--parent", "CARDS")
    assert r.exit_code == 1 and "parent_id: That would put the unit below itself." in r.output
    assert invoke("unit", "update", "CARDS", "--name", "Cards & Payments").exit_code == 0
    assert invoke("user", "create", "ana@example.com", "--name", "Ana", "--unit", "CARDS", "--no-login").exit_code == 0
    tree = invoke("unit", "list").output
    assert "Retail (RET, 0 people)" in tree and "Cards & Payments (CARDS, 1 people)" in tree
    r = invoke("unit", "delete", "CARDS")
    assert r.exit_code == 1 and "people still belong to it" in r.output
    r = invoke("user", "update", "ana@example.com", "--title", "Analyst", "--coe-role", "Data science")
    assert r.exit_code == 0, r.output
    assert invoke("user", "delete", "ana@example.com").exit_code == 0
    assert invoke("unit", "delete", "CARDS").exit_code == 0
    r = invoke("user", "delete", "root@example.com")
    assert r.exit_code == 1 and "last active administrator" in r.output
    assert count(env, BusinessUnit) == 1 and count(env, User) == 1
    engine = make_engine(env)
    with make_sessionmaker(engine)() as s:
        actions = s.execute(select(AuditEvent.action, AuditEvent.entity_type, AuditEvent.actor_type)
                            .order_by(AuditEvent.seq)).all()
    engine.dispose()
    catalogs = {e for _, e, _ in actions if e not in {"user", "business_unit"}}
    assert catalogs == {"framework", "mapping_set"}  # init loads the shipped framework catalogs and mappings
    assert [(a, e) for a, e, _ in actions if e not in catalogs] == [
        ("create", "user"), ("create", "business_unit"), ("create", "business_unit"), ("update", "business_unit"),
        ("create", "user"), ("update", "user"), ("delete", "user"), ("delete", "business_unit")]
    assert {t for _, _, t in actions} == {"system"}


def test_the_root_knows_every_area_command_without_importing_the_areas() -> None:
    """Every command an area's ``register`` adds is listed in ``AREAS`` under that module, and nothing else is."""
    import importlib

    import typer

    from aicoe.cli import main

    for module in set(main.AREAS.values()):
        area = typer.Typer()
        importlib.import_module(module).register(area)
        registered = set(typer.main.get_group(area).commands)
        assert registered == {name for name, owner in main.AREAS.items() if owner == module}, module
    listed = runner.invoke(app, ["--help"])
    assert listed.exit_code == 0
    positions = [listed.output.find(f"│ {name} ") for name in main.AREAS]
    assert -1 not in positions and positions == sorted(positions)
    assert runner.invoke(app, ["no-such-command"]).exit_code == 2


def test_a_scan_imports_no_database_models_and_no_evaluation_engine(tmp_path: Path) -> None:
    """A fresh interpreter running `aicoe scan` loads only the sensitive-data area (start-up in a fraction of the
    time the whole CLI takes to import)."""
    import json
    import subprocess
    import sys

    (tmp_path / "people.csv").write_text("name,card\nAnn,4111 1111 1111 1111\n", encoding="utf-8")
    probe = ("import json, sys; from typer.testing import CliRunner; from aicoe.cli.main import app; "
             "result = CliRunner().invoke(app, ['scan', sys.argv[1], '--format', 'json']); "
             "print(json.dumps([result.exit_code, sorted(m for m in sys.modules if m.startswith("
             "('aicoe.models', 'aicoe.engines.evaluation', 'aicoe.cli.server', 'scipy', 'fastapi', 'alembic')))]))")
    out = subprocess.run([sys.executable, "-c", probe, str(tmp_path / "people.csv")], capture_output=True,
                         text=True, check=True)
    assert json.loads(out.stdout.splitlines()[-1]) == [1, []]  # exit 1: the card is a high-severity finding
