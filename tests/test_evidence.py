"""Evidence: files stored content-addressed (hash exact, identical content once, limits and type checks that
leave nothing behind), links and record references, versions, four-eyes review, expiry and reminders, links to
results, implementations and risks, scoping and download, the API, pages and CLI."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from aicoe.audit.ledger import SYSTEM, canonical_json
from aicoe.auth.principal import Principal
from aicoe.cli.main import app as cli
from aicoe.compliance import evidence
from aicoe.compliance.evidence_reminders import JOB_KIND, send_reminders
from aicoe.config import Settings
from aicoe.core.db import make_engine, make_sessionmaker
from aicoe.core.errors import NotFound, ValidationFailed
from aicoe.core.pagination import PageParams
from aicoe.core.time import isoformat, utcnow
from aicoe.jobs import service as jobs
from aicoe.jobs.runner import JobRunner
from aicoe.models.audit import AuditEvent
from aicoe.models.compliance import (
    Assessment,
    Classification,
    ControlImplementation,
    Evidence,
    EvidenceLink,
    RequirementResult,
)
from aicoe.models.files import StoredFile
from aicoe.models.jobs import Job
from aicoe.models.org import BusinessUnit
from aicoe.models.risk import Risk
from tests.factories import (
    PASSWORD,
    bearer,
    csrf_from,
    login,
    make_settings,
    make_token,
    make_unit,
    make_user,
)
from tests.governance_factories import make_control, make_framework, requirement
from tests.inventory_factories import _add, make_system

API = "/api/v1"
LIMIT = 2048
TODAY = date.today()
REPORT = b"# Bias test report\n\nDisparate impact ratio 0.91 (age 60+ vs 30-39).\n"


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return make_settings(db_url, tmp_path, evidence_max_bytes=LIMIT)


def headers_for(db: Session, **user_kwargs: object) -> dict[str, str]:
    return bearer(make_token(db, make_user(db, **user_kwargs)))  # type: ignore[arg-type]


def count(db: Session, model: type) -> int:
    db.rollback()
    return db.scalar(select(func.count()).select_from(model)) or 0


def actions(db: Session, entity_type: str) -> list[str]:
    db.rollback()
    return list(db.scalars(select(AuditEvent.action).where(AuditEvent.entity_type == entity_type)
                           .order_by(AuditEvent.seq)))


def errors_of(response) -> dict[str, str]:  # noqa: ANN001
    return {e["field"]: e["message"] for e in response.json().get("errors", [])}


def blobs(settings: Settings) -> list[Path]:
    root = settings.data_dir / "files"
    return [p for p in root.rglob("*") if p.is_file() and "tmp" not in p.relative_to(root).parts] \
        if root.exists() else []


def upload(client: TestClient, headers: dict[str, str], unit: BusinessUnit, *, name: str = "bias-report.md",
           content: bytes = REPORT, content_type: str = "text/markdown", **fields: str):  # noqa: ANN201
    data = {"business_unit_id": str(unit.id), "effective_date": TODAY.isoformat(), **fields}
    return client.post(f"{API}/evidence/files", headers=headers, data=data,
                       files={"file": (name, content, content_type)})


def make_evidence(db: Session, unit: BusinessUnit, title: str, *, expires_on: date | None = None,
                  uploaded_by: int | None = None, **fields: object) -> Evidence:
    db.commit()
    values: dict[str, object] = dict(kind="link", url="https://docs.example/x", sha256="0" * 64, version=1,
                                     is_latest=True)
    values.update(fields)
    return _add(db, Evidence(title=title, business_unit_id=unit.id, effective_date=TODAY - timedelta(days=30),
                             expires_on=expires_on, uploaded_by_id=uploaded_by, **values))


# --- files -------------------------------------------------------------------------------------------------------

def test_files_are_hashed_exactly_and_identical_content_is_stored_once(client: TestClient, db: Session,
                                                                      settings: Settings) -> None:
    unit = make_unit(db, name="Retail")
    headers = headers_for(db)
    future = (TODAY + timedelta(days=20)).isoformat()
    r = upload(client, headers, unit, title="Bias test Q3", evidence_type="test_result", effective_date=future,
               expires_on=(TODAY + timedelta(days=400)).isoformat(), description="Quarterly run")
    assert r.status_code == 201, r.text
    first = r.json()
    assert (first["sha256"], first["size"], first["kind"], first["title"], first["effective_date"]) == (
        hashlib.sha256(REPORT).hexdigest(), len(REPORT), "file", "Bias test Q3", future)
    assert (first["version"], first["series_id"], first["is_latest"], first["review_status"]) == (1, None, True,
                                                                                                  "pending")
    assert first["file"]["filename"] == "bias-report.md" and first["download_url"] == \
        f"/api/v1/evidence/{first['id']}/download"
    r = upload(client, headers, unit, name="copy.md")  # same bytes, no title: the file's name is the title
    assert r.status_code == 201 and r.json()["title"] == "copy.md" and r.json()["sha256"] == first["sha256"]
    assert len(blobs(settings)) == 1 and count(db, StoredFile) == 2 and count(db, Evidence) == 2
    assert actions(db, "evidence") == ["create", "create"] and actions(db, "stored_file") == ["upload", "upload"]
    download = client.get(first["download_url"], headers=headers)
    assert download.status_code == 200 and download.content == REPORT
    assert download.headers["content-disposition"] == \
        "attachment; filename=\"bias-report.md\"; filename*=UTF-8''bias-report.md"
    assert download.headers["etag"] == f'"{first["sha256"]}"'


def test_oversized_refused_and_invalid_uploads_leave_nothing(client: TestClient, db: Session,
                                                              settings: Settings) -> None:
    unit = make_unit(db)
    headers = headers_for(db)
    r = upload(client, headers, unit, name="big.txt", content=b"x" * (LIMIT + 1), content_type="text/plain")
    assert r.status_code == 413 and errors_of(r) == {"file": "The file is larger than the upload limit of 2 KiB."}
    r = upload(client, headers, unit, name="huge.txt", content=b"x" * (200 * 1024), content_type="text/plain")
    assert r.status_code == 413 and r.json()["limit_bytes"] == LIMIT  # refused before the body is read
    r = upload(client, headers, unit, name="tool.exe", content=b"MZ\x90\x00", content_type="application/octet-stream")
    assert r.status_code == 415 and "files of type .exe are not accepted" in r.json()["detail"]
    r = upload(client, headers, unit, name="report.pdf", content=b"not a pdf", content_type="application/pdf")
    assert r.status_code == 415 and "is not a PDF document" in r.json()["detail"]
    r = upload(client, headers, unit, expires_on=(TODAY - timedelta(days=1)).isoformat())
    assert r.status_code == 422 and errors_of(r) == {"expires_on": f"Must be after the effective date ({TODAY})."}
    r = upload(client, headers, unit, business_unit_id="999999", evidence_type="selfie")
    assert r.status_code == 422 and set(errors_of(r)) == {"evidence_type"}
    r = upload(client, headers, unit, business_unit_id="999999")
    assert r.status_code == 422 and errors_of(r) == {"business_unit_id": "No business unit 999999."}
    r = client.post(f"{API}/evidence/files", headers=headers, data={"business_unit_id": str(unit.id),
                                                                    "effective_date": TODAY.isoformat()})
    assert r.status_code == 422
    assert count(db, Evidence) == 0 and count(db, StoredFile) == 0 and blobs(settings) == []


# --- links and records -------------------------------------------------------------------------------------------

def test_links_and_record_references_are_hashed(client: TestClient, db: Session) -> None:
    unit, other = make_unit(db, name="Retail"), make_unit(db, name="Insurance")
    admin = headers_for(db)
    url = "https://wiki.example/validation/credit-7"
    r = client.post(f"{API}/evidence/links", headers=admin, json={
        "url": url, "title": "Model validation sign-off", "business_unit_id": unit.id,
        "effective_date": "2026-03-01", "evidence_type": "approval"})
    assert r.status_code == 201, r.text
    expected = hashlib.sha256(canonical_json({"url": url, "title": "Model validation sign-off",
                                              "effective_date": "2026-03-01"}).encode()).hexdigest()
    assert (r.json()["sha256"], r.json()["kind"], r.json()["download_url"]) == (expected, "link", None)
    for bad in ("ftp://files.example/x", "javascript:alert(1)", "https://"):
        r = client.post(f"{API}/evidence/links", headers=admin, json={
            "url": bad, "title": "x", "business_unit_id": unit.id, "effective_date": "2026-03-01"})
        assert r.status_code == 422 and set(errors_of(r)) == {"url"}, bad
    # an audit event, captured field by field
    event = db.scalar(select(AuditEvent).where(AuditEvent.entity_type == "evidence").order_by(AuditEvent.seq))
    assert event is not None
    r = client.post(f"{API}/evidence/records", headers=admin, json={
        "record_type": "audit_event", "record_ref": str(event.seq), "business_unit_id": unit.id,
        "effective_date": TODAY.isoformat()})
    assert r.status_code == 201, r.text
    snapshot = {"label": f"Audit event {event.seq}: create evidence {event.entity_id}", "seq": event.seq,
                "ts": isoformat(event.ts), "action": "create", "entity_type": "evidence",
                "entity_id": event.entity_id, "hash": event.hash}
    assert r.json()["sha256"] == hashlib.sha256(canonical_json(snapshot).encode()).hexdigest()
    assert r.json()["title"] == snapshot["label"]
    # a classification: hashed as captured, and shown as changed once the record changes
    system = make_system(db, unit=other, name="Claims triage")
    classification = _add(db, Classification(ai_system_id=system.id, version=1, questionnaire_version="1",
                                              answers={"annex_iii": "none"}, tier="minimal"))
    r = client.post(f"{API}/evidence/records", headers=admin, json={
        "record_type": "classification", "record_ref": str(classification.id), "business_unit_id": other.id,
        "effective_date": TODAY.isoformat()})
    assert r.status_code == 201
    record_id = r.json()["id"]
    assert r.json()["title"] == "EU AI Act classification of Claims triage, version 1: Minimal"
    assert client.get(f"{API}/evidence/{record_id}", headers=admin).json()["record_state"] == "unchanged"
    db.rollback()
    db.get(Classification, classification.id).tier = "limited"  # type: ignore[union-attr]
    db.commit()
    assert client.get(f"{API}/evidence/{record_id}", headers=admin).json()["record_state"] == "changed"
    r = client.post(f"{API}/evidence/records", headers=admin, json={
        "record_type": "classification", "record_ref": "424242", "business_unit_id": unit.id,
        "effective_date": TODAY.isoformat()})
    assert r.status_code == 404 and errors_of(r) == {"record_ref": "EU AI Act classification '424242' does not exist."}
    r = client.post(f"{API}/evidence/records", headers=admin, json={
        "record_type": "horoscope", "record_ref": "1", "business_unit_id": unit.id, "effective_date": "2026-01-01"})
    assert r.status_code == 422 and set(errors_of(r)) == {"record_type"}
    r = client.post(f"{API}/evidence/records", headers=admin, json={
        "record_type": "assessment", "record_ref": "first", "business_unit_id": unit.id,
        "effective_date": "2026-01-01"})
    assert r.status_code == 422 and errors_of(r) == {"record_ref": "Assessments are referenced by their number."}
    # a record in a unit the caller cannot read is answered as missing
    scoped = headers_for(db, roles=[("practitioner", unit)])
    r = client.post(f"{API}/evidence/records", headers=scoped, json={
        "record_type": "classification", "record_ref": str(classification.id), "business_unit_id": unit.id,
        "effective_date": TODAY.isoformat()})
    assert r.status_code == 404
    assert count(db, Evidence) == 3


# --- versions and links ------------------------------------------------------------------------------------------

def test_new_versions_join_the_series_and_links_show_the_latest(client: TestClient, db: Session) -> None:
    unit = make_unit(db)
    system = make_system(db, unit=unit, name="Scorer")
    implementation = _add(db, ControlImplementation(control_id=make_control(db).id, subject_type="ai_system",
                                                    subject_id=system.id, business_unit_id=unit.id))
    admin = headers_for(db)
    first = client.post(f"{API}/evidence/links", headers=admin, json={
        "url": "https://wiki.example/v1", "title": "Runbook", "business_unit_id": unit.id,
        "effective_date": "2026-01-01", "expires_on": "2026-07-01"}).json()
    r = client.post(f"{API}/evidence/{first['id']}/links", headers=admin,
                    json={"target_type": "control_implementation", "target_id": implementation.id})
    assert r.status_code == 201 and r.json()["evidence_id"] == first["id"]
    link_id = r.json()["id"]
    again = client.post(f"{API}/evidence/{first['id']}/links", headers=admin,
                        json={"target_type": "control_implementation", "target_id": implementation.id})
    assert again.json()["id"] == link_id  # idempotent
    wrong = client.post(f"{API}/evidence/{first['id']}/versions", headers=admin,
                        data={"effective_date": "2026-06-01"}, files={"file": ("x.txt", b"x", "text/plain")})
    assert wrong.status_code == 422 and set(errors_of(wrong)) == {"file"}
    r = client.post(f"{API}/evidence/{first['id']}/versions", headers=admin,
                    data={"effective_date": "2026-06-01", "url": "https://wiki.example/v2"})
    assert r.status_code == 201, r.text
    second = r.json()
    assert (second["version"], second["series_id"], second["title"], second["expires_on"], second["url"]) == (
        2, first["id"], "Runbook", None, "https://wiki.example/v2")
    third = client.post(f"{API}/evidence/{first['id']}/versions", headers=admin,  # from any version of the series
                        data={"effective_date": "2026-09-01", "url": "https://wiki.example/v3",
                              "title": "Runbook 2026"}).json()
    assert (third["version"], third["series_id"]) == (3, first["id"])
    versions = client.get(f"{API}/evidence/{second['id']}/versions", headers=admin).json()
    assert [(v["version"], v["is_latest"]) for v in versions] == [(3, True), (2, False), (1, False)]
    db.rollback()
    assert [e.id for e in evidence.linked(db, "control_implementation", [implementation.id])[implementation.id]] \
        == [third["id"]]
    detail = client.get(f"{API}/evidence/{third['id']}", headers=admin).json()
    assert detail["links"] == [{"id": link_id, "target_type": "control_implementation",
                                "target_id": implementation.id,
                                "target": {"type": "control_implementation", "id": implementation.id,
                                           "label": f"{implementation.control.code} on Scorer",
                                           "url": f"/controls/{implementation.control_id}"}}]
    listed = client.get(f"{API}/evidence", headers=admin).json()
    assert [e["id"] for e in listed["items"]] == [third["id"]]
    assert client.get(f"{API}/evidence", headers=admin, params={"all_versions": "true"}).json()["total"] == 3
    assert client.delete(f"{API}/evidence/{first['id']}/links/{link_id}", headers=admin).status_code == 204
    assert count(db, EvidenceLink) == 0
    assert actions(db, "evidence") == ["create", "link", "new_version", "new_version", "unlink"]
    # a file series takes a file
    file_ev = upload(client, admin, unit).json()
    r = client.post(f"{API}/evidence/{file_ev['id']}/versions", headers=admin, data={"effective_date": "2026-02-01"},
                    files={"file": ("bias-report.md", REPORT + b"Re-run.\n", "text/markdown")})
    assert r.status_code == 201 and r.json()["sha256"] == hashlib.sha256(REPORT + b"Re-run.\n").hexdigest()
    r = client.post(f"{API}/evidence/{file_ev['id']}/versions", headers=admin, data={"effective_date": "2026-03-01"})
    assert r.status_code == 422 and errors_of(r) == {"file": "Choose the file of the new version."}


# --- review ------------------------------------------------------------------------------------------------------

def test_review_is_four_eyes_and_a_rejection_says_why(client: TestClient, db: Session) -> None:
    unit = make_unit(db)
    uploader = headers_for(db, roles=[("risk_compliance", None)])
    reviewer = headers_for(db, roles=[("ethics_board", None)], full_name="Rita Reviewer")
    practitioner = headers_for(db, roles=[("practitioner", None)])
    ev = upload(client, uploader, unit).json()
    r = client.post(f"{API}/evidence/{ev['id']}/review", headers=uploader, json={"decision": "accepted"})
    assert r.status_code == 422 and errors_of(r) == {
        "decision": "You added this evidence: another reviewer must sign it off (four-eyes rule)."}
    r = client.post(f"{API}/evidence/{ev['id']}/review", headers=reviewer, json={"decision": "rejected"})
    assert r.status_code == 422 and errors_of(r) == {"note": "Say why the evidence is rejected."}
    assert client.post(f"{API}/evidence/{ev['id']}/review", headers=practitioner,
                       json={"decision": "accepted"}).status_code == 403
    r = client.post(f"{API}/evidence/{ev['id']}/review", headers=reviewer,
                    json={"decision": "rejected", "note": "The report does not cover age bands."})
    assert r.status_code == 200
    out = r.json()
    assert (out["review_status"], out["reviewer"]["full_name"], out["review_note"]) == (
        "rejected", "Rita Reviewer", "The report does not cover age bands.")
    newer = client.post(f"{API}/evidence/{ev['id']}/versions", headers=uploader, data={"effective_date": "2026-05-01"},
                        files={"file": ("bias-report.md", REPORT + b"Age bands added.\n", "text/markdown")}).json()
    assert newer["review_status"] == "pending"
    assert client.post(f"{API}/evidence/{ev['id']}/review", headers=reviewer,
                       json={"decision": "accepted"}).status_code == 409
    r = client.post(f"{API}/evidence/{newer['id']}/review", headers=reviewer, json={"decision": "accepted"})
    assert r.status_code == 200 and r.json()["review_status"] == "accepted"
    assert actions(db, "evidence").count("review") == 2


# --- expiry and reminders ----------------------------------------------------------------------------------------

@pytest.fixture
def any_db(any_db_url: str, tmp_path: Path) -> Iterator[tuple[Session, Settings]]:
    """A session and settings on a fresh database of each backend (the date filters are SQL)."""
    engine = make_engine(any_db_url)
    session = make_sessionmaker(engine)()
    yield session, make_settings(any_db_url, tmp_path, evidence_reminder_days=30)
    session.rollback()
    session.close()
    engine.dispose()


def test_expiry_filters_and_reminders_are_stamped_audited_and_weekly(
        any_db: tuple[Session, Settings], caplog: pytest.LogCaptureFixture) -> None:
    db, settings = any_db
    unit = make_unit(db)
    expired = make_evidence(db, unit, "Pen test 2025", expires_on=TODAY - timedelta(days=5))
    soon = make_evidence(db, unit, "DPIA", expires_on=TODAY + timedelta(days=10))
    make_evidence(db, unit, "Vendor SOC 2", expires_on=TODAY + timedelta(days=60))
    make_evidence(db, unit, "Policy", expires_on=None)
    old = make_evidence(db, unit, "Runbook v1", expires_on=TODAY + timedelta(days=3), is_latest=False)
    make_evidence(db, unit, "Runbook v2", series_id=old.id, version=2)
    assert [e.title for e in evidence.expiring(db, None, 30)] == ["DPIA"]
    assert [e.title for e in evidence.expired(db, None)] == ["Pen test 2025"]
    page = evidence.list_evidence(db, None, PageParams(sort="title"), expiry="valid", within_days=30)
    assert [e.title for e in page.items] == ["Policy", "Runbook v2", "Vendor SOC 2"]
    assert evidence.counts(db, None, 30) == {"total": 5, "expired": 1, "expiring": 1, "pending": 5}
    caplog.set_level(logging.INFO, logger="aicoe.compliance.evidence_reminders")
    now = utcnow()
    report = send_reminders(db, None, settings, now=now)
    db.commit()
    assert (report.expiring, report.expired, report.evidence_ids) == (1, 1, [expired.id, soon.id])
    assert [(r.getMessage()) for r in caplog.records] == [
        f"evidence reminder: evidence {expired.id} 'Pen test 2025' expired 5 day(s) ago "
        f"(on {(TODAY - timedelta(days=5)).isoformat()})",
        f"evidence reminder: evidence {soon.id} 'DPIA' expires in 10 day(s) "
        f"(on {(TODAY + timedelta(days=10)).isoformat()})"]
    reminders = list(db.scalars(select(AuditEvent).where(AuditEvent.action == "remind").order_by(AuditEvent.seq)))
    assert [(e.entity_type, e.entity_id) for e in reminders] == [("evidence", str(expired.id)),
                                                                 ("evidence", str(soon.id))]
    assert '"state":[null,"expired"]' in reminders[0].diff
    db.expire_all()
    assert db.get(Evidence, soon.id).last_reminded_at is not None  # type: ignore[union-attr]
    assert send_reminders(db, None, settings, now=now + timedelta(days=1)).reminded == 0  # not twice in a week
    again = send_reminders(db, None, settings, now=now + timedelta(days=7, minutes=1))
    assert again.evidence_ids == [expired.id, soon.id]


def test_reminder_job_and_api_run(client: TestClient, db: Session, settings: Settings, app) -> None:  # noqa: ANN001
    unit, other = make_unit(db), make_unit(db)
    mine = make_evidence(db, unit, "Mine", expires_on=TODAY + timedelta(days=2))
    theirs = make_evidence(db, other, "Theirs", expires_on=TODAY - timedelta(days=1))
    scoped = headers_for(db, roles=[("practitioner", unit)])
    r = client.post(f"{API}/evidence/reminders", headers=scoped)  # only the units the caller may write
    assert r.status_code == 200 and r.json() == {"expiring": 1, "expired": 0, "reminded": 1,
                                                 "evidence_ids": [mine.id]}
    db.rollback()
    job = jobs.enqueue(db, SYSTEM, JOB_KIND)
    db.commit()
    assert JobRunner(app.state.sessionmaker, settings).run_until_idle() == 1
    db.expire_all()
    done = db.get(Job, job.id)
    assert done is not None and (done.status, done.result) == (
        "succeeded", {"expiring": 0, "expired": 1, "reminded": 1, "evidence_ids": [theirs.id]})
    assert actions(db, "evidence") == ["remind", "remind"]


# --- scoping and links -------------------------------------------------------------------------------------------

def test_scoping_download_and_links_to_results_and_risks(client: TestClient, db: Session) -> None:
    ret, ins = make_unit(db, name="Retail"), make_unit(db, name="Insurance")
    admin = headers_for(db)
    mine = upload(client, admin, ret, title="Retail report").json()
    theirs = upload(client, admin, ins, title="Insurance report").json()
    scoped = headers_for(db, roles=[("practitioner", ret)])
    listed = client.get(f"{API}/evidence", headers=scoped).json()
    assert [e["title"] for e in listed["items"]] == ["Retail report"]
    assert client.get(f"{API}/evidence/{theirs['id']}", headers=scoped).status_code == 404
    assert client.get(f"{API}/evidence/{theirs['id']}/download", headers=scoped).status_code == 404
    assert client.get(f"{API}/evidence/{mine['id']}/download", headers=scoped).content == REPORT
    assert upload(client, scoped, ins).status_code == 403
    link = client.post(f"{API}/evidence/links", headers=admin, json={
        "url": "https://x.example", "title": "x", "business_unit_id": ret.id, "effective_date": "2026-01-01"}).json()
    assert client.get(f"{API}/evidence/{link['id']}/download", headers=admin).status_code == 404
    # an assessment result in Retail, one in Insurance, and a risk in Retail
    framework = make_framework(db, requirements=[{"ref": "A.1"}])
    results = []
    for unit in (ret, ins):
        system = make_system(db, unit=unit)
        assessment = _add(db, Assessment(ai_system_id=system.id, framework_id=framework.id, title=f"ISO {unit.name}"))
        results.append(_add(db, RequirementResult(assessment_id=assessment.id,
                                                  requirement_id=requirement(db, framework, "A.1").id)))
    risk = _add(db, Risk(key="RSK-0001", title="Drift", category="robustness", subject_type="ai_system",
                         subject_id=1, business_unit_id=ret.id, inherent_likelihood=3, inherent_impact=3,
                         inherent_score=9))
    r = client.post(f"{API}/evidence/{mine['id']}/links", headers=scoped,
                    json={"target_type": "requirement_result", "target_id": results[0].id})
    assert r.status_code == 201
    r = client.post(f"{API}/evidence/{mine['id']}/links", headers=scoped,
                    json={"target_type": "requirement_result", "target_id": results[1].id})
    assert r.status_code == 404 and errors_of(r) == {"target_id": f"No assessment result {results[1].id}."}
    r = client.post(f"{API}/evidence/{mine['id']}/links", headers=scoped, json={"target_type": "risk",
                                                                            "target_id": risk.id})
    assert r.status_code == 201  # practitioners hold risk:write
    compliance_only = headers_for(db, roles=[("risk_compliance", ret)])
    r = client.post(f"{API}/evidence/{theirs['id']}/links", headers=admin, json={"target_type": "risk",
                                                                             "target_id": risk.id})
    assert r.status_code == 201
    db.rollback()
    linked = evidence.linked(db, "requirement_result", [results[0].id, results[1].id])
    assert {k: [e.id for e in v] for k, v in linked.items()} == {results[0].id: [mine["id"]]}
    assert sorted(e.id for e in evidence.linked(db, "risk", [risk.id])[risk.id]) == sorted([mine["id"],
                                                                                            theirs["id"]])
    detail = client.get(f"{API}/evidence/{mine['id']}", headers=compliance_only).json()
    assert [(x["target_type"], x["target"]["label"], x["target"]["url"]) for x in detail["links"]] == [
        ("requirement_result", f"{framework.key} A.1 in ISO Retail", f"/assessments/{results[0].assessment_id}"),
        ("risk", "RSK-0001 Drift", "/risks/RSK-0001")]


def test_service_refusals_change_nothing(db: Session, settings: Settings) -> None:
    unit = make_unit(db)
    who = Principal.resolve(db, make_user(db, roles=[("practitioner", unit)]))
    with pytest.raises(ValidationFailed) as err:
        evidence.add_link(db, who, url="https://x.example", title="  ", business_unit_id=unit.id,
                          effective_date=TODAY, expires_on=TODAY)
    assert {e.field for e in err.value.errors} == {"title", "expires_on"}
    with pytest.raises(NotFound):
        evidence.link(db, who, 424242, "risk", 1)
    with pytest.raises(ValidationFailed):
        evidence.new_version(db, None, settings, make_evidence(db, unit, "x").id, effective_date=TODAY,
                             record_ref="7")
    assert count(db, Evidence) == 1 and actions(db, "evidence") == []


# --- pages -------------------------------------------------------------------------------------------------------

@pytest.fixture
def browser(client: TestClient, db: Session, settings: Settings) -> TestClient:
    user = make_user(db, email="ada@example.com", full_name="Ada Admin", password=PASSWORD, settings=settings)
    login(client, user.email)
    return client


def test_evidence_pages_upload_list_review_and_attach(browser: TestClient, db: Session, settings: Settings) -> None:
    unit = make_unit(db, name="Retail")
    make_evidence(db, unit, "Old pen test", expires_on=TODAY - timedelta(days=2))
    make_evidence(db, unit, "DPIA 2026", expires_on=TODAY + timedelta(days=12))
    system = make_system(db, unit=unit, name="Scorer")
    control = make_control(db, code="CTL-VAL-01")
    implementation = _add(db, ControlImplementation(control_id=control.id, subject_type="ai_system",
                                                    subject_id=system.id, business_unit_id=unit.id))
    listing = browser.get("/evidence")
    assert listing.status_code == 200
    assert '<span class="badge off">expired</span>' in listing.text
    assert '<span class="badge st warn">expires soon</span>' in listing.text
    page = browser.get(f"/evidence/new?attach=control_implementation:{implementation.id}")
    assert page.status_code == 200 and "CTL-VAL-01 on Scorer" in page.text
    token = csrf_from(page.text)
    form = {"csrf_token": token, "title": "Validation report", "business_unit_id": str(unit.id),
            "effective_date": TODAY.isoformat(), "expires_on": TODAY.isoformat(),
            "attach": f"control_implementation:{implementation.id}"}
    bad = browser.post("/evidence/files", data=form, files={"file": ("report.md", REPORT, "text/markdown")})
    assert bad.status_code == 422 and 'id="e-expires_on"' in bad.text and 'value="Validation report"' in bad.text
    assert count(db, Evidence) == 2
    form["expires_on"] = ""
    r = browser.post("/evidence/files", data=form, files={"file": ("report.md", REPORT, "text/markdown")},
                     follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/controls/{control.id}"
    db.rollback()
    created = db.scalar(select(Evidence).where(Evidence.title == "Validation report"))
    assert created is not None
    assert evidence.linked(db, "control_implementation", [implementation.id])[implementation.id] == [created]
    detail = browser.get(f"/evidence/{created.id}")
    assert hashlib.sha256(REPORT).hexdigest() in detail.text and "CTL-VAL-01 on Scorer" in detail.text
    assert "another reviewer must sign it off" in detail.text  # Ada uploaded it herself
    bad = browser.post("/evidence/links", data={"csrf_token": token, "title": "Wiki", "url": "ftp://x",
                                                "business_unit_id": str(unit.id),
                                                "effective_date": TODAY.isoformat()})
    assert bad.status_code == 422 and 'id="e-url"' in bad.text
    r = browser.post("/evidence/links", data={"csrf_token": token, "title": "Wiki", "url": "https://wiki.example/x",
                                              "business_unit_id": str(unit.id), "effective_date": TODAY.isoformat()},
                     follow_redirects=False)
    assert r.status_code == 303
    db.rollback()
    other = make_evidence(db, unit, "Someone else's report", uploaded_by=None)
    r = browser.post(f"/evidence/{other.id}/review", data={"csrf_token": token, "decision": "rejected"})
    assert r.status_code == 422 and 'id="e-note"' in r.text
    r = browser.post(f"/evidence/{other.id}/review", data={"csrf_token": token, "decision": "accepted"},
                     follow_redirects=False)
    assert r.status_code == 303
    assert "Accepted" in browser.get(f"/evidence/{other.id}").text
    r = browser.post(f"/evidence/{other.id}/versions", data={"csrf_token": token, "effective_date": "2026-04-01",
                                                              "url": "https://docs.example/y"},
                     follow_redirects=False)
    assert r.status_code == 303
    assert "Awaiting review" in browser.get(r.headers["location"]).text


# --- CLI ---------------------------------------------------------------------------------------------------------

def test_cli_adds_lists_and_reminds(cli_db: Session, tmp_path: Path) -> None:
    db = cli_db
    unit = make_unit(db, code="RET")
    make_evidence(db, unit, "Old pen test", expires_on=TODAY - timedelta(days=2))
    db.close()
    report = tmp_path / "dpia.md"
    report.write_bytes(REPORT)
    runner = CliRunner()
    r = runner.invoke(cli, ["evidence", "add", str(report), "--unit", "ret", "--title", "DPIA",
                            "--expires-on", (TODAY + timedelta(days=5)).isoformat()], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert f"sha256 {hashlib.sha256(REPORT).hexdigest()}" in r.output
    r = runner.invoke(cli, ["evidence", "add", str(report), "--unit", "RET", "--expires-on", "soon"])
    assert r.exit_code == 1 and "Give a date as YYYY-MM-DD." in r.output
    r = runner.invoke(cli, ["evidence", "list", "--expired"], catch_exceptions=False)
    assert "Old pen test" in r.output and "DPIA" not in r.output and "1 of 1 evidence" in r.output
    r = runner.invoke(cli, ["evidence", "list"], catch_exceptions=False)
    assert "2 of 2 evidence" in r.output
    r = runner.invoke(cli, ["evidence", "remind"], catch_exceptions=False)
    assert r.exit_code == 0 and "2 reminder(s): 1 expiring within 30 days, 1 expired" in r.output
    r = runner.invoke(cli, ["evidence", "remind"], catch_exceptions=False)
    assert "0 reminder(s)" in r.output
