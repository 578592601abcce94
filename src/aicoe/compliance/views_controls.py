"""HTML pages for the control library: the list (categories, mapped requirements per framework, implementations),
adding and editing a control, the control page (mapping editor, implementations per subject with the AI systems
that inherit each and their evidence), editing an implementation, and the controls panel on the AI system page.

Reads and writes go through the controls service; a refused form comes back with the errors next to its fields
and what the user typed.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aicoe.auth.deps import require
from aicoe.auth.principal import Principal, in_scope
from aicoe.compliance import controls, evidence
from aicoe.compliance import schemas_controls as schemas
from aicoe.compliance.constants import CONTROL_CATEGORIES, CONTROL_SUBJECTS, IMPLEMENTATION_STATUSES
from aicoe.core.deps import SessionDep
from aicoe.core.errors import DomainError, FieldError, ValidationFailed
from aicoe.core.pagination import PageParams
from aicoe.models.compliance import Control, ControlImplementation, Framework, Requirement
from aicoe.models.inventory import AISystem, Dataset, Model, Vendor
from aicoe.org.service import people_choices
from aicoe.web import forms, pages
from aicoe.web.panels import Panel

router = APIRouter()

READ, LIBRARY, IMPLEMENT = controls.READ, controls.LIBRARY, controls.IMPLEMENT
PAGE_SIZE = 25
PICKER_LIMIT = 500
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
Filter = Annotated[str | None, Query(max_length=200)]
STATUS_BADGES = {"implemented": "on", "planned": "st info", "not_effective": "off"}
SUBJECT_URLS = {"ai_system": "/ai-systems", "model": "/models", "dataset": "/datasets", "vendor": "/vendors"}
SUBJECT_ORDER = list(CONTROL_SUBJECTS)
CONTROL_FIELDS = ("code", "name", "description", "category")
IMPLEMENTATION_FIELDS = ("status", "notes", "implemented_on")


def _labels() -> dict[str, Any]:
    return {"category_labels": CONTROL_CATEGORIES, "status_labels": IMPLEMENTATION_STATUSES,
            "status_badges": STATUS_BADGES, "subject_type_labels": CONTROL_SUBJECTS, "subject_urls": SUBJECT_URLS}


def by_framework(control: Control) -> list[tuple[str, list[Requirement]]]:
    """The control's requirements grouped by framework (by framework name, requirements in catalog order)."""
    groups: dict[str, list[Requirement]] = defaultdict(list)
    for link in control.requirement_links:
        framework = link.requirement.framework
        groups[f"{framework.name} {framework.version}"].append(link.requirement)
    return [(name, sorted(reqs, key=lambda r: r.position)) for name, reqs in sorted(groups.items())]


# --- the library -------------------------------------------------------------------------------------------------

@router.get("/controls")
def list_page(request: Request, session: SessionDep, principal: require("compliance:read"), q: Filter = None,
              category: Filter = None, framework_id: Filter = None, offset: Offset = 0) -> HTMLResponse:
    filters = {k: (v or "").strip() for k, v in dict(q=q, category=category, framework_id=framework_id).items()}
    page = controls.list_controls(session, principal, PageParams(limit=PAGE_SIZE, offset=offset),
                                  q=filters["q"] or None, category=filters["category"] or None,
                                  framework_id=forms.query_id(framework_id, "framework_id"))
    frameworks = [(i, f"{n} {v}") for i, n, v in session.execute(
        select(Framework.id, Framework.name, Framework.version).where(Framework.is_current.is_(True))
        .order_by(func.lower(Framework.name)))]
    return pages.render(request, "compliance/controls.html", {
        **_labels(), "page": page, "filters": filters, "pager_url": forms.query_url("/controls", **filters),
        "mapped": {c.id: by_framework(c) for c in page.items},
        "counts": controls.implementation_counts(session, principal, [c.id for c in page.items]),
        "category_options": list(CONTROL_CATEGORIES.items()), "framework_options": frameworks,
        "can_write": principal.has(LIBRARY)})


