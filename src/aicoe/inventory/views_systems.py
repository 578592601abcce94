"""HTML pages for AI systems (list with filters, register, detail with model/dataset links and deployments,
edit), vendors (list, detail, form) and the inventory search results.

Reads and writes go through the inventory services, which scope every query to the caller's units; a refused
form comes back with the errors next to its fields and what the user typed.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aicoe.auth.deps import require
from aicoe.auth.principal import Principal, in_scope
from aicoe.core.deps import SessionDep
from aicoe.core.errors import DomainError, FieldError, ValidationFailed
from aicoe.core.pagination import PageParams
from aicoe.inventory import constants, deployments, search, systems, vendors
from aicoe.inventory import schemas_systems as schemas
from aicoe.models.inventory import AISystem, Dataset, Model, Vendor
from aicoe.models.portfolio import UseCase
from aicoe.org.service import people_choices, unit_choices
from aicoe.portfolio.constants import AI_TYPES
from aicoe.web import forms, pages, panels

router = APIRouter()

PAGE_SIZE = 25
PICKER_LIMIT = 500
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
Filter = Annotated[str | None, Query(max_length=200)]
SORTS = [("name", "Name"), ("-updated_at", "Recently changed"), ("updated_at", "Least recently changed")]
SYSTEM_TEXT = ("name", "purpose", "ai_type", "lifecycle_status", "eu_ai_act_role", "affected_people",
               "human_oversight")
SYSTEM_IDS = ("use_case_id", "business_unit_id", "owner_id", "technical_owner_id")
VENDOR_FIELDS = ("name", "type", "status", "website", "contact_name", "contact_email", "notes")
DEPLOYMENT_TEXT = ("environment", "endpoint", "status", "gateway_route")




def _labels() -> dict[str, Any]:
    return {"ai_labels": AI_TYPES, "lifecycle_labels": constants.LIFECYCLE_STATUSES,
            "role_labels_eu": constants.EU_AI_ACT_ROLES, "env_labels": constants.ENVIRONMENTS,
            "deployment_labels": constants.DEPLOYMENT_STATUSES, "vendor_type_labels": constants.VENDOR_TYPES,
            "vendor_status_labels": constants.VENDOR_STATUSES}


# --- choices -----------------------------------------------------------------------------------------------------





def _use_cases(session: Session, principal: Principal, keep: int | None) -> list[tuple[int, str]]:
    rows: dict[int, str] = {}
    if principal.has("use_case:read"):
        stmt = (select(UseCase.id, UseCase.key, UseCase.title)
                .where(in_scope(UseCase.business_unit_id, principal.scope("use_case:read")))
                .order_by(UseCase.id.desc()).limit(PICKER_LIMIT))
        rows = {i: f"{k} {t}" for i, k, t in session.execute(stmt)}
    if keep is not None and keep not in rows:
        use_case = session.get(UseCase, keep)
        if use_case is not None:
            rows[use_case.id] = f"{use_case.key} {use_case.title}"
    return sorted(rows.items(), key=lambda item: item[1])


def _system_choices(session: Session, principal: Principal, system: AISystem | None) -> dict[str, Any]:
    keep = (system.owner_id, system.technical_owner_id) if system else ()
    return {
        "unit_options": unit_choices(session, principal, "inventory:write"),
        "people_options": people_choices(session, principal, *keep),
        "use_case_options": _use_cases(session, principal, system.use_case_id if system else None),
        "vendor_options": vendors.all_vendors(session),
        "ai_types": list(AI_TYPES.items()), "lifecycle_options": list(constants.LIFECYCLE_STATUSES.items()),
        "eu_role_options": list(constants.EU_AI_ACT_ROLES.items()),
    }


# --- AI systems: list --------------------------------------------------------------------------------------------

@router.get("/ai-systems")
def list_page(request: Request, session: SessionDep, principal: require("inventory:read"), q: Filter = None,
              business_unit_id: Filter = None, lifecycle_status: Filter = None, ai_type: Filter = None,
              risk_tier: Filter = None, vendor_id: Filter = None, owner_id: Filter = None, sort: Filter = None,
              offset: Offset = 0) -> HTMLResponse:
    filters = {k: (v or "").strip() for k, v in dict(
        q=q, business_unit_id=business_unit_id, lifecycle_status=lifecycle_status, ai_type=ai_type,
        risk_tier=risk_tier, vendor_id=vendor_id, owner_id=owner_id, sort=sort).items()}
    page = systems.list_systems(
        session, principal, PageParams(limit=PAGE_SIZE, offset=offset, sort=filters["sort"] or None),
        q=filters["q"] or None, lifecycle_status=filters["lifecycle_status"] or None,
        ai_type=filters["ai_type"] or None, risk_tier=filters["risk_tier"] or None,
        business_unit_id=forms.query_id(business_unit_id, "business_unit_id"),
        vendor_id=forms.query_id(vendor_id, "vendor_id"), owner_id=forms.query_id(owner_id, "owner_id"))
    tiers = [t for t in session.scalars(select(AISystem.risk_tier).where(AISystem.risk_tier.is_not(None))
                                        .distinct().order_by(AISystem.risk_tier))]
    return pages.render(request, "ai_systems.html", {
        **_labels(), "page": page, "filters": filters, "pager_url": forms.query_url("/ai-systems", **filters),
        "unit_options": unit_choices(session, principal, "inventory:read"),
        "lifecycle_options": list(constants.LIFECYCLE_STATUSES.items()), "ai_types": list(AI_TYPES.items()),
        "risk_options": [(t, t) for t in tiers], "vendor_options": vendors.all_vendors(session),
        "people_options": people_choices(session, principal), "sorts": SORTS,
        "can_create": principal.has("inventory:write"),
    })


# --- AI systems: register and edit ----------------------------------------------------------------------------------

def _system_data(form: forms.FormData) -> dict[str, Any]:
    data: dict[str, Any] = {name: forms.text(form, name) for name in SYSTEM_TEXT}
    for name in SYSTEM_IDS:
        data[name] = forms.optional_int(form, name)
    for name in ("ai_type", "lifecycle_status", "eu_ai_act_role"):
        data[name] = data[name] or None
    data["vendor_ids"] = [v for v in form.getlist("vendor_ids") if isinstance(v, str) and v.strip()]
    return data


def _system_values(form: forms.FormData) -> dict[str, Any]:
    values: dict[str, Any] = forms.values(form)
    values["vendor_ids"] = [v for v in form.getlist("vendor_ids") if isinstance(v, str)]
    return values


def _stored_system(system: AISystem) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(system, name) for name in SYSTEM_TEXT}
    values.update({name: getattr(system, name) or "" for name in SYSTEM_IDS})
    values["vendor_ids"] = [str(v.id) for v in system.vendors]
    return values


def _form_page(request: Request, session: Session, principal: Principal, system: AISystem | None,
               values: dict[str, Any], err: DomainError | None = None) -> HTMLResponse:
    context = {**_system_choices(session, principal, system), "system": system}
    if err is not None:
        return pages.form_error(request, "ai_system_form.html", err, values, context)
    return pages.render(request, "ai_system_form.html", {**context, "form": values})


@router.get("/ai-systems/new")
def new_page(request: Request, session: SessionDep, principal: require("inventory:write")) -> HTMLResponse:
    units = {u for u, _ in unit_choices(session, principal, "inventory:write")}
    home = principal.user.business_unit_id
    values = {"business_unit_id": home if home in units else "", "lifecycle_status": "in_development",
              "eu_ai_act_role": "deployer", "vendor_ids": []}
    return _form_page(request, session, principal, None, values)


@router.post("/ai-systems")
def create(request: Request, session: SessionDep, form: forms.FormDep,
           principal: require("inventory:write")) -> Response:
    try:
        system = systems.create_system(session, principal, forms.parse(schemas.SystemCreate, _system_data(form)))
    except DomainError as err:
        session.rollback()
        return _form_page(request, session, principal, None, _system_values(form), err)
    return pages.redirect(request, f"/ai-systems/{system.id}", f"{system.name} registered.")


def _detail(request: Request, session: Session, principal: Principal, system_id: int, *,
            err: DomainError | None = None, form: dict[str, Any] | None = None) -> HTMLResponse:
    system = systems.get_system(session, principal, system_id, detail=True)
    can_write = principal.may("inventory:write", system.business_unit_id)
    context: dict[str, Any] = {**_labels(), "system": system, "can_write": can_write,
                               "live": systems.live_production(system),
                               "panels": panels.build(panels.AI_SYSTEM_PANELS, session, principal, system)}
    if can_write:
        scope = principal.scope("inventory:read")
        linked_models = {link.model_id for link in system.model_links}
        linked_datasets = {link.dataset_id for link in system.dataset_links}
        context["model_options"] = [
            (i, f"{n} {v}") for i, n, v in session.execute(
                select(Model.id, Model.name, Model.version).where(in_scope(Model.business_unit_id, scope))
                .order_by(func.lower(Model.name), Model.version).limit(PICKER_LIMIT)) if i not in linked_models]
        context["dataset_options"] = [
            (i, n) for i, n in session.execute(
                select(Dataset.id, Dataset.name).where(in_scope(Dataset.business_unit_id, scope))
                .order_by(func.lower(Dataset.name)).limit(PICKER_LIMIT)) if i not in linked_datasets]
        context["linked_model_options"] = [(link.model.id, f"{link.model.name} {link.model.version}")
                                           for link in system.model_links]
        context["env_options"] = list(constants.ENVIRONMENTS.items())
        context["deployment_status_options"] = list(constants.DEPLOYMENT_STATUSES.items())
    if err is not None:
        return pages.form_error(request, "ai_system.html", err, form or {}, context)
    return pages.render(request, "ai_system.html", context)


@router.get("/ai-systems/{system_id}")
def detail_page(request: Request, session: SessionDep, principal: require("inventory:read"),
                system_id: int) -> HTMLResponse:
    return _detail(request, session, principal, system_id)


@router.get("/ai-systems/{system_id}/edit")
def edit_page(request: Request, session: SessionDep, principal: require("inventory:write"),
              system_id: int) -> HTMLResponse:
    system = systems.get_system(session, principal, system_id, detail=True)
    principal.check_unit("inventory:write", system.business_unit_id)
    return _form_page(request, session, principal, system, _stored_system(system))


@router.post("/ai-systems/{system_id}")
def update(request: Request, session: SessionDep, form: forms.FormDep, system_id: int,
           principal: require("inventory:write")) -> Response:
    systems.get_system(session, principal, system_id)
    try:
        body = forms.parse(schemas.SystemUpdate, _system_data(form))
        system = systems.update_system(session, principal, system_id, body)
    except DomainError as err:
        session.rollback()
        current = systems.get_system(session, principal, system_id, detail=True)
        return _form_page(request, session, principal, current, _system_values(form), err)
    return pages.redirect(request, f"/ai-systems/{system.id}", f"{system.name} saved.")


@router.post("/ai-systems/{system_id}/delete")
def delete(request: Request, session: SessionDep, system_id: int, principal: require("inventory:write")) -> Response:
    name = systems.get_system(session, principal, system_id).name
    try:
        systems.delete_system(session, principal, system_id)
    except DomainError as err:
        session.rollback()
        return _detail(request, session, principal, system_id, err=err)
    return pages.redirect(request, "/ai-systems", f"{name} deleted.")


# --- links ---------------------------------------------------------------------------------------------------------

def _linking(request: Request, session: Session, principal: Principal, system_id: int, form: forms.FormData,
             action: Any, anchor: str, message: str) -> Response:
    return pages.attempt(request, session, action, then=f"/ai-systems/{system_id}#{anchor}", message=message,
                         on_error=lambda err: _detail(request, session, principal, system_id, err=err,
                                                      form=forms.values(form)))


@router.post("/ai-systems/{system_id}/models")
def link_model(request: Request, session: SessionDep, form: forms.FormDep, system_id: int,
               principal: require("inventory:write")) -> Response:
    def act() -> None:
        model_id = forms.optional_int(form, "link_model_id")
        body = forms.parse(schemas.ModelLinkIn, {"role": forms.text(form, "role")})
        if model_id is None:
            raise ValidationFailed("choose a model", errors=[FieldError("link_model_id", "Choose a model.")])
        systems.link_model(session, principal, system_id, model_id, body)
    return _linking(request, session, principal, system_id, form, act, "models", "Model linked.")


@router.post("/ai-systems/{system_id}/models/{model_id}/unlink")
def unlink_model(request: Request, session: SessionDep, form: forms.FormDep, system_id: int, model_id: int,
                 principal: require("inventory:write")) -> Response:
    return _linking(request, session, principal, system_id, form,
                    lambda: systems.unlink_model(session, principal, system_id, model_id), "models", "Model unlinked.")


@router.post("/ai-systems/{system_id}/datasets")
def link_dataset(request: Request, session: SessionDep, form: forms.FormDep, system_id: int,
                 principal: require("inventory:write")) -> Response:
    def act() -> None:
        dataset_id = forms.optional_int(form, "link_dataset_id")
        body = forms.parse(schemas.DatasetLinkIn, {"purpose": forms.text(form, "purpose")})
        if dataset_id is None:
            raise ValidationFailed("choose a dataset", errors=[FieldError("link_dataset_id", "Choose a dataset.")])
        systems.link_dataset(session, principal, system_id, dataset_id, body)
    return _linking(request, session, principal, system_id, form, act, "datasets", "Dataset linked.")


@router.post("/ai-systems/{system_id}/datasets/{dataset_id}/unlink")
def unlink_dataset(request: Request, session: SessionDep, form: forms.FormDep, system_id: int, dataset_id: int,
                   principal: require("inventory:write")) -> Response:
    return _linking(request, session, principal, system_id, form,
                    lambda: systems.unlink_dataset(session, principal, system_id, dataset_id), "datasets",
                    "Dataset unlinked.")


# --- deployments ---------------------------------------------------------------------------------------------------

def _deployment_data(form: forms.FormData, *, editing: bool) -> dict[str, Any]:
    """Dates come from date inputs and are stored as midnight UTC of that day."""
    data: dict[str, Any] = {name: forms.text(form, name) for name in DEPLOYMENT_TEXT}
    data["environment"] = data["environment"] or None
    data["status"] = data["status"] or ("planned" if not editing else None)
    data["model_id"] = forms.optional_int(form, "model_id")
    for name in ("deployed_at", "retired_at"):
        raw = forms.text(form, name)
        data[name] = f"{raw}T00:00:00Z" if raw else None
    return data


@router.post("/ai-systems/{system_id}/deployments")
def add_deployment(request: Request, session: SessionDep, form: forms.FormDep, system_id: int,
                   principal: require("inventory:write")) -> Response:
    def act() -> None:
        body = forms.parse(schemas.DeploymentCreate, _deployment_data(form, editing=False))
        deployments.create_deployment(session, principal, system_id, body)
    return _linking(request, session, principal, system_id, form, act, "deployments", "Deployment added.")


def _deployment_page(request: Request, session: Session, principal: Principal, system_id: int,
                     deployment_id: int, values: dict[str, Any], err: DomainError | None = None) -> HTMLResponse:
    deployment = deployments.get_deployment(session, principal, system_id, deployment_id)
    system = deployment.ai_system
    principal.check_unit("inventory:write", system.business_unit_id)
    context = {"system": system, "deployment": deployment, "env_options": list(constants.ENVIRONMENTS.items()),
               "deployment_status_options": list(constants.DEPLOYMENT_STATUSES.items()),
               "linked_model_options": [(link.model.id, f"{link.model.name} {link.model.version}")
                                        for link in system.model_links]}
    if err is not None:
        return pages.form_error(request, "deployment_form.html", err, values, context)
    return pages.render(request, "deployment_form.html", {**context, "form": values})


@router.get("/ai-systems/{system_id}/deployments/{deployment_id}/edit")
def edit_deployment_page(request: Request, session: SessionDep, system_id: int, deployment_id: int,
                         principal: require("inventory:write")) -> HTMLResponse:
    d = deployments.get_deployment(session, principal, system_id, deployment_id)
    values = {name: getattr(d, name) for name in DEPLOYMENT_TEXT}
    values.update({"model_id": d.model_id or "",
                   "deployed_at": d.deployed_at.date().isoformat() if d.deployed_at else "",
                   "retired_at": d.retired_at.date().isoformat() if d.retired_at else ""})
    return _deployment_page(request, session, principal, system_id, deployment_id, values)


@router.post("/ai-systems/{system_id}/deployments/{deployment_id}")
def update_deployment(request: Request, session: SessionDep, form: forms.FormDep, system_id: int,
                      deployment_id: int, principal: require("inventory:write")) -> Response:
    try:
        body = forms.parse(schemas.DeploymentUpdate, _deployment_data(form, editing=True))
        deployments.update_deployment(session, principal, system_id, deployment_id, body)
    except DomainError as err:
        session.rollback()
        return _deployment_page(request, session, principal, system_id, deployment_id, forms.values(form), err)
    return pages.redirect(request, f"/ai-systems/{system_id}#deployments", "Deployment saved.")


@router.post("/ai-systems/{system_id}/deployments/{deployment_id}/delete")
def delete_deployment(request: Request, session: SessionDep, form: forms.FormDep, system_id: int,
                      deployment_id: int, principal: require("inventory:write")) -> Response:
    return _linking(request, session, principal, system_id, form,
                    lambda: deployments.delete_deployment(session, principal, system_id, deployment_id),
                    "deployments", "Deployment removed.")


# --- vendors -------------------------------------------------------------------------------------------------------

@router.get("/vendors")
def vendors_page(request: Request, session: SessionDep, principal: require("inventory:read"), q: Filter = None,
                 type: Filter = None, status: Filter = None, offset: Offset = 0) -> HTMLResponse:  # noqa: A002
    filters = {k: (v or "").strip() for k, v in dict(q=q, type=type, status=status).items()}
    page = vendors.list_vendors(session, principal, PageParams(limit=PAGE_SIZE, offset=offset),
                                q=filters["q"] or None, type=filters["type"] or None,
                                status=filters["status"] or None)
    return pages.render(request, "vendors.html", {
        **_labels(), "page": page, "filters": filters, "pager_url": forms.query_url("/vendors", **filters),
        "type_options": list(constants.VENDOR_TYPES.items()),
        "status_options": list(constants.VENDOR_STATUSES.items()), "can_write": principal.has("vendor:write")})


def _vendor_form(request: Request, vendor: Vendor | None, values: dict[str, Any],
                 err: DomainError | None = None) -> HTMLResponse:
    context = {"vendor": vendor, "type_options": list(constants.VENDOR_TYPES.items()),
               "status_options": list(constants.VENDOR_STATUSES.items())}
    if err is not None:
        return pages.form_error(request, "vendor_form.html", err, values, context)
    return pages.render(request, "vendor_form.html", {**context, "form": values})


@router.get("/vendors/new")
def new_vendor_page(request: Request, principal: require("vendor:write")) -> HTMLResponse:
    return _vendor_form(request, None, {"status": "active"})


@router.post("/vendors")
def create_vendor(request: Request, session: SessionDep, form: forms.FormDep,
                  principal: require("vendor:write")) -> Response:
    try:
        data = {name: forms.text(form, name) for name in VENDOR_FIELDS}
        data["type"] = data["type"] or None
        vendor = vendors.create_vendor(session, principal, forms.parse(schemas.VendorCreate, data))
    except DomainError as err:
        session.rollback()
        return _vendor_form(request, None, forms.values(form), err)
    return pages.redirect(request, f"/vendors/{vendor.id}", f"{vendor.name} registered.")


def _vendor_page(request: Request, session: Session, principal: Principal, vendor_id: int,
                 err: DomainError | None = None) -> HTMLResponse:
    vendor = vendors.get_vendor(session, principal, vendor_id)
    shown, hidden = vendors.dependants(session, vendor.id, principal.scope("inventory:read"))
    context = {**_labels(), "vendor": vendor, "dependants": shown, "hidden_dependants": hidden,
               "can_write": principal.has("vendor:write"),
               "urls": {"ai_system": "/ai-systems", "model": "/models", "dataset": "/datasets"}}
    if err is not None:
        return pages.form_error(request, "vendor.html", err, {}, context)
    return pages.render(request, "vendor.html", context)


@router.get("/vendors/{vendor_id}")
def vendor_page(request: Request, session: SessionDep, principal: require("inventory:read"),
                vendor_id: int) -> HTMLResponse:
    return _vendor_page(request, session, principal, vendor_id)


@router.get("/vendors/{vendor_id}/edit")
def edit_vendor_page(request: Request, session: SessionDep, principal: require("vendor:write"),
                     vendor_id: int) -> HTMLResponse:
    vendor = vendors.get_vendor(session, principal, vendor_id)
    return _vendor_form(request, vendor, {name: getattr(vendor, name) for name in VENDOR_FIELDS})


@router.post("/vendors/{vendor_id}")
def update_vendor(request: Request, session: SessionDep, form: forms.FormDep, vendor_id: int,
                  principal: require("vendor:write")) -> Response:
    vendor = vendors.get_vendor(session, principal, vendor_id)
    try:
        data = {name: forms.text(form, name) for name in VENDOR_FIELDS}
        data["type"] = data["type"] or None
        data["status"] = data["status"] or None
        vendor = vendors.update_vendor(session, principal, vendor_id, forms.parse(schemas.VendorUpdate, data))
    except DomainError as err:
        session.rollback()
        return _vendor_form(request, vendors.get_vendor(session, principal, vendor_id), forms.values(form), err)
    return pages.redirect(request, f"/vendors/{vendor.id}", f"{vendor.name} saved.")


@router.post("/vendors/{vendor_id}/delete")
def delete_vendor(request: Request, session: SessionDep, vendor_id: int,
                  principal: require("vendor:write")) -> Response:
    name = vendors.get_vendor(session, principal, vendor_id).name
    try:
        vendors.delete_vendor(session, principal, vendor_id)
    except DomainError as err:
        session.rollback()
        return _vendor_page(request, session, principal, vendor_id, err)
    return pages.redirect(request, "/vendors", f"{name} deleted.")


# --- search --------------------------------------------------------------------------------------------------------

TYPE_LABELS = {"ai_system": "AI system", "model": "Model", "dataset": "Dataset", "vendor": "Vendor"}


@router.get("/inventory/search")
def search_page(request: Request, session: SessionDep, principal: require("inventory:read"),
                q: Annotated[str | None, Query(max_length=search.MAX_QUERY)] = None) -> HTMLResponse:
    context: dict[str, Any] = {"q": (q or "").strip(), "results": None, "type_labels": TYPE_LABELS}
    if context["q"]:
        context["results"] = search.search(session, principal, context["q"])
    return pages.render(request, "inventory_search.html", context)
