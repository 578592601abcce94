"""The one dependency that authenticates a request and checks a permission, for API and UI routes alike.

A request is authenticated by ``Authorization: Bearer <token>`` or by the signed session cookie. Cookie-based
requests that change state must carry the session's CSRF token (form field ``csrf_token`` or header
``X-CSRF-Token``); bearer requests cannot be forged cross-site and need none.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from aicoe.auth.principal import Principal
from aicoe.auth.service import session_principal, token_principal
from aicoe.config import Settings
from aicoe.core.deps import SAFE_METHODS, SessionDep
from aicoe.core.errors import PermissionDenied, Unauthenticated

SESSION_COOKIE = "aicoe_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"


def cookie_signer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.signing_key, salt="aicoe.session")


def session_key_from(request: Request) -> str | None:
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    settings: Settings = request.app.state.settings
    try:
        return cookie_signer(settings).loads(raw, max_age=settings.session_max_age_s)
    except BadSignature:
        return None


async def _csrf_ok(request: Request, expected: str) -> bool:
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    return sent is not None and hmac.compare_digest(sent, expected)


async def get_principal(request: Request, session: SessionDep) -> Principal:
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    auth = request.headers.get("authorization", "")
    if auth:
        scheme, _, secret = auth.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise Unauthenticated("use 'Authorization: Bearer <token>'")
        principal = token_principal(session, secret.strip())
    else:
        key = session_key_from(request)
        if key is None:
            raise Unauthenticated("sign in or send an API token")
        principal = session_principal(session, key)
        if request.method not in SAFE_METHODS and not await _csrf_ok(request, principal.csrf_token or ""):
            raise PermissionDenied("the form has expired or did not come from this site (CSRF check failed)",
                                   code="csrf")
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


class Require:
    """``Depends(Require("perm"))``: refuse with 403 unless the caller holds the permission (in some scope).

    Routes declare their permission this way so that tests can enumerate every route and its permission.
    """

    def __init__(self, permission: str) -> None:
        self.permission = permission

    async def __call__(self, principal: CurrentPrincipal) -> Principal:
        principal.scope(self.permission)
        return principal

    def __repr__(self) -> str:
        return f"Require({self.permission!r})"


def require(permission: str) -> type[Principal]:
    """Annotated alias: ``principal: require("business_unit:read")``."""
    return Annotated[Principal, Depends(Require(permission))]  # type: ignore[return-value]
