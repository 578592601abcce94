"""The gateway's configuration as the proxy reads it, and the usage summary the API serves.

``load_config`` turns providers, routes, keys, policies and budgets into one immutable snapshot the proxy serves
from memory; ``config_version`` is a cheap fingerprint the proxy polls to know when to load a new one. The
fingerprint covers row counts and newest change times of every table involved, and the newest audit event on a
key (keys have no ``updated_at``; every key change goes through ``aicoe.gateway.keys``, which audits it).

Only enabled providers and routes are served. Revoked keys stay in the snapshot (``revoked=True``) so the proxy
can say "revoked" rather than "unknown key". A provider whose stored key cannot be decrypted (the secret key
changed) is left out with a warning, so its routes answer as unavailable until the key is entered again; a
stored policy the engine no longer reads is left out likewise, and keys using it are refused by the proxy.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, select
from sqlalchemy.orm import Session

from aicoe.auth.principal import Actor, in_scope, scope_of
from aicoe.config import Settings
from aicoe.engines.guardrails.policy import GuardPolicy, GuardrailError
from aicoe.gateway import budgets, policies, secrets
from aicoe.gateway.limits import BudgetRef
from aicoe.gateway.upstream import ProviderConfig, RouteConfig
from aicoe.models.gateway import (
    GUARDRAIL_EMBEDDINGS,
    GatewayBudget,
    GatewayProvider,
    GatewayRoute,
    GuardrailPolicy,
    UsageRecord,
    VirtualKey,
)
from aicoe.models.org import BusinessUnit
from aicoe.models.portfolio import UseCase

log = logging.getLogger("aicoe.gateway")
USAGE_READ = "gateway:read"


@dataclass(frozen=True)
class KeyConfig:
    id: int
    name: str
    business_unit_id: int
    use_case_id: int | None
    ai_system_id: int | None
    allowed_aliases: frozenset[str]  # empty: every alias
    rpm_limit: int | None
    tpm_limit: int | None
    logging: str
    log_retention_days: int
    expires_at: datetime | None
    revoked: bool
    policy_id: int | None  # None: the default policy
    budgets: tuple[BudgetRef, ...]


@dataclass(frozen=True)
class GatewayConfig:
    routes: Mapping[str, list[RouteConfig]]  # alias -> routes in priority order
    keys: Mapping[str, KeyConfig]  # sha256 hex of the raw key -> key
    policies: Mapping[int, GuardPolicy]
    default_policy_id: int | None
    version: str
    unreadable_policy_ids: frozenset[int] = frozenset()  # keys using one are refused, never served unchecked


def _stats(model: Any, changed: ColumnElement[Any]) -> list[Select[Any]]:
    return [select(func.count()).select_from(model).scalar_subquery(), select(func.max(changed)).scalar_subquery()]


def config_version(session: Session) -> str:
    """A fingerprint that changes whenever providers, routes, keys, policies or budgets change (one query)."""
    columns = [
        *_stats(GatewayProvider, GatewayProvider.updated_at), *_stats(GatewayRoute, GatewayRoute.updated_at),
        *_stats(GuardrailPolicy, GuardrailPolicy.updated_at), *_stats(GatewayBudget, GatewayBudget.updated_at),
        *_stats(VirtualKey, VirtualKey.updated_at),
    ]
    row = session.execute(select(*columns)).one()
    return hashlib.sha256(repr(tuple(row)).encode()).hexdigest()[:16]


def _providers(session: Session, settings: Settings) -> dict[int, ProviderConfig]:
    out: dict[int, ProviderConfig] = {}
    for p in session.scalars(select(GatewayProvider).where(GatewayProvider.enabled.is_(True))):
        try:
            api_key = secrets.decrypt(settings, p.api_key_encrypted) if p.api_key_encrypted else None
        except secrets.SecretUnreadable:
            log.warning("gateway provider %s (%s) left out: its stored API key cannot be decrypted", p.id, p.name)
            continue
        out[p.id] = ProviderConfig(
            id=p.id, name=p.name, kind=p.kind, base_url=p.base_url, api_key=api_key, api_version=p.api_version,
            headers=dict(p.headers or {}), connect_timeout_s=p.connect_timeout_s, read_timeout_s=p.read_timeout_s,
            max_retries=p.max_retries)
    return out


def _routes(session: Session, providers: Mapping[int, ProviderConfig]) -> dict[str, list[RouteConfig]]:
    out: dict[str, list[RouteConfig]] = {}
    stmt = (select(GatewayRoute).where(GatewayRoute.enabled.is_(True))
            .order_by(GatewayRoute.alias, GatewayRoute.priority, GatewayRoute.id))
    for r in session.scalars(stmt):
        provider = providers.get(r.provider_id)
        if provider is None:
            continue
        out.setdefault(r.alias, []).append(RouteConfig(
            id=r.id, alias=r.alias, priority=r.priority, kind=r.kind, provider=provider,
            upstream_model=r.upstream_model, price_input_micros_per_mtok=r.price_input_micros_per_mtok,
            price_output_micros_per_mtok=r.price_output_micros_per_mtok, context_limit=r.context_limit))
    return out


def _policies(session: Session) -> tuple[dict[int, GuardPolicy], int | None, frozenset[int]]:
    out: dict[int, GuardPolicy] = {}
    default_id = None
    unreadable = set()
    for row in session.scalars(select(GuardrailPolicy).order_by(GuardrailPolicy.id)):
        try:
            out[row.id] = policies.to_guard_policy(row)
        except GuardrailError as exc:
            log.error("guardrail policy %s (%s) cannot be read, keys using it are refused: %s", row.id, row.name,
                      exc)
            unreadable.add(row.id)
        if row.is_default and default_id is None:
            default_id = row.id
    return out, default_id, frozenset(unreadable)


def _keys(session: Session) -> dict[str, KeyConfig]:
    rows = list(session.scalars(select(VirtualKey)))
    refs = budgets.refs_by_scope(session, rows)
    return {k.key_hash: KeyConfig(
        id=k.id, name=k.name, business_unit_id=k.business_unit_id, use_case_id=k.use_case_id,
        ai_system_id=k.ai_system_id, allowed_aliases=frozenset(k.allowed_aliases or ()), rpm_limit=k.rpm_limit,
        tpm_limit=k.tpm_limit, logging=k.logging, log_retention_days=k.log_retention_days, expires_at=k.expires_at,
        revoked=k.revoked_at is not None, policy_id=k.policy_id, budgets=tuple(refs.get(k.id, ())),
    ) for k in rows}


def load_config(session: Session, settings: Settings) -> GatewayConfig:
    """One consistent snapshot; call it in one read transaction so the version matches what was read."""
    version = config_version(session)
    policy_map, default_id, unreadable = _policies(session)
    return GatewayConfig(routes=_routes(session, _providers(session, settings)), keys=_keys(session),
                         policies=policy_map, default_policy_id=default_id, version=version,
                         unreadable_policy_ids=unreadable)


# --- usage ---------------------------------------------------------------------------------------------------------

LATENCY_SAMPLE = 200_000  # SQLite: latencies read per summary to compute percentiles in Python
NONE_LABELS = {"use_case": "(no use case)", "business_unit": "(no business unit)", "model": "(none)"}


@dataclass(frozen=True)
class UsageGroup:
    group: str
    label: str
    requests: int
    tokens_in: int
    tokens_out: int
    cost_micros: int
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    interventions: int
    errors: int

    @property
    def intervention_rate(self) -> float:
        return self.interventions / self.requests if self.requests else 0.0


def _group_column(group_by: str) -> ColumnElement[Any]:
    if group_by == "use_case":
        return UsageRecord.use_case_id
    if group_by == "business_unit":
        return UsageRecord.business_unit_id
    if group_by == "model":
        return UsageRecord.alias
    return func.date(UsageRecord.ts)


def _labels(session: Session, group_by: str, values: list[Any]) -> dict[Any, str]:
    ids = [v for v in values if v is not None]
    if group_by == "use_case" and ids:
        return {i: f"{k} {t}" for i, k, t in session.execute(
            select(UseCase.id, UseCase.key, UseCase.title).where(UseCase.id.in_(ids)))}
    if group_by == "business_unit" and ids:
        return dict(session.execute(select(BusinessUnit.id, BusinessUnit.name).where(BusinessUnit.id.in_(ids))).all())
    return {v: str(v) for v in ids}


def _percentile(ordered: list[float], q: float) -> float | None:
    """Nearest-rank percentile of an ascending list."""
    if not ordered:
        return None
    return ordered[max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))]


def usage_summary(session: Session, principal: Actor, group_by: str, *, start: datetime | None = None,
                  end: datetime | None = None) -> list[UsageGroup]:
    """Requests, tokens, cost, latency p50/p95, interventions (guardrail other than "pass") and errors per group,
    within the caller's units, ``start`` inclusive and ``end`` exclusive. Guardrails' embedding calls add tokens
    and cost, never requests, errors or latencies. Percentiles are nearest-rank on both
    backends: PostgreSQL's ``percentile_disc`` in SQL; on SQLite, in Python over at most ``LATENCY_SAMPLE`` rows
    (groups past that sample report none)."""
    column = _group_column(group_by).label("g")
    where = [in_scope(UsageRecord.business_unit_id, scope_of(principal, USAGE_READ))]
    if start is not None:
        where.append(UsageRecord.ts >= start)
    if end is not None:
        where.append(UsageRecord.ts < end)
    postgres = session.get_bind().dialect.name == "postgresql"
    request = UsageRecord.endpoint != GUARDRAIL_EMBEDDINGS
    request_latency = case((request, UsageRecord.latency_ms))  # NULL for embedding calls: percentiles skip them
    aggregates: list[Any] = [
        func.coalesce(func.sum(case((request, 1), else_=0)), 0), func.coalesce(func.sum(UsageRecord.tokens_in), 0),
        func.coalesce(func.sum(UsageRecord.tokens_out), 0), func.coalesce(func.sum(UsageRecord.cost_micros), 0),
        func.coalesce(func.sum(case((UsageRecord.guardrail != "pass", 1), else_=0)), 0),
        func.coalesce(func.sum(case((request & (UsageRecord.outcome == "error"), 1), else_=0)), 0)]
    if postgres:
        aggregates += [func.percentile_disc(0.5).within_group(request_latency),
                       func.percentile_disc(0.95).within_group(request_latency)]
    rows = list(session.execute(select(column, *aggregates).where(*where).group_by(column).order_by(column)))
    latencies: dict[Any, list[float]] = {}
    if not postgres:
        for value, latency in session.execute(select(column, UsageRecord.latency_ms).where(*where, request)
                                              .order_by(column, UsageRecord.latency_ms).limit(LATENCY_SAMPLE)):
            latencies.setdefault(value, []).append(latency)
    labels = _labels(session, group_by, [r[0] for r in rows])
    out = []
    for row in rows:
        value = row[0]
        p50, p95 = (row[7], row[8]) if postgres else (_percentile(latencies.get(value, []), 0.5),
                                                     _percentile(latencies.get(value, []), 0.95))
        out.append(UsageGroup(
            group="" if value is None else str(value),
            label=NONE_LABELS.get(group_by, "") if value is None else labels.get(value, str(value)),
            requests=int(row[1]), tokens_in=int(row[2]), tokens_out=int(row[3]), cost_micros=int(row[4]),
            latency_p50_ms=None if p50 is None else float(p50), latency_p95_ms=None if p95 is None else float(p95),
            interventions=int(row[5]), errors=int(row[6])))
    return out
