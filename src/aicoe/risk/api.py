"""JSON routes for the risk register, its heat map and the scoring matrix."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy.orm import Session

from aicoe.auth.deps import require
from aicoe.core.deps import SessionDep
from aicoe.models.risk import Risk, RiskMatrix
from aicoe.risk import matrix as matrices
from aicoe.risk import schemas, service
from aicoe.web.api_common import PageOut, PageQuery

router = APIRouter(tags=["risks"])

Text = Annotated[str | None, Query(max_length=200)]
Word = Annotated[str | None, Query(max_length=24)]


def register_filters(
    q: Annotated[str | None, Query(max_length=200, description="in the title")] = None,
    category: Word = None, treatment: Word = None, subject_type: Word = None, subject_id: int | None = None,
    status: Annotated[str | None, Query(max_length=24, description="a status, or 'active' (not closed)")] = None,
    level: Annotated[str | None, Query(max_length=24, description="current level (residual where assessed)")] = None,
    owner_id: int | None = None, business_unit_id: int | None = None,
    overdue: Annotated[bool | None, Query(description="past its due date, or an acceptance due for review")] = None,
) -> dict[str, Any]:
    """The register's filters, shared by the list and the heat map."""
    return dict(q=q, category=category, status=status, level=level, treatment=treatment, subject_type=subject_type,
                subject_id=subject_id, owner_id=owner_id, business_unit_id=business_unit_id, overdue=overdue)


Filters = Annotated[dict[str, Any], Depends(register_filters)]


def _out(session: Session, risk: Risk) -> schemas.RiskOut:
    return schemas.RiskOut.model_validate(service.view(session, risk))


def _matrix_out(matrix: RiskMatrix) -> schemas.MatrixOut:
    return schemas.MatrixOut(likelihood_labels=matrix.likelihood_labels, impact_labels=matrix.impact_labels,
                             bands=[schemas.BandOut(**b) for b in matrix.bands], max_score=matrices.max_score(matrix),
                             updated_at=matrix.updated_at)


# --- the register ----------------------------------------------------------------------------------------------

@router.get("/risks", response_model=PageOut[schemas.RiskSummary])
def list_risks(session: SessionDep, principal: require("risk:read"), page: PageQuery, filters: Filters,
               basis: Annotated[str | None, Query(max_length=24, description="inherent (default) or residual: the "
                                                                              "scale likelihood and impact read")]
               = None,
               likelihood: Annotated[int | None, Query(ge=1, le=10)] = None,
               impact: Annotated[int | None, Query(ge=1, le=10)] = None) -> dict[str, Any]:
    """Sort by key, title, score (current), inherent_score, due_date or updated_at ('-' for descending); the
    highest current score comes first by default. ``likelihood`` and ``impact`` select a heat-map cell."""
    result = service.list_risks(session, principal, page, basis=basis, likelihood=likelihood, impact=impact,
                                **filters)
    return {"items": [schemas.RiskSummary.model_validate(v) for v in service.views(session, result.items)],
            "total": result.total, "limit": result.limit, "offset": result.offset, "next_offset": result.next_offset}


@router.post("/risks", response_model=schemas.RiskOut, status_code=201)
def create_risk(session: SessionDep, principal: require("risk:write"), body: schemas.RiskCreate) -> object:
    """The subject must lie within your risk:write units; vendor risks also name their ``business_unit_id``."""
    risk = service.create_risk(session, principal, body)
    return _out(session, service.get_risk(session, principal, risk.key))


@router.get("/risks/heatmap", response_model=schemas.HeatMapOut)
def heatmap(session: SessionDep, principal: require("risk:read"), filters: Filters,
            basis: Annotated[str, Query(max_length=24, description="inherent or residual")] = "inherent") -> object:
    """Live risks (closed ones left out) per likelihood × impact cell, every cell listed, zero included."""
    result = service.heatmap(session, principal, basis, **filters)
    return schemas.HeatMapOut(
        basis=result.basis, likelihood_labels=result.likelihood_labels, impact_labels=result.impact_labels,
        bands=[schemas.BandOut(level=b.level, min=b.min, max=b.max) for b in result.bands],
        cells=[schemas.HeatCellOut.model_validate(c) for c in result.cells], total=result.total)


@router.get("/risks/{key}", response_model=schemas.RiskOut)
def get_risk(session: SessionDep, principal: require("risk:read"), key: str) -> object:
    return _out(session, service.get_risk(session, principal, key))


@router.patch("/risks/{key}", response_model=schemas.RiskOut)
def update_risk(session: SessionDep, principal: require("risk:write"), key: str, body: schemas.RiskUpdate) -> object:
    """Re-scoring, re-treating or moving an accepted risk voids its approval (status back to open)."""
    risk = service.update_risk(session, principal, key, body)
    return _out(session, risk)


@router.delete("/risks/{key}", status_code=204)
def delete_risk(session: SessionDep, principal: require("risk:write"), key: str) -> Response:
    service.delete_risk(session, principal, key)
    return Response(status_code=204)


@router.post("/risks/{key}/accept", response_model=schemas.RiskOut)
def accept_risk(session: SessionDep, principal: require("risk:accept"), key: str, body: schemas.AcceptIn) -> object:
    """Approve the acceptance the owner proposed: not by the owner (four-eyes), with an expiry after today."""
    return _out(session, service.accept_risk(session, principal, key, body))


@router.put("/risks/{key}/controls", response_model=schemas.RiskOut)
def set_controls(session: SessionDep, principal: require("risk:write"), key: str, body: schemas.ControlsIn) -> object:
    """Replace the list of controls that treat the risk."""
    risk = service.set_controls(session, principal, key, body.control_ids)
    return _out(session, risk)


# --- the matrix ------------------------------------------------------------------------------------------------

@router.get("/risk-matrix", response_model=schemas.MatrixOut)
def get_matrix(session: SessionDep, principal: require("risk:read")) -> object:
    return _matrix_out(matrices.get_matrix(session))


@router.put("/risk-matrix", response_model=schemas.MatrixOut)
def update_matrix(session: SessionDep, principal: require("risk_matrix:write"), body: schemas.MatrixIn) -> object:
    """2 to 10 labels per axis; 2 to 4 bands (low, medium, high, critical, rising) covering 1 to the highest
    score without gap or overlap. Refused (409) when an axis would lose a position existing risks use."""
    matrix = matrices.update_matrix(session, principal, body)
    return _matrix_out(matrix)
