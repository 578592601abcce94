"""JSON routes for strategy: /api/v1/mission, /api/v1/objectives, /api/v1/kpis (+ measurements)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from aicoe.auth.deps import require
from aicoe.core.deps import SessionDep
from aicoe.core.pagination import Page
from aicoe.models.strategy import Kpi
from aicoe.strategy import schemas, service
from aicoe.web.api_common import PageOut, PageQuery, page_out

router = APIRouter(tags=["strategy"])
Search = Annotated[str | None, Query(max_length=200)]


def kpi_out(kpi: Kpi) -> schemas.KpiOut:
    """A KPI with its computed status (the status is not a column, so it is added here)."""
    fields = {name: getattr(kpi, name) for name in schemas.KpiOut.model_fields if name != "status"}
    fields["status"] = schemas.KpiStatusOut.model_validate(service.kpi_status(kpi), from_attributes=True)
    return schemas.KpiOut.model_validate(fields)


def kpi_page(page: Page[Kpi]) -> dict[str, Any]:
    return {"items": [kpi_out(k) for k in page.items], "total": page.total, "limit": page.limit,
            "offset": page.offset, "next_offset": page.next_offset}


# --- mission ---------------------------------------------------------------------------------------------------

@router.get("/mission", response_model=schemas.MissionOut)
def get_mission(session: SessionDep, principal: require("strategy:read")) -> object:
    """The current mission statement (the highest version); 404 until one has been written."""
    return service.get_mission(session)


@router.get("/mission/versions", response_model=PageOut[schemas.MissionOut])
def list_mission_versions(session: SessionDep, principal: require("strategy:read"), page: PageQuery) -> dict:
    """Every version, newest first unless ``sort`` says otherwise (``version``, ``created_at``)."""
    return page_out(service.list_mission_versions(session, page), schemas.MissionOut)


@router.post("/mission", response_model=schemas.MissionOut, status_code=201)
def revise_mission(session: SessionDep, principal: require("strategy:write"), body: schemas.MissionIn) -> object:
    """Save a new version; the unchanged statement and vision are refused (422, "nothing changed")."""
    return service.revise_mission(session, principal, body)


# --- objectives ------------------------------------------------------------------------------------------------

@router.get("/objectives", response_model=PageOut[schemas.ObjectiveOut])
def list_objectives(session: SessionDep, principal: require("strategy:read"), page: PageQuery,
                    status: Annotated[str | None, Query(max_length=16)] = None,
                    business_unit_id: int | None = None, q: Search = None) -> dict:
    """Sort by ``title``, ``period_end``, ``period_start``, ``status`` or ``created_at``."""
    result = service.list_objectives(session, page, status=status, business_unit_id=business_unit_id, q=q)
    return page_out(result, schemas.ObjectiveOut)


@router.post("/objectives", response_model=schemas.ObjectiveOut, status_code=201)
def create_objective(session: SessionDep, principal: require("strategy:write"),
                     body: schemas.ObjectiveCreate) -> object:
    return service.create_objective(session, principal, body)


@router.get("/objectives/{objective_id}", response_model=schemas.ObjectiveOut)
def get_objective(session: SessionDep, principal: require("strategy:read"), objective_id: int) -> object:
    return service.get_objective(session, objective_id)


@router.patch("/objectives/{objective_id}", response_model=schemas.ObjectiveOut)
def update_objective(session: SessionDep, principal: require("strategy:write"), objective_id: int,
                     body: schemas.ObjectiveUpdate) -> object:
    return service.update_objective(session, principal, objective_id, body)


@router.delete("/objectives/{objective_id}", status_code=204)
def delete_objective(session: SessionDep, principal: require("strategy:write"), objective_id: int) -> Response:
    """Its KPIs stay, no longer linked to an objective; use cases lose the link."""
    service.delete_objective(session, principal, objective_id)
    return Response(status_code=204)


# --- KPIs ------------------------------------------------------------------------------------------------------

@router.get("/kpis", response_model=PageOut[schemas.KpiOut])
def list_kpis(session: SessionDep, principal: require("strategy:read"), page: PageQuery,
              objective_id: int | None = None, q: Search = None) -> dict:
    """Sort by ``name``, ``target_date``, ``created_at`` or ``updated_at``. Each KPI carries its status."""
    return kpi_page(service.list_kpis(session, page, objective_id=objective_id, q=q))


@router.post("/kpis", response_model=schemas.KpiOut, status_code=201)
def create_kpi(session: SessionDep, principal: require("strategy:write"), body: schemas.KpiCreate) -> object:
    return kpi_out(service.create_kpi(session, principal, body))


@router.get("/kpis/{kpi_id}", response_model=schemas.KpiOut)
def get_kpi(session: SessionDep, principal: require("strategy:read"), kpi_id: int) -> object:
    return kpi_out(service.get_kpi(session, kpi_id))


@router.patch("/kpis/{kpi_id}", response_model=schemas.KpiOut)
def update_kpi(session: SessionDep, principal: require("strategy:write"), kpi_id: int,
               body: schemas.KpiUpdate) -> object:
    return kpi_out(service.update_kpi(session, principal, kpi_id, body))


@router.delete("/kpis/{kpi_id}", status_code=204)
def delete_kpi(session: SessionDep, principal: require("strategy:write"), kpi_id: int) -> Response:
    service.delete_kpi(session, principal, kpi_id)
    return Response(status_code=204)


@router.get("/kpis/{kpi_id}/measurements", response_model=PageOut[schemas.MeasurementOut])
def list_measurements(session: SessionDep, principal: require("strategy:read"), kpi_id: int,
                      page: PageQuery) -> dict:
    """Oldest first unless ``sort`` says otherwise (``measured_on``, ``value``)."""
    return page_out(service.list_measurements(session, kpi_id, page), schemas.MeasurementOut)


@router.post("/kpis/{kpi_id}/measurements", response_model=schemas.MeasurementOut, status_code=201)
def add_measurement(session: SessionDep, principal: require("strategy:write"), kpi_id: int,
                    body: schemas.MeasurementIn) -> object:
    """One value per date: a second for the same date is 409."""
    return service.add_measurement(session, principal, kpi_id, body)


@router.delete("/kpis/{kpi_id}/measurements/{measurement_id}", status_code=204)
def delete_measurement(session: SessionDep, principal: require("strategy:write"), kpi_id: int,
                       measurement_id: int) -> Response:
    service.delete_measurement(session, principal, kpi_id, measurement_id)
    return Response(status_code=204)