def _control_data(form: forms.FormData) -> dict[str, Any]:
    data: dict[str, Any] = {name: forms.text(form, name) for name in CONTROL_FIELDS}
    data["category"] = data["category"] or None
    data["owner_id"] = forms.optional_int(form, "owner_id")
    return data


def _control_form(request: Request, session: Session, principal: Principal, control: Control | None,
                  values: dict[str, Any], err: DomainError | None = None) -> HTMLResponse:
    context = {"control": control, "category_options": list(CONTROL_CATEGORIES.items()),
               "people_options": people_choices(session, principal, control.owner_id if control else None)}
    if err is not None:
        return pages.form_error(request, "compliance/control_form.html", err, values, context)
    return pages.render(request, "compliance/control_form.html", {**context, "form": values})


@router.get("/controls/new")
def new_page(request: Request, session: SessionDep, principal: require("control:write")) -> HTMLResponse:
    return _control_form(request, session, principal, None, {"owner_id": principal.user.id})


@router.post("/controls")
def create(request: Request, session: SessionDep, form: forms.FormDep,
           principal: require("control:write")) -> Response:
    try:
        control = controls.create_control(session, principal, forms.parse(schemas.ControlCreate, _control_data(form)))
    except DomainError as err:
        session.rollback()
        return _control_form(request, session, principal, None, forms.values(form), err)
    return pages.redirect(request, f"/controls/{control.id}", f"{control.code} added to the library.")


# --- the control page --------------------------------------------------------------------------------------------

def _subject_options(session: Session, principal: Principal) -> list[tuple[str, list[tuple[str, str]]]]:
    """Subjects the caller may implement controls on, grouped by type, as ('type:id', label)."""
    if not principal.has(IMPLEMENT):
        return []
    scope = principal.scope(IMPLEMENT)
    groups: list[tuple[str, list[tuple[str, str]]]] = []
    for subject_type, table, order in (("ai_system", AISystem, [func.lower(AISystem.name)]),
                                       ("model", Model, [func.lower(Model.name), Model.version]),
                                       ("dataset", Dataset, [func.lower(Dataset.name)])):
        rows = session.scalars(select(table).where(in_scope(table.business_unit_id, scope))
                               .order_by(*order).limit(PICKER_LIMIT))
        groups.append((CONTROL_SUBJECTS[subject_type] + "s",
                       [(f"{subject_type}:{r.id}", controls.subject_label(subject_type, r)) for r in rows]))
    if scope is None:
        groups.append(("Vendors", [(f"vendor:{v.id}", v.name) for v in session.scalars(
            select(Vendor).order_by(func.lower(Vendor.name)).limit(PICKER_LIMIT))]))
    return [(label, options) for label, options in groups if options]


def _implementation_rows(session: Session, principal: Principal, control: Control) -> list[dict[str, Any]]:
    impls = [i for i in control.implementations
             if i.business_unit_id is None or principal.may(READ, i.business_unit_id)]
    labels = controls.subject_labels(session, impls)
    linked = evidence.linked(session, "control_implementation", [i.id for i in impls])
    rows = []
    for impl in impls:
        systems = controls.systems_inheriting(session, impl)
        shown = [s for s in systems if principal.may(READ, s.business_unit_id)]
        rows.append({"impl": impl, "label": labels[(impl.subject_type, impl.subject_id)], "systems": shown,
                     "hidden_systems": len(systems) - len(shown), "evidence": linked.get(impl.id, []),
                     "can_write": principal.may(IMPLEMENT, impl.business_unit_id) if impl.business_unit_id
                     else principal.has(IMPLEMENT) and principal.scope(IMPLEMENT) is None})
    return sorted(rows, key=lambda r: (SUBJECT_ORDER.index(r["impl"].subject_type), r["label"].lower()))


def _detail(request: Request, session: Session, principal: Principal, control_id: int, *,
            err: DomainError | None = None, form: dict[str, Any] | None = None) -> HTMLResponse:
    control = controls.get_control(session, principal, control_id)
    can_edit = principal.has(LIBRARY)
    context: dict[str, Any] = {
        **_labels(), "control": control, "mapped": by_framework(control), "can_edit": can_edit,
        "rows": _implementation_rows(session, principal, control),
        "subject_options": _subject_options(session, principal),
        "status_options": list(IMPLEMENTATION_STATUSES.items()),
        "people_options": people_choices(session, principal) if principal.has(IMPLEMENT) else [],
        "requirement_choices": controls.requirement_choices(session) if can_edit else []}
    if err is not None:
        return pages.form_error(request, "compliance/control.html", err, form or {}, context)
    return pages.render(request, "compliance/control.html", context)


