"""HTML pages of the risk register: the register with its filters and heat map, recording and editing a risk,
its page (scores, treatment, controls, the acceptance form for approvers), the matrix settings, and the risks
panel on the AI-system page.

Everything goes through the risk services, which scope every query to the caller's units; a refused form comes
back with the errors next to its fields and what the user typed.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from aicoe.auth.deps import require
from aicoe.auth.principal import Principal
from aicoe.compliance import evidence
from aicoe.core.deps import SessionDep
from aicoe.core.errors import DomainError, FieldError, ValidationFailed
from aicoe.core.pagination import PageParams
from aicoe.models.inventory import AISystem
from aicoe.org.service import people_choices, unit_choices
from aicoe.risk import matrix as matrices
from aicoe.risk import schemas, service
from aicoe.risk.constants import BASES, CATEGORIES, LEVELS, STATUS_FILTERS, SUBJECT_TYPES, TREATMENTS
from aicoe.risk.heatmap_svg import cell_description, heatmap_svg
from aicoe.web import forms, pages
from aicoe.web.panels import Panel

router = APIRouter()

PAGE_SIZE = 25
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
Filter = Annotated[str | None, Query(max_length=200)]
SORTS = [("", "Highest score first"), ("key", "Key"), ("-updated_at", "Recently changed"), ("due_date", "Due date")]
TEXT_FIELDS = ("title", "description", "category", "treatment_plan")
OPTIONAL = ("owner_id", "business_unit_id", "residual_likelihood", "residual_impact", "treatment",
            "acceptance_expires_on", "due_date")
LEVEL_BADGES = {"low": "on", "medium": "st warn", "high": "off", "critical": "off"}


def _labels() -> dict[str, Any]:
    return {"category_labels": CATEGORIES, "status_labels": STATUS_FILTERS, "treatment_labels": TREATMENTS,
            "level_labels": LEVELS, "subject_labels": SUBJECT_TYPES, "level_badges": LEVEL_BADGES}


# --- the register --------------------------------------------------------------------------------------------------

def _filter_values(raw: dict[str, str | None]) -> dict[str, Any]:
    """Query-string filters as the service takes them (ids and positions as numbers, overdue as yes/no)."""
    values: dict[str, Any] = {k: (raw.get(k) or None) for k in ("q", "category", "status", "level", "treatment",
                                                                  "subject_type", "basis")}
    for name in ("subject_id", "business_unit_id", "owner_id", "likelihood", "impact"):
        values[name] = forms.query_id(raw.get(name), name)
    values["overdue"] = forms.tri_state(raw.get("overdue"))
    return values


def _cell_url(filters: dict[str, str], basis: str, likelihood: int, impact: int) -> str:
    kept = {k: v for k, v in filters.items() if k not in ("basis", "likelihood", "impact")}
    kept["status"] = kept.get("status") or "active"  # the heat map counts live risks only
    return forms.query_url("/risks", **kept, basis=basis, likelihood=likelihood, impact=impact)


def _selected_cell(matrix: Any, values: dict[str, Any]) -> str | None:
    """"Likely × Major" when the register is narrowed to one heat-map cell."""
    likelihood, impact = values["likelihood"], values["impact"]
    labels = []
    for position, axis in ((likelihood, matrix.likelihood_labels), (impact, matrix.impact_labels)):
        labels.append(axis[position - 1] if position is not None and 1 <= position <= len(axis) else "any")
    return None if likelihood is None and impact is None else " × ".join(labels)


@router.get("/risks")
def register_page(request: Request, session: SessionDep, principal: require("risk:read"), q: Filter = None,
                  category: Filter = None, status: Filter = None, level: Filter = None, treatment: Filter = None,
                  subject_type: Filter = None, subject_id: Filter = None, business_unit_id: Filter = None,
                  owner_id: Filter = None,
                  overdue: Filter = None, basis: Filter = None, likelihood: Filter = None, impact: Filter = None,
                  sort: Filter = None, offset: Offset = 0) -> HTMLResponse:
    raw = dict(q=q, category=category, status=status, level=level, treatment=treatment, subject_type=subject_type,
               subject_id=subject_id, business_unit_id=business_unit_id, owner_id=owner_id, overdue=overdue,
               basis=basis, likelihood=likelihood, impact=impact, sort=sort)
    filters = {k: (v or "").strip() for k, v in raw.items()}
    values = _filter_values(filters)
    page = service.list_risks(session, principal, PageParams(limit=PAGE_SIZE, offset=offset,
                                                             sort=filters["sort"] or None), **values)
    map_basis = filters["basis"] or "inherent"
    register_filters = {k: v for k, v in values.items() if k not in ("basis", "likelihood", "impact")}
    heat = service.heatmap(session, principal, map_basis, **register_filters)
    matrix = matrices.get_matrix(session)
    return pages.render(request, "risk/risks.html", {
        **_labels(), "page": page, "risks": service.views(session, page.items), "filters": filters,
        "pager_url": forms.query_url("/risks", **filters), "heat": heat, "map_basis": map_basis,
        "heat_svg": heatmap_svg(heat, lambda c: _cell_url(filters, map_basis, c.likelihood, c.impact)),
        "cell_url": lambda c: _cell_url(filters, map_basis, c.likelihood, c.impact),
        "cell_description": lambda c: cell_description(heat, c),
        "basis_urls": {b: forms.query_url("/risks", **{**filters, "basis": b, "likelihood": "", "impact": ""})
                       for b in BASES},
        "selected_cell": _selected_cell(matrix, values),
        "clear_cell_url": forms.query_url("/risks", **{**filters, "likelihood": "", "impact": ""}),
        "unit_options": unit_choices(session, principal, "risk:read"),
        "people_options": people_choices(session, principal),
        "category_options": list(CATEGORIES.items()), "status_options": list(STATUS_FILTERS.items()),
        "level_options": list(matrices.levels_in_use(matrix).items()), "treatment_options": list(TREATMENTS.items()),
        "subject_options": list(SUBJECT_TYPES.items()), "sorts": SORTS,
        "overdue_options": [("1", "Overdue only"), ("0", "Not overdue")], "basis_options": list(BASES.items()),
        "can_write": principal.has("risk:write"),
    })


# --- recording and editing -----------------------------------------------------------------------------------------

def _subject_value(form: forms.FormData) -> tuple[str | None, int | None]:
    raw = forms.text(form, "subject")
    if not raw:
        return None, None
    kind, _, number = raw.partition(":")
    if kind not in SUBJECT_TYPES or not number.isdigit():
        raise ValidationFailed("choose a subject", errors=[FieldError("subject", f"{raw!r} is not a valid choice.")])
    return kind, int(number)


def _risk_data(form: forms.FormData, *, editing: bool) -> dict[str, Any]:
    data: dict[str, Any] = {name: forms.text(form, name) for name in TEXT_FIELDS}
    data["category"] = data["category"] or None
    data["subject_type"], data["subject_id"] = _subject_value(form)
    for name in ("inherent_likelihood", "inherent_impact", "residual_likelihood", "residual_impact", "owner_id",
                 "business_unit_id"):
        data[name] = forms.optional_int(form, name)
    for name in ("treatment", "acceptance_expires_on", "due_date"):
        data[name] = forms.text(form, name) or None
    data["status"] = forms.text(form, "status") or None
    if not editing:  # empty means "not given": required fields then read as missing
        return {k: v for k, v in data.items() if v is not None}
    for name in ("status", "subject_type", "subject_id"):  # empty status: an accepted risk keeps its status
        if data[name] is None:
            data.pop(name)
    return data


def _for_form(err: DomainError) -> DomainError:
    """The service names the subject's fields; the form has one picker for both."""
    if not any(e.field in ("subject_type", "subject_id") for e in err.errors):
        return err
    copy = type(err)(err.detail, errors=[replace(e, field="subject") if e.field in ("subject_type", "subject_id")
                                         else e for e in err.errors], **err.extra)
    return copy


