"""HTML pages for assessments: the compliance overview, the list, starting one, the assessment with its results
grouped under the framework's tree (controls and evidence per result, inferred outcomes to confirm), a result's
edit form, the gap list, and the assessments panel on the AI system page.

Reads and writes go through the assessments service, which scopes everything to the assessed system's unit; a
refused form comes back with the errors next to the fields and what the user typed.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aicoe.auth.deps import require
from aicoe.auth.principal import Principal, in_scope
from aicoe.compliance import assessments as service
from aicoe.compliance import schemas_assessments as schemas
from aicoe.compliance.constants import (
    ASSESSMENT_STATUSES,
    GPAI_FLAGS,
    IMPLEMENTATION_STATUSES,
    RESULT_STATUSES,
    RISK_TIERS,
)
from aicoe.core.deps import SessionDep
from aicoe.core.errors import DomainError, FieldError, ValidationFailed
from aicoe.core.pagination import PageParams
from aicoe.inventory.constants import EU_AI_ACT_ROLES, LIFECYCLE_STATUSES
from aicoe.models.compliance import Assessment, Framework
from aicoe.models.inventory import AISystem
from aicoe.org.service import people_choices, unit_choices
from aicoe.portfolio.constants import AI_TYPES
from aicoe.web import charts, forms, pages
from aicoe.web.panels import Panel

router = APIRouter()

READ, WRITE = service.READ, service.WRITE
PAGE_SIZE = 25
PICKER_LIMIT = 500
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
Filter = Annotated[str | None, Query(max_length=200)]
SORTS = [("-updated_at", "Recently changed"), ("title", "Title"), ("due_date", "Due date"),
         ("-completion", "Most complete"), ("completion", "Least complete"), ("compliance", "Least compliant")]
SCOPES = [("in_scope", "In scope"), ("out_of_scope", "Out of scope"), ("inferred", "Inferred, to confirm")]
STATUS_BADGES = {"met": "on", "not_met": "off", "partially_met": "st warn", "in_progress": "st info",
                 "not_started": "st none", "not_applicable": ""}
RESULT_FIELDS = ("status", "owner_id", "due_date", "notes", "justification")


def _labels() -> dict[str, Any]:
    return {"status_labels": RESULT_STATUSES, "assessment_labels": ASSESSMENT_STATUSES,
            "status_badges": STATUS_BADGES, "tier_labels": RISK_TIERS, "gap_labels": service.GAP_KINDS,
            "impl_labels": IMPLEMENTATION_STATUSES, "ai_labels": AI_TYPES, "role_labels_eu": EU_AI_ACT_ROLES,
            "lifecycle_labels": LIFECYCLE_STATUSES, "gpai_labels": GPAI_FLAGS}


def _system_choices(session: Session, principal: Principal, permission: str) -> list[tuple[int, str]]:
    stmt = (select(AISystem.id, AISystem.name).where(in_scope(AISystem.business_unit_id, principal.scope(permission)))
            .order_by(func.lower(AISystem.name)).limit(PICKER_LIMIT))
    return [(i, n) for i, n in session.execute(stmt)]


def _framework_choices(session: Session, *, current_only: bool) -> list[tuple[int, str]]:
    stmt = select(Framework.id, Framework.name, Framework.version).order_by(func.lower(Framework.name),
                                                                          Framework.version)
    if current_only:
        stmt = stmt.where(Framework.is_current.is_(True))
    return [(i, f"{n} ({v})") for i, n, v in session.execute(stmt)]


# --- overview ----------------------------------------------------------------------------------------------------

@router.get("/compliance")
def overview(request: Request, session: SessionDep, principal: require(READ)) -> HTMLResponse:
    summary = service.summary(session, principal)
    tiers = service.systems_by_tier(session, principal)
    top = service.gaps(session, principal, PageParams(limit=10))
    chart = charts.bar_chart([(label, n) for _, label, n in tiers], unit="", title="AI systems by EU AI Act risk tier")
    return pages.render(request, "compliance/overview.html", {
        **_labels(), "summary": summary, "tiers": tiers, "tier_chart": chart, "gaps": top,
        "can_start": principal.has(WRITE)})


# --- list and start ----------------------------------------------------------------------------------------------

@router.get("/assessments")
def list_page(request: Request, session: SessionDep, principal: require(READ), q: Filter = None,
              ai_system_id: Filter = None, framework_id: Filter = None, status: Filter = None,
              business_unit_id: Filter = None, sort: Filter = None, offset: Offset = 0) -> HTMLResponse:
    filters = {k: (v or "").strip() for k, v in dict(
        q=q, ai_system_id=ai_system_id, framework_id=framework_id, status=status,
        business_unit_id=business_unit_id, sort=sort).items()}
    page = service.list_assessments(
        session, principal, PageParams(limit=PAGE_SIZE, offset=offset, sort=filters["sort"] or None),
        q=filters["q"] or None, status=filters["status"] or None,
        ai_system_id=forms.query_id(ai_system_id, "ai_system_id"),
        framework_id=forms.query_id(framework_id, "framework_id"),
        business_unit_id=forms.query_id(business_unit_id, "business_unit_id"))
    return pages.render(request, "compliance/assessments.html", {
        **_labels(), "page": page, "filters": filters, "pager_url": forms.query_url("/assessments", **filters),
        "system_options": _system_choices(session, principal, READ),
        "framework_options": _framework_choices(session, current_only=False),
        "unit_options": unit_choices(session, principal, READ), "sorts": SORTS,
        "status_options": list(ASSESSMENT_STATUSES.items()), "can_start": principal.has(WRITE)})


def _start_page(request: Request, session: Session, principal: Principal, values: dict[str, Any],
                err: DomainError | None = None) -> HTMLResponse:
    context = {"system_options": _system_choices(session, principal, WRITE),
               "framework_options": _framework_choices(session, current_only=True),
               "people_options": people_choices(session, principal), "assessment": None}
    if err is not None:
        return pages.form_error(request, "compliance/assessment_form.html", err, values, context)
    return pages.render(request, "compliance/assessment_form.html", {**context, "form": values})


@router.get("/assessments/new")
def new_page(request: Request, session: SessionDep, principal: require(WRITE),
             ai_system_id: Filter = None) -> HTMLResponse:
    return _start_page(request, session, principal, {"ai_system_id": (ai_system_id or "").strip(),
                                                     "owner_id": principal.user.id})


@router.post("/assessments")
def create(request: Request, session: SessionDep, form: forms.FormDep, principal: require(WRITE)) -> Response:
    try:
        body = forms.parse(schemas.AssessmentCreate, {
            "ai_system_id": forms.optional_int(form, "ai_system_id"),
            "framework_id": forms.optional_int(form, "framework_id"), "title": forms.text(form, "title"),
            "owner_id": forms.optional_int(form, "owner_id"), "due_date": forms.text(form, "due_date") or None})
        assessment = service.create(session, principal, body)
    except DomainError as err:
        session.rollback()
        return _start_page(request, session, principal, forms.values(form), err)
    return pages.redirect(request, f"/assessments/{assessment.id}", "Assessment started.")


# --- gaps --------------------------------------------------------------------------------------------------------

@router.get("/assessments/gaps")
def gaps_page(request: Request, session: SessionDep, principal: require(READ), ai_system_id: Filter = None,
              framework_id: Filter = None, business_unit_id: Filter = None, kind: Filter = None,
              owner_id: Filter = None, offset: Offset = 0) -> HTMLResponse:
    filters = {k: (v or "").strip() for k, v in dict(
        ai_system_id=ai_system_id, framework_id=framework_id, business_unit_id=business_unit_id, kind=kind,
        owner_id=owner_id).items()}
    page = service.gaps(session, principal, PageParams(limit=PAGE_SIZE, offset=offset),
                        ai_system_id=forms.query_id(ai_system_id, "ai_system_id"),
                        framework_id=forms.query_id(framework_id, "framework_id"),
                        business_unit_id=forms.query_id(business_unit_id, "business_unit_id"),
                        kind=filters["kind"] or None, owner_id=forms.query_id(owner_id, "owner_id"))
    return pages.render(request, "compliance/gaps.html", {
        **_labels(), "page": page, "filters": filters, "pager_url": forms.query_url("/assessments/gaps", **filters),
        "system_options": _system_choices(session, principal, READ),
        "framework_options": _framework_choices(session, current_only=False),
        "unit_options": unit_choices(session, principal, READ), "people_options": people_choices(session, principal),
        "kind_options": list(service.GAP_KINDS.items())})


# --- one assessment ----------------------------------------------------------------------------------------------

def _detail(request: Request, session: Session, principal: Principal, assessment_id: int, *, status: str = "",
            scope: str = "", err: DomainError | None = None) -> HTMLResponse:
    assessment = service.get_assessment(session, principal, assessment_id)
    flags = {"in_scope": (True, None), "out_of_scope": (False, None), "inferred": (None, True)}.get(scope,
                                                                                                  (None, None))
    results = service.all_results(session, principal, assessment.id, status=status or None, applicable=flags[0],
                                  inferred=flags[1])
    context: dict[str, Any] = {
        **_labels(), "assessment": assessment, "counts": service.counts(session, assessment.id),
        "sections": service.grouped(session, assessment.framework_id, results),
        "links": service.result_links(session, assessment, results), "shown": len(results),
        "filters": {"status": status, "scope": scope}, "status_options": list(RESULT_STATUSES.items()),
        "scope_options": SCOPES,
        "can_write": principal.may(WRITE, assessment.ai_system.business_unit_id)}
    if err is not None:
        return pages.form_error(request, "compliance/assessment.html", err, {}, context)
    return pages.render(request, "compliance/assessment.html", context)


@router.get("/assessments/{assessment_id}")
def detail_page(request: Request, session: SessionDep, principal: require(READ), assessment_id: int,
                status: Filter = None, scope: Filter = None) -> HTMLResponse:
    wanted = (scope or "").strip()
    return _detail(request, session, principal, assessment_id, status=(status or "").strip(),
                   scope=wanted if wanted in dict(SCOPES) else "")


def _edit_page(request: Request, session: Session, principal: Principal, assessment: Assessment,
               values: dict[str, Any], err: DomainError | None = None) -> HTMLResponse:
    context = {"assessment": assessment, "people_options": people_choices(session, principal, assessment.owner_id)}
    if err is not None:
        return pages.form_error(request, "compliance/assessment_form.html", err, values, context)
    return pages.render(request, "compliance/assessment_form.html", {**context, "form": values})


@router.get("/assessments/{assessment_id}/edit")
def edit_page(request: Request, session: SessionDep, principal: require(WRITE), assessment_id: int) -> HTMLResponse:
    assessment = service.get_assessment(session, principal, assessment_id)
    principal.check_unit(WRITE, assessment.ai_system.business_unit_id)
    return _edit_page(request, session, principal, assessment, {
        "title": assessment.title, "owner_id": assessment.owner_id or "",
        "due_date": assessment.due_date.isoformat() if assessment.due_date else ""})


@router.post("/assessments/{assessment_id}")
def update(request: Request, session: SessionDep, form: forms.FormDep, assessment_id: int,
           principal: require(WRITE)) -> Response:
    service.get_assessment(session, principal, assessment_id)
    try:
        body = forms.parse(schemas.AssessmentUpdate, {
            "title": forms.text(form, "title"), "owner_id": forms.optional_int(form, "owner_id"),
            "due_date": forms.text(form, "due_date") or None})
        service.update_assessment(session, principal, assessment_id, body)
    except DomainError as err:
        session.rollback()
        return _edit_page(request, session, principal, service.get_assessment(session, principal, assessment_id),
                          forms.values(form), err)
    return pages.redirect(request, f"/assessments/{assessment_id}", "Assessment saved.")


def _act(request: Request, session: Session, principal: Principal, assessment_id: int, action: Any,
         message: str, anchor: str = "") -> Response:
    service.get_assessment(session, principal, assessment_id)
    return pages.attempt(request, session, action, then=f"/assessments/{assessment_id}{anchor}", message=message,
                         on_error=lambda err: _detail(request, session, principal, assessment_id, err=err))


@router.post("/assessments/{assessment_id}/complete")
def complete(request: Request, session: SessionDep, assessment_id: int, principal: require(WRITE)) -> Response:
    return _act(request, session, principal, assessment_id,
                lambda: service.complete(session, principal, assessment_id), "Assessment completed.")


@router.post("/assessments/{assessment_id}/archive")
def archive(request: Request, session: SessionDep, assessment_id: int, principal: require(WRITE)) -> Response:
    return _act(request, session, principal, assessment_id,
                lambda: service.archive(session, principal, assessment_id), "Assessment archived.")


@router.post("/assessments/{assessment_id}/reopen")
def reopen(request: Request, session: SessionDep, assessment_id: int, principal: require(WRITE)) -> Response:
    return _act(request, session, principal, assessment_id,
                lambda: service.reopen(session, principal, assessment_id), "Assessment reopened.")


def _some(refs: list[str], most: int = 5) -> str:
    """A few refs for a flash message (a cookie: kept short)."""
    return ", ".join(refs[:most]) + (f" and {len(refs) - most} more" if len(refs) > most else "")


@router.post("/assessments/{assessment_id}/refresh-applicability")
def refresh(request: Request, session: SessionDep, assessment_id: int, principal: require(WRITE)) -> Response:
    service.get_assessment(session, principal, assessment_id)
    try:
        report = service.refresh_applicability(session, principal, assessment_id)
    except DomainError as err:
        session.rollback()
        return _detail(request, session, principal, assessment_id, err=err)
    parts = [f"{len(report.included)} came into scope ({_some(report.included)})" if report.included else "",
             f"{len(report.excluded)} left scope ({_some(report.excluded)})" if report.excluded else "",
             f"{len(report.reasons_updated)} kept their scope for a new reason" if report.reasons_updated else ""]
    changed = "; ".join(p for p in parts if p)
    return pages.redirect(request, f"/assessments/{assessment_id}",
                          f"Applicability refreshed: {changed}." if changed else "Applicability refreshed: no change.")


# --- results -----------------------------------------------------------------------------------------------------

def _stored_result(result: Any) -> dict[str, Any]:
    return {"status": result.status, "owner_id": result.owner_id or "", "notes": result.notes,
            "justification": result.justification, "due_date": result.due_date.isoformat() if result.due_date else ""}


def _result_page(request: Request, session: Session, principal: Principal, assessment_id: int, result_id: int,
                 values: dict[str, Any], err: DomainError | None = None) -> HTMLResponse:
    assessment = service.get_assessment(session, principal, assessment_id)
    principal.check_unit(WRITE, assessment.ai_system.business_unit_id)
    result = service.get_result(session, principal, assessment_id, result_id)
    context = {**_labels(), "assessment": assessment, "result": result,
               "links": service.result_links(session, assessment, [result])[result.id],
               "status_options": list(RESULT_STATUSES.items()),
               "people_options": people_choices(session, principal, result.owner_id),
               "evidence_options": service.evidence_choices(session, principal,
                                                            assessment.ai_system.business_unit_id)}
    if err is not None:
        return pages.form_error(request, "compliance/result_form.html", err, values, context)
    return pages.render(request, "compliance/result_form.html", {**context, "form": values})


@router.get("/assessments/{assessment_id}/results/{result_id}/edit")
def edit_result_page(request: Request, session: SessionDep, principal: require(WRITE), assessment_id: int,
                     result_id: int) -> HTMLResponse:
    result = service.get_result(session, principal, assessment_id, result_id)
    return _result_page(request, session, principal, assessment_id, result_id, _stored_result(result))


@router.post("/assessments/{assessment_id}/results/{result_id}")
def update_result(request: Request, session: SessionDep, form: forms.FormDep, assessment_id: int, result_id: int,
                  principal: require(WRITE)) -> Response:
    result = service.get_result(session, principal, assessment_id, result_id)
    try:
        data: dict[str, Any] = {"owner_id": forms.optional_int(form, "owner_id"), "notes": forms.text(form, "notes"),
                                "justification": forms.text(form, "justification"),
                                "due_date": forms.text(form, "due_date") or None}
        if "status" in form:
            data["status"] = forms.text(form, "status") or None
        service.update_result(session, principal, assessment_id, result_id,
                              forms.parse(schemas.ResultUpdate, data))
    except DomainError as err:
        session.rollback()
        return _result_page(request, session, principal, assessment_id, result_id, forms.values(form), err)
    return pages.redirect(request, f"/assessments/{assessment_id}#result-{result_id}",
                          f"{result.requirement.ref} saved.")


@router.post("/assessments/{assessment_id}/results/{result_id}/confirm")
def confirm_result(request: Request, session: SessionDep, assessment_id: int, result_id: int,
                   principal: require(WRITE)) -> Response:
    ref = service.get_result(session, principal, assessment_id, result_id).requirement.ref
    return _act(request, session, principal, assessment_id,
                lambda: service.confirm_result(session, principal, assessment_id, result_id),
                f"{ref}: inferred status confirmed.", f"#result-{result_id}")


@router.post("/assessments/{assessment_id}/results/{result_id}/evidence")
def link_evidence(request: Request, session: SessionDep, form: forms.FormDep, assessment_id: int, result_id: int,
                  principal: require(WRITE)) -> Response:
    try:
        evidence_id = forms.optional_int(form, "evidence_id")
        if evidence_id is None:
            raise ValidationFailed("choose the evidence to link",
                                   errors=[FieldError("evidence_id", "Choose the evidence to link.")])
        service.link_evidence(session, principal, assessment_id, result_id, evidence_id)
    except DomainError as err:
        session.rollback()
        result = service.get_result(session, principal, assessment_id, result_id)
        values = {**_stored_result(result), **forms.values(form)}
        return _result_page(request, session, principal, assessment_id, result_id, values, err)
    return pages.redirect(request, f"/assessments/{assessment_id}/results/{result_id}/edit", "Evidence linked.")


# --- the AI system page ------------------------------------------------------------------------------------------

def system_panel(session: Session, principal: Principal, system: AISystem) -> Panel | None:
    """The system's assessments with their completion and compliance, and a link to start one."""
    if not principal.may(READ, system.business_unit_id):
        return None
    return Panel("Assessments", "compliance/panel_assessments.html", {
        "assessments": service.system_assessments(session, principal, system.id),
        "can_start": principal.may(WRITE, system.business_unit_id), "assessment_labels": ASSESSMENT_STATUSES})
