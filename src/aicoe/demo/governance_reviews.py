"""Seed Meridian Trust's board reviews through the services (idempotent: skips what exists).

The re-review cadences; an ethics-board review of each high-risk AI system (as classified by the earlier
seeder): one approved eleven months ago (due again next month), one approved with conditions, one still open
with one decision in (so never approved: overdue), and one approved fourteen months ago (its yearly re-review has
lapsed: overdue); and a steering-committee go-live approval of a use case.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from aicoe.auth.principal import Principal
from aicoe.config import Settings
from aicoe.core.time import utcnow
from aicoe.demo.org import DOMAIN
from aicoe.models.inventory import AISystem
from aicoe.models.org import User
from aicoe.models.portfolio import UseCase
from aicoe.models.reviews import ReviewCadence, ReviewRequest
from aicoe.reviews import service
from aicoe.reviews.constants import DEFAULT_CADENCES
from aicoe.reviews.schemas import CadenceIn, CommentIn, DecisionIn, ReviewCreate

if TYPE_CHECKING:
    from aicoe.demo import DemoResult

REQUESTER = "fatima.zahra"


@dataclass(frozen=True)
class Decision:
    who: str
    decision: str
    conditions: str = ""
    comment: str = ""


@dataclass(frozen=True)
class Plan:
    """How one demo review went: who had to approve, the quorum, when it was decided and who said what."""

    required: tuple[str, ...]
    quorum: int
    days_ago: int  # when the last decision came in (the request came two weeks before)
    decisions: tuple[Decision, ...]
    comment: tuple[str, str] | None = None  # (who, text)


ETHICS_PLANS: list[Plan] = [
    Plan(("sofia.marquez",), 2, 335, (
        Decision("sofia.marquez", "approve", comment="Human review of every adverse outcome is in place."),
        Decision("tom.lindqvist", "approve", comment="Conduct risk is addressed by the complaint route."))),
    Plan(("sofia.marquez", "tom.lindqvist"), 2, 90, (
        Decision("sofia.marquez", "approve_with_conditions",
                 conditions="Quarterly fairness report to the board across age and gender; re-run the bias tests "
                            "before each model release."),
        Decision("tom.lindqvist", "approve"))),
    Plan(("sofia.marquez", "amara.nwosu"), 2, -1, (
        Decision("sofia.marquez", "approve", comment="The bias testing evidence is convincing."),),
         comment=("amara.nwosu", "Before deciding I would like to see how customers can contest an outcome.")),
    Plan(("tom.lindqvist",), 2, 425, (
        Decision("tom.lindqvist", "approve"),
        Decision("amara.nwosu", "approve", comment="Customer notices are clear."))),
]
STEERING_PLAN = Plan(("priya.raman",), 2, 150, (
    Decision("priya.raman", "approve", comment="Within the risk appetite agreed for the year."),
    Decision("marcus.chen", "approve", comment="Delivery plan and run costs are funded.")))


def _count(result: DemoResult, what: str) -> None:
    result.created[what] = result.created.get(what, 0) + 1


def seed_reviews(session: Session, settings: Settings, result: DemoResult) -> None:
    stored = set(session.scalars(select(ReviewCadence.risk_tier)))
    for tier, (months, board) in DEFAULT_CADENCES.items():
        if tier not in stored:
            service.set_cadence(session, None, tier, CadenceIn(interval_months=months, board=board))
            _count(result, "review cadences")
    people = {u.email.split("@")[0]: u for u in session.scalars(select(User).where(User.email.like(f"%@{DOMAIN}")))}
    if REQUESTER not in people:
        return
    principals: dict[str, Principal] = {}

    def act(name: str) -> Principal:
        if name not in principals:
            principals[name] = Principal.resolve(session, people[name])
        return principals[name]

    high = list(session.scalars(select(AISystem).where(AISystem.risk_tier == "high").order_by(AISystem.name)))
    now = utcnow()
    for system, plan in zip(high, ETHICS_PLANS, strict=False):
        _seed_one(session, act, plan, now, result, ReviewCreate(
            board="ethics_board", subject_type="ai_system", subject_id=system.id,
            title=f"Ethics review of {system.name}", quorum=plan.quorum,
            description=f"{system.name} is classified high-risk under the EU AI Act. Please review the purpose, the "
                        "people affected, the human oversight and the assessment evidence before it is relied on.",
            required_approver_ids=[people[n].id for n in plan.required]))
    use_case = _steering_subject(session, high)
    if use_case is not None:
        _seed_one(session, act, STEERING_PLAN, now, result, ReviewCreate(
            board="steering_committee", subject_type="use_case", subject_id=use_case.id,
            title=f"Go-live approval for {use_case.title}", quorum=STEERING_PLAN.quorum,
            description="Approve the move to production: value case, delivery plan and residual risk.",
            required_approver_ids=[people[n].id for n in STEERING_PLAN.required]))


def _steering_subject(session: Session, high: list[AISystem]) -> UseCase | None:
    """The use case of the first high-risk system that has one, else the first use case in pilot or production."""
    for system in high:
        if system.use_case_id is not None:
            return session.get(UseCase, system.use_case_id)
    return session.scalar(select(UseCase).where(UseCase.stage.in_(["pilot", "production"])).order_by(UseCase.id))


def _seed_one(session: Session, act: Callable[[str], Principal], plan: Plan, now: datetime, result: DemoResult,
              data: ReviewCreate) -> None:
    """Request the review as the requester, then have each member decide (backdated), unless it exists."""
    exists = session.scalar(select(ReviewRequest.id).where(
        ReviewRequest.subject_type == data.subject_type, ReviewRequest.subject_id == data.subject_id,
        ReviewRequest.board == data.board, ReviewRequest.title == data.title))
    if exists is not None:
        return
    decided = now - timedelta(days=plan.days_ago) if plan.days_ago >= 0 else now - timedelta(hours=2)
    requested = decided - timedelta(days=14)
    data = data.model_copy(update={"due_date": (requested + timedelta(days=28)).date()})
    review = service.request_review(session, act(REQUESTER), data, at=requested)
    for step, d in enumerate(plan.decisions):
        service.decide(session, act(d.who), review.key,
                       DecisionIn(decision=d.decision, conditions=d.conditions, comment=d.comment),
                       at=decided - timedelta(days=len(plan.decisions) - 1 - step))
    if plan.comment is not None:
        who, text = plan.comment
        service.add_comment(session, act(who), review.key, CommentIn(body=text), at=decided)
    _count(result, "review requests")