def _positions(labels: list[str]) -> list[tuple[int, str]]:
    return [(n, f"{n} · {label}") for n, label in enumerate(labels, start=1)]


def _form_page(request: Request, session: Session, principal: Principal, risk: service.RiskView | None,
               values: dict[str, Any], err: DomainError | None = None) -> HTMLResponse:
    matrix = matrices.get_matrix(session)
    context = {
        **_labels(), "risk": risk, "subject_choices": service.subject_choices(session, principal),
        "unit_options": unit_choices(session, principal, "risk:write"),
        "people_options": people_choices(session, principal, risk.owner_id if risk else None),
        "category_options": list(CATEGORIES.items()), "treatment_options": list(TREATMENTS.items()),
        "status_options": [(s, STATUS_FILTERS[s]) for s in ("open", "treating", "closed")],
        "likelihood_options": _positions(matrix.likelihood_labels), "impact_options": _positions(matrix.impact_labels),
    }
    if err is not None:
        return pages.form_error(request, "risk/risk_form.html", _for_form(err), values, context)
    return pages.render(request, "risk/risk_form.html", {**context, "form": values})


@router.get("/risks/new")
def new_page(request: Request, session: SessionDep, principal: require("risk:write"),
             subject: Annotated[str | None, Query(max_length=40)] = None) -> HTMLResponse:
    return _form_page(request, session, principal, None, {"subject": subject or "", "status": "open"})


