"""The governance stage-gate checks registered by aicoe.reviews.gate_checks: where they are registered, what
each passes and refuses (with the exact message), which may be overridden, and the completion threshold from the
settings. Every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from aicoe.config import Settings
from aicoe.core.db import make_engine, make_sessionmaker
from aicoe.models.compliance import Assessment, Classification
from aicoe.models.inventory import AISystem
from aicoe.models.org import BusinessUnit
from aicoe.models.portfolio import UseCase
from aicoe.models.reviews import ReviewRequest
from aicoe.portfolio import lifecycle
from aicoe.portfolio.gates import registry
from aicoe.reviews import gate_checks
from tests.factories import _writing, bearer, make_settings, make_token, make_unit, make_user
from tests.governance_factories import make_framework
from tests.inventory_factories import make_system
from tests.portfolio_factories import make_use_case
from tests.test_lifecycle import add_criterion, fresh

API = "/api/v1"
GOVERNANCE = ["governance.not_prohibited", "governance.classification", "governance.high_risk_assessment",
              "governance.ethics_approval"]


@pytest.fixture
def settings(any_db_url: str, tmp_path: Path) -> Settings:
    return make_settings(any_db_url, tmp_path)


# --- arranging -----------------------------------------------------------------------------------------------------

def classify(db: Session, system: AISystem, tier: str, *, current: bool = True) -> Classification:
    """A classification row, and the tier on the system as the classifier sets it."""
    _writing(db)
    version = len(list(db.scalars(select(Classification).where(Classification.ai_system_id == system.id)))) + 1
    row = Classification(ai_system_id=system.id, version=version, is_current=current, questionnaire_version="test",
                         answers={}, tier=tier, obligations=[], rationale=[])
    db.add(row)
    if current:
        db.get_one(AISystem, system.id).risk_tier = tier
    db.commit()
    return row


def assess(db: Session, system: AISystem, completion: float, *, status: str = "open") -> Assessment:
    framework = make_framework(db)
    _writing(db)
    row = Assessment(ai_system_id=system.id, framework_id=framework.id, title=f"{framework.name} assessment",
                     status=status, completion=completion)
    db.add(row)
    db.commit()
    return row


def review(db: Session, subject: AISystem | UseCase, status: str, *, board: str = "ethics_board") -> ReviewRequest:
    """A review row in the given state (the decision rule is tested in test_reviews.py)."""
    _writing(db)
    number = len(list(db.scalars(select(ReviewRequest.id)))) + 1
    row = ReviewRequest(key=f"REV-{number:04d}", board=board,
                        subject_type="ai_system" if isinstance(subject, AISystem) else "use_case",
                        subject_id=subject.id, business_unit_id=subject.business_unit_id, title="Review",
                        status=status, decided_at=None if status == "open" else datetime(2026, 1, 5, tzinfo=UTC))
    db.add(row)
    db.commit()
    return row


def ready_use_case(db: Session, unit: BusinessUnit, stage: str = "proof_of_concept") -> UseCase:
    """A use case every portfolio check into pilot passes for (owner, delivery decision, a met criterion)."""
    owner = make_user(db, roles=[])
    use_case = make_use_case(db, unit=unit, stage=stage, title="Loan decisions", owner=owner, sponsor=owner,
                             problem_statement="Slow decisions.", opportunity_statement="Decide in minutes.",
                             delivery_mode="build", delivery_rationale="Core capability.", scorer_count=1)
    add_criterion(db, use_case, threshold=0.8, result=0.9)
    return use_case


def outcome(db: Session, use_case: UseCase, to_stage: str = "pilot") -> dict[str, tuple[bool, str, bool]]:
    """The governance checks' (ok, message, overridable) for a move, as the lifecycle service runs them."""
    fresh(db)
    gate = lifecycle.gate(db, db.get_one(UseCase, use_case.id), to_stage)
    return {c.check: (c.ok, c.message, c.overridable) for c in gate.checks if c.check.startswith("governance.")}


def steering_headers(db: Session) -> dict[str, str]:
    return bearer(make_token(db, make_user(db, roles=[("steering_committee", None)])))


# --- registration --------------------------------------------------------------------------------------------------

