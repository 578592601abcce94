"""Datasets: registering, reading within the caller's business units, editing and deleting.

Every query starts from ``datasets_query``, limited to the units the caller may read; a dataset outside them is
answered as if it did not exist (404). The data-protection rules are enforced on the record as it would be after
the change (stored values merged with the payload), so a partial update cannot leave it inconsistent:

* personal data needs a legal basis (GDPR Art. 6(1)) -> field ``legal_basis``;
* special-category data (Art. 9) is personal data, so it is refused without ``personal_data`` -> field
  ``special_category_data`` (refused rather than set silently: the person filling it in should notice);
* a vendor-sourced dataset names its vendor, and only such a dataset does -> field ``vendor_id``.

A dataset still used by a model or an AI system is not deleted (409 listing them). Services flush and audit,
never commit; datasets are audited by id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, selectinload

from aicoe.audit import ledger
from aicoe.auth.principal import Actor, audit_actor, in_scope, scope_of
from aicoe.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from aicoe.core.filters import choice
from aicoe.core.pagination import Page, PageParams, apply_sort, paginate
from aicoe.inventory import schemas_assets as schemas
from aicoe.inventory.constants import CLASSIFICATIONS, DATASET_SOURCES
from aicoe.models.inventory import AISystem, Dataset, Model, ModelDataset, SystemDataset, Vendor
from aicoe.models.org import BusinessUnit, User

READ, WRITE = "inventory:read", "inventory:write"
SORT_COLUMNS: dict[str, Any] = {"name": func.lower(Dataset.name), "updated_at": Dataset.updated_at,
                                "classification": Dataset.classification}


# --- shared with the model registry ---------------------------------------------------------------------------

REFERENCES: dict[str, tuple[type, str]] = {
    "business_unit_id": (BusinessUnit, "business unit"), "owner_id": (User, "person"),
    "steward_id": (User, "person"), "vendor_id": (Vendor, "vendor"),
}


def check_references(session: Session, values: Mapping[str, Any]) -> list[FieldError]:
    """Field errors for every referenced unit, person or vendor in ``values`` that does not exist."""
    errors = []
    for field, (model, label) in REFERENCES.items():
        value = values.get(field)
        if value is not None and session.get(model, value) is None:
            errors.append(FieldError(field, f"No {label} {value}."))
    return errors


def refuse(errors: Sequence[FieldError]) -> None:
    if errors:
        raise ValidationFailed("; ".join(f"{e.field}: {e.message}" for e in errors), errors=list(errors))


def not_null(changes: Mapping[str, Any], fields: Sequence[str]) -> list[FieldError]:
    return [FieldError(k, "Cannot be empty.") for k in fields if k in changes and changes[k] is None]


@dataclass(frozen=True)
class Dependant:
    type: str  # "ai_system", "deployment", "model"
    id: int
    name: str
    business_unit_id: int


def refuse_if_used(principal: Actor, what: str, dependants: Sequence[Dependant]) -> None:
    """409 naming what still uses the record. Dependants outside the caller's units are counted, not named."""
    if not dependants:
        return
    scope = scope_of(principal, READ)
    shown = [d for d in dependants if scope is None or d.business_unit_id in scope]
    hidden = len(dependants) - len(shown)
    names = [f"{d.type.replace('_', ' ')} {d.name!r}" for d in shown]
    if hidden:
        names.append(f"{hidden} more outside your business units")
    raise Conflict(f"{what} is still used by {', '.join(names)}; retire it instead of deleting it, or remove "
                   "those links first",
                   dependants=[{"type": d.type, "id": d.id, "name": d.name} for d in shown],
                   hidden_dependants=hidden)


# --- reading ---------------------------------------------------------------------------------------------------

def datasets_query(principal: Actor, permission: str = READ) -> Select[tuple[Dataset]]:
    return select(Dataset).where(in_scope(Dataset.business_unit_id, scope_of(principal, permission)))



def list_datasets(session: Session, principal: Actor, params: PageParams, *, business_unit_id: int | None = None,
                  classification: str | None = None, source: str | None = None, personal_data: bool | None = None,
                  owner_id: int | None = None, vendor_id: int | None = None, q: str | None = None) -> Page[Dataset]:
    """Sort by name, updated_at or classification (``-`` for descending); by name by default."""
    stmt = datasets_query(principal).options(selectinload(Dataset.business_unit), selectinload(Dataset.owner))
    if business_unit_id is not None:
        stmt = stmt.where(Dataset.business_unit_id == business_unit_id)
    if choice("classification", classification, CLASSIFICATIONS):
        stmt = stmt.where(Dataset.classification == classification)
    if choice("source", source, DATASET_SOURCES):
        stmt = stmt.where(Dataset.source == source)
    if personal_data is not None:
        stmt = stmt.where(Dataset.personal_data.is_(personal_data))
    if owner_id is not None:
        stmt = stmt.where(Dataset.owner_id == owner_id)
    if vendor_id is not None:
        stmt = stmt.where(Dataset.vendor_id == vendor_id)
    if q and q.strip():
        like = f"%{q.strip().lower()}%"
        stmt = stmt.where(or_(func.lower(Dataset.name).like(like), func.lower(Dataset.description).like(like)))
    stmt = apply_sort(stmt, params.sort, SORT_COLUMNS, [func.lower(Dataset.name), Dataset.id])
    return paginate(session, stmt, params)


