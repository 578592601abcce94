"""Stage transitions and their gates, the gate registry, stage times, and proof-of-concept success criteria."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from aicoe.app import create_app
from aicoe.config import Settings
from aicoe.core.db import begin_write
from aicoe.models.audit import AuditEvent
from aicoe.models.org import BusinessUnit, User
from aicoe.models.portfolio import StageTransition, SuccessCriterion, UseCase
from aicoe.portfolio import lifecycle
from aicoe.portfolio.constants import ALL_STAGES, STAGES
from aicoe.portfolio.criteria import evaluate
from aicoe.portfolio.gates import GATE_MODULES, GateRegistry, registry
from tests.factories import PASSWORD, bearer, csrf_from, login, make_settings, make_token, make_unit, make_user

_keys = iter(range(1, 10_000))
T0 = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)


# --- arranging -------------------------------------------------------------------------------------------------

def make_use_case(db: Session, unit: BusinessUnit, *, stage: str = "idea", ready: bool = False,
                  **values: Any) -> UseCase:
    """A use case row; ``ready`` fills in everything every built-in gate asks for (criteria added separately)."""
    if ready:
        person = make_user(db, roles=[])
        values = {"problem_statement": "Claims take days.", "opportunity_statement": "Triage in minutes.",
                  "sponsor_id": person.id, "owner_id": person.id, "scorer_count": 2, "delivery_mode": "build",
                  "delivery_rationale": "Core capability.", **values}
    db.commit()
    begin_write(db)
    use_case = UseCase(key=f"UC-{next(_keys):04d}", title="Claims triage", business_unit_id=unit.id,
                       ai_type="predictive_ml", stage=stage, **values)
    db.add(use_case)
    db.commit()
    return use_case


def add_criterion(db: Session, use_case: UseCase, *, comparator: str = ">=", threshold: float = 0.8,
                  result: float | None = None, metric: str = "recall") -> SuccessCriterion:
    db.commit()
    begin_write(db)
    criterion = SuccessCriterion(use_case_id=use_case.id, metric=metric, comparator=comparator,
                                 threshold=threshold, result_value=result)
    db.add(criterion)
    db.commit()
    return criterion


def fresh(db: Session) -> None:
    """End the test session's transaction and forget what it loaded, to read what the requests wrote."""
    db.rollback()
    db.expire_all()


def audit_count(db: Session) -> int:
    fresh(db)
    return db.scalar(select(func.count()).select_from(AuditEvent)) or 0


def transitions_of(db: Session, use_case: UseCase) -> list[StageTransition]:
    fresh(db)
    return list(db.scalars(select(StageTransition).where(StageTransition.use_case_id == use_case.id)
                           .order_by(StageTransition.id)))


def stage_of(db: Session, use_case: UseCase) -> str:
    fresh(db)
    return db.scalar(select(UseCase.stage).where(UseCase.id == use_case.id))


def move(client: TestClient, headers: dict[str, str], use_case: UseCase, to: str, reason: str = "Decided.",
         **extra: Any) -> Any:
    return client.post(f"/api/v1/use-cases/{use_case.key}/transitions", headers=headers,
                       json={"to_stage": to, "reason": reason, **extra})


@pytest.fixture
def unit(db: Session) -> BusinessUnit:
    return make_unit(db, code="CLAIMS", name="Claims")


@pytest.fixture
def admin(db: Session) -> dict[str, str]:
    return bearer(make_token(db, make_user(db)))


def headers_for(db: Session, role: str, unit: BusinessUnit | None = None) -> dict[str, str]:
    return bearer(make_token(db, make_user(db, roles=[(role, unit)])))


@pytest.fixture(autouse=True)
def portfolio_checks_only() -> Iterator[None]:
    """These tests pin the portfolio's own checks, so the checks other areas register (tested in their own
    modules, e.g. tests/test_governance_gates.py) stand aside while they run and are put back afterwards."""
    others = [c for c in registry.all_checks() if c.module != "aicoe.portfolio.gate_checks"]
    for check in others:
        registry.unregister(check.to_stage, check.name)
    yield
    for check in others:
        registry.register(check.to_stage, check.name, overridable=check.overridable, label=check.label)(check.fn)


# --- allowed moves ------------------------------------------------------------------------------------------

EXPECTED_MOVES = {
    "idea": {"qualified": "forward", "rejected": "reject", "on_hold": "hold"},
    "qualified": {"prioritised": "forward", "idea": "back", "rejected": "reject", "on_hold": "hold"},
    "prioritised": {"proof_of_concept": "forward", "qualified": "back", "rejected": "reject", "on_hold": "hold"},
    "proof_of_concept": {"pilot": "forward", "prioritised": "back", "rejected": "reject", "on_hold": "hold"},
    "pilot": {"production": "forward", "proof_of_concept": "back", "rejected": "reject", "on_hold": "hold"},
    "production": {"retired": "forward", "pilot": "back", "rejected": "reject", "on_hold": "hold"},
    "retired": {"production": "back"},
    "rejected": {"idea": "reopen"},
}


@pytest.mark.parametrize("stage", list(EXPECTED_MOVES))
def test_allowed_moves_from_every_stage(stage: str) -> None:
    assert lifecycle.allowed_moves(UseCase(stage=stage)) == EXPECTED_MOVES[stage]


def test_on_hold_resumes_to_the_stage_it_left_or_is_rejected() -> None:
    assert lifecycle.allowed_moves(UseCase(stage="on_hold", stage_before_hold="pilot")) == {
        "pilot": "resume", "rejected": "reject"}
    assert lifecycle.allowed_moves(UseCase(stage="on_hold", stage_before_hold=None)) == {"rejected": "reject"}