def test_where_each_check_is_registered_and_whether_it_may_be_overridden() -> None:
    mine = [c for c in registry.all_checks() if c.module == gate_checks.__name__]
    registered = {(c.to_stage, c.name): c.overridable for c in mine}
    assert registered == {
        ("qualified", "governance.not_prohibited"): False, ("prioritised", "governance.not_prohibited"): False,
        ("proof_of_concept", "governance.not_prohibited"): False, ("pilot", "governance.not_prohibited"): False,
        ("production", "governance.not_prohibited"): False,
        ("pilot", "governance.classification"): True, ("production", "governance.classification"): True,
        ("pilot", "governance.high_risk_assessment"): False, ("production", "governance.high_risk_assessment"): False,
        ("pilot", "governance.ethics_approval"): False, ("production", "governance.ethics_approval"): False,
    }
    assert [c.name for c in registry.checks("pilot") if c.name.startswith("governance.")] == GOVERNANCE
    assert "governance.not_prohibited" not in [c.name for c in registry.checks("retired")]


def test_a_use_case_without_ai_systems_passes_every_governance_check(db: Session) -> None:
    use_case = ready_use_case(db, make_unit(db))
    assert outcome(db, use_case) == {name: (True, "", name == "governance.classification") for name in GOVERNANCE}


# --- prohibited ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("stage", "to_stage"), [("idea", "qualified"), ("qualified", "prioritised"),
                                                 ("prioritised", "proof_of_concept"),
                                                 ("proof_of_concept", "pilot"), ("pilot", "production")])
def test_a_prohibited_system_stops_its_use_case_at_every_gate(db: Session, stage: str, to_stage: str) -> None:
    unit = make_unit(db)
    use_case = ready_use_case(db, unit, stage)
    system = make_system(db, unit=unit, name="Social Scorer", use_case=use_case)
    classify(db, system, "prohibited")
    message = ("AI system Social Scorer is classified as a prohibited practice under Article 5 of the EU AI Act; "
               "it cannot advance.")
    assert outcome(db, use_case, to_stage)["governance.not_prohibited"] == (False, message, False)


def test_the_prohibited_check_names_every_prohibited_system_and_cannot_be_overridden(
        client: TestClient, db: Session) -> None:
    unit = make_unit(db)
    use_case = ready_use_case(db, unit)
    for name in ("Emotion Reader", "Biometric Sorter"):
        classify(db, make_system(db, unit=unit, name=name, use_case=use_case), "prohibited")
    make_system(db, unit=unit, name="Plain Helper", use_case=use_case, risk_tier="minimal")
    r = client.post(f"{API}/use-cases/{use_case.key}/transitions", headers=steering_headers(db),
                    json={"to_stage": "pilot", "reason": "Pilot", "override_reason": "We accept the risk"})
    assert r.status_code == 422, r.text
    errors = {e["field"]: e["message"] for e in r.json()["errors"]}
    assert errors["governance.not_prohibited"] == (
        "AI system Biometric Sorter is classified as a prohibited practice under Article 5 of the EU AI Act; it "
        "cannot advance. AI system Emotion Reader is classified as a prohibited practice under Article 5 of the EU "
        "AI Act; it cannot advance.")
    assert r.json()["overridable"] is False
    fresh(db)
    assert db.get_one(UseCase, use_case.id).stage == "proof_of_concept"


# --- classification ------------------------------------------------------------------------------------------------

def test_every_system_needs_a_current_classification(db: Session) -> None:
    unit = make_unit(db)
    use_case = ready_use_case(db, unit)
    first = make_system(db, unit=unit, name="Alpha", use_case=use_case)
    assert outcome(db, use_case)["governance.classification"] == (
        False, "AI system Alpha has no EU AI Act classification; classify it.", True)
    second = make_system(db, unit=unit, name="Beta", use_case=use_case)
    classify(db, second, "minimal", current=False)  # superseded versions do not count
    assert outcome(db, use_case)["governance.classification"] == (
        False, "AI systems Alpha, Beta have no EU AI Act classification; classify them.", True)
    classify(db, first, "minimal")
    classify(db, second, "limited")
    assert outcome(db, use_case)["governance.classification"] == (True, "", True)
    make_system(db, unit=unit, name="Gamma")  # another use case's system (none here) does not count
    assert outcome(db, use_case)["governance.classification"] == (True, "", True)


