"""Evaluation runs in the platform: a run on an upload or a server path, end to end as a job (result, input hash,
audit events), where the server may read, refusals that change nothing, scoping and permissions, the report's
headers, cancellation, engine errors, runs as evidence, the stage-gate check and PoC criteria from a run.
Every test that touches SQL runs on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import io
import json
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import settings as settings_of_hypothesis
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aicoe.compliance import evidence
from aicoe.config import Settings
from aicoe.core.errors import NotFound, ValidationFailed
from aicoe.engines.evaluation import batch as engine_batch
from aicoe.engines.evaluation import engine as engine_module
from aicoe.engines.evaluation import io as engine_io
from aicoe.engines.evaluation import policy as engine_policy
from aicoe.evaluation import gate_checks, jobs, schemas, service
from aicoe.files import locations
from aicoe.jobs.runner import JobRunner
from aicoe.models.audit import AuditEvent
from aicoe.models.evaluation import EvaluationRun
from aicoe.models.inventory import AISystem
from aicoe.models.jobs import Job
from aicoe.models.portfolio import SuccessCriterion, UseCase
from aicoe.portfolio import lifecycle
from aicoe.portfolio.gates import registry
from tests.factories import _writing, bearer, make_settings, make_token, make_unit, make_user
from tests.inventory_factories import make_model, make_system
from tests.portfolio_factories import make_use_case
from tests.test_lifecycle import add_criterion, fresh

API = "/api/v1"
FAILING_POLICY = """name: Scorer thresholds
checks:
  - metric: accuracy
    ">=": 0.9
  - "demographic_parity_difference <= 0.1"
  - "roc_auc >= 0.5"
"""
PASSING_POLICY = "checks:\n  - accuracy >= 0.8\n  - demographic_parity_difference <= 0.5\n"
SPEC = {"label": "y", "prediction": "yhat", "scores": ["score"], "sensitive": ["sex"]}
OPTIONS = {"bootstrap": 0, "min_group_size": 10}
ROWS = 400
ACCURACY = (40 + 130 + 90 + 70) / ROWS  # 0.825: see predictions()
PARITY_DIFFERENCE = 120 / 200 - 50 / 200  # 0.35


@pytest.fixture
def settings(any_db_url: str, tmp_path: Path) -> Settings:
    return make_settings(any_db_url, tmp_path, scan_roots=[tmp_path / "lake"])


# --- arranging -------------------------------------------------------------------------------------------------

def predictions(*, bad_scores: int = 0) -> pa.Table:
    """400 rows, shuffled with a seeded generator: women (F) are selected at 0.25, men (M) at 0.6.
    F: 60 positives of which 40 predicted, 10 of 140 negatives predicted; M: 90 of 100 and 30 of 100."""
    def group(sex: str, positives: int, hits: int, negatives: int, false_alarms: int) -> dict[str, list[Any]]:
        y = [1] * positives + [0] * negatives
        yhat = [1] * hits + [0] * (positives - hits) + [1] * false_alarms + [0] * (negatives - false_alarms)
        return {"y": y, "yhat": yhat, "sex": [sex] * len(y)}

    women, men = group("F", 60, 40, 140, 10), group("M", 100, 90, 100, 30)
    columns = {k: women[k] + men[k] for k in women}
    order = np.random.default_rng(7).permutation(ROWS)
    table = {k: [v[i] for i in order] for k, v in columns.items()}
    score = [0.2 + 0.6 * p for p in table["yhat"]]
    for i in range(bad_scores):
        score[i] = 1.5
    income = np.random.default_rng(8).normal(50_000, 8_000, ROWS).round(2)
    return pa.table({**table, "score": score, "income": income})


def csv_bytes(table: pa.Table) -> bytes:
    out = io.BytesIO()
    pa_csv.write_csv(table, out)
    return out.getvalue()


def write_csv(path: Path, table: pa.Table) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(csv_bytes(table))
    return path


def people(db: Session) -> dict[str, Any]:
    unit_a, unit_b = make_unit(db, name="Lending"), make_unit(db, name="Retail")
    return {
        "a": unit_a, "b": unit_b,
        "admin": bearer(make_token(db, make_user(db))),
        "runner_a": bearer(make_token(db, make_user(db, roles=[("practitioner", unit_a)]))),
        "reader_a": bearer(make_token(db, make_user(db, roles=[("domain_expert", unit_a)]))),
        "runner_b": bearer(make_token(db, make_user(db, roles=[("practitioner", unit_b)]))),
        "reads_a_runs_b": bearer(make_token(db, make_user(db, roles=[("domain_expert", unit_a),
                                                                     ("practitioner", unit_b)]))),
        "viewer": bearer(make_token(db, make_user(db, roles=[("viewer", None)]))),
    }


def upload(client: TestClient, headers: dict[str, str], content: bytes, name: str = "scores.csv",
           content_type: str = "text/csv") -> dict[str, Any]:
    r = client.post(f"{API}/files", headers=headers, files={"file": (name, content, content_type)})
    assert r.status_code == 201, r.text
    return r.json()


def body(**fields: Any) -> dict[str, Any]:
    return {"name": "Scorer evaluation", "spec": SPEC, "options": OPTIONS, **fields}


def run_jobs(app, settings: Settings) -> int:  # noqa: ANN001
    return JobRunner(app.state.sessionmaker, settings).run_until_idle()


def queue(db: Session, settings: Settings, **fields: Any) -> EvaluationRun:
    """A run created by the system (no caller), in the test session's write transaction."""
    _writing(db)
    return service.new_run(db, None, settings, schemas.RunCreate.model_validate(body(**fields)))


