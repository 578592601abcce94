"""JSON routes for models (with their dataset lineage and model card) and datasets."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse

from aicoe.auth.deps import require
from aicoe.core.deps import SessionDep
from aicoe.inventory import datasets, model_registry, modelcard
from aicoe.inventory import schemas_assets as schemas
from aicoe.web.api_common import PageOut, PageQuery, page_out

router = APIRouter(tags=["inventory"])

Text = Annotated[str | None, Query(max_length=200)]
Purpose = Annotated[schemas.Purpose, Query(description="train, fine_tune, evaluate or retrieval")]


def card_filename(model: Any, extension: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{model.name}-{model.version}").strip("-") or f"model-{model.id}"
    return f"{stem}.card.{extension}"


# --- models ----------------------------------------------------------------------------------------------------

@router.get("/models", response_model=PageOut[schemas.ModelSummary])
def list_models(session: SessionDep, principal: require("inventory:read"), page: PageQuery,
                business_unit_id: int | None = None, kind: Text = None, vendor_id: int | None = None,
                owner_id: int | None = None, base_model_id: int | None = None, q: Text = None) -> dict[str, Any]:
    """Sort by name, version, kind or updated_at (``-`` for descending)."""
    result = model_registry.list_models(session, principal, page, business_unit_id=business_unit_id, kind=kind,
                                        vendor_id=vendor_id, owner_id=owner_id, base_model_id=base_model_id, q=q)
    return page_out(result, schemas.ModelSummary)


@router.post("/models", response_model=schemas.ModelOut, status_code=201)
def create_model(session: SessionDep, principal: require("inventory:write"), body: schemas.ModelCreate) -> object:
    return model_registry.create_model(session, principal, body)


@router.get("/models/{model_id}", response_model=schemas.ModelOut)
def get_model(session: SessionDep, principal: require("inventory:read"), model_id: int) -> object:
    return model_registry.get_model(session, principal, model_id)


@router.patch("/models/{model_id}", response_model=schemas.ModelOut)
def update_model(session: SessionDep, principal: require("inventory:write"), model_id: int,
                 body: schemas.ModelUpdate) -> object:
    """A base model that would make the model derive from itself is refused (422 naming the chain)."""
    return model_registry.update_model(session, principal, model_id, body)


@router.delete("/models/{model_id}", status_code=204)
def delete_model(session: SessionDep, principal: require("inventory:write"), model_id: int) -> Response:
    """409 listing the AI systems, deployments and derived models still using it (retire it instead)."""
    model_registry.delete_model(session, principal, model_id)
    return Response(status_code=204)


@router.put("/models/{model_id}/datasets/{dataset_id}", response_model=schemas.ModelOut)
def link_dataset(session: SessionDep, principal: require("inventory:write"), model_id: int, dataset_id: int,
                 purpose: Purpose) -> object:
    """Record that the model uses the dataset for a purpose (idempotent)."""
    model_registry.link_dataset(session, principal, model_id, dataset_id, purpose)
    return model_registry.get_model(session, principal, model_id)


@router.delete("/models/{model_id}/datasets/{dataset_id}", response_model=schemas.ModelOut)
def unlink_dataset(session: SessionDep, principal: require("inventory:write"), model_id: int, dataset_id: int,
                   purpose: Annotated[schemas.Purpose | None, Query()] = None) -> object:
    """Remove the link for that purpose, or every link to the dataset without one."""
    model_registry.unlink_dataset(session, principal, model_id, dataset_id, purpose)
    return model_registry.get_model(session, principal, model_id)


@router.get("/models/{model_id}/card.json")
def model_card_json(session: SessionDep, principal: require("inventory:read"), model_id: int) -> Response:
    """The model card as JSON (structure ``aicoe.model-card/1``, described in ``aicoe.inventory.modelcard``)."""
    model = model_registry.get_model(session, principal, model_id)
    body = modelcard.card_data(session, principal, model)
    return JSONResponse(body, headers={
        "Content-Disposition": f'attachment; filename="{card_filename(model, "json")}"'})


@router.get("/models/{model_id}/card.md")
def model_card_markdown(session: SessionDep, principal: require("inventory:read"), model_id: int) -> Response:
    """The model card as Markdown in the Hugging Face model-card layout (YAML front matter, then sections)."""
    model = model_registry.get_model(session, principal, model_id)
    text = modelcard.card_markdown(modelcard.card_data(session, principal, model))
    return Response(text, media_type="text/markdown; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{card_filename(model, "md")}"'})


# --- datasets --------------------------------------------------------------------------------------------------

@router.get("/datasets", response_model=PageOut[schemas.DatasetSummary])
def list_datasets(session: SessionDep, principal: require("inventory:read"), page: PageQuery,
                  business_unit_id: int | None = None, classification: Text = None, source: Text = None,
                  personal_data: bool | None = None, owner_id: int | None = None, vendor_id: int | None = None,
                  q: Text = None) -> dict[str, Any]:
    """Sort by name, updated_at or classification (``-`` for descending)."""
    result = datasets.list_datasets(session, principal, page, business_unit_id=business_unit_id,
                                    classification=classification, source=source, personal_data=personal_data,
                                    owner_id=owner_id, vendor_id=vendor_id, q=q)
    return page_out(result, schemas.DatasetSummary)


@router.post("/datasets", response_model=schemas.DatasetOut, status_code=201)
def create_dataset(session: SessionDep, principal: require("inventory:write"),
                   body: schemas.DatasetCreate) -> object:
    """Personal data needs a legal basis; special-category data needs personal data; a vendor source a vendor."""
    return datasets.create_dataset(session, principal, body)


@router.get("/datasets/{dataset_id}", response_model=schemas.DatasetOut)
def get_dataset(session: SessionDep, principal: require("inventory:read"), dataset_id: int) -> object:
    return datasets.get_dataset(session, principal, dataset_id)


@router.patch("/datasets/{dataset_id}", response_model=schemas.DatasetOut)
def update_dataset(session: SessionDep, principal: require("inventory:write"), dataset_id: int,
                   body: schemas.DatasetUpdate) -> object:
    return datasets.update_dataset(session, principal, dataset_id, body)


@router.delete("/datasets/{dataset_id}", status_code=204)
def delete_dataset(session: SessionDep, principal: require("inventory:write"), dataset_id: int) -> Response:
    """409 listing the models and AI systems still using it."""
    datasets.delete_dataset(session, principal, dataset_id)
    return Response(status_code=204)