def test_the_steering_committee_may_override_a_missing_classification_with_a_reason(
        client: TestClient, db: Session) -> None:
    unit = make_unit(db)
    use_case = ready_use_case(db, unit)
    make_system(db, unit=unit, name="Alpha", use_case=use_case)
    steering = steering_headers(db)
    body = {"to_stage": "pilot", "reason": "Pilot with ten users"}
    r = client.post(f"{API}/use-cases/{use_case.key}/transitions", headers=steering, json=body)
    assert r.status_code == 422 and r.json()["overridable"] is True
    r = client.post(f"{API}/use-cases/{use_case.key}/transitions", headers=steering,
                    json={**body, "override_reason": "Classification booked for next week; internal users only"})
    assert r.status_code == 201, r.text
    fresh(db)
    assert db.get_one(UseCase, use_case.id).stage == "pilot"


# --- high-risk assessment --------------------------------------------------------------------------------------

def test_a_high_risk_system_needs_an_assessment_complete_enough(db: Session) -> None:
    unit = make_unit(db)
    use_case = ready_use_case(db, unit)
    system = make_system(db, unit=unit, name="Credit Engine", use_case=use_case)
    classify(db, system, "high")
    assert outcome(db, use_case)["governance.high_risk_assessment"] == (
        False, "High-risk AI system Credit Engine has no assessment; one at least 80% complete is required.", False)
    assess(db, system, 0.95, status="archived")  # an archived assessment does not count
    assess(db, system, 0.5)
    assess(db, system, 0.655, status="completed")
    assert outcome(db, use_case)["governance.high_risk_assessment"] == (
        False, "High-risk AI system Credit Engine: its most complete assessment is 65.5% complete; at least 80% is "
               "required.", False)
    assess(db, system, 0.8)
    assert outcome(db, use_case)["governance.high_risk_assessment"] == (True, "", False)


def test_systems_that_are_not_high_risk_need_no_assessment(db: Session) -> None:
    unit = make_unit(db)
    use_case = ready_use_case(db, unit)
    for name, tier in (("Chat Helper", "limited"), ("Forecaster", "minimal")):
        classify(db, make_system(db, unit=unit, name=name, use_case=use_case), tier)
    checks = outcome(db, use_case)
    assert checks["governance.high_risk_assessment"] == (True, "", False)
    assert checks["governance.ethics_approval"] == (True, "", False)


def test_the_completion_threshold_comes_from_the_settings(any_db_url: str, tmp_path: Path) -> None:
    from aicoe.app import create_app

    strict = create_app(make_settings(any_db_url, tmp_path, gate_min_assessment_completion=0.9))
    db = strict.state.sessionmaker()
    try:
        unit = make_unit(db)
        use_case = ready_use_case(db, unit)
        system = make_system(db, unit=unit, name="Credit Engine", use_case=use_case)
        classify(db, system, "high")
        assess(db, system, 0.85)
        assert outcome(db, use_case)["governance.high_risk_assessment"] == (
            False, "High-risk AI system Credit Engine: its most complete assessment is 85% complete; at least 90% "
                   "is required.", False)
        assess(db, system, 0.9)
        assert outcome(db, use_case)["governance.high_risk_assessment"][0] is True
    finally:
        db.close()
    # a session made without settings (a script, a test) falls back to the setting's default, 80%
    engine = make_engine(any_db_url)
    bare = make_sessionmaker(engine)()
    try:
        assert "settings" not in bare.info
        assert gate_checks.min_completion(bare) == 0.8
        assert gate_checks.high_risk_assessment(bare, bare.get_one(UseCase, use_case.id)) is None  # 90% >= 80%
    finally:
        bare.close()
        engine.dispose()


# --- ethics approval -------------------------------------------------------------------------------------------