def evaluated(db: Session, settings: Settings, **fields: Any) -> EvaluationRun:
    run = queue(db, settings, **fields)
    jobs.run_now(db, settings, run.id)
    db.commit()
    return run


def audit_trail(db: Session) -> list[tuple[str, str]]:
    fresh(db)
    return [(e.action, e.entity_id) for e in db.scalars(select(AuditEvent).where(
        AuditEvent.entity_type == "evaluation_run").order_by(AuditEvent.seq))]


def count(db: Session, entity: type) -> int:
    fresh(db)
    return db.scalar(select(func.count()).select_from(entity)) or 0


# --- a run, end to end -----------------------------------------------------------------------------------------

def test_a_run_on_an_upload_runs_as_a_job_and_stores_the_result(app, client: TestClient, db: Session,  # noqa: ANN001
                                                                 settings: Settings) -> None:
    who = people(db)
    system = make_system(db, unit=who["a"], name="Scorer")
    content = csv_bytes(predictions())
    stored = upload(client, who["runner_a"], content)
    r = client.post(f"{API}/evaluations", headers=who["runner_a"],
                    json=body(ai_system_id=system.id, file_id=stored["id"], policy=FAILING_POLICY))
    assert r.status_code == 202, r.text
    started = r.json()
    run_id, job_id = started["run"]["id"], started["job_id"]
    assert started["job_url"] == f"/api/v1/jobs/{job_id}"
    assert (started["run"]["status"], started["run"]["source"], started["run"]["business_unit_id"]) == (
        "queued", f"file:{stored['id']}", who["a"].id)
    assert started["run"]["ai_system"] == {"id": system.id, "name": "Scorer"} and started["run"]["model"] is None
    fresh(db)
    job = db.get(Job, job_id)
    assert (job.kind, job.payload, job.status) == ("evaluation.run", {"run_id": run_id}, "queued")

    assert run_jobs(app, settings) == 1
    fresh(db)
    job = db.get(Job, job_id)
    assert (job.status, job.progress) == ("succeeded", 1.0)
    assert job.result == {"run_id": run_id, "status": "completed", "rows": ROWS, "passed": False,
                          "checks_total": 3, "checks_failed": 2}
    run = db.get(EvaluationRun, run_id)
    assert (run.status, run.rows, run.passed, run.checks_total, run.checks_failed, run.error) == (
        "completed", ROWS, False, 3, 2, "")
    assert run.input_sha256 == stored["sha256"] == hashlib.sha256(content).hexdigest()
    assert run.fingerprint == run.result["fingerprint"] and len(run.fingerprint) == 64
    assert run.result["performance"]["overall"]["accuracy"] == pytest.approx(ACCURACY, rel=1e-12)
    assert [(c["metric"], c["passed"]) for c in run.result["checks"]] == [
        ("accuracy", False), ("demographic_parity_difference", False), ("roc_auc", True)]
    assert set(run.headline) == {"accuracy", "roc_auc", "worst_disparity", "worst_disparity_value",
                                 "four_fifths_ratio"}
    assert run.headline["accuracy"] == pytest.approx(ACCURACY, rel=1e-12)
    assert run.headline["worst_disparity"] in ("demographic_parity_difference", "equalized_odds_difference")
    assert run.headline["four_fifths_ratio"] == pytest.approx((50 / 200) / (120 / 200), rel=1e-12)
    assert run.started_at is not None and run.finished_at >= run.started_at
    assert audit_trail(db) == [("create", str(run_id)), ("complete", str(run_id))]
    complete = db.scalars(select(AuditEvent).where(AuditEvent.entity_type == "evaluation_run",
                                                   AuditEvent.action == "complete")).one()
    assert json.loads(complete.diff)["result"] == [None, evidence.sha256_of(run.result)]
    assert list((settings.data_dir / "tmp").iterdir()) == []  # the private copies are gone

    shown = client.get(f"{API}/evaluations/{run_id}", headers=who["reader_a"]).json()
    assert (shown["status"], shown["passed"], shown["result"]["rows"]) == ("completed", False, ROWS)
    listed = client.get(f"{API}/evaluations", headers=who["reader_a"], params={"ai_system_id": system.id}).json()
    assert ([r["id"] for r in listed["items"]], listed["total"]) == ([run_id], 1)
    assert "result" not in listed["items"][0]
    assert client.get(f"{API}/evaluations", headers=who["reader_a"], params={"status": "failed"}).json()["total"] == 0
    bad = client.get(f"{API}/evaluations", headers=who["reader_a"], params={"status": "done"})
    assert (bad.status_code, bad.json()["detail"]) == (422, "unknown status 'done'")