@router.get("/controls/{control_id}")
def detail_page(request: Request, session: SessionDep, principal: require("compliance:read"),
                control_id: int) -> HTMLResponse:
    return _detail(request, session, principal, control_id)


@router.get("/controls/{control_id}/edit")
def edit_page(request: Request, session: SessionDep, principal: require("control:write"),
              control_id: int) -> HTMLResponse:
    control = controls.get_control(session, principal, control_id)
    values = {name: getattr(control, name) for name in CONTROL_FIELDS} | {"owner_id": control.owner_id or ""}
    return _control_form(request, session, principal, control, values)


@router.post("/controls/{control_id}")
def update(request: Request, session: SessionDep, form: forms.FormDep, control_id: int,
           principal: require("control:write")) -> Response:
    controls.get_control(session, principal, control_id)
    try:
        body = forms.parse(schemas.ControlUpdate, _control_data(form))
        control = controls.update_control(session, principal, control_id, body)
    except DomainError as err:
        session.rollback()
        current = controls.get_control(session, principal, control_id)
        return _control_form(request, session, principal, current, forms.values(form), err)
    return pages.redirect(request, f"/controls/{control.id}", f"{control.code} saved.")


@router.post("/controls/{control_id}/delete")
def delete(request: Request, session: SessionDep, control_id: int, principal: require("control:write")) -> Response:
    code = controls.get_control(session, principal, control_id).code
    try:
        controls.delete_control(session, principal, control_id)
    except DomainError as err:
        session.rollback()
        return _detail(request, session, principal, control_id, err=err)
    return pages.redirect(request, "/controls", f"{code} removed from the library.")


def _acting(request: Request, session: Session, principal: Principal, control_id: int, form: forms.FormData,
            action: Any, anchor: str, message: str) -> Response:
    return pages.attempt(request, session, action, then=f"/controls/{control_id}#{anchor}", message=message,
                         on_error=lambda err: _detail(request, session, principal, control_id, err=err,
                                                      form=forms.values(form)))


@router.post("/controls/{control_id}/requirements")
def add_requirement(request: Request, session: SessionDep, form: forms.FormDep, control_id: int,
                    principal: require("control:write")) -> Response:
    def act() -> None:
        text = forms.text(form, "requirement")
        if not text:
            raise ValidationFailed("choose a requirement", errors=[FieldError("requirement", "Choose a requirement.")])
        control = controls.get_control(session, principal, control_id)
        requirement = controls.find_requirement(session, text)
        current = [link.requirement_id for link in control.requirement_links]
        controls.set_requirements(session, principal, control_id, [*current, requirement.id])
    return _acting(request, session, principal, control_id, form, act, "mappings", "Requirement mapped.")


@router.post("/controls/{control_id}/requirements/{requirement_id}/remove")
def remove_requirement(request: Request, session: SessionDep, form: forms.FormDep, control_id: int,
                       requirement_id: int, principal: require("control:write")) -> Response:
    def act() -> None:
        control = controls.get_control(session, principal, control_id)
        controls.set_requirements(session, principal, control_id,
                                  [link.requirement_id for link in control.requirement_links
                                   if link.requirement_id != requirement_id])
    return _acting(request, session, principal, control_id, form, act, "mappings", "Mapping removed.")


def _subject(form: forms.FormData) -> tuple[str | None, int | None]:
    subject_type, _, subject_id = forms.text(form, "subject").partition(":")
    if not subject_type:
        raise ValidationFailed("choose what the control is implemented on",
                               errors=[FieldError("subject", "Choose an AI system, model, dataset or vendor.")])
    if subject_type not in CONTROL_SUBJECTS or not subject_id.isdigit():
        raise ValidationFailed("unknown subject", errors=[FieldError("subject", "Not a valid choice.")])
    return subject_type, int(subject_id)


