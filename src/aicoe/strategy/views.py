"""HTML pages for strategy: the overview (/strategy), the mission's history, objectives and KPIs.

Forms go through the same schemas and service as the API, so a form is refused for the same reasons and
comes back with the error next to the field. Strategy is CoE-wide: ``strategy:read`` opens every page,
``strategy:write`` every form.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from aicoe.auth.deps import require
from aicoe.auth.principal import Principal, in_scope
from aicoe.core.deps import SessionDep
from aicoe.core.errors import DomainError, FieldError, ValidationFailed
from aicoe.core.pagination import PageParams
from aicoe.models.org import BusinessUnit, User
from aicoe.models.portfolio import UseCase, use_case_objectives
from aicoe.models.strategy import Kpi, Objective
from aicoe.strategy import schemas, service
from aicoe.web import charts, forms, pages

router = APIRouter()

Filter = Annotated[str | None, Query(max_length=200)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
PAGE_SIZE = 25


def _labels() -> dict[str, Any]:
    return {"status_labels": service.STATUS_LABELS, "trend_labels": service.TREND_LABELS,
            "objective_statuses": schemas.OBJECTIVE_STATUSES, "directions": schemas.DIRECTIONS}


def _with_status(kpis: list[Kpi]) -> list[tuple[Kpi, service.KpiStatus]]:
    return [(k, service.kpi_status(k)) for k in kpis]


# --- overview and mission --------------------------------------------------------------------------------------

@router.get("/strategy")
def strategy_page(request: Request, session: SessionDep, principal: require("strategy:read"),
                  status: Filter = None, business_unit_id: Filter = None, q: Filter = None,
                  offset: Offset = 0) -> HTMLResponse:
    filters = {"status": status or "", "business_unit_id": business_unit_id or "", "q": q or ""}
    page = service.list_objectives(
        session, PageParams(limit=PAGE_SIZE, offset=offset, sort="period_end,title"), status=status or None,
        business_unit_id=forms.query_id(business_unit_id, "business_unit_id"), q=q or None)
    by_objective: dict[int | None, list[Kpi]] = defaultdict(list)
    for kpi in service.all_kpis(session):
        by_objective[kpi.objective_id].append(kpi)
    filtered = any(filters.values())
    return pages.render(request, "strategy.html", {
        **_labels(),
        "mission": service.current_mission(session),
        "objectives": [(o, _with_status(by_objective.get(o.id, []))) for o in page.items],
        "page": page, "pager_url": forms.query_url("/strategy", **filters),
        "unlinked": [] if filtered else _with_status(by_objective.get(None, [])),
        "filters": filters, "filtered": filtered,
        "unit_options": [(u.id, u.name) for u in session.scalars(select(BusinessUnit).order_by(BusinessUnit.name))],
    })


def _mission_page(request: Request, session: Session, offset: int, err: DomainError | None = None,
                  form: dict[str, str] | None = None) -> HTMLResponse:
    context = {"mission": service.current_mission(session),
               "history": service.list_mission_versions(session, PageParams(limit=PAGE_SIZE, offset=offset))}
    if err is not None:
        return pages.form_error(request, "strategy_mission.html", err, form or {}, context)
    return pages.render(request, "strategy_mission.html", context)


@router.get("/strategy/mission")
def mission_page(request: Request, session: SessionDep, principal: require("strategy:read"),
                 offset: Offset = 0) -> HTMLResponse:
    return _mission_page(request, session, offset)


@router.post("/strategy/mission")
def revise_mission(request: Request, session: SessionDep, form: forms.FormDep,
                   principal: require("strategy:write")) -> Response:
    data = {"statement": forms.text(form, "statement"), "vision": forms.text(form, "vision"),
            "change_note": forms.text(form, "change_note")}
    try:
        mission = service.revise_mission(session, principal, forms.parse(schemas.MissionIn, data))
    except DomainError as err:
        session.rollback()
        return _mission_page(request, session, 0, err, forms.values(form))
    return pages.redirect(request, "/strategy/mission", f"Mission saved as version {mission.version}.")


# --- objectives ------------------------------------------------------------------------------------------------

def _people(session: Session) -> list[tuple[int, str]]:
    rows = session.execute(select(User.id, User.full_name, User.email).where(User.is_active.is_(True))
                           .order_by(User.full_name, User.email))
    return [(uid, f"{name} ({email})") for uid, name, email in rows]


def _objective_form(request: Request, session: Session, objective: Objective | None,
                    err: DomainError | None = None, form: forms.FormData | None = None) -> HTMLResponse:
    if form is not None:
        checked = [v for v in form.getlist("business_unit_ids") if isinstance(v, str)]
    else:
        checked = [str(u.id) for u in objective.units] if objective else []
    context = {**_labels(), "objective": objective, "people": _people(session), "checked_units": checked,
               "units": list(session.scalars(select(BusinessUnit).order_by(BusinessUnit.name)))}
    if err is not None:
        return pages.form_error(request, "objective_form.html", err, forms.values(form) if form else {}, context)
    return pages.render(request, "objective_form.html", context)


def _optional(data: dict[str, Any], form: forms.FormData, *names: str) -> dict[str, Any]:
    """Copy filled-in fields; an empty field is left out (so a required one is reported as missing)."""
    for name in names:
        value = forms.text(form, name)
        if value:
            data[name] = value
    return data


def _objective_data(form: forms.FormData) -> dict[str, Any]:
    ids = []
    for raw in form.getlist("business_unit_ids"):
        try:
            ids.append(int(raw))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ValidationFailed("business_unit_ids must be numbers", errors=[
                FieldError("business_unit_ids", f"{raw!r} is not a valid choice.")]) from None
    data: dict[str, Any] = {"title": forms.text(form, "title"), "description": forms.text(form, "description"),
                            "owner_id": forms.optional_int(form, "owner_id"), "business_unit_ids": ids}
    return _optional(data, form, "period_start", "period_end", "status")


@router.get("/objectives/new")
def new_objective(request: Request, session: SessionDep, principal: require("strategy:write")) -> HTMLResponse:
    return _objective_form(request, session, None)


@router.post("/objectives")
def create_objective(request: Request, session: SessionDep, form: forms.FormDep,
                     principal: require("strategy:write")) -> Response:
    try:
        data = forms.parse(schemas.ObjectiveCreate, _objective_data(form))
        objective = service.create_objective(session, principal, data)
    except DomainError as err:
        session.rollback()
        return _objective_form(request, session, None, err, form)
    return pages.redirect(request, f"/objectives/{objective.id}", f"Objective {objective.title!r} created.")


def _linked_use_cases(session: Session, principal: Principal, objective_id: int) -> list[UseCase] | None:
    """The use cases serving this objective that the caller may see (None without ``use_case:read``)."""
    if not principal.has("use_case:read"):
        return None
    stmt = (select(UseCase).join(use_case_objectives, use_case_objectives.c.use_case_id == UseCase.id)
            .where(use_case_objectives.c.objective_id == objective_id,
                   in_scope(UseCase.business_unit_id, principal.scope("use_case:read")))
            .order_by(UseCase.key))
    return list(session.scalars(stmt))


def _objective_page(request: Request, session: Session, principal: Principal, objective_id: int,
                    err: DomainError | None = None) -> HTMLResponse:
    objective = service.get_objective(session, objective_id)
    kpis = service.list_kpis(session, PageParams(limit=500), objective_id=objective.id).items
    context = {**_labels(), "objective": objective, "kpis": _with_status(list(kpis)),
               "use_cases": _linked_use_cases(session, principal, objective.id)}
    if err is not None:
        return pages.form_error(request, "objective.html", err, {}, context)
    return pages.render(request, "objective.html", context)


@router.get("/objectives/{objective_id}")
def objective_page(request: Request, session: SessionDep, principal: require("strategy:read"),
                   objective_id: int) -> HTMLResponse:
    return _objective_page(request, session, principal, objective_id)


@router.get("/objectives/{objective_id}/edit")
def edit_objective(request: Request, session: SessionDep, principal: require("strategy:write"),
                   objective_id: int) -> HTMLResponse:
    return _objective_form(request, session, service.get_objective(session, objective_id))


@router.post("/objectives/{objective_id}")
def update_objective(request: Request, session: SessionDep, form: forms.FormDep, objective_id: int,
                     principal: require("strategy:write")) -> Response:
    service.get_objective(session, objective_id)
    try:
        data = _objective_data(form)
        for name in ("period_start", "period_end", "status"):
            data.setdefault(name, None)  # an emptied required field is an error, not "unchanged"
        objective = service.update_objective(session, principal, objective_id,
                                             forms.parse(schemas.ObjectiveUpdate, data))
    except DomainError as err:
        session.rollback()
        return _objective_form(request, session, service.get_objective(session, objective_id), err, form)
    return pages.redirect(request, f"/objectives/{objective.id}", f"Objective {objective.title!r} saved.")


@router.post("/objectives/{objective_id}/delete")
def delete_objective(request: Request, session: SessionDep, objective_id: int,
                     principal: require("strategy:write")) -> Response:
    title = service.get_objective(session, objective_id).title
    try:
        service.delete_objective(session, principal, objective_id)
    except DomainError as err:
        session.rollback()
        return _objective_page(request, session, principal, objective_id, err)
    return pages.redirect(request, "/strategy", f"Objective {title!r} deleted; its KPIs are kept.")


# --- KPIs ------------------------------------------------------------------------------------------------------

def _kpi_form(request: Request, session: Session, kpi: Kpi | None, err: DomainError | None = None,
              form: dict[str, str] | None = None, preset: dict[str, str] | None = None) -> HTMLResponse:
    objectives = [(o.id, o.title) for o in session.scalars(select(Objective).order_by(Objective.title))]
    context = {**_labels(), "kpi": kpi, "people": _people(session), "objective_options": objectives,
               "preset": preset or {}}
    if err is not None:
        return pages.form_error(request, "kpi_form.html", err, form or {}, context)
    return pages.render(request, "kpi_form.html", context)


def _kpi_data(form: forms.FormData) -> dict[str, Any]:
    data: dict[str, Any] = {"name": forms.text(form, "name"), "description": forms.text(form, "description"),
                            "unit": forms.text(form, "unit"), "objective_id": forms.optional_int(form, "objective_id"),
                            "owner_id": forms.optional_int(form, "owner_id"),
                            "target_date": forms.text(form, "target_date") or None}
    return _optional(data, form, "direction", "baseline", "target")


@router.get("/kpis/new")
def new_kpi(request: Request, session: SessionDep, principal: require("strategy:write"),
            objective_id: Filter = None) -> HTMLResponse:
    return _kpi_form(request, session, None, preset={"objective_id": objective_id or ""})


@router.post("/kpis")
def create_kpi(request: Request, session: SessionDep, form: forms.FormDep,
               principal: require("strategy:write")) -> Response:
    try:
        kpi = service.create_kpi(session, principal, forms.parse(schemas.KpiCreate, _kpi_data(form)))
    except DomainError as err:
        session.rollback()
        return _kpi_form(request, session, None, err, forms.values(form))
    return pages.redirect(request, f"/kpis/{kpi.id}", f"KPI {kpi.name!r} created.")


def _kpi_page(request: Request, session: Session, kpi_id: int, err: DomainError | None = None,
              form: dict[str, str] | None = None) -> HTMLResponse:
    kpi = service.get_kpi(session, kpi_id)
    chart = charts.line_chart([(m.measured_on, m.value) for m in kpi.measurements], target=kpi.target,
                              baseline=kpi.baseline, unit=kpi.unit, title=f"{kpi.name}: measurements over time",
                              target_date=kpi.target_date)
    context = {**_labels(), "kpi": kpi, "status": service.kpi_status(kpi), "chart": chart,
               "measurements": list(reversed(kpi.measurements))}
    if err is not None:
        return pages.form_error(request, "kpi.html", err, form or {}, context)
    return pages.render(request, "kpi.html", context)


@router.get("/kpis/{kpi_id}")
def kpi_page(request: Request, session: SessionDep, principal: require("strategy:read"), kpi_id: int) -> HTMLResponse:
    return _kpi_page(request, session, kpi_id)


@router.get("/kpis/{kpi_id}/edit")
def edit_kpi(request: Request, session: SessionDep, principal: require("strategy:write"),
             kpi_id: int) -> HTMLResponse:
    return _kpi_form(request, session, service.get_kpi(session, kpi_id))


@router.post("/kpis/{kpi_id}")
def update_kpi(request: Request, session: SessionDep, form: forms.FormDep, kpi_id: int,
               principal: require("strategy:write")) -> Response:
    service.get_kpi(session, kpi_id)
    try:
        data = _kpi_data(form)
        for name in ("direction", "baseline", "target"):
            data.setdefault(name, None)
        kpi = service.update_kpi(session, principal, kpi_id, forms.parse(schemas.KpiUpdate, data))
    except DomainError as err:
        session.rollback()
        return _kpi_form(request, session, service.get_kpi(session, kpi_id), err, forms.values(form))
    return pages.redirect(request, f"/kpis/{kpi.id}", f"KPI {kpi.name!r} saved.")


@router.post("/kpis/{kpi_id}/delete")
def delete_kpi(request: Request, session: SessionDep, kpi_id: int, principal: require("strategy:write")) -> Response:
    kpi = service.get_kpi(session, kpi_id)
    name, objective_id = kpi.name, kpi.objective_id
    service.delete_kpi(session, principal, kpi_id)
    target = f"/objectives/{objective_id}" if objective_id else "/strategy"
    return pages.redirect(request, target, f"KPI {name!r} and its measurements deleted.")


@router.post("/kpis/{kpi_id}/measurements")
def add_measurement(request: Request, session: SessionDep, form: forms.FormDep, kpi_id: int,
                    principal: require("strategy:write")) -> Response:
    service.get_kpi(session, kpi_id)
    data = _optional({"note": forms.text(form, "note")}, form, "measured_on", "value")
    try:
        measurement = service.add_measurement(session, principal, kpi_id, forms.parse(schemas.MeasurementIn, data))
    except DomainError as err:
        session.rollback()
        return _kpi_page(request, session, kpi_id, err, forms.values(form))
    return pages.redirect(request, f"/kpis/{kpi_id}",
                          f"Measurement for {measurement.measured_on.isoformat()} recorded.")


@router.post("/kpis/{kpi_id}/measurements/{measurement_id}/delete")
def delete_measurement(request: Request, session: SessionDep, kpi_id: int, measurement_id: int,
                       principal: require("strategy:write")) -> Response:
    service.delete_measurement(session, principal, kpi_id, measurement_id)
    return pages.redirect(request, f"/kpis/{kpi_id}", "Measurement deleted.")
