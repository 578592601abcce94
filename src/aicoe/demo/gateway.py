"""Seed the GenAI gateway: the built-in demonstration upstream (in-process, no external calls) with model routes
at realistic prices, a default and a strict guardrail policy, a key for each of four generative-AI use cases,
budgets, and 60 days of usage history, so ``make run`` shows the gateway and its dashboards working with no
provider configured.

Usage comes from a seeded generator: weekday traffic with a slow rise, token counts and latencies drawn from
log-normal distributions, a few anonymised and blocked requests (with their guardrail events, entity types only)
and a few upstream errors. The keys' raw values are discarded: create a key of your own with
``aicoe gateway key create`` to call the gateway. The budgets' spend rows hold the current periods' cost, and
the value sync turns each month's cost into the use cases' ``cost_inference`` value entries.

Idempotent: everything is looked up by name first, and history is generated only for keys that have none.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from aicoe.config import Settings
from aicoe.core.time import utcnow
from aicoe.engines.guardrails.policy import DEFAULT_POLICY
from aicoe.gateway import budgets, keys, policies, providers, schemas, value_sync
from aicoe.models.gateway import (
    GatewayBudget,
    GatewayProvider,
    GatewayRoute,
    GatewaySpend,
    GuardrailEvent,
    UsageRecord,
    VirtualKey,
)
from aicoe.models.inventory import AISystem
from aicoe.models.portfolio import UseCase

if TYPE_CHECKING:
    from aicoe.demo import DemoResult

PROVIDER = "Demo upstream (built in, no external calls)"
DEFAULT_NAME, STRICT_NAME = "Standard", "Strict (customer-facing)"
HISTORY_DAYS = 60
REQUEST_PREFIX = "demo-"


@dataclass(frozen=True)
class DemoRoute:
    alias: str
    kind: str
    price_in: str  # per million tokens, platform currency
    price_out: str
    context_limit: int


ROUTES = (DemoRoute("gpt-4o-mini", "chat", "0.15", "0.60", 128_000),
          DemoRoute("gpt-4o", "chat", "2.50", "10.00", 128_000),
          DemoRoute("text-embedding-3-small", "embedding", "0.02", "0", 8_191))


@dataclass(frozen=True)
class DemoKey:
    use_case: str  # the demo use case's title
    system: str
    daily: int  # weekday requests at the start of the history
    mix: tuple[tuple[str, float], ...]  # alias and share of requests
    strict: bool = False
    logging: str = "off"
    headroom: float = 1.6  # the use case's monthly budget as a multiple of its last full month's cost


KEYS = (
    DemoKey("Contact-centre agent assistant", "Agent Copilot", 90,
            (("gpt-4o-mini", 0.7), ("text-embedding-3-small", 0.3)), logging="redacted"),
    DemoKey("Claims letter summarisation", "Claims Summariser", 40, (("gpt-4o", 0.6), ("gpt-4o-mini", 0.4))),
    DemoKey("Customer chat assistant for cards", "Cards Chat", 60,
            (("gpt-4o-mini", 0.8), ("text-embedding-3-small", 0.2)), strict=True, headroom=1.15),
    DemoKey("Developer code assistant", "Code Assistant", 50, (("gpt-4o", 0.5), ("gpt-4o-mini", 0.5))),
)
PII_TYPES = (("EMAIL_ADDRESS",), ("PHONE_NUMBER",), ("PERSON", "EMAIL_ADDRESS"), ("IBAN_CODE",), ("UK_NHS",))


def _count(result: DemoResult, what: str, n: int = 1) -> None:
    result.created[what] = result.created.get(what, 0) + n


def _provider(session: Session, settings: Settings, result: DemoResult) -> GatewayProvider:
    provider = session.scalar(select(GatewayProvider).where(GatewayProvider.name == PROVIDER))
    if provider is None:
        provider = providers.create_provider(session, None, settings, schemas.ProviderCreate(name=PROVIDER,
                                                                                             kind="demo"))
        _count(result, "gateway providers")
    return provider


def _routes(session: Session, provider: GatewayProvider, result: DemoResult) -> dict[str, GatewayRoute]:
    existing = {r.alias: r for r in session.scalars(select(GatewayRoute).where(
        GatewayRoute.provider_id == provider.id, GatewayRoute.priority == 0))}
    for r in ROUTES:
        if r.alias not in existing:
            existing[r.alias] = providers.create_route(session, None, schemas.RouteCreate(
                alias=r.alias, provider_id=provider.id, upstream_model=r.alias, kind=r.kind,
                price_input_per_mtok=Decimal(r.price_in), price_output_per_mtok=Decimal(r.price_out),
                context_limit=r.context_limit))
            _count(result, "gateway routes")
    return existing


def strict_rules() -> list[dict[str, Any]]:
    """The default rules with every action made "block": nothing sensitive leaves, even anonymised."""
    return [{**rule, "action": "block"} for rule in DEFAULT_POLICY.to_dict()["rules"]]


def _policies(session: Session, result: DemoResult) -> tuple[Any, Any]:
    standard = policies.get_by_name(session, DEFAULT_NAME)
    if standard is None:
        standard = policies.create_policy(session, None, schemas.PolicyCreate(
            name=DEFAULT_NAME, description="Personal data anonymised, secrets and prompt injection blocked, prompt "
            "size limited. Keys without a policy of their own use it.", rules=DEFAULT_POLICY.to_dict()["rules"],
            is_default=policies.default_policy(session) is None))
        _count(result, "guardrail policies")
    strict = policies.get_by_name(session, STRICT_NAME)
    if strict is None:
        strict = policies.create_policy(session, None, schemas.PolicyCreate(
            name=STRICT_NAME, description="For assistants that talk to customers: any personal data, secret or "
            "injection attempt blocks the request.", rules=strict_rules()))
        _count(result, "guardrail policies")
    return standard, strict


def _cost(route: GatewayRoute, tokens_in: int, tokens_out: int) -> int:
    raw = tokens_in * route.price_input_micros_per_mtok + tokens_out * route.price_output_micros_per_mtok
    return (raw + 500_000) // 1_000_000


def _rule_id(rules: list[dict[str, Any]], kind: str) -> str:
    return next((str(r["id"]) for r in rules if r.get("kind") == kind), kind)


Rows = list[dict[str, Any]]


def _history(key: VirtualKey, demo: DemoKey, routes: dict[str, GatewayRoute], rules: list[dict[str, Any]],
             policy_id: int, today: datetime, rng: random.Random) -> tuple[Rows, Rows]:
    """Usage rows and guardrail events of one key over ``HISTORY_DAYS`` days ending yesterday."""
    rows: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    aliases, weights = zip(*demo.mix, strict=True)
    start = today - timedelta(days=HISTORY_DAYS)
    for day in range(HISTORY_DAYS):
        midnight = start + timedelta(days=day)
        weekend = midnight.weekday() >= 5
        expected = demo.daily * (1 + 0.5 * day / HISTORY_DAYS) * (0.25 if weekend else 1.0)
        for _ in range(max(0, round(rng.gauss(expected, math.sqrt(expected))))):
            ts = midnight + timedelta(seconds=rng.uniform(7 * 3600, 19 * 3600))
            alias = rng.choices(aliases, weights)[0]
            route = routes[alias]
            embedding = route.kind == "embedding"
            request_id = f"{REQUEST_PREFIX}{key.id}-{len(rows) + 1}"
            tokens_in = int(rng.lognormvariate(5.6 if embedding else 6.7, 0.5))
            tokens_out = 0 if embedding else int(rng.lognormvariate(5.4, 0.6))
            row = {"ts": ts, "request_id": request_id, "key_id": key.id, "use_case_id": key.use_case_id,
                   "ai_system_id": key.ai_system_id, "business_unit_id": key.business_unit_id,
                   "endpoint": "embeddings" if embedding else "chat", "alias": alias,
                   "provider_id": route.provider_id, "upstream_model": route.upstream_model,
                   "stream": not embedding and rng.random() < 0.6, "tokens_in": tokens_in, "tokens_out": tokens_out,
                   "latency_ms": round(rng.lognormvariate(3.4, 0.3) if embedding else
                                       180 + tokens_out * rng.uniform(6, 12), 1),
                   "upstream_status": 200, "outcome": "ok", "guardrail": "pass", "error": ""}
            draw = rng.random()
            if not embedding and draw < (0.03 if demo.strict else 0.01):  # blocked on input: no upstream call
                kind = rng.choice(("injection", "secrets") if not demo.strict else ("pii", "injection"))
                row.update(tokens_out=0, latency_ms=round(rng.uniform(1, 4), 1), upstream_status=None,
                           outcome="blocked", guardrail="blocked", stream=False)
                events.append({"ts": ts, "request_id": request_id, "key_id": key.id,
                               "use_case_id": key.use_case_id, "policy_id": policy_id, "direction": "input",
                               "rule": _rule_id(rules, kind), "kind": kind, "action": "block",
                               "entity_types": list(rng.choice(PII_TYPES)) if kind == "pii" else
                               (["AWS_ACCESS_KEY_ID"] if kind == "secrets" else []),
                               "score": round(rng.uniform(0.82, 0.99), 2) if kind == "injection" else None})
            elif not embedding and draw < 0.06:
                row["guardrail"] = "anonymised"
                events.append({"ts": ts, "request_id": request_id, "key_id": key.id,
                               "use_case_id": key.use_case_id, "policy_id": policy_id, "direction": "input",
                               "rule": _rule_id(rules, "pii"), "kind": "pii", "action": "anonymise",
                               "entity_types": list(rng.choice(PII_TYPES)), "score": None})
            elif draw > 0.995:
                row.update(tokens_out=0, upstream_status=503, outcome="error", error="upstream unavailable")
            row["cost_micros"] = _cost(route, row["tokens_in"], row["tokens_out"]) if row["outcome"] == "ok" else 0
            rows.append(row)
    return rows, events


def _budgets(session: Session, use_case_id: int, demo: DemoKey, rows: list[dict[str, Any]], now: datetime,
             result: DemoResult) -> None:
    """A monthly budget for the use case sized from its history, and its current month's spend row."""
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    last_month = (month_start - timedelta(days=1)).replace(day=1)
    previous = sum(r["cost_micros"] for r in rows if last_month <= r["ts"] < month_start)
    limit = max(math.ceil(previous * demo.headroom / 1_000_000), 5)
    if session.scalar(select(GatewayBudget.id).where(GatewayBudget.scope == "use_case",
                                                     GatewayBudget.scope_id == use_case_id)) is None:
        budgets.set_budget(session, None, schemas.BudgetIn(scope="use_case", scope_id=use_case_id,
                                                           period="month", amount=Decimal(limit)))
        _count(result, "gateway budgets")
    period = budgets.period_start("month", now)
    spend = session.scalar(select(GatewaySpend).where(GatewaySpend.scope == "use_case",
                                                      GatewaySpend.scope_id == use_case_id,
                                                      GatewaySpend.period_start == period))
    spent = sum(r["cost_micros"] for r in rows if r["ts"] >= month_start)
    if spend is None:
        session.add(GatewaySpend(scope="use_case", scope_id=use_case_id, period_start=period,
                                 spent_micros=spent, reserved_micros=0))
    else:
        spend.spent_micros += spent


