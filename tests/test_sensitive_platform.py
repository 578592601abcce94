"""Sensitive data in the platform: where scans may read, dataset scans as jobs end to end on generated files
(masked previews only: no raw value in any database row, log record, page or API response), the dataset's flags
and suggested classification, governance rules over lineage with exact violations, scoping and permissions, the
text-scan API, scans as evidence, the pages and the demo seed. Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import logging
import random
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from faker import Faker
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as settings_of_hypothesis
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aicoe.compliance import evidence
from aicoe.config import Settings
from aicoe.core.db import Base
from aicoe.core.errors import NotFound, ValidationFailed
from aicoe.demo.sensitive import nhs_number
from aicoe.engines.sensitive import io as engine_io
from aicoe.engines.sensitive.analyzer import default_analyzer
from aicoe.jobs.runner import JobRunner
from aicoe.models.audit import AuditEvent
from aicoe.models.compliance import Classification
from aicoe.models.inventory import Dataset
from aicoe.models.jobs import Job
from aicoe.models.sensitive import SensitiveFinding, SensitiveScan
from aicoe.sensitive import jobs, rules, schemas, service
from tests.factories import (
    PASSWORD,
    _writing,
    bearer,
    csrf_from,
    login,
    make_settings,
    make_token,
    make_unit,
    make_user,
)
from tests.inventory_factories import (
    link_model_dataset,
    link_system_dataset,
    link_system_model,
    make_dataset,
    make_model,
    make_system,
)
from tests.test_lifecycle import fresh

API = "/api/v1"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzq8Hn3Kd0B"
CONTACTS = [  # name, email, phone, nhs number, notes
    ("Alice Smith", "alice.smith@example.com", "+44 20 7946 0123", "943 476 5919", "call after 5pm"),
    ("Bob Jones", "bob.jones@example.org", "+44 20 7946 0456", "", f"aws_secret_access_key = {SECRET}"),
    ("Carol White", "carol@example.net", "", "", "no notes"),
]
NOTES = "Weekly notes\nescalated by dave.brown@example.com today\nnothing else\n"
PATIENTS = 50


@pytest.fixture
def settings(any_db_url: str, tmp_path: Path) -> Settings:
    return make_settings(any_db_url, tmp_path, scan_roots=[tmp_path / "lake"])


# --- arranging -------------------------------------------------------------------------------------------------

def write_dataset_files(directory: Path) -> list[str]:
    """A CSV, a Parquet file made with Faker, a text file and a corrupt Parquet file; the raw values planted."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / "contacts.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["name", "email", "phone", "nhs_number", "notes"])
        writer.writerows(CONTACTS)
    fake, rng = Faker("en_GB"), random.Random(11)
    fake.seed_instance(1234)
    emails = [f"{fake.user_name()}{n}@example.com" for n in range(PATIENTS)]
    numbers = [nhs_number(rng) for _ in range(PATIENTS)]
    pq.write_table(pa.table({"patient": [fake.name() for _ in range(PATIENTS)], "email": emails,
                             "nhs_no": numbers}), directory / "patients.parquet", row_group_size=20)
    (directory / "notes.txt").write_text(NOTES, encoding="utf-8")
    (directory / "broken.parquet").write_bytes(b"PAR1 this is not parquet PAR1")
    return ([v for row in CONTACTS for v in row[1:4] if v] + [SECRET, "dave.brown@example.com"] + emails
            + numbers)


def people(db: Session) -> dict[str, Any]:
    unit_a, unit_b = make_unit(db, name="Claims"), make_unit(db, name="Retail")
    return {
        "a": unit_a, "b": unit_b,
        "admin": bearer(make_token(db, make_user(db))),
        "scanner_a": bearer(make_token(db, make_user(db, roles=[("practitioner", unit_a)]))),
        "reader_a": bearer(make_token(db, make_user(db, roles=[("domain_expert", unit_a)]))),
        "scanner_b": bearer(make_token(db, make_user(db, roles=[("practitioner", unit_b)]))),
        "viewer": bearer(make_token(db, make_user(db, roles=[("viewer", None)]))),
    }


def everything_stored(db: Session) -> str:
    """Every row of every table, as text: what a raw value must never be part of."""
    db.rollback()
    return "\n".join(str(tuple(row)) for table in Base.metadata.sorted_tables
                     for row in db.execute(select(table)))


def location(settings: Settings, name: str) -> str:
    """The file:// URI of a directory (or file) under data_dir/datasets, as the inventory stores locations."""
    return (settings.data_dir / "datasets" / name).resolve().as_uri()


def run_jobs(app, settings: Settings) -> int:  # noqa: ANN001
    return JobRunner(app.state.sessionmaker, settings).run_until_idle()


def start(client: TestClient, headers: dict[str, str], dataset_id: int, **body: Any):  # noqa: ANN201
    return client.post(f"{API}/datasets/{dataset_id}/scans", headers=headers, json=body)


# --- where scans may read --------------------------------------------------------------------------------------