def test_every_allowed_move_is_accepted(client: TestClient, db: Session, unit: BusinessUnit, admin: dict) -> None:
    starts = [(stage, None) for stage in EXPECTED_MOVES] + [("on_hold", "pilot")]
    for stage, before_hold in starts:
        targets = EXPECTED_MOVES.get(stage) or {"pilot": "resume", "rejected": "reject"}
        for target in targets:
            use_case = make_use_case(db, unit, stage=stage, stage_before_hold=before_hold, ready=True)
            add_criterion(db, use_case, result=0.9)
            r = move(client, admin, use_case, target)
            assert r.status_code == 201, (stage, target, r.text)
            assert (r.json()["from_stage"], r.json()["to_stage"]) == (stage, target)
            assert stage_of(db, use_case) == target


def test_every_move_not_allowed_is_409_naming_the_allowed_targets(client: TestClient, db: Session,
                                                                   unit: BusinessUnit, admin: dict) -> None:
    for stage, moves in EXPECTED_MOVES.items():
        use_case = make_use_case(db, unit, stage=stage, ready=True)
        for target in ALL_STAGES:
            if target in moves:
                continue
            r = move(client, admin, use_case, target)
            assert r.status_code == 409, (stage, target, r.text)
            body = r.json()
            assert body["allowed"] == list(moves)
            assert body["detail"] == (f"{use_case.key} cannot move from {stage} to {target}; "
                                      f"allowed: {', '.join(moves)}")
        assert transitions_of(db, use_case) == []


def test_the_full_main_path_then_back_hold_resume_reject_reopen(client: TestClient, db: Session,
                                                                 unit: BusinessUnit, admin: dict) -> None:
    use_case = make_use_case(db, unit, ready=True)
    add_criterion(db, use_case, result=0.9)
    for target in STAGES[1:]:
        r = move(client, admin, use_case, target, reason=f"Ready for {target}.")
        assert r.status_code == 201, r.text
        assert r.json()["to_stage"] == target
    fresh(db)
    row = db.get(UseCase, use_case.id)
    assert row.stage == "retired"
    first_production = next(t for t in transitions_of(db, use_case) if t.to_stage == "production")
    assert row.production_at == first_production.decided_at
    for target, before_hold in [("production", None), ("pilot", None), ("on_hold", "pilot"), ("pilot", None),
                                ("rejected", None), ("idea", None), ("on_hold", "idea"), ("rejected", None)]:
        r = move(client, admin, use_case, target, reason=f"Now {target}.")
        assert r.status_code == 201, (target, r.text)
        fresh(db)
        row = db.get(UseCase, use_case.id)
        assert (row.stage, row.stage_before_hold) == (target, before_hold)
        assert row.stage_entered_at == transitions_of(db, use_case)[-1].decided_at
    history = client.get(f"/api/v1/use-cases/{use_case.key}/transitions?limit=100", headers=admin).json()
    assert [(t["from_stage"], t["to_stage"]) for t in history["items"]] == [
        ("idea", "qualified"), ("qualified", "prioritised"), ("prioritised", "proof_of_concept"),
        ("proof_of_concept", "pilot"), ("pilot", "production"), ("production", "retired"),
        ("retired", "production"), ("production", "pilot"), ("pilot", "on_hold"), ("on_hold", "pilot"),
        ("pilot", "rejected"), ("rejected", "idea"), ("idea", "on_hold"), ("on_hold", "rejected")]
    fresh(db)
    assert db.get(UseCase, use_case.id).production_at == first_production.decided_at  # the first time counts


def test_a_transition_records_who_when_why_and_updates_the_use_case(client: TestClient, db: Session,
                                                                     unit: BusinessUnit) -> None:
    user = make_user(db, email="pm@example.com", roles=[("project_manager", None)])
    h = bearer(make_token(db, user))
    use_case = make_use_case(db, unit, ready=True)
    before = audit_count(db)
    r = move(client, h, use_case, "qualified", reason="  Sponsor confirmed.  ")
    assert r.status_code == 201
    body = r.json()
    assert body["reason"] == "Sponsor confirmed."
    assert body["decided_by_id"] == user.id
    assert body["decided_by_label"].startswith("pm@example.com (token ")
    assert body["override_reason"] is None
    assert body["checks"] == [{"check": "portfolio.sponsor_named", "label": "A sponsor is named", "ok": True,
                               "message": "", "overridable": False}]
    [t] = transitions_of(db, use_case)
    row = db.get(UseCase, use_case.id)
    assert (row.stage, row.stage_entered_at) == ("qualified", t.decided_at)
    assert audit_count(db) == before + 1
    event = db.scalar(select(AuditEvent).order_by(AuditEvent.seq.desc()))
    assert (event.action, event.entity_type, event.entity_id) == ("transition", "use_case", use_case.key)
    assert '"stage":["idea","qualified"]' in event.diff
    assert '"reason":[null,"Sponsor confirmed."]' in event.diff


@pytest.mark.parametrize(("payload", "field"), [
    ({"to_stage": "qualified", "reason": ""}, "reason"),
    ({"to_stage": "qualified", "reason": "   "}, "reason"),
    ({"to_stage": "qualified"}, "reason"),
    ({"to_stage": "limbo", "reason": "x"}, "to_stage"),
])
def test_a_reason_and_a_known_stage_are_required(client: TestClient, db: Session, unit: BusinessUnit,
                                                 admin: dict, payload: dict, field: str) -> None:
    use_case = make_use_case(db, unit, ready=True)
    before = audit_count(db)
    r = client.post(f"/api/v1/use-cases/{use_case.key}/transitions", headers=admin, json=payload)
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == [field]
    assert audit_count(db) == before
    assert stage_of(db, use_case) == "idea"


# --- the built-in checks --------------------------------------------------------------------------------------

