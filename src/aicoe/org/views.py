"""HTML pages for business units and people; account administration lives in ``admin_views``, included here.

Every read and write goes through ``org.service``, which already limits queries to the caller's business
units, so a record outside them is a 404 page. A refused form comes back with errors next to its fields.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from aicoe.auth.deps import require
from aicoe.auth.principal import Principal, unit_descendants
from aicoe.core.deps import SessionDep, SettingsDep
from aicoe.core.errors import DomainError
from aicoe.core.pagination import PageParams
from aicoe.models.org import BusinessUnit
from aicoe.org import admin_views, schemas, service
from aicoe.web import forms, pages

router = APIRouter()
router.include_router(admin_views.router)

PAGE_SIZE = 25
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
Filter = Annotated[str | None, Query(max_length=120)]


def unit_options(
    session: Session, principal: Principal, *, exclude: frozenset[int] = frozenset()
) -> list[tuple[int, str]]:
    return [
        (u.id, f"{u.name} ({u.code})") for u in service.all_units(session, principal) if u.id not in exclude
    ]


# --- business units -----------------------------------------------------------------------------------------


@router.get("/business-units")
def units_page(
    request: Request,
    session: SessionDep,
    principal: require("business_unit:read"),
    q: Filter = None,
    view: Filter = None,
    offset: Offset = 0,
) -> HTMLResponse:
    context: dict[str, Any] = {"q": q or "", "view": "tree" if view == "tree" else "list"}
    if context["view"] == "tree":
        units = service.all_units(session, principal)
        visible = {u.id for u in units}
        children: dict[int | None, list[BusinessUnit]] = defaultdict(list)
        for unit in units:
            children[unit.parent_id if unit.parent_id in visible else None].append(unit)
        context.update(children=children, roots=children[None])
    else:
        page = service.list_units(session, principal, PageParams(limit=PAGE_SIZE, offset=offset), q=q or None)
        context.update(page=page, pager_url=forms.query_url("/business-units", q=q))
    return pages.render(request, "business_units.html", context)


def _unit_form(
    request: Request,
    session: Session,
    principal: Principal,
    unit: BusinessUnit | None,
    err: DomainError | None = None,
    form: dict[str, str] | None = None,
) -> HTMLResponse:
    below = unit_descendants(session).get(unit.id, frozenset({unit.id})) if unit else frozenset()
    context = {"unit": unit, "parent_options": unit_options(session, principal, exclude=below)}
    if err is not None:
        return pages.form_error(request, "business_unit_form.html", err, form or {}, context)
    return pages.render(request, "business_unit_form.html", context)


def _unit_data(form: forms.FormData) -> dict[str, Any]:
    return {
        "code": forms.text(form, "code"),
        "name": forms.text(form, "name"),
        "description": forms.text(form, "description"),
        "parent_id": forms.optional_int(form, "parent_id"),
    }


@router.get("/business-units/new")
def new_unit(
    request: Request, session: SessionDep, principal: require("business_unit:write")
) -> HTMLResponse:
    return _unit_form(request, session, principal, None)


@router.post("/business-units")
def create_unit(
    request: Request, session: SessionDep, form: forms.FormDep, principal: require("business_unit:write")
) -> Response:
    try:
        unit = service.create_unit(
            session, principal, forms.parse(schemas.BusinessUnitCreate, _unit_data(form))
        )
    except DomainError as err:
        session.rollback()
        return _unit_form(request, session, principal, None, err, forms.values(form))
    return pages.redirect(request, f"/business-units/{unit.id}", f"Business unit {unit.name!r} created.")


@router.get("/business-units/{unit_id}")
def unit_page(
    request: Request, session: SessionDep, principal: require("business_unit:read"), unit_id: int
) -> HTMLResponse:
    unit = service.get_unit(session, principal, unit_id)
    people = None
    if principal.has("person:read"):
        people = service.list_people(session, principal, PageParams(limit=10), business_unit_id=unit.id)
    return pages.render(request, "business_unit.html", {"unit": unit, "people": people})


@router.get("/business-units/{unit_id}/edit")
def edit_unit(
    request: Request, session: SessionDep, principal: require("business_unit:write"), unit_id: int
) -> HTMLResponse:
    return _unit_form(request, session, principal, service.get_unit(session, principal, unit_id))


@router.post("/business-units/{unit_id}")
def update_unit(
    request: Request,
    session: SessionDep,
    form: forms.FormDep,
    unit_id: int,
    principal: require("business_unit:write"),
) -> Response:
    unit = service.get_unit(session, principal, unit_id)
    try:
        data = forms.parse(schemas.BusinessUnitUpdate, _unit_data(form))
        unit = service.update_unit(session, principal, unit_id, data)
    except DomainError as err:
        session.rollback()
        return _unit_form(
            request,
            session,
            principal,
            service.get_unit(session, principal, unit_id),
            err,
            forms.values(form),
        )
    return pages.redirect(request, f"/business-units/{unit.id}", f"Business unit {unit.name!r} saved.")


@router.post("/business-units/{unit_id}/delete")
def delete_unit(
    request: Request, session: SessionDep, unit_id: int, principal: require("business_unit:write")
) -> Response:
    unit = service.get_unit(session, principal, unit_id)
    name = unit.name
    try:
        service.delete_unit(session, principal, unit_id)
    except DomainError as err:
        session.rollback()
        unit = service.get_unit(session, principal, unit_id)
        people = (
            service.list_people(session, principal, PageParams(limit=10), business_unit_id=unit.id)
            if principal.has("person:read")
            else None
        )
        return pages.form_error(request, "business_unit.html", err, {}, {"unit": unit, "people": people})
    return pages.redirect(request, "/business-units", f"Business unit {name!r} deleted.")


# --- people -------------------------------------------------------------------------------------------------


@router.get("/people")
def people_page(
    request: Request,
    session: SessionDep,
    principal: require("person:read"),
    q: Filter = None,
    business_unit_id: Filter = None,
    roster: Filter = None,
    role: Filter = None,
    active: Filter = None,
    offset: Offset = 0,
) -> HTMLResponse:
    filters = {
        "q": q or "",
        "business_unit_id": business_unit_id or "",
        "roster": roster or "",
        "role": role or "",
        "active": active or "",
    }
    page = service.list_people(
        session,
        principal,
        PageParams(limit=PAGE_SIZE, offset=offset),
        q=q or None,
        business_unit_id=forms.query_id(business_unit_id, "business_unit_id"),
        roster=forms.tri_state(roster),
        active=forms.tri_state(active),
        role=role or None,
    )
    return pages.render(
        request,
        "people.html",
        {
            "page": page,
            "filters": filters,
            "pager_url": forms.query_url("/people", **filters),
            "unit_options": unit_options(session, principal),
            "roster_view": roster == "1",
        },
    )


def _person_form(
    request: Request,
    session: Session,
    principal: Principal,
    person: Any,
    err: DomainError | None = None,
    form: dict[str, str] | None = None,
) -> HTMLResponse:
    context = {"person": person, "unit_options": unit_options(session, principal)}
    if err is not None:
        return pages.form_error(request, "person_form.html", err, form or {}, context)
    return pages.render(request, "person_form.html", context)


@router.get("/people/new")
def new_person(request: Request, session: SessionDep, principal: require("person:write")) -> HTMLResponse:
    return _person_form(request, session, principal, None)


@router.post("/people")
def create_person(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    form: forms.FormDep,
    principal: require("person:write"),
) -> Response:
    data: dict[str, Any] = {
        "email": forms.text(form, "email"),
        "full_name": forms.text(form, "full_name"),
        "title": forms.text(form, "title"),
        "coe_role": forms.text(form, "coe_role") or None,
    }
    try:
        data["business_unit_id"] = forms.optional_int(form, "business_unit_id")
        password = form.get("password")
        if isinstance(password, str) and password:
            data["password"] = password
        if forms.text(form, "role"):
            data["roles"] = [
                {
                    "role": forms.text(form, "role"),
                    "business_unit_id": forms.optional_int(form, "role_unit_id"),
                }
            ]
        person = service.create_person(session, settings, principal, forms.parse(schemas.PersonCreate, data))
    except DomainError as err:
        session.rollback()
        return _person_form(request, session, principal, None, err, forms.values(form))
    return pages.redirect(request, f"/people/{person.id}", f"{person.full_name} has been added.")


@router.get("/people/{person_id}")
def person_page(
    request: Request, session: SessionDep, principal: require("person:read"), person_id: int
) -> HTMLResponse:
    return pages.render(request, "person.html", {"person": service.get_person(session, principal, person_id)})


@router.get("/people/{person_id}/edit")
def edit_person(
    request: Request, session: SessionDep, principal: require("person:write"), person_id: int
) -> HTMLResponse:
    return _person_form(request, session, principal, service.get_person(session, principal, person_id))


@router.post("/people/{person_id}")
def update_person(
    request: Request,
    session: SessionDep,
    form: forms.FormDep,
    person_id: int,
    principal: require("person:write"),
) -> Response:
    service.get_person(session, principal, person_id)
    try:
        data = forms.parse(
            schemas.PersonUpdate,
            {
                "full_name": forms.text(form, "full_name"),
                "title": forms.text(form, "title"),
                "business_unit_id": forms.optional_int(form, "business_unit_id"),
                "coe_role": forms.text(form, "coe_role") or None,
            },
        )
        person = service.update_person(session, principal, person_id, data)
    except DomainError as err:
        session.rollback()
        return _person_form(
            request,
            session,
            principal,
            service.get_person(session, principal, person_id),
            err,
            forms.values(form),
        )
    return pages.redirect(request, f"/people/{person.id}", f"{person.full_name} has been saved.")


@router.post("/people/{person_id}/delete")
def delete_person(
    request: Request, session: SessionDep, person_id: int, principal: require("person:write")
) -> Response:
    name = service.get_person(session, principal, person_id).full_name
    try:
        service.delete_person(session, principal, person_id)
    except DomainError as err:
        session.rollback()
        return pages.form_error(
            request, "person.html", err, {}, {"person": service.get_person(session, principal, person_id)}
        )
    return pages.redirect(request, "/people", f"{name} has been removed.")
