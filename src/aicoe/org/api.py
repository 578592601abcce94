"""JSON routes for business units and people: /api/v1/business-units, /api/v1/users."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from aicoe.auth.deps import require
from aicoe.auth.permissions import GLOBAL_ONLY, ROLE_LABELS, ROLE_PERMISSIONS, Role
from aicoe.core.deps import SessionDep, SettingsDep
from aicoe.org import schemas, service
from aicoe.web.api_common import PageOut, PageQuery, page_out

router = APIRouter(tags=["organisation"])


@router.get("/business-units", response_model=PageOut[schemas.BusinessUnitOut])
def list_units(session: SessionDep, principal: require("business_unit:read"), page: PageQuery,
               q: Annotated[str | None, Query(max_length=120)] = None, parent_id: int | None = None) -> dict:
    return page_out(service.list_units(session, principal, page, q=q, parent_id=parent_id),
                    schemas.BusinessUnitOut)


@router.post("/business-units", response_model=schemas.BusinessUnitOut, status_code=201)
def create_unit(session: SessionDep, principal: require("business_unit:write"),
                body: schemas.BusinessUnitCreate) -> object:
    return service.create_unit(session, principal, body)


@router.get("/business-units/{unit_id}", response_model=schemas.BusinessUnitOut)
def get_unit(session: SessionDep, principal: require("business_unit:read"), unit_id: int) -> object:
    return service.get_unit(session, principal, unit_id)


@router.patch("/business-units/{unit_id}", response_model=schemas.BusinessUnitOut)
def update_unit(session: SessionDep, principal: require("business_unit:write"), unit_id: int,
                body: schemas.BusinessUnitUpdate) -> object:
    return service.update_unit(session, principal, unit_id, body)


@router.delete("/business-units/{unit_id}", status_code=204)
def delete_unit(session: SessionDep, principal: require("business_unit:write"), unit_id: int) -> Response:
    service.delete_unit(session, principal, unit_id)
    return Response(status_code=204)


@router.get("/users", response_model=PageOut[schemas.PersonOut])
def list_people(
    session: SessionDep, principal: require("person:read"), page: PageQuery,
    q: Annotated[str | None, Query(max_length=120)] = None, business_unit_id: int | None = None,
    roster: bool | None = None, active: bool | None = None,
    role: Annotated[str | None, Query(max_length=40)] = None,
) -> dict:
    result = service.list_people(session, principal, page, q=q, business_unit_id=business_unit_id,
                                 roster=roster, active=active, role=role)
    return page_out(result, schemas.PersonOut)


@router.post("/users", response_model=schemas.PersonOut, status_code=201)
def create_person(session: SessionDep, settings: SettingsDep, principal: require("person:write"),
                  body: schemas.PersonCreate) -> object:
    return service.create_person(session, settings, principal, body)


@router.get("/users/{user_id}", response_model=schemas.PersonOut)
def get_person(session: SessionDep, principal: require("person:read"), user_id: int) -> object:
    return service.get_person(session, principal, user_id)


@router.patch("/users/{user_id}", response_model=schemas.PersonOut)
def update_person(session: SessionDep, principal: require("person:write"), user_id: int,
                  body: schemas.PersonUpdate) -> object:
    return service.update_person(session, principal, user_id, body)


@router.delete("/users/{user_id}", status_code=204)
def delete_person(session: SessionDep, principal: require("person:write"), user_id: int) -> Response:
    service.delete_person(session, principal, user_id)
    return Response(status_code=204)


@router.put("/users/{user_id}/roles", response_model=schemas.PersonOut)
def set_roles(session: SessionDep, principal: require("user:write"), user_id: int,
              body: schemas.RolesReplace) -> object:
    return service.set_roles(session, principal, service.get_person(session, principal, user_id), body.roles)


@router.post("/users/{user_id}/disable", response_model=schemas.PersonOut)
def disable(session: SessionDep, principal: require("user:write"), user_id: int) -> object:
    return service.set_active(session, principal, service.get_person(session, principal, user_id), False)


@router.post("/users/{user_id}/enable", response_model=schemas.PersonOut)
def enable(session: SessionDep, principal: require("user:write"), user_id: int) -> object:
    return service.set_active(session, principal, service.get_person(session, principal, user_id), True)


@router.get("/roles", response_model=list[schemas.RoleInfo])
def list_roles(principal: require("user:read")) -> list[dict]:
    """The CoE roles, what each is for and the permissions it grants (the table in auth/permissions.py)."""
    return [{"role": r.value, "label": ROLE_LABELS[r], "permissions": sorted(ROLE_PERMISSIONS[r]),
             "global_only": sorted(ROLE_PERMISSIONS[r] & GLOBAL_ONLY)} for r in Role]
