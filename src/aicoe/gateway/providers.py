"""Upstream providers and model routes (CoE-wide: gateway:read sees them, gateway:admin changes them).

A provider's API key is encrypted at rest (``aicoe.gateway.secrets``) and never leaves the server: outputs say
only whether one is stored. A route maps a model alias to a provider's upstream model with prices per million
tokens in micro-units; several routes of one alias are tried in ``priority`` order, and they must all be of the
same kind (chat or embedding) so a fallback answers the same kind of request.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from aicoe.audit import ledger
from aicoe.auth.principal import Actor, audit_actor, scope_of
from aicoe.config import Settings
from aicoe.core.errors import FieldError, NotFound, ValidationFailed
from aicoe.gateway import schemas, secrets
from aicoe.models.gateway import GatewayProvider, GatewayRoute

READ, ADMIN = "gateway:read", "gateway:admin"
PROVIDER, ROUTE = "gateway_provider", "gateway_route"
PROVIDER_NOT_FOUND = "no gateway provider {id}"
ROUTE_NOT_FOUND = "no gateway route {id}"
NAME_TAKEN = "A provider named {name!r} exists already."
URL_REQUIRED = "A {kind} provider needs its base URL (http or https)."
BAD_URL = "Give an http or https URL, e.g. https://api.openai.com/v1."
VERSION_REQUIRED = "Azure OpenAI needs its api-version, e.g. 2024-06-01."
NO_PROVIDER = "No provider {id}."
PRIORITY_TAKEN = "Alias {alias!r} already has a route with priority {priority}."
KIND_MISMATCH = "Alias {alias!r} already routes {kind} requests; all routes of one alias share a kind."
BOTH_PRICES = "Give the price either in currency or in micro-units, not both."
SECRET_HEADER = "Put credentials in api_key, not in headers."
_SECRET_HEADERS = frozenset({"authorization", "api-key", "x-api-key", "proxy-authorization"})


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {message}", errors=[FieldError(field, message)])


# --- providers -----------------------------------------------------------------------------------------------------

def list_providers(session: Session, principal: Actor) -> list[GatewayProvider]:
    scope_of(principal, READ)
    return list(session.scalars(select(GatewayProvider).order_by(func.lower(GatewayProvider.name))))


def get_provider(session: Session, principal: Actor, provider_id: int) -> GatewayProvider:
    scope_of(principal, READ)
    provider = session.get(GatewayProvider, provider_id)
    if provider is None:
        raise NotFound(PROVIDER_NOT_FOUND.format(id=provider_id))
    return provider


def _check_provider(session: Session, provider: GatewayProvider) -> None:
    other = session.scalar(select(GatewayProvider.id).where(GatewayProvider.name == provider.name))
    if other is not None and other != provider.id:
        raise _invalid("name", NAME_TAKEN.format(name=provider.name))
    if provider.kind != "demo":
        if not provider.base_url:
            raise _invalid("base_url", URL_REQUIRED.format(kind=provider.kind))
        parts = urlsplit(provider.base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise _invalid("base_url", BAD_URL)
    if provider.kind == "azure_openai" and not provider.api_version:
        raise _invalid("api_version", VERSION_REQUIRED)
    if any(name.lower() in _SECRET_HEADERS for name in provider.headers or {}):
        raise _invalid("headers", SECRET_HEADER)


def create_provider(session: Session, principal: Actor, settings: Settings,
                    data: schemas.ProviderCreate) -> GatewayProvider:
    scope_of(principal, ADMIN)
    values = data.model_dump(exclude={"api_key"})
    values["base_url"] = values["base_url"].rstrip("/")
    provider = GatewayProvider(**values)
    if data.api_key is not None and data.api_key.get_secret_value():
        provider.api_key_encrypted = secrets.encrypt(settings, data.api_key.get_secret_value())
    _check_provider(session, provider)
    session.add(provider)
    session.flush()
    ledger.append(session, audit_actor(principal), "create", PROVIDER, provider.id, _provider_diff(
        ledger.created(provider)))
    return provider


def _provider_diff(diff: dict[str, Any]) -> dict[str, Any]:
    """The encrypted key is never audited; that it changed is."""
    if "api_key_encrypted" in diff:
        old, new = diff.pop("api_key_encrypted")
        diff["has_api_key"] = [old is not None, new is not None]
    return diff


def update_provider(session: Session, principal: Actor, settings: Settings, provider_id: int,
                    data: schemas.ProviderUpdate) -> GatewayProvider:
    scope_of(principal, ADMIN)
    provider = get_provider(session, principal, provider_id)
    values = data.model_dump(exclude_unset=True, exclude={"api_key"})
    for name, value in values.items():
        if value is None:
            raise _invalid(name, "cannot be empty")
        setattr(provider, name, value.rstrip("/") if name == "base_url" else value)
    if "api_key" in data.model_fields_set:
        raw = data.api_key.get_secret_value() if data.api_key is not None else ""
        provider.api_key_encrypted = secrets.encrypt(settings, raw) if raw else None
    with session.no_autoflush:
        _check_provider(session, provider)
    diff = _provider_diff(ledger.changed(provider))
    session.flush()
    if diff:
        ledger.append(session, audit_actor(principal), "update", PROVIDER, provider.id, diff)
    return provider


def delete_provider(session: Session, principal: Actor, provider_id: int) -> None:
    """Deletes the provider's routes with it (each audited)."""
    scope_of(principal, ADMIN)
    provider = get_provider(session, principal, provider_id)
    for route in list(provider.routes):
        _delete_route(session, principal, route)
    session.expire(provider, ["routes"])
    diff = _provider_diff(ledger.deleted(provider))
    session.delete(provider)
    session.flush()
    ledger.append(session, audit_actor(principal), "delete", PROVIDER, provider_id, diff)


