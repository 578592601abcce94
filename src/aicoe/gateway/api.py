"""JSON routes for gateway administration: providers, routes, guardrail policies (with the "try it" check),
virtual keys, budgets and the usage summary. The OpenAI-compatible ``/v1`` API itself is ``aicoe.gateway.app``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from sqlalchemy.orm import Session

from aicoe.auth.deps import require
from aicoe.core.deps import SessionDep, SettingsDep
from aicoe.core.filters import choice
from aicoe.gateway import budgets, keys, policies, providers, schemas, service
from aicoe.models.gateway import GatewayBudget, GatewayProvider, GatewayRoute, VirtualKey
from aicoe.web.api_common import PageOut, PageQuery

router = APIRouter(prefix="/gateway", tags=["gateway"])

READ, KEY, ADMIN, POLICY = "gateway:read", "gateway:key", "gateway:admin", "gateway:policy"


def provider_out(provider: GatewayProvider) -> schemas.ProviderOut:
    return schemas.ProviderOut(
        id=provider.id, name=provider.name, kind=provider.kind, base_url=provider.base_url,
        has_api_key=provider.api_key_encrypted is not None, api_version=provider.api_version,
        headers=dict(provider.headers or {}), connect_timeout_s=provider.connect_timeout_s,
        read_timeout_s=provider.read_timeout_s, max_retries=provider.max_retries, enabled=provider.enabled,
        created_at=provider.created_at, updated_at=provider.updated_at)


def route_out(route: GatewayRoute) -> schemas.RouteOut:
    return schemas.RouteOut(
        id=route.id, alias=route.alias, priority=route.priority, kind=route.kind, provider_id=route.provider_id,
        provider_name=route.provider.name, upstream_model=route.upstream_model,
        price_input_micros_per_mtok=route.price_input_micros_per_mtok,
        price_output_micros_per_mtok=route.price_output_micros_per_mtok,
        price_input_per_mtok=schemas.from_micros(route.price_input_micros_per_mtok),
        price_output_per_mtok=schemas.from_micros(route.price_output_micros_per_mtok),
        context_limit=route.context_limit, enabled=route.enabled, created_at=route.created_at,
        updated_at=route.updated_at)


def key_out(key: VirtualKey) -> dict[str, Any]:
    values = {name: getattr(key, name) for name in schemas.KeyOut.model_fields if name != "status"}
    return {**values, "status": keys.status_of(key)}


def budget_outs(session: Session, rows: list[GatewayBudget]) -> list[schemas.BudgetOut]:
    spend = budgets.spend_of(session, rows)
    return [schemas.BudgetOut(
        id=b.id, scope=b.scope, scope_id=b.scope_id, period=b.period, limit_micros=b.limit_micros,
        amount=schemas.from_micros(b.limit_micros), period_start=spend[b.id][0], spent_micros=spend[b.id][1],
        reserved_micros=spend[b.id][2], spent=schemas.from_micros(spend[b.id][1]), updated_at=b.updated_at)
        for b in rows]


# --- providers -----------------------------------------------------------------------------------------------------

@router.get("/providers", response_model=list[schemas.ProviderOut])
def list_providers(session: SessionDep, principal: require(READ)) -> object:
    """Every provider; API keys are never returned, only ``has_api_key``."""
    return [provider_out(p) for p in providers.list_providers(session, principal)]


@router.post("/providers", response_model=schemas.ProviderOut, status_code=201)
def create_provider(session: SessionDep, settings: SettingsDep, principal: require(ADMIN),
                    body: schemas.ProviderCreate) -> object:
    """The API key is stored encrypted (AES-GCM) and never shown again."""
    return provider_out(providers.create_provider(session, principal, settings, body))


@router.get("/providers/{provider_id}", response_model=schemas.ProviderOut)
def get_provider(session: SessionDep, principal: require(READ), provider_id: int) -> object:
    return provider_out(providers.get_provider(session, principal, provider_id))


@router.patch("/providers/{provider_id}", response_model=schemas.ProviderOut)
def update_provider(session: SessionDep, settings: SettingsDep, principal: require(ADMIN), provider_id: int,
                    body: schemas.ProviderUpdate) -> object:
    """``api_key`` omitted keeps the stored key; ``null`` removes it."""
    return provider_out(providers.update_provider(session, principal, settings, provider_id, body))


@router.delete("/providers/{provider_id}", status_code=204)
def delete_provider(session: SessionDep, principal: require(ADMIN), provider_id: int) -> Response:
    """Deletes the provider's routes with it."""
    providers.delete_provider(session, principal, provider_id)
    return Response(status_code=204)


