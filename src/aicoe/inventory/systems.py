"""AI systems: the register, reading within the caller's business units, editing, deleting, and the links to
the models and datasets a system uses.

Every query starts from ``systems_query``, limited to the units the caller may read; a system outside them is
answered as if it did not exist (404). Writing needs inventory:write for the system's unit. Models and
datasets to link must be visible to the caller (404 otherwise, as for anything hidden). Risk tier and
assessment status are not written here: the compliance area owns them. Services flush and audit, never commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select, exists, func, or_, select
from sqlalchemy.orm import Session, selectinload

from aicoe.audit import ledger
from aicoe.auth.principal import Actor, audit_actor, in_scope, scope_of
from aicoe.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from aicoe.core.filters import choice, like_pattern
from aicoe.core.pagination import Page, PageParams, apply_sort, paginate
from aicoe.inventory import schemas_systems as schemas
from aicoe.inventory.constants import LIFECYCLE_STATUSES
from aicoe.models.inventory import (
    AISystem,
    Dataset,
    Deployment,
    Model,
    SystemDataset,
    SystemModel,
    Vendor,
    ai_system_vendors,
)
from aicoe.models.org import BusinessUnit, User
from aicoe.models.portfolio import UseCase
from aicoe.portfolio.constants import AI_TYPES

READ, WRITE = "inventory:read", "inventory:write"
LIVE_DEPLOYMENT_STATUSES = ("active", "paused")  # still serving, or able to resume: blocks a delete
SORT_COLUMNS: dict[str, Any] = {"name": func.lower(AISystem.name), "updated_at": AISystem.updated_at,
                                "created_at": AISystem.created_at}



# --- reading ---------------------------------------------------------------------------------------------------

def systems_query(principal: Actor, permission: str = READ) -> Select[tuple[AISystem]]:
    return select(AISystem).where(in_scope(AISystem.business_unit_id, scope_of(principal, permission)))



def filtered(stmt: Select[Any], *, business_unit_id: int | None = None, lifecycle_status: str | None = None,
             ai_type: str | None = None, risk_tier: str | None = None, vendor_id: int | None = None,
             owner_id: int | None = None, q: str | None = None) -> Select[Any]:
    """The list filters. ``q`` matches the name or the purpose, case-insensitively."""
    if business_unit_id is not None:
        stmt = stmt.where(AISystem.business_unit_id == business_unit_id)
    if choice("lifecycle_status", lifecycle_status, LIFECYCLE_STATUSES):
        stmt = stmt.where(AISystem.lifecycle_status == lifecycle_status)
    if choice("ai_type", ai_type, AI_TYPES):
        stmt = stmt.where(AISystem.ai_type == ai_type)
    if risk_tier and risk_tier.strip():
        stmt = stmt.where(AISystem.risk_tier == risk_tier.strip())
    if vendor_id is not None:
        stmt = stmt.where(exists().where(ai_system_vendors.c.ai_system_id == AISystem.id,
                                         ai_system_vendors.c.vendor_id == vendor_id))
    if owner_id is not None:
        stmt = stmt.where(or_(AISystem.owner_id == owner_id, AISystem.technical_owner_id == owner_id))
    if q and q.strip():
        pattern = like_pattern(q)
        stmt = stmt.where(or_(func.lower(AISystem.name).like(pattern, escape="\\"),
                              func.lower(AISystem.purpose).like(pattern, escape="\\")))
    return stmt


def list_systems(session: Session, principal: Actor, params: PageParams, **filters: Any) -> Page[AISystem]:
    """Sort by name, updated_at or created_at ('-' for descending); by name by default."""
    stmt = filtered(systems_query(principal), **filters).options(
        selectinload(AISystem.business_unit), selectinload(AISystem.owner))
    return paginate(session, apply_sort(stmt, params.sort or "name", SORT_COLUMNS, [AISystem.id]), params)


def systems_for_use_case(session: Session, principal: Actor, use_case_id: int) -> list[AISystem]:
    """The AI systems delivering a use case, within the caller's units (none for a caller without inventory:read)."""
    if principal is not None and not principal.has(READ):
        return []
    stmt = systems_query(principal).where(AISystem.use_case_id == use_case_id).order_by(AISystem.name)
    return list(session.scalars(stmt))