def test_locations_resolve_inside_the_allowed_directories_only(settings: Settings, tmp_path: Path) -> None:
    datasets_dir = settings.data_dir / "datasets"
    (datasets_dir / "sales").mkdir(parents=True)
    (datasets_dir / "sales" / "q1.csv").write_text("a\n1\n")
    (tmp_path / "lake" / "raw").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "secret.csv").write_text("a\n1\n")
    (datasets_dir / "escape").symlink_to(tmp_path / "elsewhere")
    ok = {
        "sales": datasets_dir / "sales",
        "sales/q1.csv": datasets_dir / "sales" / "q1.csv",
        f"{datasets_dir}/sales": datasets_dir / "sales",
        f"file://{datasets_dir}/sales/q1.csv": datasets_dir / "sales" / "q1.csv",
        f"file://localhost{tmp_path}/lake/raw": tmp_path / "lake" / "raw",
        f"  {tmp_path}/lake/raw  ": tmp_path / "lake" / "raw",
    }
    for uri, expected in ok.items():
        assert service.resolve_location(uri, settings) == expected.resolve(), uri
    refused = {
        "s3://bucket/data.csv": service.NOT_LOCAL.format(uri="s3://bucket/data.csv"),
        "https://example.com/x.csv": service.NOT_LOCAL.format(uri="https://example.com/x.csv"),
        "file://fileserver/share/x.csv": service.NOT_LOCAL.format(uri="file://fileserver/share/x.csv"),
        "": service.NOT_LOCAL.format(uri=""),
        "s3://[bucket": service.NOT_LOCAL.format(uri="s3://[bucket"),
        "/etc/passwd": service.OUTSIDE_ROOTS.format(uri="/etc/passwd"),
        "../../elsewhere": service.OUTSIDE_ROOTS.format(uri="../../elsewhere"),
        "escape/secret.csv": service.OUTSIDE_ROOTS.format(uri="escape/secret.csv"),
        f"{tmp_path}/elsewhere": service.OUTSIDE_ROOTS.format(uri=f"{tmp_path}/elsewhere"),
        "sales/q2.csv": service.MISSING_PATH.format(uri="sales/q2.csv"),
        "sales/\x00": service.BAD_PATH.format(uri="sales/\x00"),
    }
    for uri, message in refused.items():
        with pytest.raises(ValidationFailed) as caught:
            service.resolve_location(uri, settings)
        assert caught.value.detail == message, uri
        assert [e.field for e in caught.value.errors] == ["location_uri"]


