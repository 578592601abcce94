"""The portfolio's own gate checks (see gates.py for the contract and docs/gates.md for the list).

Each check reads the use case as it stands and returns ``None`` when it passes or what is missing when it fails.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aicoe.models.portfolio import SuccessCriterion, UseCase
from aicoe.portfolio.constants import DELIVERY_MODES
from aicoe.portfolio.criteria import criterion_passed
from aicoe.portfolio.gates import registry


@registry.register("qualified", "portfolio.sponsor_named", label="A sponsor is named")
def sponsor_named(session: Session, use_case: UseCase) -> str | None:
    return None if use_case.sponsor_id is not None else "Name a sponsor for the use case."


@registry.register("prioritised", "portfolio.statements_complete",
                   label="Problem and opportunity statements complete")
def statements_complete(session: Session, use_case: UseCase) -> str | None:
    missing = [name for name, text in (("problem statement", use_case.problem_statement),
                                       ("opportunity statement", use_case.opportunity_statement))
               if not (text or "").strip()]
    return f"Write the {' and the '.join(missing)}." if missing else None


@registry.register("prioritised", "portfolio.scored", label="Scored by at least one scorer")
def scored(session: Session, use_case: UseCase) -> str | None:
    return None if use_case.scorer_count >= 1 else "Nobody has scored the use case yet."


@registry.register("proof_of_concept", "portfolio.criteria_defined", label="Success criteria defined")
def criteria_defined(session: Session, use_case: UseCase) -> str | None:
    count = session.scalar(select(func.count()).where(SuccessCriterion.use_case_id == use_case.id))
    return None if count else "Define at least one success criterion for the proof of concept."


@registry.register("pilot", "portfolio.criteria_met", overridable=True, label="Success criteria met")
def criteria_met(session: Session, use_case: UseCase) -> str | None:
    criteria = list(session.scalars(
        select(SuccessCriterion).where(SuccessCriterion.use_case_id == use_case.id).order_by(SuccessCriterion.id)))
    if not criteria:
        return "No success criteria are defined."
    unmeasured = [c.metric for c in criteria if c.result_value is None]
    failed = [c.metric for c in criteria if criterion_passed(c) is False]
    problems = []
    if failed:
        problems.append(f"not met: {', '.join(failed)}")
    if unmeasured:
        problems.append(f"no result recorded: {', '.join(unmeasured)}")
    if not problems:
        return None
    return f"{len(failed) + len(unmeasured)} of {len(criteria)} success criteria not met ({'; '.join(problems)})."


@registry.register("pilot", "portfolio.owner_named", label="A named owner")
def owner_named(session: Session, use_case: UseCase) -> str | None:
    return None if use_case.owner_id is not None else "Name an owner for the use case."


@registry.register("pilot", "portfolio.delivery_decision", label="Build, buy or partner decided, with a rationale")
def delivery_decision(session: Session, use_case: UseCase) -> str | None:
    missing = []
    if use_case.delivery_mode not in DELIVERY_MODES:
        missing.append("decide whether to build, buy or partner")
    if not (use_case.delivery_rationale or "").strip():
        missing.append("give the rationale for that decision")
    return f"{' and '.join(missing).capitalize()}." if missing else None
