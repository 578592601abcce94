"""MLflow sync against a real tracking server on loopback (one per module, with a temporary SQLite backend).

Each test registers its own models under a unique prefix and syncs only those, so tests share the server
without seeing each other's models.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from aicoe.auth.principal import Principal
from aicoe.config import Settings
from aicoe.core.db import make_engine, make_sessionmaker
from aicoe.core.errors import Conflict, PermissionDenied, ServiceUnavailable, ValidationFailed
from aicoe.inventory import mlflow_cli, mlflow_sync
from aicoe.jobs.runner import JobRunner
from aicoe.models.audit import AuditEvent
from aicoe.models.inventory import Model
from aicoe.models.jobs import Job
from aicoe.models.org import ApiToken, BusinessUnit
from tests.factories import make_token, make_unit, make_user
from tests.inventory_factories import make_model

mlflow = pytest.importorskip("mlflow", reason="mlflow is not installed (pip install 'aicoe[mlflow]' or the test "
                                              "extra); the MLflow sync tests need a real tracking server")
from mlflow.tracking import MlflowClient  # noqa: E402

_prefix = itertools.count(1)
SERVER_START_S = 120


def free_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def tracking_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("mlflow")
    port = free_port()
    log = (root / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{root}/mlflow.db", "--default-artifact-root", str(root / "artifacts")],
        stdout=log, stderr=subprocess.STDOUT, cwd=root, start_new_session=True,
        env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"})  # no job worker: starts and stops faster
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the MLflow server exited with {proc.returncode}:\n{(root / 'server.log').read_text()}")
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the MLflow server did not answer /health within {SERVER_START_S} s:\n"
                            f"{(root / 'server.log').read_text()}")
            time.sleep(0.2)
        yield uri
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def ml(tracking_uri: str) -> MlflowClient:
    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


@dataclass
class Registry:
    """Two registered models made through the MLflow client: a fraud model with two versions from two runs
    and a third-party assistant tagged with its kind and no run."""

    fraud: str
    assistant: str
    run1: str
    run2: str

    @property
    def names(self) -> list[str]:
        return [self.fraud, self.assistant]


def log_run(tracking_uri: str, metrics: dict[str, float]) -> str:
    mlflow.set_tracking_uri(tracking_uri)
    try:
        with mlflow.start_run() as run:
            for key, value in metrics.items():
                mlflow.log_metric(key, value)
    finally:
        mlflow.set_tracking_uri(None)
    return run.info.run_id


def make_registry(ml: MlflowClient, tracking_uri: str) -> Registry:
    n = next(_prefix)
    fraud, assistant = f"t{n}-fraud", f"t{n}-assistant"
    run1 = log_run(tracking_uri, {"auc": 0.91, "f1": 0.8})
    run2 = log_run(tracking_uri, {"auc": 0.93, "loss": float("nan")})
    ml.create_registered_model(fraud, tags={"team": "risk", "stage": "model-level"}, description="Fraud scorer")
    ml.create_model_version(fraud, source=f"s3://models/{fraud}/1", run_id=run1, tags={"stage": "v1-level"},
                            description="First cut")
    ml.create_model_version(fraud, source=f"s3://models/{fraud}/2", run_id=run2)
    ml.set_registered_model_alias(fraud, "champion", "2")
    ml.set_registered_model_alias(fraud, "challenger", "1")
    ml.set_registered_model_alias(fraud, "blessed", "2")
    ml.create_registered_model(assistant, tags={mlflow_sync.KIND_TAG: "third_party_api"})
    ml.create_model_version(assistant, source="s3://vendors/assistant-gateway")
    return Registry(fraud, assistant, run1, run2)


@pytest.fixture
def session(any_db_url: str) -> Iterator[Session]:
    engine = make_engine(any_db_url)
    with make_sessionmaker(engine)() as s:
        yield s
    engine.dispose()


def models_of(session: Session, *names: str) -> dict[tuple[str, str], Model]:
    session.expire_all()
    return {(m.name, m.version): m for m in session.scalars(select(Model).where(Model.name.in_(names)))}


def audit_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(AuditEvent)) or 0


def fields(model: Model) -> dict[str, Any]:
    keys = ("name", "version", "kind", "source", "mlflow_name", "mlflow_version", "mlflow_run_id", "description",
            "tags", "aliases", "metrics", "artefact_uri", "business_unit_id", "owner_id", "licence")
    return {k: getattr(model, k) for k in keys}


def labels(entries: list[mlflow_sync.SyncEntry]) -> list[str]:
    return [e.label for e in entries]


def sync(session: Session, uri: str, unit: BusinessUnit, reg: Registry, **kw: Any) -> mlflow_sync.SyncReport:
    report = mlflow_sync.sync(session, None, uri, business_unit_id=unit.id, model_names=reg.names, **kw)
    session.commit()
    return report


# --- the service -----------------------------------------------------------------------------------------------

def test_sync_creates_then_is_idempotent_then_applies_exactly_the_changes(
        session: Session, ml: MlflowClient, tracking_uri: str) -> None:
    reg = make_registry(ml, tracking_uri)
    unit = make_unit(session)
    owner = make_user(session)
    before = audit_count(session)

    first = sync(session, tracking_uri, unit, reg, owner_id=owner.id)
    assert labels(first.created) == [f"{reg.assistant} v1", f"{reg.fraud} v1", f"{reg.fraud} v2"]
    assert (first.updated, first.unchanged, first.tracking_uri) == ([], [], tracking_uri)
    models = models_of(session, *reg.names)
    assert sorted(models) == [(reg.assistant, "1"), (reg.fraud, "1"), (reg.fraud, "2")]
    common = {"source": "mlflow", "business_unit_id": unit.id, "owner_id": owner.id, "licence": ""}
    assert fields(models[(reg.fraud, "1")]) == {
        **common, "name": reg.fraud, "version": "1", "kind": "in_house", "mlflow_name": reg.fraud,
        "mlflow_version": "1", "mlflow_run_id": reg.run1, "description": "First cut",
        "tags": {"stage": "v1-level", "team": "risk"}, "aliases": ["challenger"], "metrics": {"auc": 0.91, "f1": 0.8},
        "artefact_uri": f"s3://models/{reg.fraud}/1"}
    assert fields(models[(reg.fraud, "2")]) == {
        **common, "name": reg.fraud, "version": "2", "kind": "in_house", "mlflow_name": reg.fraud,
        "mlflow_version": "2", "mlflow_run_id": reg.run2, "description": "Fraud scorer",
        "tags": {"stage": "model-level", "team": "risk"}, "aliases": ["blessed", "champion"],
        "metrics": {"auc": 0.93}, "artefact_uri": f"s3://models/{reg.fraud}/2"}
    assert fields(models[(reg.assistant, "1")]) == {
        **common, "name": reg.assistant, "version": "1", "kind": "third_party_api", "mlflow_name": reg.assistant,
        "mlflow_version": "1", "mlflow_run_id": None, "description": "",
        "tags": {mlflow_sync.KIND_TAG: "third_party_api"}, "aliases": [], "metrics": {},
        "artefact_uri": "s3://vendors/assistant-gateway"}
    events = list(session.scalars(select(AuditEvent).where(AuditEvent.seq > before).order_by(AuditEvent.seq)))
    assert [(e.action, e.entity_type, e.entity_id, e.actor_type) for e in events] == [
        ("create", "model", str(e.model_id), "system") for e in first.created]
    assert json.loads(events[0].diff)["mlflow_name"] == [None, reg.assistant]

    second = sync(session, tracking_uri, unit, reg)
    assert (second.created, second.updated) == ([], [])
    assert sorted(labels(second.unchanged)) == sorted(labels(first.created))
    assert audit_count(session) == before + 3

    # change MLflow: a version tag, the aliases, a description, a new version; and edit the inventory by hand
    ml.set_model_version_tag(reg.fraud, "1", "validated", "yes")
    ml.create_model_version(reg.fraud, source=f"s3://models/{reg.fraud}/3", run_id=reg.run1)
    ml.set_registered_model_alias(reg.fraud, "champion", "3")
    ml.update_registered_model(reg.assistant, description="Customer-service assistant")
    hand = models[(reg.fraud, "1")]
    hand.kind, hand.licence = "fine_tuned", "MIT"
    session.commit()
    mark = audit_count(session)

    third = sync(session, tracking_uri, unit, reg)
    assert labels(third.created) == [f"{reg.fraud} v3"]
    assert [(e.label, e.fields) for e in third.updated] == [
        (f"{reg.assistant} v1", ["description"]), (f"{reg.fraud} v1", ["tags"]), (f"{reg.fraud} v2", ["aliases"])]
    assert third.unchanged == []
    models = models_of(session, *reg.names)
    assert len(models) == 4
    v1 = models[(reg.fraud, "1")]
    assert (v1.tags, v1.kind, v1.licence) == ({"stage": "v1-level", "team": "risk", "validated": "yes"},
                                             "fine_tuned", "MIT")  # hand edits the sync does not own survive
    assert models[(reg.fraud, "2")].aliases == ["blessed"]
    assert (models[(reg.fraud, "3")].aliases, models[(reg.fraud, "3")].metrics) == (["champion"],
                                                                                    {"auc": 0.91, "f1": 0.8})
    assert models[(reg.assistant, "1")].description == "Customer-service assistant"
    events = list(session.scalars(select(AuditEvent).where(AuditEvent.seq > mark).order_by(AuditEvent.seq)))
    assert [(e.action, e.entity_id) for e in events] == [
        ("create", str(models[(reg.fraud, "3")].id)), ("update", str(models[(reg.assistant, "1")].id)),
        ("update", str(v1.id)), ("update", str(models[(reg.fraud, "2")].id))]
    assert json.loads(events[2].diff) == {"tags": [{"stage": "v1-level", "team": "risk"},
                                                   {"stage": "v1-level", "team": "risk", "validated": "yes"}]}
    assert json.loads(events[3].diff) == {"aliases": [["blessed", "champion"], ["blessed"]]}


def test_an_unreachable_server_fails_with_its_uri_and_writes_nothing(db_url: str) -> None:
    engine = make_engine(db_url)
    with make_sessionmaker(engine)() as session:
        unit = make_unit(session)
        before = audit_count(session)
        uri = f"http://127.0.0.1:{free_port()}"
        with pytest.raises(ServiceUnavailable) as caught:
            mlflow_sync.sync(session, None, uri, business_unit_id=unit.id)
        session.rollback()
        assert uri in caught.value.detail
        assert session.scalar(select(func.count()).select_from(Model)) == 0
        assert audit_count(session) == before
    engine.dispose()


@pytest.mark.parametrize("uri", ["ftp://mlflow.example.com", "mlflow.example.com", "http://", "", "sqlite:///x.db",
                                 "http://host:notaport", "http://exa mple.com"])
def test_malformed_tracking_uris_are_refused(uri: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        mlflow_sync.fetch(uri)
    assert caught.value.errors[0].field == "tracking_uri"


def test_refusals_are_raised_before_anything_is_written(session: Session, ml: MlflowClient,
                                                          tracking_uri: str) -> None:
    reg = make_registry(ml, tracking_uri)
    unit = make_unit(session)
    manual = make_model(session, unit=unit, name=reg.fraud, version="2")
    before = audit_count(session)
    with pytest.raises(Conflict, match=f"{reg.fraud} v2 \\(model {manual.id}\\)"):
        sync(session, tracking_uri, unit, reg)
    session.rollback()
    with pytest.raises(ValidationFailed, match="no registered model 'nope-missing'"):
        mlflow_sync.sync(session, None, tracking_uri, business_unit_id=unit.id, model_names=[reg.fraud, "nope-missing"])
    session.rollback()
    with pytest.raises(ValidationFailed, match="No business unit 999999"):
        mlflow_sync.sync(session, None, tracking_uri, business_unit_id=999999, model_names=[reg.assistant])
    session.rollback()
    ml.set_registered_model_tag(reg.assistant, mlflow_sync.KIND_TAG, "homegrown")
    with pytest.raises(ValidationFailed, match="aicoe.kind='homegrown' is not a model kind"):
        mlflow_sync.sync(session, None, tracking_uri, business_unit_id=unit.id, model_names=[reg.assistant])
    session.rollback()
    assert list(models_of(session, *reg.names)) == [(reg.fraud, "2")]
    assert audit_count(session) == before


def test_a_unit_scoped_principal_may_not_update_models_of_other_units(db_url: str, ml: MlflowClient,
                                                                      tracking_uri: str) -> None:
    reg = make_registry(ml, tracking_uri)
    engine = make_engine(db_url)
    with make_sessionmaker(engine)() as session:
        mine, other = make_unit(session), make_unit(session)
        sync(session, tracking_uri, other, reg)
        ml.update_model_version(reg.fraud, "1", description="changed")
        user = make_user(session, roles=[("practitioner", mine)])
        principal = Principal.resolve(session, user)
        with pytest.raises(PermissionDenied, match=f"{reg.fraud} v1"):
            mlflow_sync.sync(session, principal, tracking_uri, business_unit_id=mine.id, model_names=reg.names)
        session.rollback()
        with pytest.raises(PermissionDenied):
            mlflow_sync.sync(session, principal, tracking_uri, business_unit_id=other.id, model_names=reg.names)
        session.rollback()
        report = mlflow_sync.sync(session, principal, tracking_uri, business_unit_id=mine.id,
                                  model_names=[reg.assistant])
        assert (report.created, report.updated, labels(report.unchanged)) == ([], [], [f"{reg.assistant} v1"])
    engine.dispose()


# --- the API and the job ---------------------------------------------------------------------------------------

def test_the_api_queues_a_job_that_performs_the_sync(app, client: TestClient, db: Session, settings: Settings,  # noqa: ANN001
                                                      ml: MlflowClient, tracking_uri: str) -> None:
    reg = make_registry(ml, tracking_uri)
    unit = make_unit(db)
    user = make_user(db, email="lead@example.com", roles=[("coe_lead", None)])
    headers = {"Authorization": f"Bearer {make_token(db, user)}"}
    body = {"tracking_uri": tracking_uri + "/", "business_unit_id": unit.id, "model_names": reg.names}
    response = client.post("/api/v1/inventory/mlflow-sync", json=body, headers=headers)
    assert response.status_code == 202, response.text
    job = response.json()
    assert (job["kind"], job["status"]) == ("inventory.sync_mlflow", "queued")
    label = Principal.resolve(db, user, token=db.scalars(select(ApiToken)).one()).audit_actor.label
    assert label.startswith("lead@example.com (token ")
    assert job["payload"] == {"tracking_uri": tracking_uri, "business_unit_id": unit.id, "owner_id": None,
                              "model_names": reg.names, "requested_by": {"id": user.id, "label": label}}
    assert db.scalar(select(func.count()).select_from(Model)) == 0  # nothing until the job runs

    db.rollback()  # end the read snapshot so the job's writes are visible
    assert JobRunner(app.state.sessionmaker, settings).run_until_idle() == 1
    done = db.get(Job, job["id"])
    assert done is not None and done.status == "succeeded", done.error if done else None
    created = done.result["created"]
    assert [(e["name"], e["version"]) for e in created] == [(reg.assistant, "1"), (reg.fraud, "1"), (reg.fraud, "2")]
    assert (done.result["updated"], done.result["unchanged"]) == ([], [])
    assert done.message == f"3 created, 0 updated, 0 unchanged from {tracking_uri}"
    assert sorted(models_of(db, *reg.names)) == [(reg.assistant, "1"), (reg.fraud, "1"), (reg.fraud, "2")]
    actors = set(db.execute(select(AuditEvent.actor_type, AuditEvent.actor_label).where(
        AuditEvent.entity_type == "model")))
    assert actors == {("system", f"MLflow sync for {label}")}


def test_the_api_checks_permission_unit_and_uri_when_queueing(client: TestClient, db: Session) -> None:
    mine, other = make_unit(db), make_unit(db)
    practitioner = {"Authorization": f"Bearer {make_token(db, make_user(db, roles=[('practitioner', mine)]))}"}
    viewer = {"Authorization": f"Bearer {make_token(db, make_user(db, roles=[('viewer', None)]))}"}
    url = "/api/v1/inventory/mlflow-sync"
    good = {"tracking_uri": "http://mlflow.example.com", "business_unit_id": mine.id}
    assert client.post(url, json=good, headers=viewer).status_code == 403
    assert client.post(url, json={**good, "business_unit_id": other.id}, headers=practitioner).status_code == 403
    bad_uri = client.post(url, json={**good, "tracking_uri": "ftp://x"}, headers=practitioner)
    assert bad_uri.status_code == 422 and bad_uri.json()["errors"][0]["field"] == "tracking_uri"
    bad_owner = client.post(url, json={**good, "owner_id": 999999}, headers=practitioner)
    assert bad_owner.status_code == 422 and bad_owner.json()["errors"][0]["field"] == "owner_id"
    assert db.scalar(select(func.count()).select_from(Job)) == 0
    assert client.post(url, json=good, headers=practitioner).status_code == 202


# --- the command -----------------------------------------------------------------------------------------------

def test_the_command_prints_the_report_and_exits_1_on_error(db_url: str, tmp_path: Path, ml: MlflowClient,
                                                             tracking_uri: str, monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    reg = make_registry(ml, tracking_uri)
    engine = make_engine(db_url)
    with make_sessionmaker(engine)() as session:
        unit = make_unit(session, code="RISK")
        owner = make_user(session, email="owner@example.com")
    for key, value in {"AICOE_DATABASE_URL": db_url, "AICOE_DATA_DIR": str(tmp_path / "data"),
                       "AICOE_SECRET_KEY": "c" * 40}.items():
        monkeypatch.setenv(key, value)
    inventory_app = typer.Typer()
    inventory_app.callback()(lambda: None)
    mlflow_cli.register(inventory_app)
    runner = CliRunner()
    args = ["sync-mlflow", "--tracking-uri", tracking_uri, "--unit", "risk", "--owner", "owner@example.com",
            "--model", reg.fraud]
    first = runner.invoke(inventory_app, args, catch_exceptions=False)
    assert first.exit_code == 0, first.output
    assert f"2 created, 0 updated, 0 unchanged from {tracking_uri}" in first.output
    assert first.output.count("created") == 3 and reg.fraud in first.output
    again = runner.invoke(inventory_app, args, catch_exceptions=False)
    assert "0 created, 0 updated, 2 unchanged" in again.output
    with make_sessionmaker(engine)() as session:
        assert {(m.version, m.business_unit_id, m.owner_id) for m in models_of(session, reg.fraud).values()} == {
            ("1", unit.id, owner.id), ("2", unit.id, owner.id)}
    down = runner.invoke(inventory_app, ["sync-mlflow", "--tracking-uri", f"http://127.0.0.1:{free_port()}",
                                         "--unit", "RISK"], catch_exceptions=False)
    assert down.exit_code == 1 and "Service unavailable" in down.output and "cannot read models" in down.output
    unknown = runner.invoke(inventory_app, [*args[:3], "--unit", "NOPE", "--model", reg.fraud], catch_exceptions=False)
    bad = runner.invoke(inventory_app, ["sync-mlflow", "--tracking-uri", "ftp://x", "--unit", "RISK"],
                        catch_exceptions=False)
    assert bad.exit_code == 1 and "bad MLflow tracking URI" in bad.output
    assert unknown.exit_code == 1 and "no business unit with code 'NOPE'" in unknown.output
    engine.dispose()


def test_a_job_for_an_unknown_model_fails_at_once_with_the_reason(app, client: TestClient, db: Session,  # noqa: ANN001
                                                                   settings: Settings, tracking_uri: str) -> None:
    unit = make_unit(db)
    headers = {"Authorization": f"Bearer {make_token(db, make_user(db))}"}
    body = {"tracking_uri": tracking_uri, "business_unit_id": unit.id, "model_names": ["never-registered"]}
    job_id = client.post("/api/v1/inventory/mlflow-sync", json=body, headers=headers).json()["id"]
    db.rollback()
    JobRunner(app.state.sessionmaker, settings).run_until_idle()
    job = db.get(Job, job_id)
    assert job is not None
    assert (job.status, job.attempts, job.error) == ("failed", 1, "no registered model 'never-registered' on the "
                                                                  "MLflow server")
    assert db.scalar(select(func.count()).select_from(Model)) == 0


def test_without_mlflow_installed_the_sync_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mlflow.tracking", None)  # makes the import fail as if not installed
    with pytest.raises(ServiceUnavailable, match=r"pip install 'aicoe\[mlflow\]'"):
        mlflow_sync.fetch("http://mlflow.example.com")