def gate(client: TestClient, headers: dict, use_case: UseCase, to: str) -> dict:
    r = client.get(f"/api/v1/use-cases/{use_case.key}/gate", params={"to": to}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def outcomes(body: dict) -> dict[str, tuple[bool, str]]:
    return {c["check"]: (c["ok"], c["message"]) for c in body["checks"]}


def test_check_sponsor_named(client: TestClient, db: Session, unit: BusinessUnit, admin: dict) -> None:
    assert outcomes(gate(client, admin, make_use_case(db, unit), "qualified")) == {
        "portfolio.sponsor_named": (False, "Name a sponsor for the use case.")}
    assert outcomes(gate(client, admin, make_use_case(db, unit, ready=True), "qualified")) == {
        "portfolio.sponsor_named": (True, "")}


def test_checks_statements_complete_and_scored(client: TestClient, db: Session, unit: BusinessUnit,
                                               admin: dict) -> None:
    bare = make_use_case(db, unit, stage="qualified", opportunity_statement="  ")
    assert outcomes(gate(client, admin, bare, "prioritised")) == {
        "portfolio.statements_complete": (False, "Write the problem statement and the opportunity statement."),
        "portfolio.scored": (False, "Nobody has scored the use case yet."),
    }
    half = make_use_case(db, unit, stage="qualified", problem_statement="P", scorer_count=1)
    assert outcomes(gate(client, admin, half, "prioritised")) == {
        "portfolio.statements_complete": (False, "Write the opportunity statement."),
        "portfolio.scored": (True, ""),
    }
    body = gate(client, admin, make_use_case(db, unit, stage="qualified", ready=True), "prioritised")
    assert body["ok"] is True and body["overridable"] is False
    assert outcomes(body) == {"portfolio.statements_complete": (True, ""), "portfolio.scored": (True, "")}


def test_check_criteria_defined(client: TestClient, db: Session, unit: BusinessUnit, admin: dict) -> None:
    use_case = make_use_case(db, unit, stage="prioritised", ready=True)
    assert outcomes(gate(client, admin, use_case, "proof_of_concept")) == {
        "portfolio.criteria_defined": (False, "Define at least one success criterion for the proof of concept.")}
    add_criterion(db, use_case)  # defined, not yet measured: enough to start the proof of concept
    assert outcomes(gate(client, admin, use_case, "proof_of_concept")) == {
        "portfolio.criteria_defined": (True, "")}


def test_checks_into_pilot(client: TestClient, db: Session, unit: BusinessUnit, admin: dict) -> None:
    bare = make_use_case(db, unit, stage="proof_of_concept")
    assert outcomes(gate(client, admin, bare, "pilot")) == {
        "portfolio.criteria_met": (False, "No success criteria are defined."),
        "portfolio.owner_named": (False, "Name an owner for the use case."),
        "portfolio.delivery_decision": (False, "Decide whether to build, buy or partner and give the rationale "
                                               "for that decision."),
    }
    use_case = make_use_case(db, unit, stage="proof_of_concept", ready=True, delivery_rationale="")
    add_criterion(db, use_case, metric="recall", threshold=0.8, result=0.9)
    add_criterion(db, use_case, metric="latency", comparator="<", threshold=200, result=250)
    add_criterion(db, use_case, metric="cost", comparator="<=", threshold=1)
    body = gate(client, admin, use_case, "pilot")
    assert outcomes(body) == {
        "portfolio.criteria_met": (False, "2 of 3 success criteria not met (not met: latency; "
                                          "no result recorded: cost)."),
        "portfolio.owner_named": (True, ""),
        "portfolio.delivery_decision": (False, "Give the rationale for that decision."),
    }
    assert body["ok"] is False and body["overridable"] is False  # the delivery decision cannot be overridden
    fresh(db)
    begin_write(db)
    db.get(UseCase, use_case.id).delivery_rationale = "Core capability."
    for c in db.scalars(select(SuccessCriterion).where(SuccessCriterion.use_case_id == use_case.id)):
        c.result_value = 0.5 if c.metric != "recall" else 0.95
    db.commit()
    body = gate(client, admin, use_case, "pilot")
    assert body["ok"] is True
    assert all(c["ok"] for c in body["checks"])


def test_the_gate_preview_writes_nothing_and_answers_like_the_move(client: TestClient, db: Session,
                                                                   unit: BusinessUnit, admin: dict) -> None:
    use_case = make_use_case(db, unit)
    before = audit_count(db)
    assert gate(client, admin, use_case, "on_hold")["checks"] == []  # only moves forward have a gate
    r = client.get(f"/api/v1/use-cases/{use_case.key}/gate", params={"to": "pilot"}, headers=admin)
    assert r.status_code == 409 and r.json()["allowed"] == ["qualified", "rejected", "on_hold"]
    r = client.get(f"/api/v1/use-cases/{use_case.key}/gate", params={"to": "nowhere"}, headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "to_stage"
    assert audit_count(db) == before and transitions_of(db, use_case) == []


def test_moves_back_hold_and_resume_have_no_gate(client: TestClient, db: Session, unit: BusinessUnit,
                                                 admin: dict) -> None:
    use_case = make_use_case(db, unit, stage="pilot")  # nothing filled in: every gate would fail
    for target in ("on_hold", "pilot", "proof_of_concept"):
        r = move(client, admin, use_case, target)
        assert r.status_code == 201, r.text
        assert r.json()["checks"] == []


# --- refusal and override ---------------------------------------------------------------------------------

def test_a_refusal_lists_every_failing_check_and_writes_nothing(client: TestClient, db: Session,
                                                                unit: BusinessUnit, admin: dict) -> None:
    use_case = make_use_case(db, unit, stage="proof_of_concept")
    before = audit_count(db)
    r = move(client, admin, use_case, "pilot", override_reason="Committee said so.")
    assert r.status_code == 422
    body = r.json()
    assert body["type"] == "https://aicoe.dev/problems/gate-refused"
    assert body["title"] == "Transition refused"
    assert [e["field"] for e in body["errors"]] == [
        "portfolio.criteria_met", "portfolio.owner_named", "portfolio.delivery_decision"]
    assert [c["check"] for c in body["checks"]] == [e["field"] for e in body["errors"]]
    assert body["overridable"] is False
    assert body["detail"] == (
        f"{use_case.key} cannot move to Pilot: 3 gate checks failed: Success criteria met: No success criteria "
        "are defined.; A named owner: Name an owner for the use case.; Build, buy or partner decided, with a "
        "rationale: Decide whether to build, buy or partner and give the rationale for that decision. (A named "
        "owner, Build, buy or partner decided, with a rationale cannot be overridden)")
    assert audit_count(db) == before
    assert transitions_of(db, use_case) == []
    assert stage_of(db, use_case) == "proof_of_concept"


@pytest.fixture
def unmet(db: Session, unit: BusinessUnit) -> UseCase:
    """A proof of concept ready for pilot except that its one criterion was not met (overridable)."""
    use_case = make_use_case(db, unit, stage="proof_of_concept", ready=True)
    add_criterion(db, use_case, threshold=0.8, result=0.7)
    return use_case


def test_override_needs_the_override_permission(client: TestClient, db: Session, unmet: UseCase) -> None:
    pm = headers_for(db, "project_manager")
    before = audit_count(db)
    r = move(client, pm, unmet, "pilot")
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["portfolio.criteria_met"]  # no hint: they cannot override
    assert r.json()["overridable"] is True
    r = move(client, pm, unmet, "pilot", override_reason="Close enough.")
    assert r.status_code == 403
    assert r.json()["detail"] == "this action needs the 'use_case:override' permission"
    assert audit_count(db) == before and transitions_of(db, unmet) == []


def test_override_needs_a_reason(client: TestClient, db: Session, unmet: UseCase) -> None:
    committee = headers_for(db, "steering_committee")
    before = audit_count(db)
    for override in (None, "", "   "):
        r = move(client, committee, unmet, "pilot", override_reason=override)
        assert r.status_code == 422
        assert r.json()["errors"] == [
            {"field": "portfolio.criteria_met", "message": "1 of 1 success criteria not met (not met: recall)."},
            {"field": "override_reason", "message": "Give a reason to override the failed checks."},
        ]
    assert audit_count(db) == before and transitions_of(db, unmet) == []


def test_override_is_recorded_with_its_reason_and_the_checks(client: TestClient, db: Session,
                                                             unmet: UseCase) -> None:
    committee = headers_for(db, "steering_committee")
    before = audit_count(db)
    r = move(client, committee, unmet, "pilot", reason="Pilot with a human in the loop.",
             override_reason="Recall 0.7 is acceptable with manual review.")
    assert r.status_code == 201, r.text
    [t] = transitions_of(db, unmet)
    assert t.override_reason == "Recall 0.7 is acceptable with manual review."
    assert t.reason == "Pilot with a human in the loop."
    assert [(c["check"], c["ok"]) for c in t.checks] == [
        ("portfolio.criteria_met", False), ("portfolio.owner_named", True), ("portfolio.delivery_decision", True)]
    assert stage_of(db, unmet) == "pilot"
    assert audit_count(db) == before + 1
    event = db.scalar(select(AuditEvent).order_by(AuditEvent.seq.desc()))
    assert '"override_reason":[null,"Recall 0.7 is acceptable with manual review."]' in event.diff
    assert '"checks_failed":[null,["portfolio.criteria_met"]]' in event.diff


def test_the_override_route_states_its_permission_and_needs_a_reason(client: TestClient, db: Session,
                                                                     unmet: UseCase) -> None:
    url = f"/api/v1/use-cases/{unmet.key}/transitions/override"
    pm = headers_for(db, "project_manager")
    assert client.post(url, headers=pm, json={"to_stage": "pilot", "reason": "Go", "override_reason": "Ok"}
                       ).status_code == 403
    committee = headers_for(db, "steering_committee")
    r = client.post(url, headers=committee, json={"to_stage": "pilot", "reason": "Go", "override_reason": " "})
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["override_reason"]
    assert transitions_of(db, unmet) == []
    r = client.post(url, headers=committee, json={"to_stage": "pilot", "reason": "Go", "override_reason": "Ok"})
    assert r.status_code == 201 and r.json()["override_reason"] == "Ok"
    assert stage_of(db, unmet) == "pilot"


def test_an_override_reason_without_failed_checks_is_not_recorded(client: TestClient, db: Session,
                                                                  unit: BusinessUnit, admin: dict) -> None:
    use_case = make_use_case(db, unit, ready=True)
    r = move(client, admin, use_case, "qualified", override_reason="Just in case.")
    assert r.status_code == 201 and r.json()["override_reason"] is None


# --- the registry ----------------------------------------------------------------------------------------------

def needs_a_target_date(session: Session, use_case: UseCase) -> str | None:
    return None if use_case.target_date else "Set a target date."


def always_raises(session: Session, use_case: UseCase) -> str | None:
    raise RuntimeError("the compliance service is down")


def broken_sql(session: Session, use_case: UseCase) -> str | None:
    session.execute(text("SELECT nothing FROM no_such_table"))
    return None


def says_nothing(session: Session, use_case: UseCase) -> str | None:
    return ""  # type: ignore[return-value] -- breaks the contract: an empty message is not a verdict


@pytest.fixture
def extra_checks() -> Iterator[None]:
    registry.register("production", "test.target_date", label="Target date set")(needs_a_target_date)
    registry.register("production", "test.raises", overridable=True)(always_raises)
    registry.register("production", "test.broken_sql")(broken_sql)
    registry.register("production", "test.says_nothing")(says_nothing)
    yield
    for name in ("test.target_date", "test.raises", "test.broken_sql", "test.says_nothing"):
        registry.unregister("production", name)


@pytest.fixture
def pg_or_sqlite(any_db_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, Session]]:
    app = create_app(make_settings(any_db_url, tmp_path))
    session = app.state.sessionmaker()
    with TestClient(app) as client:
        yield client, session
    session.rollback()
    session.close()


def test_registered_checks_run_in_order_and_a_raising_check_fails_without_a_500(
        pg_or_sqlite: tuple[TestClient, Session], extra_checks: None) -> None:
    client, db = pg_or_sqlite
    unit = make_unit(db)
    h = bearer(make_token(db, make_user(db)))
    use_case = make_use_case(db, unit, stage="pilot")
    body = gate(client, h, use_case, "production")
    assert [(c["check"], c["ok"], c["overridable"]) for c in body["checks"]] == [
        ("test.target_date", False, False), ("test.raises", False, True), ("test.broken_sql", False, False),
        ("test.says_nothing", False, False)]
    messages = [c["message"] for c in body["checks"]]
    assert messages[0] == "Set a target date."
    assert messages[1] == "The check could not run: RuntimeError: the compliance service is down"
    assert messages[2].startswith("The check could not run: ")
    assert "no_such_table" in messages[2]
    assert messages[3] == "The check returned ''; expected None or a message."
    before = audit_count(db)
    r = move(client, h, use_case, "production")
    assert r.status_code == 422  # the failed SQL was rolled back to its savepoint; the request answered
    assert [e["field"] for e in r.json()["errors"]] == [
        "test.target_date", "test.raises", "test.broken_sql", "test.says_nothing"]
    assert audit_count(db) == before
    assert client.get("/api/v1/gate-checks", headers=h).json()[-4:] == [
        {"to_stage": "production", "name": "test.target_date", "label": "Target date set", "overridable": False,
         "module": "tests.test_lifecycle"},
        {"to_stage": "production", "name": "test.raises", "label": "test.raises", "overridable": True,
         "module": "tests.test_lifecycle"},
        {"to_stage": "production", "name": "test.broken_sql", "label": "test.broken_sql", "overridable": False,
         "module": "tests.test_lifecycle"},
        {"to_stage": "production", "name": "test.says_nothing", "label": "test.says_nothing",
         "overridable": False, "module": "tests.test_lifecycle"},
    ]


def test_registry_refuses_unknown_stages_and_taken_names() -> None:
    fresh = GateRegistry(modules=[])
    with pytest.raises(ValueError, match="no gate leads into 'idea'"):
        fresh.register("idea", "x.y")
    with pytest.raises(ValueError, match="no gate leads into 'on_hold'"):
        fresh.register("on_hold", "x.y")
    with pytest.raises(ValueError, match="a check name must be 1-80 characters"):
        fresh.register("pilot", "")
    fresh.register("pilot", "x.target_date")(needs_a_target_date)
    fresh.register("pilot", "x.target_date")(needs_a_target_date)  # the same function again: no-op
    with pytest.raises(ValueError, match="already registered by tests.test_lifecycle.needs_a_target_date"):
        fresh.register("pilot", "x.target_date")(always_raises)
    assert [c.name for c in fresh.checks("pilot")] == ["x.target_date"]
    assert fresh.checks("production") == []


def test_gate_modules_are_listed_in_one_place() -> None:
    assert GATE_MODULES[0] == "aicoe.portfolio.gate_checks"
    assert [(c.to_stage, c.name, c.overridable) for c in registry.all_checks()][:7] == [
        ("qualified", "portfolio.sponsor_named", False),
        ("prioritised", "portfolio.statements_complete", False),
        ("prioritised", "portfolio.scored", False),
        ("proof_of_concept", "portfolio.criteria_defined", False),
        ("pilot", "portfolio.criteria_met", True),
        ("pilot", "portfolio.owner_named", False),
        ("pilot", "portfolio.delivery_decision", False),
    ]


def test_the_main_path_works_on_both_databases(pg_or_sqlite: tuple[TestClient, Session]) -> None:
    client, db = pg_or_sqlite
    unit = make_unit(db)
    make_user(db)
    h = bearer(make_token(db, make_user(db, roles=[("steering_committee", None)])))
    use_case = make_use_case(db, unit, ready=True)
    add_criterion(db, use_case, result=0.5)
    for target in ("qualified", "prioritised", "proof_of_concept"):
        assert move(client, h, use_case, target).status_code == 201
    assert move(client, h, use_case, "pilot").status_code == 422
    r = move(client, h, use_case, "pilot", override_reason="Accepted risk.")
    assert r.status_code == 201, r.text
    assert [t.to_stage for t in transitions_of(db, use_case)] == [
        "qualified", "prioritised", "proof_of_concept", "pilot"]


# --- stage times ---------------------------------------------------------------------------------------------

def add_transition(db: Session, use_case: UseCase, from_stage: str | None, to_stage: str, at: datetime) -> None:
    db.commit()
    begin_write(db)
    db.add(StageTransition(use_case_id=use_case.id, from_stage=from_stage, to_stage=to_stage,
                           decided_by_label="test", decided_at=at, reason="r", checks=[]))
    uc = db.get(UseCase, use_case.id)
    uc.stage, uc.stage_entered_at = to_stage, at
    if to_stage == "production" and uc.production_at is None:
        uc.production_at = at
    db.commit()


def test_stage_times_from_transitions(db: Session, unit: BusinessUnit) -> None:
    use_case = make_use_case(db, unit, submitted_at=T0)
    days = [2, 5, 6, 10, 30]
    steps = [("idea", "qualified"), ("qualified", "on_hold"), ("on_hold", "qualified"), ("qualified", "prioritised"),
             ("prioritised", "proof_of_concept")]
    for d, (a, b) in zip(days, steps, strict=True):
        add_transition(db, use_case, a, b, T0 + timedelta(days=d))
    fresh(db)
    uc = db.get(UseCase, use_case.id)
    now = T0 + timedelta(days=31, hours=12)
    assert lifecycle.stage_times(db, uc, now=now) == {
        "idea": timedelta(days=2), "qualified": timedelta(days=3 + 4), "on_hold": timedelta(days=1),
        "prioritised": timedelta(days=20), "proof_of_concept": timedelta(days=1, hours=12)}
    assert lifecycle.delivery_time(uc) is None
    visits = lifecycle.stage_visits(uc, lifecycle._transitions(db, uc), now=now)
    assert [(v.stage, v.entered_at, v.left_at) for v in visits][:2] == [
        ("idea", T0, T0 + timedelta(days=2)), ("qualified", T0 + timedelta(days=2), T0 + timedelta(days=5))]
    assert visits[-1].left_at is None


def test_stage_times_without_decisions_count_the_current_stage_from_its_entry(db: Session,
                                                                               unit: BusinessUnit) -> None:
    use_case = make_use_case(db, unit, stage="pilot", submitted_at=T0, stage_entered_at=T0 + timedelta(days=40))
    assert lifecycle.stage_times(db, use_case, now=T0 + timedelta(days=45)) == {"pilot": timedelta(days=5)}


def test_delivery_time_and_the_timeline_api(client: TestClient, db: Session, unit: BusinessUnit,
                                            admin: dict) -> None:
    use_case = make_use_case(db, unit, submitted_at=T0)
    path = list(zip(STAGES, STAGES[1:], strict=False))[:5]  # idea -> ... -> production
    for i, (a, b) in enumerate(path, start=1):
        add_transition(db, use_case, a, b, T0 + timedelta(days=10 * i))
    add_transition(db, use_case, "production", "pilot", T0 + timedelta(days=60))
    add_transition(db, use_case, "pilot", "production", T0 + timedelta(days=61))
    fresh(db)
    assert lifecycle.delivery_time(db.get(UseCase, use_case.id)) == timedelta(days=50)
    body = client.get(f"/api/v1/use-cases/{use_case.key}/timeline", headers=admin).json()
    assert body["delivery_seconds"] == 50 * 86400 and body["delivery_days"] == 50
    assert body["production_at"].startswith("2024-02-20T09:00:00")
    stages = {s["stage"]: s["seconds"] for s in body["stages"]}
    assert [s["stage"] for s in body["stages"]] == ["idea", "qualified", "prioritised", "proof_of_concept", "pilot",
                                                    "production"]
    assert stages["idea"] == stages["qualified"] == stages["prioritised"] == stages["proof_of_concept"] == 864000
    assert stages["pilot"] == 11 * 86400
    assert stages["production"] >= 10 * 86400  # 10 days, then again from day 61 until now
    assert [v["left_at"] is None for v in body["visits"]] == [False] * 7 + [True]


# --- success criteria ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("comparator", "value", "threshold", "expected"), [
    (">=", 0.8, 0.8, True), (">=", 0.79, 0.8, False),
    (">", 0.81, 0.8, True), (">", 0.8, 0.8, False),
    ("<=", 200, 200, True), ("<=", 200.5, 200, False),
    ("<", 199, 200, True), ("<", 200, 200, False),
    ("==", 0.1 + 0.2, 0.3, True),  # 0.30000000000000004: within the relative tolerance
    ("==", 1_000_000.0005, 1_000_000, True),  # 5e-10 relative
    ("==", 1_000_000.01, 1_000_000, False),  # 1e-8 relative
    ("==", 1e-12, 0, False),  # relative to 0: exact
    ("==", 0, 0, True),
])
def test_pass_fail_for_every_comparator(comparator: str, value: float, threshold: float, expected: bool) -> None:
    assert evaluate(comparator, value, threshold) is expected