@router.post("/risks")
def create(request: Request, session: SessionDep, form: forms.FormDep, principal: require("risk:write")) -> Response:
    try:
        risk = service.create_risk(session, principal, forms.parse(schemas.RiskCreate, _risk_data(form, editing=False)))
    except DomainError as err:
        session.rollback()
        return _form_page(request, session, principal, None, forms.values(form), err)
    return pages.redirect(request, f"/risks/{risk.key}", f"{risk.key} recorded.")


def _stored(risk: service.RiskView) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(risk, name) for name in TEXT_FIELDS}
    values.update({name: getattr(risk, name) or "" for name in ("inherent_likelihood", "inherent_impact",
                                                                 *OPTIONAL)})
    values["subject"] = f"{risk.subject_type}:{risk.subject_id}"
    values["business_unit_id"] = risk.business_unit_id if risk.subject_type == "vendor" else ""
    values["status"] = risk.status if risk.status != "accepted" else ""
    for name in ("acceptance_expires_on", "due_date"):
        values[name] = getattr(risk, name).isoformat() if getattr(risk, name) else ""
    return values


@router.get("/risks/matrix")
def matrix_page(request: Request, session: SessionDep, principal: require("risk:read")) -> HTMLResponse:
    return _matrix_page(request, session, principal, None, None)


def _matrix_values(matrix: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"likelihood_labels": "\n".join(matrix.likelihood_labels),
                              "impact_labels": "\n".join(matrix.impact_labels)}
    for band in matrices.bands(matrix):
        values[f"{band.level}_min"], values[f"{band.level}_max"] = str(band.min), str(band.max)
    return values


def _matrix_page(request: Request, session: Session, principal: Principal, values: dict[str, Any] | None,
                 err: DomainError | None) -> HTMLResponse:
    matrix = matrices.get_matrix(session)
    context = {**_labels(), "matrix": matrix, "bands": matrices.bands(matrix), "max_score": matrices.max_score(matrix),
               "can_write": principal.has("risk_matrix:write"), "levels": list(LEVELS.items())}
    if err is not None:
        return pages.form_error(request, "risk/matrix.html", err, values or {}, context)
    return pages.render(request, "risk/matrix.html", {**context, "form": values or _matrix_values(matrix)})


def _matrix_data(form: forms.FormData) -> dict[str, Any]:
    def lines(name: str) -> list[str]:
        return [line.strip() for line in forms.text(form, name).splitlines() if line.strip()]

    bands = []
    for level in LEVELS:
        low, high = forms.text(form, f"{level}_min"), forms.text(form, f"{level}_max")
        if not low and not high:
            continue
        if not (low.isdigit() and high.isdigit()):
            raise ValidationFailed("band bounds must be whole numbers", errors=[FieldError(
                "bands", f"Give both bounds of the {LEVELS[level].lower()} band as whole numbers, or neither.")])
        bands.append({"level": level, "min": int(low), "max": int(high)})
    return {"likelihood_labels": lines("likelihood_labels"), "impact_labels": lines("impact_labels"), "bands": bands}


@router.post("/risks/matrix")
def update_matrix(request: Request, session: SessionDep, form: forms.FormDep,
                  principal: require("risk_matrix:write")) -> Response:
    try:
        matrices.update_matrix(session, principal, forms.parse(schemas.MatrixIn, _matrix_data(form)))
    except DomainError as err:
        session.rollback()
        return _matrix_page(request, session, principal, forms.values(form), err)
    return pages.redirect(request, "/risks/matrix", "Risk matrix saved.")


def _evidence(session: Session, principal: Principal, risk_id: int) -> list[Any] | None:
    """Evidence linked to the risk that the reader may see (None without compliance:read)."""
    if not principal.has("compliance:read"):
        return None
    scope = principal.scope("compliance:read")
    return [e for e in evidence.linked(session, "risk", [risk_id]).get(risk_id, [])
            if scope is None or e.business_unit_id in scope]


# --- one risk ------------------------------------------------------------------------------------------------------