def _implementation_data(form: forms.FormData) -> dict[str, Any]:
    data: dict[str, Any] = {name: forms.text(form, name) for name in IMPLEMENTATION_FIELDS}
    data["status"] = data["status"] or None
    data["implemented_on"] = data["implemented_on"] or None
    data["owner_id"] = forms.optional_int(form, "owner_id")
    return data


@router.post("/controls/{control_id}/implementations")
def implement(request: Request, session: SessionDep, form: forms.FormDep, control_id: int,
              principal: require("compliance:write")) -> Response:
    def act() -> None:
        subject_type, subject_id = _subject(form)
        data = {**_implementation_data(form), "subject_type": subject_type, "subject_id": subject_id}
        try:
            body = forms.parse(schemas.ImplementationCreate, data)
            controls.implement(session, principal, control_id, body)
        except DomainError as err:  # the subject is one field on the page
            err.errors = [FieldError("subject", e.message) if e.field in ("subject_type", "subject_id") else e
                          for e in err.errors]
            raise
    return _acting(request, session, principal, control_id, form, act, "implementations", "Implementation recorded.")


# --- implementations ---------------------------------------------------------------------------------------------

def _implementation_form(request: Request, session: Session, principal: Principal, impl: ControlImplementation,
                         values: dict[str, Any], err: DomainError | None = None) -> HTMLResponse:
    context = {**_labels(), "impl": impl, "label": controls.subject_labels(session, [impl])[
        (impl.subject_type, impl.subject_id)], "status_options": list(IMPLEMENTATION_STATUSES.items()),
        "people_options": people_choices(session, principal, impl.owner_id)}
    if err is not None:
        return pages.form_error(request, "compliance/implementation_form.html", err, values, context)
    return pages.render(request, "compliance/implementation_form.html", {**context, "form": values})


@router.get("/control-implementations/{implementation_id}/edit")
def edit_implementation_page(request: Request, session: SessionDep, principal: require("compliance:write"),
                             implementation_id: int) -> HTMLResponse:
    impl = controls.get_implementation(session, principal, implementation_id)
    values = {"status": impl.status, "notes": impl.notes, "owner_id": impl.owner_id or "",
              "implemented_on": impl.implemented_on.isoformat() if impl.implemented_on else ""}
    return _implementation_form(request, session, principal, impl, values)


@router.post("/control-implementations/{implementation_id}")
def update_implementation(request: Request, session: SessionDep, form: forms.FormDep, implementation_id: int,
                          principal: require("compliance:write")) -> Response:
    impl = controls.get_implementation(session, principal, implementation_id)
    try:
        body = forms.parse(schemas.ImplementationUpdate, _implementation_data(form))
        impl = controls.update_implementation(session, principal, implementation_id, body)
    except DomainError as err:
        session.rollback()
        current = controls.get_implementation(session, principal, implementation_id)
        return _implementation_form(request, session, principal, current, forms.values(form), err)
    return pages.redirect(request, f"/controls/{impl.control_id}#implementations", "Implementation saved.")


@router.post("/control-implementations/{implementation_id}/delete")
def delete_implementation(request: Request, session: SessionDep, implementation_id: int,
                          principal: require("compliance:write")) -> Response:
    control_id = controls.get_implementation(session, principal, implementation_id).control_id
    try:
        controls.delete_implementation(session, principal, implementation_id)
    except DomainError as err:
        session.rollback()
        return _detail(request, session, principal, control_id, err=err)
    return pages.redirect(request, f"/controls/{control_id}#implementations", "Implementation removed.")


# --- the AI system page ------------------------------------------------------------------------------------------

def system_panel(session: Session, principal: Principal, system: AISystem) -> Panel | None:
    """The controls in effect for the system, with their status and where each is inherited from."""
    if not principal.may(READ, system.business_unit_id):
        return None
    return Panel("Controls", "compliance/_controls_panel.html", {
        **_labels(), "effective": controls.effective_for_system(session, system.id),
        "can_implement": principal.may(IMPLEMENT, system.business_unit_id)})