def seed_gateway(session: Session, settings: Settings, result: DemoResult) -> None:
    use_cases = {u.title: u for u in session.scalars(select(UseCase).where(UseCase.title.in_([k.use_case
                                                                                            for k in KEYS])))}
    if not use_cases:
        return
    provider = _provider(session, settings, result)
    routes = _routes(session, provider, result)
    standard, strict = _policies(session, result)
    systems = {s.name: s for s in session.scalars(select(AISystem).where(AISystem.name.in_([k.system
                                                                                           for k in KEYS])))}
    now = utcnow()
    today = datetime.combine(now.astimezone(UTC).date(), time(), tzinfo=UTC)
    rng = random.Random(8008)
    added = 0
    for demo in KEYS:
        use_case = use_cases.get(demo.use_case)
        if use_case is None:
            continue
        name = f"{demo.system} (demo)"
        key = session.scalar(select(VirtualKey).where(VirtualKey.name == name))
        if key is None:
            system = systems.get(demo.system)
            key, _raw = keys.create_key(session, None, schemas.KeyCreate(
                name=name, business_unit_id=use_case.business_unit_id, use_case_id=use_case.id,
                ai_system_id=system.id if system and system.business_unit_id == use_case.business_unit_id else None,
                allowed_aliases=[alias for alias, _ in demo.mix], rpm_limit=600, tpm_limit=400_000,
                logging=demo.logging, policy_id=strict.id if demo.strict else None))
            _count(result, "gateway keys")
        if session.scalar(select(func.count()).select_from(UsageRecord).where(UsageRecord.key_id == key.id)):
            continue
        policy = strict if demo.strict else standard
        rows, events = _history(key, demo, routes, policy.rules, policy.id, today, rng)
        session.execute(insert(UsageRecord), rows)
        if events:
            session.execute(insert(GuardrailEvent), events)
        _budgets(session, use_case.id, demo, rows, now, result)
        added += len(rows)
    if added:
        _count(result, "gateway usage records", added)
        first = today - timedelta(days=HISTORY_DAYS)
        value_sync.sync(session, months=(now.year - first.year) * 12 + now.month - first.month + 1, now=now)
    session.flush()
