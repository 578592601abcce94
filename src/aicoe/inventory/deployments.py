"""Deployments of an AI system: where it runs (environment, endpoint), which model version, status, dates and
the gateway route. A deployment follows its system: seen by whoever sees the system, changed with
inventory:write for the system's unit. Its model must be one linked to the system (422 on ``model_id``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from aicoe.audit import ledger
from aicoe.auth.principal import Actor, audit_actor
from aicoe.core.errors import FieldError, NotFound, ValidationFailed
from aicoe.inventory import schemas_systems as schemas
from aicoe.inventory.systems import WRITE, get_system
from aicoe.models.inventory import AISystem, Deployment


def list_deployments(session: Session, principal: Actor, system_id: int) -> list[Deployment]:
    return list(get_system(session, principal, system_id, detail=True).deployments)


def get_deployment(session: Session, principal: Actor, system_id: int, deployment_id: int) -> Deployment:
    system = get_system(session, principal, system_id, detail=True)
    deployment = next((d for d in system.deployments if d.id == deployment_id), None)
    if deployment is None:
        raise NotFound(f"no deployment {deployment_id} of AI system {system_id}")
    return deployment


def _writable(session: Session, principal: Actor, system_id: int) -> AISystem:
    system = get_system(session, principal, system_id, detail=True)
    if principal is not None:
        principal.check_unit(WRITE, system.business_unit_id)
    return system


def _check(system: AISystem, model_id: int | None, deployed: datetime | None, retired: datetime | None) -> None:
    errors: list[FieldError] = []
    if model_id is not None and model_id not in {link.model_id for link in system.model_links}:
        errors.append(FieldError("model_id", f"Model {model_id} is not linked to this AI system; link it first."))
    if deployed is not None and retired is not None and retired < deployed:
        errors.append(FieldError("retired_at", "Must not be before the deployment date."))
    if errors:
        raise ValidationFailed("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)


def create_deployment(session: Session, principal: Actor, system_id: int,
                      data: schemas.DeploymentCreate) -> Deployment:
    system = _writable(session, principal, system_id)
    _check(system, data.model_id, data.deployed_at, data.retired_at)
    deployment = Deployment(**data.model_dump())
    system.deployments.append(deployment)
    session.flush()
    ledger.append(session, audit_actor(principal), "create", "deployment", deployment.id, ledger.created(deployment))
    return deployment


def update_deployment(session: Session, principal: Actor, system_id: int, deployment_id: int,
                      data: schemas.DeploymentUpdate) -> Deployment:
    system = _writable(session, principal, system_id)
    deployment = get_deployment(session, principal, system_id, deployment_id)
    changes: dict[str, Any] = data.model_dump(exclude_unset=True)
    empty = [FieldError(k, "Cannot be empty.") for k in ("environment", "endpoint", "status", "gateway_route")
             if k in changes and changes[k] is None]
    if empty:
        raise ValidationFailed("; ".join(f"{e.field}: cannot be empty" for e in empty), errors=empty)
    model_id = changes["model_id"] if "model_id" in changes else None
    _check(system, model_id if model_id != deployment.model_id else None,
           changes.get("deployed_at", deployment.deployed_at), changes.get("retired_at", deployment.retired_at))
    for field, value in changes.items():
        setattr(deployment, field, value)
    diff = ledger.changed(deployment)
    if diff:
        ledger.append(session, audit_actor(principal), "update", "deployment", deployment.id, diff)
    return deployment


def delete_deployment(session: Session, principal: Actor, system_id: int, deployment_id: int) -> None:
    system = _writable(session, principal, system_id)
    deployment = get_deployment(session, principal, system_id, deployment_id)
    diff = ledger.deleted(deployment)
    system.deployments.remove(deployment)
    session.flush()
    ledger.append(session, audit_actor(principal), "delete", "deployment", deployment_id, diff)