def test_a_run_on_a_server_path_hashes_the_file_or_the_directorys_manifest(db: Session, settings: Settings) -> None:
    unit = make_unit(db)
    model = make_model(db, unit=unit, name="scorer-gbm", version="3")
    single = write_csv(settings.data_dir / "datasets" / "scorer" / "may.csv", predictions())
    run = evaluated(db, settings, model_id=model.id, path="scorer/may.csv")
    assert (run.status, run.rows, run.business_unit_id) == ("completed", ROWS, unit.id)
    assert run.input_sha256 == hashlib.sha256(single.read_bytes()).hexdigest()
    assert run.passed is None and run.checks_total == 0  # no policy
    assert service.subject_label(run) == "model scorer-gbm 3"

    lake = Path(settings.scan_roots[0]) / "scorer"
    first, second = predictions().slice(0, 150), predictions().slice(150)
    write_csv(lake / "part-1.csv", first)
    write_csv(lake / "part-2.csv", second)
    (lake / "_SUCCESS").write_text("")
    run = evaluated(db, settings, model_id=model.id, path=lake.as_uri())
    manifest = "".join(f"{hashlib.sha256((lake / n).read_bytes()).hexdigest()}  {n}\n"
                       for n in ("part-1.csv", "part-2.csv"))
    assert (run.status, run.rows) == ("completed", ROWS)
    assert run.input_sha256 == hashlib.sha256(manifest.encode()).hexdigest()
    assert jobs.run_now(db, settings, run.id) == {"run_id": run.id, "status": "completed"}  # not evaluated again


def test_a_path_outside_the_allowed_directories_is_refused(db: Session, settings: Settings, tmp_path: Path) -> None:
    unit = make_unit(db)
    system = make_system(db, unit=unit)
    outside = write_csv(tmp_path / "elsewhere" / "scores.csv", predictions())
    cases = {
        str(outside): locations.OUTSIDE_ROOTS.format(uri=str(outside)),
        "../../elsewhere/scores.csv": locations.OUTSIDE_ROOTS.format(uri="../../elsewhere/scores.csv"),
        "s3://bucket/scores.parquet": locations.NOT_LOCAL.format(uri="s3://bucket/scores.parquet"),
        "scorer/none.csv": locations.MISSING_PATH.format(uri="scorer/none.csv"),
    }
    write_csv(settings.data_dir / "datasets" / "scores.csv", predictions())
    for path, message in cases.items():
        for fields, field in (({"path": path}, "path"), ({"path": "scores.csv", "reference_path": path},
                                                         "reference_path")):
            with pytest.raises(ValidationFailed) as refused:
                queue(db, settings, ai_system_id=system.id, **fields)
            assert (refused.value.detail, [e.field for e in refused.value.errors]) == (message, [field]), fields
    db.rollback()
    assert count(db, EvaluationRun) == 0


