"""JSON routes for the caller's own account: /api/v1/me, password, API tokens."""

from __future__ import annotations

from fastapi import APIRouter, Response

from aicoe.auth import service
from aicoe.auth.deps import CurrentPrincipal, require
from aicoe.auth.schemas import MeOut, PasswordChange, TokenCreate, TokenIssued, TokenOut
from aicoe.core.deps import SessionDep, SettingsDep

router = APIRouter(tags=["account"])


@router.get("/me", response_model=MeOut)
def me(principal: CurrentPrincipal) -> dict:
    user = principal.user
    fields = {name: getattr(user, name) for name in MeOut.model_fields if name != "permissions"}
    return {**fields, "permissions": sorted(principal.permissions)}


@router.post("/me/password", status_code=204)
def change_password(session: SessionDep, settings: SettingsDep, principal: require("profile:write"),
                    body: PasswordChange) -> Response:
    service.change_password(session, settings, principal, current=body.current_password, new=body.new_password)
    return Response(status_code=204)


@router.get("/me/tokens", response_model=list[TokenOut])
def list_tokens(session: SessionDep, principal: require("profile:write")) -> object:
    return service.list_tokens(session, principal.user)


@router.post("/me/tokens", response_model=TokenIssued, status_code=201)
def create_token(session: SessionDep, principal: require("profile:write"), body: TokenCreate) -> dict:
    issued = service.create_token(session, principal, principal.user, name=body.name, scopes=body.scopes,
                                  expires_at=body.expires_at)
    return {**TokenOut.model_validate(issued.token).model_dump(), "token": issued.secret}


@router.delete("/me/tokens/{token_id}", status_code=204)
def revoke_token(session: SessionDep, principal: require("profile:write"), token_id: int) -> Response:
    service.revoke_token(session, principal, token_id)
    return Response(status_code=204)
