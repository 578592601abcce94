"""Value delivery: entries and their validation, running totals, per-use-case figures, the dashboard and
roll-ups, patterns, scoping, and the pages."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy_financial as npf
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aicoe.auth.principal import Principal
from aicoe.core.db import begin_write, make_engine, make_sessionmaker
from aicoe.core.errors import PermissionDenied
from aicoe.core.time import utcnow
from aicoe.models.audit import AuditEvent
from aicoe.models.org import BusinessUnit, User
from aicoe.models.portfolio import UseCase, ValueEntry
from aicoe.models.strategy import Objective
from aicoe.portfolio import dashboard as board
from aicoe.portfolio import finance, patterns, schemas, usecases, value
from tests.factories import PASSWORD, bearer, csrf_from, login, make_token, make_unit, make_user

ONE_PERCENT_A_MONTH = 1.01**12 - 1


# --- arranging -------------------------------------------------------------------------------------------------

def new_use_case(db: Session, unit: BusinessUnit, *, title: str = "Claims triage", expected: float = 0.0,
                 objectives: tuple[Objective, ...] = (), **columns: Any) -> UseCase:
    """Submitted through the intake service; stage columns then set as the lifecycle service would."""
    db.commit()
    begin_write(db)
    benefits = [schemas.BenefitIn(kind="revenue", amount=expected)] if expected else []
    use_case = usecases.create_use_case(db, None, schemas.UseCaseCreate(
        title=title, business_unit_id=unit.id, ai_type="predictive_ml", benefits=benefits,
        objective_ids=[o.id for o in objectives]))
    for name, column_value in columns.items():
        setattr(use_case, name, column_value)
    db.commit()
    return use_case


def record(db: Session, use_case: UseCase, kind: str, amount: float, period: date = date(2024, 1, 1)) -> ValueEntry:
    db.commit()
    begin_write(db)
    entry = value.add_entry(db, None, use_case.key, value.ValueEntryIn(period=period, kind=kind, amount=amount))
    db.commit()
    return entry


def headers_for(db: Session, *roles: tuple[str, BusinessUnit | None]) -> dict[str, str]:
    return bearer(make_token(db, make_user(db, roles=list(roles))))


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(hour=9, tzinfo=UTC)


@pytest.fixture
def unit(db: Session) -> BusinessUnit:
    return make_unit(db, code="CLAIMS", name="Claims")


@pytest.fixture
def admin(db: Session) -> dict[str, str]:
    return headers_for(db, ("admin", None))


# --- entries: validation and running totals ------------------------------------------------------------------------

def test_entry_period_is_kept_as_its_month_and_totals_follow(client: TestClient, db: Session, unit: BusinessUnit,
                                                             admin: dict[str, str]) -> None:
    uc = new_use_case(db, unit)
    r = client.post(f"/api/v1/use-cases/{uc.key}/value-entries", headers=admin,
                    json={"period": "2024-03-17", "kind": "cost_build", "amount": 1200.456, "note": "sprint 1"})
    assert r.status_code == 201, r.text
    assert r.json()["period"] == "2024-03-01" and r.json()["amount"] == 1200.46
    client.post(f"/api/v1/use-cases/{uc.key.lower()}/value-entries", headers=admin,
                json={"period": "2024-04-02", "kind": "benefit_hours_saved", "amount": 300, "quantity": 12.5})
    db.commit()
    db.expire_all()
    row = db.get(UseCase, uc.id)
    assert (row.realised_cost, row.realised_benefit) == (1200.46, 300.0)
    listing = client.get(f"/api/v1/use-cases/{uc.key}/value-entries?sort=period", headers=admin).json()
    assert [(e["period"], e["kind"], e["quantity"]) for e in listing["items"]] == [
        ("2024-03-01", "cost_build", None), ("2024-04-01", "benefit_hours_saved", 12.5)]
    assert client.get(f"/api/v1/use-cases/{uc.key}/value-entries?kind=cost_build", headers=admin).json()["total"] == 1


@pytest.mark.parametrize(("body", "field"), [
    ({"period": "2024-01-01", "kind": "benefit_revenue", "amount": -5}, "amount"),
    ({"period": "2024-01-01", "kind": "cost_gift", "amount": 5}, "kind"),
    ({"period": "2024-13-01", "kind": "cost_run", "amount": 5}, "period"),
    ({"period": "2024-01-01", "kind": "cost_run"}, "amount"),
    ({"period": "2024-01-01", "kind": "cost_run", "amount": 5, "colour": "red"}, "colour"),
])
def test_bad_entries_are_refused_with_the_field_named_and_nothing_written(
        client: TestClient, db: Session, unit: BusinessUnit, admin: dict[str, str], body: dict, field: str) -> None:
    uc = new_use_case(db, unit)
    r = client.post(f"/api/v1/use-cases/{uc.key}/value-entries", headers=admin, json=body)
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == [field]
    db.commit()
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(ValueEntry)) == 0
    assert (db.get(UseCase, uc.id).realised_benefit, db.get(UseCase, uc.id).realised_cost) == (0.0, 0.0)


def test_update_and_delete_move_the_totals_and_are_audited(client: TestClient, db: Session, unit: BusinessUnit,
                                                           admin: dict[str, str]) -> None:
    uc = new_use_case(db, unit)
    entry = record(db, uc, "benefit_revenue", 500.0)
    url = f"/api/v1/use-cases/{uc.key}/value-entries/{entry.id}"
    r = client.patch(url, headers=admin, json={"kind": "cost_run", "amount": 80})
    assert r.status_code == 200 and r.json()["kind"] == "cost_run"
    db.commit()
    db.expire_all()
    assert (db.get(UseCase, uc.id).realised_benefit, db.get(UseCase, uc.id).realised_cost) == (0.0, 80.0)
    assert client.patch(url, headers=admin, json={"amount": None}).status_code == 422
    assert client.delete(url, headers=admin).status_code == 204
    assert client.get(url, headers=admin).status_code == 404
    db.commit()
    db.expire_all()
    assert db.get(UseCase, uc.id).realised_cost == 0.0
    events = db.execute(select(AuditEvent.action, AuditEvent.diff).where(AuditEvent.entity_type == "value_entry")
                        .order_by(AuditEvent.seq)).all()
    assert [a for a, _ in events] == ["create", "update", "delete"]
    assert '"realised_cost":[0.0,80.0]' in events[1][1] and '"realised_benefit":[500.0,0.0]' in events[1][1]
    assert '"realised_cost":[80.0,0.0]' in events[2][1]


def test_an_entry_of_another_use_case_is_not_found(client: TestClient, db: Session, unit: BusinessUnit,
                                                   admin: dict[str, str]) -> None:
    first, second = new_use_case(db, unit), new_use_case(db, unit, title="Other")
    entry = record(db, first, "cost_run", 10.0)
    assert client.delete(f"/api/v1/use-cases/{second.key}/value-entries/{entry.id}", headers=admin).status_code == 404
    assert client.get("/api/v1/use-cases/UC-9999/value", headers=admin).status_code == 404


Op = tuple[str, str, float, int]
ops = st.lists(st.tuples(st.sampled_from(["add", "add", "update", "delete"]),
                         st.sampled_from(sorted(value.VALUE_KINDS)),
                         st.floats(min_value=0, max_value=1e7, allow_nan=False).map(lambda x: round(x, 2)),
                         st.integers(min_value=0, max_value=50)), min_size=1, max_size=25)


@given(ops)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_running_totals_equal_a_fresh_sum_after_any_changes(db: Session, unit: BusinessUnit, steps: list[Op]) -> None:
    uc = new_use_case(db, unit, title="Property")
    for action, kind, amount, pick in steps:
        db.commit()
        begin_write(db)
        ids = list(db.scalars(select(ValueEntry.id).where(ValueEntry.use_case_id == uc.id).order_by(ValueEntry.id)))
        if action == "add" or not ids:
            value.add_entry(db, None, uc.key, value.ValueEntryIn(period=date(2024, 1 + pick % 12, 1), kind=kind,
                                                                  amount=amount))
        elif action == "update":
            value.update_entry(db, None, uc.key, ids[pick % len(ids)], value.ValueEntryUpdate(kind=kind, amount=amount))
        else:
            value.delete_entry(db, None, uc.key, ids[pick % len(ids)])
        db.commit()
        db.commit()
        db.expire_all()
        row = db.get(UseCase, uc.id)
        assert (row.realised_benefit, row.realised_cost) == value.resum(db, uc.id)


# --- figures for one use case --------------------------------------------------------------------------------------

def test_value_figures_hand_checked_and_against_numpy_financial(client: TestClient, db: Session, unit: BusinessUnit,
                                                                 admin: dict[str, str]) -> None:
    today = utcnow().date()
    start = finance.add_months(today, -5)  # in production for six calendar months, this one included
    uc = new_use_case(db, unit, expected=24_000.0, stage="production", submitted_at=at("2023-01-10"),
                      production_at=datetime.combine(start, datetime.min.time(), UTC) + timedelta(hours=9))
    for period, kind, amount in [(date(2024, 1, 1), "cost_build", 1000.0), (date(2024, 2, 1), "benefit_revenue", 505.0),
                                 (date(2024, 3, 1), "benefit_revenue", 300.0), (date(2024, 3, 1), "benefit_cost_saving",
                                                                               210.05)]:
        record(db, uc, kind, amount, period)
    r = client.get(f"/api/v1/use-cases/{uc.key}/value?discount_rate={ONE_PERCENT_A_MONTH}", headers=admin)
    assert r.status_code == 200, r.text
    s = r.json()
    assert (s["benefits"], s["costs"], s["net"]) == (1015.05, 1000.0, 15.05)
    assert s["roi"] == pytest.approx(0.01505, abs=1e-12)
    assert s["totals_by_kind"]["benefit_revenue"] == 805.0 and s["totals_by_kind"]["cost_run"] == 0.0
    assert [(m["period"], m["net"], m["cumulative"]) for m in s["months"]] == [
        ("2024-01-01", -1000.0, -1000.0), ("2024-02-01", 505.0, -495.0), ("2024-03-01", 510.05, 15.05)]
    assert s["payback_months"] == pytest.approx(2 + 495 / 510.05, abs=1e-12)  # 2.97... months
    assert s["npv"] == pytest.approx(0.0, abs=1e-9)  # -1000 + 505/1.01 + 510.05/1.01^2
    assert s["irr"] == pytest.approx(ONE_PERCENT_A_MONTH, abs=1e-9)
    assert s["npv"] == pytest.approx(npf.npv(0.01, [-1000, 505, 510.05]), abs=1e-9)
    assert (s["expected_annual"], s["expected_to_date"], s["expected_since"]) == (24_000.0, 12_000.0,
                                                                                 start.isoformat())
    assert s["realised_vs_expected"] == pytest.approx(1015.05 / 12_000)
    assert s["delivery_days"] == round((uc.production_at - at("2023-01-10")).total_seconds() / 86400, 2)
    default = client.get(f"/api/v1/use-cases/{uc.key}/value", headers=admin).json()
    assert default["discount_rate"] == 0.08
    assert default["npv"] == pytest.approx(npf.npv(1.08 ** (1 / 12) - 1, [-1000, 505, 510.05]), abs=1e-9)
    assert client.get(f"/api/v1/use-cases/{uc.key}/value?discount_rate=1.5", headers=admin).status_code == 422


def test_value_figures_say_why_they_are_missing(client: TestClient, db: Session, unit: BusinessUnit,
                                                admin: dict[str, str]) -> None:
    uc = new_use_case(db, unit, expected=1200.0)
    record(db, uc, "benefit_revenue", 100.0)
    s = client.get(f"/api/v1/use-cases/{uc.key}/value", headers=admin).json()
    assert s["roi"] is None and "undefined without costs" in s["notes"]["roi"]
    assert s["payback_months"] == 0.0 and s["irr"] is None
    assert s["expected_to_date"] == 0.0 and s["realised_vs_expected"] is None and s["delivery_days"] is None
    assert "enters production" in s["notes"]["expected_to_date"]
    empty = new_use_case(db, unit, title="Empty")
    e = client.get(f"/api/v1/use-cases/{empty.key}/value", headers=admin).json()
    assert e["months"] == [] and e["npv"] is None and e["notes"]["payback_months"] == "no value recorded yet"


def test_retired_use_case_expects_benefit_only_until_retirement() -> None:
    uc = UseCase(stage="retired", production_at=at("2023-06-10"), stage_entered_at=at("2023-12-20"))
    assert value.expectation_window(uc, date(2024, 6, 15)) == (date(2023, 6, 10), date(2023, 12, 20))
    uc.stage = "on_hold"
    assert value.expectation_window(uc, date(2024, 6, 15)) == (date(2023, 6, 10), date(2024, 6, 15))


# --- dashboard and roll-ups, on both databases ---------------------------------------------------------------------

NOW = datetime(2024, 6, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def portfolio(any_db_url: str) -> Iterator[tuple[Session, dict[str, Any]]]:
    """A small portfolio with hand-checked figures (see each assertion)."""
    engine = make_engine(any_db_url)
    session = make_sessionmaker(engine)()
    a, b = make_unit(session, code="A", name="Alpha"), make_unit(session, code="B", name="Beta")
    session.commit()
    begin_write(session)
    o1 = Objective(title="Faster claims", period_start=date(2024, 1, 1), period_end=date(2024, 12, 31))
    o2 = Objective(title="Unserved", period_start=date(2024, 1, 1), period_end=date(2024, 12, 31))
    session.add_all([o1, o2])
    session.commit()
    uc = {
        "uc1": new_use_case(session, a, title="Claims triage", expected=12_000, objectives=(o1,), stage="production",
                            submitted_at=at("2023-11-05"), production_at=at("2024-01-15")),
        "uc2": new_use_case(session, a, title="Fraud scoring", expected=24_000, stage="retired",
                            submitted_at=at("2023-01-10"), production_at=at("2023-06-10"),
                            stage_entered_at=at("2023-12-20")),
        "uc3": new_use_case(session, b, title="Mail assistant", expected=6_000, objectives=(o1,), stage="pilot"),
        "uc4": new_use_case(session, b, title="Paused", stage="on_hold", stage_before_hold="proof_of_concept"),
        "uc5": new_use_case(session, b, title="New idea"),
        "uc6": new_use_case(session, a, title="Turned down", stage="rejected"),
        "uc7": new_use_case(session, b, title="Routing", stage="production", submitted_at=at("2024-02-01"),
                            production_at=at("2024-05-01")),
    }
    for key, kind, amount in [("uc1", "benefit_revenue", 5000), ("uc1", "cost_build", 2000),
                              ("uc2", "benefit_cost_saving", 10_000), ("uc2", "cost_run", 4000),
                              ("uc3", "benefit_hours_saved", 300), ("uc3", "cost_build", 1000)]:
        record(session, uc[key], kind, amount)
    reader = make_user(session, roles=[("project_manager", b)])
    uc["beta_reader"] = Principal.resolve(session, session.get(User, reader.id))
    uc["o1"], uc["o2"] = o1, o2
    try:
        yield session, uc
    finally:
        session.close()
        engine.dispose()


def test_dashboard_figures_exact(portfolio: tuple[Session, dict[str, Any]]) -> None:
    session, uc = portfolio
    d = board.dashboard(session, None, now=NOW)
    assert d.total == 7
    assert {s.stage: s.count for s in d.by_stage} == {
        "idea": 1, "qualified": 0, "prioritised": 0, "proof_of_concept": 0, "pilot": 1, "production": 2,
        "retired": 1, "rejected": 1, "on_hold": 1}
    # reached: in the stage or further along the main path; the paused one counts up to proof of concept
    assert [(s.stage, s.count, s.reached) for s in d.funnel] == [
        ("idea", 1, 6), ("qualified", 0, 5), ("prioritised", 0, 5), ("proof_of_concept", 0, 5), ("pilot", 1, 4),
        ("production", 2, 3), ("retired", 1, 1)]
    assert [(u.code, u.count) for u in d.by_unit] == [("B", 4), ("A", 3)]
    v = d.value
    assert (v.use_cases, v.in_production, v.expected_annual) == (7, 3, 42_000.0)
    # uc1: Jan..Jun 2024 = 6 months of 12,000/12; uc2: Jun..Dec 2023 = 7 months of 24,000/12; uc7 expects nothing
    assert v.expected_to_date == 6_000.0 + 14_000.0
    assert (v.realised_benefit, v.realised_cost, v.net) == (15_300.0, 7_000.0, 8_300.0)
    assert v.roi == pytest.approx(8_300 / 7_000)
    assert v.realised_vs_expected == pytest.approx(15_300 / 20_000)
    assert d.delivered == 3
    assert d.median_delivery_days == pytest.approx(90.0, abs=1e-6)  # of 71, 151 and 90 days
    assert [(t.key, t.unit_code, t.realised_benefit) for t in d.top] == [
        (uc["uc2"].key, "A", 10_000.0), (uc["uc1"].key, "A", 5_000.0), (uc["uc3"].key, "B", 300.0)]


def test_rollups_by_unit_and_objective(portfolio: tuple[Session, dict[str, Any]]) -> None:
    session, uc = portfolio
    units = {r.key: r for r in board.by_unit(session, None, now=NOW)}
    a, b = units["A"], units["B"]
    assert (a.label, a.use_cases, a.in_production, a.expected_annual, a.expected_to_date) == (
        "Alpha", 3, 2, 36_000.0, 20_000.0)
    assert (a.realised_benefit, a.realised_cost, a.roi) == (15_000.0, 6_000.0, 1.5)
    assert (b.use_cases, b.in_production, b.expected_annual, b.expected_to_date, b.realised_benefit,
            b.realised_cost) == (4, 1, 6_000.0, 0.0, 300.0, 1_000.0)
    assert b.roi == -0.7 and b.realised_vs_expected is None
    objectives = board.by_objective(session, None, now=NOW)
    assert [(r.label, r.use_cases, r.expected_annual, r.expected_to_date, r.realised_benefit, r.realised_cost)
            for r in objectives] == [("Faster claims", 2, 18_000.0, 6_000.0, 5_300.0, 3_000.0),
                                     ("Unserved", 0, 0.0, 0.0, 0.0, 0.0)]


def test_dashboard_is_scoped_to_the_readers_units(portfolio: tuple[Session, dict[str, Any]]) -> None:
    session, uc = portfolio
    d = board.dashboard(session, uc["beta_reader"], now=NOW)
    assert d.total == 4 and [u.code for u in d.by_unit] == ["B"]
    assert (d.value.realised_benefit, d.value.realised_cost, d.value.expected_to_date) == (300.0, 1_000.0, 0.0)
    assert d.delivered == 1 and d.median_delivery_days == pytest.approx(90.0, abs=1e-6)
    assert [t.key for t in d.top] == [uc["uc3"].key]
    assert [r.key for r in board.by_unit(session, uc["beta_reader"], now=NOW)] == ["B"]
    assert [(r.label, r.use_cases) for r in board.by_objective(session, uc["beta_reader"], now=NOW)] == [
        ("Faster claims", 1), ("Unserved", 0)]


def test_dashboard_of_an_empty_portfolio(db: Session) -> None:
    d = board.dashboard(db, None)
    assert d.total == 0 and d.median_delivery_days is None and d.value.roi is None and d.top == []
    assert all(s.reached == 0 for s in d.funnel)


def test_dashboard_api(client: TestClient, db: Session, unit: BusinessUnit, admin: dict[str, str]) -> None:
    uc = new_use_case(db, unit, expected=1200.0, stage="production", submitted_at=at("2024-01-01"),
                      production_at=at("2024-01-31"))
    record(db, uc, "benefit_revenue", 250.0)
    d = client.get("/api/v1/portfolio/dashboard", headers=admin).json()
    assert d["currency"] == "EUR" and d["total"] == 1 and d["delivered"] == 1
    assert d["median_delivery_days"] == pytest.approx(30.0, abs=1e-6)
    assert d["value"]["realised_benefit"] == 250.0 and d["value"]["roi"] is None
    assert d["top"] == [{"key": uc.key, "title": "Claims triage", "unit_code": "CLAIMS", "stage": "production",
                         "realised_benefit": 250.0, "realised_cost": 0.0}]
    rollups = client.get("/api/v1/portfolio/rollups?by=unit", headers=admin).json()
    assert [(r["key"], r["use_cases"], r["realised_benefit"]) for r in rollups] == [("CLAIMS", 1, 250.0)]
    assert client.get("/api/v1/portfolio/rollups?by=planet", headers=admin).status_code == 422


# --- scoping and permissions ---------------------------------------------------------------------------------------

def test_value_is_scoped_by_business_unit(client: TestClient, db: Session) -> None:
    mine, theirs = make_unit(db, code="MINE"), make_unit(db, code="THEIRS")
    own, other = new_use_case(db, mine, title="Own"), new_use_case(db, theirs, title="Other")
    manager = headers_for(db, ("project_manager", mine))
    body = {"period": "2024-01-01", "kind": "cost_run", "amount": 10}
    assert client.post(f"/api/v1/use-cases/{own.key}/value-entries", headers=manager, json=body).status_code == 201
    assert client.post(f"/api/v1/use-cases/{other.key}/value-entries", headers=manager, json=body).status_code == 404
    assert client.get(f"/api/v1/use-cases/{other.key}/value", headers=manager).status_code == 404
    assert client.get("/api/v1/portfolio/dashboard", headers=manager).json()["total"] == 1
    # reads everything CoE-wide, may record value in one unit only: the other unit's use case is visible, not writable
    sponsor = headers_for(db, ("executive_sponsor", None), ("project_manager", mine))
    r = client.post(f"/api/v1/use-cases/{other.key}/value-entries", headers=sponsor, json=body)
    assert r.status_code == 403 and r.json()["type"].endswith("/forbidden")
    assert client.get(f"/api/v1/use-cases/{other.key}/value", headers=sponsor).status_code == 200
    # a practitioner reads but records no value
    practitioner = headers_for(db, ("practitioner", mine))
    assert client.post(f"/api/v1/use-cases/{own.key}/value-entries", headers=practitioner,
                       json=body).status_code == 403
    db.commit()
    db.expire_all()
    assert db.get(UseCase, other.id).realised_cost == 0.0


# --- patterns ------------------------------------------------------------------------------------------------------

def test_patterns_show_which_units_share_them(client: TestClient, db: Session, admin: dict[str, str]) -> None:
    a, b = make_unit(db, code="RETAIL", name="Retail"), make_unit(db, code="CORP", name="Corporate")
    ua, ub, ua2 = new_use_case(db, a, title="Summarise claims"), new_use_case(db, b, title="Summarise contracts"), \
        new_use_case(db, a, title="Fraud")
    summary = client.post("/api/v1/patterns", headers=admin, json={"name": "Document summarisation"}).json()
    fraud = client.post("/api/v1/patterns", headers=admin, json={"name": "Fraud detection", "description": "x"}).json()
    assert client.post("/api/v1/patterns", headers=admin,
                       json={"name": "document SUMMARISATION"}).status_code == 409
    assert client.post("/api/v1/patterns", headers=admin, json={"name": " "}).status_code == 422
    for key, pid in [(ua.key, summary["id"]), (ub.key, summary["id"]), (ua2.key, fraud["id"]), (ua2.key, fraud["id"])]:
        r = client.put(f"/api/v1/use-cases/{key}/patterns/{pid}", headers=admin)
        assert r.status_code == 200, r.text
    assert client.put(f"/api/v1/use-cases/{ua.key}/patterns/999", headers=admin).status_code == 404
    listing = client.get("/api/v1/patterns", headers=admin).json()
    by_name = {p["name"]: p for p in listing["items"]}
    assert [u["code"] for u in by_name["Document summarisation"]["units"]] == ["CORP", "RETAIL"]
    assert by_name["Document summarisation"]["shared"] is True and by_name["Fraud detection"]["shared"] is False
    assert [u["key"] for u in by_name["Document summarisation"]["use_cases"]] == [ua.key, ub.key]
    assert [p["name"] for p in client.get("/api/v1/patterns?shared=true", headers=admin).json()["items"]] == [
        "Document summarisation"]
    assert [p["name"] for p in client.get("/api/v1/patterns?q=fraud", headers=admin).json()["items"]] == [
        "Fraud detection"]
    assert client.delete(f"/api/v1/use-cases/{ub.key}/patterns/{summary['id']}", headers=admin).json() == []
    assert client.get(f"/api/v1/patterns/{summary['id']}", headers=admin).json()["shared"] is False
    tags = db.execute(select(AuditEvent.action, AuditEvent.diff).where(AuditEvent.entity_type == "use_case",
                                                                       AuditEvent.action.in_(["tag", "untag"]))
                      .order_by(AuditEvent.seq)).all()
    assert [a for a, _ in tags] == ["tag", "tag", "tag", "untag"]  # tagging twice records once
    assert tags[-1][1] == '{"patterns":[["Document summarisation"],[]]}'


def test_pattern_usage_is_scoped_and_shared_patterns_need_coe_wide_rights(client: TestClient, db: Session,
                                                                            admin: dict[str, str]) -> None:
    a, b = make_unit(db, code="A1"), make_unit(db, code="B1")
    ua, ub = new_use_case(db, a, title="A case"), new_use_case(db, b, title="B case")
    pid = client.post("/api/v1/patterns", headers=admin, json={"name": "Assistant"}).json()["id"]
    for key in (ua.key, ub.key):
        client.put(f"/api/v1/use-cases/{key}/patterns/{pid}", headers=admin)
    manager = headers_for(db, ("project_manager", a))
    seen = client.get(f"/api/v1/patterns/{pid}", headers=manager).json()
    assert [u["key"] for u in seen["use_cases"]] == [ua.key] and [u["code"] for u in seen["units"]] == ["A1"]
    assert client.put(f"/api/v1/use-cases/{ub.key}/patterns/{pid}", headers=manager).status_code == 404
    assert client.patch(f"/api/v1/patterns/{pid}", headers=manager, json={"name": "Renamed"}).status_code == 403
    assert client.delete(f"/api/v1/patterns/{pid}", headers=manager).status_code == 403
    assert client.post("/api/v1/patterns", headers=manager, json={"name": "Forecasting"}).status_code == 201
    assert client.patch(f"/api/v1/patterns/{pid}", headers=admin, json={"description": "Chat"}).json()[
        "description"] == "Chat"
    assert client.delete(f"/api/v1/patterns/{pid}", headers=admin).status_code == 204
    db.commit()
    db.expire_all()
    assert db.get(UseCase, ua.id).patterns == []


def test_pattern_service_refuses_a_scoped_rename(db: Session) -> None:
    unit = make_unit(db)
    user = make_user(db, roles=[("project_manager", unit)])
    principal = Principal.resolve(db, user)
    db.commit()
    begin_write(db)
    pattern = patterns.create_pattern(db, principal, patterns.PatternIn(name="Search"))
    with pytest.raises(PermissionDenied):
        patterns.update_pattern(db, principal, pattern.id, patterns.PatternUpdate(name="Find"))


# --- pages ---------------------------------------------------------------------------------------------------------

def _browser(client: TestClient, db: Session, roles: list[tuple[str, BusinessUnit | None]] | None = None) -> None:
    user = make_user(db, roles=roles if roles is not None else [("admin", None)], password=PASSWORD,
                     settings=client.app.state.settings)
    login(client, user.email)


def test_value_page_records_entries_and_shows_errors_next_to_fields(client: TestClient, db: Session,
                                                                    unit: BusinessUnit) -> None:
    uc = new_use_case(db, unit, expected=12_000)
    _browser(client, db)
    page = client.get(f"/use-cases/{uc.key}/value")
    assert page.status_code == 200 and "No cost or benefit recorded yet" in page.text
    token = csrf_from(page.text)
    bad = client.post(f"/use-cases/{uc.key}/value", data={"csrf_token": token, "period": "2024-05-09",
                                                          "kind": "cost_run", "amount": "-3"})
    assert bad.status_code == 422
    assert 'id="e-amount"' in bad.text and 'value="2024-05-09"' in bad.text
    ok = client.post(f"/use-cases/{uc.key}/value", data={"csrf_token": token, "period": "2024-05-09",
                                                         "kind": "cost_run", "amount": "1250.5"},
                     follow_redirects=False)
    assert ok.status_code == 303
    shown = client.get(ok.headers["location"])
    assert "Cost: Run of 1,250.50 EUR recorded for May 2024." in shown.text
    assert "<svg" in shown.text and "May 2024" in shown.text and 'aria-current="page">Value</a>' in shown.text
    entry = db.scalar(select(ValueEntry).where(ValueEntry.use_case_id == uc.id))
    assert client.get(f"/use-cases/{uc.key}/value/{entry.id}/edit").status_code == 200
    saved = client.post(f"/use-cases/{uc.key}/value/{entry.id}", data={
        "csrf_token": token, "period": "2024-06-01", "kind": "cost_run", "amount": "99", "note": "fixed"},
        follow_redirects=False)
    assert saved.status_code == 303
    assert client.post(f"/use-cases/{uc.key}/value/{entry.id}/delete", data={"csrf_token": token},
                       follow_redirects=False).status_code == 303
    db.commit()
    db.expire_all()
    assert db.get(UseCase, uc.id).realised_cost == 0.0
    rate = client.get(f"/use-cases/{uc.key}/value?discount_rate=250%")
    assert rate.status_code == 422 and 'id="e-discount_rate"' in rate.text


def test_value_page_hides_the_form_from_readers(client: TestClient, db: Session, unit: BusinessUnit) -> None:
    uc = new_use_case(db, unit)
    _browser(client, db, [("practitioner", unit)])
    page = client.get(f"/use-cases/{uc.key}/value")
    assert page.status_code == 200 and "Record a cost or benefit" not in page.text


def test_portfolio_and_pattern_pages(client: TestClient, db: Session, unit: BusinessUnit) -> None:
    uc = new_use_case(db, unit, expected=1000, stage="production", production_at=at("2024-01-01"))
    record(db, uc, "benefit_revenue", 400.0)
    _browser(client, db)
    page = client.get("/portfolio")
    assert page.status_code == 200
    assert "Pipeline funnel" in page.text and page.text.count("<svg") == 3 and "400 EUR" in page.text
    patterns_page = client.get("/patterns")
    token = csrf_from(patterns_page.text)
    created = client.post("/patterns", data={"csrf_token": token, "name": "Forecasting"}, follow_redirects=False)
    assert created.status_code == 303
    detail_url = created.headers["location"]
    assert client.post("/patterns", data={"csrf_token": token, "name": "forecasting"}).status_code == 409
    missing = client.post(f"{detail_url}/use-cases", data={"csrf_token": token, "key": "UC-9999"})
    assert missing.status_code == 422 and 'id="e-key"' in missing.text
    tagged = client.post(f"{detail_url}/use-cases", data={"csrf_token": token, "key": uc.key.lower()},
                         follow_redirects=False)
    assert tagged.status_code == 303
    detail = client.get(detail_url)
    assert uc.key in detail.text and unit.name in detail.text
    assert client.post(f"{detail_url}/use-cases/{uc.key}/remove", data={"csrf_token": token},
                       follow_redirects=False).status_code == 303
    assert client.post(f"{detail_url}/delete", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    assert "There are no patterns yet." in client.get("/patterns").text
