"""JSON routes for the control library, its requirement mappings, implementations, and the controls in effect
for an AI system (with where each is inherited from)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from sqlalchemy.orm import Session

from aicoe.auth.deps import require
from aicoe.auth.principal import Principal
from aicoe.compliance import controls
from aicoe.compliance import schemas_controls as schemas
from aicoe.core.deps import SessionDep
from aicoe.models.compliance import Control, ControlImplementation
from aicoe.web.api_common import PageOut, PageQuery

router = APIRouter(tags=["controls"])

Text = Annotated[str | None, Query(max_length=200)]


def implementation_out(impl: ControlImplementation, labels: dict[tuple[str, int], str]) -> dict[str, Any]:
    out = schemas.ImplementationOut.model_validate({
        **{k: getattr(impl, k) for k in ("id", "control_id", "subject_type", "subject_id", "business_unit_id",
                                         "status", "notes", "owner", "implemented_on", "created_at", "updated_at")},
        "subject_label": labels[(impl.subject_type, impl.subject_id)]})
    return out.model_dump()


def _requirements(control: Control) -> list[dict[str, Any]]:
    links = sorted(control.requirement_links,
                   key=lambda link: (link.requirement.framework.key, link.requirement.position))
    return [{"id": r.id, "framework_key": r.framework.key, "framework_version": r.framework.version, "ref": r.ref,
             "title": r.title} for r in (link.requirement for link in links)]


def _summary(control: Control, count: int) -> dict[str, Any]:
    return {"id": control.id, "code": control.code, "name": control.name, "category": control.category,
            "owner": control.owner, "requirements": _requirements(control), "implementation_count": count,
            "updated_at": control.updated_at}


def _visible(principal: Principal, impls: Iterable[ControlImplementation]) -> list[ControlImplementation]:
    return [i for i in impls if i.business_unit_id is None or principal.may(controls.READ, i.business_unit_id)]


def control_out(session: Session, principal: Principal, control: Control) -> dict[str, Any]:
    impls = sorted(_visible(principal, control.implementations), key=lambda i: (i.subject_type, i.id))
    labels = controls.subject_labels(session, impls)
    return {**_summary(control, len(impls)), "description": control.description, "created_at": control.created_at,
            "implementations": [implementation_out(i, labels) for i in impls]}


@router.get("/controls", response_model=PageOut[schemas.ControlSummary])
def list_controls(session: SessionDep, principal: require("compliance:read"), page: PageQuery,
                  category: Text = None, framework_id: int | None = None, requirement_id: int | None = None,
                  q: Annotated[str | None, Query(max_length=200, description="in the code, name or description")]
                  = None) -> dict[str, Any]:
    """Sort by code (default), name, category or updated_at; '-' for descending."""
    result = controls.list_controls(session, principal, page, category=category, framework_id=framework_id,
                                    requirement_id=requirement_id, q=q)
    counts = controls.implementation_counts(session, principal, [c.id for c in result.items])
    return {"items": [_summary(c, counts.get(c.id, 0)) for c in result.items], "total": result.total,
            "limit": result.limit, "offset": result.offset, "next_offset": result.next_offset}


@router.post("/controls", response_model=schemas.ControlOut, status_code=201)
def create_control(session: SessionDep, principal: require("control:write"),
                   body: schemas.ControlCreate) -> dict[str, Any]:
    """Add a control to the library; codes (e.g. CTL-BIAS-01) are unique and stored in upper case."""
    control = controls.create_control(session, principal, body)
    return control_out(session, principal, controls.get_control(session, principal, control.id))


@router.get("/controls/{control_id}", response_model=schemas.ControlOut)
def get_control(session: SessionDep, principal: require("compliance:read"), control_id: int) -> dict[str, Any]:
    """The control with its mapped requirements and the implementations in the caller's units (and on vendors)."""
    return control_out(session, principal, controls.get_control(session, principal, control_id))


@router.patch("/controls/{control_id}", response_model=schemas.ControlOut)
def update_control(session: SessionDep, principal: require("control:write"), control_id: int,
                   body: schemas.ControlUpdate) -> dict[str, Any]:
    control = controls.update_control(session, principal, control_id, body)
    return control_out(session, principal, control)


@router.delete("/controls/{control_id}", status_code=204)
def delete_control(session: SessionDep, principal: require("control:write"), control_id: int) -> Response:
    """Refused (409) while the control is implemented anywhere or linked to a risk."""
    controls.delete_control(session, principal, control_id)
    return Response(status_code=204)


@router.put("/controls/{control_id}/requirements", response_model=schemas.ControlOut)
def set_requirements(session: SessionDep, principal: require("control:write"), control_id: int,
                     body: schemas.RequirementsIn) -> dict[str, Any]:
    """Replace the requirements (of any frameworks) the control satisfies."""
    control = controls.set_requirements(session, principal, control_id, body.requirement_ids)
    return control_out(session, principal, control)


@router.post("/controls/{control_id}/implementations", response_model=schemas.ImplementationOut, status_code=201)
def implement(session: SessionDep, principal: require("compliance:write"), control_id: int,
              body: schemas.ImplementationCreate) -> dict[str, Any]:
    """Record the control on an AI system, model, dataset or vendor (vendors need CoE-wide compliance:write).
    Systems using a model, dataset or vendor inherit it."""
    impl = controls.implement(session, principal, control_id, body)
    return implementation_out(impl, controls.subject_labels(session, [impl]))


@router.patch("/control-implementations/{implementation_id}", response_model=schemas.ImplementationOut)
def update_implementation(session: SessionDep, principal: require("compliance:write"), implementation_id: int,
                          body: schemas.ImplementationUpdate) -> dict[str, Any]:
    impl = controls.update_implementation(session, principal, implementation_id, body)
    return implementation_out(impl, controls.subject_labels(session, [impl]))


@router.delete("/control-implementations/{implementation_id}", status_code=204)
def delete_implementation(session: SessionDep, principal: require("compliance:write"),
                          implementation_id: int) -> Response:
    """Removes the implementation and its evidence links (the evidence stays)."""
    controls.delete_implementation(session, principal, implementation_id)
    return Response(status_code=204)


@router.get("/ai-systems/{system_id}/controls", response_model=list[schemas.EffectiveControlOut])
def system_controls(session: SessionDep, principal: require("compliance:read"), system_id: int) -> list[Any]:
    """The controls in effect for the system: implemented on it, or inherited from its models (and their base
    models), datasets and vendors (``inherited_from`` names the source)."""
    effective = controls.for_system(session, principal, system_id)
    labels = controls.subject_labels(session, [e.implementation for e in effective])
    return [{"control": e.control, "implementation": implementation_out(e.implementation, labels),
             "inherited_from": e.inherited_from, "requirement_ids": sorted(e.requirement_ids)} for e in effective]
