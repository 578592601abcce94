"""JSON routes for the lifecycle: stage transitions and their gates, stage timelines, success criteria."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from aicoe.auth.deps import require
from aicoe.core.deps import SessionDep
from aicoe.evaluation import schemas as evaluation_schemas
from aicoe.evaluation import service as evaluation
from aicoe.portfolio import criteria, lifecycle
from aicoe.portfolio import lifecycle_schemas as schemas
from aicoe.portfolio.gates import registry
from aicoe.web.api_common import PageOut, PageQuery, page_out

router = APIRouter(tags=["lifecycle"])


@router.get("/use-cases/{key}/transitions", response_model=PageOut[schemas.TransitionOut])
def list_transitions(session: SessionDep, principal: require("use_case:read"), key: str, page: PageQuery) -> dict:
    """The use case's stage decisions, oldest first (``sort``: decided_at, id, to_stage)."""
    use_case = lifecycle.use_case_by_key(session, principal, key)
    return page_out(lifecycle.history(session, use_case, page), schemas.TransitionOut)


@router.post("/use-cases/{key}/transitions", response_model=schemas.TransitionOut, status_code=201)
def create_transition(session: SessionDep, principal: require("use_case:transition"), key: str,
                      body: schemas.TransitionIn) -> object:
    """Move the use case; 409 names the allowed targets, 422 (``gate-refused``) lists every failing check."""
    use_case = lifecycle.use_case_by_key(session, principal, key)
    return lifecycle.transition(session, principal, use_case, body.to_stage, body.reason, body.override_reason)


@router.post("/use-cases/{key}/transitions/override", response_model=schemas.TransitionOut, status_code=201)
def override_transition(session: SessionDep, principal: require("use_case:override"), key: str,
                        body: schemas.OverrideIn) -> object:
    """The steering committee's move past failed overridable checks; ``override_reason`` is required here.

    The same as ``POST /transitions`` with an ``override_reason``; this route states the permission it needs.
    """
    use_case = lifecycle.use_case_by_key(session, principal, key)
    return lifecycle.transition(session, principal, use_case, body.to_stage, body.reason, body.override_reason)


@router.get("/use-cases/{key}/gate", response_model=schemas.GateOut)
def preview_gate(session: SessionDep, principal: require("use_case:read"), key: str,
                 to: Annotated[str, Query(max_length=20, description="the target stage")]) -> dict[str, Any]:
    """A dry run of the move's gate checks; nothing is written."""
    use_case = lifecycle.use_case_by_key(session, principal, key)
    g = lifecycle.gate(session, use_case, to)
    return {"key": use_case.key, "from_stage": use_case.stage, "to_stage": to,
            "checks": [c.as_dict() for c in g.checks], "ok": g.ok, "overridable": g.overridable,
            "can_override": principal.has("use_case:override")}


@router.get("/use-cases/{key}/timeline", response_model=schemas.TimelineOut)
def get_timeline(session: SessionDep, principal: require("use_case:read"), key: str) -> dict[str, Any]:
    """Time spent in each stage (the current one until now) and delivery time from intake to production."""
    return lifecycle.timeline(session, lifecycle.use_case_by_key(session, principal, key))


@router.get("/gate-checks", response_model=list[schemas.GateCheckOut])
def list_gate_checks(principal: require("use_case:read")) -> list[dict[str, Any]]:
    """Every registered gate check, by the stage it guards, in the order they run."""
    return [{"to_stage": c.to_stage, "name": c.name, "label": c.label, "overridable": c.overridable,
             "module": c.module} for c in registry.all_checks()]


# --- success criteria --------------------------------------------------------------------------------------

@router.get("/use-cases/{key}/criteria", response_model=PageOut[schemas.CriterionOut])
def list_criteria(session: SessionDep, principal: require("use_case:read"), key: str, page: PageQuery) -> dict:
    """Each criterion with ``passed``: true or false once a result is recorded, null until then."""
    use_case = lifecycle.use_case_by_key(session, principal, key)
    return page_out(criteria.criteria_page(session, use_case, page), schemas.CriterionOut)


@router.post("/use-cases/{key}/criteria", response_model=schemas.CriterionOut, status_code=201)
def create_criterion(session: SessionDep, principal: require("use_case:write"), key: str,
                     body: schemas.CriterionCreate) -> object:
    use_case = lifecycle.use_case_by_key(session, principal, key)
    return criteria.create_criterion(session, principal, use_case, body)


@router.get("/use-cases/{key}/criteria/{criterion_id}", response_model=schemas.CriterionOut)
def get_criterion(session: SessionDep, principal: require("use_case:read"), key: str, criterion_id: int) -> object:
    return criteria.get_criterion(session, lifecycle.use_case_by_key(session, principal, key), criterion_id)


@router.patch("/use-cases/{key}/criteria/{criterion_id}", response_model=schemas.CriterionOut)
def update_criterion(session: SessionDep, principal: require("use_case:write"), key: str, criterion_id: int,
                     body: schemas.CriterionUpdate) -> object:
    use_case = lifecycle.use_case_by_key(session, principal, key)
    return criteria.update_criterion(session, principal, use_case, criterion_id, body)


@router.delete("/use-cases/{key}/criteria/{criterion_id}", status_code=204)
def delete_criterion(session: SessionDep, principal: require("use_case:write"), key: str,
                     criterion_id: int) -> Response:
    criteria.delete_criterion(session, principal, lifecycle.use_case_by_key(session, principal, key), criterion_id)
    return Response(status_code=204)


@router.post("/use-cases/{key}/criteria/{criterion_id}/result", response_model=schemas.CriterionOut)
def record_result(session: SessionDep, principal: require("use_case:write"), key: str, criterion_id: int,
                  body: schemas.ResultIn) -> object:
    use_case = lifecycle.use_case_by_key(session, principal, key)
    return criteria.record_result(session, principal, use_case, criterion_id, body)


@router.post("/use-cases/{key}/criteria/{criterion_id}/result-from-run", response_model=schemas.CriterionOut)
def record_result_from_run(session: SessionDep, principal: require("use_case:write"), key: str, criterion_id: int,
                           body: evaluation_schemas.ResultFromRunIn) -> object:
    """The result taken from a completed evaluation run the caller may read: ``metric`` (default: the
    criterion's metric) is an overall performance metric, a fairness disparity (between groups),
    four_fifths_ratio or drift_share."""
    use_case = lifecycle.use_case_by_key(session, principal, key)
    run = evaluation.get_run(session, principal, body.run_id)
    return criteria.record_from_run(session, principal, use_case, criterion_id, run, body.metric)


@router.delete("/use-cases/{key}/criteria/{criterion_id}/result", response_model=schemas.CriterionOut)
def clear_result(session: SessionDep, principal: require("use_case:write"), key: str, criterion_id: int) -> object:
    use_case = lifecycle.use_case_by_key(session, principal, key)
    return criteria.clear_result(session, principal, use_case, criterion_id)
