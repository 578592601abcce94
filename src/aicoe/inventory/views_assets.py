"""HTML pages for models (list, register, detail with dataset lineage, edit, model card) and datasets (list,
register, detail, edit). Reads and writes go through the services, which scope every query to the caller's units;
a refused form comes back with the errors next to its fields and what the user typed.
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
from aicoe.inventory import datasets, model_registry, modelcard
from aicoe.inventory import schemas_assets as schemas
from aicoe.inventory.constants import (
    CLASSIFICATIONS,
    DATASET_PURPOSES,
    DATASET_SOURCES,
    LEGAL_BASES,
    LIFECYCLE_STATUSES,
    MODEL_KINDS,
)
from aicoe.models.inventory import Dataset, Model, Vendor
from aicoe.org.service import people_choices, unit_choices
from aicoe.web import forms, pages, panels

router = APIRouter()

PAGE_SIZE = 25
CHOICES_LIMIT = 1000
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
Filter = Annotated[str | None, Query(max_length=200)]
MODEL_SORTS = [("", "Name"), ("-updated_at", "Recently updated"), ("kind", "Kind")]
DATASET_SORTS = [("", "Name"), ("-updated_at", "Recently updated"), ("classification", "Classification")]
MODEL_TEXT = ("name", "version", "kind", "licence", "description", "intended_use", "out_of_scope_uses", "limitations",
              "known_biases", "evaluation_summary", "artefact_uri", "checksum")
MODEL_IDS = ("business_unit_id", "owner_id", "vendor_id", "base_model_id")
DATASET_TEXT = ("name", "description", "source", "location_uri", "format", "classification", "consent_status",
                "residency", "licence")
DATASET_IDS = ("business_unit_id", "owner_id", "steward_id", "vendor_id")
DATASET_OPTIONAL = ("size_bytes", "row_count", "retention_period_days", "deletion_date", "legal_basis")
LABELS = {"kind_labels": MODEL_KINDS, "purpose_labels": DATASET_PURPOSES, "source_labels": DATASET_SOURCES,
          "classification_labels": CLASSIFICATIONS, "legal_basis_labels": LEGAL_BASES,
          "lifecycle_labels": LIFECYCLE_STATUSES}


def may_write(principal: Principal, unit_id: int) -> bool:
    if not principal.has("inventory:write"):
        return False
    scope = principal.grants["inventory:write"]
    return scope is None or unit_id in scope


# --- choices -------------------------------------------------------------------------------------------------------





def _vendors(session: Session) -> list[tuple[int, str]]:
    return [(i, n) for i, n in session.execute(select(Vendor.id, Vendor.name).order_by(func.lower(Vendor.name)))]


def _model_options(session: Session, principal: Principal, exclude: int | None = None) -> list[tuple[int, str]]:
    stmt = select(Model.id, Model.name, Model.version).where(
        in_scope(Model.business_unit_id, principal.scope("inventory:read")))
    if exclude is not None:
        stmt = stmt.where(Model.id != exclude)
    rows = session.execute(stmt.order_by(func.lower(Model.name), Model.version).limit(CHOICES_LIMIT))
    return [(i, f"{n} {v}") for i, n, v in rows]


def _dataset_options(session: Session, principal: Principal) -> list[tuple[int, str]]:
    rows = session.execute(select(Dataset.id, Dataset.name).where(
        in_scope(Dataset.business_unit_id, principal.scope("inventory:read")))
        .order_by(func.lower(Dataset.name)).limit(CHOICES_LIMIT))
    return [(i, n) for i, n in rows]


def _filters(**raw: str | None) -> dict[str, str]:
    return {k: (v or "").strip() for k, v in raw.items()}


# --- models: list and forms -------------------------------------------------------------------------------------

@router.get("/models")
def models_page(request: Request, session: SessionDep, principal: require("inventory:read"), q: Filter = None,
                business_unit_id: Filter = None, kind: Filter = None, vendor_id: Filter = None,
                owner_id: Filter = None, sort: Filter = None, offset: Offset = 0) -> HTMLResponse:
    filters = _filters(q=q, business_unit_id=business_unit_id, kind=kind, vendor_id=vendor_id, owner_id=owner_id,
                       sort=sort)
    page = model_registry.list_models(
        session, principal, PageParams(limit=PAGE_SIZE, offset=offset, sort=filters["sort"] or None),
        q=filters["q"] or None, kind=filters["kind"] or None,
        business_unit_id=forms.query_id(business_unit_id, "business_unit_id"),
        vendor_id=forms.query_id(vendor_id, "vendor_id"), owner_id=forms.query_id(owner_id, "owner_id"))
    return pages.render(request, "models.html", {
        **LABELS, "page": page, "filters": filters, "pager_url": forms.query_url("/models", **filters),
        "unit_options": unit_choices(session, principal, "inventory:read"), "kinds": list(MODEL_KINDS.items()),
        "vendor_options": _vendors(session), "people_options": people_choices(session, principal),
        "sorts": MODEL_SORTS})


def _model_form(request: Request, session: Session, principal: Principal, model: Model | None,
                values: dict[str, Any], err: DomainError | None = None) -> HTMLResponse:
    context = {
        "model": model, "kinds": list(MODEL_KINDS.items()), "vendor_options": _vendors(session),
        "unit_options": unit_choices(session, principal, "inventory:write"),
        "people_options": people_choices(session, principal, model.owner_id if model else None),
        "model_options": _model_options(session, principal, model.id if model else None),
    }
    if err is not None:
        return pages.form_error(request, "model_form.html", err, values, context)
    return pages.render(request, "model_form.html", {**context, "form": values})


def _model_data(form: forms.FormData) -> dict[str, Any]:
    data: dict[str, Any] = {name: forms.text(form, name) for name in MODEL_TEXT}
    data["kind"] = data["kind"] or None
    for name in MODEL_IDS:
        data[name] = forms.optional_int(form, name)
    return data


@router.get("/models/new")
def new_model_page(request: Request, session: SessionDep, principal: require("inventory:write")) -> HTMLResponse:
    home = principal.user.business_unit_id
    units = {u for u, _ in unit_choices(session, principal, "inventory:write")}
    return _model_form(request, session, principal, None, {"business_unit_id": home if home in units else ""})


@router.post("/models")
def create_model(request: Request, session: SessionDep, form: forms.FormDep,
                 principal: require("inventory:write")) -> Response:
    try:
        model = model_registry.create_model(session, principal, forms.parse(schemas.ModelCreate, _model_data(form)))
    except DomainError as err:
        session.rollback()
        return _model_form(request, session, principal, None, forms.values(form), err)
    return pages.redirect(request, f"/models/{model.id}", f"Model {model_registry.label(model)} registered.")


def _model_values(model: Model) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(model, name) for name in MODEL_TEXT}
    values.update({name: getattr(model, name) or "" for name in MODEL_IDS})
    return values


@router.get("/models/{model_id}/edit")
def edit_model_page(request: Request, session: SessionDep, principal: require("inventory:write"),
                    model_id: int) -> HTMLResponse:
    model = model_registry.get_model(session, principal, model_id)
    principal.check_unit("inventory:write", model.business_unit_id)
    return _model_form(request, session, principal, model, _model_values(model))


@router.post("/models/{model_id}")
def update_model(request: Request, session: SessionDep, form: forms.FormDep, model_id: int,
                 principal: require("inventory:write")) -> Response:
    model_registry.get_model(session, principal, model_id)
    try:
        body = forms.parse(schemas.ModelUpdate, _model_data(form))
        model = model_registry.update_model(session, principal, model_id, body)
    except DomainError as err:
        session.rollback()
        current = model_registry.get_model(session, principal, model_id)
        return _model_form(request, session, principal, current, forms.values(form), err)
    return pages.redirect(request, f"/models/{model.id}", f"Model {model_registry.label(model)} saved.")


# --- models: detail, lineage, delete, card -------------------------------------------------------------------------

def _model_page(request: Request, session: Session, principal: Principal, model_id: int,
                err: DomainError | None = None, form: dict[str, Any] | None = None) -> HTMLResponse:
    model = model_registry.get_model(session, principal, model_id)
    card = modelcard.card_data(session, principal, model)
    context = {**LABELS, "model": model, "card": card, "can_write": may_write(principal, model.business_unit_id),
               "dataset_options": _dataset_options(session, principal), "purposes": list(DATASET_PURPOSES.items())}
    if err is not None:
        return pages.form_error(request, "model.html", err, form or {}, context)
    return pages.render(request, "model.html", context)


@router.get("/models/{model_id}")
def model_page(request: Request, session: SessionDep, principal: require("inventory:read"),
               model_id: int) -> HTMLResponse:
    return _model_page(request, session, principal, model_id)


@router.post("/models/{model_id}/datasets")
def link_dataset(request: Request, session: SessionDep, form: forms.FormDep, model_id: int,
                 principal: require("inventory:write")) -> Response:
    try:
        dataset_id = forms.optional_int(form, "dataset_id")
        if dataset_id is None:
            raise ValidationFailed("dataset_id: choose a dataset",
                                   errors=[FieldError("dataset_id", "Choose a dataset.")])
        model_registry.link_dataset(session, principal, model_id, dataset_id, forms.text(form, "purpose"))
    except DomainError as err:
        session.rollback()
        return _model_page(request, session, principal, model_id, err, forms.values(form))
    return pages.redirect(request, f"/models/{model_id}#lineage", "Dataset lineage recorded.")


@router.post("/models/{model_id}/datasets/{dataset_id}/remove")
def unlink_dataset(request: Request, session: SessionDep, form: forms.FormDep, model_id: int, dataset_id: int,
                   principal: require("inventory:write")) -> Response:
    model_registry.unlink_dataset(session, principal, model_id, dataset_id, forms.text(form, "purpose") or None)
    return pages.redirect(request, f"/models/{model_id}#lineage", "Dataset lineage removed.")


@router.post("/models/{model_id}/delete")
def delete_model(request: Request, session: SessionDep, model_id: int,
                 principal: require("inventory:write")) -> Response:
    model = model_registry.get_model(session, principal, model_id)
    name = model_registry.label(model)
    try:
        model_registry.delete_model(session, principal, model_id)
    except DomainError as err:
        session.rollback()
        return _model_page(request, session, principal, model_id, err)
    return pages.redirect(request, "/models", f"Model {name} deleted.")


@router.get("/models/{model_id}/card")
def model_card_page(request: Request, session: SessionDep, principal: require("inventory:read"),
                    model_id: int) -> HTMLResponse:
    model = model_registry.get_model(session, principal, model_id)
    card = modelcard.card_data(session, principal, model)
    return pages.render(request, "modelcard.html", {**LABELS, "model": model, "card": card,
                                                    "front_matter": modelcard.front_matter(card)})


# --- datasets --------------------------------------------------------------------------------------------------

@router.get("/datasets")
def datasets_page(request: Request, session: SessionDep, principal: require("inventory:read"), q: Filter = None,
                  business_unit_id: Filter = None, classification: Filter = None, source: Filter = None,
                  personal_data: Filter = None, owner_id: Filter = None, sort: Filter = None,
                  offset: Offset = 0) -> HTMLResponse:
    filters = _filters(q=q, business_unit_id=business_unit_id, classification=classification, source=source,
                       personal_data=personal_data, owner_id=owner_id, sort=sort)
    page = datasets.list_datasets(
        session, principal, PageParams(limit=PAGE_SIZE, offset=offset, sort=filters["sort"] or None),
        q=filters["q"] or None, classification=filters["classification"] or None, source=filters["source"] or None,
        personal_data=forms.tri_state(personal_data), owner_id=forms.query_id(owner_id, "owner_id"),
        business_unit_id=forms.query_id(business_unit_id, "business_unit_id"))
    return pages.render(request, "datasets.html", {
        **LABELS, "page": page, "filters": filters, "pager_url": forms.query_url("/datasets", **filters),
        "unit_options": unit_choices(session, principal, "inventory:read"),
        "classifications": list(CLASSIFICATIONS.items()), "sources": list(DATASET_SOURCES.items()),
        "people_options": people_choices(session, principal), "sorts": DATASET_SORTS,
        "personal_options": [("1", "Holds personal data"), ("0", "No personal data")]})


def _dataset_form(request: Request, session: Session, principal: Principal, dataset: Dataset | None,
                  values: dict[str, Any], err: DomainError | None = None) -> HTMLResponse:
    keep = (dataset.owner_id, dataset.steward_id) if dataset else ()
    context = {
        "dataset": dataset, "vendor_options": _vendors(session), "sources": list(DATASET_SOURCES.items()),
        "unit_options": unit_choices(session, principal, "inventory:write"),
        "people_options": people_choices(session, principal, *keep),
        "classifications": list(CLASSIFICATIONS.items()), "legal_bases": list(LEGAL_BASES.items()),
    }
    if err is not None:
        return pages.form_error(request, "dataset_form.html", err, values, context)
    return pages.render(request, "dataset_form.html", {**context, "form": values})


def _dataset_data(form: forms.FormData) -> dict[str, Any]:
    data: dict[str, Any] = {name: forms.text(form, name) for name in DATASET_TEXT}
    for name in DATASET_IDS:
        data[name] = forms.optional_int(form, name)
    for name in DATASET_OPTIONAL:
        data[name] = forms.text(form, name) or None
    data["personal_data"] = forms.text(form, "personal_data") == "1"
    data["special_category_data"] = forms.text(form, "special_category_data") == "1"
    return data


@router.get("/datasets/new")
def new_dataset_page(request: Request, session: SessionDep, principal: require("inventory:write")) -> HTMLResponse:
    home = principal.user.business_unit_id
    units = {u for u, _ in unit_choices(session, principal, "inventory:write")}
    return _dataset_form(request, session, principal, None, {
        "business_unit_id": home if home in units else "", "source": "internal", "classification": "internal"})


@router.post("/datasets")
def create_dataset(request: Request, session: SessionDep, form: forms.FormDep,
                   principal: require("inventory:write")) -> Response:
    try:
        dataset = datasets.create_dataset(session, principal, forms.parse(schemas.DatasetCreate, _dataset_data(form)))
    except DomainError as err:
        session.rollback()
        return _dataset_form(request, session, principal, None, forms.values(form), err)
    return pages.redirect(request, f"/datasets/{dataset.id}", f"Dataset {dataset.name} registered.")


def _dataset_values(dataset: Dataset) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(dataset, name) for name in DATASET_TEXT}
    values.update({name: getattr(dataset, name) or "" for name in DATASET_IDS})
    values.update({name: "" if getattr(dataset, name) is None else str(getattr(dataset, name))
                   for name in DATASET_OPTIONAL})
    values["personal_data"] = "1" if dataset.personal_data else ""
    values["special_category_data"] = "1" if dataset.special_category_data else ""
    return values


@router.get("/datasets/{dataset_id}")
def dataset_page(request: Request, session: SessionDep, principal: require("inventory:read"),
                 dataset_id: int) -> HTMLResponse:
    return _dataset_page(request, session, principal, dataset_id)


def _dataset_page(request: Request, session: Session, principal: Principal, dataset_id: int,
                  err: DomainError | None = None) -> HTMLResponse:
    dataset = datasets.get_dataset(session, principal, dataset_id)
    scope = principal.scope("inventory:read")
    used = [d for d in datasets.used_by(session, dataset) if scope is None or d.business_unit_id in scope]
    context = {**LABELS, "dataset": dataset, "used_by": used,
               "can_write": may_write(principal, dataset.business_unit_id),
               "panels": panels.build(panels.DATASET_PANELS, session, principal, dataset)}
    if err is not None:
        return pages.form_error(request, "dataset.html", err, {}, context)
    return pages.render(request, "dataset.html", context)


@router.get("/datasets/{dataset_id}/edit")
def edit_dataset_page(request: Request, session: SessionDep, principal: require("inventory:write"),
                      dataset_id: int) -> HTMLResponse:
    dataset = datasets.get_dataset(session, principal, dataset_id)
    principal.check_unit("inventory:write", dataset.business_unit_id)
    return _dataset_form(request, session, principal, dataset, _dataset_values(dataset))


@router.post("/datasets/{dataset_id}")
def update_dataset(request: Request, session: SessionDep, form: forms.FormDep, dataset_id: int,
                   principal: require("inventory:write")) -> Response:
    datasets.get_dataset(session, principal, dataset_id)
    try:
        body = forms.parse(schemas.DatasetUpdate, _dataset_data(form))
        dataset = datasets.update_dataset(session, principal, dataset_id, body)
    except DomainError as err:
        session.rollback()
        current = datasets.get_dataset(session, principal, dataset_id)
        return _dataset_form(request, session, principal, current, forms.values(form), err)
    return pages.redirect(request, f"/datasets/{dataset.id}", f"Dataset {dataset.name} saved.")


@router.post("/datasets/{dataset_id}/delete")
def delete_dataset(request: Request, session: SessionDep, dataset_id: int,
                   principal: require("inventory:write")) -> Response:
    dataset = datasets.get_dataset(session, principal, dataset_id)
    name = dataset.name
    try:
        datasets.delete_dataset(session, principal, dataset_id)
    except DomainError as err:
        session.rollback()
        return _dataset_page(request, session, principal, dataset_id, err)
    return pages.redirect(request, "/datasets", f"Dataset {name} deleted.")
