"""Proof-of-concept success criteria and their results: each criterion compares a measured value to a threshold.

Pass/fail is computed when read, never stored, so editing a threshold after a result keeps the result and the
verdict follows the new threshold. ``==`` compares with a relative tolerance of 1e-9 (values that differ only
by floating-point rounding are equal); against a threshold of 0 it is therefore exact. The other comparators
are exact.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from aicoe.audit import ledger
from aicoe.auth.principal import Actor, audit_actor
from aicoe.core.errors import FieldError, NotFound, ValidationFailed
from aicoe.core.pagination import Page, PageParams, apply_sort, paginate
from aicoe.core.time import utcnow
from aicoe.evaluation import service as evaluation
from aicoe.models.evaluation import EvaluationRun
from aicoe.models.portfolio import SuccessCriterion, UseCase
from aicoe.portfolio.constants import COMPARATORS

if TYPE_CHECKING:
    from aicoe.portfolio.lifecycle_schemas import CriterionCreate, CriterionUpdate, ResultIn

EQUAL_REL_TOL = 1e-9


def evaluate(comparator: str, value: float, threshold: float) -> bool:
    """Whether ``value`` meets ``threshold`` under ``comparator`` (one of ``COMPARATORS``)."""
    if comparator == ">=":
        return value >= threshold
    if comparator == ">":
        return value > threshold
    if comparator == "<=":
        return value <= threshold
    if comparator == "<":
        return value < threshold
    if comparator == "==":
        return math.isclose(value, threshold, rel_tol=EQUAL_REL_TOL, abs_tol=0.0)
    raise ValueError(f"unknown comparator {comparator!r}; allowed: {', '.join(COMPARATORS)}")


def criterion_passed(criterion: SuccessCriterion) -> bool | None:
    """True or False once a result is recorded; None until then."""
    if criterion.result_value is None:
        return None
    return evaluate(criterion.comparator, criterion.result_value, criterion.threshold)


def _check(principal: Actor, use_case: UseCase) -> None:
    if principal is not None:
        principal.check_unit("use_case:write", use_case.business_unit_id, hide=False)


def list_criteria(session: Session, use_case: UseCase) -> list[SuccessCriterion]:
    return list(session.scalars(select(SuccessCriterion).where(SuccessCriterion.use_case_id == use_case.id)
                                .order_by(SuccessCriterion.id)))


CRITERIA_SORT = {"id": SuccessCriterion.id, "metric": SuccessCriterion.metric,
                 "result_recorded_at": SuccessCriterion.result_recorded_at}


def criteria_page(session: Session, use_case: UseCase, params: PageParams) -> Page[SuccessCriterion]:
    stmt = select(SuccessCriterion).where(SuccessCriterion.use_case_id == use_case.id)
    return paginate(session, apply_sort(stmt, params.sort, CRITERIA_SORT, [SuccessCriterion.id]), params)


def get_criterion(session: Session, use_case: UseCase, criterion_id: int) -> SuccessCriterion:
    found = session.scalar(select(SuccessCriterion).where(SuccessCriterion.id == criterion_id,
                                                          SuccessCriterion.use_case_id == use_case.id))
    if found is None:
        raise NotFound(f"no success criterion {criterion_id} on {use_case.key}")
    return found


def create_criterion(session: Session, principal: Actor, use_case: UseCase,
                     data: CriterionCreate) -> SuccessCriterion:
    _check(principal, use_case)
    criterion = SuccessCriterion(use_case_id=use_case.id, **data.model_dump())
    session.add(criterion)
    session.flush()
    ledger.append(session, audit_actor(principal), "create", "success_criterion", criterion.id,
                  {"use_case": [None, use_case.key], **ledger.created(criterion)})
    return criterion


def update_criterion(session: Session, principal: Actor, use_case: UseCase, criterion_id: int,
                     data: CriterionUpdate) -> SuccessCriterion:
    _check(principal, use_case)
    criterion = get_criterion(session, use_case, criterion_id)
    changes = data.model_dump(exclude_unset=True)
    for key in ("metric", "comparator", "threshold"):
        if key in changes and changes[key] is None:
            raise ValidationFailed(f"{key} cannot be empty", errors=[FieldError(key, "This field is required.")])
    for key, value in changes.items():
        setattr(criterion, key, "" if value is None else value)
    diff = ledger.changed(criterion)
    if diff:
        ledger.append(session, audit_actor(principal), "update", "success_criterion", criterion.id, diff)
    return criterion


def delete_criterion(session: Session, principal: Actor, use_case: UseCase, criterion_id: int) -> None:
    _check(principal, use_case)
    criterion = get_criterion(session, use_case, criterion_id)
    diff = ledger.deleted(criterion)
    session.delete(criterion)
    ledger.append(session, audit_actor(principal), "delete", "success_criterion", criterion_id, diff)


def record_result(session: Session, principal: Actor, use_case: UseCase, criterion_id: int,
                  data: ResultIn) -> SuccessCriterion:
    """Record (or replace) the measured value with its evidence; the verdict is computed from it."""
    _check(principal, use_case)
    criterion = get_criterion(session, use_case, criterion_id)
    criterion.result_value = data.value
    criterion.result_note = data.note
    criterion.result_link = data.link
    criterion.result_evidence = data.evidence
    criterion.result_recorded_at = utcnow()
    criterion.result_recorded_by_id = None if principal is None else principal.user.id
    diff = ledger.changed(criterion)
    diff["passed"] = [None, criterion_passed(criterion)]
    ledger.append(session, audit_actor(principal), "result", "success_criterion", criterion.id, diff)
    return criterion


def record_from_run(session: Session, principal: Actor, use_case: UseCase, criterion_id: int, run: EvaluationRun,
                    metric: str | None = None) -> SuccessCriterion:
    """Record the criterion's result from a completed evaluation run: ``metric`` (default: the criterion's own
    metric name) is one overall number of the run; refused when the run has not completed or the value is
    undefined. The evidence reference is ``evaluation-run:<id>``."""
    _check(principal, use_case)
    criterion = get_criterion(session, use_case, criterion_id)
    name = metric or criterion.metric
    value = evaluation.metric_value(run, name)
    criterion.result_value = value
    criterion.result_note = f"{name} from evaluation run {run.id} ({run.name})"
    criterion.result_link = ""
    criterion.result_evidence = f"evaluation-run:{run.id}"
    criterion.result_recorded_at = utcnow()
    criterion.result_recorded_by_id = None if principal is None else principal.user.id
    diff = ledger.changed(criterion)
    diff["passed"] = [None, criterion_passed(criterion)]
    ledger.append(session, audit_actor(principal), "result", "success_criterion", criterion.id, diff)
    return criterion


def clear_result(session: Session, principal: Actor, use_case: UseCase, criterion_id: int) -> SuccessCriterion:
    """Remove a result recorded by mistake; the criterion is unmeasured again."""
    _check(principal, use_case)
    criterion = get_criterion(session, use_case, criterion_id)
    if criterion.result_value is None:
        return criterion
    criterion.result_value = None
    criterion.result_note = criterion.result_link = criterion.result_evidence = ""
    criterion.result_recorded_at = None
    criterion.result_recorded_by_id = None
    ledger.append(session, audit_actor(principal), "clear_result", "success_criterion", criterion.id,
                  ledger.changed(criterion))
    return criterion