def test_an_unknown_comparator_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown comparator '!='"):
        evaluate("!=", 1, 1)


def test_criteria_crud_results_and_recomputed_verdicts(client: TestClient, db: Session, unit: BusinessUnit,
                                                       admin: dict) -> None:
    use_case = make_use_case(db, unit, stage="prioritised")
    base = f"/api/v1/use-cases/{use_case.key}/criteria"
    before = audit_count(db)
    r = client.post(base, headers=admin, json={"metric": "Recall", "comparator": ">=", "threshold": 0.8,
                                               "unit": "", "how_measured": "Held-out claims, Q3"})
    assert r.status_code == 201, r.text
    criterion = r.json()
    assert (criterion["passed"], criterion["result_value"]) == (None, None)
    cid = criterion["id"]
    r = client.post(f"{base}/{cid}/result", headers=admin, json={
        "value": 0.78, "note": "First run", "link": "https://eval.example.com/runs/42",
        "evidence": "evaluation-run:42"})
    assert r.status_code == 200, r.text
    assert r.json()["passed"] is False
    assert r.json()["result_evidence"] == "evaluation-run:42"
    r = client.patch(f"{base}/{cid}", headers=admin, json={"threshold": 0.75})
    assert (r.json()["threshold"], r.json()["result_value"], r.json()["passed"]) == (0.75, 0.78, True)
    r = client.patch(f"{base}/{cid}", headers=admin, json={"comparator": "=="})
    assert r.json()["passed"] is False
    listing = client.get(base, headers=admin).json()
    assert listing["total"] == 1 and listing["items"][0]["passed"] is False
    r = client.delete(f"{base}/{cid}/result", headers=admin)
    assert r.json()["passed"] is None and r.json()["result_link"] == ""
    assert client.delete(f"{base}/{cid}", headers=admin).status_code == 204
    assert client.get(f"{base}/{cid}", headers=admin).status_code == 404
    assert audit_count(db) == before + 6
    actions = list(db.scalars(select(AuditEvent.action).where(AuditEvent.entity_type == "success_criterion")
                              .order_by(AuditEvent.seq)))
    assert actions == ["create", "result", "update", "update", "clear_result", "delete"]