def get_system(session: Session, principal: Actor, system_id: int, *, detail: bool = False) -> AISystem:
    stmt = systems_query(principal).where(AISystem.id == system_id)
    if detail:
        stmt = stmt.options(
            selectinload(AISystem.vendors), selectinload(AISystem.use_case),
            selectinload(AISystem.model_links).selectinload(SystemModel.model),
            selectinload(AISystem.dataset_links).selectinload(SystemDataset.dataset),
            selectinload(AISystem.deployments).selectinload(Deployment.model))
    system = session.scalar(stmt)
    if system is None:
        raise NotFound(f"no AI system {system_id}")
    return system


def visible_model(session: Session, principal: Actor, model_id: int) -> Model | None:
    return session.scalar(select(Model).where(Model.id == model_id,
                                              in_scope(Model.business_unit_id, scope_of(principal, READ))))


def visible_dataset(session: Session, principal: Actor, dataset_id: int) -> Dataset | None:
    return session.scalar(select(Dataset).where(Dataset.id == dataset_id,
                                                in_scope(Dataset.business_unit_id, scope_of(principal, READ))))


# --- validation of references ------------------------------------------------------------------------------------

def _check_references(session: Session, principal: Actor, values: Mapping[str, Any]) -> None:
    """Referenced unit, people, use case and vendors exist (the use case visible to the caller); all problems
    are reported at once."""
    errors: list[FieldError] = []
    unit_id = values.get("business_unit_id")
    if unit_id is not None and session.get(BusinessUnit, unit_id) is None:
        errors.append(FieldError("business_unit_id", f"No business unit {unit_id}."))
    for field in ("owner_id", "technical_owner_id"):
        if values.get(field) is not None and session.get(User, values[field]) is None:
            errors.append(FieldError(field, f"No person {values[field]}."))
    use_case_id = values.get("use_case_id")
    if use_case_id is not None:
        visible = principal is None or principal.has("use_case:read")
        if visible:
            scope = scope_of(principal, "use_case:read")
            visible = session.scalar(select(UseCase.id).where(
                UseCase.id == use_case_id, in_scope(UseCase.business_unit_id, scope))) is not None
        if not visible:
            errors.append(FieldError("use_case_id", f"No use case {use_case_id}."))
    wanted = sorted(set(values.get("vendor_ids") or []))
    if wanted:
        found = set(session.scalars(select(Vendor.id).where(Vendor.id.in_(wanted))))
        missing = [i for i in wanted if i not in found]
        if missing:
            errors.append(FieldError("vendor_ids", f"No vendor {', '.join(map(str, missing))}."))
    if errors:
        raise ValidationFailed("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)


def _check_unique(session: Session, name: str, exclude: int | None = None) -> None:
    stmt = select(AISystem.id).where(func.lower(AISystem.name) == name.lower())
    if exclude is not None:
        stmt = stmt.where(AISystem.id != exclude)
    if session.scalar(stmt) is not None:
        raise Conflict(f"an AI system named {name!r} already exists",
                       errors=[FieldError("name", f"{name!r} is already taken.")])


def _vendors(session: Session, ids: list[int]) -> list[Vendor]:
    return list(session.scalars(select(Vendor).where(Vendor.id.in_(sorted(set(ids)))).order_by(Vendor.name)))


# --- writing ---------------------------------------------------------------------------------------------------

def create_system(session: Session, principal: Actor, data: schemas.SystemCreate) -> AISystem:
    """A unit-scoped caller may register systems only in their own units (403 otherwise)."""
    _check_references(session, principal, data.model_dump())
    if principal is not None:
        principal.check_unit(WRITE, data.business_unit_id, hide=False)
    _check_unique(session, data.name)
    system = AISystem(**data.model_dump(exclude={"vendor_ids"}))
    system.vendors = _vendors(session, data.vendor_ids)
    session.add(system)
    session.flush()
    diff = ledger.created(system)
    diff["vendor_ids"] = [None, sorted(v.id for v in system.vendors)]
    ledger.append(session, audit_actor(principal), "create", "ai_system", system.id, diff)
    return system


NOT_NULL = ("name", "purpose", "business_unit_id", "ai_type", "lifecycle_status", "eu_ai_act_role",
            "affected_people", "human_oversight", "vendor_ids")


def update_system(session: Session, principal: Actor, system_id: int, data: schemas.SystemUpdate) -> AISystem:
    """Edit the fields the payload carries. Moving a system to another unit needs write access there too."""
    system = get_system(session, principal, system_id, detail=True)
    if principal is not None:
        principal.check_unit(WRITE, system.business_unit_id)
    changes = data.model_dump(exclude_unset=True)
    empty = [FieldError(k, "Cannot be empty.") for k in NOT_NULL if k in changes and changes[k] is None]
    if empty:
        raise ValidationFailed("; ".join(f"{e.field}: cannot be empty" for e in empty), errors=empty)
    if changes.get("use_case_id") == system.use_case_id:
        changes.pop("use_case_id", None)  # keeping a link the caller cannot see is not an error
    _check_references(session, principal, changes)
    if principal is not None and changes.get("business_unit_id", system.business_unit_id) != system.business_unit_id:
        principal.check_unit(WRITE, changes["business_unit_id"], hide=False)
    if "name" in changes:
        _check_unique(session, changes["name"], exclude=system.id)
    extra: dict[str, list[Any]] = {}
    if "vendor_ids" in changes:
        before, wanted = sorted(v.id for v in system.vendors), sorted(set(changes.pop("vendor_ids")))
        if before != wanted:
            system.vendors = _vendors(session, wanted)
            extra["vendor_ids"] = [before, wanted]
    for field, value in changes.items():
        setattr(system, field, value)
    diff = {**ledger.changed(system), **extra}
    if diff:
        ledger.append(session, audit_actor(principal), "update", "ai_system", system.id, diff)
    return system


def live_production(system: AISystem) -> list[Deployment]:
    return [d for d in system.deployments
            if d.environment == "production" and d.status in LIVE_DEPLOYMENT_STATUSES]


def delete_system(session: Session, principal: Actor, system_id: int) -> None:
    """Refused (409, the deployments listed) while the system runs in production: retire it instead. Its
    links and other deployments go with it."""
    system = get_system(session, principal, system_id, detail=True)
    if principal is not None:
        principal.check_unit(WRITE, system.business_unit_id)
    live = live_production(system)
    if live:
        listed = [{"id": d.id, "environment": d.environment, "status": d.status, "endpoint": d.endpoint}
                  for d in live]
        raise Conflict(f"{system.name!r} has {len(live)} active production deployment(s) "
                       f"({', '.join(f'#{d.id}' for d in live)}); decommission them and retire the system instead",
                       dependants=listed)
    diff = ledger.deleted(system)
    diff["vendor_ids"] = [sorted(v.id for v in system.vendors), None]
    diff["model_ids"] = [sorted(link.model_id for link in system.model_links), None]
    diff["dataset_ids"] = [sorted(link.dataset_id for link in system.dataset_links), None]
    diff["deployment_ids"] = [[d.id for d in system.deployments], None]
    session.delete(system)
    ledger.append(session, audit_actor(principal), "delete", "ai_system", system_id, diff)


# --- links to models and datasets --------------------------------------------------------------------------------

def _writable(session: Session, principal: Actor, system_id: int) -> AISystem:
    system = get_system(session, principal, system_id, detail=True)
    if principal is not None:
        principal.check_unit(WRITE, system.business_unit_id)
    return system


def link_model(session: Session, principal: Actor, system_id: int, model_id: int,
               data: schemas.ModelLinkIn) -> SystemModel:
    """Link (or re-describe the role of) a model the caller can see; idempotent."""
    system = _writable(session, principal, system_id)
    model = visible_model(session, principal, model_id)
    if model is None:
        raise NotFound(f"no model {model_id}")
    link = next((m for m in system.model_links if m.model_id == model_id), None)
    label = f"{model.name} {model.version}"
    if link is None:
        link = SystemModel(model=model, role=data.role)
        system.model_links.append(link)
        diff = {"model_id": [None, model_id], "model": [None, label], "role": [None, data.role]}
        action = "link_model"
    elif link.role != data.role:
        diff, link.role, action = {"model_id": [model_id, model_id], "role": [link.role, data.role]}, data.role, \
            "update_model_link"
    else:
        return link
    session.flush()
    ledger.append(session, audit_actor(principal), action, "ai_system", system.id, diff)
    return link


def unlink_model(session: Session, principal: Actor, system_id: int, model_id: int) -> None:
    """Refused (409) while a deployment of the system that is not decommissioned runs this model."""
    system = _writable(session, principal, system_id)
    link = next((m for m in system.model_links if m.model_id == model_id), None)
    if link is None:
        raise NotFound(f"model {model_id} is not linked to AI system {system_id}")
    using = [d for d in system.deployments if d.model_id == model_id and d.status != "decommissioned"]
    if using:
        raise Conflict(f"model {model_id} is deployed by deployment(s) {', '.join(f'#{d.id}' for d in using)}; "
                       "decommission or repoint them first",
                       dependants=[{"id": d.id, "environment": d.environment, "status": d.status} for d in using])
    diff = {"model_id": [model_id, None], "role": [link.role, None]}
    system.model_links.remove(link)
    session.flush()
    ledger.append(session, audit_actor(principal), "unlink_model", "ai_system", system.id, diff)


def link_dataset(session: Session, principal: Actor, system_id: int, dataset_id: int,
                 data: schemas.DatasetLinkIn) -> SystemDataset:
    """Link (or re-describe the purpose of) a dataset the caller can see; idempotent."""
    system = _writable(session, principal, system_id)
    dataset = visible_dataset(session, principal, dataset_id)
    if dataset is None:
        raise NotFound(f"no dataset {dataset_id}")
    link = next((d for d in system.dataset_links if d.dataset_id == dataset_id), None)
    if link is None:
        link = SystemDataset(dataset=dataset, purpose=data.purpose)
        system.dataset_links.append(link)
        diff = {"dataset_id": [None, dataset_id], "dataset": [None, dataset.name], "purpose": [None, data.purpose]}
        action = "link_dataset"
    elif link.purpose != data.purpose:
        diff = {"dataset_id": [dataset_id, dataset_id], "purpose": [link.purpose, data.purpose]}
        link.purpose, action = data.purpose, "update_dataset_link"
    else:
        return link
    session.flush()
    ledger.append(session, audit_actor(principal), action, "ai_system", system.id, diff)
    return link


def unlink_dataset(session: Session, principal: Actor, system_id: int, dataset_id: int) -> None:
    system = _writable(session, principal, system_id)
    link = next((d for d in system.dataset_links if d.dataset_id == dataset_id), None)
    if link is None:
        raise NotFound(f"dataset {dataset_id} is not linked to AI system {system_id}")
    diff = {"dataset_id": [dataset_id, None], "purpose": [link.purpose, None]}
    system.dataset_links.remove(link)
    session.flush()
    ledger.append(session, audit_actor(principal), "unlink_dataset", "ai_system", system.id, diff)
