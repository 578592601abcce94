"""Page assembly for the server-rendered UI: the template environment, navigation, flash messages, errors.

Views call ``render``; the navigation shows only the areas the signed-in user may open.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import inspect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from aicoe.auth.permissions import ROLE_LABELS, Role
from aicoe.core.errors import DomainError, Problem, Unauthenticated
from aicoe.core.time import isoformat

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
TEMPLATES.env.globals["role_labels"] = {r.value: label for r, label in ROLE_LABELS.items()}
TEMPLATES.env.globals["roles"] = [r.value for r in Role]
TEMPLATES.env.filters["iso"] = lambda v: isoformat(v) if v else ""
TEMPLATES.env.filters["when"] = lambda v: isoformat(v)[:16].replace("T", " ") + " UTC" if v else "—"
FLASH_COOKIE = "aicoe_flash"


@dataclass(frozen=True)
class NavItem:
    label: str
    href: str
    permission: str | None
    also: tuple[str, ...] = ()  # other paths of the same section, so the item is marked current there too


NAV: list[NavItem] = [
    NavItem("Home", "/", None),
    NavItem("Business units", "/business-units", "business_unit:read"),
    NavItem("People", "/people", "person:read"),
    NavItem("Strategy", "/strategy", "strategy:read"),
    NavItem("Use cases", "/use-cases", "use_case:read"),
    NavItem("Pipeline", "/pipeline", "use_case:read"),
    NavItem("Portfolio", "/portfolio", "use_case:read", also=("/patterns", "/scoring-model")),
    NavItem("Inventory", "/ai-systems", "inventory:read", also=("/models", "/datasets", "/vendors", "/inventory")),
    NavItem("Compliance", "/compliance", "compliance:read",
            also=("/frameworks", "/assessments", "/controls", "/evidence", "/classifications")),
    NavItem("Risks", "/risks", "risk:read"),
    NavItem("Policies", "/policies", "policy:read", also=("/attestations",)),
    NavItem("Reviews", "/reviews", "review:read"),
    NavItem("Sensitive data", "/sensitive", "sensitive:read"),
    NavItem("Evaluations", "/evaluations", "evaluation:read"),
    NavItem("Gateway", "/gateway", "gateway:read"),
    NavItem("Users & roles", "/admin/users", "user:read"),
    NavItem("Audit trail", "/audit", "audit:read"),
    NavItem("Jobs", "/jobs", "job:read"),
]


def _flash_signer(request: Request) -> URLSafeSerializer:
    return URLSafeSerializer(request.app.state.settings.signing_key, salt="aicoe.flash")


def flash(response: Response, request: Request, message: str) -> Response:
    response.set_cookie(FLASH_COOKIE, _flash_signer(request).dumps(message), max_age=60, httponly=True,
                        samesite="lax", secure=request.app.state.settings.cookie_secure)
    return response


def redirect(request: Request, url: str, message: str | None = None) -> Response:
    response = RedirectResponse(url, status_code=303)
    return flash(response, request, message) if message else response


def attempt(request: Request, session: Session, action: Callable[[], Any], *,
            on_error: Callable[[DomainError], Response], then: str | Callable[[Any], str], message: str) -> Response:
    """Run a form's action. A domain error rolls back what it did and shows ``on_error(err)`` (the page again,
    with the message); success redirects to ``then`` (or ``then(outcome)``) with ``message`` as the flash."""
    try:
        outcome = action()
    except DomainError as err:
        session.rollback()
        return on_error(err)
    return redirect(request, then(outcome) if callable(then) else then, message)


def render(request: Request, template: str, context: dict[str, Any] | None = None, *,
           status: int = 200) -> HTMLResponse:
    principal = getattr(request.state, "principal", None)
    ctx: dict[str, Any] = {
        "principal": principal,
        "csrf_token": principal.csrf_token if principal else request.cookies.get("aicoe_login_csrf", ""),
        "nav": [n for n in NAV if principal and (n.permission is None or principal.has(n.permission))],
        "path": request.url.path,
        "request_id": getattr(request.state, "request_id", ""),
        "form": {}, "problem": None,
    }
    ctx.update(context or {})
    message = None
    raw = request.cookies.get(FLASH_COOKIE)
    if raw:
        try:
            message = _flash_signer(request).loads(raw)
        except BadSignature:
            message = None
    ctx["flash"] = message
    response = TEMPLATES.TemplateResponse(request, template, ctx, status_code=status)
    if raw:
        response.delete_cookie(FLASH_COOKIE)
    return response


def _reload_user(request: Request) -> None:
    """A failed request's session is rolled back and closed before this page renders, expiring the signed-in
    user's row; load it again so the page keeps its navigation, or show it as to a visitor if that fails."""
    principal = getattr(request.state, "principal", None)
    if principal is None:
        return
    state = inspect(principal.user)
    if not (state.detached and state.expired_attributes):
        return
    try:
        with request.app.state.sessionmaker() as session:
            user = session.get(type(principal.user), state.identity)
            if user is not None:
                user.full_name  # noqa: B018 -- load the attribute before the session closes
    except SQLAlchemyError:
        user = None
    request.state.principal = replace(principal, user=user) if user is not None else None


def error_page(request: Request, error: DomainError) -> Response:
    if isinstance(error, Unauthenticated):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
    _reload_user(request)
    return render(request, "error.html", {"problem": Problem.of(error), "status": error.status},
                  status=error.status)


def form_error(request: Request, template: str, error: DomainError, form: dict[str, Any],
               context: dict[str, Any] | None = None) -> HTMLResponse:
    """Re-render a form with the message, the field errors next to their fields and what the user typed."""
    if isinstance(error, Unauthenticated):
        raise error
    return render(request, template, {**(context or {}), "problem": Problem.of(error), "form": form},
                  status=error.status)
