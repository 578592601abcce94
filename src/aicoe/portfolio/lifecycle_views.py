"""HTML pages for a use case's lifecycle: the stage track, the gate preview and transition form, the decision
history, and the proof-of-concept success criteria with their results.

Everything goes through the lifecycle and criteria services; a refused transition comes back on the same page
with every failing check listed, and nothing written.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from aicoe.auth.deps import require
from aicoe.auth.principal import Principal
from aicoe.core.deps import SessionDep
from aicoe.core.errors import DomainError
from aicoe.core.pagination import PageParams
from aicoe.models.portfolio import UseCase
from aicoe.portfolio import criteria, lifecycle
from aicoe.portfolio import lifecycle_schemas as schemas
from aicoe.portfolio.constants import COMPARATORS, STAGE_LABELS, STAGES
from aicoe.web import forms, pages

router = APIRouter()

MOVE_LABELS = {"forward": "forward", "back": "one step back", "reject": "reject", "hold": "put on hold",
               "resume": "resume", "reopen": "reopen"}
HISTORY_LIMIT = 200
COMPARATOR_OPTIONS = [(c, f"{c} ({words})") for c, words in COMPARATORS.items()]




def _lifecycle_url(use_case: UseCase) -> str:
    return f"/use-cases/{use_case.key}/lifecycle"


def _page(request: Request, session: Session, principal: Principal, use_case: UseCase, *,
          preview: lifecycle.Gate | None = None, preview_error: str | None = None,
          err: DomainError | None = None, form: dict[str, str] | None = None, refusal: list[dict] | None = None,
          criterion_form: bool = False) -> HTMLResponse:
    moves = lifecycle.allowed_moves(use_case)
    items = lifecycle.history(session, use_case, PageParams(limit=HISTORY_LIMIT, sort="-decided_at,-id")).items
    context: dict[str, Any] = {
        "use_case": use_case, "tab": "lifecycle", "stages": STAGES, "stage_labels": STAGE_LABELS,
        "on_main_path": use_case.stage in STAGES,
        "targets": [(stage, f"{STAGE_LABELS[stage]} ({MOVE_LABELS[kind]})") for stage, kind in moves.items()],
        "history": items,
        "criteria": [(c, criteria.criterion_passed(c)) for c in criteria.list_criteria(session, use_case)],
        "comparator_options": COMPARATOR_OPTIONS,
        "can_transition": principal.may("use_case:transition", use_case.business_unit_id),
        "can_override": principal.has("use_case:override"),
        "can_write": principal.may("use_case:write", use_case.business_unit_id),
        "preview": preview, "preview_error": preview_error, "refusal": refusal,
        "criterion_problem": criterion_form,
    }
    if err is not None:
        return pages.form_error(request, "usecase_lifecycle.html", err, form or {}, context)
    return pages.render(request, "usecase_lifecycle.html", context)


@router.get("/use-cases/{key}/lifecycle")
def lifecycle_page(request: Request, session: SessionDep, principal: require("use_case:read"), key: str,
                   to: Annotated[str | None, Query(max_length=20)] = None) -> HTMLResponse:
    """The lifecycle tab; ``?to=STAGE`` previews that move's gate checks (nothing is written)."""
    use_case = lifecycle.use_case_by_key(session, principal, key)
    preview, preview_error = None, None
    if to:
        try:
            preview = lifecycle.gate(session, use_case, to)
        except DomainError as exc:
            preview_error = exc.detail
    return _page(request, session, principal, use_case, preview=preview, preview_error=preview_error,
                 form={"to_stage": to} if to else None)


@router.post("/use-cases/{key}/lifecycle/transition")
def transition(request: Request, session: SessionDep, form: forms.FormDep, key: str,
               principal: require("use_case:transition")) -> Response:
    use_case = lifecycle.use_case_by_key(session, principal, key)
    to_stage = forms.text(form, "to_stage")
    try:
        lifecycle.transition(session, principal, use_case, to_stage, forms.text(form, "reason"),
                             forms.text(form, "override_reason") or None)
    except DomainError as err:
        session.rollback()
        use_case = lifecycle.use_case_by_key(session, principal, key)
        refusal = err.extra.get("checks") if isinstance(err, lifecycle.GateRefused) else None
        return _page(request, session, principal, use_case, err=err, form=forms.values(form),
                     refusal=[c for c in refusal or [] if not c["ok"]] or None)
    return pages.redirect(request, _lifecycle_url(use_case),
                          f"{use_case.key} moved to {STAGE_LABELS.get(use_case.stage, use_case.stage)}.")


# --- success criteria --------------------------------------------------------------------------------------

def _criterion_data(form: forms.FormData) -> dict[str, Any]:
    data = {name: forms.text(form, name) for name in ("metric", "comparator", "threshold", "unit", "how_measured")}
    return {k: v for k, v in data.items() if v or k in ("unit", "how_measured")}  # empty: "required"