@pytest.mark.parametrize(("payload", "field"), [
    ({"metric": "Recall", "comparator": "=>", "threshold": 1}, "comparator"),
    ({"metric": "Recall", "comparator": ">="}, "threshold"),
    ({"metric": "Recall", "comparator": ">=", "threshold": "high"}, "threshold"),
    ({"metric": " ", "comparator": ">=", "threshold": 1}, "metric"),
])
def test_bad_criteria_are_422_naming_the_field(client: TestClient, db: Session, unit: BusinessUnit,
                                               admin: dict, payload: dict, field: str) -> None:
    use_case = make_use_case(db, unit)
    before = audit_count(db)
    r = client.post(f"/api/v1/use-cases/{use_case.key}/criteria", headers=admin, json=payload)
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == [field]
    assert audit_count(db) == before


def test_bad_results_and_edits_are_422(client: TestClient, db: Session, unit: BusinessUnit, admin: dict) -> None:
    use_case = make_use_case(db, unit)
    criterion = add_criterion(db, use_case)
    base = f"/api/v1/use-cases/{use_case.key}/criteria/{criterion.id}"
    for payload, field in [({"note": "x"}, "value"), ({"value": 1, "link": "javascript:alert(1)"}, "link")]:
        r = client.post(f"{base}/result", headers=admin, json=payload)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field
    r = client.patch(base, headers=admin, json={"threshold": None})
    assert r.status_code == 422 and r.json()["errors"] == [{"field": "threshold",
                                                             "message": "This field is required."}]
    other = make_use_case(db, unit)
    assert client.get(f"/api/v1/use-cases/{other.key}/criteria/{criterion.id}", headers=admin).status_code == 404


