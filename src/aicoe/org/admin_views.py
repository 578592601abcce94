"""HTML pages for account administration: who can sign in, with which roles, in which business units.

Reading needs ``user:read``; changing roles, disabling and resetting passwords need ``user:write``. The rules
(the last administrator stays, nobody disables themselves, password rules) live in ``org.service``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from aicoe.auth.deps import require
from aicoe.auth.principal import Principal
from aicoe.core.deps import SessionDep, SettingsDep
from aicoe.core.errors import DomainError, FieldError, ValidationFailed
from aicoe.core.pagination import PageParams
from aicoe.models.org import User
from aicoe.org import schemas, service
from aicoe.web import forms, pages

router = APIRouter()

PAGE_SIZE = 25
Filter = Annotated[str | None, Query(max_length=120)]


@router.get("/admin/users")
def users_page(
    request: Request,
    session: SessionDep,
    principal: require("user:read"),
    q: Filter = None,
    role: Filter = None,
    active: Filter = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> HTMLResponse:
    filters = {"q": q or "", "role": role or "", "active": active or ""}
    page = service.list_people(
        session,
        principal,
        PageParams(limit=PAGE_SIZE, offset=offset),
        q=q or None,
        role=role or None,
        active=forms.tri_state(active),
    )
    return pages.render(
        request,
        "admin_users.html",
        {
            "page": page,
            "filters": filters,
            "pager_url": forms.query_url("/admin/users", **filters),
        },
    )


def _account_page(
    request: Request,
    session: Session,
    principal: Principal,
    user: User,
    err: DomainError | None = None,
    form: dict[str, str] | None = None,
) -> HTMLResponse:
    units = [(u.id, f"{u.name} ({u.code})") for u in service.all_units(session, principal)]
    context = {"account": user, "unit_options": units}
    if err is not None:
        return pages.form_error(request, "admin_user.html", err, form or {}, context)
    return pages.render(request, "admin_user.html", context)


@router.get("/admin/users/{user_id}")
def account_page(
    request: Request, session: SessionDep, principal: require("user:read"), user_id: int
) -> HTMLResponse:
    return _account_page(request, session, principal, service.get_person(session, principal, user_id))


def _current_roles(user: User) -> list[schemas.RoleIn]:
    return [schemas.RoleIn(role=r.role, business_unit_id=r.business_unit_id) for r in user.roles]


def _change(
    request: Request,
    session: Session,
    principal: Principal,
    user_id: int,
    form: forms.FormData,
    action: Any,
    message: str,
) -> Response:
    """Run one account change; on a refusal roll back and show the account page with the error."""
    user = service.get_person(session, principal, user_id)
    try:
        action(user)
    except DomainError as err:
        session.rollback()
        return _account_page(
            request,
            session,
            principal,
            service.get_person(session, principal, user_id),
            err,
            forms.values(form),
        )
    return pages.redirect(request, f"/admin/users/{user_id}", message.format(name=user.full_name))


@router.post("/admin/users/{user_id}/roles/add")
def add_role(
    request: Request, session: SessionDep, form: forms.FormDep, user_id: int, principal: require("user:write")
) -> Response:
    def action(user: User) -> None:
        if not forms.text(form, "role"):
            raise ValidationFailed("choose a role", errors=[FieldError("role", "Choose a role.")])
        wanted = forms.parse(
            schemas.RoleIn,
            {
                "role": forms.text(form, "role"),
                "business_unit_id": forms.optional_int(form, "business_unit_id"),
            },
        )
        service.set_roles(session, principal, user, [*_current_roles(user), wanted])

    return _change(request, session, principal, user_id, form, action, "Role added for {name}.")


@router.post("/admin/users/{user_id}/roles/remove")
def remove_role(
    request: Request, session: SessionDep, form: forms.FormDep, user_id: int, principal: require("user:write")
) -> Response:
    def action(user: User) -> None:
        role, unit = forms.text(form, "role"), forms.optional_int(form, "business_unit_id")
        kept = [r for r in _current_roles(user) if (r.role, r.business_unit_id) != (role, unit)]
        service.set_roles(session, principal, user, kept)

    return _change(request, session, principal, user_id, form, action, "Role removed for {name}.")


@router.post("/admin/users/{user_id}/disable")
def disable(
    request: Request, session: SessionDep, form: forms.FormDep, user_id: int, principal: require("user:write")
) -> Response:
    return _change(
        request,
        session,
        principal,
        user_id,
        form,
        lambda user: service.set_active(session, principal, user, False),
        "{name} can no longer sign in.",
    )


@router.post("/admin/users/{user_id}/enable")
def enable(
    request: Request, session: SessionDep, form: forms.FormDep, user_id: int, principal: require("user:write")
) -> Response:
    return _change(
        request,
        session,
        principal,
        user_id,
        form,
        lambda user: service.set_active(session, principal, user, True),
        "{name} can sign in again.",
    )


@router.post("/admin/users/{user_id}/password")
def reset_password(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    form: forms.FormDep,
    user_id: int,
    principal: require("user:write"),
) -> Response:
    def action(user: User) -> None:
        password, confirm = form.get("password"), form.get("confirm_password")
        if not isinstance(password, str) or password != confirm:
            raise ValidationFailed(
                "the passwords do not match",
                errors=[FieldError("confirm_password", "Type the same password twice.")],
            )
        service.set_password(session, settings, principal, user, password)

    return _change(request, session, principal, user_id, form, action, "A new password is set for {name}.")