# --- routes --------------------------------------------------------------------------------------------------------

@router.get("/routes", response_model=list[schemas.RouteOut])
def list_routes(session: SessionDep, principal: require(READ),
                alias: Annotated[str | None, Query(max_length=120)] = None, provider_id: int | None = None) -> object:
    """By alias, then priority: the order the gateway tries them."""
    return [route_out(r) for r in providers.list_routes(session, principal, alias=alias, provider_id=provider_id)]


@router.post("/routes", response_model=schemas.RouteOut, status_code=201)
def create_route(session: SessionDep, principal: require(ADMIN), body: schemas.RouteCreate) -> object:
    return route_out(providers.create_route(session, principal, body))


@router.get("/routes/{route_id}", response_model=schemas.RouteOut)
def get_route(session: SessionDep, principal: require(READ), route_id: int) -> object:
    return route_out(providers.get_route(session, principal, route_id))


@router.patch("/routes/{route_id}", response_model=schemas.RouteOut)
def update_route(session: SessionDep, principal: require(ADMIN), route_id: int, body: schemas.RouteUpdate) -> object:
    return route_out(providers.update_route(session, principal, route_id, body))


@router.delete("/routes/{route_id}", status_code=204)
def delete_route(session: SessionDep, principal: require(ADMIN), route_id: int) -> Response:
    providers.delete_route(session, principal, route_id)
    return Response(status_code=204)


# --- guardrail policies --------------------------------------------------------------------------------------------

@router.get("/policies", response_model=list[schemas.PolicyOut])
def list_policies(session: SessionDep, principal: require(READ)) -> object:
    return policies.list_policies(session, principal)


@router.post("/policies", response_model=schemas.PolicyOut, status_code=201)
def create_policy(session: SessionDep, principal: require(POLICY), body: schemas.PolicyCreate) -> object:
    """Rules are validated by the guardrail engine; ``is_default`` makes it the one default."""
    return policies.create_policy(session, principal, body)


@router.post("/policy-check", response_model=schemas.VerdictOut)
def check_rules(principal: require(POLICY), body: schemas.PolicyCheckIn) -> object:
    """What unsaved rules would do to a sample text (nothing is stored; matched values are never returned)."""
    return policies.check_rules(principal, body)


@router.get("/policies/{policy_id}", response_model=schemas.PolicyOut)
def get_policy(session: SessionDep, principal: require(READ), policy_id: int) -> object:
    return policies.get_policy(session, principal, policy_id)


@router.patch("/policies/{policy_id}", response_model=schemas.PolicyOut)
def update_policy(session: SessionDep, principal: require(POLICY), policy_id: int,
                  body: schemas.PolicyUpdate) -> object:
    """Any change raises the version by one."""
    return policies.update_policy(session, principal, policy_id, body)


@router.delete("/policies/{policy_id}", status_code=204)
def delete_policy(session: SessionDep, principal: require(POLICY), policy_id: int) -> Response:
    """Refused (409) while keys use it or while it is the default."""
    policies.delete_policy(session, principal, policy_id)
    return Response(status_code=204)


@router.post("/policies/{policy_id}/try", response_model=schemas.VerdictOut)
def try_policy(session: SessionDep, principal: require(READ), policy_id: int, body: schemas.PolicyTryIn) -> object:
    """The "try it" box: what the policy does to a sample text, without the matched values."""
    return policies.try_policy(session, principal, policy_id, body)


# --- keys ----------------------------------------------------------------------------------------------------------