# --- scoping and permissions -------------------------------------------------------------------------------

def test_use_cases_outside_the_callers_units_are_404(client: TestClient, db: Session, unit: BusinessUnit) -> None:
    other_unit = make_unit(db)
    mine = make_use_case(db, unit, ready=True)
    theirs = make_use_case(db, other_unit, ready=True)
    criterion = add_criterion(db, theirs)
    pm = headers_for(db, "project_manager", unit)
    for path in ("transitions", "gate?to=qualified", "timeline", "criteria"):
        assert client.get(f"/api/v1/use-cases/{mine.key}/{path}", headers=pm).status_code == 200, path
    for path in ("transitions", "gate?to=qualified", "timeline", "criteria", f"criteria/{criterion.id}"):
        r = client.get(f"/api/v1/use-cases/{theirs.key}/{path}", headers=pm)
        assert r.status_code == 404, path
        assert r.json()["detail"] == f"no use case {theirs.key}"
    assert move(client, pm, theirs, "qualified").status_code == 404
    r = client.post(f"/api/v1/use-cases/{theirs.key}/criteria/{criterion.id}/result", headers=pm,
                    json={"value": 1})
    assert r.status_code == 404
    assert move(client, pm, mine, "qualified").status_code == 201
    assert client.get(f"/api/v1/use-cases/{mine.key.lower()}/timeline", headers=pm).status_code == 200


