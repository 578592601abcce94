"""Policies and attestations: versions and their immutability, publishing that supersedes, safe Markdown, asking
people to attest by unit subtree, role and name, attesting one's own only, exact rates per business unit,
reminders (job, audit, idempotence), scoping, and the API, pages and CLI."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from aicoe.audit import ledger
from aicoe.auth.principal import Principal
from aicoe.cli.main import app as cli_app
from aicoe.config import Settings
from aicoe.core.time import utcnow
from aicoe.jobs import service as jobs
from aicoe.jobs.runner import JobRunner
from aicoe.models.audit import AuditEvent
from aicoe.models.jobs import Job
from aicoe.models.org import BusinessUnit, User
from aicoe.models.policy import Attestation, Policy, PolicyVersion
from aicoe.policy import reminders, schemas, service
from aicoe.policy.markdown import render
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

API = "/api/v1"
BODY = "# Purpose\n\nUse AI responsibly.\n\n- Keep a human in the loop\n- Record every model in the inventory\n"


def headers_for(db: Session, **user_kwargs: Any) -> dict[str, str]:
    return bearer(make_token(db, make_user(db, **user_kwargs)))


def events(db: Session, entity_type: str, action: str | None = None) -> list[AuditEvent]:
    db.rollback()
    stmt = select(AuditEvent).where(AuditEvent.entity_type == entity_type)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    return list(db.scalars(stmt.order_by(AuditEvent.seq)))


def errors_of(response) -> dict[str, str]:  # noqa: ANN001
    return {e["field"]: e["message"] for e in response.json().get("errors", [])}


def count(db: Session, model: type) -> int:
    db.rollback()
    return db.scalar(select(func.count()).select_from(model)) or 0


def published_policy(db: Session, *, title: str = "Responsible AI policy", body: str = BODY,
                     effective: date | None = None, cycle: int = 12) -> Policy:
    """A policy with version 1 published (through the services, as the system) and committed."""
    db.commit()
    policy = service.create_policy(db, None, schemas.PolicyCreate(title=title, body_md=body,
                                                                  review_cycle_months=cycle))
    service.publish_version(db, None, policy.key, 1, schemas.PublishIn(effective_date=effective or service.today()))
    db.commit()
    return policy


# --- policies and versions -------------------------------------------------------------------------------------------

def test_write_publish_and_supersede_versions(client: TestClient, db: Session) -> None:
    writer = headers_for(db, roles=[("risk_compliance", None)])
    owner = make_user(db, roles=[], full_name="Sofia Owner")
    response = client.post(f"{API}/policies", headers=writer, json={
        "title": "Generative AI acceptable use", "description": "What staff may do with GenAI tools.",
        "owner_id": owner.id, "review_cycle_months": 1, "body_md": BODY})
    assert response.status_code == 201, response.text
    out = response.json()
    assert out["key"] == "POL-001" and out["status"] == "draft" and out["current"] is None
    assert out["versions"] == [{**out["versions"][0], "version": 1, "status": "draft", "effective_date": None}]
    assert out["owner"]["full_name"] == "Sofia Owner"
    second_draft = client.post(f"{API}/policies/POL-001/versions", headers=writer, json={"body_md": "other"})
    assert second_draft.status_code == 409 and "already has a draft, version 1" in second_draft.json()["detail"]
    edited = client.patch(f"{API}/policies/POL-001/versions/1", headers=writer,
                          json={"body_md": BODY + "\nNo customer data in public tools.\n", "change_note": "First"})
    assert edited.status_code == 200 and edited.json()["change_note"] == "First"
    published = client.post(f"{API}/policies/POL-001/versions/1/publish", headers=writer,
                            json={"effective_date": "2031-01-31"})
    assert published.status_code == 200, published.text
    assert published.json()["status"] == "published" and published.json()["effective_date"] == "2031-01-31"
    policy = client.get(f"{API}/policies/POL-001", headers=writer).json()
    assert policy["status"] == "active" and policy["next_review_on"] == "2031-02-28"  # 1 month, end of month
    assert policy["current"]["version"] == 1 and "<li>Keep a human in the loop</li>" in policy["current"]["body_html"]
    frozen = client.patch(f"{API}/policies/POL-001/versions/1", headers=writer, json={"body_md": "changed"})
    assert frozen.status_code == 409
    assert frozen.json()["detail"] == ("version 1 of POL-001 is published and cannot change: write a new version "
                                       "instead")
    v2 = client.post(f"{API}/policies/POL-001/versions", headers=writer, json={"body_md": BODY + "\nv2\n",
                                                                                "change_note": "Tighter"})
    assert v2.status_code == 201 and v2.json()["version"] == 2 and v2.json()["status"] == "draft"
    early = client.post(f"{API}/policies/POL-001/versions/2/publish", headers=writer,
                        json={"effective_date": "2031-01-30"})
    assert early.status_code == 422 and errors_of(early) == {
        "effective_date": "Version 1 took effect on 2031-01-31; this version cannot take effect earlier."}
    assert client.post(f"{API}/policies/POL-001/versions/2/publish", headers=writer,
                       json={"effective_date": "2031-06-15"}).status_code == 200
    versions = client.get(f"{API}/policies/POL-001/versions", headers=writer).json()
    assert [(v["version"], v["status"]) for v in versions] == [(2, "published"), (1, "superseded")]
    policy = client.get(f"{API}/policies/POL-001", headers=writer).json()
    assert policy["current"]["version"] == 2 and policy["next_review_on"] == "2031-07-15"
    cycle = client.patch(f"{API}/policies/POL-001", headers=writer, json={"review_cycle_months": 24})
    assert cycle.json()["next_review_on"] == "2033-06-15"
    assert [e.action for e in events(db, "policy")] == [
        "create", "create_version", "update_version", "publish", "create_version", "publish", "update"]
    publish = events(db, "policy", "publish")[-1].diff
    assert '"superseded_version":[null,1]' in publish and '"next_review_on":["2031-02-28","2031-07-15"]' in publish
    assert client.post(f"{API}/policies/POL-001/versions/1/publish", headers=writer, json={}).status_code == 409


def test_bad_input_titles_and_permissions(client: TestClient, db: Session) -> None:
    writer = headers_for(db, roles=[("coe_lead", None)])
    bad = client.post(f"{API}/policies", headers=writer, json={"title": "X", "review_cycle_months": 0})
    assert bad.status_code == 422 and "review_cycle_months" in errors_of(bad)
    assert client.post(f"{API}/policies", headers=writer, json={"title": "Data protection for AI"}).status_code == 201
    taken = client.post(f"{API}/policies", headers=writer, json={"title": "data protection FOR ai"})
    assert taken.status_code == 409 and errors_of(taken) == {"title": "'data protection FOR ai' is already taken."}
    assert client.post(f"{API}/policies", headers=writer, json={"title": "Y", "owner_id": 9999}).status_code == 422
    assert count(db, Policy) == 1
    unit = make_unit(db)
    scoped = headers_for(db, roles=[("risk_compliance", unit)])
    refused = client.post(f"{API}/policies", headers=scoped, json={"title": "Scoped"})
    assert refused.status_code == 403 and "CoE-wide" in refused.json()["detail"]
    reader = headers_for(db, roles=[("viewer", None)])
    assert client.post(f"{API}/policies", headers=reader, json={"title": "Z"}).status_code == 403
    assert client.post(f"{API}/policies/POL-001/versions", headers=writer, json={"body_md": "   "}).status_code == 422


def test_drafts_are_hidden_from_readers_and_retirement_ends_a_policy(client: TestClient, db: Session) -> None:
    published = published_policy(db)
    service.create_version(db, None, published.key, schemas.VersionCreate(body_md="Draft text"))
    service.create_policy(db, None, schemas.PolicyCreate(title="Unpublished", body_md="draft"))
    db.commit()
    reader = headers_for(db, roles=[("viewer", None)])
    listed = client.get(f"{API}/policies", headers=reader).json()
    assert [p["key"] for p in listed["items"]] == ["POL-001"]
    assert client.get(f"{API}/policies/POL-002", headers=reader).status_code == 404
    versions = client.get(f"{API}/policies/POL-001/versions", headers=reader).json()
    assert [v["version"] for v in versions] == [1]
    assert client.get(f"{API}/policies/POL-001/versions/2", headers=reader).status_code == 404
    writer = headers_for(db, roles=[("coe_lead", None)])
    assert len(client.get(f"{API}/policies", headers=writer).json()["items"]) == 2
    retired = client.post(f"{API}/policies/POL-001/retire", headers=writer)
    assert retired.status_code == 200 and retired.json()["status"] == "retired"
    assert retired.json()["next_review_on"] is None
    assert client.post(f"{API}/policies/POL-001/versions/2/publish", headers=writer, json={}).status_code == 409
    assert client.patch(f"{API}/policies/POL-001", headers=writer, json={"title": "New"}).status_code == 409
    assert client.post(f"{API}/policies/POL-001/retire", headers=writer).status_code == 409
    assert [p["key"] for p in client.get(f"{API}/policies", headers=writer,
                                         params={"status": "retired"}).json()["items"]] == ["POL-001"]


def test_markdown_is_rendered_without_raw_html_or_script_links(client: TestClient, db: Session) -> None:
    hostile = ("# Title\n\n<script>alert('x')</script>\n\n<img src=x onerror=alert(1)>\n\n"
               "[click](javascript:alert(1)) and [ok](https://example.org)\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    html = str(render(hostile))
    assert "<script" not in html and "&lt;script&gt;alert('x')&lt;/script&gt;" in html
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert 'href="javascript' not in html and "[click](javascript:alert(1))" in html
    assert '<a href="https://example.org">ok</a>' in html and "<td>1</td>" in html and "<h1>Title</h1>" in html
    published_policy(db, body=hostile)
    reader = headers_for(db, roles=[("viewer", None)])
    body_html = client.get(f"{API}/policies/POL-001", headers=reader).json()["current"]["body_html"]
    assert body_html == html


# --- attestations ----------------------------------------------------------------------------------------------------

@dataclass
class Org:
    group: BusinessUnit
    retail: BusinessUnit
    cards: BusinessUnit  # under retail
    wealth: BusinessUnit
    people: dict[str, User]


@pytest.fixture
def org(db: Session) -> Org:
    group = make_unit(db, name="Group")
    retail = make_unit(db, name="Retail", parent=group)
    cards = make_unit(db, name="Cards", parent=retail)
    wealth = make_unit(db, name="Wealth", parent=group)
    people = {
        "ann": make_user(db, full_name="Ann", business_unit=retail, roles=[("viewer", retail)]),
        "bob": make_user(db, full_name="Bob", business_unit=cards, roles=[("practitioner", retail)]),
        "cat": make_user(db, full_name="Cat", business_unit=cards, roles=[("domain_expert", cards)]),
        "dan": make_user(db, full_name="Dan", business_unit=wealth, roles=[("operations", wealth)]),
        "eve": make_user(db, full_name="Eve", business_unit=wealth, roles=[("ethics_board", None)]),
        "roleless": make_user(db, full_name="Roland", business_unit=retail, roles=[]),
        "gone": make_user(db, full_name="Gone", business_unit=retail, roles=[("viewer", None)], active=False),
        "lead": make_user(db, full_name="Lead", business_unit=group, roles=[("coe_lead", None)]),
    }
    return Org(group, retail, cards, wealth, people)


@pytest.mark.parametrize(("body", "errors"), [
    ({"roles": ["wizard"]}, {"roles": "Unknown role 'wizard'; allowed: admin, executive_sponsor, steering_committee, "
                                      "ethics_board, coe_lead, product_strategist, project_manager, practitioner, "
                                      "domain_expert, risk_compliance, operations, procurement, auditor, viewer."}),
    ({"business_unit_ids": [99999]}, {"business_unit_ids": "No business unit 99999 among yours."}),
    ({"user_ids": [99999]}, {"user_ids": "No active person 99999 among yours."}),
    ({}, {"user_ids": "Name people, business units or roles to ask."}),
    ({"roles": ["viewer"], "due_date": "2020-01-01"}, {"due_date": None}),
])
def test_bad_requests_change_nothing(client: TestClient, db: Session, org: Org, body: dict[str, Any],
                                     errors: dict[str, Any]) -> None:
    published_policy(db)
    response = client.post(f"{API}/policies/POL-001/attestations", headers=headers_for(db), json=body)
    assert response.status_code == 422
    found = errors_of(response)
    assert found.keys() == errors.keys()
    for field, message in errors.items():
        assert message is None or found[field] == message
    assert count(db, Attestation) == 0


def test_scoped_writer_reaches_only_their_units(client: TestClient, db: Session, org: Org) -> None:
    published_policy(db)
    scoped = headers_for(db, roles=[("risk_compliance", org.retail)])
    outside = client.post(f"{API}/policies/POL-001/attestations", headers=scoped,
                          json={"business_unit_ids": [org.wealth.id]})
    assert errors_of(outside) == {"business_unit_ids": f"No business unit {org.wealth.id} among yours."}
    by_role = client.post(f"{API}/policies/POL-001/attestations", headers=scoped, json={"roles": ["ethics_board",
                                                                                                 "domain_expert"]})
    assert by_role.json()["requested"] == 1  # Cat; Eve holds ethics_board but sits in Wealth
    assert client.post(f"{API}/policies", headers=scoped, json={"title": "x"}).status_code == 403


def test_attest_own_only_and_only_the_version_in_force(client: TestClient, db: Session, org: Org,
                                                       settings: Settings) -> None:
    policy = published_policy(db)
    p = org.people
    service.request_attestations(db, settings, None, policy.key, schemas.AttestationRequest(
        user_ids=[p["ann"].id, p["bob"].id]))
    db.commit()
    ann, bob = bearer(make_token(db, p["ann"])), bearer(make_token(db, p["bob"]))
    mine = client.get(f"{API}/attestations/mine", headers=ann).json()
    assert [(a["policy_key"], a["version"], a["status"]) for a in mine] == [("POL-001", 1, "pending")]
    bobs = client.get(f"{API}/attestations/mine", headers=bob).json()[0]["id"]
    assert client.post(f"{API}/attestations/{bobs}/attest", headers=ann).status_code == 404
    done = client.post(f"{API}/attestations/{mine[0]['id']}/attest", headers=ann)
    assert done.status_code == 200 and done.json()["status"] == "attested" and done.json()["attested_at"]
    twice = client.post(f"{API}/attestations/{mine[0]['id']}/attest", headers=ann)
    assert twice.status_code == 409 and twice.json()["detail"] == "you attested version 1 of POL-001 already"
    event = events(db, "attestation", "attest")[0]
    assert event.entity_id == str(mine[0]["id"]) and '"policy":[null,"POL-001"]' in event.diff
    service.create_version(db, None, policy.key, schemas.VersionCreate(body_md="v2"))
    service.publish_version(db, None, policy.key, 2, schemas.PublishIn())
    db.commit()
    stale = client.post(f"{API}/attestations/{bobs}/attest", headers=bob)
    assert stale.status_code == 409 and "a newer version replaced it" in stale.json()["detail"]
    assert client.get(f"{API}/attestations/mine", headers=bob).json() == []
    nobody = headers_for(db, roles=[])
    assert client.get(f"{API}/attestations/mine", headers=nobody).status_code == 403


# --- requests, status and reminders, on both databases ---------------------------------------------------------------

class TestOnBothDatabases:
    """Requests by subtree and role, the status aggregation and the reminder query, on SQLite and PostgreSQL."""

    @pytest.fixture
    def settings(self, any_db_url: str, tmp_path: Path) -> Settings:
        return make_settings(any_db_url, tmp_path)

    def test_request_by_unit_subtree_role_and_name_dedupes_and_skips(self, client: TestClient, db: Session, org: Org,
                                                                     settings: Settings) -> None:
        published_policy(db)
        writer = bearer(make_token(db, org.people["lead"]))
        p = org.people
        response = client.post(f"{API}/policies/POL-001/attestations", headers=writer, json={
            "business_unit_ids": [org.retail.id], "roles": ["ethics_board"], "user_ids": [p["ann"].id]})
        assert response.status_code == 201, response.text
        due = service.today() + timedelta(days=settings.attestation_due_days)
        assert response.json() == {"version": 1, "requested": 4, "already_requested": 0, "cannot_attest": 1,
                                   "due_date": due.isoformat()}
        db.rollback()
        asked = {a.user_id for a in db.scalars(select(Attestation))}
        assert asked == {p["ann"].id, p["bob"].id, p["cat"].id, p["eve"].id}  # subtree, role, name; not Roland or Gone
        again = client.post(f"{API}/policies/POL-001/attestations", headers=writer, json={
            "business_unit_ids": [org.group.id], "due_date": (service.today() + timedelta(days=5)).isoformat()})
        assert again.json()["requested"] == 2 and again.json()["already_requested"] == 4  # Dan and Lead are new
        event = events(db, "policy", "request_attestations")[0]
        ids = sorted([p["ann"].id, p["bob"].id, p["cat"].id, p["eve"].id])
        assert f'"user_ids":[null,[{",".join(map(str, ids))}]]' in event.diff
        assert '"cannot_attest":[null,1]' in event.diff

    def test_status_per_person_and_unit_with_exact_rates(self, client: TestClient, db: Session, org: Org,
                                                         settings: Settings) -> None:
        policy = published_policy(db)
        p = org.people
        past = utcnow() - timedelta(days=40)  # a campaign launched 40 days ago, due 30 days later: now overdue
        first = schemas.AttestationRequest(user_ids=[p["ann"].id, p["bob"].id, p["cat"].id])
        service.request_attestations(db, settings, None, policy.key, first, now=past)
        service.request_attestations(db, settings, None, policy.key,
                                     schemas.AttestationRequest(user_ids=[p["dan"].id, p["eve"].id]))
        for name in ("ann", "dan"):
            attestation = db.scalar(select(Attestation).where(Attestation.user_id == p[name].id))
            service.attest(db, Principal.resolve(db, p[name]), attestation.id)
        db.commit()
        status = client.get(f"{API}/policies/POL-001/attestations", headers=headers_for(db)).json()
        assert status["version"] == 1
        assert [(u["business_unit"], u["requested"], u["attested"], u["pending"], u["overdue"], u["rate"])
                for u in status["units"]] == [("Cards", 2, 0, 0, 2, 0.0), ("Retail", 1, 1, 0, 0, 1.0),
                                              ("Wealth", 2, 1, 1, 0, 0.5)]
        assert status["totals"] == {"business_unit_id": None, "business_unit": "All", "requested": 5, "attested": 2,
                                    "pending": 1, "overdue": 2, "rate": 0.4}
        assert [(x["user"]["full_name"], x["status"]) for x in status["people"]] == [
            ("Ann", "attested"), ("Bob", "overdue"), ("Cat", "overdue"), ("Dan", "attested"), ("Eve", "pending")]
        scoped = headers_for(db, roles=[("viewer", org.retail)])  # policy:read within Retail and its Cards sub-unit
        seen = client.get(f"{API}/policies/POL-001/attestations", headers=scoped).json()
        assert [u["business_unit"] for u in seen["units"]] == ["Cards", "Retail"] and seen["totals"]["rate"] == 0.3333

    def test_reminders_stamp_audit_log_and_wait_three_days(self, db: Session, org: Org, settings: Settings,
                                                           caplog: pytest.LogCaptureFixture) -> None:
        policy = published_policy(db)
        p = org.people
        now = utcnow()
        plan = {"ann": now - timedelta(days=40), "bob": now - timedelta(days=26), "cat": now,
                "dan": now - timedelta(days=40)}
        for name, when in plan.items():  # due 30 days after: overdue, due in 4 days, due in 30 days, (attested)
            service.request_attestations(db, settings, None, policy.key,
                                         schemas.AttestationRequest(user_ids=[p[name].id]), now=when)
        dan = db.scalar(select(Attestation).where(Attestation.user_id == p["dan"].id))
        service.attest(db, Principal.resolve(db, p["dan"]), dan.id)
        db.commit()
        with caplog.at_level(logging.INFO, logger="aicoe.policy.reminders"):
            run = reminders.send_reminders(db, now=now)
        db.commit()
        assert run.as_dict() == {"reminded": 2, "overdue": 1, "due_soon": 1}
        stamped = {a.user_id: (a.reminder_count, a.last_reminded_at) for a in db.scalars(select(Attestation))}
        assert stamped[p["ann"].id][0] == 1 and stamped[p["bob"].id][0] == 1 and stamped[p["cat"].id] == (0, None)
        lines = [r.getMessage() for r in caplog.records if r.name == "aicoe.policy.reminders"]
        assert len(lines) == 2 and all("Ann" not in line and "@" not in line for line in lines)
        assert f"user={p['ann'].id}" in lines[0] and "overdue=True" in lines[0]
        assert [e.entity_id for e in events(db, "attestation", "remind")] == [
            str(a.id) for a in db.scalars(select(Attestation).where(Attestation.user_id.in_([p["ann"].id, p["bob"].id]))
                                          .order_by(Attestation.due_date))]
        assert reminders.send_reminders(db, now=now + timedelta(days=2)).reminded == 0
        assert reminders.send_reminders(db, now=now + timedelta(days=3)).reminded == 2
        db.commit()
        assert len(events(db, "attestation", "remind")) == 4


def test_reminder_job_runs_through_the_runner_and_the_api(client: TestClient, db: Session, org: Org, app,  # noqa: ANN001
                                                          settings: Settings) -> None:
    policy = published_policy(db)
    service.request_attestations(db, settings, None, policy.key, schemas.AttestationRequest(
        user_ids=[org.people["ann"].id]), now=utcnow() - timedelta(days=35))
    jobs.enqueue(db, ledger.SYSTEM, reminders.JOB_KIND)
    db.commit()
    assert JobRunner(app.state.sessionmaker, settings).run_until_idle() == 1
    db.rollback()
    job = db.scalar(select(Job))
    assert job.status == "succeeded" and job.result == {"reminded": 1, "overdue": 1, "due_soon": 0}
    db.execute(update(Attestation).values(last_reminded_at=utcnow() - timedelta(days=4)))
    db.commit()
    response = client.post(f"{API}/attestations/reminders", headers=headers_for(db, roles=[("coe_lead", None)]))
    assert response.status_code == 200 and response.json() == {"reminded": 1, "overdue": 1, "due_soon": 0}
    assert events(db, "attestation", "remind")[-1].actor_label.endswith(")")  # the caller's token, not the system
    scoped = headers_for(db, roles=[("risk_compliance", org.retail)])
    assert client.post(f"{API}/attestations/reminders", headers=scoped).status_code == 403


# --- pages -----------------------------------------------------------------------------------------------------------

@pytest.fixture
def browser(client: TestClient, db: Session, settings: Settings, org: Org) -> TestClient:
    make_user(db, email="lead@example.com", full_name="Lena Lead", password=PASSWORD, settings=settings,
              business_unit=org.group, roles=[("coe_lead", None)])
    login(client, "lead@example.com")
    return client


def test_policy_pages_write_publish_request_and_show_progress(browser: TestClient, db: Session, org: Org) -> None:
    page = browser.get("/policies/new")
    assert page.status_code == 200
    token = csrf_from(page.text)
    bad = browser.post("/policies", data={"csrf_token": token, "title": "", "review_cycle_months": "12"})
    assert bad.status_code == 422 and 'id="e-title"' in bad.text and count(db, Policy) == 0
    created = browser.post("/policies", data={"csrf_token": token, "title": "AI model risk management standard",
                                              "review_cycle_months": "12", "body_md": BODY + "\n<b>raw</b>\n"},
                           follow_redirects=False)
    assert created.status_code == 303 and created.headers["location"] == "/policies/POL-001"
    draft = browser.get("/policies/POL-001/versions/1")
    assert "Edit the draft" in draft.text and "&lt;b&gt;raw&lt;/b&gt;" in draft.text and "<b>raw</b>" not in draft.text
    published = browser.post("/policies/POL-001/versions/1/publish", data={"csrf_token": token,
                                                                           "effective_date": "not a date"})
    assert published.status_code == 422 and 'id="e-effective_date"' in published.text
    published = browser.post("/policies/POL-001/versions/1/publish",
                             data={"csrf_token": token, "effective_date": service.today().isoformat()},
                             follow_redirects=False)
    assert published.status_code == 303
    asked = browser.post("/policies/POL-001/attestations", data={
        "csrf_token": token, "business_unit_ids": [str(org.retail.id)]}, follow_redirects=False)
    assert asked.status_code == 303
    detail = browser.get("/policies/POL-001")
    assert "Asked 3 people to attest version 1" in detail.text and "Skipped 1 without a role that can attest" \
        in detail.text
    assert "<li>Keep a human in the loop</li>" in detail.text
    assert '<progress max="2" value="0" aria-label="Cards: 0 % attested">' in detail.text
    assert "0 of 3 people attested (0 %)" in detail.text
    refused = browser.post("/policies/POL-001/attestations", data={"csrf_token": token, "roles": ["wizard"]})
    assert refused.status_code == 422 and 'id="e-roles"' in refused.text
    frozen = browser.post("/policies/POL-001/versions/1", data={"csrf_token": token, "body_md": "changed"})
    assert frozen.status_code == 409 and "cannot change" in frozen.text
    new_version = browser.get("/policies/POL-001/versions/new")
    assert "Keep a human in the loop" in new_version.text
    listing = browser.get("/policies")
    assert "POL-001" in listing.text and "Version 1 since" in listing.text


def test_my_attestations_page_needs_confirmation(client: TestClient, db: Session, org: Org,
                                                 settings: Settings) -> None:
    policy = published_policy(db, title="Data protection for AI")
    ann = make_user(db, email="ann@example.com", full_name="Ann Reader", password=PASSWORD, settings=settings,
                    roles=[("viewer", None)])
    service.request_attestations(db, settings, None, policy.key, schemas.AttestationRequest(user_ids=[ann.id]))
    db.commit()
    attestation = db.scalar(select(Attestation))
    login(client, ann.email)
    listing = client.get("/policies")
    assert "My attestations (1 to attest)" in listing.text and "Write a policy" not in listing.text
    page = client.get("/attestations")
    assert page.status_code == 200 and "Data protection for AI, version 1" in page.text
    assert "<li>Keep a human in the loop</li>" in page.text
    token = csrf_from(page.text)
    unconfirmed = client.post(f"/attestations/{attestation.id}/attest", data={"csrf_token": token})
    assert unconfirmed.status_code == 422 and f'id="e-confirm-{attestation.id}"' in unconfirmed.text
    db.rollback()
    assert db.get(Attestation, attestation.id).status == "pending"
    done = client.post(f"/attestations/{attestation.id}/attest", data={"csrf_token": token, "confirm": "yes"},
                       follow_redirects=False)
    assert done.status_code == 303
    page = client.get("/attestations")
    assert "Nothing to attest" in page.text and "Attested" in page.text
    assert client.get("/policies/new").status_code == 403


# --- CLI -------------------------------------------------------------------------------------------------------------

runner = CliRunner()



def test_cli_lists_shows_and_reminds(cli_db: Session, tmp_path: Path) -> None:
    settings = make_settings(f"sqlite:///{tmp_path}/cli.db", tmp_path)
    unit = make_unit(cli_db, name="Retail")
    people = [make_user(cli_db, business_unit=unit, roles=[("viewer", None)]) for _ in range(2)]
    policy = published_policy(cli_db, effective=date(2030, 1, 15))
    service.create_policy(cli_db, None, schemas.PolicyCreate(title="Draft only"))
    service.request_attestations(cli_db, settings, None, policy.key, schemas.AttestationRequest(
        business_unit_ids=[unit.id]), now=utcnow() - timedelta(days=31))
    first = cli_db.scalar(select(Attestation).where(Attestation.user_id == people[0].id))
    service.attest(cli_db, Principal.resolve(cli_db, people[0]), first.id)
    cli_db.commit()
    r = runner.invoke(cli_app, ["policy", "list"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "POL-001" in r.output and "v1 since 2030-01-15" in r.output and "2 of 2 policies" in r.output
    r = runner.invoke(cli_app, ["policy", "list", "--status", "draft"], catch_exceptions=False)
    assert "Draft only" in r.output and "1 of 1 policies" in r.output
    r = runner.invoke(cli_app, ["policy", "list", "--status", "live"], catch_exceptions=False)
    assert r.exit_code == 1 and "Unknown value 'live'" in r.output
    r = runner.invoke(cli_app, ["policy", "show", "pol-001"], catch_exceptions=False)
    assert r.exit_code == 0 and "2031-01-15" in r.output
    retail_row = next(line for line in r.output.splitlines() if "Retail" in line)
    assert [c.strip() for c in retail_row.split("│")[1:-1]] == ["Retail", "2", "1", "0", "1", "50%"]
    r = runner.invoke(cli_app, ["policy", "show", "POL-404"], catch_exceptions=False)
    assert r.exit_code == 1 and "no policy POL-404" in r.output
    r = runner.invoke(cli_app, ["policy", "remind"], catch_exceptions=False)
    assert r.exit_code == 0 and "Reminded 1 (1 overdue, 0 due within 7 days)" in r.output
    r = runner.invoke(cli_app, ["policy", "remind"], catch_exceptions=False)
    assert "Reminded 0" in r.output
    cli_db.rollback()
    assert cli_db.scalar(select(func.count()).select_from(PolicyVersion)) == 1


# --- demo data -------------------------------------------------------------------------------------------------------

def test_demo_policies_have_versions_and_mixed_attestations(db: Session, settings: Settings) -> None:
    from aicoe.demo import DemoResult
    from aicoe.demo.governance_policies import seed_policies
    from aicoe.demo.org import seed_org

    result = DemoResult()
    seed_org(db, settings, result)
    seed_policies(db, settings, result)
    db.commit()
    assert result.created["policies"] == 4
    policies = {p.title: p for p in db.scalars(select(Policy))}
    assert set(policies) == {"Responsible AI policy", "Generative AI acceptable use",
                             "AI model risk management standard", "Data protection for AI"}
    assert all(p.status == "active" for p in policies.values())
    assert [v.status for v in policies["Responsible AI policy"].versions] == ["superseded", "published"]
    assert [v.status for v in policies["Data protection for AI"].versions] == ["published", "draft"]
    states = {service.attestation_state(a) for a in db.scalars(select(Attestation))}
    assert states == {"attested", "pending", "overdue"}
    rai = service.attestation_status(db, None, policies["Responsible AI policy"].key)
    assert 0 < rai.totals.rate < 1 and rai.totals.overdue > 0
    assert "## 3. Principles" in service.current_version(policies["Responsible AI policy"]).body_md
    again = DemoResult()
    seed_policies(db, settings, again)
    assert again.created == {} and count(db, Policy) == 4
