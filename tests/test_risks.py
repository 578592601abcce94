"""The risk register: the configurable matrix and its validation, exact scores and levels, residual never above
inherent, four-eyes acceptance with expiry, subject scoping, linked controls, the heat map and the register's
filters, the audit trail, and the API, pages, AI-system panel and CLI."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from aicoe.cli.main import app as cli_app
from aicoe.config import Settings
from aicoe.models.audit import AuditEvent
from aicoe.models.org import BusinessUnit, User
from aicoe.models.risk import Risk, RiskMatrix
from aicoe.risk import matrix as matrices
from aicoe.risk import schemas, service
from aicoe.risk.constants import CATEGORIES
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
from tests.governance_factories import make_control
from tests.inventory_factories import make_dataset, make_model, make_system, make_vendor
from tests.portfolio_factories import make_use_case

API = "/api/v1"


def headers_for(db: Session, **user_kwargs: Any) -> dict[str, str]:
    return bearer(make_token(db, make_user(db, **user_kwargs)))


def count(db: Session, model: type) -> int:
    db.rollback()
    return db.scalar(select(func.count()).select_from(model)) or 0


def events(db: Session, entity_type: str, action: str | None = None) -> list[AuditEvent]:
    db.rollback()
    stmt = select(AuditEvent).where(AuditEvent.entity_type == entity_type)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    return list(db.scalars(stmt.order_by(AuditEvent.seq)))


def errors_of(response) -> dict[str, str]:  # noqa: ANN001
    return {e["field"]: e["message"] for e in response.json().get("errors", [])}


def risk_body(subject_type: str, subject_id: int, **fields: Any) -> dict[str, Any]:
    body = {"title": "Unfair declines for young applicants", "category": "bias_fairness",
            "subject_type": subject_type, "subject_id": subject_id, "inherent_likelihood": 3, "inherent_impact": 4}
    body.update(fields)
    return body


def post_risk(client: TestClient, headers: dict[str, str], subject_type: str, subject_id: int,
              **fields: Any) -> dict[str, Any]:
    response = client.post(f"{API}/risks", headers=headers, json=risk_body(subject_type, subject_id, **fields))
    assert response.status_code == 201, response.text
    return response.json()


def default_matrix_body(**changes: Any) -> dict[str, Any]:
    body = {"likelihood_labels": list(matrices.DEFAULT_LIKELIHOOD), "impact_labels": list(matrices.DEFAULT_IMPACT),
            "bands": [dict(b) for b in matrices.DEFAULT_BANDS]}
    body.update(changes)
    return body


# --- the matrix ------------------------------------------------------------------------------------------------------

def test_default_matrix_is_created_once_with_exact_levels(db: Session) -> None:
    matrix = matrices.get_matrix(db)
    assert matrix.likelihood_labels == ["Rare", "Unlikely", "Possible", "Likely", "Almost certain"]
    assert matrix.impact_labels == ["Negligible", "Minor", "Moderate", "Major", "Severe"]
    assert matrices.max_score(matrix) == 25
    expected = {1: "low", 4: "low", 5: "medium", 9: "medium", 10: "high", 16: "high", 17: "critical", 25: "critical"}
    assert {score: matrices.level(matrix, score) for score in expected} == expected
    assert matrices.level(matrix, None) is None
    assert matrices.score_range(matrix, "high") == (10, 16)
    db.commit()
    assert matrices.get_matrix(db).id == matrix.id and count(db, RiskMatrix) == 1
    assert [e.action for e in events(db, "risk_matrix")] == ["create"]


BAD_MATRICES = [
    ({"likelihood_labels": ["Only one"]}, "likelihood_labels", "Give between 2 and 10 labels; got 1."),
    ({"impact_labels": [f"I{n}" for n in range(11)]}, "impact_labels", "Give between 2 and 10 labels; got 11."),
    ({"impact_labels": ["Low", "low", "High"]}, "impact_labels", "Labels must differ; 'low' appears twice."),
    ({"likelihood_labels": ["A", "", "C"]}, "likelihood_labels", "Labels cannot be empty."),
    ({"bands": [{"level": "low", "min": 1, "max": 25}]}, "bands", "Give 2 to 4 bands; got 1."),
    ({"bands": [{"level": "low", "min": 1, "max": 4}, {"level": "medium", "min": 6, "max": 25}]}, "bands",
     "Band 'medium' starts at 6 but the previous band ends at 4: a gap between them; bands must follow each other "
     "exactly."),
    ({"bands": [{"level": "low", "min": 1, "max": 5}, {"level": "medium", "min": 5, "max": 25}]}, "bands",
     "Band 'medium' starts at 5 but the previous band ends at 5: an overlap between them; bands must follow each "
     "other exactly."),
    ({"bands": [{"level": "low", "min": 2, "max": 9}, {"level": "high", "min": 10, "max": 25}]}, "bands",
     "The first band must start at 1, not 2."),
    ({"bands": [{"level": "low", "min": 1, "max": 9}, {"level": "high", "min": 10, "max": 20}]}, "bands",
     "The last band must end at the highest score, 25 (likelihood levels × impact levels), not 20."),
    ({"bands": [{"level": "high", "min": 1, "max": 9}, {"level": "low", "min": 10, "max": 25}]}, "bands",
     "Levels must rise from band to band in the order low, medium, high, critical, each used once."),
    ({"bands": [{"level": "minor", "min": 1, "max": 9}, {"level": "high", "min": 10, "max": 25}]}, "bands",
     "Unknown level 'minor'; allowed: low, medium, high, critical."),
    ({"bands": [{"level": "low", "min": 1, "max": 9}, {"level": "high", "min": 12, "max": 10}]}, "bands",
     "Band 'high' ends (10) before it starts (12)."),
]


@pytest.mark.parametrize(("changes", "field", "message"), BAD_MATRICES, ids=[b[2][:40] for b in BAD_MATRICES])
def test_invalid_matrices_are_refused_by_field_and_change_nothing(client: TestClient, db: Session,
                                                                   changes: dict[str, Any], field: str,
                                                                   message: str) -> None:
    headers = headers_for(db, roles=[("risk_compliance", None)])
    before = client.get(f"{API}/risk-matrix", headers=headers).json()
    response = client.put(f"{API}/risk-matrix", headers=headers, json=default_matrix_body(**changes))
    assert response.status_code == 422, response.text
    assert errors_of(response) == {field: message}
    assert client.get(f"{API}/risk-matrix", headers=headers).json() == before
    assert [e.action for e in events(db, "risk_matrix")] == ["create"]


def test_matrix_update_relevels_risks_and_refuses_stranding_them(client: TestClient, db: Session) -> None:
    unit = make_unit(db)
    system = make_system(db, unit=unit)
    admin = headers_for(db)
    risk = post_risk(client, admin, "ai_system", system.id, inherent_likelihood=3, inherent_impact=3)
    assert risk["inherent"]["level"] == "medium" and risk["level"] == "medium"
    three_by_three = {"likelihood_labels": ["Low", "Medium", "High"], "impact_labels": ["Minor", "Moderate", "Major"],
                      "bands": [{"level": "low", "min": 1, "max": 2}, {"level": "medium", "min": 3, "max": 5},
                                {"level": "high", "min": 6, "max": 9}]}
    response = client.put(f"{API}/risk-matrix", headers=admin, json=three_by_three)
    assert response.status_code == 200, response.text
    assert response.json()["max_score"] == 9 and response.json()["bands"][2] == {"level": "high", "min": 6, "max": 9}
    shown = client.get(f"{API}/risks/{risk['key']}", headers=admin).json()
    assert shown["inherent"] == {"likelihood": 3, "likelihood_label": "High", "impact": 3, "impact_label": "Major",
                                 "score": 9, "level": "high"}
    update_event = events(db, "risk_matrix", "update")[-1]
    assert '"impact_labels":[["Negligible"' in update_event.diff
    too_small = {**three_by_three, "likelihood_labels": ["Low", "High"],
                 "bands": [{"level": "low", "min": 1, "max": 3}, {"level": "high", "min": 4, "max": 6}]}
    refused = client.put(f"{API}/risk-matrix", headers=admin, json=too_small)
    assert refused.status_code == 409
    assert errors_of(refused) == {"likelihood_labels": f"1 risk(s) are scored above likelihood 2 ({risk['key']}); "
                                                       "re-score them before removing that level."}
    assert client.get(f"{API}/risk-matrix", headers=admin).json()["likelihood_labels"] == ["Low", "Medium", "High"]
    scoped = headers_for(db, roles=[("risk_compliance", unit)])  # risk_matrix:write is CoE-wide only
    assert client.put(f"{API}/risk-matrix", headers=scoped, json=three_by_three).status_code == 403


# --- recording risks -------------------------------------------------------------------------------------------------

def test_record_a_risk_with_exact_scores_key_unit_and_audit(client: TestClient, db: Session) -> None:
    unit = make_unit(db, name="Retail")
    owner = make_user(db, roles=[], full_name="Olga Owner")
    system = make_system(db, unit=unit, name="Credit engine")
    headers = headers_for(db, roles=[("practitioner", unit)])
    body = risk_body("ai_system", system.id, owner_id=owner.id, inherent_likelihood=4, inherent_impact=5,
                     residual_likelihood=2, residual_impact=3, treatment="mitigate", status="treating",
                     treatment_plan="Monthly disparity testing.", due_date="2031-03-01",
                     description="Thin-file applicants are declined more often.")
    response = client.post(f"{API}/risks", headers=headers, json=body)
    assert response.status_code == 201, response.text
    out = response.json()
    assert out["key"] == "RSK-0001"
    assert out["business_unit"] == {"id": unit.id, "name": "Retail"}
    assert out["subject"] == {"type": "ai_system", "id": system.id, "label": "Credit engine",
                              "url": f"/ai-systems/{system.id}"}
    assert out["inherent"] == {"likelihood": 4, "likelihood_label": "Likely", "impact": 5, "impact_label": "Severe",
                               "score": 20, "level": "critical"}
    assert out["residual"] == {"likelihood": 2, "likelihood_label": "Unlikely", "impact": 3,
                               "impact_label": "Moderate", "score": 6, "level": "medium"}
    assert out["level"] == "medium" and out["status"] == "treating" and out["owner"]["full_name"] == "Olga Owner"
    assert out["overdue"] is False and out["review_due"] is False and out["controls"] == []
    db.rollback()
    stored = db.scalar(select(Risk))
    assert (stored.inherent_score, stored.residual_score, stored.business_unit_id) == (20, 6, unit.id)
    created = events(db, "risk", "create")
    assert [e.entity_id for e in created] == ["RSK-0001"]
    assert '"subject":[null,"Credit engine"]' in created[0].diff and '"inherent_score":[null,20]' in created[0].diff
    second = post_risk(client, headers, "ai_system", system.id)
    assert second["key"] == "RSK-0002" and second["residual"] is None and second["level"] == "high"


@pytest.mark.parametrize(("fields", "errors"), [
    ({"residual_likelihood": 4, "residual_impact": 4},
     {"residual_likelihood": "The residual score 16 (4 × 4) exceeds the inherent score 12: treatment cannot make a "
                             "risk worse. Raise the inherent rating instead."}),
    ({"residual_likelihood": 2}, {"residual_impact": "Give both the residual likelihood and impact, or neither."}),
    ({"inherent_impact": 6}, {"inherent_impact": "Choose 1 to 5 (Negligible to Severe); got 6."}),
    ({"category": "weather"}, {"category": "Value error, unknown value 'weather'; allowed: bias_fairness, privacy, "
                                           "security, safety, robustness, transparency, accountability, "
                                           "intellectual_property, third_party, regulatory"}),
    ({"status": "accepted"}, {"status": "Input should be 'open', 'treating' or 'closed'"}),
    ({"treatment": "accept"}, {"acceptance_expires_on": "Accepting a risk needs the date its acceptance expires "
                                                        "and must be reviewed."}),
    ({"treatment": "mitigate", "acceptance_expires_on": "2031-01-01"},
     {"acceptance_expires_on": "Only a risk treated by acceptance has an acceptance expiry."}),
    ({"owner_id": 99999}, {"owner_id": "No active person 99999."}),
    ({"control_ids": [99999]}, {"control_ids": "No control 99999."}),
])
def test_bad_input_is_refused_by_field_and_nothing_is_written(client: TestClient, db: Session,
                                                              fields: dict[str, Any], errors: dict[str, str]) -> None:
    system = make_system(db, unit=make_unit(db))
    headers = headers_for(db)
    response = client.post(f"{API}/risks", headers=headers, json=risk_body("ai_system", system.id, **fields))
    assert response.status_code == 422, response.text
    assert errors_of(response) == errors
    assert count(db, Risk) == 0 and events(db, "risk") == []


def test_acceptance_expiry_must_lie_after_today(client: TestClient, db: Session) -> None:
    system = make_system(db, unit=make_unit(db))
    today = service.today()
    response = client.post(f"{API}/risks", headers=headers_for(db), json=risk_body(
        "ai_system", system.id, treatment="accept", acceptance_expires_on=today.isoformat()))
    assert response.status_code == 422
    assert errors_of(response) == {"acceptance_expires_on": f"The acceptance must expire after today ({today})."}


def test_subjects_of_every_type_give_the_risk_their_unit(client: TestClient, db: Session) -> None:
    retail, cards = make_unit(db, name="Retail"), make_unit(db, name="Cards")
    use_case = make_use_case(db, unit=retail, title="Fraud triage")
    dataset = make_dataset(db, unit=cards, name="Card authorisations")
    model = make_model(db, unit=cards, name="fraud-gbm", version="4")
    vendor = make_vendor(db, name="Nimbus AI")
    headers = headers_for(db)
    assert post_risk(client, headers, "use_case", use_case.id)["subject"]["label"] == f"{use_case.key} Fraud triage"
    out = post_risk(client, headers, "dataset", dataset.id, category="privacy")
    assert out["business_unit"]["id"] == cards.id and out["subject"]["url"] == f"/datasets/{dataset.id}"
    assert post_risk(client, headers, "model", model.id)["subject"]["label"] == "fraud-gbm 4"
    missing_unit = client.post(f"{API}/risks", headers=headers, json=risk_body("vendor", vendor.id))
    assert missing_unit.status_code == 422
    assert errors_of(missing_unit) == {"business_unit_id": "A vendor risk names the business unit that carries it."}
    out = post_risk(client, headers, "vendor", vendor.id, business_unit_id=retail.id, category="third_party")
    assert out["business_unit"]["id"] == retail.id and out["subject"]["label"] == "Nimbus AI"
    not_vendor = client.post(f"{API}/risks", headers=headers, json=risk_body("model", model.id,
                                                                             business_unit_id=retail.id))
    assert not_vendor.status_code == 422 and "Only vendor risks name a business unit" in \
        errors_of(not_vendor)["business_unit_id"]
    gone = client.post(f"{API}/risks", headers=headers, json=risk_body("dataset", 99999))
    assert errors_of(gone) == {"subject_id": "No dataset 99999 in your business units."}


def test_scoped_user_records_and_sees_risks_only_in_their_units(client: TestClient, db: Session) -> None:
    mine, other = make_unit(db, name="Mine"), make_unit(db, name="Other")
    sub = make_unit(db, name="Mine, sub-unit", parent=mine)
    own_system, sub_system = make_system(db, unit=mine), make_system(db, unit=sub)
    other_system = make_system(db, unit=other)
    vendor = make_vendor(db)
    admin = headers_for(db)
    theirs = post_risk(client, admin, "ai_system", other_system.id)
    scoped = headers_for(db, roles=[("practitioner", mine)])
    refused = client.post(f"{API}/risks", headers=scoped, json=risk_body("ai_system", other_system.id))
    assert refused.status_code == 422
    assert errors_of(refused) == {"subject_id": f"No ai system {other_system.id} in your business units."}
    outside = client.post(f"{API}/risks", headers=scoped, json=risk_body("vendor", vendor.id,
                                                                         business_unit_id=other.id))
    assert errors_of(outside) == {"business_unit_id": f"No business unit {other.id} among yours."}
    own = post_risk(client, scoped, "ai_system", own_system.id)
    in_sub = post_risk(client, scoped, "ai_system", sub_system.id)
    listed = client.get(f"{API}/risks", headers=scoped).json()
    assert sorted(r["key"] for r in listed["items"]) == sorted([own["key"], in_sub["key"]])
    assert client.get(f"{API}/risks/{theirs['key']}", headers=scoped).status_code == 404
    assert client.patch(f"{API}/risks/{theirs['key']}", headers=scoped, json={"title": "x"}).status_code == 404
    assert client.delete(f"{API}/risks/{theirs['key']}", headers=scoped).status_code == 404
    moved = client.patch(f"{API}/risks/{own['key']}", headers=scoped,
                         json={"subject_type": "ai_system", "subject_id": other_system.id})
    assert moved.status_code == 422 and "subject_id" in errors_of(moved)
    heat = client.get(f"{API}/risks/heatmap", headers=scoped).json()
    assert heat["total"] == 2
    reader = headers_for(db, roles=[("viewer", mine)])  # viewers do not see the register
    assert client.get(f"{API}/risks", headers=reader).status_code == 403


def test_update_moves_rescores_and_audits(client: TestClient, db: Session) -> None:
    unit = make_unit(db)
    system, other = make_system(db, unit=unit, name="First"), make_system(db, unit=unit, name="Second")
    headers = headers_for(db)
    key = post_risk(client, headers, "ai_system", system.id)["key"]
    response = client.patch(f"{API}/risks/{key}", headers=headers, json={
        "subject_type": "ai_system", "subject_id": other.id, "inherent_impact": 5, "residual_likelihood": 1,
        "residual_impact": 5})
    assert response.status_code == 200, response.text
    out = response.json()
    assert out["subject"]["label"] == "Second" and out["inherent"]["score"] == 15 and out["residual"]["score"] == 5
    half = client.patch(f"{API}/risks/{key}", headers=headers, json={"subject_id": system.id})
    assert errors_of(half) == {"subject_id": "Give the subject type and id together to move a risk."}
    worse = client.patch(f"{API}/risks/{key}", headers=headers, json={"inherent_likelihood": 1, "inherent_impact": 4})
    assert worse.status_code == 422 and "exceeds the inherent score 4" in errors_of(worse)["residual_likelihood"]
    assert client.patch(f"{API}/risks/{key}", headers=headers, json={"title": None}).status_code == 422
    diff = events(db, "risk", "update")[-1].diff
    assert '"subject":[null,"Second"]' in diff and '"inherent_score":[12,15]' in diff and '"residual_score":[null,5]' \
        in diff
    cleared = client.patch(f"{API}/risks/{key}", headers=headers, json={"residual_likelihood": None,
                                                                          "residual_impact": None})
    assert cleared.json()["residual"] is None
    assert client.delete(f"{API}/risks/{key}", headers=headers).status_code == 204
    assert count(db, Risk) == 0
    assert [e.action for e in events(db, "risk")] == ["create", "update", "update", "delete"]


# --- acceptance ------------------------------------------------------------------------------------------------------

def test_acceptance_is_four_eyes_with_expiry_review_and_voiding(client: TestClient, db: Session) -> None:
    unit = make_unit(db)
    system = make_system(db, unit=unit)
    owner = make_user(db, roles=[("risk_compliance", None)], full_name="Olga Owner")  # holds risk:accept too
    approver = make_user(db, roles=[("steering_committee", None)], full_name="Sam Approver")
    owner_h, approver_h = bearer(make_token(db, owner)), bearer(make_token(db, approver))
    writer_h = headers_for(db, roles=[("practitioner", None)])  # may write risks, not accept them
    expires = service.today() + timedelta(days=180)
    key = post_risk(client, owner_h, "ai_system", system.id, owner_id=owner.id)["key"]
    not_proposed = client.post(f"{API}/risks/{key}/accept", headers=approver_h, json={})
    assert not_proposed.status_code == 409 and "not proposed for acceptance" in not_proposed.json()["detail"]
    proposed = client.patch(f"{API}/risks/{key}", headers=owner_h, json={
        "treatment": "accept", "acceptance_expires_on": expires.isoformat(),
        "treatment_plan": "Within appetite: low volume, human review of declines."})
    assert proposed.status_code == 200 and proposed.json()["status"] == "open"
    own = client.post(f"{API}/risks/{key}/accept", headers=owner_h, json={})
    assert own.status_code == 422
    assert errors_of(own) == {"approver": "Someone other than the risk owner must approve."}
    assert client.post(f"{API}/risks/{key}/accept", headers=writer_h, json={}).status_code == 403
    past = client.post(f"{API}/risks/{key}/accept", headers=approver_h,
                       json={"expires_on": service.today().isoformat()})
    assert past.status_code == 422 and "expires_on" in errors_of(past)
    accepted = client.post(f"{API}/risks/{key}/accept", headers=approver_h, json={"note": "Reviewed at RMC."})
    assert accepted.status_code == 200, accepted.text
    out = accepted.json()
    assert out["status"] == "accepted" and out["accepted_by"]["full_name"] == "Sam Approver"
    assert out["acceptance_expires_on"] == expires.isoformat() and out["review_due"] is False
    event = events(db, "risk", "accept")[-1]
    assert event.actor_label.startswith(f"{approver.email} (token") and '"note":[null,"Reviewed at RMC."]' in event.diff
    assert '"status":["open","accepted"]' in event.diff

    db.execute(update(Risk).where(Risk.key == key).values(acceptance_expires_on=service.today()))
    db.commit()
    due = client.get(f"{API}/risks/{key}", headers=owner_h).json()
    assert due["review_due"] is True and due["overdue"] is True and due["status"] == "accepted"
    overdue = client.get(f"{API}/risks", headers=owner_h, params={"overdue": "true"}).json()
    assert [r["key"] for r in overdue["items"]] == [key]
    renewed = client.post(f"{API}/risks/{key}/accept", headers=approver_h,
                          json={"expires_on": (service.today() + timedelta(days=30)).isoformat()})
    assert renewed.json()["review_due"] is False

    untouched = client.patch(f"{API}/risks/{key}", headers=owner_h, json={"title": "Renamed"})
    assert untouched.json()["status"] == "accepted"
    voided = client.patch(f"{API}/risks/{key}", headers=owner_h, json={"inherent_impact": 5})
    assert voided.json()["status"] == "open" and voided.json()["accepted_by"] is None
    assert '"acceptance":["approved","voided by the change"]' in events(db, "risk", "update")[-1].diff
    changed = client.patch(f"{API}/risks/{key}", headers=owner_h, json={"treatment": "mitigate"})
    assert changed.status_code == 200 and changed.json()["acceptance_expires_on"] is None


def test_the_system_names_an_approver_who_holds_risk_accept(db: Session) -> None:
    unit = make_unit(db)
    system = make_system(db, unit=unit)
    owner = make_user(db, roles=[], full_name="Owner")
    clerk = make_user(db, roles=[("practitioner", None)])
    approver = make_user(db, roles=[("executive_sponsor", None)])
    expires = service.today() + timedelta(days=90)
    risk = service.create_risk(db, None, schemas.RiskCreate(**risk_body(
        "ai_system", system.id, owner_id=owner.id, treatment="accept", acceptance_expires_on=expires)))
    with pytest.raises(Exception) as refused:
        service.accept_risk(db, None, risk.key, schemas.AcceptIn(), approver_id=clerk.id)
    assert refused.value.errors[0].message == f"{clerk.full_name} does not hold risk:accept for this risk's unit."
    accepted = service.accept_risk(db, None, risk.key, schemas.AcceptIn(), approver_id=approver.id)
    assert accepted.status == "accepted" and accepted.accepted_by_id == approver.id


# --- controls --------------------------------------------------------------------------------------------------------

def test_link_and_unlink_controls(client: TestClient, db: Session) -> None:
    system = make_system(db, unit=make_unit(db))
    bias = make_control(db, code="CTL-BIAS-01", name="Bias testing before release")
    hitl = make_control(db, code="CTL-HITL-01", name="Human review of adverse decisions")
    headers = headers_for(db)
    key = post_risk(client, headers, "ai_system", system.id, control_ids=[hitl.id])["key"]
    response = client.put(f"{API}/risks/{key}/controls", headers=headers, json={"control_ids": [hitl.id, bias.id]})
    assert response.status_code == 200
    assert [c["code"] for c in response.json()["controls"]] == ["CTL-BIAS-01", "CTL-HITL-01"]
    bad = client.put(f"{API}/risks/{key}/controls", headers=headers, json={"control_ids": [bias.id, 4242]})
    assert bad.status_code == 422 and errors_of(bad) == {"control_ids": "No control 4242."}
    assert len(client.get(f"{API}/risks/{key}", headers=headers).json()["controls"]) == 2
    client.put(f"{API}/risks/{key}/controls", headers=headers, json={"control_ids": []})
    diffs = [e.diff for e in events(db, "risk", "set_controls")]
    assert diffs[0].startswith(f'{{"control_ids":[[{hitl.id}],[{min(bias.id, hitl.id)},{max(bias.id, hitl.id)}]]')
    assert f'"control_ids":[[{min(bias.id, hitl.id)},{max(bias.id, hitl.id)}],[]]' in diffs[1]


# --- the heat map and filters, on both databases ---------------------------------------------------------------------

class TestRegisterQueries:
    @pytest.fixture
    def settings(self, any_db_url: str, tmp_path: Path) -> Settings:
        return make_settings(any_db_url, tmp_path)

    @pytest.fixture
    def seeded(self, client: TestClient, db: Session) -> dict[str, Any]:
        retail, wealth = make_unit(db, name="Retail"), make_unit(db, name="Wealth")
        a, b = make_system(db, unit=retail, name="A"), make_system(db, unit=wealth, name="B")
        owner = make_user(db, roles=[])
        headers = headers_for(db)
        past = (service.today() - timedelta(days=1)).isoformat()
        specs = [  # (system, category, inherent L, I, residual L, I, status, due)
            (a, "privacy", 5, 5, 3, 4, "treating", past),
            (a, "privacy", 5, 5, None, None, "open", None),
            (a, "security", 2, 3, 1, 1, "open", None),
            (b, "bias_fairness", 4, 4, 3, 4, "treating", None),
            (b, "safety", 1, 2, None, None, "closed", past),
        ]
        keys = []
        for system, category, il, ii, rl, ri, status, due in specs:
            fields = dict(category=category, inherent_likelihood=il, inherent_impact=ii, status=status, due_date=due,
                          owner_id=owner.id, residual_likelihood=rl, residual_impact=ri)
            keys.append(post_risk(client, headers, "ai_system", system.id, **fields)["key"])
        return {"headers": headers, "keys": keys, "retail": retail, "wealth": wealth, "a": a, "owner": owner}

    def test_heatmap_counts_live_risks_per_cell(self, client: TestClient, seeded: dict[str, Any]) -> None:
        headers = seeded["headers"]
        inherent = client.get(f"{API}/risks/heatmap", headers=headers).json()
        assert inherent["total"] == 4 and len(inherent["cells"]) == 25
        counts = {(c["likelihood"], c["impact"]): c["count"] for c in inherent["cells"] if c["count"]}
        assert counts == {(5, 5): 2, (2, 3): 1, (4, 4): 1}
        assert next(c for c in inherent["cells"] if (c["likelihood"], c["impact"]) == (5, 5)) == {
            "likelihood": 5, "impact": 5, "score": 25, "level": "critical", "count": 2}
        residual = client.get(f"{API}/risks/heatmap", headers=headers, params={"basis": "residual"}).json()
        counts = {(c["likelihood"], c["impact"]): c["count"] for c in residual["cells"] if c["count"]}
        assert counts == {(3, 4): 2, (5, 5): 1, (1, 1): 1}
        privacy = client.get(f"{API}/risks/heatmap", headers=headers, params={"category": "privacy"}).json()
        assert privacy["total"] == 2
        unit = client.get(f"{API}/risks/heatmap", headers=headers,
                          params={"business_unit_id": seeded["wealth"].id}).json()
        assert unit["total"] == 1
        bad = client.get(f"{API}/risks/heatmap", headers=headers, params={"basis": "gross"})
        assert bad.status_code == 422 and "basis" in errors_of(bad)

    def test_register_filters_and_sorting(self, client: TestClient, seeded: dict[str, Any]) -> None:
        headers, keys = seeded["headers"], seeded["keys"]

        def listed(**params: Any) -> list[str]:
            response = client.get(f"{API}/risks", headers=headers, params=params)
            assert response.status_code == 200, response.text
            return [r["key"] for r in response.json()["items"]]

        # current score: residual where assessed -> 12, 25, 1, 12, 2
        assert listed() == [keys[1], keys[0], keys[3], keys[4], keys[2]]
        assert listed(sort="key") == keys
        assert listed(level="critical") == [keys[1]]
        assert listed(level="high") == [keys[0], keys[3]]
        assert listed(level="low") == [keys[4], keys[2]]
        assert listed(status="active") == [keys[1], keys[0], keys[3], keys[2]]
        assert listed(status="closed") == [keys[4]]
        assert listed(overdue="true") == [keys[0]]  # the closed one past its date is not overdue
        assert listed(category="privacy", sort="key") == keys[:2]
        assert listed(basis="inherent", likelihood=5, impact=5, sort="key") == keys[:2]
        assert listed(basis="residual", likelihood=3, impact=4, sort="key") == [keys[0], keys[3]]
        assert listed(subject_type="ai_system", subject_id=seeded["a"].id, sort="key") == keys[:3]
        assert listed(owner_id=seeded["owner"].id, business_unit_id=seeded["retail"].id, sort="key") == keys[:3]
        assert listed(q="UNFAIR", sort="key") == keys
        refused = client.get(f"{API}/risks", headers=headers, params={"status": "pending"})
        assert refused.status_code == 422 and errors_of(refused)["status"].startswith("Unknown value 'pending'")
        assert client.get(f"{API}/risks", headers=headers, params={"sort": "colour"}).status_code == 422


# --- pages -----------------------------------------------------------------------------------------------------------

@pytest.fixture
def browser(client: TestClient, db: Session, settings: Settings) -> TestClient:
    user = make_user(db, email="rita@example.com", full_name="Rita Risk", password=PASSWORD, settings=settings,
                     roles=[("risk_compliance", None)])
    login(client, user.email)
    return client


def test_register_page_draws_the_heat_map_and_its_table(browser: TestClient, db: Session) -> None:
    unit = make_unit(db)
    system = make_system(db, unit=unit, name="Claims Triage")
    for likelihood in (4, 4, 2):
        service.create_risk(db, None, schemas.RiskCreate(**risk_body(
            "ai_system", system.id, inherent_likelihood=likelihood, inherent_impact=5, title=f"Risk <{likelihood}>")))
    db.commit()
    page = browser.get("/risks")
    assert page.status_code == 200
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="chart heatmap" role="img"' in page.text
    assert "Heat map: 3 live risks" in page.text
    assert ('aria-label="Likelihood Likely × impact Severe: score 20, critical, 2 risks"' in page.text)
    assert 'href="/risks?status=active&amp;basis=inherent&amp;likelihood=4&amp;impact=5"' in page.text
    assert "Risk &lt;4&gt;" in page.text and "Risk <4>" not in page.text
    assert "The heat map as a table" in page.text and "<th scope=\"row\">Almost certain</th>" in page.text
    cell = browser.get("/risks", params={"status": "active", "basis": "inherent", "likelihood": "4", "impact": "5"})
    assert "Showing the inherent cell Likely × Severe" in cell.text
    assert cell.text.count('<a href="/risks/RSK-') == 2
    residual = browser.get("/risks", params={"basis": "residual"})
    assert "Residual risk heat map" in residual.text


def link_evidence(db: Session, unit: BusinessUnit, risk_id: int, title: str) -> None:
    from aicoe.models.compliance import Evidence, EvidenceLink

    db.commit()
    item = Evidence(title=title, kind="link", url="https://example.org/report", business_unit_id=unit.id,
                    sha256="a" * 64, effective_date=service.today())
    db.add(item)
    db.flush()
    db.add(EvidenceLink(evidence_id=item.id, target_type="risk", target_id=risk_id))
    db.commit()


def test_risk_pages_record_edit_accept_and_refuse(browser: TestClient, db: Session, settings: Settings) -> None:
    unit = make_unit(db, name="Insurance")
    system = make_system(db, unit=unit, name="Claims Summariser")
    control = make_control(db, code="CTL-RT-01", name="Prompt-injection red teaming")
    form = browser.get(f"/risks/new?subject=ai_system:{system.id}")
    assert form.status_code == 200 and f'value="ai_system:{system.id}" selected' in form.text
    token = csrf_from(form.text)
    bad = browser.post("/risks", data={"csrf_token": token, "title": "Prompt injection", "category": "security",
                                       "subject": "", "inherent_likelihood": "2", "inherent_impact": "2",
                                       "residual_likelihood": "3", "residual_impact": "3"})
    assert bad.status_code == 422 and 'id="e-subject"' in bad.text and count(db, Risk) == 0
    worse = browser.post("/risks", data={"csrf_token": token, "title": "Prompt injection", "category": "security",
                                         "subject": f"ai_system:{system.id}", "inherent_likelihood": "2",
                                         "inherent_impact": "2", "residual_likelihood": "3", "residual_impact": "3"})
    assert worse.status_code == 422 and 'id="e-residual_likelihood"' in worse.text
    assert 'value="Prompt injection"' in worse.text and count(db, Risk) == 0
    expires = (service.today() + timedelta(days=60)).isoformat()
    created = browser.post("/risks", data={
        "csrf_token": token, "title": "Prompt injection", "category": "security", "subject": f"ai_system:{system.id}",
        "inherent_likelihood": "4", "inherent_impact": "4", "treatment": "accept", "acceptance_expires_on": expires,
        "status": "open"}, follow_redirects=False)
    assert created.status_code == 303 and created.headers["location"] == "/risks/RSK-0001"
    detail = browser.get("/risks/RSK-0001")
    assert detail.status_code == 200 and "Claims Summariser" in detail.text and "Awaiting approval" in detail.text
    assert "Approve the acceptance" in detail.text  # Rita holds risk:accept and owns nothing here
    r = browser.post("/risks/RSK-0001/controls", data={"csrf_token": token, "control_ids": [str(control.id)]},
                     follow_redirects=False)
    assert r.status_code == 303
    accepted = browser.post("/risks/RSK-0001/accept", data={"csrf_token": token, "expires_on": expires,
                                                            "note": "ok"}, follow_redirects=False)
    assert accepted.status_code == 303
    detail = browser.get("/risks/RSK-0001")
    assert "Approved by Rita Risk" in detail.text and "CTL-RT-01" in detail.text
    assert "No evidence is linked to this risk" in detail.text
    db.rollback()
    link_evidence(db, unit, db.scalar(select(Risk.id)), "Red-team report, May")
    assert '>Red-team report, May</a>' in browser.get("/risks/RSK-0001").text
    edit = browser.get("/risks/RSK-0001/edit")
    assert edit.status_code == 200 and "Accepted (keep)" in edit.text and f'value="{expires}"' in edit.text
    saved = browser.post("/risks/RSK-0001", data={
        "csrf_token": token, "title": "Prompt injection via retrieved documents", "category": "security",
        "subject": f"ai_system:{system.id}", "inherent_likelihood": "4", "inherent_impact": "4",
        "treatment": "accept", "acceptance_expires_on": expires, "status": ""}, follow_redirects=False)
    assert saved.status_code == 303
    db.rollback()
    risk = db.scalar(select(Risk))
    assert risk.title == "Prompt injection via retrieved documents" and risk.status == "accepted"
    panel = browser.get(f"/ai-systems/{system.id}")
    assert panel.status_code == 200 and "RSK-0001" in panel.text and "Record a risk" in panel.text
    deleted = browser.post("/risks/RSK-0001/delete", data={"csrf_token": token}, follow_redirects=False)
    assert deleted.status_code == 303 and count(db, Risk) == 0


def test_owner_sees_they_cannot_approve_and_matrix_page_refuses_bad_bands(browser: TestClient, db: Session) -> None:
    rita = db.scalar(select(User).where(User.email == "rita@example.com"))
    system = make_system(db, unit=make_unit(db))
    service.create_risk(db, None, schemas.RiskCreate(**risk_body(
        "ai_system", system.id, owner_id=rita.id, treatment="accept",
        acceptance_expires_on=service.today() + timedelta(days=10))))
    db.commit()
    detail = browser.get("/risks/RSK-0001")
    assert "As the owner of this risk you cannot approve" in detail.text and "Approve acceptance" not in detail.text
    page = browser.get("/risks/matrix")
    assert page.status_code == 200 and "Almost certain" in page.text and "Save matrix" in page.text
    token = csrf_from(page.text)
    bad = browser.post("/risks/matrix", data={
        "csrf_token": token, "likelihood_labels": "Low\nHigh", "impact_labels": "Low\nHigh",
        "low_min": "1", "low_max": "2", "high_min": "4", "high_max": "4"})
    assert bad.status_code == 422 and 'id="e-bands"' in bad.text and "a gap between them" in bad.text
    assert 'Low\nHigh</textarea>' in bad.text
    ok = browser.post("/risks/matrix", data={
        "csrf_token": token, "likelihood_labels": "Rare\nUnlikely\nPossible\nLikely\nAlmost certain",
        "impact_labels": "Negligible\nMinor\nModerate\nMajor\nSevere", "low_min": "1", "low_max": "6",
        "medium_min": "7", "medium_max": "12", "high_min": "13", "high_max": "25"}, follow_redirects=False)
    assert ok.status_code == 303
    db.rollback()
    assert matrices.get_matrix(db).bands[-1] == {"level": "high", "min": 13, "max": 25}


def test_pages_hide_other_units_risks_and_panel_needs_risk_read(client: TestClient, db: Session,
                                                                 settings: Settings) -> None:
    mine, other = make_unit(db), make_unit(db)
    theirs = make_system(db, unit=other)
    service.create_risk(db, None, schemas.RiskCreate(**risk_body("ai_system", theirs.id)))
    db.commit()
    user = make_user(db, email="scoped@example.com", password=PASSWORD, settings=settings,
                     roles=[("practitioner", mine), ("viewer", other)])
    login(client, user.email)
    assert client.get("/risks/RSK-0001").status_code == 404
    assert "RSK-0001" not in client.get("/risks").text
    viewer = make_user(db, email="viewer@example.com", password=PASSWORD, settings=settings, roles=[("viewer", None)])
    client.cookies.clear()
    login(client, viewer.email)
    page = client.get(f"/ai-systems/{theirs.id}")
    assert page.status_code == 200 and "RSK-0001" not in page.text
    assert client.get("/risks").status_code == 403


# --- CLI -------------------------------------------------------------------------------------------------------------

runner = CliRunner()



def test_cli_lists_shows_and_prints_the_heat_map(cli_db: Session) -> None:
    unit = make_unit(cli_db, code="RET", name="Retail")
    other = make_unit(cli_db, code="INS", name="Insurance")
    system = make_system(cli_db, unit=unit, name="Fraud Sentinel")
    claims = make_system(cli_db, unit=other, name="Claims Triage")
    service.create_risk(cli_db, None, schemas.RiskCreate(**risk_body(
        "ai_system", system.id, title="Drift after a merchant mix change", category="robustness",
        inherent_likelihood=4, inherent_impact=4, residual_likelihood=2, residual_impact=4)))
    service.create_risk(cli_db, None, schemas.RiskCreate(**risk_body("ai_system", claims.id, category="privacy",
                                                                      inherent_likelihood=5, inherent_impact=5)))
    cli_db.commit()
    r = runner.invoke(cli_app, ["risk", "list"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert r.output.index("RSK-0002") < r.output.index("RSK-0001") and "2 of 2 risks" in r.output
    r = runner.invoke(cli_app, ["risk", "list", "--unit", "ret", "--level", "medium"], catch_exceptions=False)
    assert "RSK-0001" in r.output and "RSK-0002" not in r.output and "1 of 1 risks" in r.output
    r = runner.invoke(cli_app, ["risk", "list", "--unit", "NOPE"], catch_exceptions=False)
    assert r.exit_code == 1 and "No business unit 'NOPE'" in r.output
    r = runner.invoke(cli_app, ["risk", "show", "rsk-0001"], catch_exceptions=False)
    assert r.exit_code == 0 and "Drift after a merchant mix change" in r.output
    assert "16 High (4×4)" in r.output and "8 Medium (2×4)" in r.output and "AI system: Fraud Sentinel" in r.output
    r = runner.invoke(cli_app, ["risk", "show", "RSK-0404"], catch_exceptions=False)
    assert r.exit_code == 1 and "no risk RSK-0404" in r.output
    r = runner.invoke(cli_app, ["risk", "heatmap", "--basis", "residual"], catch_exceptions=False)
    assert r.exit_code == 0 and "Residual risk heat map" in r.output and "2 live risks" in r.output
    rows = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:-1]]
            for line in r.output.splitlines() if line.count("│") == 7}
    assert rows["Unlikely"] == ["0", "0", "0", "1", "0"] and rows["Almost certain"] == ["0", "0", "0", "0", "1"]
    r = runner.invoke(cli_app, ["risk", "heatmap", "--unit", "INS"], catch_exceptions=False)
    assert "1 live risks" in r.output


def test_matrix_service_rejects_bad_layout_without_writing(db: Session) -> None:
    matrices.get_matrix(db)
    db.commit()
    with pytest.raises(Exception) as refused:
        matrices.update_matrix(db, None, schemas.MatrixIn(**default_matrix_body(likelihood_labels=["x"])))
    assert refused.value.status == 422
    db.rollback()
    assert matrices.get_matrix(db).likelihood_labels == matrices.DEFAULT_LIKELIHOOD
    assert db.scalar(select(func.count()).select_from(BusinessUnit)) == 0


# --- demo data -------------------------------------------------------------------------------------------------------

def test_demo_risks_cover_the_register_and_seed_once(db: Session, settings: Settings) -> None:
    from aicoe.demo import DemoResult
    from aicoe.demo.governance_risks import RISKS, seed_risks
    from aicoe.demo.inventory import seed_inventory
    from aicoe.demo.org import seed_org
    from aicoe.demo.portfolio import seed_portfolio

    result = DemoResult()
    for seeder in (seed_org, seed_portfolio, seed_inventory):
        seeder(db, settings, result)
    db.commit()
    make_control(db, code="CTL-BIAS-01", name="Bias testing before release")
    seed_risks(db, settings, result)
    db.commit()
    assert result.created["risks"] == len(RISKS) == 28
    risks = service.views(db, db.scalars(select(Risk).order_by(Risk.key)))
    assert {r.subject_type for r in risks} == {"ai_system", "use_case", "dataset", "model", "vendor"}
    assert {r.category for r in risks} == set(CATEGORIES)
    assert {r.inherent.level for r in risks} == {"medium", "high", "critical"}
    assert {r.treatment for r in risks} == {None, "mitigate", "accept", "transfer", "avoid"}
    accepted = [r for r in risks if r.status == "accepted"]
    assert len(accepted) == 2 and all(r.accepted_by_id not in (None, r.owner_id) for r in accepted)
    assert any(r.overdue for r in risks)
    bias = next(r for r in risks if r.title.startswith("False declines"))
    assert [c.code for c in bias.controls] == ["CTL-BIAS-01"]  # the controls that exist; others skipped
    again = DemoResult()
    seed_risks(db, settings, again)
    assert again.created == {} and count(db, Risk) == 28