# --- refusals, scoping, permissions ----------------------------------------------------------------------------

def test_starting_a_run_is_refused_with_the_reason_and_nothing_changes(client: TestClient, db: Session,
                                                                       settings: Settings) -> None:
    who = people(db)
    system = make_system(db, unit=who["a"])
    mine = upload(client, who["runner_a"], csv_bytes(predictions()))["id"]
    theirs = upload(client, who["runner_b"], b"y,yhat\n1,1\n", "theirs.csv")["id"]
    notes = upload(client, who["runner_a"], b"just some notes\n", "notes.txt", "text/plain")["id"]
    columns = ", ".join(predictions().column_names)
    base = {"ai_system_id": system.id, "file_id": mine}
    cases: list[tuple[dict[str, Any], int, str, str | None]] = [
        ({**base, "policy": "checks:\n  - accuracy >= 0.8\n  - fairness >= 1\n"}, 422,
         engine_policy.UNKNOWN_METRIC.format(index=2, metric="fairness", known=", ".join(engine_policy.METRICS)),
         "policy"),
        ({**base, "policy": "checks: [accuracy >= 0.8"}, 422, None, "policy"),
        ({**base, "policy": "/etc/aicoe/policy.yaml"}, 422,
         engine_policy.NOT_A_MAPPING.format(kind="str"), "policy"),  # text is never read as a server path
        ({**base, "policy_template": "nope"}, 422, service.UNKNOWN_TEMPLATE.format(
            name="nope", names=", ".join(engine_policy.templates())), "policy_template"),
        ({**base, "policy": PASSING_POLICY, "policy_template": "fairness-baseline"}, 422,
         service.POLICY_AND_TEMPLATE, "policy_template"),
        ({**base, "spec": {**SPEC, "sensitive": ["gender"]}}, 422,
         engine_io.MISSING_COLUMN.format(column="gender", available=columns), "spec.sensitive"),
        ({**base, "spec": {**SPEC, "features": ["income", "age"]}}, 422,
         engine_io.MISSING_COLUMN.format(column="age", available=columns), "spec.features"),
        ({**base, "spec": {"label": "y"}}, 422, engine_module.LABEL_WITHOUT_PREDICTION.format(label="y"),
         "spec.prediction"),
        ({**base, "spec": {}}, 422, engine_module.NOTHING_TO_EVALUATE, "spec.label"),
        ({**base, "spec": {"prediction": "yhat", "sensitive": ["sex"]}}, 422,
         engine_module.FAIRNESS_NEEDS_LABEL.format(features="sex"), "spec.sensitive"),
        ({**base, "reference_path": "ref.csv", "options": {"drift_window": "7D"}}, 422,
         engine_module.WINDOW_NEEDS_TIMESTAMP.format(window="7D"), "spec.timestamp"),
        ({"ai_system_id": system.id}, 422, service.NO_INPUT, "file_id"),
        ({**base, "path": "scores.csv"}, 422, service.TWO_INPUTS.format(what="predictions"), "path"),
        ({"ai_system_id": system.id, "file_id": theirs}, 422, service.NO_FILE.format(file_id=theirs), "file_id"),
        ({"ai_system_id": system.id, "file_id": 999_999}, 422, service.NO_FILE.format(file_id=999_999), "file_id"),
        ({"ai_system_id": system.id, "file_id": notes}, 422,
         engine_io.UNKNOWN_FORMAT.format(name="notes.txt"), "file_id"),
        ({"file_id": mine}, 422, service.NO_SUBJECT, "ai_system_id"),
        ({**base, "ai_system_id": 999_999}, 404, service.NO_SYSTEM.format(id=999_999), "ai_system_id"),
        ({**base, "model_id": 999_999}, 404, service.NO_MODEL.format(id=999_999), "model_id"),
        ({**base, "spec": {**SPEC, "task": "ranking"}}, 422, None, None),
        ({**base, "engine": "spark"}, 422, None, None),
    ]
    before = count(db, AuditEvent)
    for payload, status, detail, field in cases:
        r = client.post(f"{API}/evaluations", headers=who["runner_a"], json=body(**payload))
        assert r.status_code == status, (payload, r.text)
        if detail is not None:
            assert r.json()["detail"] == detail, payload
        if field is not None:
            assert [e["field"] for e in r.json()["errors"]] == [field], payload
    assert count(db, EvaluationRun) == 0 and count(db, Job) == 0 and count(db, AuditEvent) == before
    assert list((settings.data_dir / "tmp").iterdir()) == []