def _detail(request: Request, session: Session, principal: Principal, key: str, *, err: DomainError | None = None,
            form: dict[str, Any] | None = None) -> HTMLResponse:
    risk = service.view(session, service.get_risk(session, principal, key))
    unit = risk.business_unit_id
    can_accept = principal.may("risk:accept", unit) and risk.treatment == "accept" and risk.status != "closed"
    context: dict[str, Any] = {
        **_labels(), "risk": risk, "can_write": principal.may("risk:write", unit),
        "can_accept": can_accept and principal.user.id != risk.owner_id,
        "owner_cannot_accept": can_accept and principal.user.id == risk.owner_id,
        "control_options": service.control_choices(session),
        "linked_controls": {str(c.id) for c in risk.controls},
        "evidence": _evidence(session, principal, risk.id),
    }
    values = form or {"expires_on": risk.acceptance_expires_on.isoformat() if risk.acceptance_expires_on else ""}
    if err is not None:
        return pages.form_error(request, "risk/risk.html", err, values, context)
    return pages.render(request, "risk/risk.html", {**context, "form": values})


@router.get("/risks/{key}")
def detail_page(request: Request, session: SessionDep, principal: require("risk:read"), key: str) -> HTMLResponse:
    return _detail(request, session, principal, key)


@router.get("/risks/{key}/edit")
def edit_page(request: Request, session: SessionDep, principal: require("risk:write"), key: str) -> HTMLResponse:
    risk = service.view(session, service.get_risk(session, principal, key))
    principal.check_unit("risk:write", risk.business_unit_id)
    return _form_page(request, session, principal, risk, _stored(risk))


@router.post("/risks/{key}")
def update(request: Request, session: SessionDep, form: forms.FormDep, key: str,
           principal: require("risk:write")) -> Response:
    service.get_risk(session, principal, key)
    try:
        body = forms.parse(schemas.RiskUpdate, _risk_data(form, editing=True))
        risk = service.update_risk(session, principal, key, body)
    except DomainError as err:
        session.rollback()
        current = service.view(session, service.get_risk(session, principal, key))
        return _form_page(request, session, principal, current, forms.values(form), err)
    return pages.redirect(request, f"/risks/{risk.key}", f"{risk.key} saved.")


@router.post("/risks/{key}/accept")
def accept(request: Request, session: SessionDep, form: forms.FormDep, key: str,
           principal: require("risk:accept")) -> Response:
    try:
        body = forms.parse(schemas.AcceptIn, {"expires_on": forms.text(form, "expires_on") or None,
                                              "note": forms.text(form, "note")})
        risk = service.accept_risk(session, principal, key, body)
    except DomainError as err:
        session.rollback()
        return _detail(request, session, principal, key, err=err, form=forms.values(form))
    return pages.redirect(request, f"/risks/{risk.key}", f"Acceptance of {risk.key} approved.")


@router.post("/risks/{key}/controls")
def set_controls(request: Request, session: SessionDep, form: forms.FormDep, key: str,
                 principal: require("risk:write")) -> Response:
    try:
        ids = [forms.query_id(v, "control_ids") for v in form.getlist("control_ids") if isinstance(v, str)]
        body = forms.parse(schemas.ControlsIn, {"control_ids": [i for i in ids if i is not None]})
        risk = service.set_controls(session, principal, key, body.control_ids)
    except DomainError as err:
        session.rollback()
        return _detail(request, session, principal, key, err=err)
    return pages.redirect(request, f"/risks/{risk.key}#controls", "Controls saved.")


@router.post("/risks/{key}/delete")
def delete(request: Request, session: SessionDep, key: str, principal: require("risk:write")) -> Response:
    risk_key = service.get_risk(session, principal, key).key
    service.delete_risk(session, principal, key)
    return pages.redirect(request, "/risks", f"{risk_key} deleted.")


# --- the AI-system page's panel ------------------------------------------------------------------------------------

def system_panel(session: Session, principal: Principal, system: AISystem) -> Panel | None:
    """Live risks recorded on the AI system and on the use case it delivers, highest first."""
    if not principal.has("risk:read"):
        return None
    risks = service.risks_on(session, principal, {"ai_system": system.id, "use_case": system.use_case_id})
    return Panel("Risks", "risk/_system_panel.html", {
        "risks": service.views(session, risks), "system": system, "level_labels": LEVELS,
        "level_badges": LEVEL_BADGES, "can_write": principal.may("risk:write", system.business_unit_id)})
