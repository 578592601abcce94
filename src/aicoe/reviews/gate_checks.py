"""The governance stage-gate checks (contract in ``aicoe.portfolio.gates``; list in docs/reviews.md).

They look at the AI systems that deliver the use case (``AISystem.use_case_id``) as they stand:

* ``governance.not_prohibited``: none is classified as a prohibited practice. Registered on every gate after
  idea up to production, so such a use case cannot move forward anywhere (retiring it stays possible).
* ``governance.classification`` (overridable): each has a current EU AI Act classification.
* ``governance.high_risk_assessment``: each high-risk one has an assessment, not archived, at least the
  ``gate_min_assessment_completion`` setting complete.
* ``governance.ethics_approval``: each high-risk one, or the use case, has an approved ethics-board review.

The last three guard pilot and production. A use case without AI systems passes them all. The threshold comes
from the Settings that the app, the CLI and the job runner put in ``session.info["settings"]``.
"""

from __future__ import annotations

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from aicoe.config import Settings
from aicoe.models.compliance import Assessment, Classification
from aicoe.models.inventory import AISystem
from aicoe.models.portfolio import UseCase
from aicoe.models.reviews import ReviewRequest
from aicoe.portfolio.gates import registry
from aicoe.reviews.constants import APPROVED_STATUSES

FORWARD_STAGES = ("qualified", "prioritised", "proof_of_concept", "pilot", "production")
GOVERNED_STAGES = ("pilot", "production")
TOLERANCE = 1e-9  # completion is a ratio of counts: 0.8 stored may read back a hair under 0.8


def _systems(session: Session, use_case: UseCase) -> list[AISystem]:
    return list(session.scalars(select(AISystem).where(AISystem.use_case_id == use_case.id).order_by(AISystem.name)))


def min_completion(session: Session) -> float:
    settings = session.info.get("settings")
    if isinstance(settings, Settings):
        return settings.gate_min_assessment_completion
    return float(Settings.model_fields["gate_min_assessment_completion"].default)


def percent(share: float) -> str:
    value = round(share * 100, 1)
    return f"{value:g}%"


def not_prohibited(session: Session, use_case: UseCase) -> str | None:
    prohibited = [s for s in _systems(session, use_case) if s.risk_tier == "prohibited"]
    return " ".join(f"AI system {s.name} is classified as a prohibited practice under Article 5 of the EU AI Act; "
                    "it cannot advance." for s in prohibited) or None


def classification(session: Session, use_case: UseCase) -> str | None:
    systems = _systems(session, use_case)
    if not systems:
        return None
    classified = set(session.scalars(select(Classification.ai_system_id).where(
        Classification.ai_system_id.in_([s.id for s in systems]), Classification.is_current.is_(True))))
    missing = [s.name for s in systems if s.id not in classified]
    if not missing:
        return None
    if len(missing) == 1:
        return f"AI system {missing[0]} has no EU AI Act classification; classify it."
    return f"AI systems {', '.join(missing)} have no EU AI Act classification; classify them."


def high_risk_assessment(session: Session, use_case: UseCase) -> str | None:
    high = [s for s in _systems(session, use_case) if s.risk_tier == "high"]
    if not high:
        return None
    threshold = min_completion(session)
    best: dict[int, float] = {}
    for system_id, completion in session.execute(select(Assessment.ai_system_id, Assessment.completion).where(
            Assessment.ai_system_id.in_([s.id for s in high]), Assessment.status != "archived")):
        best[system_id] = max(best.get(system_id, 0.0), completion)
    problems = []
    for s in high:
        if s.id not in best:
            problems.append(f"High-risk AI system {s.name} has no assessment; one at least {percent(threshold)} "
                            "complete is required.")
        elif best[s.id] < threshold - TOLERANCE:
            problems.append(f"High-risk AI system {s.name}: its most complete assessment is {percent(best[s.id])} "
                            f"complete; at least {percent(threshold)} is required.")
    return " ".join(problems) or None


def ethics_approval(session: Session, use_case: UseCase) -> str | None:
    high = [s for s in _systems(session, use_case) if s.risk_tier == "high"]
    if not high:
        return None
    about_use_case = and_(ReviewRequest.subject_type == "use_case", ReviewRequest.subject_id == use_case.id)
    about_systems = and_(ReviewRequest.subject_type == "ai_system",
                         ReviewRequest.subject_id.in_([s.id for s in high]))
    reviews = list(session.scalars(select(ReviewRequest).where(
        ReviewRequest.board == "ethics_board", or_(about_use_case, about_systems)).order_by(ReviewRequest.id)))
    if any(r.subject_type == "use_case" and r.status in APPROVED_STATUSES for r in reviews):
        return None
    problems = []
    for s in high:
        mine = [r for r in reviews if r.subject_type == "ai_system" and r.subject_id == s.id]
        if any(r.status in APPROVED_STATUSES for r in mine):
            continue
        latest = ([r for r in reviews if r.subject_type == "use_case"] + mine)
        latest.sort(key=lambda r: r.id)
        if latest and latest[-1].status == "open":
            state = f"{latest[-1].key} is awaiting the board's decision"
        elif latest and latest[-1].status == "rejected":
            state = f"{latest[-1].key} was rejected"
        else:
            state = f"request an ethics-board review of it or of use case {use_case.key}"
        problems.append(f"High-risk AI system {s.name} has no ethics-board approval: {state}.")
    return " ".join(problems) or None


for _stage in FORWARD_STAGES:
    registry.register(_stage, "governance.not_prohibited",
                      label="No prohibited AI practice (EU AI Act Art. 5)")(not_prohibited)
for _stage in GOVERNED_STAGES:
    registry.register(_stage, "governance.classification", overridable=True,
                      label="AI systems classified under the EU AI Act")(classification)
    registry.register(_stage, "governance.high_risk_assessment",
                      label="High-risk AI systems assessed")(high_risk_assessment)
    registry.register(_stage, "governance.ethics_approval",
                      label="Ethics-board approval for high-risk AI systems")(ethics_approval)