def _result_data(form: forms.FormData) -> dict[str, Any]:
    data = {name: forms.text(form, name) for name in ("value", "note", "link", "evidence")}
    return {k: v for k, v in data.items() if v or k != "value"}


@router.post("/use-cases/{key}/lifecycle/criteria")
def create_criterion(request: Request, session: SessionDep, form: forms.FormDep, key: str,
                     principal: require("use_case:write")) -> Response:
    use_case = lifecycle.use_case_by_key(session, principal, key)
    try:
        data = forms.parse(schemas.CriterionCreate, _criterion_data(form))
        criterion = criteria.create_criterion(session, principal, use_case, data)
    except DomainError as err:
        session.rollback()
        use_case = lifecycle.use_case_by_key(session, principal, key)
        return _page(request, session, principal, use_case, err=err, form=forms.values(form), criterion_form=True)
    return pages.redirect(request, _lifecycle_url(use_case) + "#criteria",
                          f"Success criterion {criterion.metric!r} added.")


def _criterion_page(request: Request, session: Session, principal: Principal, use_case: UseCase,
                    criterion_id: int, err: DomainError | None = None,
                    form: dict[str, str] | None = None) -> HTMLResponse:
    criterion = criteria.get_criterion(session, use_case, criterion_id)
    context = {"use_case": use_case, "tab": "lifecycle", "criterion": criterion,
               "passed": criteria.criterion_passed(criterion), "comparator_options": COMPARATOR_OPTIONS,
               "can_write": principal.may("use_case:write", use_case.business_unit_id)}
    if err is not None:
        return pages.form_error(request, "criteria_form.html", err, form or {}, context)
    return pages.render(request, "criteria_form.html", context)


@router.get("/use-cases/{key}/lifecycle/criteria/{criterion_id}")
def criterion_page(request: Request, session: SessionDep, principal: require("use_case:read"), key: str,
                   criterion_id: int) -> HTMLResponse:
    use_case = lifecycle.use_case_by_key(session, principal, key)
    return _criterion_page(request, session, principal, use_case, criterion_id)


@router.post("/use-cases/{key}/lifecycle/criteria/{criterion_id}")
def update_criterion(request: Request, session: SessionDep, form: forms.FormDep, key: str, criterion_id: int,
                     principal: require("use_case:write")) -> Response:
    use_case = lifecycle.use_case_by_key(session, principal, key)
    try:
        full = forms.parse(schemas.CriterionCreate, _criterion_data(form))  # the edit form shows every field
        data = schemas.CriterionUpdate(**full.model_dump())
        criterion = criteria.update_criterion(session, principal, use_case, criterion_id, data)
    except DomainError as err:
        session.rollback()
        use_case = lifecycle.use_case_by_key(session, principal, key)
        return _criterion_page(request, session, principal, use_case, criterion_id, err, forms.values(form))
    return pages.redirect(request, f"{_lifecycle_url(use_case)}/criteria/{criterion.id}",
                          f"Success criterion {criterion.metric!r} saved.")


@router.post("/use-cases/{key}/lifecycle/criteria/{criterion_id}/result")
def record_result(request: Request, session: SessionDep, form: forms.FormDep, key: str, criterion_id: int,
                  principal: require("use_case:write")) -> Response:
    use_case = lifecycle.use_case_by_key(session, principal, key)
    try:
        data = forms.parse(schemas.ResultIn, _result_data(form))
        criterion = criteria.record_result(session, principal, use_case, criterion_id, data)
    except DomainError as err:
        session.rollback()
        use_case = lifecycle.use_case_by_key(session, principal, key)
        return _criterion_page(request, session, principal, use_case, criterion_id, err, forms.values(form))
    verdict = "met" if criteria.criterion_passed(criterion) else "not met"
    return pages.redirect(request, _lifecycle_url(use_case) + "#criteria",
                          f"Result recorded for {criterion.metric!r}: {verdict}.")


@router.post("/use-cases/{key}/lifecycle/criteria/{criterion_id}/clear-result")
def clear_result(request: Request, session: SessionDep, key: str, criterion_id: int,
                 principal: require("use_case:write")) -> Response:
    use_case = lifecycle.use_case_by_key(session, principal, key)
    criterion = criteria.clear_result(session, principal, use_case, criterion_id)
    return pages.redirect(request, f"{_lifecycle_url(use_case)}/criteria/{criterion.id}",
                          f"Result for {criterion.metric!r} cleared.")


@router.post("/use-cases/{key}/lifecycle/criteria/{criterion_id}/delete")
def delete_criterion(request: Request, session: SessionDep, key: str, criterion_id: int,
                     principal: require("use_case:write")) -> Response:
    use_case = lifecycle.use_case_by_key(session, principal, key)
    metric = criteria.get_criterion(session, use_case, criterion_id).metric
    criteria.delete_criterion(session, principal, use_case, criterion_id)
    return pages.redirect(request, _lifecycle_url(use_case) + "#criteria", f"Success criterion {metric!r} deleted.")