def test_runs_are_scoped_to_their_subjects_unit(app, client: TestClient, db: Session,  # noqa: ANN001
                                                settings: Settings) -> None:
    who = people(db)
    system = make_system(db, unit=who["a"])
    write_csv(settings.data_dir / "datasets" / "scores.csv", predictions())
    start = body(ai_system_id=system.id, path="scores.csv")
    r = client.post(f"{API}/evaluations", headers=who["runner_b"], json=start)
    assert (r.status_code, r.json()["detail"]) == (404, service.NO_SYSTEM.format(id=system.id))
    r = client.post(f"{API}/evaluations", headers=who["reads_a_runs_b"], json=start)
    assert (r.status_code, r.json()["detail"]) == (
        403, "the 'evaluation:run' permission does not extend to that business unit")
    r = client.post(f"{API}/evaluations", headers=who["reader_a"], json=start)
    assert (r.status_code, r.json()["detail"]) == (403, "this action needs the 'evaluation:run' permission")
    assert client.post(f"{API}/evaluations", headers=who["viewer"], json=start).status_code == 403
    run_id = client.post(f"{API}/evaluations", headers=who["runner_a"], json=start).json()["run"]["id"]
    run_jobs(app, settings)
    assert client.get(f"{API}/evaluations/{run_id}", headers=who["runner_b"]).status_code == 404
    assert client.get(f"{API}/evaluations/{run_id}/report", headers=who["runner_b"]).status_code == 404
    assert client.get(f"{API}/evaluations", headers=who["runner_b"]).json()["total"] == 0
    assert client.get(f"{API}/evaluations/{run_id}", headers=who["viewer"]).status_code == 403
    assert client.get(f"{API}/evaluations/{run_id}", headers=who["reader_a"]).status_code == 200
    assert client.get(f"{API}/evaluations/{run_id}", headers=who["admin"]).status_code == 200

    _writing(db)
    db.get(AISystem, system.id).business_unit_id = who["b"].id  # a moved system takes its runs along
    db.commit()
    assert client.get(f"{API}/evaluations/{run_id}", headers=who["runner_b"]).status_code == 200
    assert client.get(f"{API}/evaluations/{run_id}", headers=who["reader_a"]).status_code == 404
    fresh(db)
    assert [r.id for r in service.runs_for_system(db, None, system.id)] == [run_id]
    assert service.recent_runs(db, None, limit=1)[0].id == run_id


def test_the_report_is_served_with_a_strict_content_security_policy(client: TestClient, db: Session,
                                                                    settings: Settings) -> None:
    who = people(db)
    system = make_system(db, unit=who["a"], name="<script>alert(1)</script>")
    run = queue(db, settings, ai_system_id=system.id, path=str(write_csv(
        settings.data_dir / "datasets" / "scores.csv", predictions())), policy=FAILING_POLICY)
    db.commit()
    early = client.get(f"{API}/evaluations/{run.id}/report", headers=who["reader_a"])
    assert (early.status_code, early.json()["detail"]) == (409, service.NO_RESULT.format(run_id=run.id,
                                                                                          status="queued"))
    _writing(db)
    jobs.run_now(db, settings, run.id)
    db.commit()
    r = client.get(f"{API}/evaluations/{run.id}/report", headers=who["reader_a"])
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["content-security-policy"] == "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert f"Evaluation run {run.id}: Scorer evaluation" in r.text and "<script>" not in r.text


def test_policy_templates_and_the_policy_check(client: TestClient, db: Session) -> None:
    who = people(db)
    templates = client.get(f"{API}/evaluations/policy-templates", headers=who["reader_a"]).json()
    assert templates == engine_policy.templates() and "credit-decisioning" in templates
    r = client.post(f"{API}/evaluations/policy-check", headers=who["reader_a"], json={"policy": FAILING_POLICY})
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "Scorer thresholds"
    assert [(c["metric"], c["comparator"], c["threshold"], c["scope"]) for c in r.json()["checks"]] == [
        ("accuracy", ">=", 0.9, "overall"), ("demographic_parity_difference", "<=", 0.1, "overall"),
        ("roc_auc", ">=", 0.5, "overall")]
    r = client.post(f"{API}/evaluations/policy-check", headers=who["reader_a"], json={"policy": "checks: []"})
    assert (r.status_code, r.json()["detail"]) == (422, engine_policy.NO_CHECKS.format(name="Evaluation policy"))
    assert r.json()["errors"] == [{"field": "policy", "message": r.json()["detail"]}]
    assert client.get(f"{API}/evaluations/policy-templates", headers=who["viewer"]).status_code == 403


