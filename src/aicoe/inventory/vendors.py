"""Vendors: the CoE-wide register of model providers, ISVs, integrators and data providers.

Vendors belong to no business unit: everyone with inventory:read sees them all, vendor:write changes them.
A vendor still named by a model, dataset or AI system cannot be deleted (409 with the dependants); mark it
exited instead. Dependants outside the caller's units are counted, not named. Services flush and audit.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from aicoe.audit import ledger
from aicoe.auth.principal import Actor, Scope, audit_actor, scope_of
from aicoe.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from aicoe.core.filters import choice, like_pattern
from aicoe.core.pagination import Page, PageParams, apply_sort, paginate
from aicoe.inventory import schemas_systems as schemas
from aicoe.inventory.constants import VENDOR_STATUSES, VENDOR_TYPES
from aicoe.models.inventory import AISystem, Dataset, Model, Vendor, ai_system_vendors

SORT_COLUMNS: dict[str, Any] = {"name": func.lower(Vendor.name), "type": Vendor.type, "status": Vendor.status,
                                "updated_at": Vendor.updated_at}



def filtered(stmt: Select[Any], *, type: str | None = None, status: str | None = None,  # noqa: A002
             q: str | None = None) -> Select[Any]:
    if choice("type", type, VENDOR_TYPES):
        stmt = stmt.where(Vendor.type == type)
    if choice("status", status, VENDOR_STATUSES):
        stmt = stmt.where(Vendor.status == status)
    if q and q.strip():
        pattern = like_pattern(q)
        stmt = stmt.where(or_(func.lower(Vendor.name).like(pattern, escape="\\"),
                              func.lower(Vendor.contact_name).like(pattern, escape="\\")))
    return stmt


def list_vendors(session: Session, principal: Actor, params: PageParams, **filters: Any) -> Page[Vendor]:
    scope_of(principal, "inventory:read")
    stmt = filtered(select(Vendor), **filters)
    return paginate(session, apply_sort(stmt, params.sort or "name", SORT_COLUMNS, [Vendor.id]), params)


def all_vendors(session: Session) -> list[tuple[int, str]]:
    """(id, name) of every vendor, for pickers and filters."""
    return [(i, n) for i, n in session.execute(select(Vendor.id, Vendor.name).order_by(func.lower(Vendor.name)))]


def get_vendor(session: Session, principal: Actor, vendor_id: int) -> Vendor:
    scope_of(principal, "inventory:read")
    vendor = session.get(Vendor, vendor_id)
    if vendor is None:
        raise NotFound(f"no vendor {vendor_id}")
    return vendor


def _check_unique(session: Session, name: str, exclude: int | None = None) -> None:
    stmt = select(Vendor.id).where(func.lower(Vendor.name) == name.lower())
    if exclude is not None:
        stmt = stmt.where(Vendor.id != exclude)
    if session.scalar(stmt) is not None:
        raise Conflict(f"a vendor named {name!r} already exists",
                       errors=[FieldError("name", f"{name!r} is already taken.")])


def create_vendor(session: Session, principal: Actor, data: schemas.VendorCreate) -> Vendor:
    scope_of(principal, "vendor:write")
    _check_unique(session, data.name)
    vendor = Vendor(**data.model_dump())
    session.add(vendor)
    session.flush()
    ledger.append(session, audit_actor(principal), "create", "vendor", vendor.id, ledger.created(vendor))
    return vendor


def update_vendor(session: Session, principal: Actor, vendor_id: int, data: schemas.VendorUpdate) -> Vendor:
    scope_of(principal, "vendor:write")
    vendor = get_vendor(session, principal, vendor_id)
    changes = data.model_dump(exclude_unset=True)
    empty = [FieldError(k, "Cannot be empty.") for k, v in changes.items() if v is None]
    if empty:
        raise ValidationFailed("; ".join(f"{e.field}: cannot be empty" for e in empty), errors=empty)
    if "name" in changes:
        _check_unique(session, changes["name"], exclude=vendor.id)
    for field, value in changes.items():
        setattr(vendor, field, value)
    diff = ledger.changed(vendor)
    if diff:
        ledger.append(session, audit_actor(principal), "update", "vendor", vendor.id, diff)
    return vendor


def dependants(session: Session, vendor_id: int, scope: Scope) -> tuple[list[dict[str, Any]], int]:
    """What names this vendor: the ones in ``scope`` as (type, id, name), and how many others there are."""
    rows: list[tuple[str, int, str, int]] = []
    rows += [("model", i, f"{n} {v}", u) for i, n, v, u in session.execute(
        select(Model.id, Model.name, Model.version, Model.business_unit_id).where(Model.vendor_id == vendor_id))]
    rows += [("dataset", i, n, u) for i, n, u in session.execute(
        select(Dataset.id, Dataset.name, Dataset.business_unit_id).where(Dataset.vendor_id == vendor_id))]
    rows += [("ai_system", i, n, u) for i, n, u in session.execute(
        select(AISystem.id, AISystem.name, AISystem.business_unit_id).join(
            ai_system_vendors, ai_system_vendors.c.ai_system_id == AISystem.id)
        .where(ai_system_vendors.c.vendor_id == vendor_id))]
    shown = [{"type": t, "id": i, "name": n} for t, i, n, u in rows if scope is None or u in scope]
    return sorted(shown, key=lambda d: (d["type"], d["name"].lower())), len(rows) - len(shown)


def delete_vendor(session: Session, principal: Actor, vendor_id: int) -> None:
    scope_of(principal, "vendor:write")
    vendor = get_vendor(session, principal, vendor_id)
    scope = None if principal is None else principal.grants.get("inventory:read", frozenset())
    shown, hidden = dependants(session, vendor_id, scope)
    if shown or hidden:
        names = [f"{d['type'].replace('_', ' ')} {d['name']!r}" for d in shown]
        if hidden:
            names.append(f"{hidden} more outside your business units")
        raise Conflict(f"vendor {vendor.name!r} is still used by {'; '.join(names)}; mark it exited instead",
                       dependants=shown, hidden_dependants=hidden)
    diff = ledger.deleted(vendor)
    session.delete(vendor)
    ledger.append(session, audit_actor(principal), "delete", "vendor", vendor_id, diff)