@settings_of_hypothesis(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(uri=st.one_of(st.text(max_size=300), st.lists(st.sampled_from(["..", ".", "sales", "q1.csv", "escape", "",
                                                                        "%2e%2e", "\x00", "a" * 300]),
                                                       max_size=8).map("/".join),
                     st.sampled_from(["file://", "file:///", "file://localhost/", "/", "s3://", "http://"]).flatmap(
                         lambda prefix: st.text(max_size=60).map(lambda rest: prefix + rest))))
def test_any_location_resolves_inside_a_root_or_is_refused_with_a_reason(tmp_path: Path, uri: str) -> None:
    settings = make_settings("sqlite://", tmp_path, scan_roots=[tmp_path / "lake"])
    (settings.data_dir / "datasets" / "sales").mkdir(parents=True, exist_ok=True)
    (tmp_path / "elsewhere").mkdir(exist_ok=True)
    escape = settings.data_dir / "datasets" / "escape"
    if not escape.is_symlink():
        escape.symlink_to(tmp_path / "elsewhere")
    roots = service.allowed_roots(settings)
    try:
        path = service.resolve_location(uri, settings)
    except ValidationFailed as refused:
        templates = (service.NOT_LOCAL, service.OUTSIDE_ROOTS, service.MISSING_PATH, service.BAD_PATH)
        assert refused.detail in {t.format(uri=uri.strip()) for t in templates}
    else:
        assert path.exists() and any(path.is_relative_to(root) for root in roots)


# --- a scan, end to end ----------------------------------------------------------------------------------------

def test_a_dataset_scan_runs_as_a_job_and_stores_masked_previews_only(
        app, client: TestClient, db: Session, settings: Settings, caplog: pytest.LogCaptureFixture) -> None:  # noqa: ANN001
    who = people(db)
    raw = write_dataset_files(settings.data_dir / "datasets" / "customers")
    caplog.set_level(logging.DEBUG)
    dataset = make_dataset(db, unit=who["a"], name="Customer contacts",
                           location_uri=location(settings, "customers"),
                           classification="internal")
    r = start(client, who["scanner_a"], dataset.id)
    assert r.status_code == 202, r.text
    body = r.json()
    scan_id, job_id = body["scan"]["id"], body["job_id"]
    assert body["job_url"] == f"/api/v1/jobs/{job_id}"
    assert (body["scan"]["status"], body["scan"]["source"], body["scan"]["mode"]) == (
        "queued", location(settings, "customers"), "full")
    fresh(db)
    job = db.get(Job, job_id)
    assert (job.kind, job.payload, job.status) == ("sensitive.scan_dataset", {"scan_id": scan_id}, "queued")

    assert run_jobs(app, settings) == 1
    fresh(db)
    job = db.get(Job, job_id)
    assert (job.status, job.progress) == ("succeeded", 1.0)
    assert job.result == {"scan_id": scan_id, "status": "completed", "files_scanned": 3, "files_skipped": 1,
                          "occurrences": 108, "suggested_classification": "restricted"}
    scan = db.get(SensitiveScan, scan_id)
    assert (scan.status, scan.files_scanned, scan.files_skipped, scan.rows_scanned) == ("completed", 3, 1, 56)
    assert scan.cells_scanned == 3 * 5 + PATIENTS * 3
    assert scan.skipped == [{"file": "broken.parquet", "status": "skipped",
                             "reason": engine_io.CORRUPT_FILE.format(kind="Parquet")}]
    assert scan.entity_counts == {"AWS_SECRET_ACCESS_KEY": 1, "EMAIL_ADDRESS": 54, "PHONE_NUMBER": 2,
                                  "UK_NHS": 51}
    assert scan.severity_counts == {"medium": 56, "high": 51, "critical": 1}
    assert (scan.personal_data, scan.special_category_data, scan.suggested_classification) == (True, True,
                                                                                               "restricted")
    assert scan.confidence is None and len(scan.fingerprint) == 64
    found = [(f.file, f.column, f.entity, f.category, f.severity, f.occurrences) for f in scan.findings]
    assert found == [
        ("contacts.csv", "email", "EMAIL_ADDRESS", "contact", "medium", 3),
        ("contacts.csv", "phone", "PHONE_NUMBER", "contact", "medium", 2),
        ("contacts.csv", "nhs_number", "UK_NHS", "health", "high", 1),
        ("contacts.csv", "notes", "AWS_SECRET_ACCESS_KEY", "credential", "critical", 1),
        ("notes.txt", None, "EMAIL_ADDRESS", "contact", "medium", 1),
        ("patients.parquet", "email", "EMAIL_ADDRESS", "contact", "medium", PATIENTS),
        ("patients.parquet", "nhs_no", "UK_NHS", "health", "high", PATIENTS),
    ]
    assert scan.findings[0].samples == [
        {"row": 1, "start": 0, "end": 23, "preview": "*****.*****@******e.com"},
        {"row": 2, "start": 0, "end": 21, "preview": "***.*****@******e.org"},
        {"row": 3, "start": 0, "end": 17, "preview": "*****@******e.net"},
    ]
    assert scan.findings[3].samples == [{"row": 2, "start": 24, "end": 64,
                                         "preview": "*************/*******/**************Kd0B"}]
    assert scan.findings[4].samples == [{"row": 2, "start": 13, "end": 35, "preview": "****.*****@******e.com"}]
    assert [len(f.samples) for f in scan.findings] == [3, 2, 1, 1, 1, 10, 10]

    dataset = db.get(Dataset, dataset.id)
    assert dataset.pii_entities == scan.entity_counts
    assert (dataset.personal_data, dataset.special_category_data) == (True, True)
    assert (dataset.suggested_classification, dataset.classification) == ("restricted", "internal")
    assert dataset.last_scanned_at == scan.finished_at
    assert [(e.action, e.entity_type, e.entity_id) for e in db.scalars(
        select(AuditEvent).where(AuditEvent.entity_type.in_(["sensitive_scan", "dataset"]))
        .order_by(AuditEvent.seq))] == [("create", "sensitive_scan", str(scan_id)),
                                        ("complete", "sensitive_scan", str(scan_id)),
                                        ("scan_result", "dataset", str(dataset.id))]

    stored = everything_stored(db)
    api = client.get(f"{API}/sensitive/scans/{scan_id}", headers=who["reader_a"])
    assert api.status_code == 200
    assert api.json()["findings"][0]["samples"][0]["preview"] == "*****.*****@******e.com"
    login_as = make_user(db, roles=[("domain_expert", who["a"])], password=PASSWORD, settings=settings)
    login(client, login_as.email)
    page = client.get(f"/sensitive/scans/{scan_id}")
    assert page.status_code == 200 and "*****.*****@******e.com" in page.text
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    for value in raw:
        for where, content in (("database", stored), ("logs", logged), ("API", api.text), ("page", page.text)):
            assert value not in content, f"{value!r} leaked into the {where}"


def test_a_sampled_scan_states_its_confidence_and_a_limited_scan_keeps_other_entities(
        app, client: TestClient, db: Session, settings: Settings) -> None:  # noqa: ANN001
    who = people(db)
    write_dataset_files(settings.data_dir / "datasets" / "customers")
    dataset = make_dataset(db, unit=who["a"], location_uri=location(settings, "customers"), personal_data=True,
                           legal_basis="contract", pii_entities={"US_SSN": 4, "EMAIL_ADDRESS": 1})
    r = start(client, who["scanner_a"], dataset.id, mode="sample", sample_rows=5, entities=["EMAIL_ADDRESS"])
    assert r.status_code == 202, r.text
    run_jobs(app, settings)
    fresh(db)
    scan = db.get(SensitiveScan, r.json()["scan"]["id"])
    assert (scan.status, scan.mode, scan.sample_rows, scan.confidence) == ("completed", "sample", 5, 0.95)
    assert scan.fingerprint is None
    assert scan.rows_scanned == 3 + 5 + 3
    assert {f.entity for f in scan.findings} == {"EMAIL_ADDRESS"}
    assert scan.entity_counts == {"EMAIL_ADDRESS": 3 + 5 + 1}
    dataset = db.get(Dataset, dataset.id)
    assert dataset.pii_entities == {"EMAIL_ADDRESS": 9, "US_SSN": 4}
    assert dataset.suggested_classification == "confidential"
    again = client.get(f"{API}/sensitive/scans/{scan.id}", headers=who["reader_a"]).json()
    assert (again["confidence"], again["sample_rows"]) == (0.95, 5)
    login(client, make_user(db, roles=[("domain_expert", who["a"])], password=PASSWORD, settings=settings).email)
    page = client.get(f"/sensitive/scans/{scan.id}").text
    assert "95 %: in each file, an entity type not found occurs in fewer than 45.07 % of the rows" in page


def test_an_uploaded_file_is_scanned_under_its_own_name(app, client: TestClient, db: Session,  # noqa: ANN001
                                                        settings: Settings) -> None:
    who = people(db)
    dataset = make_dataset(db, unit=who["a"])
    content = "id,contact\n1,erin.black@example.com\n2,nobody\n"
    upload = client.post(f"{API}/files", headers=who["scanner_a"],
                         files={"file": ("export.csv", content.encode(), "text/csv")})
    assert upload.status_code == 201, upload.text
    r = start(client, who["scanner_a"], dataset.id, file_id=upload.json()["id"])
    assert r.status_code == 202, r.text
    assert r.json()["scan"]["source"] == f"file:{upload.json()['id']}"
    run_jobs(app, settings)
    fresh(db)
    scan = db.get(SensitiveScan, r.json()["scan"]["id"])
    assert [(f.file, f.column, f.entity, f.occurrences) for f in scan.findings] == [
        ("export.csv", "contact", "EMAIL_ADDRESS", 1)]
    assert list((settings.data_dir / "tmp").iterdir()) == []  # the private copy is gone
    dataset = db.get(Dataset, dataset.id)
    assert (dataset.personal_data, dataset.suggested_classification) == (True, "confidential")


def test_a_location_that_disappears_fails_the_scan_with_the_reason(app, client: TestClient, db: Session,  # noqa: ANN001
                                                                   settings: Settings) -> None:
    who = people(db)
    directory = settings.data_dir / "datasets" / "gone"
    write_dataset_files(directory)
    dataset = make_dataset(db, unit=who["a"], location_uri=location(settings, "gone"))
    r = start(client, who["scanner_a"], dataset.id)
    for child in directory.iterdir():
        child.unlink()
    directory.rmdir()
    run_jobs(app, settings)
    fresh(db)
    scan = db.get(SensitiveScan, r.json()["scan"]["id"])
    message = service.MISSING_PATH.format(uri=location(settings, "gone"))
    assert (scan.status, scan.error) == ("failed", message)
    assert (db.get(Job, r.json()["job_id"]).status, db.get(Job, r.json()["job_id"]).error) == ("failed", message)
    assert db.get(Dataset, dataset.id).last_scanned_at is None


def test_a_cancelled_scan_says_so(app, client: TestClient, db: Session, settings: Settings) -> None:  # noqa: ANN001
    who = people(db)
    write_dataset_files(settings.data_dir / "datasets" / "customers")
    dataset = make_dataset(db, unit=who["a"], location_uri=location(settings, "customers"))
    queued = start(client, who["scanner_a"], dataset.id).json()
    assert client.post(f"{API}/jobs/{queued['job_id']}/cancel", headers=who["admin"]).status_code == 200
    shown = client.get(f"{API}/sensitive/scans/{queued['scan']['id']}", headers=who["reader_a"]).json()
    assert (shown["status"], shown["files_scanned"]) == ("cancelled", 0)  # its job never ran it
    listed = client.get(f"{API}/datasets/{dataset.id}/scans", headers=who["reader_a"]).json()
    assert [s["status"] for s in listed["items"]] == ["cancelled"]

    running = start(client, who["scanner_a"], dataset.id).json()
    _writing(db)
    db.get(Job, running["job_id"]).cancel_requested = True  # asked while the runner picks it up
    db.commit()
    assert run_jobs(app, settings) == 1
    fresh(db)
    scan = db.get(SensitiveScan, running["scan"]["id"])
    assert (scan.status, scan.error, scan.files_scanned) == ("cancelled", jobs.CANCELLED, 0)
    assert db.get(Job, running["job_id"]).status == "cancelled"
    assert db.get(Dataset, dataset.id).last_scanned_at is None


def test_a_completed_scan_is_not_scanned_again(app, db: Session, settings: Settings) -> None:  # noqa: ANN001
    unit = make_unit(db)
    write_dataset_files(settings.data_dir / "datasets" / "customers")
    dataset = make_dataset(db, unit=unit, location_uri=location(settings, "customers"))
    _writing(db)
    scan = service.new_scan(db, None, settings, dataset.id, schemas.ScanCreate(entities=["UK_NHS"]))
    first = jobs.run_now(db, settings, scan.id)
    assert first == {"scan_id": scan.id, "status": "completed", "files_scanned": 3, "files_skipped": 1,
                     "occurrences": 51, "suggested_classification": "restricted"}
    assert jobs.run_now(db, settings, scan.id) == {"scan_id": scan.id, "status": "completed"}
    db.commit()
    assert db.scalar(select(func.count()).select_from(SensitiveFinding)) == 2


# --- starting a scan: refusals, scoping, permissions -----------------------------------------------------------

def test_starting_a_scan_is_refused_with_the_reason(client: TestClient, db: Session, settings: Settings) -> None:
    who = people(db)
    remote = make_dataset(db, unit=who["a"], location_uri="s3://lake/customers/")
    nowhere = make_dataset(db, unit=who["a"])
    (settings.data_dir / "datasets" / "ok").mkdir(parents=True)
    ok = make_dataset(db, unit=who["a"], location_uri=location(settings, "ok"))
    theirs = client.post(f"{API}/files", headers=who["scanner_b"],
                         files={"file": ("theirs.csv", b"a\n1\n", "text/csv")}).json()["id"]
    cases = [
        (remote.id, {}, 422, service.NOT_LOCAL.format(uri="s3://lake/customers/")),
        (nowhere.id, {}, 422, service.NO_LOCATION),
        (ok.id, {"file_id": 999}, 422, service.NO_FILE.format(file_id=999)),
        (ok.id, {"file_id": theirs}, 422, service.NO_FILE.format(file_id=theirs)),  # another person's upload
        (ok.id, {"entities": ["EMAIL", "US_SSN", "PASSPORT"]}, 422, service.UNKNOWN_ENTITIES.format(
            unknown="EMAIL, PASSPORT", known=", ".join(service.known_entities()))),
        (ok.id, {"mode": "sample"}, 422, f"body: Value error, {schemas.SAMPLE_NEEDS_ROWS}"),
        (ok.id, {"sample_rows": 10}, 422, f"body: Value error, {schemas.FULL_HAS_NO_ROWS}"),
        (999_999, {}, 404, service.NO_DATASET.format(dataset_id=999_999)),
    ]
    for dataset_id, body, status, detail in cases:
        r = start(client, who["scanner_a"], dataset_id, **body)
        assert (r.status_code, r.json()["detail"]) == (status, detail), (body, r.text)
    fresh(db)
    assert db.scalars(select(SensitiveScan)).all() == [] and db.scalars(select(Job)).all() == []


def test_scans_are_scoped_to_the_datasets_unit(app, client: TestClient, db: Session,  # noqa: ANN001
                                               settings: Settings) -> None:
    who = people(db)
    write_dataset_files(settings.data_dir / "datasets" / "customers")
    dataset = make_dataset(db, unit=who["a"], location_uri=location(settings, "customers"))
    assert start(client, who["scanner_b"], dataset.id).status_code == 404  # not visible in unit B
    r = start(client, who["reader_a"], dataset.id)
    assert (r.status_code, r.json()["detail"]) == (403, "this action needs the 'sensitive:scan' permission")
    assert start(client, who["viewer"], dataset.id).status_code == 403
    scan_id = start(client, who["scanner_a"], dataset.id).json()["scan"]["id"]
    run_jobs(app, settings)
    assert client.get(f"{API}/sensitive/scans/{scan_id}", headers=who["scanner_b"]).status_code == 404
    assert client.get(f"{API}/datasets/{dataset.id}/scans", headers=who["scanner_b"]).status_code == 404
    assert client.get(f"{API}/sensitive/scans/{scan_id}", headers=who["viewer"]).status_code == 403
    listed = client.get(f"{API}/datasets/{dataset.id}/scans", headers=who["reader_a"]).json()
    assert ([s["id"] for s in listed["items"]], listed["total"]) == ([scan_id], 1)
    assert listed["items"][0]["entity_counts"]["UK_NHS"] == 51
    assert client.get(f"{API}/sensitive/scans/{scan_id}", headers=who["admin"]).status_code == 200


# --- governance rules over lineage -----------------------------------------------------------------------------

def lineage(db: Session) -> dict[str, Any]:
    """Datasets, models and systems that break each rule once, and look-alikes that do not."""
    unit, other = make_unit(db, name="Insurance"), make_unit(db, name="Group")
    api = make_model(db, unit=other, name="nimbus-chat", kind="third_party_api")
    hosted_ft = make_model(db, unit=unit, name="nimbus-ft", kind="fine_tuned", base_model=api)
    own = make_model(db, unit=unit, name="own-gbm", kind="in_house")
    ow = make_model(db, unit=other, name="ow-llm", kind="open_weights")
    ow_ft = make_model(db, unit=unit, name="ow-ft", kind="fine_tuned", base_model=ow)
    health = make_dataset(db, unit=unit, name="Health claims", personal_data=True, special_category_data=True,
                          legal_basis="contract", classification="confidential")
    restricted = make_dataset(db, unit=unit, name="Loan book", personal_data=True, legal_basis="contract",
                              classification="restricted")
    make_dataset(db, unit=unit, name="Leads", personal_data=True)
    creds = make_dataset(db, unit=unit, name="Wiki export", pii_entities={"AWS_ACCESS_KEY_ID": 1},
                         suggested_classification="restricted")
    clean = make_dataset(db, unit=unit, name="Call volumes", pii_entities={}, suggested_classification="internal")
    rag = make_system(db, unit=unit, name="Claims RAG")
    tuned = make_system(db, unit=other, name="Tuned assistant")
    classified = make_system(db, unit=unit, name="Classified system")
    unclassified = make_system(db, unit=unit, name="Unclassified system")
    own_user = make_system(db, unit=unit, name="Scorer")
    retired = make_system(db, unit=unit, name="Old bot", lifecycle_status="retired")
    for model, dataset, purpose in [(hosted_ft, health, "fine_tune"), (own, health, "train"),
                                    (ow_ft, health, "fine_tune"), (own, restricted, "train")]:
        link_model_dataset(db, model, dataset, purpose)
    for system, model in [(rag, api), (tuned, hosted_ft), (own_user, own), (classified, ow_ft)]:
        link_system_model(db, system, model)
    for system, dataset in [(rag, health), (classified, restricted), (unclassified, restricted),
                            (unclassified, creds), (retired, creds), (retired, restricted), (classified, clean)]:
        link_system_dataset(db, system, dataset)
    _writing(db)
    for system in (classified, tuned, rag):
        db.add(Classification(ai_system_id=system.id, version=1, is_current=True, questionnaire_version="1",
                              answers={}, tier="limited"))
    db.add(Classification(ai_system_id=own_user.id, version=1, is_current=False, questionnaire_version="1",
                          answers={}, tier="minimal"))
    db.commit()
    return {"other": other, "rag": rag, "tuned": tuned, "unclassified": unclassified, "health": health,
            "creds": creds, "clean": clean, "scorer": own_user}


def shape(violations: list[rules.Violation]) -> list[tuple[str, str, str | None, str | None]]:
    return [(v.rule.id, v.dataset.name, v.model.name if v.model else None, v.system.name if v.system else None)
            for v in violations]


EXPECTED = [
    ("special-category-third-party", "Health claims", "nimbus-chat 1", "Claims RAG"),
    ("special-category-third-party", "Health claims", "nimbus-ft 1", "Tuned assistant"),
    ("credentials-in-use", "Wiki export", None, "Unclassified system"),
    ("restricted-unclassified-system", "Loan book", None, "Unclassified system"),
    ("restricted-unclassified-system", "Loan book", "own-gbm 1", "Scorer"),
    ("restricted-unclassified-system", "Wiki export", None, "Unclassified system"),
    ("personal-data-legal-basis", "Leads", None, None),
    ("classification-below-suggested", "Wiki export", None, None),
]


def test_governance_rules_find_exactly_the_violations_over_lineage(db: Session) -> None:
    graph = lineage(db)
    assert shape(rules.all_violations(db, None)) == EXPECTED
    assert [r.severity for r in rules.RULES] == ["critical", "critical", "high", "high", "medium"]
    assert shape(rules.violations_for_dataset(db, graph["health"])) == EXPECTED[:2]
    assert shape(rules.violations_for_dataset(db, graph["creds"])) == [EXPECTED[2], EXPECTED[5], EXPECTED[7]]
    assert shape(rules.violations_for_dataset(db, graph["clean"])) == []
    assert shape(rules.violations_for_system(db, graph["rag"])) == [EXPECTED[0]]
    assert shape(rules.violations_for_system(db, graph["tuned"])) == [EXPECTED[1]]
    assert shape(rules.violations_for_system(db, graph["unclassified"])) == [EXPECTED[2], EXPECTED[3], EXPECTED[5]]
    assert shape(rules.violations_for_system(db, graph["scorer"])) == [EXPECTED[4]]


def test_what_findings_mean_for_a_dataset() -> None:
    assert rules.category_of("UK_NHS", "government_id") == "health"
    assert rules.category_of("EMAIL_ADDRESS") == "contact"
    assert rules.category_of("PERSON") == "personal"
    assert rules.category_of("NOT_AN_ENTITY") is None
    cases = [
        ({"EMAIL_ADDRESS", "GITHUB_TOKEN"}, ("restricted", "credentials found"), True, False),
        ({"UK_NHS"}, ("restricted", "special-category data found"), True, True),
        ({"IBAN_CODE", "EMAIL_ADDRESS"}, ("confidential", "government or financial identifiers"), True, False),
        ({"PHONE_NUMBER"}, ("confidential", "contact details or other personal data"), True, False),
        ({"IP_ADDRESS"}, ("internal", "network identifiers only"), True, False),
        (set(), ("internal", "no sensitive data found"), False, False),
    ]
    for entities, suggestion, personal, special in cases:
        categories = rules.categories_found(entities)
        assert rules.suggest_classification(categories) == suggestion, entities
        assert (rules.holds_personal_data(categories), rules.holds_special_category_data(categories)) == (
            personal, special), entities


def test_violations_api_names_only_records_in_the_readers_units(client: TestClient, db: Session) -> None:
    graph = lineage(db)
    outsider = bearer(make_token(db, make_user(db, roles=[("practitioner", graph["other"])])))
    r = client.get(f"{API}/sensitive/violations", headers=outsider)
    assert r.status_code == 200
    items = r.json()["items"]
    assert [(v["rule"], v["dataset"]["name"], v["model"]["name"], v["ai_system"]["name"]) for v in items] == [
        ("special-category-third-party", None, "nimbus-chat 1", None),
        ("special-category-third-party", None, None, "Tuned assistant"),
    ]
    assert [rule["id"] for rule in r.json()["rules"]] == [rule.id for rule in rules.RULES]
    admin = bearer(make_token(db, make_user(db)))
    everything = client.get(f"{API}/sensitive/violations", headers=admin, params={"rule": "credentials-in-use"})
    assert [(v["dataset"]["name"], v["ai_system"]["name"]) for v in everything.json()["items"]] == [
        ("Wiki export", "Unclassified system")]
    by_system = client.get(f"{API}/sensitive/violations", headers=admin,
                           params={"ai_system_id": graph["unclassified"].id})
    assert len(by_system.json()["items"]) == 3
    viewer = bearer(make_token(db, make_user(db, roles=[("viewer", None)])))
    assert client.get(f"{API}/sensitive/violations", headers=viewer).status_code == 403


# --- the text scan ---------------------------------------------------------------------------------------------

def test_the_text_scan_returns_offsets_and_never_values(client: TestClient, db: Session) -> None:
    who = people(db)
    message = "Mail alice.smith@example.com or call +44 20 7946 0123."
    r = client.post(f"{API}/sensitive/scan-text", headers=who["scanner_a"], json={"text": message})
    assert r.status_code == 200, r.text
    body = r.json()
    [found] = body["results"]
    assert [(f["entity"], f["start"], f["end"], f["category"], f["severity"]) for f in found] == [
        ("EMAIL_ADDRESS", 5, 28, "contact", "medium"), ("PHONE_NUMBER", 37, 53, "contact", "medium")]
    assert [message[f["start"]:f["end"]] for f in found] == ["alice.smith@example.com", "+44 20 7946 0123"]
    assert set(found[0]["reason"]) == {"recognizer", "pattern", "validator", "context"}
    assert body["entity_counts"] == {"EMAIL_ADDRESS": 1, "PHONE_NUMBER": 1}
    assert "alice" not in r.text and "7946" not in r.text
    batch = client.post(f"{API}/sensitive/scan-text", headers=who["scanner_a"],
                        json={"texts": [message, "nothing here", "bob@example.org"], "entities": ["EMAIL_ADDRESS"],
                              "min_score": 0.1})
    assert [[(f["entity"], f["start"]) for f in found] for found in batch.json()["results"]] == [
        [("EMAIL_ADDRESS", 5)], [], [("EMAIL_ADDRESS", 0)]]
    refused = [
        ({"text": "a", "texts": ["b"]}, f"body: Value error, {schemas.ONE_OF_TEXTS}"),
        ({}, f"body: Value error, {schemas.ONE_OF_TEXTS}"),
        ({"text": "x" * (schemas.MAX_TEXT_CHARS + 1)}, f"body: Value error, {schemas.TOO_MUCH_TEXT}"),
        ({"text": "a", "entities": ["SSN"]}, service.UNKNOWN_ENTITIES.format(
            unknown="SSN", known=", ".join(service.known_entities()))),
        ({"text": "a", "language": "xx"}, service.UNKNOWN_LANGUAGE.format(
            language="xx", supported=", ".join(default_analyzer().languages))),
        ({"text": "a", "min_score": 2}, "min_score: Input should be less than or equal to 1"),
    ]
    for body, detail in refused:
        r = client.post(f"{API}/sensitive/scan-text", headers=who["scanner_a"], json=body)
        assert (r.status_code, r.json()["detail"]) == (422, detail), body
    assert client.post(f"{API}/sensitive/scan-text", headers=who["reader_a"],
                       json={"text": "a"}).status_code == 403
    entities = client.get(f"{API}/sensitive/entities", headers=who["scanner_a"]).json()
    assert "UK_NHS" in entities and entities == sorted(entities)


# --- scans as evidence -----------------------------------------------------------------------------------------

def test_a_scan_can_be_referenced_as_evidence(db: Session, settings: Settings) -> None:
    unit = make_unit(db)
    write_dataset_files(settings.data_dir / "datasets" / "customers")
    dataset = make_dataset(db, unit=unit, name="Contacts", location_uri=location(settings, "customers/contacts.csv"))
    _writing(db)
    scan = service.new_scan(db, None, settings, dataset.id, schemas.ScanCreate())
    jobs.run_now(db, settings, scan.id)
    snapshot = evidence.resolve_record(db, None, "scan", str(scan.id))
    assert snapshot["label"] == f"Sensitive-data scan {scan.id} of Contacts: completed, 7 occurrence(s)"
    assert snapshot["findings"] == [["EMAIL_ADDRESS", "contacts.csv", "email", 3],
                                    ["PHONE_NUMBER", "contacts.csv", "phone", 2],
                                    ["UK_NHS", "contacts.csv", "nhs_number", 1],
                                    ["AWS_SECRET_ACCESS_KEY", "contacts.csv", "notes", 1]]
    assert (snapshot["business_unit_id"], snapshot["suggested_classification"]) == (unit.id, "restricted")
    with pytest.raises(ValidationFailed, match=service.SCAN_BY_NUMBER):
        evidence.resolve_record(db, None, "scan", "latest")
    with pytest.raises(NotFound):
        evidence.resolve_record(db, None, "scan", "424242")


# --- pages -----------------------------------------------------------------------------------------------------

def test_the_pages_start_a_scan_and_show_results_violations_and_panels(
        app, client: TestClient, db: Session, settings: Settings) -> None:  # noqa: ANN001
    graph = lineage(db)
    write_dataset_files(settings.data_dir / "datasets" / "customers")
    unit = db.get(Dataset, graph["health"].id).business_unit
    dataset = make_dataset(db, unit=unit, name="Customer contacts", location_uri=location(settings, "customers"))
    user = make_user(db, roles=[("practitioner", unit)], password=PASSWORD, settings=settings)
    login(client, user.email)
    page = client.get(f"/datasets/{dataset.id}/scans")
    assert page.status_code == 200
    assert "This dataset has not been scanned yet." in page.text and "Start a scan" in page.text
    refused = client.post(f"/datasets/{dataset.id}/scans", data={
        "csrf_token": csrf_from(page.text), "source": "location", "mode": "sample", "sample_rows": "0"})
    assert refused.status_code == 422 and "Input should be greater than or equal to 1" in refused.text
    missing = client.post(f"/datasets/{dataset.id}/scans", data={"csrf_token": csrf_from(page.text),
                                                                  "source": "upload", "mode": "full"})
    assert missing.status_code == 422 and "Choose a file to upload." in missing.text
    r = client.post(f"/datasets/{dataset.id}/scans", follow_redirects=False, data={
        "csrf_token": csrf_from(page.text), "source": "location", "mode": "full", "entities": ["EMAIL_ADDRESS"]})
    assert r.status_code == 303
    fresh(db)
    scan = db.scalars(select(SensitiveScan).where(SensitiveScan.dataset_id == dataset.id)).one()
    assert r.headers["location"] == f"/sensitive/scans/{scan.id}" and scan.entities == ["EMAIL_ADDRESS"]
    assert "queued" in client.get(f"/sensitive/scans/{scan.id}").text
    upload = client.post(f"/datasets/{dataset.id}/scans", follow_redirects=False, data={
        "csrf_token": csrf_from(page.text), "source": "upload", "mode": "full"},
        files={"file": ("leads.csv", b"who\nfrank@example.com\n", "text/csv")})
    assert upload.status_code == 303
    run_jobs(app, settings)

    detail = client.get(f"/sensitive/scans/{scan.id}").text
    for expected in ("completed", "*****.*****@******e.com", "broken.parquet",
                     engine_io.CORRUPT_FILE.format(kind="Parquet"), "EMAIL_ADDRESS", "patients.parquet"):
        assert expected in detail, expected
    assert "alice.smith@example.com" not in detail
    upload_page = client.get(upload.headers["location"]).text
    assert "leads.csv" in upload_page and "frank@example.com" not in upload_page

    overview = client.get("/sensitive").text
    assert "Special-category data may not feed a third-party-hosted model" in overview
    assert "Customer contacts" in overview and "a model in another business unit" in overview
    dataset_page = client.get(f"/datasets/{dataset.id}").text
    assert "Sensitive data" in dataset_page and "Suggested classification" in dataset_page
    assert "<code>EMAIL_ADDRESS</code> 1</li>" in dataset_page  # the latest scan (the upload) is the summary
    health_page = client.get(f"/datasets/{graph['health'].id}").text
    assert "Data-governance violations" in health_page and "Tuned assistant" not in health_page
    assert "an AI system in another business unit" in health_page
    system_page = client.get(f"/ai-systems/{graph['rag'].id}").text
    assert "Data-governance violations" in system_page and "Health claims" in system_page
    clean_page = client.get(f"/ai-systems/{graph['scorer'].id}").text
    assert "Restricted datasets may not be used by systems without a current EU AI Act classification" in clean_page


def test_pages_need_sensitive_read(client: TestClient, db: Session, settings: Settings) -> None:
    unit = make_unit(db)
    dataset = make_dataset(db, unit=unit)
    viewer = make_user(db, roles=[("viewer", None)], password=PASSWORD, settings=settings)
    login(client, viewer.email)
    assert client.get("/sensitive").status_code == 403
    assert client.get(f"/datasets/{dataset.id}/scans").status_code == 403


# --- the demo --------------------------------------------------------------------------------------------------

def test_the_demo_scans_its_datasets_and_shows_a_violation(db: Session, settings: Settings) -> None:
    from aicoe.demo import DemoResult
    from aicoe.demo.governance_catalogs import seed_catalogs
    from aicoe.demo.governance_classification import seed_classifications
    from aicoe.demo.inventory import seed_inventory
    from aicoe.demo.org import seed_org
    from aicoe.demo.portfolio import seed_portfolio
    from aicoe.demo.sensitive import CLAIMS, KB, VOLUMES, seed_sensitive

    result = DemoResult()
    _writing(db)
    for seeder in (seed_org, seed_portfolio, seed_inventory, seed_catalogs, seed_classifications, seed_sensitive):
        seeder(db, settings, result)
    db.commit()
    assert result.created["sensitive-data scans"] == 3
    by_name = {d.name: d for d in db.scalars(select(Dataset).where(Dataset.name.in_([KB, CLAIMS, VOLUMES])))}
    assert {n: (d.suggested_classification, d.classification) for n, d in by_name.items()} == {
        KB: ("restricted", "internal"), CLAIMS: ("restricted", "confidential"), VOLUMES: ("internal", "internal")}
    assert by_name[KB].pii_entities == {"AWS_ACCESS_KEY_ID": 1, "AWS_SECRET_ACCESS_KEY": 1, "EMAIL_ADDRESS": 10,
                                        "PHONE_NUMBER": 10}
    assert by_name[CLAIMS].pii_entities == {"DATE_OF_BIRTH": 400, "EMAIL_ADDRESS": 400, "IBAN_CODE": 400,
                                            "PHONE_NUMBER": 400, "UK_NHS": 80}
    assert by_name[VOLUMES].pii_entities == {}
    assert by_name[KB].personal_data is True and by_name[KB].legal_basis is None
    kb = shape(rules.violations_for_dataset(db, by_name[KB]))
    assert kb == [
        ("credentials-in-use", KB, None, "Agent Copilot"),
        ("credentials-in-use", KB, None, "Cards Chat"),
        ("credentials-in-use", KB, None, "Enterprise Search (RAG)"),
        ("personal-data-legal-basis", KB, None, None),
        ("classification-below-suggested", KB, None, None),
    ]
    stored = everything_stored(db)
    assert "@example.com" not in stored and "aws_secret_access_key" not in stored
    again = DemoResult()
    _writing(db)
    seed_sensitive(db, settings, again)
    assert again.created == {}