def test_a_high_risk_system_needs_an_ethics_board_approval(db: Session) -> None:
    unit = make_unit(db)
    use_case = ready_use_case(db, unit)
    system = make_system(db, unit=unit, name="Credit Engine", use_case=use_case)
    classify(db, system, "high")
    missing = ("High-risk AI system Credit Engine has no ethics-board approval: request an ethics-board review of it "
               f"or of use case {use_case.key}.")
    assert outcome(db, use_case)["governance.ethics_approval"] == (False, missing, False)
    review(db, system, "approved", board="steering_committee")  # another board's approval does not count
    review(db, system, "withdrawn")
    assert outcome(db, use_case)["governance.ethics_approval"] == (False, missing, False)
    rejected = review(db, system, "rejected")
    assert outcome(db, use_case)["governance.ethics_approval"] == (
        False, f"High-risk AI system Credit Engine has no ethics-board approval: {rejected.key} was rejected.", False)
    pending = review(db, use_case, "open")
    assert outcome(db, use_case)["governance.ethics_approval"] == (
        False, f"High-risk AI system Credit Engine has no ethics-board approval: {pending.key} is awaiting the "
               "board's decision.", False)
    review(db, system, "approved_with_conditions")
    assert outcome(db, use_case)["governance.ethics_approval"] == (True, "", False)


def test_an_approval_of_the_use_case_covers_all_its_high_risk_systems(db: Session) -> None:
    unit = make_unit(db)
    use_case = ready_use_case(db, unit)
    first = make_system(db, unit=unit, name="Alpha", use_case=use_case)
    second = make_system(db, unit=unit, name="Beta", use_case=use_case)
    classify(db, first, "high")
    classify(db, second, "high")
    review(db, first, "approved")
    assert outcome(db, use_case)["governance.ethics_approval"] == (
        False, "High-risk AI system Beta has no ethics-board approval: request an ethics-board review of it or of "
               f"use case {use_case.key}.", False)
    other = ready_use_case(db, unit)
    review(db, other, "approved")  # another use case's approval does not count
    assert outcome(db, use_case)["governance.ethics_approval"][0] is False
    review(db, use_case, "approved")
    assert outcome(db, use_case)["governance.ethics_approval"] == (True, "", False)


def test_a_complete_high_risk_use_case_moves_to_pilot_and_production(client: TestClient, db: Session) -> None:
    unit = make_unit(db)
    use_case = ready_use_case(db, unit)
    system = make_system(db, unit=unit, name="Credit Engine", use_case=use_case)
    classify(db, system, "high")
    assess(db, system, 0.85)
    mover = bearer(make_token(db, make_user(db, roles=[("project_manager", None)])))
    url = f"{API}/use-cases/{use_case.key}/transitions"
    r = client.post(url, headers=mover, json={"to_stage": "pilot", "reason": "Pilot"})
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["governance.ethics_approval"]
    # not overridable, even by the steering committee
    r = client.post(url, headers=steering_headers(db), json={"to_stage": "pilot", "reason": "Pilot",
                                                               "override_reason": "Urgent"})
    assert r.status_code == 422 and r.json()["overridable"] is False
    review(db, system, "approved")
    r = client.post(url, headers=mover, json={"to_stage": "pilot", "reason": "Pilot"})
    assert r.status_code == 201, r.text
    checks = {c["check"]: c["ok"] for c in r.json()["checks"]}
    assert all(checks[name] for name in GOVERNANCE)
    r = client.post(url, headers=mover, json={"to_stage": "production", "reason": "Go live"})
    assert r.status_code == 201, r.text


def test_the_dry_run_shows_the_governance_checks(client: TestClient, db: Session) -> None:
    unit = make_unit(db)
    use_case = ready_use_case(db, unit)
    system = make_system(db, unit=unit, name="Credit Engine", use_case=use_case)
    classify(db, system, "high")
    reader = bearer(make_token(db, make_user(db, roles=[("viewer", None)])))
    r = client.get(f"{API}/use-cases/{use_case.key}/gate", headers=reader, params={"to": "pilot"})
    assert r.status_code == 200, r.text
    by_name = {c["check"]: c for c in r.json()["checks"]}
    assert [by_name[n]["ok"] for n in GOVERNANCE] == [True, True, False, False]
    assert by_name["governance.ethics_approval"]["label"] == "Ethics-board approval for high-risk AI systems"
    assert r.json()["ok"] is False and r.json()["overridable"] is False