def test_seeing_a_use_case_is_not_moving_it(client: TestClient, db: Session, unit: BusinessUnit) -> None:
    """An auditor reads every unit's use cases but decides nothing; a unit-scoped manager acts only in theirs."""
    use_case = make_use_case(db, unit, ready=True)
    auditor = headers_for(db, "auditor")
    assert client.get(f"/api/v1/use-cases/{use_case.key}/transitions", headers=auditor).status_code == 200
    assert move(client, auditor, use_case, "qualified").status_code == 403
    reader = bearer(make_token(db, make_user(db, roles=[("auditor", None), ("project_manager", make_unit(db))])))
    r = move(client, reader, use_case, "qualified")
    assert r.status_code == 403
    assert r.json()["detail"] == "the 'use_case:transition' permission does not extend to that business unit"


# --- the lifecycle page -----------------------------------------------------------------------------------------

def signed_in(client: TestClient, db: Session, settings: Settings, role: str = "admin",
              unit: BusinessUnit | None = None) -> User:
    user = make_user(db, password=PASSWORD, settings=settings, roles=[(role, unit)])
    login(client, user.email)
    return user


def options(html: str, name: str) -> list[str]:
    select_html = re.search(rf'<select id="f-{name}" name="{name}".*?</select>', html, re.S)
    assert select_html, f"no select {name}"
    return re.findall(r'<option value="([^"]*)"', select_html.group(0))


def test_lifecycle_page_shows_track_allowed_targets_history_and_criteria(
        client: TestClient, db: Session, settings: Settings, unit: BusinessUnit) -> None:
    signed_in(client, db, settings)
    use_case = make_use_case(db, unit, stage="prioritised", ready=True)
    add_criterion(db, use_case, metric="Recall", result=0.9)
    add_criterion(db, use_case, metric="Latency", comparator="<", threshold=100, result=120)
    add_criterion(db, use_case, metric="Cost")
    add_transition(db, use_case, "qualified", "prioritised", T0)
    page = client.get(f"/use-cases/{use_case.key}/lifecycle")
    assert page.status_code == 200
    html = page.text
    assert f'<a href="/use-cases/{use_case.key}/lifecycle" aria-current="page">Lifecycle</a>' in html
    assert re.search(r'<li class="current" aria-current="step">Prioritised', html)
    assert re.search(r'<li class="done">Idea</li>', html)
    assert options(html, "to_stage") == ["proof_of_concept", "qualified", "rejected", "on_hold"]
    assert 'id="f-override_reason"' in html  # admins hold use_case:override
    assert "Qualified → Prioritised" in html
    assert html.count('<span class="badge on">met</span>') == 1
    assert html.count('<span class="badge off">not met</span>') == 1
    assert html.count('<span class="badge">not measured</span>') == 1


