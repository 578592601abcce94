"""Strategy: the versioned mission, objectives, KPIs and measurements through the API and the pages, the KPI
status rules with exact values in both directions, bad input (nothing written), permissions, audit events."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aicoe.app import create_app
from aicoe.models.audit import AuditEvent
from aicoe.models.org import User
from aicoe.models.portfolio import UseCase, use_case_objectives
from aicoe.models.strategy import Kpi, KpiMeasurement, MissionVersion, Objective
from aicoe.strategy import schemas, service
from aicoe.strategy.service import elapsed_share, kpi_status, progress_of
from aicoe.web import charts
from tests.factories import PASSWORD, bearer, csrf_from, login, make_settings, make_token, make_unit, make_user

API = "/api/v1"


def headers_for(db: Session, role: str = "admin") -> dict[str, str]:
    return bearer(make_token(db, make_user(db, roles=[(role, None)])))


def count(db: Session, model: Any) -> int:
    db.rollback()
    return db.scalar(select(func.count()).select_from(model)) or 0


def events(db: Session, entity_type: str) -> list[tuple[str, str]]:
    db.rollback()
    rows = db.scalars(select(AuditEvent).where(AuditEvent.entity_type == entity_type).order_by(AuditEvent.seq))
    return [(e.action, e.entity_id) for e in rows]


def objective_body(**overrides: Any) -> dict[str, Any]:
    return {"title": "Grow digital revenue", "period_start": "2024-01-01", "period_end": "2024-12-31", **overrides}


def kpi_body(**overrides: Any) -> dict[str, Any]:
    return {"name": "Self-service share", "unit": "%", "direction": "higher", "baseline": 50, "target": 90,
            "target_date": "2024-04-10", **overrides}


# --- progress and status: exact values -------------------------------------------------------------------------

def test_progress_higher_is_better() -> None:
    kw = {"baseline": 50.0, "target": 90.0, "direction": "higher"}
    assert progress_of(70, **kw) == 0.5
    assert progress_of(60, **kw) == 0.25
    assert progress_of(50, **kw) == 0.0
    assert progress_of(40, **kw) == 0.0  # worse than the baseline: clamped
    assert progress_of(100, **kw) == 1.25  # beyond the target: not clamped


def test_progress_lower_is_better() -> None:
    kw = {"baseline": 120.0, "target": 80.0, "direction": "lower"}
    assert progress_of(100, **kw) == 0.5
    assert progress_of(110, **kw) == 0.25
    assert progress_of(130, **kw) == 0.0
    assert progress_of(70, **kw) == 1.25


def test_progress_when_target_equals_baseline() -> None:
    assert progress_of(0, baseline=0, target=0, direction="lower") == 1.0
    assert progress_of(2, baseline=0, target=0, direction="lower") == 0.0
    assert progress_of(99, baseline=99, target=99, direction="higher") == 1.0
    assert progress_of(98, baseline=99, target=99, direction="higher") == 0.0


def test_elapsed_share() -> None:
    assert elapsed_share(date(2024, 1, 1), date(2024, 2, 20), date(2024, 4, 10)) == 0.5  # 50 of 100 days
    assert elapsed_share(date(2024, 1, 1), date(2023, 12, 1), date(2024, 4, 10)) == 0.0
    assert elapsed_share(date(2024, 1, 1), date(2024, 5, 1), date(2024, 4, 10)) == 1.0
    assert elapsed_share(date(2024, 5, 1), date(2024, 5, 1), date(2024, 4, 10)) == 1.0  # no time left at all


def kpi(direction: str, baseline: float, target: float, points: list[tuple[date, float]], *,
        target_date: date | None = date(2024, 4, 10), created: datetime | None = None) -> Kpi:
    """An unsaved KPI with measurements; 1 Jan to 10 Apr 2024 is 100 days, so 20 Feb is half-way."""
    k = Kpi(name="k", direction=direction, baseline=baseline, target=target, target_date=target_date,
            created_at=created)
    k.measurements = [KpiMeasurement(measured_on=d, value=v) for d, v in points]
    return k


START, HALF = date(2024, 1, 1), date(2024, 2, 20)


@pytest.mark.parametrize(("value", "progress", "status"), [
    (70.0, 0.5, "on_track"),     # exactly on schedule
    (66.0, 0.4, "at_risk"),      # 10 points behind
    (64.0, 0.35, "at_risk"),     # 15 points behind: still at risk (the margin is inclusive)
    (63.6, 0.34, "off_track"),   # 16 points behind
    (45.0, 0.0, "off_track"),    # worse than the baseline
    (94.0, 1.1, "on_track"),     # past the target
])
def test_status_higher_is_better(value: float, progress: float, status: str) -> None:
    st = kpi_status(kpi("higher", 50, 90, [(START, 50), (HALF, value)]))
    assert st.progress == pytest.approx(progress)
    assert st.expected == 0.5
    assert st.status == status
    assert (st.latest, st.latest_on, st.previous) == (value, HALF, 50)
    assert st.change == pytest.approx(value - 50)
    assert st.trend == ("improving" if value > 50 else "worsening")


@pytest.mark.parametrize(("value", "progress", "status"), [
    (100.0, 0.5, "on_track"),
    (104.0, 0.4, "at_risk"),
    (106.0, 0.35, "at_risk"),
    (106.4, 0.34, "off_track"),
    (125.0, 0.0, "off_track"),
    (80.0, 1.0, "on_track"),
])
def test_status_lower_is_better(value: float, progress: float, status: str) -> None:
    st = kpi_status(kpi("lower", 120, 80, [(START, 120), (HALF, value)]))
    assert st.progress == pytest.approx(progress)
    assert st.expected == 0.5
    assert st.status == status
    assert st.change == pytest.approx(value - 120)
    assert st.trend == ("improving" if value < 120 else "worsening")


def test_trend_compares_the_last_two_measurements_by_date() -> None:
    # given out of order: the last by date is 20 Feb (65), the previous 1 Feb (70)
    st = kpi_status(kpi("higher", 50, 90, [(HALF, 65), (START, 50), (date(2024, 2, 1), 70)]))
    assert (st.latest, st.previous, st.change, st.trend) == (65, 70, -5, "worsening")
    st = kpi_status(kpi("lower", 120, 80, [(START, 120), (date(2024, 2, 1), 110), (HALF, 100)]))
    assert (st.change, st.trend) == (-10, "improving")
    st = kpi_status(kpi("lower", 120, 80, [(START, 110), (HALF, 110)]))
    assert (st.change, st.trend) == (0, "flat")
    st = kpi_status(kpi("higher", 50, 90, [(HALF, 70)]))
    assert (st.previous, st.change, st.trend) == (None, None, None)


def test_status_at_and_after_the_target_date() -> None:
    due = date(2024, 4, 10)
    missed = kpi_status(kpi("higher", 50, 90, [(START, 50), (due, 88)]))  # 95% there, but the date has come
    assert (missed.progress, missed.expected, missed.status) == (pytest.approx(0.95), 1.0, "off_track")
    made = kpi_status(kpi("lower", 120, 80, [(START, 120), (date(2024, 5, 1), 79)]))
    assert (made.expected, made.status) == (1.0, "on_track")


def test_status_counts_time_from_the_kpi_creation_when_earlier() -> None:
    created = datetime(2023, 12, 22, 9, 30, tzinfo=UTC)  # 10 days before the first measurement
    st = kpi_status(kpi("higher", 50, 90, [(START, 50), (HALF, 70)], created=created))
    assert st.expected == pytest.approx(60 / 110)
    assert st.status == "at_risk"  # 0.5 against 0.545...
    later = datetime(2024, 1, 15, tzinfo=UTC)  # created after the first (back-dated) measurement: no effect
    assert kpi_status(kpi("higher", 50, 90, [(START, 50), (HALF, 70)], created=later)).expected == 0.5


def test_status_without_target_date_or_measurements() -> None:
    st = kpi_status(kpi("higher", 50, 90, [(HALF, 70)], target_date=None))
    assert (st.progress, st.expected, st.status) == (0.5, None, "at_risk")
    assert kpi_status(kpi("higher", 50, 90, [(HALF, 90)], target_date=None)).status == "on_track"
    empty = kpi_status(kpi("lower", 120, 80, []))
    assert empty == service.KpiStatus(None, None, None, None, None, None, None, "no_data")


# --- mission ---------------------------------------------------------------------------------------------------

def test_mission_versions_history_and_nothing_changed(client: TestClient, db: Session) -> None:
    h = headers_for(db)
    assert client.get(f"{API}/mission", headers=h).status_code == 404
    first = client.post(f"{API}/mission", json={"statement": "Make AI useful.", "vision": "Everywhere"}, headers=h)
    assert first.status_code == 201, first.text
    assert first.json()["version"] == 1 and first.json()["created_by"] is not None
    again = client.post(f"{API}/mission", json={"statement": "  Make AI useful. ", "vision": "Everywhere",
                                                 "change_note": "just saving"}, headers=h)
    assert again.status_code == 422
    assert again.json()["errors"] == [{"field": "statement",
                                       "message": "Nothing changed: this is the text of version 1."}]
    second = client.post(f"{API}/mission", json={"statement": "Make AI useful.", "vision": "In every unit",
                                                  "change_note": "wider vision"}, headers=h)
    assert second.json()["version"] == 2
    third = client.post(f"{API}/mission", json={"statement": "Make AI useful and safe."}, headers=h)
    assert (third.json()["version"], third.json()["vision"]) == (3, "")
    current = client.get(f"{API}/mission", headers=h).json()
    assert (current["version"], current["statement"]) == (3, "Make AI useful and safe.")
    history = client.get(f"{API}/mission/versions", headers=h).json()
    assert [v["version"] for v in history["items"]] == [3, 2, 1]
    assert history["items"][1]["change_note"] == "wider vision"
    oldest_first = client.get(f"{API}/mission/versions?sort=version&limit=2", headers=h).json()
    assert ([v["version"] for v in oldest_first["items"]], oldest_first["next_offset"]) == ([1, 2], 2)
    assert count(db, MissionVersion) == 3
    assert events(db, "mission") == [("create", "1"), ("create", "2"), ("create", "3")]


def test_mission_bad_input(client: TestClient, db: Session) -> None:
    h = headers_for(db)
    for body, field in (({"statement": "   "}, "statement"), ({"statement": "x" * 4001}, "statement"),
                        ({"statement": "ok", "change_note": "n" * 501}, "change_note"),
                        ({"statement": "ok", "version": 7}, "version")):
        r = client.post(f"{API}/mission", json=body, headers=h)
        assert r.status_code == 422, body
        assert r.json()["errors"][0]["field"] == field
    assert count(db, MissionVersion) == 0
    assert events(db, "mission") == []


# --- objectives ------------------------------------------------------------------------------------------------

def test_objective_crud_filters_and_audit(client: TestClient, db: Session) -> None:
    h = headers_for(db)
    retail, cards = make_unit(db, code="RET", name="Retail"), make_unit(db, code="CRD", name="Cards")
    owner = make_user(db, full_name="Olga Owner", roles=[])
    r = client.post(f"{API}/objectives", json=objective_body(owner_id=owner.id, business_unit_ids=[retail.id, cards.id],
                                                             description="Online first"), headers=h)
    assert r.status_code == 201, r.text
    obj = r.json()
    assert obj["owner"]["full_name"] == "Olga Owner"
    assert [u["code"] for u in obj["business_units"]] == ["CRD", "RET"]
    assert obj["status"] == "active"
    other = client.post(f"{API}/objectives", json=objective_body(
        title="Cut handling time", period_end="2025-06-30", status="achieved", business_unit_ids=[cards.id]),
        headers=h).json()
    listing = lambda q: [o["title"] for o in client.get(f"{API}/objectives?{q}", headers=h).json()["items"]]  # noqa: E731
    assert listing("") == ["Cut handling time", "Grow digital revenue"]
    assert listing("sort=-period_end") == ["Cut handling time", "Grow digital revenue"]
    assert listing("sort=period_end") == ["Grow digital revenue", "Cut handling time"]
    assert listing("status=achieved") == ["Cut handling time"]
    assert listing(f"business_unit_id={retail.id}") == ["Grow digital revenue"]
    assert listing(f"business_unit_id={cards.id}&sort=-title") == ["Grow digital revenue", "Cut handling time"]
    assert listing("q=ONLINE") == ["Grow digital revenue"]
    assert client.get(f"{API}/objectives?sort=owner", headers=h).status_code == 422
    assert client.get(f"{API}/objectives?status=paused", headers=h).json()["errors"][0]["field"] == "status"

    patched = client.patch(f"{API}/objectives/{obj['id']}",
                           json={"business_unit_ids": [retail.id], "status": "dropped"}, headers=h)
    assert patched.status_code == 200, patched.text
    assert ([u["code"] for u in patched.json()["business_units"]], patched.json()["status"]) == (["RET"], "dropped")
    assert client.patch(f"{API}/objectives/{obj['id']}", json={"owner_id": None}, headers=h).json()["owner"] is None
    assert client.get(f"{API}/objectives/{other['id']}", headers=h).json()["title"] == "Cut handling time"
    assert client.delete(f"{API}/objectives/{other['id']}", headers=h).status_code == 204
    assert client.get(f"{API}/objectives/{other['id']}", headers=h).status_code == 404
    db.rollback()
    update = db.scalars(select(AuditEvent).where(AuditEvent.entity_type == "objective", AuditEvent.action == "update")
                        .order_by(AuditEvent.seq)).first()
    assert update is not None
    assert update.diff == (f'{{"business_unit_ids":[[{retail.id},{cards.id}],[{retail.id}]],'
                           f'"status":["active","dropped"]}}')
    assert events(db, "objective") == [("create", str(obj["id"])), ("create", str(other["id"])),
                                       ("update", str(obj["id"])), ("update", str(obj["id"])),
                                       ("delete", str(other["id"]))]


def test_objective_bad_input_names_the_field_and_writes_nothing(client: TestClient, db: Session) -> None:
    h = headers_for(db)
    unit = make_unit(db)
    cases = [
        (objective_body(period_end="2023-12-31"), 422, "period_end"),
        (objective_body(owner_id=9999), 422, "owner_id"),
        (objective_body(business_unit_ids=[unit.id, 9998, 9999]), 422, "business_unit_ids"),
        (objective_body(status="paused"), 422, "status"),
        (objective_body(title=""), 422, "title"),
        (objective_body(period_start="01/02/2024"), 422, "period_start"),
        ({"title": "x", "period_start": "2024-01-01"}, 422, "period_end"),
        (objective_body(colour="red"), 422, "colour"),
    ]
    for body, status, field in cases:
        r = client.post(f"{API}/objectives", json=body, headers=h)
        assert r.status_code == status, (body, r.text)
        assert [e["field"] for e in r.json()["errors"]] == [field], body
    r = client.post(f"{API}/objectives", json=objective_body(business_unit_ids=[9998, 9999]), headers=h)
    assert r.json()["errors"][0]["message"] == "No business unit 9998, 9999."
    assert count(db, Objective) == 0
    assert events(db, "objective") == []

    created = client.post(f"{API}/objectives", json=objective_body(business_unit_ids=[unit.id]), headers=h).json()
    dup = client.post(f"{API}/objectives", json=objective_body(title="GROW DIGITAL REVENUE"), headers=h)
    assert (dup.status_code, dup.json()["errors"][0]["field"]) == (409, "title")
    oid = created["id"]
    for body, field in (({"period_end": "2023-06-30"}, "period_end"), ({"period_start": "2025-01-01"}, "period_end"),
                        ({"owner_id": 9999}, "owner_id"), ({"business_unit_ids": [9999]}, "business_unit_ids"),
                        ({"title": None}, "title"), ({"period_start": None}, "period_start")):
        r = client.patch(f"{API}/objectives/{oid}", json=body, headers=h)
        assert (r.status_code, r.json()["errors"][0]["field"]) == (422, field), body
    after = client.get(f"{API}/objectives/{oid}", headers=h).json()
    assert after == created | {"updated_at": after["updated_at"]}
    assert after["updated_at"] == created["updated_at"]
    assert events(db, "objective") == [("create", str(oid))]
    assert client.patch(f"{API}/objectives/424242", json={"title": "x"}, headers=h).status_code == 404


def test_deleting_an_objective_unlinks_kpis_and_use_cases(client: TestClient, db: Session) -> None:
    h = headers_for(db)
    unit = make_unit(db)
    oid = client.post(f"{API}/objectives", json=objective_body(business_unit_ids=[unit.id]), headers=h).json()["id"]
    kid = client.post(f"{API}/kpis", json=kpi_body(objective_id=oid), headers=h).json()["id"]
    uc = UseCase(key="UC-0001", title="Chat assistant", business_unit_id=unit.id, ai_type="generative_ai")
    db.add(uc)
    db.flush()
    db.execute(use_case_objectives.insert().values(use_case_id=uc.id, objective_id=oid))
    db.commit()
    linked = client.get(f"{API}/objectives/{oid}", headers=h).json()["kpis"]
    assert linked == [{"id": kid, "name": "Self-service share"}]
    assert client.delete(f"{API}/objectives/{oid}", headers=h).status_code == 204
    kpi_now = client.get(f"{API}/kpis/{kid}", headers=h).json()
    assert (kpi_now["objective_id"], kpi_now["objective"]) == (None, None)
    db.rollback()
    assert db.scalar(select(func.count()).select_from(use_case_objectives)) == 0
    assert db.get(UseCase, uc.id) is not None
    deleted = db.scalars(select(AuditEvent).where(AuditEvent.entity_type == "objective",
                                                  AuditEvent.action == "delete")).one()
    assert f'"unlinked_kpi_ids":[[{kid}],null]' in deleted.diff
    assert f'"business_unit_ids":[[{unit.id}],null]' in deleted.diff


# --- KPIs and measurements -------------------------------------------------------------------------------------

def test_kpi_crud_filters_and_status_in_the_api(client: TestClient, db: Session) -> None:
    h = headers_for(db)
    oid = client.post(f"{API}/objectives", json=objective_body(), headers=h).json()["id"]
    r = client.post(f"{API}/kpis", json=kpi_body(objective_id=oid, description="Share of contacts served online"),
                    headers=h)
    assert r.status_code == 201, r.text
    k = r.json()
    assert k["status"] == {"latest": None, "latest_on": None, "previous": None, "change": None, "trend": None,
                           "progress": None, "expected": None, "status": "no_data"}
    handling = client.post(f"{API}/kpis", json=kpi_body(name="Handling time", unit="min", direction="lower",
                                                         baseline=120, target=80, target_date=None), headers=h).json()
    for day, value in (("2024-01-01", 50), ("2024-02-20", 66)):
        assert client.post(f"{API}/kpis/{k['id']}/measurements", json={"measured_on": day, "value": value},
                           headers=h).status_code == 201
    got = client.get(f"{API}/kpis/{k['id']}", headers=h).json()
    assert got["status"] == {"latest": 66.0, "latest_on": "2024-02-20", "previous": 50.0, "change": 16.0,
                             "trend": "improving", "progress": 0.4, "expected": 0.5, "status": "at_risk"}
    assert got["objective"] == {"id": oid, "title": "Grow digital revenue"}
    names = lambda q: [x["name"] for x in client.get(f"{API}/kpis?{q}", headers=h).json()["items"]]  # noqa: E731
    assert names("") == ["Handling time", "Self-service share"]
    assert names(f"objective_id={oid}") == ["Self-service share"]
    assert names("q=online") == ["Self-service share"]
    assert names("sort=-name") == ["Self-service share", "Handling time"]
    listed = client.get(f"{API}/kpis?q=online", headers=h).json()["items"][0]
    assert listed["status"]["status"] == "at_risk"
    patched = client.patch(f"{API}/kpis/{handling['id']}", json={"target": 60, "target_date": "2025-01-31"},
                           headers=h)
    assert (patched.json()["target"], patched.json()["target_date"]) == (60.0, "2025-01-31")
    assert client.delete(f"{API}/kpis/{handling['id']}", headers=h).status_code == 204
    assert client.get(f"{API}/kpis/{handling['id']}", headers=h).status_code == 404
    assert events(db, "kpi") == [("create", str(k["id"])), ("create", str(handling["id"])),
                                 ("update", str(handling["id"])), ("delete", str(handling["id"]))]


def test_kpi_bad_input_names_the_field_and_writes_nothing(client: TestClient, db: Session) -> None:
    h = headers_for(db)
    cases = [
        (kpi_body(objective_id=9999), 422, "objective_id"),
        (kpi_body(owner_id=9999), 422, "owner_id"),
        (kpi_body(target=40), 422, "target"),  # higher is better, target below baseline
        (kpi_body(direction="lower"), 422, "target"),  # lower is better, target above baseline
        (kpi_body(direction="up"), 422, "direction"),
        (kpi_body(baseline="lots"), 422, "baseline"),
        (kpi_body(target=1e16), 422, "target"),
        (kpi_body(target_date="soon"), 422, "target_date"),
        (kpi_body(unit="u" * 41), 422, "unit"),
        ({k: v for k, v in kpi_body().items() if k != "direction"}, 422, "direction"),
    ]
    for body, status, field in cases:
        r = client.post(f"{API}/kpis", json=body, headers=h)
        assert r.status_code == status, (body, r.text)
        assert [e["field"] for e in r.json()["errors"]] == [field], body
    r = client.post(f"{API}/kpis", json=kpi_body(target=40), headers=h)
    assert r.json()["errors"][0]["message"] == "Higher is better, so the target cannot be below the baseline (50)."
    assert count(db, Kpi) == 0
    kid = client.post(f"{API}/kpis", json=kpi_body(), headers=h).json()["id"]
    dup = client.post(f"{API}/kpis", json=kpi_body(name="self-service SHARE"), headers=h)
    assert (dup.status_code, dup.json()["errors"][0]["field"]) == (409, "name")
    for body, field in (({"direction": "lower"}, "target"), ({"baseline": 95}, "target"),
                        ({"objective_id": 9999}, "objective_id"), ({"name": None}, "name")):
        r = client.patch(f"{API}/kpis/{kid}", json=body, headers=h)
        assert (r.status_code, r.json()["errors"][0]["field"]) == (422, field), body
    assert client.patch(f"{API}/kpis/{kid}", json={"direction": "lower", "baseline": 95, "target": 60},
                        headers=h).status_code == 200
    assert events(db, "kpi") == [("create", str(kid)), ("update", str(kid))]


def test_measurements_one_per_date_delete_and_audit(client: TestClient, db: Session) -> None:
    h = headers_for(db)
    kid = client.post(f"{API}/kpis", json=kpi_body(), headers=h).json()["id"]
    url = f"{API}/kpis/{kid}/measurements"
    first = client.post(url, json={"measured_on": "2024-02-20", "value": 70, "note": "after launch"}, headers=h)
    assert first.status_code == 201, first.text
    assert first.json()["note"] == "after launch"
    assert client.post(url, json={"measured_on": "2024-01-01", "value": 50}, headers=h).status_code == 201
    dup = client.post(url, json={"measured_on": "2024-02-20", "value": 71}, headers=h)
    assert dup.status_code == 409
    assert dup.json()["errors"][0]["field"] == "measured_on"
    for body, field in (({"measured_on": "2999-01-01", "value": 1}, "measured_on"),
                        ({"value": 1}, "measured_on"), ({"measured_on": "2024-03-01"}, "value"),
                        ({"measured_on": "2024-03-01", "value": "x"}, "value")):
        r = client.post(url, json=body, headers=h)
        assert (r.status_code, r.json()["errors"][0]["field"]) == (422, field), body
    listed = client.get(url, headers=h).json()
    assert [(m["measured_on"], m["value"]) for m in listed["items"]] == [("2024-01-01", 50.0), ("2024-02-20", 70.0)]
    assert [m["value"] for m in client.get(f"{url}?sort=-value", headers=h).json()["items"]] == [70.0, 50.0]
    other = client.post(f"{API}/kpis", json=kpi_body(name="Other"), headers=h).json()["id"]
    mid = first.json()["id"]
    assert client.delete(f"{API}/kpis/{other}/measurements/{mid}", headers=h).status_code == 404
    assert client.delete(f"{url}/{mid}", headers=h).status_code == 204
    assert client.delete(f"{url}/{mid}", headers=h).status_code == 404
    assert client.get(f"{API}/kpis/{kid}", headers=h).json()["status"]["latest_on"] == "2024-01-01"
    # the date is free again
    assert client.post(url, json={"measured_on": "2024-02-20", "value": 72}, headers=h).status_code == 201
    assert client.get(f"{API}/kpis/9999/measurements", headers=h).status_code == 404
    assert count(db, KpiMeasurement) == 2
    assert [a for a, _ in events(db, "kpi_measurement")] == ["create", "create", "delete", "create"]


@pytest.fixture
def both(any_db_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, Session]]:
    app = create_app(make_settings(any_db_url, tmp_path))
    with TestClient(app) as test_client:
        session = app.state.sessionmaker()
        yield test_client, session
        session.close()


def test_strategy_round_trip_on_both_databases(both: tuple[TestClient, Session]) -> None:
    client, db = both
    h = headers_for(db, "coe_lead")
    unit = make_unit(db)
    oid = client.post(f"{API}/objectives", json=objective_body(business_unit_ids=[unit.id]), headers=h).json()["id"]
    kid = client.post(f"{API}/kpis", json=kpi_body(name="Handling time", direction="lower", baseline=120,
                                                    target=80, objective_id=oid), headers=h).json()["id"]
    url = f"{API}/kpis/{kid}/measurements"
    for day, value in (("2024-01-01", 120), ("2024-02-01", 110), ("2024-02-20", 104)):
        assert client.post(url, json={"measured_on": day, "value": value}, headers=h).status_code == 201
    assert client.post(url, json={"measured_on": "2024-02-01", "value": 1}, headers=h).status_code == 409
    status = client.get(f"{API}/kpis/{kid}", headers=h).json()["status"]
    assert (status["progress"], status["expected"], status["status"], status["trend"]) == (
        pytest.approx(0.4), 0.5, "at_risk", "improving")
    assert client.get(f"{API}/objectives?business_unit_id={unit.id}", headers=h).json()["total"] == 1
    assert client.post(f"{API}/objectives", json=objective_body(title="grow DIGITAL revenue"),
                       headers=h).status_code == 409
    assert client.delete(f"{API}/objectives/{oid}", headers=h).status_code == 204
    assert client.get(f"{API}/kpis/{kid}", headers=h).json()["objective_id"] is None
    assert client.delete(f"{API}/kpis/{kid}", headers=h).status_code == 204
    assert count(db, KpiMeasurement) == 0


# --- permissions -----------------------------------------------------------------------------------------------

def test_viewer_reads_but_cannot_write(client: TestClient, db: Session) -> None:
    admin = headers_for(db)
    kid = client.post(f"{API}/kpis", json=kpi_body(), headers=admin).json()["id"]
    viewer = headers_for(db, "viewer")
    assert client.get(f"{API}/kpis/{kid}", headers=viewer).status_code == 200
    assert client.get(f"{API}/objectives", headers=viewer).status_code == 200
    assert client.get(f"{API}/mission/versions", headers=viewer).status_code == 200
    for method, path, body in (("post", "/mission", {"statement": "x"}), ("post", "/objectives", objective_body()),
                               ("post", f"/kpis/{kid}/measurements", {"measured_on": "2024-01-01", "value": 1}),
                               ("patch", f"/kpis/{kid}", {"target": 95}), ("delete", f"/kpis/{kid}", None)):
        r = client.request(method.upper(), API + path, json=body, headers=viewer)
        assert r.status_code == 403, (method, path)
    assert count(db, MissionVersion) == 0 and count(db, Objective) == 0 and count(db, KpiMeasurement) == 0


def test_executive_sponsor_can_write_and_a_unit_scoped_grant_cannot(client: TestClient, db: Session) -> None:
    sponsor = headers_for(db, "executive_sponsor")
    assert client.post(f"{API}/mission", json={"statement": "Lead with AI."}, headers=sponsor).status_code == 201
    oid = client.post(f"{API}/objectives", json=objective_body(), headers=sponsor).json()["id"]
    kid = client.post(f"{API}/kpis", json=kpi_body(objective_id=oid), headers=sponsor).json()["id"]
    assert client.post(f"{API}/kpis/{kid}/measurements", json={"measured_on": "2024-01-01", "value": 55},
                       headers=sponsor).status_code == 201
    # strategy:write is CoE-wide only: a CoE lead scoped to one business unit reads but cannot change it
    unit = make_unit(db)
    scoped = bearer(make_token(db, make_user(db, roles=[("coe_lead", unit)])))
    assert client.get(f"{API}/kpis/{kid}", headers=scoped).status_code == 200
    assert client.patch(f"{API}/objectives/{oid}", json={"status": "achieved"}, headers=scoped).status_code == 403
    db.rollback()
    recorded = db.scalars(select(AuditEvent).where(AuditEvent.entity_type == "kpi_measurement")).one()
    assert (recorded.action, recorded.actor_type) == ("create", "token")


# --- pages -----------------------------------------------------------------------------------------------------

@pytest.fixture
def writer(client: TestClient, db: Session, settings) -> User:  # noqa: ANN001
    user = make_user(db, email="steer@example.com", full_name="Sam Steer", password=PASSWORD, settings=settings,
                     roles=[("steering_committee", None)])
    login(client, user.email)
    return user


def test_strategy_pages_and_forms(client: TestClient, db: Session, writer: User) -> None:
    page = client.get("/strategy")
    assert page.status_code == 200
    assert "No mission statement has been written yet" in page.text and 'href="/objectives/new"' in page.text
    token = csrf_from(page.text)
    r = client.post("/strategy/mission", data={"statement": "Make AI <useful>", "csrf_token": token},
                    follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/strategy/mission")
    same = client.post("/strategy/mission", data={"statement": "Make AI <useful>", "csrf_token": token})
    assert same.status_code == 422 and "Nothing changed: this is the text of version 1." in same.text
    assert "Make AI &lt;useful&gt;" in client.get("/strategy").text

    unit = make_unit(db, name="Retail")
    bad = client.post("/objectives", data={"title": "Grow", "period_start": "2024-06-01", "period_end": "2024-01-01",
                                           "business_unit_ids": [str(unit.id)], "csrf_token": token})
    assert bad.status_code == 422
    assert 'id="e-period_end"' in bad.text and "is before the start" in bad.text
    assert f'value="{unit.id}" checked' in bad.text  # the ticked unit stays ticked
    assert count(db, Objective) == 0
    missing = client.post("/objectives", data={"title": "Grow", "period_end": "2024-01-01", "csrf_token": token})
    assert 'id="e-period_start"' in missing.text and "This field is required." in missing.text
    r = client.post("/objectives", data={"title": "Grow", "period_start": "2024-01-01", "period_end": "2024-12-31",
                                         "status": "active", "owner_id": str(writer.id),
                                         "business_unit_ids": [str(unit.id)], "csrf_token": token},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    oid = int(r.headers["location"].rsplit("/", 1)[1])
    edit = client.post(f"/objectives/{oid}", data={"title": "Grow", "period_start": "2024-01-01", "period_end": "",
                                                    "status": "active", "csrf_token": token})
    assert edit.status_code == 422 and 'id="e-period_end"' in edit.text

    r = client.post("/kpis", data={"name": "Share", "direction": "higher", "baseline": "50", "target": "40",
                                   "csrf_token": token})
    assert r.status_code == 422 and 'id="e-target"' in r.text
    r = client.post("/kpis", data={"name": "Share", "unit": "%", "direction": "higher", "baseline": "50",
                                   "target": "90", "target_date": "2024-04-10", "objective_id": str(oid),
                                   "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303, r.text
    kid = int(r.headers["location"].rsplit("/", 1)[1])
    for day, value in (("2024-01-01", "50"), ("2024-02-20", "66")):
        r = client.post(f"/kpis/{kid}/measurements", data={"measured_on": day, "value": value, "csrf_token": token},
                        follow_redirects=False)
        assert r.status_code == 303
    dup = client.post(f"/kpis/{kid}/measurements", data={"measured_on": "2024-02-20", "value": "1",
                                                          "csrf_token": token})
    assert dup.status_code == 409 and 'id="e-measured_on"' in dup.text

    kpi_page = client.get(f"/kpis/{kid}").text
    assert '<span class="badge st warn">At risk</span>' in kpi_page
    start = kpi_page.index("<svg")
    svg = ET.fromstring(kpi_page[start:kpi_page.index("</svg>", start) + 6])
    assert len(svg.findall(f".//{{{charts.SVG_NS}}}circle")) == 2
    assert svg.find(f".//{{{charts.SVG_NS}}}line[@class='ref-target']") is not None
    overview = client.get("/strategy").text
    assert f'href="/kpis/{kid}"' in overview and "At risk" in overview and "40%" in overview
    assert "Retail" in client.get(f"/objectives/{oid}").text

    db.rollback()
    mid = db.scalars(select(KpiMeasurement.id).where(KpiMeasurement.measured_on == date(2024, 2, 20))).one()
    r = client.post(f"/kpis/{kid}/measurements/{mid}/delete", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    assert count(db, KpiMeasurement) == 1
    r = client.post(f"/objectives/{oid}/delete", data={"csrf_token": token}, follow_redirects=False)
    assert r.headers["location"] == "/strategy"
    assert "KPIs without an objective" in client.get("/strategy").text


def test_a_viewer_sees_no_forms(client: TestClient, db: Session, settings) -> None:  # noqa: ANN001
    service.create_kpi(db, None, schemas.KpiCreate(**kpi_body()))
    db.commit()
    viewer = make_user(db, email="view@example.com", password=PASSWORD, settings=settings, roles=[("viewer", None)])
    login(client, viewer.email)
    kid = db.scalar(select(Kpi.id))
    page = client.get(f"/kpis/{kid}")
    assert page.status_code == 200
    assert "/measurements" not in page.text and "Edit" not in page.text
    assert 'href="/objectives/new"' not in client.get("/strategy").text
    assert client.get("/objectives/new").status_code == 403
    token = csrf_from(page.text)
    r = client.post(f"/kpis/{kid}/measurements", data={"measured_on": "2024-01-01", "value": "1", "csrf_token": token})
    assert r.status_code == 403
    assert count(db, KpiMeasurement) == 0


def test_objective_page_lists_only_the_use_cases_the_caller_may_see(client: TestClient, db: Session,
                                                                    settings) -> None:  # noqa: ANN001
    mine, other = make_unit(db, name="Mine"), make_unit(db, name="Other")
    objective = service.create_objective(db, None, schemas.ObjectiveCreate(**objective_body()))
    for key, unit in (("UC-0001", mine), ("UC-0002", other)):
        uc = UseCase(key=key, title=f"Case {key}", business_unit_id=unit.id, ai_type="predictive_ml")
        db.add(uc)
        db.flush()
        db.execute(use_case_objectives.insert().values(use_case_id=uc.id, objective_id=objective.id))
    db.commit()
    viewer = make_user(db, email="unit@example.com", password=PASSWORD, settings=settings,
                       roles=[("viewer", mine)], business_unit=mine)
    login(client, viewer.email)
    page = client.get(f"/objectives/{objective.id}").text
    assert 'href="/use-cases/UC-0001"' in page
    assert "UC-0002" not in page
