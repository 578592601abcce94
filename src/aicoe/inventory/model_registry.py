"""Models: registering, reading within the caller's business units, editing, dataset lineage and deleting.

Every query starts from ``models_query``, limited to the units the caller may read (404 outside them). A model
may derive from another (``base_model_id``); a change that would make a model derive from itself through others
is refused with the chain named (422 ``base_model_id``). A model still used by an AI system, a deployment or as
the base of another model is not deleted (409 listing them: retire it instead). Services flush and audit, never
commit; models are audited by id.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, selectinload

from aicoe.audit import ledger
from aicoe.auth.principal import Actor, audit_actor, in_scope, scope_of
from aicoe.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from aicoe.core.pagination import Page, PageParams, apply_sort, paginate
from aicoe.inventory import datasets
from aicoe.inventory import schemas_assets as schemas
from aicoe.inventory.constants import DATASET_PURPOSES, MODEL_KINDS
from aicoe.inventory.datasets import READ, WRITE, Dependant, refuse, refuse_if_used
from aicoe.models.inventory import AISystem, Deployment, Model, ModelDataset, SystemModel

SORT_COLUMNS: dict[str, Any] = {"name": func.lower(Model.name), "updated_at": Model.updated_at,
                                "version": Model.version, "kind": Model.kind}
MAX_CHAIN = 1000  # base-model links followed at most (a stored cycle, which this module never writes, would stop)


def label(model: Model) -> str:
    return f"{model.name} {model.version}"


# --- reading ---------------------------------------------------------------------------------------------------

def models_query(principal: Actor, permission: str = READ) -> Select[tuple[Model]]:
    return select(Model).where(in_scope(Model.business_unit_id, scope_of(principal, permission)))


def list_models(session: Session, principal: Actor, params: PageParams, *, business_unit_id: int | None = None,
                kind: str | None = None, vendor_id: int | None = None, owner_id: int | None = None,
                base_model_id: int | None = None, q: str | None = None) -> Page[Model]:
    """Sort by name, version, kind or updated_at (``-`` for descending); by name and version by default."""
    stmt = models_query(principal).options(selectinload(Model.business_unit), selectinload(Model.owner),
                                           selectinload(Model.vendor), selectinload(Model.base_model))
    if business_unit_id is not None:
        stmt = stmt.where(Model.business_unit_id == business_unit_id)
    if kind:
        if kind not in MODEL_KINDS:
            raise ValidationFailed(f"unknown kind {kind!r}", errors=[FieldError(
                "kind", f"Unknown kind {kind!r}; allowed: {', '.join(MODEL_KINDS)}.")])
        stmt = stmt.where(Model.kind == kind)
    if vendor_id is not None:
        stmt = stmt.where(Model.vendor_id == vendor_id)
    if owner_id is not None:
        stmt = stmt.where(Model.owner_id == owner_id)
    if base_model_id is not None:
        stmt = stmt.where(Model.base_model_id == base_model_id)
    if q and q.strip():
        like = f"%{q.strip().lower()}%"
        stmt = stmt.where(or_(func.lower(Model.name).like(like), func.lower(Model.version).like(like),
                              func.lower(Model.description).like(like)))
    stmt = apply_sort(stmt, params.sort, SORT_COLUMNS, [func.lower(Model.name), Model.version, Model.id])
    return paginate(session, stmt, params)


def get_model(session: Session, principal: Actor, model_id: int) -> Model:
    stmt = models_query(principal).where(Model.id == model_id).options(
        selectinload(Model.business_unit), selectinload(Model.owner), selectinload(Model.vendor),
        selectinload(Model.base_model), selectinload(Model.dataset_links).selectinload(ModelDataset.dataset))
    model = session.scalar(stmt)
    if model is None:
        raise NotFound(f"no model {model_id}")
    return model


def base_chain(model: Model) -> list[Model]:
    """The models this one derives from, nearest first."""
    chain: list[Model] = []
    seen = {model.id}
    current = model.base_model
    while current is not None and current.id not in seen and len(chain) < MAX_CHAIN:
        chain.append(current)
        seen.add(current.id)
        current = current.base_model
    return chain


def systems_using(session: Session, principal: Actor, model: Model) -> list[AISystem]:
    """The AI systems (within the caller's units) that use the model."""
    return list(session.scalars(
        select(AISystem).join(SystemModel, SystemModel.ai_system_id == AISystem.id)
        .where(SystemModel.model_id == model.id, in_scope(AISystem.business_unit_id, scope_of(principal, READ)))
        .order_by(AISystem.name)))


def used_by(session: Session, model: Model) -> list[Dependant]:
    """Every AI system, deployment and derived model that still depends on the model, whatever its unit."""
    systems = session.execute(
        select(AISystem.id, AISystem.name, AISystem.business_unit_id)
        .join(SystemModel, SystemModel.ai_system_id == AISystem.id).where(SystemModel.model_id == model.id)
        .order_by(AISystem.name))
    deployments = session.execute(
        select(Deployment.id, AISystem.name, Deployment.environment, AISystem.business_unit_id)
        .join(AISystem, AISystem.id == Deployment.ai_system_id).where(Deployment.model_id == model.id)
        .order_by(AISystem.name, Deployment.id))
    derived = session.execute(
        select(Model.id, Model.name, Model.version, Model.business_unit_id).where(Model.base_model_id == model.id)
        .order_by(Model.name, Model.version))
    return ([Dependant("ai_system", i, n, u) for i, n, u in systems]
            + [Dependant("deployment", i, f"{n} ({env})", u) for i, n, env, u in deployments]
            + [Dependant("model", i, f"{n} {v}", u) for i, n, v, u in derived])


# --- validation ------------------------------------------------------------------------------------------------

def _check_base(session: Session, principal: Actor, model: Model | None, base_id: int | None) -> list[FieldError]:
    """The base model exists and is visible to the caller, and deriving from it makes no cycle."""
    if base_id is None:
        return []
    base = session.scalar(models_query(principal).where(Model.id == base_id))
    if base is None:
        return [FieldError("base_model_id", f"No model {base_id}.")]
    if model is None:
        return []
    path = [base]
    current: Model | None = base
    while current is not None and len(path) <= MAX_CHAIN:
        if current.id == model.id:
            chain = " → ".join(label(m) for m in [model, *path])
            return [FieldError("base_model_id", f"A model cannot derive from itself: {chain}.")]
        current = session.get(Model, current.base_model_id) if current.base_model_id is not None else None
        if current is not None:
            path.append(current)
    return []


def _unique(session: Session, name: str, version: str, exclude_id: int | None = None) -> None:
    stmt = select(Model.id).where(Model.name == name, Model.version == version)
    if exclude_id is not None:
        stmt = stmt.where(Model.id != exclude_id)
    if session.scalar(stmt) is not None:
        raise Conflict(f"model {name!r} version {version!r} already exists",
                       errors=[FieldError("version", f"{name} {version} is already registered.")])


# --- writing ---------------------------------------------------------------------------------------------------

def create_model(session: Session, principal: Actor, data: schemas.ModelCreate) -> Model:
    """Register a model in one of the caller's units (403 for another); nothing is written on refusal."""
    values = data.model_dump()
    refuse(datasets.check_references(session, values) + _check_base(session, principal, None, data.base_model_id))
    if principal is not None:
        principal.check_unit(WRITE, data.business_unit_id, hide=False)
    _unique(session, data.name, data.version)
    model = Model(**values, source="manual", tags={}, aliases=[], metrics={})
    session.add(model)
    session.flush()
    ledger.append(session, audit_actor(principal), "create", "model", model.id, ledger.created(model))
    return model


NOT_NULL = ("name", "version", "kind", "business_unit_id", "licence", "description", "intended_use",
            "out_of_scope_uses", "limitations", "known_biases", "evaluation_summary", "artefact_uri", "checksum")


def update_model(session: Session, principal: Actor, model_id: int, data: schemas.ModelUpdate) -> Model:
    """Change the fields the payload carries; moving the model to another unit needs write access there too."""
    model = get_model(session, principal, model_id)
    if principal is not None:
        principal.check_unit(WRITE, model.business_unit_id)
    changes = data.model_dump(exclude_unset=True)
    empty = datasets.not_null(changes, NOT_NULL)
    refuse(empty or (datasets.check_references(session, changes)
                     + _check_base(session, principal, model, changes.get("base_model_id"))))
    unit = changes.get("business_unit_id", model.business_unit_id)
    if principal is not None and unit != model.business_unit_id:
        principal.check_unit(WRITE, unit, hide=False)
    if "name" in changes or "version" in changes:
        _unique(session, changes.get("name", model.name), changes.get("version", model.version), model.id)
    for field, value in changes.items():
        setattr(model, field, value)
    diff = ledger.changed(model)
    if diff:
        ledger.append(session, audit_actor(principal), "update", "model", model.id, diff)
    session.flush()
    session.expire(model, ["business_unit", "owner", "vendor", "base_model"])  # reload for the changed ids
    return model


def delete_model(session: Session, principal: Actor, model_id: int) -> None:
    """Refused (409, listing them) while an AI system, a deployment or a derived model depends on it. Its own
    dataset lineage goes with it."""
    model = get_model(session, principal, model_id)
    if principal is not None:
        principal.check_unit(WRITE, model.business_unit_id)
    refuse_if_used(principal, f"model {label(model)!r}", used_by(session, model))
    diff = ledger.deleted(model)
    diff["datasets"] = [sorted(f"{link.dataset.name} ({link.purpose})" for link in model.dataset_links), None]
    session.delete(model)
    ledger.append(session, audit_actor(principal), "delete", "model", model_id, diff)


# --- dataset lineage ---------------------------------------------------------------------------------------------

def _check_purpose(purpose: str) -> None:
    if purpose not in DATASET_PURPOSES:
        raise ValidationFailed(f"unknown purpose {purpose!r}", errors=[FieldError(
            "purpose", f"Unknown purpose {purpose!r}; allowed: {', '.join(DATASET_PURPOSES)}.")])


def link_dataset(session: Session, principal: Actor, model_id: int, dataset_id: int, purpose: str) -> Model:
    """Record that the model uses the dataset for ``purpose``; linking twice changes nothing. The dataset must be
    one the caller can read (404 otherwise)."""
    _check_purpose(purpose)
    model = get_model(session, principal, model_id)
    if principal is not None:
        principal.check_unit(WRITE, model.business_unit_id)
    dataset = datasets.get_dataset(session, principal, dataset_id)
    if any(link.dataset_id == dataset.id and link.purpose == purpose for link in model.dataset_links):
        return model
    model.dataset_links.append(ModelDataset(dataset=dataset, purpose=purpose))
    session.flush()
    ledger.append(session, audit_actor(principal), "link_dataset", "model", model.id,
                  {"dataset": [None, f"{dataset.name} (id {dataset.id}, {purpose})"]})
    return model


def unlink_dataset(session: Session, principal: Actor, model_id: int, dataset_id: int,
                   purpose: str | None = None) -> Model:
    """Remove the link for that purpose, or every link to the dataset when no purpose is given (404 if none)."""
    if purpose is not None:
        _check_purpose(purpose)
    model = get_model(session, principal, model_id)
    if principal is not None:
        principal.check_unit(WRITE, model.business_unit_id)
    gone = [link for link in model.dataset_links
            if link.dataset_id == dataset_id and (purpose is None or link.purpose == purpose)]
    if not gone:
        raise NotFound(f"model {model_id} has no link to dataset {dataset_id}"
                       + (f" for {purpose}" if purpose else ""))
    for link in gone:
        model.dataset_links.remove(link)
    session.flush()
    ledger.append(session, audit_actor(principal), "unlink_dataset", "model", model.id,
                  {"dataset": [sorted(f"{link.dataset.name} (id {dataset_id}, {link.purpose})" for link in gone),
                               None]})
    return model