# --- failures and cancellation ---------------------------------------------------------------------------------

def test_an_input_the_engine_refuses_fails_the_run_with_its_message(app, client: TestClient,  # noqa: ANN001
                                                                    db: Session, settings: Settings) -> None:
    who = people(db)
    system = make_system(db, unit=who["a"])
    stored = upload(client, who["runner_a"], csv_bytes(predictions(bad_scores=3)))
    r = client.post(f"{API}/evaluations", headers=who["runner_a"],
                    json=body(ai_system_id=system.id, file_id=stored["id"]))
    assert r.status_code == 202, r.text
    run_jobs(app, settings)
    fresh(db)
    run = db.get(EvaluationRun, r.json()["run"]["id"])
    message = engine_batch.SCORE_RANGE.format(column="score", count=3)
    assert (run.status, run.error, run.result, run.rows) == ("failed", message, None, None)
    job = db.get(Job, r.json()["job_id"])
    assert (job.status, job.error, job.attempts) == ("failed", message, 1)  # permanent: not retried
    assert audit_trail(db) == [("create", str(run.id)), ("fail", str(run.id))]


def test_a_path_that_disappears_fails_the_run_with_the_reason(db: Session, settings: Settings) -> None:
    system = make_system(db, unit=make_unit(db))
    path = write_csv(settings.data_dir / "datasets" / "gone.csv", predictions())
    run = queue(db, settings, ai_system_id=system.id, path="gone.csv")
    path.unlink()
    with pytest.raises(jobs.PermanentJobError):
        jobs.run_now(db, settings, run.id)
    db.commit()
    fresh(db)
    run = db.get(EvaluationRun, run.id)
    assert (run.status, run.error) == ("failed", locations.MISSING_PATH.format(uri="gone.csv"))


def test_a_cancelled_run_says_so(app, client: TestClient, db: Session, settings: Settings) -> None:  # noqa: ANN001
    who = people(db)
    system = make_system(db, unit=who["a"])
    write_csv(settings.data_dir / "datasets" / "scores.csv", predictions())
    start = body(ai_system_id=system.id, path="scores.csv")
    queued = client.post(f"{API}/evaluations", headers=who["runner_a"], json=start).json()
    assert client.post(f"{API}/jobs/{queued['job_id']}/cancel", headers=who["admin"]).status_code == 200
    shown = client.get(f"{API}/evaluations/{queued['run']['id']}", headers=who["reader_a"]).json()
    assert (shown["status"], shown["result"]) == ("cancelled", None)  # its job never ran it
    listed = client.get(f"{API}/evaluations", headers=who["reader_a"]).json()
    assert [r["status"] for r in listed["items"]] == ["cancelled"]

    running = client.post(f"{API}/evaluations", headers=who["runner_a"], json=start).json()
    _writing(db)
    db.get(Job, running["job_id"]).cancel_requested = True  # asked while the runner picks it up
    db.commit()
    assert run_jobs(app, settings) == 1
    fresh(db)
    run = db.get(EvaluationRun, running["run"]["id"])
    assert (run.status, run.error, run.result) == ("cancelled", jobs.CANCELLED, None)
    assert db.get(Job, running["job_id"]).status == "cancelled"
    assert audit_trail(db)[-1] == ("cancel", str(run.id))


# --- evidence --------------------------------------------------------------------------------------------------

