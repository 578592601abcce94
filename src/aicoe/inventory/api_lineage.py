"""JSON routes for lineage, impact questions and the AI bill of materials."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from aicoe.auth.deps import require
from aicoe.core.deps import SessionDep
from aicoe.inventory import bom, lineage

router = APIRouter(tags=["inventory"])

Status = Annotated[Literal["in_development", "in_validation", "in_production", "retired"] | None,
                   Query(description="only systems in this lifecycle status")]


class NodeOut(BaseModel):
    id: str
    kind: str
    ref_id: int
    label: str
    detail: str
    in_scope: bool


class EdgeOut(BaseModel):
    source: str
    target: str
    kind: str
    label: str


class LineageOut(BaseModel):
    system_id: int
    nodes: list[NodeOut]
    edges: list[EdgeOut]


class ImpactModelOut(BaseModel):
    id: int
    name: str
    version: str
    kind: str
    business_unit_id: int
    base_model_id: int | None
    direct: bool


class ImpactSystemOut(BaseModel):
    id: int
    name: str
    lifecycle_status: str
    business_unit_id: int
    direct: bool
    via_model_ids: list[int]


class ImpactDeploymentOut(BaseModel):
    id: int
    ai_system_id: int
    environment: str
    status: str
    endpoint: str


class ImpactOut(BaseModel):
    subject_kind: str
    subject_id: int
    subject_name: str
    status: str | None
    models: list[ImpactModelOut]
    systems: list[ImpactSystemOut]
    deployments: list[ImpactDeploymentOut]


@router.get("/ai-systems/{system_id}/lineage", response_model=LineageOut)
def system_lineage(session: SessionDep, principal: require("inventory:read"), system_id: int) -> dict[str, Any]:
    """Upstream (models and their base chain, datasets, vendors) and downstream (deployments) of one system.
    Node ids are ``<kind>:<id>``; ``in_scope`` is false for assets registered outside the caller's units."""
    return asdict(lineage.system_lineage(session, principal, system_id))


@router.get("/inventory/impact/dataset/{dataset_id}", response_model=ImpactOut)
def dataset_impact(session: SessionDep, principal: require("inventory:read"), dataset_id: int,
                   status: Status = None) -> dict[str, Any]:
    """Systems using the dataset directly or through any model built on it (or derived from one that is)."""
    return asdict(lineage.dataset_impact(session, principal, dataset_id, status=status))


@router.get("/inventory/impact/vendor/{vendor_id}", response_model=ImpactOut)
def vendor_impact(session: SessionDep, principal: require("inventory:read"), vendor_id: int,
                  status: Status = None) -> dict[str, Any]:
    """Models from the vendor (or built on its datasets) and everything derived from them, the systems using
    any of those or naming the vendor, and their deployments."""
    return asdict(lineage.vendor_impact(session, principal, vendor_id, status=status))


@router.get("/inventory/impact/model/{model_id}", response_model=ImpactOut)
def model_impact(session: SessionDep, principal: require("inventory:read"), model_id: int,
                 status: Status = None) -> dict[str, Any]:
    """Models derived from the model at any depth, the systems using it or them, and their deployments."""
    return asdict(lineage.model_impact(session, principal, model_id, status=status))


def bom_response(document: str, name: str) -> Response:
    return Response(document, media_type=bom.MEDIA_TYPE,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/ai-systems/{system_id}/bom", response_class=Response,
            responses={200: {"content": {bom.MEDIA_TYPE: {}}, "description": "CycloneDX 1.6 ML-BOM"}})
def system_bom(session: SessionDep, principal: require("inventory:read"), system_id: int) -> Response:
    """The system's AI bill of materials (CycloneDX 1.6 JSON) as a download."""
    document = bom.to_json(bom.system_bom(session, principal, system_id))
    return bom_response(document, bom.filename(lineage.get_system(session, principal, system_id)))


@router.get("/inventory/bom", response_class=Response,
            responses={200: {"content": {bom.MEDIA_TYPE: {}}, "description": "CycloneDX 1.6 ML-BOM"}})
def inventory_bom(session: SessionDep, principal: require("inventory:read")) -> Response:
    """The AI bill of materials of everything in the caller's units (CycloneDX 1.6 JSON) as a download."""
    return bom_response(bom.to_json(bom.inventory_bom(session, principal)), bom.filename(None))