@router.get("/keys", response_model=PageOut[schemas.KeyOut])
def list_keys(session: SessionDep, principal: require(READ), page: PageQuery,
              q: Annotated[str | None, Query(max_length=120, description="in the name or prefix")] = None,
              business_unit_id: int | None = None, use_case_id: int | None = None,
              status: Annotated[str | None, Query(max_length=16, description="active, expired or revoked")] = None
              ) -> dict[str, Any]:
    """Keys of your units, newest first; sort by name, created_at, last_used_at or expires_at."""
    result = keys.list_keys(session, principal, page, q=q, business_unit_id=business_unit_id,
                            use_case_id=use_case_id, status=status)
    return {"items": [key_out(k) for k in result.items], "total": result.total, "limit": result.limit,
            "offset": result.offset, "next_offset": result.next_offset}


@router.post("/keys", response_model=schemas.KeyCreated, status_code=201)
def create_key(session: SessionDep, principal: require(KEY), body: schemas.KeyCreate) -> object:
    """The response carries the key (``key``) this once: it is stored only as a hash."""
    key, raw = keys.create_key(session, principal, body)
    return {**key_out(key), "key": raw}


@router.get("/keys/{key_id}", response_model=schemas.KeyOut)
def get_key(session: SessionDep, principal: require(READ), key_id: int) -> object:
    return key_out(keys.get_key(session, principal, key_id))


@router.patch("/keys/{key_id}", response_model=schemas.KeyOut)
def update_key(session: SessionDep, principal: require(KEY), key_id: int, body: schemas.KeyUpdate) -> object:
    return key_out(keys.update_key(session, principal, key_id, body))


@router.post("/keys/{key_id}/revoke", response_model=schemas.KeyOut)
def revoke_key(session: SessionDep, principal: require(KEY), key_id: int) -> object:
    """The gateway refuses the key from its next configuration refresh on."""
    return key_out(keys.revoke_key(session, principal, key_id))


# --- budgets -------------------------------------------------------------------------------------------------------

@router.get("/budgets", response_model=list[schemas.BudgetOut])
def list_budgets(session: SessionDep, principal: require(READ),
                 scope: Annotated[str | None, Query(max_length=16, description="key, use_case or business_unit")]
                 = None, scope_id: int | None = None) -> object:
    """Budgets of your units with what the current period has spent and holds reserved."""
    chosen = choice("scope", scope, {s: s for s in schemas.BUDGET_SCOPES})
    return budget_outs(session, budgets.list_budgets(session, principal, scope=chosen, scope_id=scope_id))


@router.put("/budgets", response_model=schemas.BudgetOut)
def set_budget(session: SessionDep, principal: require(ADMIN), body: schemas.BudgetIn) -> object:
    """Create or replace the limit of one scope and period."""
    return budget_outs(session, [budgets.set_budget(session, principal, body)])[0]


@router.delete("/budgets/{budget_id}", status_code=204)
def delete_budget(session: SessionDep, principal: require(ADMIN), budget_id: int) -> Response:
    budgets.delete_budget(session, principal, budget_id)
    return Response(status_code=204)


# --- usage ---------------------------------------------------------------------------------------------------------

@router.get("/usage", response_model=schemas.UsageOut)
def usage(session: SessionDep, settings: SettingsDep, principal: require(READ),
          group_by: Annotated[str, Query(max_length=16, description="use_case, business_unit, model or day")]
          = "use_case",
          start: Annotated[datetime | None, Query(alias="from", description="inclusive")] = None,
          end: Annotated[datetime | None, Query(alias="to", description="exclusive")] = None) -> object:
    """Requests, tokens, cost, latency p50/p95 and intervention rate per group, within your units."""
    chosen = choice("group_by", group_by, {g: g for g in schemas.USAGE_GROUPS}) or "use_case"
    rows = service.usage_summary(session, principal, chosen, start=start, end=end)
    return schemas.UsageOut(
        group_by=chosen, from_=start, to=end, currency=settings.currency,
        rows=[schemas.UsageRow(group=r.group, label=r.label, requests=r.requests, tokens_in=r.tokens_in,
                               tokens_out=r.tokens_out, cost_micros=r.cost_micros,
                               cost=schemas.from_micros(r.cost_micros), latency_p50_ms=r.latency_p50_ms,
                               latency_p95_ms=r.latency_p95_ms, interventions=r.interventions,
                               intervention_rate=r.intervention_rate, errors=r.errors) for r in rows])
