"""Use cases: intake and its validation, stable keys (also under concurrency), duplicate detection, reading,
editing and deleting, business-unit scoping, and the pages."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aicoe.config import Settings
from aicoe.core.db import make_engine, make_sessionmaker, session_scope
from aicoe.core.time import utcnow
from aicoe.models.audit import AuditEvent
from aicoe.models.org import BusinessUnit
from aicoe.models.portfolio import Counter, UseCase
from aicoe.models.strategy import Kpi, Objective
from aicoe.portfolio import schemas, similarity, usecases
from tests.factories import PASSWORD, bearer, csrf_from, login, make_settings, make_token, make_unit, make_user
from tests.portfolio_factories import make_use_case


@pytest.fixture
def settings(any_db_url: str, tmp_path: Path) -> Settings:
    """Every test here runs on SQLite and on PostgreSQL (ranking ties, rounding and key sorting are SQL)."""
    return make_settings(any_db_url, tmp_path)


def count(db: Session, model: type) -> int:
    db.rollback()
    return db.scalar(select(func.count()).select_from(model)) or 0


def headers_for(db: Session, **user_kwargs: object) -> dict[str, str]:
    return bearer(make_token(db, make_user(db, **user_kwargs)))  # type: ignore[arg-type]


def intake(unit: BusinessUnit, **overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "title": "Invoice processing automation",
        "problem_statement": "Accounts payable staff key in supplier invoices by hand; a batch takes three days.",
        "opportunity_statement": "Extract invoice fields automatically and route exceptions to a person.",
        "business_unit_id": unit.id, "ai_type": "generative_ai", "affected_users": "Accounts payable team",
        "data_needed": "Scanned invoices, supplier master data", "personal_data": False,
        "benefits": [{"kind": "cost_saving", "amount": 120000, "confidence": 70},
                     {"kind": "hours_saved", "amount": 30000.5, "quantity": 2500, "confidence": 60}],
        "build_cost_estimate": 80000, "run_cost_estimate": 15000, "target_date": "2027-06-30",
    }
    body.update(overrides)
    return body


# --- intake ---------------------------------------------------------------------------------------------------

def test_intake_creates_an_idea_with_the_next_key_and_an_audit_event(client: TestClient, db: Session) -> None:
    unit = make_unit(db, code="FIN", name="Finance")
    owner = make_user(db, roles=[], full_name="Olga Owner")
    objective = Objective(title="Cut cost to serve", period_start=utcnow().date(), period_end=utcnow().date())
    kpi = Kpi(name="Invoice cycle time", direction="lower", baseline=3, target=1)
    db.add_all([objective, kpi])
    db.commit()
    h = headers_for(db)
    before = utcnow()
    r = client.post("/api/v1/use-cases", headers=h, json=intake(
        unit, owner_id=owner.id, objective_ids=[objective.id], kpi_ids=[kpi.id]))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["key"] == "UC-0001"
    assert body["stage"] == "idea"
    assert body["expected_benefit_annual"] == 150000.5
    assert body["owner"] == {"id": owner.id, "full_name": "Olga Owner"}
    assert body["business_unit"] == {"id": unit.id, "name": "Finance"}
    assert [o["id"] for o in body["objectives"]] == [objective.id]
    assert [k["id"] for k in body["kpis"]] == [kpi.id]
    assert [(b["kind"], b["amount"], b["quantity"], b["confidence"]) for b in body["benefits"]] == [
        ("cost_saving", 120000.0, None, 70), ("hours_saved", 30000.5, 2500.0, 60)]
    assert body["submitted_at"] == body["stage_entered_at"]
    db.rollback()
    stored = db.scalar(select(UseCase))
    assert stored.submitted_at >= before and stored.stage_entered_at == stored.submitted_at
    second = client.post("/api/v1/use-cases", headers=h, json=intake(unit, title="Supplier risk radar"))
    assert second.json()["key"] == "UC-0002"
    db.rollback()
    events = db.scalars(select(AuditEvent).where(AuditEvent.entity_type == "use_case").order_by(AuditEvent.seq)).all()
    assert [(e.action, e.entity_id) for e in events] == [("create", "UC-0001"), ("create", "UC-0002")]
    assert '"benefits":[null,["cost_saving 120000 (70%)","hours_saved 30000.5 (60%)"]]' in events[0].diff
    assert db.get(Counter, "use_case").value == 2


@pytest.mark.parametrize(("change", "field"), [
    ({"build_cost_estimate": -1}, "build_cost_estimate"),
    ({"run_cost_estimate": -0.01}, "run_cost_estimate"),
    ({"benefits": [{"kind": "revenue", "amount": -5}]}, "benefits.0.amount"),
    ({"benefits": [{"kind": "revenue", "amount": 5, "confidence": 101}]}, "benefits.0.confidence"),
    ({"benefits": [{"kind": "magic", "amount": 5}]}, "benefits.0.kind"),
    ({"ai_type": "quantum"}, "ai_type"),
    ({"title": "  "}, "title"),
    ({"target_date": "next spring"}, "target_date"),
    ({"stage": "production"}, "stage"),
    ({"business_unit_id": 99999}, "business_unit_id"),
    ({"owner_id": 99999}, "owner_id"),
    ({"sponsor_id": 99999}, "sponsor_id"),
    ({"objective_ids": [99999]}, "objective_ids"),
    ({"kpi_ids": [424242]}, "kpi_ids"),
])
def test_bad_intake_names_the_field_and_writes_nothing(client: TestClient, db: Session, change: dict,
                                                       field: str) -> None:
    unit = make_unit(db)
    h = headers_for(db)
    audit_before = count(db, AuditEvent)
    r = client.post("/api/v1/use-cases", headers=h, json=intake(unit, **change))
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == [field]
    assert count(db, UseCase) == 0
    assert count(db, AuditEvent) == audit_before
    assert db.get(Counter, "use_case") is None  # no key was used up


def test_several_unknown_references_are_reported_together(client: TestClient, db: Session) -> None:
    unit = make_unit(db)
    r = client.post("/api/v1/use-cases", headers=headers_for(db),
                    json=intake(unit, owner_id=777, objective_ids=[5, 6], kpi_ids=[7]))
    assert r.status_code == 422
    assert r.json()["errors"] == [{"field": "owner_id", "message": "No person 777."},
                                  {"field": "objective_ids", "message": "No objective 5, 6."},
                                  {"field": "kpi_ids", "message": "No KPI 7."}]


def test_a_unit_scoped_submitter_submits_only_for_their_units(client: TestClient, db: Session) -> None:
    mine, other = make_unit(db, name="Retail"), make_unit(db, name="Wholesale")
    h = headers_for(db, roles=[("viewer", mine)], business_unit=mine)
    refused = client.post("/api/v1/use-cases", headers=h, json=intake(other))
    assert refused.status_code == 403
    assert count(db, UseCase) == 0
    accepted = client.post("/api/v1/use-cases", headers=h, json=intake(mine))
    assert accepted.status_code == 201
    assert accepted.json()["business_unit"]["name"] == "Retail"


def test_keys_grow_past_four_digits_and_sort_by_number(client: TestClient, db: Session) -> None:
    unit = make_unit(db)
    db.add(Counter(name="use_case", value=9998))
    db.commit()
    keys = [make_use_case(db, unit=unit).key for _ in range(3)]
    assert keys == ["UC-9999", "UC-10000", "UC-10001"]
    h = headers_for(db)
    listed = client.get("/api/v1/use-cases?sort=key", headers=h).json()
    assert [u["key"] for u in listed["items"]] == ["UC-9999", "UC-10000", "UC-10001"]
    listed = client.get("/api/v1/use-cases?sort=-key", headers=h).json()
    assert [u["key"] for u in listed["items"]] == ["UC-10001", "UC-10000", "UC-9999"]


def test_keys_are_sequential_and_unique_under_concurrent_submissions(any_db_url: str, tmp_path: Path) -> None:
    engine = make_engine(any_db_url, busy_timeout_ms=30_000)
    factory = make_sessionmaker(engine)
    with session_scope(factory) as session:
        unit = BusinessUnit(code="C", name="Concurrency")
        session.add(unit)
        session.flush()
        unit_id = unit.id
    threads, per_thread = 8, 5
    failures: list[BaseException] = []
    start = threading.Barrier(threads)

    def submit(n: int) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                with session_scope(factory) as session:
                    usecases.create_use_case(session, None, schemas.UseCaseCreate(
                        title=f"Idea {n}-{i}", business_unit_id=unit_id, ai_type="agentic"))
        except BaseException as exc:  # noqa: BLE001 -- reported below
            failures.append(exc)

    workers = [threading.Thread(target=submit, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert failures == []
    with session_scope(factory, write=False) as session:
        keys = sorted(session.scalars(select(UseCase.key)))
        counter = session.get(Counter, "use_case").value
    engine.dispose()
    assert keys == sorted(f"UC-{n:04d}" for n in range(1, threads * per_thread + 1))
    assert counter == threads * per_thread


# --- duplicate detection ------------------------------------------------------------------------------------------

def test_similarity_finds_a_reworded_duplicate_and_not_an_unrelated_idea() -> None:
    near = similarity.similarity(
        "Invoice processing automation", "Staff key in supplier invoices by hand",
        "Automating the processing of supplier invoices", "Invoices are typed in manually by accounts payable")
    unrelated = similarity.similarity(
        "Invoice processing automation", "Staff key in supplier invoices by hand",
        "Customer churn prediction", "Predict which customers will leave next quarter")
    one_word = similarity.similarity("Invoice fraud detection", "", "Invoice processing automation", "")
    assert near >= similarity.THRESHOLD > one_word
    assert unrelated == 0.0
    assert similarity.terms("The invoices, invoicing and AN invoice!") == frozenset({"invoic"})


def test_similar_endpoint_lists_near_duplicates_within_scope_only(client: TestClient, db: Session) -> None:
    finance, sales = make_unit(db, name="Finance"), make_unit(db, name="Sales")
    dup = make_use_case(db, unit=finance, title="Automated invoice processing",
                        problem_statement="Supplier invoices are keyed in by hand")
    make_use_case(db, unit=finance, title="Customer churn prediction",
                  problem_statement="Predict which customers leave")
    hidden = make_use_case(db, unit=sales, title="Invoice processing automation for sales",
                           problem_statement="Sales invoices keyed by hand")
    body = {"title": "Invoice processing automation", "problem_statement": "Staff key in invoices by hand"}
    r = client.post("/api/v1/use-cases/similar", headers=headers_for(db), json=body)
    assert r.status_code == 200
    found = r.json()
    assert found["threshold"] == similarity.THRESHOLD
    assert [i["key"] for i in found["items"]] == [dup.key, hidden.key]  # the same title first
    assert all(i["score"] >= similarity.THRESHOLD for i in found["items"])
    scoped = headers_for(db, roles=[("viewer", finance)])
    r = client.post("/api/v1/use-cases/similar", headers=scoped, json=body)
    assert [i["key"] for i in r.json()["items"]] == [dup.key]
    r = client.post("/api/v1/use-cases/similar", headers=scoped, json={**body, "exclude_key": dup.key.lower()})
    assert r.json()["items"] == []


def test_prefilter_ranks_candidates_by_matching_title_terms(db: Session) -> None:
    """Among many titles sharing one common word, the one sharing all the probe terms is still compared."""
    unit = make_unit(db)
    for i in range(30):
        make_use_case(db, unit=unit, title=f"Customer topic {i}")
    target = make_use_case(db, unit=unit, title="Customer complaint classification")
    original = usecases.SIMILAR_CANDIDATES
    usecases.SIMILAR_CANDIDATES = 5
    try:
        found = usecases.similar(db, None, "Classification of customer complaints")
    finally:
        usecases.SIMILAR_CANDIDATES = original
    assert [u.key for u, _ in found] == [target.key]


# --- reading, editing, deleting -----------------------------------------------------------------------------------

def test_get_by_key_or_id_list_filters_and_sorting(client: TestClient, db: Session) -> None:
    unit, other = make_unit(db, name="Finance"), make_unit(db, name="Ops")
    owner = make_user(db, roles=[])
    a = make_use_case(db, unit=unit, title="Alpha forecasting", ai_type="predictive_ml", owner=owner)
    b = make_use_case(db, unit=other, title="Beta assistant", ai_type="generative_ai", stage="qualified")
    c = make_use_case(db, unit=unit, title="Gamma agent", ai_type="agentic", stage="pilot",
                      target_date=utcnow().date())
    h = headers_for(db)
    assert client.get(f"/api/v1/use-cases/{a.key.lower()}", headers=h).json()["title"] == "Alpha forecasting"
    assert client.get(f"/api/v1/use-cases/{b.id}", headers=h).json()["key"] == b.key
    assert client.get("/api/v1/use-cases/UC-9999", headers=h).status_code == 404

    def keys(query: str) -> list[str]:
        r = client.get(f"/api/v1/use-cases?{query}", headers=h)
        assert r.status_code == 200, r.text
        return [u["key"] for u in r.json()["items"]]

    assert keys("") == [c.key, b.key, a.key]  # newest first
    assert keys("sort=title") == [a.key, b.key, c.key]
    assert keys("stage=qualified,pilot&sort=key") == [b.key, c.key]
    assert keys("stage=idea&stage=pilot&sort=key") == [a.key, c.key]
    assert keys(f"business_unit_id={unit.id}&sort=key") == [a.key, c.key]
    assert keys("ai_type=generative_ai") == [b.key]
    assert keys("q=gamma") == [c.key]
    assert keys(f"q={a.key}") == [a.key]
    assert keys(f"owner_id={owner.id}") == [a.key]
    assert keys("sort=target_date,key") == [c.key, a.key, b.key]  # no target date: last
    for bad, field in (("stage=later", "stage"), ("sort=colour", "sort"), ("ai_type=quantum", "ai_type")):
        r = client.get(f"/api/v1/use-cases?{bad}", headers=h)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field
    page = client.get("/api/v1/use-cases?limit=2&sort=key", headers=h).json()
    assert (page["total"], page["limit"], page["next_offset"], len(page["items"])) == (3, 2, 2, 2)


def test_patch_edits_fields_benefits_and_links_but_never_the_stage(client: TestClient, db: Session) -> None:
    unit, other = make_unit(db), make_unit(db)
    uc = make_use_case(db, unit=unit, title="Old title", benefits=[{"kind": "revenue", "amount": 10}])
    h = headers_for(db)
    r = client.patch(f"/api/v1/use-cases/{uc.key}", headers=h, json={"stage": "production"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "stage"
    r = client.patch(f"/api/v1/use-cases/{uc.key}", headers=h, json={"title": None})
    assert r.status_code == 422 and r.json()["errors"] == [{"field": "title", "message": "Cannot be empty."}]
    r = client.patch(f"/api/v1/use-cases/{uc.key}", headers=h, json={"build_cost_estimate": -3})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "build_cost_estimate"
    r = client.patch(f"/api/v1/use-cases/{uc.key}", headers=h, json={
        "title": "New title", "business_unit_id": other.id, "delivery_mode": "buy", "delivery_rationale": "Mature",
        "benefits": [{"kind": "cost_saving", "amount": 40}, {"kind": "revenue", "amount": 2.5}]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["title"], body["business_unit"]["id"], body["delivery_mode"], body["stage"]) == (
        "New title", other.id, "buy", "idea")
    assert body["expected_benefit_annual"] == 42.5
    db.rollback()
    event = db.scalars(select(AuditEvent).where(AuditEvent.action == "update")).one()
    assert event.entity_id == uc.key
    assert '"title":["Old title","New title"]' in event.diff
    assert '"expected_benefit_annual":[10.0,42.5]' in event.diff
    assert '"benefits":[["revenue 10 (50%)"],["cost_saving 40 (50%)","revenue 2.5 (50%)"]]' in event.diff
    audit_before = count(db, AuditEvent)
    assert client.patch(f"/api/v1/use-cases/{uc.key}", headers=h, json={"title": "New title"}).status_code == 200
    assert count(db, AuditEvent) == audit_before  # nothing changed, nothing recorded


def test_delete_only_ideas_and_rejected(client: TestClient, db: Session) -> None:
    unit = make_unit(db)
    idea, rejected = make_use_case(db, unit=unit), make_use_case(db, unit=unit, stage="rejected")
    pilot = make_use_case(db, unit=unit, stage="pilot")
    h = headers_for(db)
    r = client.delete(f"/api/v1/use-cases/{pilot.key}", headers=h)
    assert r.status_code == 409 and "only ideas and rejected use cases" in r.json()["detail"]
    assert client.delete(f"/api/v1/use-cases/{idea.key}", headers=h).status_code == 204
    assert client.delete(f"/api/v1/use-cases/{rejected.key}", headers=h).status_code == 204
    assert client.get(f"/api/v1/use-cases/{idea.key}", headers=h).status_code == 404
    db.rollback()
    assert [u for (u,) in db.execute(select(UseCase.key))] == [pilot.key]
    assert db.scalars(select(AuditEvent.entity_id).where(AuditEvent.action == "delete")).all() == [
        idea.key, rejected.key]


def test_scoped_users_see_only_their_units_use_cases(client: TestClient, db: Session) -> None:
    mine, theirs = make_unit(db, name="Mine"), make_unit(db, name="Theirs")
    own = make_use_case(db, unit=mine)
    other = make_use_case(db, unit=theirs)
    reader = headers_for(db, roles=[("practitioner", mine)])
    listed = client.get("/api/v1/use-cases", headers=reader).json()
    assert [u["key"] for u in listed["items"]] == [own.key] and listed["total"] == 1
    assert client.get(f"/api/v1/use-cases/{other.key}", headers=reader).status_code == 404
    assert client.patch(f"/api/v1/use-cases/{other.key}", headers=reader, json={"title": "X"}).status_code == 404
    assert client.delete(f"/api/v1/use-cases/{other.key}", headers=reader).status_code == 404
    r = client.patch(f"/api/v1/use-cases/{own.key}", headers=reader, json={"business_unit_id": theirs.id})
    assert r.status_code == 403  # may not move it out of their units
    assert client.patch(f"/api/v1/use-cases/{own.key}", headers=reader, json={"title": "Mine now"}).status_code == 200
    viewer = headers_for(db, roles=[("viewer", None)])
    assert client.patch(f"/api/v1/use-cases/{own.key}", headers=viewer, json={"title": "X"}).status_code == 403


# --- pages ---------------------------------------------------------------------------------------------------------

@pytest.fixture
def browser(client: TestClient, db: Session, settings) -> TestClient:  # noqa: ANN001
    user = make_user(db, email="ada@example.com", full_name="Ada Admin", password=PASSWORD, settings=settings)
    login(client, user.email)
    return client


def test_intake_page_asks_before_submitting_a_likely_duplicate(browser: TestClient, db: Session) -> None:
    unit = make_unit(db, name="Finance")
    existing = make_use_case(db, unit=unit, title="Automated invoice processing",
                             problem_statement="Invoices keyed by hand")
    page = browser.get("/use-cases/new")
    assert page.status_code == 200 and "Submit a use case" in page.text
    form = {"csrf_token": csrf_from(page.text), "title": "Invoice processing automation",
            "problem_statement": "Staff key invoices in by hand", "business_unit_id": str(unit.id),
            "ai_type": "generative_ai", "benefit_rows": "3", "benefit_kind_0": "cost_saving",
            "benefit_amount_0": "5000", "benefit_confidence_0": "80", "build_cost_estimate": "100"}
    first = browser.post("/use-cases", data=form, follow_redirects=False)
    assert first.status_code == 200
    assert "Similar use cases already exist" in first.text and existing.key in first.text
    assert 'name="confirm_duplicates" value="1"' in first.text
    assert count(db, UseCase) == 1
    second = browser.post("/use-cases", data={**form, "confirm_duplicates": "1"}, follow_redirects=False)
    assert second.status_code == 303 and second.headers["location"] == "/use-cases/UC-0002"
    db.rollback()
    created = db.scalar(select(UseCase).where(UseCase.key == "UC-0002"))
    assert (created.title, created.expected_benefit_annual, created.build_cost_estimate) == (
        "Invoice processing automation", 5000.0, 100.0)


def test_intake_page_shows_field_errors_and_keeps_input(browser: TestClient, db: Session) -> None:
    unit = make_unit(db)
    page = browser.get("/use-cases/new")
    form = {"csrf_token": csrf_from(page.text), "title": "Churn radar", "business_unit_id": str(unit.id),
            "ai_type": "predictive_ml", "benefit_rows": "3", "benefit_kind_1": "revenue", "benefit_amount_1": "-4",
            "run_cost_estimate": "-10"}
    r = browser.post("/use-cases", data=form)
    assert r.status_code == 422
    assert 'id="e-run_cost_estimate"' in r.text and 'id="e-benefit_amount_1"' in r.text
    assert 'value="Churn radar"' in r.text
    assert count(db, UseCase) == 0


def test_overview_edit_and_list_pages(browser: TestClient, db: Session) -> None:
    unit = make_unit(db, name="Finance")
    uc = make_use_case(db, unit=unit, title="Cash forecasting", benefits=[{"kind": "revenue", "amount": 1000}])
    listing = browser.get("/use-cases?q=cash")
    assert listing.status_code == 200 and uc.key in listing.text
    assert "/api/v1/use-cases/export?format=csv&amp;q=cash" in listing.text
    overview = browser.get(f"/use-cases/{uc.key}")
    assert overview.status_code == 200
    assert 'aria-current="page">Overview' in overview.text and f"/use-cases/{uc.key}/lifecycle" in overview.text
    assert "Score this use case" in overview.text and "1,000 EUR" in overview.text
    edit = browser.get(f"/use-cases/{uc.key}/edit")
    assert edit.status_code == 200 and 'value="Cash forecasting"' in edit.text
    saved = browser.post(f"/use-cases/{uc.key}", data={
        "csrf_token": csrf_from(edit.text), "title": "Cash forecasting v2", "business_unit_id": str(unit.id),
        "ai_type": "predictive_ml", "benefit_rows": "4", "benefit_kind_0": "revenue", "benefit_amount_0": "2000",
        "delivery_mode": "build"}, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    db.rollback()
    db.refresh(uc)
    assert (uc.title, uc.expected_benefit_annual, uc.delivery_mode) == ("Cash forecasting v2", 2000.0, "build")
    deleted = browser.post(f"/use-cases/{uc.key}/delete", data={"csrf_token": csrf_from(edit.text)},
                           follow_redirects=False)
    assert deleted.status_code == 303 and count(db, UseCase) == 0
