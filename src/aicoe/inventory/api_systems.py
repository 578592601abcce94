"""JSON routes for AI systems (with their model/dataset links and deployments), vendors and the inventory
search."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from aicoe.auth.deps import require
from aicoe.core.deps import SessionDep
from aicoe.inventory import deployments, search, systems, vendors
from aicoe.inventory import schemas_systems as schemas
from aicoe.web.api_common import PageOut, PageQuery, page_out

router = APIRouter(tags=["inventory"])

Text = Annotated[str | None, Query(max_length=200)]


# --- AI systems --------------------------------------------------------------------------------------------------

@router.get("/ai-systems", response_model=PageOut[schemas.SystemSummary])
def list_systems(session: SessionDep, principal: require("inventory:read"), page: PageQuery,
                 business_unit_id: int | None = None, lifecycle_status: Text = None, ai_type: Text = None,
                 risk_tier: Text = None, vendor_id: int | None = None,
                 owner_id: Annotated[int | None, Query(description="owner or technical owner")] = None,
                 q: Annotated[str | None, Query(max_length=200, description="in the name or purpose")] = None,
                 ) -> dict[str, Any]:
    """Sort by name (default), updated_at or created_at; '-' for descending."""
    result = systems.list_systems(session, principal, page, business_unit_id=business_unit_id,
                                  lifecycle_status=lifecycle_status, ai_type=ai_type, risk_tier=risk_tier,
                                  vendor_id=vendor_id, owner_id=owner_id, q=q)
    return page_out(result, schemas.SystemSummary)


@router.post("/ai-systems", response_model=schemas.SystemOut, status_code=201)
def create_system(session: SessionDep, principal: require("inventory:write"), body: schemas.SystemCreate) -> object:
    system = systems.create_system(session, principal, body)
    return systems.get_system(session, principal, system.id, detail=True)


@router.get("/ai-systems/{system_id}", response_model=schemas.SystemOut)
def get_system(session: SessionDep, principal: require("inventory:read"), system_id: int) -> object:
    return systems.get_system(session, principal, system_id, detail=True)


@router.patch("/ai-systems/{system_id}", response_model=schemas.SystemOut)
def update_system(session: SessionDep, principal: require("inventory:write"), system_id: int,
                  body: schemas.SystemUpdate) -> object:
    """Edit fields; ``vendor_ids`` replaces the list. Risk tier and assessment status are set by compliance."""
    return systems.update_system(session, principal, system_id, body)


@router.delete("/ai-systems/{system_id}", status_code=204)
def delete_system(session: SessionDep, principal: require("inventory:write"), system_id: int) -> Response:
    """Refused (409, listing them) while active or paused production deployments exist: retire instead."""
    systems.delete_system(session, principal, system_id)
    return Response(status_code=204)


@router.put("/ai-systems/{system_id}/models/{model_id}", response_model=schemas.SystemModelOut)
def link_model(session: SessionDep, principal: require("inventory:write"), system_id: int, model_id: int,
               body: schemas.ModelLinkIn) -> object:
    """Link a model (visible to the caller) with its role in the system; re-putting changes the role."""
    return systems.link_model(session, principal, system_id, model_id, body)


@router.delete("/ai-systems/{system_id}/models/{model_id}", status_code=204)
def unlink_model(session: SessionDep, principal: require("inventory:write"), system_id: int,
                 model_id: int) -> Response:
    """Refused (409) while a deployment that is not decommissioned runs the model."""
    systems.unlink_model(session, principal, system_id, model_id)
    return Response(status_code=204)


@router.put("/ai-systems/{system_id}/datasets/{dataset_id}", response_model=schemas.SystemDatasetOut)
def link_dataset(session: SessionDep, principal: require("inventory:write"), system_id: int, dataset_id: int,
                 body: schemas.DatasetLinkIn) -> object:
    """Link a dataset the system uses directly (e.g. a retrieval corpus), with its purpose."""
    return systems.link_dataset(session, principal, system_id, dataset_id, body)


@router.delete("/ai-systems/{system_id}/datasets/{dataset_id}", status_code=204)
def unlink_dataset(session: SessionDep, principal: require("inventory:write"), system_id: int,
                   dataset_id: int) -> Response:
    systems.unlink_dataset(session, principal, system_id, dataset_id)
    return Response(status_code=204)


# --- deployments -------------------------------------------------------------------------------------------------

@router.get("/ai-systems/{system_id}/deployments", response_model=list[schemas.DeploymentOut])
def list_deployments(session: SessionDep, principal: require("inventory:read"), system_id: int) -> object:
    return deployments.list_deployments(session, principal, system_id)


@router.post("/ai-systems/{system_id}/deployments", response_model=schemas.DeploymentOut, status_code=201)
def create_deployment(session: SessionDep, principal: require("inventory:write"), system_id: int,
                      body: schemas.DeploymentCreate) -> object:
    """``model_id`` must be linked to the system. ``endpoint`` is a URL (http, https, grpc, s3, ...) or a
    free-form location; text containing '://' is checked as a URL."""
    return deployments.create_deployment(session, principal, system_id, body)


@router.get("/ai-systems/{system_id}/deployments/{deployment_id}", response_model=schemas.DeploymentOut)
def get_deployment(session: SessionDep, principal: require("inventory:read"), system_id: int,
                   deployment_id: int) -> object:
    return deployments.get_deployment(session, principal, system_id, deployment_id)


@router.patch("/ai-systems/{system_id}/deployments/{deployment_id}", response_model=schemas.DeploymentOut)
def update_deployment(session: SessionDep, principal: require("inventory:write"), system_id: int,
                      deployment_id: int, body: schemas.DeploymentUpdate) -> object:
    return deployments.update_deployment(session, principal, system_id, deployment_id, body)


@router.delete("/ai-systems/{system_id}/deployments/{deployment_id}", status_code=204)
def delete_deployment(session: SessionDep, principal: require("inventory:write"), system_id: int,
                      deployment_id: int) -> Response:
    deployments.delete_deployment(session, principal, system_id, deployment_id)
    return Response(status_code=204)


# --- vendors -----------------------------------------------------------------------------------------------------

@router.get("/vendors", response_model=PageOut[schemas.VendorOut])
def list_vendors(session: SessionDep, principal: require("inventory:read"), page: PageQuery, type: Text = None,  # noqa: A002
                 status: Text = None, q: Text = None) -> dict[str, Any]:
    """Sort by name (default), type, status or updated_at."""
    return page_out(vendors.list_vendors(session, principal, page, type=type, status=status, q=q), schemas.VendorOut)


@router.post("/vendors", response_model=schemas.VendorOut, status_code=201)
def create_vendor(session: SessionDep, principal: require("vendor:write"), body: schemas.VendorCreate) -> object:
    return vendors.create_vendor(session, principal, body)


@router.get("/vendors/{vendor_id}", response_model=schemas.VendorOut)
def get_vendor(session: SessionDep, principal: require("inventory:read"), vendor_id: int) -> object:
    return vendors.get_vendor(session, principal, vendor_id)


@router.patch("/vendors/{vendor_id}", response_model=schemas.VendorOut)
def update_vendor(session: SessionDep, principal: require("vendor:write"), vendor_id: int,
                  body: schemas.VendorUpdate) -> object:
    return vendors.update_vendor(session, principal, vendor_id, body)


@router.delete("/vendors/{vendor_id}", status_code=204)
def delete_vendor(session: SessionDep, principal: require("vendor:write"), vendor_id: int) -> Response:
    """Refused (409, listing the models, datasets and AI systems that name it) while anything uses it."""
    vendors.delete_vendor(session, principal, vendor_id)
    return Response(status_code=204)


# --- search ------------------------------------------------------------------------------------------------------

@router.get("/inventory/search", response_model=schemas.SearchOut)
def search_inventory(session: SessionDep, principal: require("inventory:read"),
                     q: Annotated[str, Query(min_length=1, max_length=search.MAX_QUERY)]) -> object:
    """AI systems, models (name or version), datasets and vendors whose name contains ``q``."""
    return search.search(session, principal, q)