def get_dataset(session: Session, principal: Actor, dataset_id: int) -> Dataset:
    stmt = datasets_query(principal).where(Dataset.id == dataset_id).options(
        selectinload(Dataset.business_unit), selectinload(Dataset.owner), selectinload(Dataset.steward),
        selectinload(Dataset.vendor))
    dataset = session.scalar(stmt)
    if dataset is None:
        raise NotFound(f"no dataset {dataset_id}")
    return dataset


def used_by(session: Session, dataset: Dataset) -> list[Dependant]:
    """The models (any purpose) and the AI systems (directly) that use the dataset."""
    models = session.execute(
        select(Model.id, Model.name, Model.version, Model.business_unit_id).distinct()
        .join(ModelDataset, ModelDataset.model_id == Model.id).where(ModelDataset.dataset_id == dataset.id)
        .order_by(Model.name, Model.version))
    systems = session.execute(
        select(AISystem.id, AISystem.name, AISystem.business_unit_id)
        .join(SystemDataset, SystemDataset.ai_system_id == AISystem.id).where(SystemDataset.dataset_id == dataset.id)
        .order_by(AISystem.name))
    return ([Dependant("model", i, f"{n} {v}", u) for i, n, v, u in models]
            + [Dependant("ai_system", i, n, u) for i, n, u in systems])


# --- writing ---------------------------------------------------------------------------------------------------

def _rules(values: Mapping[str, Any]) -> list[FieldError]:
    """The cross-field rules on the record as it would be stored."""
    errors = []
    if values.get("source") == "vendor" and values.get("vendor_id") is None:
        errors.append(FieldError("vendor_id", "A vendor-sourced dataset must name its vendor."))
    if values.get("source") != "vendor" and values.get("vendor_id") is not None:
        errors.append(FieldError("vendor_id", "Only a dataset whose source is a vendor names a vendor."))
    if values.get("special_category_data") and not values.get("personal_data"):
        errors.append(FieldError("special_category_data",
                                 "Special-category data is personal data: mark the dataset as holding personal "
                                 "data too."))
    if values.get("personal_data") and not values.get("legal_basis"):
        errors.append(FieldError("legal_basis", "A dataset with personal data needs a legal basis for processing."))
    return errors


def _unique_name(session: Session, name: str, exclude_id: int | None = None) -> None:
    stmt = select(Dataset.id).where(func.lower(Dataset.name) == name.lower())
    if exclude_id is not None:
        stmt = stmt.where(Dataset.id != exclude_id)
    if session.scalar(stmt) is not None:
        raise Conflict(f"a dataset named {name!r} already exists",
                       errors=[FieldError("name", f"{name!r} is already taken.")])


def create_dataset(session: Session, principal: Actor, data: schemas.DatasetCreate) -> Dataset:
    """Register a dataset in one of the caller's units (403 for another unit); nothing is written on refusal."""
    values = data.model_dump()
    refuse(check_references(session, values) + _rules(values))
    if principal is not None:
        principal.check_unit(WRITE, data.business_unit_id, hide=False)
    _unique_name(session, data.name)
    dataset = Dataset(**values)
    session.add(dataset)
    session.flush()
    ledger.append(session, audit_actor(principal), "create", "dataset", dataset.id, ledger.created(dataset))
    return dataset


NOT_NULL = ("name", "business_unit_id", "source", "classification", "personal_data", "special_category_data",
            "description", "format", "consent_status", "residency", "licence", "location_uri")


def update_dataset(session: Session, principal: Actor, dataset_id: int, data: schemas.DatasetUpdate) -> Dataset:
    """Change the fields the payload carries; moving the dataset to another unit needs write access there too."""
    dataset = get_dataset(session, principal, dataset_id)
    if principal is not None:
        principal.check_unit(WRITE, dataset.business_unit_id)
    changes = data.model_dump(exclude_unset=True)
    merged = {c.key: getattr(dataset, c.key) for c in Dataset.__table__.columns} | changes
    refuse(not_null(changes, NOT_NULL) or (check_references(session, changes) + _rules(merged)))
    if principal is not None and merged["business_unit_id"] != dataset.business_unit_id:
        principal.check_unit(WRITE, merged["business_unit_id"], hide=False)
    if "name" in changes:
        _unique_name(session, changes["name"], exclude_id=dataset.id)
    for field, value in changes.items():
        setattr(dataset, field, value)
    diff = ledger.changed(dataset)
    if diff:
        ledger.append(session, audit_actor(principal), "update", "dataset", dataset.id, diff)
    session.flush()
    session.expire(dataset, ["business_unit", "owner", "steward", "vendor"])  # reload for the changed ids
    return dataset


def delete_dataset(session: Session, principal: Actor, dataset_id: int) -> None:
    """Refused (409, listing them) while a model or an AI system still uses the dataset."""
    dataset = get_dataset(session, principal, dataset_id)
    if principal is not None:
        principal.check_unit(WRITE, dataset.business_unit_id)
    refuse_if_used(principal, f"dataset {dataset.name!r}", used_by(session, dataset))
    diff = ledger.deleted(dataset)
    session.delete(dataset)
    ledger.append(session, audit_actor(principal), "delete", "dataset", dataset_id, diff)