def test_a_run_can_be_referenced_as_evidence(db: Session, settings: Settings) -> None:
    unit = make_unit(db)
    system = make_system(db, unit=unit, name="Scorer")
    model = make_model(db, unit=unit, name="scorer-gbm", version="3")
    write_csv(settings.data_dir / "datasets" / "scores.csv", predictions())
    run = evaluated(db, settings, ai_system_id=system.id, model_id=model.id, path="scores.csv",
                    policy=FAILING_POLICY)
    snapshot = evidence.resolve_record(db, None, "evaluation_run", str(run.id))
    assert snapshot["label"] == (f"Evaluation run {run.id} (Scorer evaluation) of Scorer (model scorer-gbm 3): "
                                 "completed, 2 of 3 policy checks failed")
    assert (snapshot["business_unit_id"], snapshot["ai_system_id"], snapshot["model_id"]) == (
        unit.id, system.id, model.id)
    assert (snapshot["rows"], snapshot["passed"], snapshot["input_sha256"]) == (ROWS, False, run.input_sha256)
    assert [c[0] for c in snapshot["checks"]] == ["accuracy", "demographic_parity_difference", "roc_auc"]
    assert snapshot["checks"][0][1] == pytest.approx(ACCURACY, rel=1e-12) and snapshot["checks"][0][2] is False
    assert evidence.record_label("evaluation_run") == "Evaluation run"

    _writing(db)
    record = evidence.add_record(db, None, record_type="evaluation_run", record_ref=str(run.id),
                                 business_unit_id=unit.id, effective_date=date(2026, 5, 1))
    db.commit()
    assert record.title == snapshot["label"]
    assert evidence.record_state(db, record) == "unchanged"
    _writing(db)
    db.get(AISystem, system.id).name = "Scorer v2"
    db.commit()
    assert evidence.record_state(db, record) == "changed"
    with pytest.raises(ValidationFailed, match=service.RUN_BY_NUMBER):
        evidence.resolve_record(db, None, "evaluation_run", "latest")
    with pytest.raises(NotFound):
        evidence.resolve_record(db, None, "evaluation_run", "424242")


# --- the stage gate --------------------------------------------------------------------------------------------

def gate_outcome(db: Session, use_case: UseCase, to_stage: str = "pilot") -> tuple[bool, str, bool]:
    fresh(db)
    gate = lifecycle.gate(db, db.get_one(UseCase, use_case.id), to_stage)
    [check] = [c for c in gate.checks if c.check == "evaluation.thresholds_met"]
    return check.ok, check.message, check.overridable


def test_the_gate_check_is_registered_on_pilot_and_production() -> None:
    mine = [(c.to_stage, c.name, c.overridable, c.label) for c in registry.all_checks()
            if c.module == gate_checks.__name__]
    assert mine == [("pilot", "evaluation.thresholds_met", True, "Evaluation policy checks passed"),
                    ("production", "evaluation.thresholds_met", True, "Evaluation policy checks passed")]
    assert gate_checks.describe_failure({"metric": "rmse", "comparator": "<=", "threshold": 1000.0,
                                         "value": 1234.5, "failing": []}) == "rmse 1234 > 1000"
    assert gate_checks.describe_failure({"metric": "accuracy", "comparator": ">=", "threshold": 0.85,
                                         "value": 0.71, "failing": [{"group": "F", "value": 0.71}]}) == (
        "accuracy 0.71 < 0.85 in F")
    assert gate_checks.describe_failure({"metric": "roc_auc", "comparator": ">=", "threshold": 0.7, "value": None,
                                         "reason": "value undefined: one class only"}) == (
        "roc_auc: value undefined: one class only")


def test_a_failed_run_blocks_the_move_into_pilot_until_a_run_passes(db: Session, settings: Settings) -> None:
    unit = make_unit(db)
    use_case = make_use_case(db, unit=unit, stage="proof_of_concept")
    system = make_system(db, unit=unit, name="Scorer", use_case=use_case)
    make_system(db, unit=unit, name="Unevaluated", use_case=use_case)
    write_csv(settings.data_dir / "datasets" / "scores.csv", predictions())
    assert gate_outcome(db, use_case) == (True, "", True)  # no run yet

    failed = evaluated(db, settings, ai_system_id=system.id, path="scores.csv", policy=FAILING_POLICY)
    evaluated(db, settings, ai_system_id=system.id, path="scores.csv")  # no policy: does not count
    evaluated(db, settings, ai_system_id=system.id, path="scores.csv", policy=PASSING_POLICY, gate=False)
    expected = (f"AI system Scorer: evaluation run #{failed.id} failed 2 of 3 policy checks: accuracy 0.825 < 0.9; "
                "demographic_parity_difference 0.35 > 0.1.")
    assert gate_outcome(db, use_case) == (False, expected, True)

    evaluated(db, settings, ai_system_id=system.id, path="scores.csv", policy=PASSING_POLICY)
    assert gate_outcome(db, use_case) == (True, "", True)


# --- PoC success criteria from a run ---------------------------------------------------------------------------