def test_gate_preview_and_refusal_on_the_page(client: TestClient, db: Session, settings: Settings,
                                              unit: BusinessUnit) -> None:
    signed_in(client, db, settings, "project_manager")
    use_case = make_use_case(db, unit, stage="proof_of_concept")
    page = client.get(f"/use-cases/{use_case.key}/lifecycle", params={"to": "pilot"})
    assert page.status_code == 200
    assert page.text.count('<span class="badge off">failed</span>') == 3
    assert "Name an owner for the use case." in page.text
    assert "The move would be refused until the failed checks pass." in page.text
    assert 'id="f-override_reason"' not in page.text  # project managers cannot override
    before = audit_count(db)
    r = client.post(f"/use-cases/{use_case.key}/lifecycle/transition",
                    data={"to_stage": "pilot", "reason": "Try", "csrf_token": csrf_from(page.text)})
    assert r.status_code == 422
    assert "Transition refused: 3 gate checks failed." in r.text
    for label in ("Success criteria met", "A named owner", "Build, buy or partner decided, with a rationale"):
        assert f"<strong>{label}</strong>:" in r.text
    assert '<textarea id="f-reason" name="reason"' in r.text and ">Try</textarea>" in r.text
    assert audit_count(db) == before and stage_of(db, use_case) == "proof_of_concept"
    r = client.post(f"/use-cases/{use_case.key}/lifecycle/transition",
                    data={"to_stage": "prioritised", "reason": "", "csrf_token": csrf_from(page.text)})
    assert r.status_code == 422 and 'id="e-reason"' in r.text
    r = client.post(f"/use-cases/{use_case.key}/lifecycle/transition", follow_redirects=False,
                    data={"to_stage": "prioritised", "reason": "Rethink", "csrf_token": csrf_from(page.text)})
    assert r.status_code == 303
    assert stage_of(db, use_case) == "prioritised"


def test_override_from_the_page(client: TestClient, db: Session, settings: Settings, unmet: UseCase) -> None:
    signed_in(client, db, settings, "steering_committee")
    page = client.get(f"/use-cases/{unmet.key}/lifecycle", params={"to": "pilot"})
    assert "the steering committee may override it with a reason" in page.text
    token = csrf_from(page.text)
    r = client.post(f"/use-cases/{unmet.key}/lifecycle/transition",
                    data={"to_stage": "pilot", "reason": "Go", "csrf_token": token})
    assert r.status_code == 422 and "Give a reason to override the failed checks." in r.text
    r = client.post(f"/use-cases/{unmet.key}/lifecycle/transition", follow_redirects=False,
                    data={"to_stage": "pilot", "reason": "Go", "override_reason": "Accepted", "csrf_token": token})
    assert r.status_code == 303
    history = client.get(f"/use-cases/{unmet.key}/lifecycle").text
    assert '<span class="badge off">override</span> Accepted' in history


def test_criteria_forms_on_the_page(client: TestClient, db: Session, settings: Settings,
                                    unit: BusinessUnit) -> None:
    signed_in(client, db, settings, "practitioner")
    use_case = make_use_case(db, unit, stage="prioritised")
    page = client.get(f"/use-cases/{use_case.key}/lifecycle")
    assert 'action="/use-cases/' + use_case.key + '/lifecycle/transition"' not in page.text  # cannot transition
    token = csrf_from(page.text)
    r = client.post(f"/use-cases/{use_case.key}/lifecycle/criteria",
                    data={"metric": "Recall", "comparator": ">=", "threshold": "", "csrf_token": token})
    assert r.status_code == 422
    assert '<p class="field-error" id="e-threshold">This field is required.</p>' in r.text
    assert 'value="Recall"' in r.text
    r = client.post(f"/use-cases/{use_case.key}/lifecycle/criteria", follow_redirects=False,
                    data={"metric": "Recall", "comparator": ">=", "threshold": "0.8", "unit": "",
                          "how_measured": "Q3 claims", "csrf_token": token})
    assert r.status_code == 303
    fresh(db)
    criterion = db.scalar(select(SuccessCriterion).where(SuccessCriterion.use_case_id == use_case.id))
    url = f"/use-cases/{use_case.key}/lifecycle/criteria/{criterion.id}"
    r = client.post(f"{url}/result", data={"value": "abc", "csrf_token": token})
    assert r.status_code == 422 and 'id="e-value"' in r.text
    r = client.post(f"{url}/result", follow_redirects=False,
                    data={"value": "0.85", "note": "Run 7", "link": "", "evidence": "", "csrf_token": token})
    assert r.status_code == 303
    assert '<span class="badge on">met</span>' in client.get(f"/use-cases/{use_case.key}/lifecycle").text
    r = client.post(url, follow_redirects=False, data={"metric": "Recall", "comparator": ">", "threshold": "0.9",
                                                        "unit": "", "how_measured": "", "csrf_token": token})
    assert r.status_code == 303
    assert '<span class="badge off">not met</span>' in client.get(url).text
    assert client.post(f"{url}/delete", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    assert client.get(url).status_code == 404


def test_the_page_is_404_outside_the_callers_units(client: TestClient, db: Session, settings: Settings,
                                                   unit: BusinessUnit) -> None:
    signed_in(client, db, settings, "project_manager", make_unit(db))
    use_case = make_use_case(db, unit)
    assert client.get(f"/use-cases/{use_case.key}/lifecycle").status_code == 404
