"""Board reviews: the decision rule (exhaustively, as a table), requesting with validation, deciding, comments,
withdrawal, scoping, audit, cadences, the re-review schedule and overdue list with exact dates, and the API, the
pages, the CLI and the demo seed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from aicoe.app import create_app
from aicoe.auth.principal import Principal
from aicoe.cli.main import app as cli_app
from aicoe.config import Settings
from aicoe.core.time import utcnow
from aicoe.models.audit import AuditEvent
from aicoe.models.inventory import AISystem
from aicoe.models.org import BusinessUnit, User
from aicoe.models.portfolio import UseCase
from aicoe.models.reviews import ReviewCadence, ReviewComment, ReviewDecision, ReviewRequest
from aicoe.reviews import service
from aicoe.reviews.schemas import CadenceIn, CommentIn, DecisionIn, ReviewCreate
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
    use_cli_database,
)
from tests.inventory_factories import make_system
from tests.portfolio_factories import make_use_case
from tests.test_lifecycle import fresh

API = "/api/v1"


# --- the decision rule, as a table -------------------------------------------------------------------------------

A, B, C, D = 1, 2, 3, 4  # user ids; members are A, B and C unless a row says otherwise
RULES = [
    # (required, quorum, members, decisions, expected)
    ((), 1, (A, B, C), {}, "open"),
    ((), 1, (A, B, C), {A: "approve"}, "approved"),
    ((), 2, (A, B, C), {A: "approve"}, "open"),
    ((), 2, (A, B, C), {A: "approve", B: "approve"}, "approved"),
    ((), 2, (A, B, C), {A: "approve_with_conditions", B: "approve"}, "approved_with_conditions"),
    ((), 2, (A, B, C), {A: "approve", B: "reject"}, "open"),  # C may still approve
    ((), 2, (A, B, C), {A: "reject", B: "reject"}, "rejected"),  # only C left: 1 < 2
    ((), 3, (A, B, C), {A: "reject"}, "rejected"),  # 2 left < 3
    ((), 3, (A, B, C), {A: "approve", B: "approve", C: "approve"}, "approved"),
    ((A,), 1, (A, B, C), {B: "approve"}, "open"),  # quorum met, the required approver has not approved
    ((A,), 1, (A, B, C), {A: "approve"}, "approved"),
    ((A,), 1, (A, B, C), {A: "approve_with_conditions"}, "approved_with_conditions"),
    ((A,), 2, (A, B, C), {A: "approve"}, "open"),  # required approved, quorum not yet
    ((A,), 2, (A, B, C), {A: "approve", B: "approve_with_conditions"}, "approved_with_conditions"),
    ((A,), 1, (A, B, C), {A: "reject"}, "rejected"),
    ((A,), 2, (A, B, C), {B: "approve", C: "approve", A: "reject"}, "rejected"),  # a required rejection wins
    ((A, B), 2, (A, B, C), {A: "approve", C: "approve"}, "open"),  # B still to approve
    ((A, B), 2, (A, B, C), {A: "approve", B: "approve"}, "approved"),
    ((A, B), 1, (A, B, C), {A: "approve", B: "approve"}, "approved"),  # every required approver is needed
    ((A, B), 2, (A, B, C), {A: "approve", C: "reject"}, "open"),  # B may still approve: 2 left >= 2
    ((A, B), 3, (A, B, C), {A: "approve", C: "reject"}, "rejected"),
    ((), 2, (A, B), {A: "approve", D: "approve"}, "approved"),  # D decided and has left the board: still counts
    ((), 2, (A, B), {D: "reject"}, "open"),  # A and B may still approve
    ((), 2, (A,), {A: "approve", D: "reject"}, "rejected"),  # only A left
    ((), 1, (), {}, "rejected"),  # nobody could ever approve
]


@pytest.mark.parametrize(("required", "quorum", "members", "decisions", "expected"), RULES)
def test_the_decision_rule(required: tuple[int, ...], quorum: int, members: tuple[int, ...],
                           decisions: dict[int, str], expected: str) -> None:
    assert service.outcome(required, quorum, members, decisions) == expected


@pytest.mark.parametrize(("day", "months", "expected"), [
    (date(2025, 1, 31), 12, date(2026, 1, 31)), (date(2025, 1, 31), 1, date(2025, 2, 28)),
    (date(2024, 1, 31), 1, date(2024, 2, 29)), (date(2024, 2, 29), 12, date(2025, 2, 28)),
    (date(2025, 11, 30), 3, date(2026, 2, 28)), (date(2025, 12, 15), 1, date(2026, 1, 15)),
    (date(2025, 6, 15), 36, date(2028, 6, 15)),
])
def test_add_months_keeps_the_day_or_takes_the_last_of_a_shorter_month(day: date, months: int,
                                                                       expected: date) -> None:
    assert service.add_months(day, months) == expected


# --- arranging -------------------------------------------------------------------------------------------------

@dataclass
class World:
    unit: BusinessUnit
    other: BusinessUnit
    sofia: User  # ethics board, CoE-wide
    tom: User
    amara: User
    olga: User  # ethics board for the other unit only
    priya: User  # steering committee
    requester: User  # project manager (review:request CoE-wide)
    system: AISystem
    use_case: UseCase
    other_system: AISystem


def build(db: Session, settings: Settings | None = None) -> World:
    unit, other = make_unit(db, name="Retail"), make_unit(db, name="Insurance")

    def person(name: str, roles: list[tuple[str, BusinessUnit | None]]) -> User:
        local = name.split()[0].lower()
        return make_user(db, email=f"{local}@example.com", full_name=name, roles=roles,
                         password=PASSWORD if settings else None, settings=settings)

    use_case = make_use_case(db, unit=unit, title="Loan decisions")
    return World(
        unit=unit, other=other, sofia=person("Sofia Marquez", [("ethics_board", None)]),
        tom=person("Tom Lindqvist", [("ethics_board", None)]), amara=person("Amara Nwosu", [("ethics_board", None)]),
        olga=person("Olga Other", [("ethics_board", other)]),
        priya=person("Priya Raman", [("steering_committee", None)]),
        requester=person("Rita Requester", [("project_manager", None)]),
        system=make_system(db, unit=unit, name="Credit Engine", use_case=use_case, risk_tier="high"),
        use_case=use_case, other_system=make_system(db, unit=other, name="Claims Triage", risk_tier="high"))


@pytest.fixture
def w(db: Session) -> World:
    return build(db)


def headers(db: Session, user: User) -> dict[str, str]:
    return bearer(make_token(db, user))


def errors_of(response: Any) -> dict[str, str]:
    return {e["field"]: e["message"] for e in response.json().get("errors", [])}


def count(db: Session, model: type) -> int:
    fresh(db)
    return db.scalar(select(func.count()).select_from(model)) or 0


def events(db: Session, entity_type: str = "review") -> list[AuditEvent]:
    fresh(db)
    return list(db.scalars(select(AuditEvent).where(AuditEvent.entity_type == entity_type).order_by(AuditEvent.seq)))


def create_body(w: World, **changes: Any) -> dict[str, Any]:
    return {"board": "ethics_board", "subject_type": "ai_system", "subject_id": w.system.id,
            "title": "Ethics review before the pilot", "description": "Credit decisions for consumers.",
            "required_approver_ids": [w.tom.id, w.sofia.id], "quorum": 2, **changes}


def requested(db: Session, client: TestClient, w: World, **changes: Any) -> str:
    r = client.post(f"{API}/reviews", headers=headers(db, w.requester), json=create_body(w, **changes))
    assert r.status_code == 201, r.text
    return r.json()["key"]


def decide(db: Session, client: TestClient, user: User, key: str, decision: str, **extra: str) -> Any:
    return client.post(f"{API}/reviews/{key}/decisions", headers=headers(db, user),
                       json={"decision": decision, **extra})


# --- requesting ----------------------------------------------------------------------------------------------------

def test_request_a_review_of_a_system_and_of_a_use_case(client: TestClient, db: Session, w: World) -> None:
    due = (utcnow() + timedelta(days=14)).date()
    r = client.post(f"{API}/reviews", headers=headers(db, w.requester), json=create_body(w, due_date=due.isoformat()))
    assert r.status_code == 201, r.text
    out = r.json()
    assert (out["key"], out["board"], out["status"], out["quorum"], out["due_date"]) == (
        "REV-0001", "ethics_board", "open", 2, due.isoformat())
    assert out["subject"] == {"type": "ai_system", "id": w.system.id, "label": "Credit Engine",
                              "url": f"/ai-systems/{w.system.id}", "exists": True}
    assert out["business_unit"] == {"id": w.unit.id, "name": "Retail"}
    assert out["requested_by"] == {"id": w.requester.id, "full_name": "Rita Requester"}
    assert [p["full_name"] for p in out["required_approvers"]] == ["Sofia Marquez", "Tom Lindqvist"]
    assert out["progress"] == {"approvals": 0, "rejections": 0, "quorum": 2, "members": 3,
                               "required_pending": [{"id": w.sofia.id, "full_name": "Sofia Marquez"},
                                                    {"id": w.tom.id, "full_name": "Tom Lindqvist"}]}
    assert (out["decisions"], out["comments"], out["conditions"], out["decided_at"]) == ([], [], "", None)
    [event] = events(db)
    assert (event.action, event.entity_id) == ("create", "REV-0001")
    assert event.actor_label.startswith("rita@example.com (token ")
    diff = json.loads(event.diff)
    assert diff["required_approver_ids"] == [None, sorted([w.tom.id, w.sofia.id])]
    assert diff["subject_id"] == [None, w.system.id] and diff["business_unit_id"] == [None, w.unit.id]

    r = client.post(f"{API}/reviews", headers=headers(db, w.requester), json=create_body(
        w, board="steering_committee", subject_type="use_case", subject_id=w.use_case.id, required_approver_ids=[],
        quorum=1, title="Go-live approval"))
    assert r.status_code == 201, r.text
    assert r.json()["key"] == "REV-0002"
    assert r.json()["subject"] == {"type": "use_case", "id": w.use_case.id, "label": f"{w.use_case.key} Loan decisions",
                                   "url": f"/use-cases/{w.use_case.key}", "exists": True}
    assert r.json()["progress"]["members"] == 1  # Priya


def test_a_bad_request_is_refused_with_every_reason_and_nothing_is_written(
        client: TestClient, db: Session, w: World) -> None:
    yesterday = (utcnow() - timedelta(days=1)).date().isoformat()
    r = client.post(f"{API}/reviews", headers=headers(db, w.requester), json=create_body(
        w, required_approver_ids=[w.priya.id, 99999, w.olga.id, w.sofia.id], quorum=4, due_date=yesterday))
    assert r.status_code == 422, r.text
    assert errors_of(r) == {
        "required_approver_ids": "No person 99999. Priya Raman is not a member of the ethics board for Retail. "
                                 "Olga Other is not a member of the ethics board for Retail.",
        "quorum": "The ethics board has 3 members for Retail; a quorum of 4 could never be reached.",
        "due_date": "The due date is in the past.",
    }
    r = client.post(f"{API}/reviews", headers=headers(db, w.requester), json=create_body(w, subject_id=99999))
    assert r.status_code == 422 and errors_of(r) == {"subject_id": "No AI system 99999."}
    r = client.post(f"{API}/reviews", headers=headers(db, w.requester),
                    json=create_body(w, subject_type="use_case", subject_id=99999))
    assert r.status_code == 422 and errors_of(r) == {"subject_id": "No use case 99999."}
    for bad in ({"quorum": 0}, {"board": "audit_committee"}, {"subject_type": "dataset"}, {"title": "  "},
                {"colour": "red"}):
        r = client.post(f"{API}/reviews", headers=headers(db, w.requester), json=create_body(w, **bad))
        assert r.status_code == 422, bad
        assert list(errors_of(r)) == [next(iter(bad))], r.text
    assert count(db, ReviewRequest) == 0
    assert events(db) == []


def test_one_open_request_per_board_and_subject(client: TestClient, db: Session, w: World) -> None:
    key = requested(db, client, w)
    r = client.post(f"{API}/reviews", headers=headers(db, w.requester), json=create_body(w))
    assert r.status_code == 409
    assert r.json()["detail"] == (f"{key} is already open with the ethics board for Credit Engine; decide or "
                                  "withdraw it first")
    assert r.json()["existing"] == key
    requested(db, client, w, board="steering_committee", required_approver_ids=[], quorum=1)  # another board
    client.post(f"{API}/reviews/{key}/withdraw", headers=headers(db, w.requester), json={})
    assert requested(db, client, w) == "REV-0003"  # once closed, a new one may be asked


def test_requesting_is_scoped_to_the_units_of_the_requester(client: TestClient, db: Session, w: World) -> None:
    local = make_user(db, roles=[("project_manager", w.unit)])
    r = client.post(f"{API}/reviews", headers=headers(db, local), json=create_body(
        w, subject_id=w.other_system.id, required_approver_ids=[]))
    assert r.status_code == 422 and errors_of(r) == {"subject_id": f"No AI system {w.other_system.id}."}
    # sees every system (practitioner CoE-wide) but may request reviews in Retail only
    sees_all = make_user(db, roles=[("project_manager", w.unit), ("practitioner", None)])
    r = client.post(f"{API}/reviews", headers=headers(db, sees_all), json=create_body(
        w, subject_id=w.other_system.id, required_approver_ids=[]))
    assert r.status_code == 403
    assert r.json()["detail"] == "the 'review:request' permission does not extend to that business unit"
    r = client.post(f"{API}/reviews", headers=headers(db, local), json=create_body(w))
    assert r.status_code == 201
    assert count(db, ReviewRequest) == 1


# --- deciding ------------------------------------------------------------------------------------------------------

def test_decisions_approve_with_the_conditions_collected(client: TestClient, db: Session, w: World) -> None:
    key = requested(db, client, w)
    r = decide(db, client, w.sofia, key, "approve_with_conditions",
               conditions="Quarterly fairness report to the board.", comment="Good evidence.")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "open"
    assert r.json()["progress"]["approvals"] == 1
    assert r.json()["progress"]["required_pending"] == [{"id": w.tom.id, "full_name": "Tom Lindqvist"}]
    r = decide(db, client, w.tom, key, "approve")
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["status"] == "approved_with_conditions"
    assert out["conditions"] == "Sofia Marquez: Quarterly fairness report to the board."
    assert out["decided_at"] is not None
    assert [(d["user"]["full_name"], d["decision"], d["conditions"], d["comment"]) for d in out["decisions"]] == [
        ("Sofia Marquez", "approve_with_conditions", "Quarterly fairness report to the board.", "Good evidence."),
        ("Tom Lindqvist", "approve", "", "")]
    r = decide(db, client, w.amara, key, "reject")
    assert r.status_code == 409
    assert r.json()["detail"] == f"{key} is approved with conditions; it takes no more decisions"
    first, second = events(db)[1:]
    assert first.action == "decide" and first.actor_label.startswith("sofia@example.com (token ")
    assert json.loads(first.diff) == {"decision": [None, "approve_with_conditions"], "user_id": [None, w.sofia.id],
                                      "conditions": [None, "Quarterly fairness report to the board."],
                                      "comment": [None, "Good evidence."]}
    assert json.loads(second.diff) == {
        "decision": [None, "approve"], "user_id": [None, w.tom.id],
        "status": ["open", "approved_with_conditions"],
        "request_conditions": [None, "Sofia Marquez: Quarterly fairness report to the board."]}


def test_a_member_may_change_their_decision_while_the_request_is_open(
        client: TestClient, db: Session, w: World) -> None:
    key = requested(db, client, w)
    assert decide(db, client, w.amara, key, "reject", comment="Not convinced").json()["status"] == "open"
    r = decide(db, client, w.amara, key, "approve")
    assert r.status_code == 200 and r.json()["status"] == "open"
    assert [(d["user"]["id"], d["decision"], d["comment"]) for d in r.json()["decisions"]] == [
        (w.amara.id, "approve", "")]
    before = len(events(db))
    assert decide(db, client, w.amara, key, "approve").status_code == 200  # the same again changes nothing
    assert len(events(db)) == before
    change = events(db)[-1]
    assert json.loads(change.diff) == {"decision": ["reject", "approve"], "comment": ["Not convinced", ""],
                                       "user_id": [None, w.amara.id]}
    assert count(db, ReviewDecision) == 1


def test_a_required_approver_rejecting_rejects_at_once(client: TestClient, db: Session, w: World) -> None:
    key = requested(db, client, w, quorum=1)
    assert decide(db, client, w.amara, key, "approve").json()["status"] == "open"
    r = decide(db, client, w.tom, key, "reject", comment="Affected people are not described.")
    assert r.json()["status"] == "rejected" and r.json()["conditions"] == ""
    assert r.json()["progress"] == {"approvals": 1, "rejections": 1, "quorum": 1, "members": 3,
                                    "required_pending": [{"id": w.sofia.id, "full_name": "Sofia Marquez"},
                                                         {"id": w.tom.id, "full_name": "Tom Lindqvist"}]}


def test_rejections_that_make_the_quorum_unreachable_reject(client: TestClient, db: Session, w: World) -> None:
    key = requested(db, client, w, required_approver_ids=[], quorum=2)
    assert decide(db, client, w.amara, key, "reject").json()["status"] == "open"  # Sofia and Tom remain
    assert decide(db, client, w.sofia, key, "reject").json()["status"] == "rejected"  # only Tom remains


def test_conditions_go_with_an_approval_with_conditions_only(client: TestClient, db: Session, w: World) -> None:
    key = requested(db, client, w)
    r = decide(db, client, w.sofia, key, "approve_with_conditions")
    assert r.status_code == 422 and errors_of(r) == {"conditions": "State the conditions of the approval."}
    r = decide(db, client, w.sofia, key, "approve", conditions="Monthly report")
    assert r.status_code == 422 and errors_of(r) == {
        "conditions": "Only an approval with conditions carries conditions; choose that decision or leave the "
                      "conditions empty."}
    r = decide(db, client, w.sofia, key, "abstain")
    assert r.status_code == 422 and list(errors_of(r)) == ["decision"]
    assert count(db, ReviewDecision) == 0
    assert [e.action for e in events(db)] == ["create"]


def test_only_members_of_the_board_for_the_unit_decide(client: TestClient, db: Session, w: World) -> None:
    key = requested(db, client, w)
    admin = make_user(db)  # holds review:decide but sits on no board
    r = decide(db, client, admin, key, "approve")
    assert r.status_code == 403 and r.json()["detail"] == f"only members of the ethics board may decide on {key}"
    assert decide(db, client, w.priya, key, "approve").status_code == 403  # the steering committee's member
    assert decide(db, client, w.olga, key, "approve").status_code == 404  # on the board for Insurance only
    assert decide(db, client, w.requester, key, "approve").status_code == 403  # no review:decide at all
    parent = make_unit(db, name="Group")
    child = make_unit(db, name="Cards", parent=parent)
    card_system = make_system(db, unit=child, name="Card Fraud")
    up_the_tree = make_user(db, full_name="Gil Group", roles=[("ethics_board", parent)])
    child_key = requested(db, client, w, subject_id=card_system.id, required_approver_ids=[up_the_tree.id], quorum=1)
    r = decide(db, client, up_the_tree, child_key, "approve")
    assert r.status_code == 200 and r.json()["status"] == "approved"
    assert count(db, ReviewDecision) == 1


def test_board_members_are_the_active_holders_of_its_role_over_the_unit(db: Session, w: World) -> None:
    fresh(db)
    names = [u.full_name for u in service.board_members(db, "ethics_board", w.unit.id)]
    assert names == ["Amara Nwosu", "Sofia Marquez", "Tom Lindqvist"]
    assert [u.full_name for u in service.board_members(db, "ethics_board", w.other.id)] == [
        "Amara Nwosu", "Olga Other", "Sofia Marquez", "Tom Lindqvist"]
    assert [u.full_name for u in service.board_members(db, "steering_committee", w.unit.id)] == ["Priya Raman"]
    _writing(db)
    db.get_one(User, w.tom.id).is_active = False
    db.commit()
    assert [u.full_name for u in service.board_members(db, "ethics_board", w.unit.id)] == [
        "Amara Nwosu", "Sofia Marquez"]


# --- comments and withdrawal -------------------------------------------------------------------------------------

def test_comments_by_the_requester_and_members_but_not_by_onlookers(
        client: TestClient, db: Session, w: World) -> None:
    key = requested(db, client, w)
    url = f"{API}/reviews/{key}/comments"
    r = client.post(url, headers=headers(db, w.amara), json={"body": "  Who can contest an outcome?  "})
    assert r.status_code == 201, r.text
    assert (r.json()["body"], r.json()["user"]) == ("Who can contest an outcome?",
                                                    {"id": w.amara.id, "full_name": "Amara Nwosu"})
    assert client.post(url, headers=headers(db, w.requester), json={"body": "Through the app."}).status_code == 201
    auditor = make_user(db, roles=[("auditor", None)])
    r = client.post(url, headers=headers(db, auditor), json={"body": "I see."})
    assert r.status_code == 403
    assert client.post(url, headers=headers(db, w.sofia), json={"body": " "}).status_code == 422
    got = client.get(f"{API}/reviews/{key}", headers=headers(db, auditor)).json()["comments"]
    assert [c["body"] for c in got] == ["Who can contest an outcome?", "Through the app."]
    assert [json.loads(e.diff)["body"][1] for e in events(db) if e.action == "comment"] == [
        "Who can contest an outcome?", "Through the app."]


def test_withdraw_by_the_requester_or_a_requester_of_the_unit(client: TestClient, db: Session, w: World) -> None:
    key = requested(db, client, w)
    url = f"{API}/reviews/{key}/withdraw"
    assert client.post(url, headers=headers(db, w.sofia), json={}).status_code == 403  # a member, not a requester
    local_other = make_user(db, roles=[("project_manager", w.other), ("practitioner", None)])
    assert client.post(url, headers=headers(db, local_other), json={}).status_code == 403
    r = client.post(url, headers=headers(db, w.requester), json={"reason": "Scope changed"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "withdrawn" and r.json()["decided_at"] is not None
    assert [c["body"] for c in r.json()["comments"]] == ["Withdrawn: Scope changed"]
    r = client.post(url, headers=headers(db, w.requester), json={})
    assert r.status_code == 409 and r.json()["detail"] == f"{key} is withdrawn; only an open request can be withdrawn"
    assert decide(db, client, w.sofia, key, "approve").status_code == 409
    event = events(db)[-1]
    assert event.action == "withdraw"
    diff = json.loads(event.diff)
    assert diff["status"] == ["open", "withdrawn"] and diff["reason"] == [None, "Scope changed"]
    # another holder of review:request for the unit may withdraw someone else's request
    key = requested(db, client, w)
    colleague = make_user(db, roles=[("product_strategist", w.unit)])
    assert client.post(f"{API}/reviews/{key}/withdraw", headers=headers(db, colleague), json={}).status_code == 200


# --- reading and scoping -----------------------------------------------------------------------------------------

def test_the_list_filters_and_what_awaits_me(client: TestClient, db: Session, w: World) -> None:
    first = requested(db, client, w, title="Ethics review of Credit Engine")
    second = requested(db, client, w, board="steering_committee", required_approver_ids=[], quorum=1,
                       title="Steering look at Credit Engine")
    third = requested(db, client, w, subject_type="use_case", subject_id=w.use_case.id, title="Loan programme")
    decide(db, client, w.sofia, third, "approve")
    other = requested(db, client, w, subject_id=w.other_system.id, required_approver_ids=[w.olga.id], quorum=1,
                      title="Claims ethics")
    decide(db, client, w.olga, other, "approve")

    def keys(user: User, **params: Any) -> list[str]:
        r = client.get(f"{API}/reviews", headers=headers(db, user), params=params)
        assert r.status_code == 200, r.text
        return [item["key"] for item in r.json()["items"]]

    assert keys(w.sofia) == [other, third, second, first]  # newest first
    assert keys(w.sofia, status="approved") == [other]
    assert keys(w.sofia, board="steering_committee") == [second]
    assert keys(w.sofia, subject_type="use_case") == [third]
    assert keys(w.sofia, subject_type="ai_system", subject_id=w.system.id) == [second, first]
    assert keys(w.sofia, business_unit_id=w.other.id) == [other]
    assert keys(w.sofia, q="credit ENGINE") == [second, first]
    assert keys(w.sofia, q=third.lower()) == [third]
    assert keys(w.sofia, sort="key") == [first, second, third, other]
    assert keys(w.sofia, awaiting_me=True) == [first]  # she decided on the third; the second is the steering's
    assert keys(w.tom, awaiting_me=True) == [third, first]
    assert keys(w.priya, awaiting_me=True) == [second]
    assert keys(w.olga, awaiting_me=True) == []
    assert keys(w.requester, awaiting_me=True) == []
    r = client.get(f"{API}/reviews", headers=headers(db, w.sofia), params={"status": "pending"})
    assert r.status_code == 422
    assert errors_of(r) == {"status": "Unknown value 'pending'; allowed: open, approved, approved_with_conditions, "
                                      "rejected, withdrawn."}
    r = client.get(f"{API}/reviews", headers=headers(db, w.sofia), params={"sort": "colour"})
    assert r.status_code == 422 and list(errors_of(r)) == ["sort"]


def test_a_unit_scoped_reader_sees_their_units_only(client: TestClient, db: Session, w: World) -> None:
    mine = requested(db, client, w)
    theirs = requested(db, client, w, subject_id=w.other_system.id, required_approver_ids=[])
    local = make_user(db, roles=[("practitioner", w.unit)])
    r = client.get(f"{API}/reviews", headers=headers(db, local))
    assert [i["key"] for i in r.json()["items"]] == [mine]
    assert client.get(f"{API}/reviews/{theirs}", headers=headers(db, local)).status_code == 404
    assert client.get(f"{API}/reviews/{mine.lower()}", headers=headers(db, local)).status_code == 200
    assert client.get(f"{API}/reviews/REV-9999", headers=headers(db, local)).status_code == 404
    assert client.post(f"{API}/reviews/{theirs}/comments", headers=headers(db, w.olga),
                       json={"body": "Mine to see"}).status_code == 201
    assert client.post(f"{API}/reviews/{mine}/comments", headers=headers(db, w.olga),
                       json={"body": "Not mine"}).status_code == 404


# --- cadences ------------------------------------------------------------------------------------------------------

def test_cadences_have_defaults_and_can_be_set(client: TestClient, db: Session, w: World) -> None:
    r = client.get(f"{API}/review-cadences", headers=headers(db, w.requester))
    assert r.json() == [
        {"risk_tier": "high", "interval_months": 12, "board": "ethics_board", "is_default": True},
        {"risk_tier": "limited", "interval_months": 24, "board": "ethics_board", "is_default": True},
        {"risk_tier": "minimal", "interval_months": 36, "board": "ethics_board", "is_default": True}]
    r = client.put(f"{API}/review-cadences/high", headers=headers(db, w.sofia), json={"interval_months": 6})
    assert r.status_code == 200, r.text
    assert r.json() == {"risk_tier": "high", "interval_months": 6, "board": "ethics_board", "is_default": False}
    r = client.put(f"{API}/review-cadences/high", headers=headers(db, w.sofia),
                   json={"interval_months": 6, "board": "steering_committee"})
    assert r.json()["board"] == "steering_committee"
    assert client.get(f"{API}/review-cadences", headers=headers(db, w.requester)).json()[0] == {
        "risk_tier": "high", "interval_months": 6, "board": "steering_committee", "is_default": False}
    assert [(e.action, e.entity_id, json.loads(e.diff)) for e in events(db, "review_cadence")] == [
        ("create", "high", {"id": [None, 1], "risk_tier": [None, "high"], "interval_months": [None, 6],
                            "board": [None, "ethics_board"]}),
        ("update", "high", {"board": ["ethics_board", "steering_committee"]})]
    r = client.put(f"{API}/review-cadences/prohibited", headers=headers(db, w.sofia), json={"interval_months": 1})
    assert r.status_code == 422 and errors_of(r) == {
        "risk_tier": "A prohibited AI system must not be in use, so it has no re-review cadence."}
    r = client.put(f"{API}/review-cadences/extreme", headers=headers(db, w.sofia), json={"interval_months": 1})
    assert r.status_code == 422 and errors_of(r) == {
        "risk_tier": "Unknown risk tier 'extreme'; tiers: prohibited, high, limited, minimal."}
    for bad in ({"interval_months": 0}, {"interval_months": 121}, {"interval_months": 6, "board": "x"}):
        assert client.put(f"{API}/review-cadences/limited", headers=headers(db, w.sofia), json=bad).status_code == 422
    scoped = make_user(db, roles=[("risk_compliance", w.unit)])  # review_cadence:write is CoE-wide only
    assert client.put(f"{API}/review-cadences/limited", headers=headers(db, scoped),
                      json={"interval_months": 6}).status_code == 403
    assert count(db, ReviewCadence) == 1


# --- the re-review schedule ---------------------------------------------------------------------------------------

def _approve(db: Session, subject_type: str, subject_id: int, board: str, member: User, when: datetime) -> str:
    """A review approved by one member at ``when`` (requested by the system a moment before)."""
    _writing(db)
    review = service.request_review(db, None, ReviewCreate(
        board=board, subject_type=subject_type, subject_id=subject_id, title="Periodic review", quorum=1), at=when)
    service.decide(db, Principal.resolve(db, member), review.key, DecisionIn(decision="approve"), at=when)
    db.commit()
    return review.key


@pytest.fixture
def any_db(any_db_url: str, tmp_path: Path) -> Iterator[Session]:
    """A session on SQLite, then PostgreSQL (the schedule's queries are SQL)."""
    session = create_app(make_settings(any_db_url, tmp_path / "any")).state.sessionmaker()
    yield session
    session.rollback()
    session.close()


def test_the_schedule_and_the_overdue_list_with_exact_dates(any_db: Session) -> None:
    db = any_db
    w = build(db)
    limited_uc = make_use_case(db, unit=w.unit, title="Chat")
    minimal_uc = make_use_case(db, unit=w.unit, title="Forecasts")
    chat = make_system(db, unit=w.unit, name="Chat Helper", use_case=limited_uc, risk_tier="limited")
    make_system(db, unit=w.unit, name="Forecaster", use_case=minimal_uc, risk_tier="minimal")
    fraud = make_system(db, unit=w.unit, name="Fraud Scorer", risk_tier="high")
    make_system(db, unit=w.unit, name="Old Scorer", risk_tier="high", lifecycle_status="retired")
    make_system(db, unit=w.unit, name="Social Scorer", risk_tier="prohibited")
    make_system(db, unit=w.unit, name="Unclassified")
    _approve(db, "ai_system", w.system.id, "ethics_board", w.sofia, datetime(2024, 12, 1, 10, tzinfo=UTC))
    credit = _approve(db, "ai_system", w.system.id, "ethics_board", w.sofia, datetime(2025, 1, 31, 10, tzinfo=UTC))
    uc_key = _approve(db, "use_case", minimal_uc.id, "ethics_board", w.tom, datetime(2025, 6, 15, 9, tzinfo=UTC))
    _approve(db, "ai_system", fraud.id, "steering_committee", w.priya, datetime(2025, 12, 1, 9, tzinfo=UTC))
    _writing(db)
    pending = service.request_review(db, None, ReviewCreate(board="ethics_board", subject_type="ai_system",
                                                            subject_id=chat.id, title="First review", quorum=2)).key
    db.commit()

    def rows(today: date, principal: Principal | None = None, **filters: Any) -> list[tuple[Any, ...]]:
        fresh(db)
        return [(e.system.name, e.cadence.risk_tier, e.last_review.key if e.last_review else None,
                 e.last_reviewed_on, e.next_due, e.overdue, e.open_review)
                for e in service.schedule(db, principal, today=today, **filters)]

    day = date(2026, 2, 1)
    assert rows(day) == [
        ("Chat Helper", "limited", None, None, None, True, pending),
        ("Claims Triage", "high", None, None, None, True, None),
        ("Fraud Scorer", "high", None, None, None, True, None),  # the steering's approval is not the ethics board's
        ("Credit Engine", "high", credit, date(2025, 1, 31), date(2026, 1, 31), True, None),  # the latest counts
        ("Forecaster", "minimal", uc_key, date(2025, 6, 15), date(2028, 6, 15), False, None),  # its use case's
    ]
    assert [r[0] for r in rows(date(2026, 1, 31)) if r[5]] == ["Chat Helper", "Claims Triage", "Fraud Scorer"]
    fresh(db)
    assert [e.system.name for e in service.overdue(db, None, today=day, risk_tier="high")] == [
        "Claims Triage", "Fraud Scorer", "Credit Engine"]
    assert [e.system.name for e in service.overdue(db, None, today=day, business_unit_id=w.other.id)] == [
        "Claims Triage"]
    local = Principal.resolve(db, make_user(db, roles=[("practitioner", w.other)]))
    assert [r[0] for r in rows(day, local)] == ["Claims Triage"]

    _writing(db)
    service.set_cadence(db, None, "high", CadenceIn(interval_months=6, board="steering_committee"))
    service.set_cadence(db, None, "minimal", CadenceIn(interval_months=6))
    db.commit()
    assert rows(day)[1:] == [
        ("Claims Triage", "high", None, None, None, True, None),
        ("Credit Engine", "high", None, None, None, True, None),
        ("Forecaster", "minimal", uc_key, date(2025, 6, 15), date(2025, 12, 15), True, None),
        ("Fraud Scorer", "high", "REV-0004", date(2025, 12, 1), date(2026, 6, 1), False, None),
    ]


def test_the_schedule_through_the_api(client: TestClient, db: Session, w: World) -> None:
    recent = utcnow() - timedelta(days=30)
    _approve(db, "ai_system", w.system.id, "ethics_board", w.sofia, recent)
    r = client.get(f"{API}/reviews/schedule", headers=headers(db, w.requester))
    assert r.status_code == 200, r.text
    credit_due = service.add_months(recent.date(), 12)
    assert r.json() == [
        {"ai_system": {"id": w.other_system.id, "name": "Claims Triage"},
         "business_unit": {"id": w.other.id, "name": "Insurance"}, "risk_tier": "high", "board": "ethics_board",
         "interval_months": 12, "last_review": None, "next_due": None, "overdue": True, "open_review": None},
        {"ai_system": {"id": w.system.id, "name": "Credit Engine"},
         "business_unit": {"id": w.unit.id, "name": "Retail"}, "risk_tier": "high", "board": "ethics_board",
         "interval_months": 12,
         "last_review": {"key": "REV-0001", "decided_on": recent.date().isoformat()},
         "next_due": credit_due.isoformat(), "overdue": False, "open_review": None}]
    r = client.get(f"{API}/reviews/schedule", headers=headers(db, w.requester), params={"overdue": True})
    assert [e["ai_system"]["name"] for e in r.json()] == ["Claims Triage"]
    r = client.get(f"{API}/reviews/schedule", headers=headers(db, w.requester), params={"risk_tier": "severe"})
    assert r.status_code == 422 and list(errors_of(r)) == ["risk_tier"]


# --- pages ---------------------------------------------------------------------------------------------------------

@pytest.fixture
def people(db: Session, settings: Settings) -> World:
    return build(db, settings)


def test_request_a_review_through_the_form(client: TestClient, db: Session, people: World) -> None:
    w = people
    login(client, w.requester.email)
    page = client.get("/reviews/new", params={"subject_type": "ai_system", "subject_id": w.system.id})
    assert page.status_code == 200
    assert f'<option value="ai_system:{w.system.id}" selected>AI system: Credit Engine</option>' in page.text
    assert f'value="{w.sofia.id}"> Sofia Marquez' in page.text and "Olga Other" not in page.text  # Retail's board
    form = {"csrf_token": csrf_from(page.text), "subject": f"ai_system:{w.system.id}", "board": "ethics_board",
            "title": "", "quorum": "7", "required_approver_ids": [str(w.priya.id)]}
    r = client.post("/reviews", data=form)
    assert r.status_code == 422
    assert '<p class="field-error" id="e-title">This field is required.</p>' in r.text
    r = client.post("/reviews", data={**form, "title": "Ethics review before the pilot"})
    assert r.status_code == 422
    assert "Priya Raman is not a member of the ethics board for Retail." in r.text
    assert "a quorum of 7 could never be reached." in r.text
    assert 'value="Ethics review before the pilot"' in r.text  # what the user typed is kept
    r = client.post("/reviews", data={**form, "subject": ""})
    assert r.status_code == 422 and "Choose the AI system or use case to review." in r.text
    assert count(db, ReviewRequest) == 0
    r = client.post("/reviews", data={**form, "title": "Ethics review before the pilot", "quorum": "2",
                                      "required_approver_ids": [str(w.sofia.id), str(w.tom.id)]},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/reviews/REV-0001"
    page = client.get("/reviews/REV-0001")
    assert "REV-0001 sent to the ethics board." in page.text
    assert "Record decision" not in page.text  # the requester is no member
    assert "Withdraw the request" in page.text


def test_a_member_decides_and_comments_on_the_page(client: TestClient, db: Session, people: World) -> None:
    w = people
    _writing(db)
    key = service.request_review(db, Principal.resolve(db, w.requester), ReviewCreate(
        board="ethics_board", subject_type="ai_system", subject_id=w.system.id, title="Ethics review",
        required_approver_ids=[w.sofia.id], quorum=1)).key
    db.commit()
    login(client, w.sofia.email)
    listing = client.get("/reviews")
    assert "Awaiting your decision (1)" in listing.text and f"{key} Ethics review" in listing.text
    page = client.get(f"/reviews/{key}")
    assert "Your decision" in page.text and "0 of 1</strong> approving decision needed" in page.text
    token = csrf_from(page.text)
    r = client.post(f"/reviews/{key}/decisions", data={"csrf_token": token, "decision": "approve_with_conditions"})
    assert r.status_code == 422
    assert '<p class="field-error" id="e-conditions">State the conditions of the approval.</p>' in r.text
    r = client.post(f"/reviews/{key}/comments", data={"csrf_token": token, "body": "Looks careful."})
    assert r.status_code == 200 and "Comment added." in r.text
    r = client.post(f"/reviews/{key}/decisions", data={"csrf_token": token, "decision": "approve_with_conditions",
                                                       "conditions": "Report quarterly."})
    assert r.status_code == 200
    assert f"Your decision on {key} is recorded. The request is now approved with conditions." in r.text
    assert "Sofia Marquez: Report quarterly." in r.text and "Record decision" not in r.text
    assert "Awaiting your decision" not in client.get("/reviews").text
    assert f"{key} Ethics review" in client.get("/reviews", params={"status": "any"}).text
    assert f"{key} Ethics review" not in client.get("/reviews").text  # open requests by default
    fresh(db)
    assert [c.body for c in db.scalars(select(ReviewComment))] == ["Looks careful."]


def test_withdraw_on_the_page(client: TestClient, db: Session, people: World) -> None:
    w = people
    _writing(db)
    key = service.request_review(db, Principal.resolve(db, w.requester), ReviewCreate(
        board="ethics_board", subject_type="ai_system", subject_id=w.system.id, title="Ethics review")).key
    db.commit()
    login(client, w.requester.email)
    token = csrf_from(client.get(f"/reviews/{key}").text)
    r = client.post(f"/reviews/{key}/withdraw", data={"csrf_token": token})
    assert r.status_code == 200 and f"{key} withdrawn." in r.text
    r = client.post(f"/reviews/{key}/withdraw", data={"csrf_token": token})
    assert r.status_code == 409 and "only an open request can be withdrawn" in r.text


def test_the_schedule_page_and_its_cadence_form(client: TestClient, db: Session, people: World) -> None:
    w = people
    login(client, w.sofia.email)
    page = client.get("/reviews/schedule")
    assert page.status_code == 200
    assert "Overdue (2)" in page.text and "Credit Engine" in page.text and "Claims Triage" in page.text
    assert 'action="/reviews/schedule/cadences"' in page.text
    token = csrf_from(page.text)
    url = "/reviews/schedule/cadences"
    r = client.post(url, data={"csrf_token": token, "tier": "high", "interval_months": "6", "board": "ethics_board"})
    assert r.status_code == 200 and "High-risk: a review every 6 months by the ethics board." in r.text
    r = client.post(url, data={"csrf_token": token, "tier": "high", "interval_months": "0", "board": "ethics_board"})
    assert r.status_code == 422
    assert ('<p class="field-error" id="e-interval_months">Input should be greater than or equal to 1.</p>'
            in r.text)
    assert 'value="0"' in r.text  # what the user typed is kept
    r = client.post(url, data={"csrf_token": token, "tier": "prohibited", "interval_months": "3"})
    assert r.status_code == 422 and ('<p class="field-error" id="e-tier">A prohibited AI system must not be in use, '
                                     'so it has no re-review cadence.</p>') in r.text
    fresh(db)
    assert db.scalar(select(ReviewCadence.interval_months).where(ReviewCadence.risk_tier == "high")) == 6
    filtered = client.get("/reviews/schedule", params={"business_unit_id": w.other.id})
    assert "Overdue (1)" in filtered.text
    client.post("/logout", data={"csrf_token": token})
    login(client, w.requester.email)
    assert 'action="/reviews/schedule/cadences"' not in client.get("/reviews/schedule").text


def test_the_ai_system_page_shows_its_reviews(client: TestClient, db: Session, people: World) -> None:
    w = people
    _writing(db)
    on_use_case = service.request_review(db, None, ReviewCreate(
        board="steering_committee", subject_type="use_case", subject_id=w.use_case.id, title="Go-live")).key
    db.commit()
    login(client, w.requester.email)
    page = client.get(f"/ai-systems/{w.system.id}")
    assert page.status_code == 200
    assert "Reviews and approvals" in page.text
    assert f"{on_use_case} Go-live" in page.text
    assert "Next re-review by the ethics board: <strong>now</strong> (never approved)" in page.text
    assert f'href="/reviews/new?subject_type=ai_system&amp;subject_id={w.system.id}"' in page.text
    viewer = make_user(db, roles=[("viewer", None)], password=PASSWORD, settings=client.app.state.settings)
    client.post("/logout", data={"csrf_token": csrf_from(page.text)})
    login(client, viewer.email)
    assert "Reviews and approvals" not in client.get(f"/ai-systems/{w.system.id}").text


# --- CLI -----------------------------------------------------------------------------------------------------------

runner = CliRunner()


def test_the_cli_lists_shows_and_reports_overdue(db: Session, w: World, settings: Settings,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    use_cli_database(monkeypatch, settings.database_url, settings.data_dir)
    approved = _approve(db, "ai_system", w.system.id, "ethics_board", w.sofia, datetime(2025, 3, 1, 9, tzinfo=UTC))
    _writing(db)
    service.add_comment(db, Principal.resolve(db, w.sofia), approved, CommentIn(body="Fine by me."))
    db.commit()
    r = runner.invoke(cli_app, ["review", "list"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "REV-0001" in r.output and "Credit Engine" in r.output and "1 of 1 review requests" in r.output
    r = runner.invoke(cli_app, ["review", "list", "--status", "open"], catch_exceptions=False)
    assert "0 of 0 review requests" in r.output
    r = runner.invoke(cli_app, ["review", "list", "--board", "jury"], catch_exceptions=False)
    assert r.exit_code == 1 and "Unknown value 'jury'" in r.output
    r = runner.invoke(cli_app, ["review", "show", "rev-0001"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    for text in ("Periodic review", "Ethics board", "Approved", "1 of 1 approvals", "Sofia Marquez", "Fine by me."):
        assert text in r.output, text
    r = runner.invoke(cli_app, ["review", "show", "REV-0404"], catch_exceptions=False)
    assert r.exit_code == 1 and "no review request REV-0404" in r.output
    r = runner.invoke(cli_app, ["review", "overdue", "--today", "2026-03-01"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "Claims Triage" in r.output and "Credit Engine" not in r.output  # due on 2026-03-01 itself
    assert "1 AI system overdue for review" in r.output
    r = runner.invoke(cli_app, ["review", "overdue", "--today", "2026-03-02"], catch_exceptions=False)
    assert "Credit Engine" in r.output and "REV-0001 2025-03-01" in r.output
    assert "2 AI systems overdue for review" in r.output
    r = runner.invoke(cli_app, ["review", "overdue", "--today", "March"], catch_exceptions=False)
    assert r.exit_code == 1 and "Give the date as YYYY-MM-DD." in r.output


# --- demo ----------------------------------------------------------------------------------------------------------

def test_the_demo_seed_is_idempotent_and_shows_an_overdue_system(db: Session, settings: Settings) -> None:
    from aicoe.demo import DemoResult
    from aicoe.demo.governance_reviews import seed_reviews
    from aicoe.demo.inventory import seed_inventory
    from aicoe.demo.org import seed_org
    from aicoe.demo.portfolio import seed_portfolio

    _writing(db)
    result = DemoResult()
    for seeder in (seed_org, seed_portfolio, seed_inventory):
        seeder(db, settings, result)
    high = ["AML Prioritiser", "Claims Triage", "Credit Decision Engine", "Fraud Sentinel"]
    for system in db.scalars(select(AISystem).where(AISystem.name.in_(high))):
        system.risk_tier = "high"
    db.flush()
    result = DemoResult()
    seed_reviews(db, settings, result)
    db.commit()
    assert result.created == {"review cadences": 3, "review requests": 5}
    fresh(db)
    reviews = {r.title: r for r in db.scalars(select(ReviewRequest))}
    assert {t: r.status for t, r in reviews.items()} == {
        "Ethics review of AML Prioritiser": "approved",
        "Ethics review of Claims Triage": "approved_with_conditions",
        "Ethics review of Credit Decision Engine": "open",
        "Ethics review of Fraud Sentinel": "approved",
        "Go-live approval for AML alert prioritisation": "approved",  # the use case of the first high-risk system
    }
    assert reviews["Ethics review of Claims Triage"].conditions.startswith("Sofia Marquez: Quarterly fairness report")
    assert len(reviews["Ethics review of Credit Decision Engine"].decisions) == 1
    overdue = [e.system.name for e in service.overdue(db, None)]
    assert "Credit Decision Engine" in overdue and "Fraud Sentinel" in overdue
    assert "AML Prioritiser" not in overdue and "Claims Triage" not in overdue
    _writing(db)
    again = DemoResult()
    seed_reviews(db, settings, again)
    db.commit()
    assert again.created == {}
    assert count(db, ReviewRequest) == 5
