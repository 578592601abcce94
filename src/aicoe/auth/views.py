"""Sign-in, sign-out and the profile page (password change, personal API tokens).

The login form is protected against cross-site posting by a double-submit token: a random value in an HttpOnly
cookie that the form must echo. Once signed in, the session's own CSRF token takes over.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from aicoe.auth import service
from aicoe.auth.deps import SESSION_COOKIE, CurrentPrincipal, cookie_signer, require, session_key_from
from aicoe.auth.permissions import PERMISSIONS
from aicoe.auth.principal import Principal
from aicoe.auth.schemas import TokenCreate
from aicoe.config import Settings
from aicoe.core.deps import SessionDep, SettingsDep
from aicoe.core.errors import (
    DomainError,
    FieldError,
    PermissionDenied,
    Problem,
    TooManyRequests,
    Unauthenticated,
    ValidationFailed,
)
from aicoe.web import forms, pages

router = APIRouter()

LOGIN_CSRF_COOKIE = "aicoe_login_csrf"


def safe_next(target: str | None) -> str:
    """Only a path on this site: starts with one "/", no scheme, no host, no backslash tricks."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    if "\\" in target or any(ord(c) < 32 or ord(c) == 127 for c in target):
        return "/"
    return target


def _set_cookie(response: Response, settings: Settings, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(
        name, value, max_age=max_age, httponly=True, samesite="lax", secure=settings.cookie_secure, path="/"
    )


def _login_page(
    request: Request,
    token: str,
    *,
    next_url: str,
    form: dict[str, str] | None = None,
    problem: Problem | None = None,
    status: int = 200,
) -> HTMLResponse:
    response = pages.render(
        request,
        "login.html",
        {
            "csrf_token": token,
            "next": next_url,
            "form": form or {},
            "problem": problem,
        },
        status=status,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/login")
def login_form(request: Request, settings: SettingsDep, next: str | None = None) -> HTMLResponse:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
    response = _login_page(request, token, next_url=safe_next(next))
    _set_cookie(response, settings, LOGIN_CSRF_COOKIE, token, None)
    return response


@router.post("/login")
def login(request: Request, session: SessionDep, settings: SettingsDep, form: forms.FormDep) -> Response:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    sent = forms.text(form, "csrf_token")
    if not expected or not sent or not hmac.compare_digest(sent, expected):
        raise PermissionDenied(
            "the sign-in form has expired or did not come from this site; reload it and try again",
            code="csrf",
        )
    next_url = safe_next(forms.text(form, "next"))
    email = forms.text(form, "email")
    password = form.get("password")
    kept = {"email": email}
    ip = request.client.host if request.client else ""
    try:
        if not email or not isinstance(password, str) or not password:
            raise ValidationFailed(
                "enter your email address and password",
                errors=[
                    FieldError(name, "This field is required.")
                    for name, value in (("email", email), ("password", password))
                    if not value
                ],
            )
        user = service.authenticate(session, settings, email, password, ip)
    except TooManyRequests as err:
        response = _login_page(
            request, expected, next_url=next_url, form=kept, problem=Problem.of(err), status=err.status
        )
        response.headers["Retry-After"] = str(err.extra.get("retry_after", settings.login_lockout_s))
        return response
    except (Unauthenticated, ValidationFailed) as err:
        # The failed attempt stays recorded (the request commits) so throttling can count it.
        problem = Problem.of(err)
        if isinstance(err, Unauthenticated):
            problem.title = "Sign-in failed"
        return _login_page(
            request, expected, next_url=next_url, form=kept, problem=problem, status=err.status
        )
    new = service.start_session(
        session, settings, user, ip=ip, user_agent=request.headers.get("user-agent", "")
    )
    response = pages.redirect(request, next_url)
    _set_cookie(
        response, settings, SESSION_COOKIE, cookie_signer(settings).dumps(new.key), settings.session_max_age_s
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep, principal: CurrentPrincipal) -> Response:
    key = session_key_from(request)
    if key is not None:
        service.end_session(session, key, principal)
    response = pages.redirect(request, "/login", "You have signed out.")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# --- profile ------------------------------------------------------------------------------------------------


def _profile_context(session: Session, principal: Principal, **extra: Any) -> dict[str, Any]:
    return {
        "tokens": service.list_tokens(session, principal.user),
        "scope_options": [(p, PERMISSIONS[p]) for p in sorted(principal.permissions) if p in PERMISSIONS],
        **extra,
    }


@router.get("/profile")
def profile(request: Request, session: SessionDep, principal: CurrentPrincipal) -> HTMLResponse:
    return pages.render(request, "profile.html", _profile_context(session, principal))


@router.post("/profile/password")
def change_password(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    form: forms.FormDep,
    principal: require("profile:write"),
) -> Response:
    current = form.get("current_password")
    new = form.get("new_password")
    confirm = form.get("confirm_password")
    try:
        if not isinstance(current, str) or not isinstance(new, str) or new != confirm:
            raise ValidationFailed(
                "the new passwords do not match",
                errors=[FieldError("confirm_password", "Type the same new password twice.")],
            )
        service.change_password(session, settings, principal, current=current, new=new)
    except DomainError as err:
        session.rollback()
        return pages.form_error(
            request, "profile.html", err, forms.values(form), _profile_context(session, principal)
        )
    # Changing the password ends every session of this account, this one included: start a fresh one.
    new_session = service.start_session(
        session,
        settings,
        principal.user,
        ip=request.client.host if request.client else "",
        user_agent=request.headers.get("user-agent", ""),
    )
    response = pages.redirect(
        request, "/profile", "Your password has been changed; other sessions were signed out."
    )
    _set_cookie(
        response,
        settings,
        SESSION_COOKIE,
        cookie_signer(settings).dumps(new_session.key),
        settings.session_max_age_s,
    )
    return response


@router.post("/profile/tokens")
def create_token(
    request: Request, session: SessionDep, form: forms.FormDep, principal: require("profile:write")
) -> Response:
    scopes = [s for s in form.getlist("scopes") if isinstance(s, str)]
    try:
        data = forms.parse(
            TokenCreate,
            {
                "name": forms.text(form, "name"),
                "scopes": scopes,
                "expires_at": forms.end_of_day(form, "expires_at"),
            },
        )
        issued = service.create_token(
            session, principal, principal.user, name=data.name, scopes=data.scopes, expires_at=data.expires_at
        )
    except DomainError as err:
        session.rollback()
        context = _profile_context(session, principal, checked_scopes=scopes)
        return pages.form_error(request, "profile.html", err, forms.values(form), context)
    response = pages.render(request, "profile.html", _profile_context(session, principal, issued=issued))
    response.headers["Cache-Control"] = "no-store"  # the secret is on this page; keep it out of caches
    return response


@router.post("/profile/tokens/{token_id}/revoke")
def revoke_token(
    request: Request, session: SessionDep, token_id: int, principal: require("profile:write")
) -> Response:
    token = service.revoke_token(session, principal, token_id)
    return pages.redirect(request, "/profile", f"Token {token.name!r} has been revoked.")