def test_a_criterions_result_is_taken_from_a_run(client: TestClient, db: Session, settings: Settings) -> None:
    who = people(db)
    use_case = make_use_case(db, unit=who["a"], stage="proof_of_concept")
    system = make_system(db, unit=who["a"], name="Scorer", use_case=use_case)
    accuracy = add_criterion(db, use_case, metric="accuracy", threshold=0.8)
    parity = add_criterion(db, use_case, metric="Fairness gap", comparator="<=", threshold=0.1)
    write_csv(settings.data_dir / "datasets" / "scores.csv", predictions())
    run = evaluated(db, settings, ai_system_id=system.id, path="scores.csv")
    queued = queue(db, settings, ai_system_id=system.id, path="scores.csv")
    db.commit()
    writer = bearer(make_token(db, make_user(db, roles=[("coe_lead", who["a"])])))
    url = f"{API}/use-cases/{use_case.key}/criteria/{{}}/result-from-run"

    r = client.post(url.format(accuracy.id), headers=writer, json={"run_id": run.id})
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["result_value"] == pytest.approx(ACCURACY, rel=1e-12) and got["passed"] is True
    assert (got["result_evidence"], got["result_note"]) == (
        f"evaluation-run:{run.id}", f"accuracy from evaluation run {run.id} (Scorer evaluation)")
    r = client.post(url.format(parity.id), headers=writer,
                    json={"run_id": run.id, "metric": "demographic_parity_difference"})
    assert (r.json()["result_value"], r.json()["passed"]) == (pytest.approx(PARITY_DIFFERENCE, rel=1e-12), False)
    fresh(db)
    assert db.get(SuccessCriterion, parity.id).result_evidence == f"evaluation-run:{run.id}"
    assert db.scalars(select(AuditEvent.action).where(AuditEvent.entity_type == "success_criterion")
                      .order_by(AuditEvent.seq)).all()[-2:] == ["result", "result"]

    refused = [
        ({"run_id": queued.id}, 422, service.NO_RESULT.format(run_id=queued.id, status="queued")),
        ({"run_id": run.id, "metric": "drift_share"}, 422, service.METRIC_UNDEFINED.format(
            run_id=run.id, metric="drift_share",
            reason=engine_policy.NO_SECTION.format(section="drift", why=engine_policy.SECTION_WHY["drift"]))),
        ({"run_id": run.id, "metric": "psi"}, 422, service.NOT_A_RUN_METRIC.format(metric="psi")),
        ({"run_id": 999_999}, 404, service.NO_RUN.format(run_id=999_999)),
    ]
    for payload, status, detail in refused:
        r = client.post(url.format(accuracy.id), headers=writer, json=payload)
        assert (r.status_code, r.json()["detail"]) == (status, detail), payload
    r = client.post(url.format(parity.id), headers=who["reader_a"], json={"run_id": run.id})
    assert r.status_code == 403


# --- the column check ------------------------------------------------------------------------------------------

NAMES = st.sampled_from(["y", "yhat", "score", "sex", "age", "income", "Y", "y "])


@settings_of_hypothesis(max_examples=50, deadline=None)
@given(available=st.lists(NAMES, unique=True), label=NAMES, sensitive=st.lists(NAMES, max_size=3),
       features=st.none() | st.lists(NAMES, max_size=3))
def test_the_column_check_names_the_first_missing_column_on_its_field(
        available: list[str], label: str, sensitive: list[str], features: list[str] | None) -> None:
    spec = schemas.SpecIn(label=label, prediction="yhat", sensitive=sensitive, features=features)
    named = [("label", spec.label), ("prediction", "yhat"), *(("sensitive", s) for s in spec.sensitive),
             *(("features", f) for f in spec.features or [])]
    missing = [(field, column) for field, column in named if column not in available]
    try:
        service.check_columns(spec, available)
    except ValidationFailed as refused:
        field, column = missing[0]
        assert refused.detail == engine_io.MISSING_COLUMN.format(column=column, available=", ".join(available))
        assert [e.field for e in refused.errors] == [f"spec.{field}"]
    else:
        assert missing == []
    reference_missing = [c for c in spec.features or [] if c not in available]
    try:
        service.check_columns(spec, available, reference=True)
    except ValidationFailed as refused:
        assert refused.detail.startswith(f"missing column {reference_missing[0]!r}")
        assert [e.field for e in refused.errors] == ["reference_path"]
    else:
        assert reference_missing == []