# --- routes --------------------------------------------------------------------------------------------------------

def list_routes(session: Session, principal: Actor, *, alias: str | None = None,
                provider_id: int | None = None) -> list[GatewayRoute]:
    """By alias, then priority (the order the gateway tries them)."""
    scope_of(principal, READ)
    stmt = select(GatewayRoute).options(selectinload(GatewayRoute.provider))
    if alias:
        stmt = stmt.where(GatewayRoute.alias == alias)
    if provider_id is not None:
        stmt = stmt.where(GatewayRoute.provider_id == provider_id)
    return list(session.scalars(stmt.order_by(GatewayRoute.alias, GatewayRoute.priority)))


def get_route(session: Session, principal: Actor, route_id: int) -> GatewayRoute:
    scope_of(principal, READ)
    route = session.get(GatewayRoute, route_id)
    if route is None:
        raise NotFound(ROUTE_NOT_FOUND.format(id=route_id))
    return route


def _prices(values: dict[str, Any]) -> dict[str, Any]:
    """Decimal prices -> micro-unit columns; a price given both ways is refused."""
    for side in ("input", "output"):
        decimal, micros = f"price_{side}_per_mtok", f"price_{side}_micros_per_mtok"
        amount = values.pop(decimal, None)
        if amount is not None:
            if values.get(micros) is not None:
                raise _invalid(decimal, BOTH_PRICES)
            values[micros] = schemas.to_micros(amount)
        elif micros in values and values[micros] is None:
            del values[micros]
    return values


def _check_route(session: Session, route: GatewayRoute) -> None:
    if session.get(GatewayProvider, route.provider_id) is None:
        raise _invalid("provider_id", NO_PROVIDER.format(id=route.provider_id))
    siblings = list(session.scalars(select(GatewayRoute).where(GatewayRoute.alias == route.alias,
                                                              GatewayRoute.id != route.id)))
    if any(s.priority == route.priority for s in siblings):
        raise _invalid("priority", PRIORITY_TAKEN.format(alias=route.alias, priority=route.priority))
    if any(s.kind != route.kind for s in siblings):
        raise _invalid("kind", KIND_MISMATCH.format(alias=route.alias, kind=siblings[0].kind))


def create_route(session: Session, principal: Actor, data: schemas.RouteCreate) -> GatewayRoute:
    scope_of(principal, ADMIN)
    route = GatewayRoute(**_prices(data.model_dump()))
    with session.no_autoflush:
        _check_route(session, route)
    session.add(route)
    session.flush()
    ledger.append(session, audit_actor(principal), "create", ROUTE, route.id, ledger.created(route))
    return route


def update_route(session: Session, principal: Actor, route_id: int, data: schemas.RouteUpdate) -> GatewayRoute:
    scope_of(principal, ADMIN)
    route = get_route(session, principal, route_id)
    values = _prices(data.model_dump(exclude_unset=True))
    with session.no_autoflush:
        for name, value in values.items():
            if value is None:
                raise _invalid(name, "cannot be empty")
            setattr(route, name, value)
        _check_route(session, route)
    diff = ledger.changed(route)
    session.flush()
    if diff:
        ledger.append(session, audit_actor(principal), "update", ROUTE, route.id, diff)
    return route


def delete_route(session: Session, principal: Actor, route_id: int) -> None:
    scope_of(principal, ADMIN)
    _delete_route(session, principal, get_route(session, principal, route_id))


def _delete_route(session: Session, principal: Actor, route: GatewayRoute) -> None:
    route_id, diff = route.id, ledger.deleted(route)
    session.delete(route)
    session.flush()
    ledger.append(session, audit_actor(principal), "delete", ROUTE, route_id, diff)
